: > empty.csv && $NNPRUNE stats models/xor.json empty.csv; echo "exit $?"
test -e nnprune.stats.json || echo "no statistics file written"
