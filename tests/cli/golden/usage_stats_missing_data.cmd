$NNPRUNE stats models/xor.json
