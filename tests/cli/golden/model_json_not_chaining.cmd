# The softmax layer takes 3 inputs but the hidden layer has 2 outputs.
sed 's/\[-1, 2\]/[-1, 2, 3]/; s/\[1, -2\]/[1, -2, 3]/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
