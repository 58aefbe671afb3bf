$NNPRUNE eval models/xor.json data/nope.csv
