# 1e39 is a finite double but not a float.
sed 's/"bias": \[0, -1\]/"bias": [0, 1e39]/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
