# Line 3 has two fields; the error points just past its last one.
printf '0,0,0\n1,0,1\n1,1\n0,1,1\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
