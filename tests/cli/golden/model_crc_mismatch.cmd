# One weight byte changed: the CRC-32 at the end catches it.
$NNPRUNE convert models/xor.json xor.bin && cp xor.bin bad.bin &&
printf '\177' | dd of=bad.bin bs=1 seek=250 conv=notrunc 2>/dev/null &&
$NNPRUNE info bad.bin
