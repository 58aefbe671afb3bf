$NNPRUNE eval -j0 models/xor.json data/cli_xor.csv
