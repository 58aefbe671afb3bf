# The quote opened at 1:5 never closes before the end of the file (exit 3).
printf '0,0,"1\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
