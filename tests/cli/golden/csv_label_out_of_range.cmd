printf '0,0,0\n1,0,1\n2,1,0\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
