# JSON has no NaN or Infinity, but 1e999 overflows to inf when parsed.
sed 's/"bias": \[0, -1\]/"bias": [0, 1e999]/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
