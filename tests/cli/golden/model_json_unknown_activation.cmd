# "swish" is not one of the six activations, which the message lists
# (exit 3).
sed 's/"relu"/"swish"/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
