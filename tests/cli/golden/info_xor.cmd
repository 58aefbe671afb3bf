# 2-2-2 network: 2*2+2 = 6 parameters per layer, 12 in all = 48 bytes =
# 0.05 KiB; multiply-adds 2*2 + 2*2 = 8. The file is 556 bytes.
$NNPRUNE info models/xor.json
