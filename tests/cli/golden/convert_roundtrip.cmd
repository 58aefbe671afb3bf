# JSON -> binary -> JSON gives back the bundled file byte for byte; binary ->
# binary again is identical too. info pins the binary file's size and CRC.
$NNPRUNE convert models/xor.json xor.bin &&
$NNPRUNE convert xor.bin xor.json &&
cmp models/xor.json xor.json &&
$NNPRUNE convert --format bin xor.json again.nnp &&
cmp xor.bin again.nnp &&
$NNPRUNE info xor.bin
