# The binary xor model cut to 20 bytes: shorter than the 32-byte header
# (exit 3, byte 0).
$NNPRUNE convert models/xor.json xor.bin && head -c 20 xor.bin > cut.bin &&
$NNPRUNE info cut.bin
