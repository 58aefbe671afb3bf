# Bytes 4-7 of the magic are CR LF SUB LF (as in PNG) so that a text-mode copy
# that changes line endings is detected; here CR LF became LF.
$NNPRUNE convert models/xor.json xor.bin && { head -c 4 xor.bin; tail -c +6 xor.bin; } > crlf.bin &&
$NNPRUNE info crlf.bin
