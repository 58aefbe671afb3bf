#!/usr/bin/env bash
# Statistics in parts: 'stats --shard I/N' and '--rows A:B' write partial
# files; 'stats --merge' combines them into the statistics of one pass over
# all the rows (every number within 1e-12 relative, counts exact), and
# refuses parts that miss or repeat rows or come from other inputs.
# usage: test_stats_shard.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

gen_blobs 777 2000 >blobs.csv
nnp train blobs.csv -o model.bin $TRAIN_ARGS
nnp stats -q model.bin blobs.csv -o full.stats.json
expect_rc "one pass: exit 0" 0

# compare A B: every statistic and metric within 1e-12 relative, counts exact.
compare() {
	pyrun -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bad = []
if a["data"]["rows"] != b["data"]["rows"]: bad.append("rows")
for k in ("labelled", "correct"):
	if a["metrics"][k] != b["metrics"][k]: bad.append(k)
def close(x, y): return x == y or abs(x - y) <= 1e-12 * max(abs(x), abs(y))
for k in ("accuracy", "loss"):
	if not close(a["metrics"][k], b["metrics"][k]): bad.append(k)
for la, lb in zip(a["layers"], b["layers"]):
	for k in ("mean", "std", "min", "max", "zero_fraction"):
		if len(la[k]) != len(lb[k]) or not all(map(close, la[k], lb[k])): bad.append("layer %d %s" % (la["layer"], k))
if len(a["layers"]) != len(b["layers"]): bad.append("layers")
print(" ".join(bad) or "same")
' "$1" "$2"
}

for i in 0 1 2 3; do
	nnp stats -q model.bin blobs.csv --shard $i/4 -o part$i.json
	expect_rc "--shard $i/4: exit 0" 0
done
check "a part says so" grep -q '"format": "nnprune-stats-part"' part1.json
check "part 1 starts at a whole batch" grep -q '"part": {"first_row": 512, "end": false}' part1.json
check "the last part reaches the end" grep -q '"end": true' part3.json
rows=0
for i in 0 1 2 3; do rows=$((rows + $(sed -n 's/.*"rows": \([0-9]*\),.*/\1/p' part$i.json | head -1))); done
expect_eq "the parts' rows add up to the data's" 2000 "$rows"
nnp stats --merge part3.json part1.json part0.json part2.json -o merged.stats.json
expect_rc "--merge (any order): exit 0" 0
expect_out "--merge: the summary of all rows" "rows: 2000;"
check "merged: a whole statistics file" grep -q '"format": "nnprune-stats"' merged.stats.json
if [ $HAVE_PY = 1 ]; then
	expect_eq "merged = one pass (1e-12 relative, counts exact)" same "$(compare full.stats.json merged.stats.json)"
else
	skip "merged = one pass" "python3 is not installed"
fi
# The same with --rows, the last part open-ended.
nnp stats -q model.bin blobs.csv --rows 0:768 -o r0.json
nnp stats -q model.bin blobs.csv --rows 768:1536 -o r1.json
nnp stats -q model.bin blobs.csv --rows 1536: -o r2.json
nnp stats -q --merge r0.json r1.json r2.json -o rmerged.json
expect_rc "--rows parts: merge exit 0" 0
[ $HAVE_PY = 1 ] && expect_eq "--rows parts merged = one pass" same "$(compare full.stats.json rmerged.json)"
# The merged file is what sweep takes; a part is not.
nnp sweep --stats merged.stats.json --mean 0.1 --std 0.4 -o swept -q
expect_rc "sweep on the merged file: exit 0" 0
nnp sweep --stats part1.json --mean 0.1 --std 0.4 -o swept2 -q
expect_rc "sweep on a part: exit 3" 3
expect_err "sweep on a part: says to merge" "a partial statistics file (512 rows from row 512): combine the parts with 'nnprune stats --merge'"

# Refusals.
nnp stats --merge part0.json part1.json part3.json -o bad.json
expect_rc "a missing part: exit 3" 3
expect_err "a missing part: rows are missing" "part3.json: starts at row 1536 but the parts before it end at row 1024: rows are missing"
nnp stats --merge part0.json part1.json part1.json part2.json part3.json -o bad.json
expect_err "a repeated part: rows overlap" "rows overlap"
nnp stats --merge part0.json part1.json part2.json -o bad.json
expect_err "no last part: says so" "the last part ends at row 1536, not at the end of the data"
nnp stats -q model.bin blobs.csv --rows 1536:2000 -o r3.json
nnp stats --merge r0.json r1.json r3.json -o bad.json
expect_err "last part with an end that is the data's end: asks for A:" "give the last part as --rows A:"
nnp train blobs.csv -o other.bin $TRAIN_ARGS --seed 2
nnp stats -q other.bin blobs.csv --shard 3/4 -o other3.json
nnp stats --merge part0.json part1.json part2.json other3.json -o bad.json
expect_rc "parts of another model: exit 3" 3
expect_err "parts of another model: says so" "other3.json: its model is not that of part0.json"
nnp stats --merge full.stats.json -o bad.json
expect_err "a whole file is not a part" "not a partial statistics file"
check "refused merges write nothing" test ! -e bad.json
nnp stats model.bin blobs.csv --shard 1/4
expect_rc "--shard without -o: exit 2" 2
nnp stats model.bin blobs.csv --rows 5:3 -o x.json
expect_rc "--rows 5:3: exit 2" 2
nnp stats model.bin blobs.csv --shard 4/4 -o x.json
expect_rc "--shard 4/4: exit 2" 2
nnp stats model.bin blobs.csv --rows 3000: -o x.json
expect_rc "--rows beyond the data: exit 2" 2
expect_err "--rows beyond the data: says how many rows" "has 2000 rows, the part starts at row 3000"
nnp stats model.bin blobs.csv --rows 100:200 -o x.json
expect_err "--rows off a batch boundary: a note" "a part starting at a multiple of 256 rows"

finish
