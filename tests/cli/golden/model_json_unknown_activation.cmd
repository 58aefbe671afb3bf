sed 's/"relu"/"swish"/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
