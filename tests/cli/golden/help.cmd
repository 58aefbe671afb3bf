# --help prints the command list and exit codes on stdout and exits 0.
$NNPRUNE --help
