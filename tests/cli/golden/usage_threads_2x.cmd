# strtoul would read "2x" as 2: the whole text must be a number.
$NNPRUNE stats --threads 2x models/xor.json data/cli_xor.csv
