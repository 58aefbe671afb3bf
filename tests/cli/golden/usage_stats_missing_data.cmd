# stats needs MODEL and DATA: one argument is a usage error (exit 2).
$NNPRUNE stats models/xor.json
