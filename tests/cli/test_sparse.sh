#!/usr/bin/env bash
# End-to-end tests of sparse layers: a model whose first layer is stored as
# CSR converts between the formats without loss, evaluates through the sparse
# kernel, and corrupt index arrays are refused (exit 3, one line).
# usage: test_sparse.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

# 200 inputs -> 64 ReLU neurons, neuron o reading input o alone (weight 1):
# density 1/200, run sparse; -> 2 outputs: class 0 when input 0 is positive.
seq_list() { seq -s ', ' "$@"; }
ones=$(printf '1, %.0s' $(seq 63))1
zeros=$(printf '0, %.0s' $(seq 63))0
cat >sparse.json <<JSON
{"format": "nnprune-model", "version": 2, "input_size": 200, "layers": [
 {"activation": "relu", "weights_csr": {"row_ptr": [$(seq_list 0 64)],
  "cols": [$(seq_list 0 63)], "values": [$ones]}, "bias": [$zeros]},
 {"activation": "softmax", "weights": [[1, $(printf '0, %.0s' $(seq 62))0], [$zeros]],
  "bias": [0, 0.001]}]}
JSON
nnp convert sparse.json a.bin
expect_rc "convert sparse JSON -> bin: exit 0" 0
nnp convert a.bin b.json
expect_rc "convert sparse bin -> JSON: exit 0" 0
nnp convert b.json c.bin
expect_same "JSON -> bin -> JSON -> bin: same bytes" a.bin c.bin
check "written JSON keeps the layer sparse" grep -q '"weights_csr"' b.json
check "written JSON is version 2" grep -q '"version": 2,' b.json
check "binary is version 2" test "$(od -An -tu4 -j8 -N4 a.bin | tr -d ' ')" = 2
check "binary is smaller than dense (4 * 13,058 parameters)" test "$(wc -c <a.bin)" -lt 20000

# Rows: input 0 from -0.5 to 0.49 in steps of 0.01 (never near the 0.001
# threshold), the others 0.25; label 0 when input 0 is positive.
rest=$(printf ',0.25%.0s' $(seq 199))
for i in $(seq -50 49); do
	x=$(printf '%d.%02d' $((i / 100)) $((i < 0 ? -i : i)))
	[ "$i" -lt 0 ] && x="-0.$(printf '%02d' $((-i)))"
	echo "$([ "$i" -gt 0 ] && echo 0 || echo 1),$x$rest"
done >rows.csv
nnp eval a.bin rows.csv --json
expect_rc "eval of the sparse model: exit 0" 0
expect_out "eval: every row right" '"accuracy":	1'

# Corrupt index arrays.
sed 's/"cols": \[0, 1, 2,/"cols": [0, 250, 2,/' sparse.json >bad_col.json
nnp info bad_col.json
expect_rc "column out of range: exit 3" 3
expect_err "column out of range: names file, layer, place" \
	'bad_col.json: layer 0: "weights_csr": "cols"[1]: row 1: column 250 is out of range (the layer has 200 inputs)'
check "column out of range: one line" test "$(wc -l <"$ERR")" = 1
sed 's/"cols": \[0, 1, 2,/"cols": [0, 2, 2,/' sparse.json >bad_ptr.json
sed -i 's/"row_ptr": \[0, 1, 2,/"row_ptr": [0, 2, 1,/' bad_ptr.json
nnp info bad_ptr.json
expect_rc "decreasing row pointers: exit 3" 3
expect_err "decreasing row pointers: place" '"row_ptr"[2]: row_ptr[2] = 1 is less than row_ptr[1] = 2'
# The binary's entry count (layer 0's table entry, byte 48) raised: the
# sizes no longer add up, refused before anything is allocated.
cp a.bin bad.bin
printf '\101' | dd of=bad.bin bs=1 seek=48 conv=notrunc 2>/dev/null
nnp info bad.bin
expect_rc "entry count changed: exit 3" 3
expect_err "entry count changed: truncated" 'bad.bin: byte '
printf '\377\377\377\377' | dd of=bad.bin bs=1 seek=48 conv=notrunc 2>/dev/null
nnp info bad.bin
expect_rc "entry count over the layer's weights: exit 3" 3
expect_err "entry count over the layer's weights: place" \
	"bad.bin: byte 48: layer 0: 4294967295 stored entries, more than the layer's 12800 weights"
finish
