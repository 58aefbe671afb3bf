$NNPRUNE convert models/xor.json xor.bin && { cat xor.bin; printf Z; } > long.bin &&
$NNPRUNE info long.bin
