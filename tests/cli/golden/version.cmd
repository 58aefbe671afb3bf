$NNPRUNE --version
