# An unknown option: usage error naming it (exit 2).
$NNPRUNE stats --frobnicate models/xor.json data/cli_xor.csv
