sed 's/"bias": \[0, -1\]/"bias": [0]/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
