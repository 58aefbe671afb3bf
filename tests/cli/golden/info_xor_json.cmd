# info --json of the 2-2-2 xor model: the figures of info_xor (6 parameters
# a layer, 12 in all = 48 bytes, 8 multiply-adds, a 556-byte file) and its
# metadata, as JSON.
$NNPRUNE info --json models/xor.json
