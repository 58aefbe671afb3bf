$NNPRUNE eval --json=yes models/xor.json data/cli_xor.csv
