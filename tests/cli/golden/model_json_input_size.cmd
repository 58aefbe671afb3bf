# "input_size" 3 against 2-column weights in layer 0 (exit 3).
sed 's/"input_size": 2/"input_size": 3/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
