# '1x' at line 2, column 5: text after a number is refused, not read as 1
# (exit 3).
printf '0,0,0\n1,0,1x\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
