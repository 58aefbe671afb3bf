printf 'label,x1,x2\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
