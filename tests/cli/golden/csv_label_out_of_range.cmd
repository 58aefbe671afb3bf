# Line 3's label is 2, but models/xor.json has 2 outputs (labels 0 and 1):
# exit 3 at 3:1.
printf '0,0,0\n1,0,1\n2,1,0\n' > bad.csv && $NNPRUNE eval models/xor.json bad.csv
