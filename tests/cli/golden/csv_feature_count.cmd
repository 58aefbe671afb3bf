# Four fields a row, the first the label: 3 features for a model of 2 inputs,
# reported at line 1, column 1 (exit 3).
printf '0,0,0,1\n1,0,1,1\n' > bad.csv && $NNPRUNE stats models/xor.json bad.csv
