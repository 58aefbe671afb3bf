# First four bytes replaced: neither the binary magic nor JSON.
$NNPRUNE convert models/xor.json xor.bin && { printf 'XNNP'; tail -c +5 xor.bin; } > bad.bin &&
$NNPRUNE info bad.bin
