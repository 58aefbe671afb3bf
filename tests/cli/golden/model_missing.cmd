# A model file that does not exist: the OS's reason, exit 3.
$NNPRUNE info models/nope.json
