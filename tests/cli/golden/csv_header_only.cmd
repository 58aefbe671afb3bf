# A header line and no rows: nothing to measure (exit 3).
printf 'label,x1,x2\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
