printf '0,0,"1\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
