# convert needs IN and OUT: one argument is a usage error (exit 2).
$NNPRUNE convert models/xor.json
