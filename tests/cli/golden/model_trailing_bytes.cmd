# The binary xor model is 300 bytes and ends in its CRC-32; one byte more
# after the CRC is refused at byte 300, naming both sizes (exit 3).
$NNPRUNE convert models/xor.json xor.bin && { cat xor.bin; printf Z; } > long.bin &&
$NNPRUNE info long.bin
