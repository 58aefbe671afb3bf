# The binary file is 300 bytes; cut at 100.
$NNPRUNE convert models/xor.json xor.bin && head -c 100 xor.bin > cut.bin &&
$NNPRUNE info cut.bin
