sed 's/"version": 1,/"version": 1, "version": 1,/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
