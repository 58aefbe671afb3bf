# --version prints the name and version on stdout, exit 0.
$NNPRUNE --version
