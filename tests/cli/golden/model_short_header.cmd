$NNPRUNE convert models/xor.json xor.bin && head -c 20 xor.bin > cut.bin &&
$NNPRUNE info cut.bin
