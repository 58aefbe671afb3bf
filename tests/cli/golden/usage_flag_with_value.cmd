# --json is a flag: '--json=yes' is refused, not ignored (exit 2).
$NNPRUNE eval --json=yes models/xor.json data/cli_xor.csv
