# "version" given twice at the top level: refused rather than one picked
# (exit 3).
sed 's/"version": 1,/"version": 1, "version": 1,/' models/xor.json > bad.json &&
$NNPRUNE info bad.json
