sed 's/"relu"/"softmax"/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
