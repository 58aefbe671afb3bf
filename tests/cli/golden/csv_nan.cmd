# 'nan' parses as a number but is not finite: refused at 1:5 (exit 3).
printf '0,0,nan\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
