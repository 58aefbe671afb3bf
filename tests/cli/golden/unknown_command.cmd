# An unknown command names itself on stderr, then the usage; exit 2.
$NNPRUNE frobnicate models/xor.json
