# --epochs 0: epochs are 1..1000000 (exit 2).
$NNPRUNE train data/cli_xor.csv -o x.bin --layers 2,2 --epochs 0
