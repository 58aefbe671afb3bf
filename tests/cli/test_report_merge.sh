#!/usr/bin/env bash
# 'nnprune report --merge': the partial reports of a sweep's shards combined
# into the report one run writes. Parts are made by hand from one run's
# report.json (each shard deduplicates on its own, so a duplicate whose first
# is in the other part is a first there, with a file of its own; Pareto marks
# are dropped, the merge must find them again); the merge must equal the
# unsplit report byte for byte (report.json but for its manifest). Parts of
# other sweeps, missing or repeated candidates are refused, naming the part.
# usage: test_report_merge.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_blobs_and_model
nnp stats -q model.bin blobs.csv -o s.json
expect_rc "stats: exit 0" 0
GRID="--stats s.json --mean 0,0.02,0.05,0.1,0.5,100 --std 0,0.05,0.1,100"
nnp sweep $GRID --max-drop 1 -q -o whole
expect_rc "the unsplit sweep: exit 0" 0

if ! need_py "hand-split parts"; then
	finish
fi
# split FILE OUT K N: the candidates whose index % N == K, as shard K of N.
split() {
	pyrun -c '
import json, sys
src, out, k, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
j = json.load(open(src))
mine = [c for c in j["candidates"] if c["index"] % n == k]
firsts = {}
for c in mine:
	key = (c["kept_crc32"], tuple(c["kept"]))
	if key in firsts:
		c["same_as"] = firsts[key]
	else:
		c["same_as"] = None
		firsts[key] = c["index"]
	c["pareto"] = False
j["candidates"] = mine
j["shard"] = {"index": k, "count": n}
j["distinct"] = len(firsts)
j["best"] = None
j["manifest"] = None
json.dump(j, open(out, "w"), indent=1)
' "$@"
}
split whole/report.json part0.json 0 2
split whole/report.json part1.json 1 2
check "the hand split cuts duplicates from their firsts" \
	test "$(py part1.json 'sum(1 for c in j["candidates"] if c["same_as"] is None)')" -gt 2

nnp report --merge part0.json part1.json --stats s.json -q -o merged
expect_rc "merge: exit 0" 0
for f in report.md report.csv report.svg stats.svg report.html; do
	expect_same "merge: $f equals the unsplit run's" whole/$f merged/$f
done
strip() { py "$1" 'json.dumps({k: v for k, v in j.items() if k != "manifest"}, sort_keys=True)'; }
expect_eq "merge: report.json equals the unsplit run's but for the manifest" \
	"$(strip whole/report.json)" "$(strip merged/report.json)"
expect_eq "merge: the manifest lists the six reports" \
	"report.md report.csv report.svg stats.svg report.html report.json" \
	"$(py merged/report.json '" ".join(e["file"] for e in j["manifest"])')"
expect_schema "merge: report.json valid against its schema" report merged/report.json
expect_schema "a part valid against the schema" report part1.json

# The parts in the other order, and the --json output: the same report.
nnp report --merge part1.json part0.json --stats s.json --json -o merged2
expect_rc "merge, parts reversed, --json: exit 0" 0
expect_same "merge --json: stdout is report.json" "$OUT" merged2/report.json
expect_same "merge: the order of the parts does not matter" merged/report.json merged2/report.json

# Gates on the merged sweep: a failing one exits 1 naming gate and closest.
nnp report --merge part0.json part1.json --stats s.json --max-params 1 -q -o g1
expect_rc "merge --max-params 1: exit 1" 1
expect_err "merge: the failed gate named" "no candidate passes --max-params 1; closest: #"
expect_err "merge: ... and which gate" "(fails --max-params)"
expect_eq "merge: report.json says which gate failed" "--max-params None" \
	"$(py g1/report.json '"%s %s" % (j["verdict"]["failed_gate"], j["best"])')"

# Refusals, each naming the part and the field.
nnp report --merge part0.json --stats s.json -q -o r1
expect_rc "a missing shard: exit 3" 3
expect_err "a missing shard: named" "merge: candidate 1 of 24 is in none of the 1 parts"
nnp report --merge part0.json part0.json --stats s.json -q -o r2
expect_rc "a part given twice: exit 3" 3
expect_err "a part given twice: named" "part0.json: candidate 0 is also in part0.json"
pyrun -c '
import json
j = json.load(open("part1.json")); j["data"]["rows"] += 1
json.dump(j, open("other.json", "w"))'
nnp report --merge part0.json other.json --stats s.json -q -o r3
expect_rc "a part of another run: exit 3" 3
expect_err "a part of another run: part and field named" "other.json: \"data\" differs from part0.json's"
pyrun -c '
import json
j = json.load(open("part1.json")); j["candidates"][0]["mean"] = None
json.dump(j, open("nothr.json", "w"))'
nothr=$(py nothr.json 'j["candidates"][0]["index"]')
nnp report --merge part0.json nothr.json --stats s.json -q -o r3b
expect_rc "a candidate with neither thresholds nor a budget: exit 3" 3
expect_err "a candidate with neither thresholds nor a budget: named" \
	"nothr.json: candidate $nothr: neither a budget nor the rule's (mean, std) pair"
check "... and nothing written" not test -e r3b/report.md
nnp sweep $GRID --no-fold -q -o nofold
nnp report --merge part0.json nofold/report.json --stats s.json -q -o r4
expect_rc "a part with other options: exit 3" 3
expect_err "a part with other options: named" "nofold/report.json: \"fold\" differs from part0.json's"
# Parts that record no statistics file (a sweep always records it now).
for k in 0 1; do
	pyrun -c '
import json, sys
j = json.load(open(sys.argv[1])); j["statistics"]["path"] = None
json.dump(j, open(sys.argv[2], "w"), indent=1)' part$k.json ns$k.json
done
cp ns0.json part0.json
cp ns1.json part1.json
nnp report --merge part0.json part1.json -q -o r5
expect_rc "no statistics recorded nor given: exit 2" 2
expect_err "no statistics: says what to give" "part0.json records no statistics file: give --stats FILE"
nnp report --merge merged/report.json --stats s.json -q -o merged
expect_rc "the output over a part: exit 4" 4
check "... and the part is untouched" cmp -s merged/report.json merged2/report.json
printf '{"format": "nnprune-report", "version": 1}' >v1.json
nnp report --merge v1.json --stats s.json -q -o r6
expect_rc "a version 1 report: exit 3" 3
expect_err "a version 1 report: named" "v1.json: report version 1; merging needs version 2"
nnp report -o r7 part0.json
expect_rc "report without --merge: usage" 2

finish
