printf '0,0,nan\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
