# No command at all: the usage goes to stderr, exit 2.
$NNPRUNE
