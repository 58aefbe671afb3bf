$NNPRUNE sweep --mean 0.1x
