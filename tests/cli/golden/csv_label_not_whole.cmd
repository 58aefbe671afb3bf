# Line 2's label is 1.5: labels are whole numbers (exit 3, at 2:1).
printf '0,0,0\n1.5,0,1\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
