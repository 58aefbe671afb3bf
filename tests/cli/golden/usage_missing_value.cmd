# The option is the last argument and needs a value.
$NNPRUNE eval models/xor.json data/cli_xor.csv --threads
