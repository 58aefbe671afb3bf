$NNPRUNE stats --frobnicate models/xor.json data/cli_xor.csv
