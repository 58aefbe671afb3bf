# Layer 0 has 2 outputs but its bias is cut to one number (exit 3, names
# the layer and the key).
sed 's/"bias": \[0, -1\]/"bias": [0]/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
