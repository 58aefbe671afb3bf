# Line 2 is '1,,1': the field at column 3 is empty (exit 3, file:line:col).
printf '0,0,0\n1,,1\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
