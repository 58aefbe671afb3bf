: > empty.bin
$NNPRUNE info empty.bin
