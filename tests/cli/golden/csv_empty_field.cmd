printf '0,0,0\n1,,1\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
