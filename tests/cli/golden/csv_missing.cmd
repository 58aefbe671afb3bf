# A data file that does not exist: the OS's reason, exit 3.
$NNPRUNE eval models/xor.json data/nope.csv
