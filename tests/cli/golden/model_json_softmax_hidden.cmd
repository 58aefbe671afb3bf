# softmax on hidden layer 0: only the last layer may have it (exit 3).
sed 's/"relu"/"softmax"/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
