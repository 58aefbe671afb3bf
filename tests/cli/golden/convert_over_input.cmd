# OUT may not be IN, even spelt differently: exit 4, input untouched.
before=$(cksum <models/xor.json)
$NNPRUNE convert models/xor.json ./models/../models/xor.json; echo "exit $?"
[ "$(cksum <models/xor.json)" = "$before" ] && echo unchanged
