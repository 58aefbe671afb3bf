$NNPRUNE train data/cli_xor.csv -o x.bin --layers 2,2 --epochs 0
