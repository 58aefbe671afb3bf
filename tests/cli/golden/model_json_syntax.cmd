# Line 12 is '      "bias": [0, -1,]': the parser stops at the ']' in column 22.
sed 's/"bias": \[0, -1\]/"bias": [0, -1,]/' models/xor.json > bad.json &&
sed -n 12p bad.json && $NNPRUNE info bad.json
