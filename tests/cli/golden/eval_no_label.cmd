# eval measures accuracy, so --no-label is a usage error (exit 2) with the
# command's usage line.
$NNPRUNE eval --no-label models/xor.json data/cli_xor.csv
