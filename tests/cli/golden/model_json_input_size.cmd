sed 's/"input_size": 2/"input_size": 3/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
