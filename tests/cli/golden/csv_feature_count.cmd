printf '0,0,0,1\n1,0,1,1\n' > bad.csv && $NNPRUNE stats models/xor.json bad.csv
