$NNPRUNE convert models/xor.json
