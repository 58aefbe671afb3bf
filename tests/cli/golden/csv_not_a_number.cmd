printf '0,0,0\n1,0,1x\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
