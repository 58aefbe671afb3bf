$NNPRUNE info --json models/xor.json
