# A zero-byte model: byte 0, not an nnprune model (exit 3).
: > empty.bin
$NNPRUNE info empty.bin
