$NNPRUNE eval --no-label models/xor.json data/cli_xor.csv
