# An empty data file: one error naming it (exit 3), and no statistics file
# left behind.
: > empty.csv && $NNPRUNE stats models/xor.json empty.csv; echo "exit $?"
test -e nnprune.stats.json || echo "no statistics file written"
