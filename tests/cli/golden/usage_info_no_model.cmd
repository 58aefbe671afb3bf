$NNPRUNE info
