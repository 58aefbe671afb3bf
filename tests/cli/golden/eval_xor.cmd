# The XOR truth table: every row is classified right. Each row's logits are
# +-(0.5, -0.5), so the cross-entropy is ln(1 + e^-1) = 0.3133 on each.
$NNPRUNE eval --confusion models/xor.json data/cli_xor.csv
