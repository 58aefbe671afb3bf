$NNPRUNE info models/nope.json
