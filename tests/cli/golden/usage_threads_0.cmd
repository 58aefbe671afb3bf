# -j0: thread counts are 1..256 (exit 2).
$NNPRUNE eval -j0 models/xor.json data/cli_xor.csv
