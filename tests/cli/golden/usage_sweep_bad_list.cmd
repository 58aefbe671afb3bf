# '0.1x' is not a number: lists are parsed strictly (exit 2).
$NNPRUNE sweep --mean 0.1x
