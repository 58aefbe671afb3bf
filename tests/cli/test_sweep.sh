#!/usr/bin/env bash
# End-to-end tests of 'nnprune sweep' after 'nnprune stats' on generated
# blobs, and of what it writes: models (checked with eval, info, convert),
# reports, the quality gate, stale inputs and determinism.
# usage: test_sweep.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_blobs_and_model
nnp stats -q model.bin blobs.csv
if [ "$RC" != 0 ]; then
	bad "setup: stats" "$(last_run)"
	finish
fi

# --- the default sweep --------------------------------------------------------------------
nnp sweep
expect_rc "sweep: exit 0" 0
check "sweep: stderr empty" test ! -s "$ERR"
expect_out "sweep: table has the original" "original"
expect_out "sweep: summary line" "30 candidates ("
expect_out "sweep: summary names the directory" "models and report in pruned/"
for f in report.md report.csv report.json report.svg stats.svg; do
	check "sweep: writes pruned/$f" test -s "pruned/$f"
done
expect_json "sweep: report.json is JSON" pruned/report.json
for f in report.svg stats.svg; do
	check "sweep: $f is an SVG document" grep -q '<svg' "pruned/$f"
	check "sweep: $f is complete" grep -q '</svg>' "pruned/$f"
done
# 6 default mean thresholds x 5 std thresholds; --write distinct (the
# default) writes each distinct kept set once (12 files for the 30 of a
# 784-512-256-128 Fashion-MNIST network; fewer here).
expect_eq "sweep: one model per distinct candidate" "$(sed -n 's/^ *"distinct": \([0-9]*\).*/\1/p' pruned/report.json)" \
	"$(ls pruned/*.bin | wc -l)"
expect_eq "sweep: report.csv has header + original + 30 rows" 32 "$(wc -l <pruned/report.csv)"
check "sweep: report.md has a table" grep -q '^|' pruned/report.md
expect_eq "sweep: no temporary file left" "" "$(ls -A pruned | grep '\.tmp\.')"

if need_py "report.json values"; then
	R=pruned/report.json
	expect_eq "report.json: 30 candidates" 30 "$(py $R 'len(j["candidates"])')"
	expect_eq "report.json: every candidate's file exists" "True" \
		"$(py $R 'all(__import__("os").path.isfile(c["file"]) for c in j["candidates"])')"
	expect_eq "report.json: means outer, stds inner" \
		"[[0, 0.1], [0, 0.2], [0, 0.4], [0, 0.6], [0, 1], [0.05, 0.1]]" \
		"$(py $R '[[c["mean"], c["std"]] for c in j["candidates"][:6]]')"
	expect_eq "report.json: original = the full 16-12 model" "[16, 12] 387" \
		"$(py $R '"%s %d" % (j["original"]["kept"], j["original"]["params"])')"
	# params = sum over layers of (in + 1) * out for 8-k0-k1-3.
	expect_eq "report.json: params follow from the kept sizes" "True" \
		"$(py $R 'all(c["params"] == 9 * c["kept"][0] + (c["kept"][0] + 1) * c["kept"][1] + (c["kept"][1] + 1) * 3 for c in j["candidates"])')"
	expect_eq "report.json: drop = original - candidate accuracy, in points" "True" \
		"$(py $R 'all(abs(c["accuracy_drop_points"] - 100 * (j["original"]["accuracy"] - c["accuracy"])) < 1e-6 for c in j["candidates"])')"
	expect_eq "report.json: duplicates point to an earlier candidate with the same kept sizes" "True" \
		"$(py $R 'all(c["same_as"] is None or (c["same_as"] < c["index"] and j["candidates"][c["same_as"]]["kept"] == c["kept"]) for c in j["candidates"])')"
	expect_eq "report.json: larger thresholds never keep more" "True" \
		"$(py $R 'all(a["kept"][l] >= b["kept"][l] for a in j["candidates"] for b in j["candidates"] if a["mean"] <= b["mean"] and a["std"] <= b["std"] for l in range(2))')"
	check "report.json: some candidate is smaller than the original" \
		test "$(py $R 'min(c["params"] for c in j["candidates"])')" -lt 387
fi

# Every written model, evaluated on its own, gives the report's figures
# (read from report.csv: no JSON tool needed). Accuracy as a count of correct
# rows: exact. The loss only to 1e-6: the sweep scores a candidate from the
# original's activations with a correction term (see sweep.c), equal in exact
# arithmetic to running the written model but not in float.
nnp eval --json model.bin blobs.csv
expect_eq "eval of the original = report's original accuracy" \
	"$(awk -F, '$1 == "original" { printf "%d", $8 * 600 + 0.5 }' pruned/report.csv)" \
	"$(json_num "$OUT" accuracy | awk '{ printf "%d", $1 * 600 + 0.5 }')"
n=0 n_acc=0 n_loss=0 n_size=0
while IFS=, read -r idx mean std kept params bytes macs acc drop loss rest; do
	[ "$idx" = candidate ] || [ "$idx" = original ] && continue
	file=$(echo "$rest" | cut -d, -f6)  # agreement,reduction,pareto,floor_hit,same_as,file,...
	n=$((n + 1))
	rescore "$file" blobs.csv
	e_acc=$EV_ACC e_loss=$EV_LOSS i_params=$INFO_PARAMS i_kept=$INFO_HIDDEN
	if awk -v a="$acc" -v b="$e_acc" 'BEGIN { exit !(int(a * 600 + 0.5) == int(b * 600 + 0.5)) }'; then
		n_acc=$((n_acc + 1))
	else
		echo "  $file: eval accuracy $e_acc, report $acc"
	fi
	if awk -v a="$loss" -v b="$e_loss" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-6 * a) }'; then
		n_loss=$((n_loss + 1))
	else
		echo "  $file: eval loss $e_loss, report $loss"
	fi
	if [ "$i_params" = "$params" ] && [ "$i_kept" = "$kept" ]; then
		n_size=$((n_size + 1))
	else
		echo "  $file: info $i_params params, $i_kept; report $params, $kept"
	fi
done <pruned/report.csv
expect_eq "re-evaluation covered every candidate" 30 "$n"
expect_eq "eval of each written model = report accuracy" "$n" "$n_acc"
expect_eq "eval of each written model = report loss (1e-6)" "$n" "$n_loss"
expect_eq "info of each written model = report params and kept sizes" "$n" "$n_size"

# --- what a pruned model carries -------------------------------------------------------------
P=pruned/model-m1-s1.bin
nnp info $P
expect_rc "info pruned: exit 0" 0
expect_out "info pruned: provenance operation" '"operation":	"prune"'
expect_out "info pruned: thresholds" '"thresholds":'
expect_out "info pruned: kept indices" '"kept":'
expect_out "info pruned: the source model" '"path":	"model.bin"'
expect_out "info pruned: the training before it" '"operation":	"train"'
if need_py "provenance: kept indices and folded biases"; then
	nnp info --json $P
	cp "$OUT" pinfo.json
	nnp info --json model.bin
	expect_eq "info pruned: source CRC-32 is the model's" "$(py "$OUT" 'j["crc32"]')" \
		"$(py pinfo.json 'j["provenance"]["source"]["crc32"]')"
	expect_eq "info pruned: thresholds are the candidate's" "1 1" \
		"$(py pinfo.json '"%g %g" % (j["provenance"]["thresholds"]["mean"], j["provenance"]["thresholds"]["std"])')"
	expect_eq "info pruned: as many kept indices as neurons" \
		"$(py pinfo.json '[l["out"] for l in j["layers"][:-1]]')" \
		"$(py pinfo.json '[len(k) for k in j["provenance"]["kept"]]')"
	# The kept neurons are exactly those above a threshold in the statistics
	# (|mean| > 1 or std > 1), in order.
	expect_eq "info pruned: kept indices follow the rule" \
		"$(py nnprune.stats.json '[[i for i, (m, s) in enumerate(zip(l["mean"], l["std"])) if abs(m) > 1 or s > 1] for l in j["layers"]]')" \
		"$(py pinfo.json 'j["provenance"]["kept"]')"
	# The slimmed weights are the original's rows and columns at the kept
	# indices; a removed neuron's mean times its weight moves into the next bias.
	nnp convert model.bin orig.json
	nnp convert $P slim.json
	expect_eq "pruned weights = original's kept rows/columns, folded biases" "True" "$(pyrun -c '
import json
o = json.load(open("orig.json"))["layers"]; p = json.load(open("slim.json"))["layers"]
kept = json.load(open("pinfo.json"))["provenance"]["kept"]
st = json.load(open("nnprune.stats.json"))["layers"]
good = True
cols = list(range(8))
for l in range(3):
    rows = kept[l] if l < 2 else list(range(3))
    # inputs of layer l that were removed from layer l - 1
    gone = [c for c in range(len(o[l - 1]["bias"])) if c not in cols] if l else []
    for i, r in enumerate(rows):
        good &= p[l]["weights"][i] == [o[l]["weights"][r][c] for c in cols]
        b = o[l]["bias"][r] + sum(o[l]["weights"][r][c] * st[l - 1]["mean"][c] for c in gone)
        good &= abs(p[l]["bias"][i] - b) <= 1e-5 * max(1, abs(b))
    cols = rows
print(good)')"
fi

# Each pruned model survives binary -> JSON -> binary byte for byte.
n=0 same=0
for f in pruned/*.bin; do
	n=$((n + 1))
	nnp convert "$f" rt.json && nnp convert rt.json rt.bin && cmp -s "$f" rt.bin && same=$((same + 1))
done
expect_eq "convert round trip of every pruned model is byte-identical" "$n" "$same"

# --format json writes the same models in JSON.
nnp sweep -q --format json -o pj
expect_rc "sweep --format json: exit 0" 0
expect_eq "sweep --format json: as many .json models as .bin" "$(ls pruned/*.bin | wc -l)" \
	"$(ls pj/*.json | grep -vc '/report.json$')"
n=0 same=0
for f in pj/model-*.json; do
	n=$((n + 1))
	b=pruned/$(basename "$f" .json).bin
	nnp convert "$f" fj.bin && cmp -s fj.bin "$b" && same=$((same + 1))
done
expect_eq "sweep --format json models = binary ones converted" "$n" "$same"

# --- --json, -q ----------------------------------------------------------------------------------
nnp sweep --json -o pjs
expect_rc "sweep --json: exit 0" 0
expect_same "sweep --json: stdout is report.json exactly" "$OUT" pjs/report.json
check "sweep --json: stderr empty" test ! -s "$ERR"
nnp sweep -q -o pq
expect_rc "sweep -q: exit 0" 0
check "sweep -q: stdout empty" test ! -s "$OUT"

# --- determinism: runs, thread counts, in-memory vs streaming --------------------------------------
nnp sweep -q -j 1 -o d1
nnp sweep -q -j 2 -o d2
mv d2 d2.first
nnp sweep -q -j 2 -o d2
expect_eq "sweep twice: every output byte-identical" "$(sums d2.first)" "$(sums d2)"
n=0 same=0
for f in d1/*.bin; do
	n=$((n + 1))
	cmp -s "$f" "d2/${f#d1/}" && same=$((same + 1))
done
expect_eq "sweep -j 1 / -j 2: model files identical" "$n" "$same"
expect_eq "sweep -j 1 / -j 2: report.json identical (but for the directory)" \
	"$(sed 's#"d1/#"DIR/#g' d1/report.json)" "$(sed 's#"d2/#"DIR/#g' d2/report.json)"
expect_eq "sweep -j 1 / -j 2: report.csv identical (but for the directory)" \
	"$(sed 's#,d1/#,DIR/#g' d1/report.csv)" "$(sed 's#,d2/#,DIR/#g' d2/report.csv)"
nnp sweep -q --mem-limit 1K -o ds
expect_rc "sweep --mem-limit 1K (streaming): exit 0" 0
expect_eq "sweep streaming = in memory: report.json" \
	"$(sed 's#"d1/#"DIR/#g' d1/report.json)" "$(sed 's#"ds/#"DIR/#g' ds/report.json)"

# --- options changing the result ------------------------------------------------------------------
nnp sweep -q --mean 1 --std 1 --no-fold -o nf
expect_rc "sweep --no-fold: exit 0" 0
nnp info nf/model-m1-s1.bin
expect_out "sweep --no-fold: provenance says so" '"fold":	false'
nnp convert nf/model-m1-s1.bin nf.json
nnp convert pruned/model-m1-s1.bin f.json
check "sweep --no-fold: biases differ from the folded model" \
	test "$(sed '/"metadata"/,$d' nf.json)" != "$(sed '/"metadata"/,$d' f.json)"
nnp sweep -q --mean 100 --std 100 --min-keep 20 -o mk
expect_rc "sweep --min-keep above the width: exit 0" 0
if need_py "sweep --min-keep 20 report"; then
	expect_eq "sweep --min-keep 20: keeps whole 16 and 12 layers" "[16, 12] True" \
		"$(py mk/report.json '"%s %s" % (j["candidates"][0]["kept"], j["candidates"][0]["floor_hit"])')"
fi
nnp sweep -q --mean 0:0.2:0.1 --std 0.5,1 --write all -o rg
expect_rc "sweep with a range LIST: exit 0" 0
expect_eq "sweep --mean 0:0.2:0.1 --std 0.5,1: 3 x 2 models" 6 "$(ls rg/*.bin | wc -l)"
check "sweep range: names keep 12 digits, no drift" test -e rg/model-m0.1-s0.5.bin

# --- the quality gate ------------------------------------------------------------------------------
nnp sweep -q --max-drop 100 --best best.bin -o g
expect_rc "sweep --max-drop 100: exit 0" 0
check "sweep --best: file written" test -s best.bin
expect_err "sweep --max-drop: says what it selected" "nnprune: sweep: selected #"
expect_err "sweep --best: says where" "written to best.bin"
if need_py "sweep --max-drop 100 best"; then
	bi=$(py g/report.json 'j["best"]')
	check "sweep --max-drop 100: report names a best" test "$bi" != None
	expect_eq "sweep --max-drop 100: the smallest candidate" \
		"$(py g/report.json 'min(c["params"] for c in j["candidates"])')" \
		"$(py g/report.json 'j["candidates"][j["best"]]["params"]')"
	expect_same "sweep --best = the selected candidate's file" best.bin "$(py g/report.json 'j["candidates"][j["best"]]["file"]')"
	nnp sweep -q --max-drop 0.5 -o g05
	expect_eq "sweep --max-drop 0.5: best within 0.5 points and smallest such" "True" \
		"$(py g05/report.json 'j["best"] is None or (j["candidates"][j["best"]]["accuracy_drop_points"] <= 0.5 and all(c["params"] >= j["candidates"][j["best"]]["params"] for c in j["candidates"] if c["accuracy_drop_points"] <= 0.5))')"
fi
nnp sweep -q --max-drop 0 --mean 100 --std 100 --min-keep 1 --best never.bin -o g0
expect_rc "sweep gate not met: exit 1" 1
expect_err "sweep gate not met: says so" "no candidate passes --max-drop 0"
expect_err "sweep gate not met: names the closest candidate" "closest: #0 (mean 100, std 100)"
expect_err "sweep gate not met: names its file" "g0/model-m100-s100.bin"
check "sweep gate not met: --best not written" test ! -e never.bin
check "sweep gate not met: report still written" test -s g0/report.json
nnp sweep -q --max-drop 0 --mean 100 --std 100 --json -o g0j
expect_rc "sweep --json gate not met: exit 1" 1
expect_json "sweep --json gate not met: stdout still JSON" "$OUT"
nnp sweep --best x.bin
expect_rc "sweep --best without --max-drop: exit 2" 2
nnp sweep --max-drop 101
expect_rc "sweep --max-drop 101: exit 2" 2
nnp sweep --max-drop -1
expect_rc "sweep --max-drop -1: exit 2" 2
nnp sweep --max-drop 1x
expect_rc "sweep --max-drop 1x: exit 2" 2
# Numbers are plain decimals everywhere: no hex, no blanks (as in LISTs).
nnp sweep -q --max-drop 0x10 -o hex
check "sweep --max-drop 0x10: not a number, exit 2" test "$RC" = 2
nnp sweep -q --max-drop ' 1' -o blank
check "sweep --max-drop ' 1': not a number, exit 2" test "$RC" = 2
model_sum=$(cksum <model.bin)
nnp sweep -q --max-drop 100 --best model.bin -o gb
expect_rc "sweep --best MODEL: exit 4" 4
expect_err "sweep --best MODEL: says why" "model.bin: exists and is not a model an earlier --best wrote"
expect_eq "sweep --best MODEL: model unchanged" "$model_sum" "$(cksum <model.bin)"
nnp sweep -q --max-drop 100 --best nnprune.stats.json -o gb
expect_rc "sweep --best STATS: exit 4" 4

# --- bad LISTs and options -------------------------------------------------------------------------
for bad_list in "--mean 0.1x" "--std 1:0:0.1" "--mean ," "--std ''" "--mean 0:1:0" "--mean -1" \
	"--mean 1,,2" "--std nan" "--mean inf" "--mean 0:1" "--mean 0:1:0.1:2" "--std 1e999" \
	"--mean ' 1'" "--mean 0x1" "--mean 1," "--mean 0:1:1e-9" "--mean 0:1:0.001 --std 0:1:0.001"; do
	eval "nnp sweep -q $bad_list -o never"
	expect_rc "sweep $bad_list: exit 2" 2
	check "sweep $bad_list: message first" grep -q '^nnprune: sweep: ' "$ERR"
done
check "sweep: bad lists wrote nothing" test ! -e never
nnp sweep extra-arg
expect_rc "sweep with an operand: exit 2" 2
nnp sweep --format yaml
expect_rc "sweep --format yaml: exit 2" 2
nnp sweep --min-keep x
expect_rc "sweep --min-keep x: exit 2" 2
nnp sweep --mem-limit 12X
expect_rc "sweep --mem-limit 12X: exit 2" 2
nnp sweep --help
expect_rc "sweep --help: exit 0" 0
expect_out "sweep --help: shows the default grid" "0,0.05,0.1,0.2,0.5,1"

# --- inputs that moved or changed -------------------------------------------------------------------
cp blobs.csv blobs.orig
echo "0,0,0,0,0,0,0,0,0" >>blobs.csv
nnp sweep -q -o stale
expect_rc "sweep after the data changed: exit 3" 3
expect_err "sweep after the data changed: 'changed since'" "blobs.csv: changed since nnprune.stats.json was written"
expect_err "sweep after the data changed: says what to do" "run 'nnprune stats' again"
expect_one_line_error "sweep after the data changed: one error line"
check "sweep after the data changed: nothing written" test ! -e stale
# Same size, one byte different: only the CRC can tell.
sed '1s/^0,\(.\)/0,9/' blobs.orig >blobs.csv
check "setup: same size" test "$(wc -c <blobs.csv)" = "$(wc -c <blobs.orig)"
nnp sweep -q -o stale
expect_rc "sweep after a same-size edit of the data: exit 3" 3
expect_err "sweep after a same-size edit: 'changed since'" "changed since"
# The data's identity is taken as its rows are read (the file read once) when
# they parse and are held in memory, else from a read of the file of its own:
# the message is the same, its size and CRC-32 those of the file now (zlib's,
# computed here), whichever way they were taken.
if need_py "data changed: the size and CRC-32 in the message"; then
	now=$(python3 -c 'import sys, zlib; b = open(sys.argv[1], "rb").read(); print("now %d bytes, CRC-32 %08x;" % (len(b), zlib.crc32(b)))' blobs.csv)
	expect_err "same-size edit, rows read once: the file's size and CRC-32" "blobs.csv: changed since nnprune.stats.json was written ($now"
	nnp sweep -q --mem-limit 1K -o stale
	expect_rc "same-size edit, rows streamed: exit 3" 3
	expect_err "same-size edit, rows streamed: the same message" "blobs.csv: changed since nnprune.stats.json was written ($now"
	sed '2s/^\(.\),./\1,x/' blobs.orig >blobs.csv
	now=$(python3 -c 'import sys, zlib; b = open(sys.argv[1], "rb").read(); print("now %d bytes, CRC-32 %08x;" % (len(b), zlib.crc32(b)))' blobs.csv)
	nnp sweep -q -o stale
	expect_rc "an edit the reader refuses: exit 3" 3
	expect_err "an edit the reader refuses: 'changed since', not the parse error" "blobs.csv: changed since nnprune.stats.json was written ($now"
	expect_one_line_error "an edit the reader refuses: one error line"
	check "an edit the reader refuses: nothing written" test ! -e stale
fi
cp blobs.orig blobs.csv
cp model.bin model.orig
nnp train blobs.csv -o model.bin $TRAIN_ARGS --seed 2
nnp sweep -q -o stale
expect_rc "sweep after the model changed: exit 3" 3
expect_err "sweep after the model changed: names it" "model.bin: changed since"
cp model.orig model.bin
nnp sweep -q --mean 1 --std 1 -o restored
expect_rc "sweep with the inputs restored: exit 0" 0
mv blobs.csv moved.csv
mv model.bin moved.bin
nnp sweep -q --mean 1 --std 1 -o mv1
expect_rc "sweep after the inputs moved: exit 3" 3
expect_one_line_error "sweep after the inputs moved: one error line"
nnp sweep -q --mean 1 --std 1 --model moved.bin --data moved.csv -o mv2
expect_rc "sweep --model --data: exit 0" 0
nnp convert mv2/moved-m1-s1.bin mv2.json
nnp convert restored/model-m1-s1.bin restored.json
expect_eq "sweep --model --data: same slimmed weights" \
	"$(sed '/"metadata"/,$d' restored.json)" "$(sed '/"metadata"/,$d' mv2.json)"
nnp info mv2/moved-m1-s1.bin
expect_out "sweep --model: provenance names the new path" '"path":	"moved.bin"'
nnp sweep -q --mean 1 --std 1 --model model.orig --data moved.csv -o mv3
expect_rc "sweep --model (a copy): exit 0" 0
nnp train moved.csv -o other.bin $TRAIN_ARGS --seed 3
nnp sweep -q --model other.bin --data moved.csv -o mv4
expect_rc "sweep --model with another model: exit 3" 3
expect_err "sweep --model with another model: 'changed since'" "other.bin: changed since"
mv moved.csv blobs.csv
mv moved.bin model.bin

# --- statistics files -----------------------------------------------------------------------------
nnp stats -q model.bin blobs.csv -o other-stats.json
nnp sweep -q --stats other-stats.json --mean 1 --std 1 -o os
expect_rc "sweep --stats FILE: exit 0" 0
nnp sweep -q --stats missing.json
expect_rc "sweep --stats missing: exit 3" 3
expect_one_line_error "sweep --stats missing: one error line"
nnp sweep -q --stats pruned/report.json
expect_rc "sweep --stats on a report: exit 3" 3
expect_one_line_error "sweep --stats on a report: one error line"
head -c 300 nnprune.stats.json >cut-stats.json
nnp sweep -q --stats cut-stats.json
expect_rc "sweep --stats truncated: exit 3" 3
gzip -c blobs.csv >blobs.csv.gz
nnp stats -q model.bin blobs.csv.gz -o gz-stats.json
nnp sweep -q --stats gz-stats.json --mean 1 --std 1 -o gz
expect_rc "sweep on statistics of a .gz: exit 0" 0
expect_eq "sweep on .gz = on plain data" \
	"$(sed 's#"gz/#"DIR/#g; s#blobs.csv.gz#DATA#; s#gz-stats.json#STATS#' gz/report.json)" \
	"$(sed 's#"restored/#"DIR/#g; s#blobs.csv#DATA#; s#nnprune.stats.json#STATS#' restored/report.json)"
nnp sweep -q --stats gz-stats.json --mean 1 --std 1 --mem-limit 1K -o gzs
expect_eq "sweep streaming a .gz = in memory" \
	"$(sed 's#"gzs/#"DIR/#g' gzs/report.json)" "$(sed 's#"gz/#"DIR/#g' gz/report.json)"
# The reader options recorded by stats are used again by sweep.
awk -F, 'BEGIN { OFS = ";"; print "f0;f1;f2;f3;f4;f5;f6;f7;y" }
	{ l = $1; for (i = 1; i < 9; i++) $i = $(i + 1); $9 = l; print }' blobs.csv >semi.csv
nnp stats -q model.bin semi.csv --delimiter ';' --label-col y -o semi-stats.json
nnp sweep -q --stats semi-stats.json --mean 1 --std 1 -o semi
expect_rc "sweep on statistics of a ';' file, label by name: exit 0" 0
expect_eq "sweep reuses the recorded reader options" \
	"$(sed 's#"semi/#"DIR/#g; s#semi.csv#DATA#; s#semi-stats.json#STATS#' semi/report.json)" \
	"$(sed 's#"restored/#"DIR/#g; s#blobs.csv#DATA#; s#nnprune.stats.json#STATS#' restored/report.json)"

# The report files, like the models, must not replace an input.
mkdir rep
cp blobs.csv rep/report.csv
nnp stats -q model.bin rep/report.csv -o rep/report.json
rep_csv=$(cksum <rep/report.csv)
rep_json=$(cksum <rep/report.json)
# With the data at DIR/report.csv and the statistics at DIR/report.json,
# 'sweep -o DIR' must refuse before writing anything.
nnp sweep -q --stats rep/report.json --mean 1 --std 1 -o rep
check "sweep -o DIR with inputs named like its reports: exit 4" test "$RC" = 4
expect_eq "sweep -o DIR: data named report.csv unchanged" "$rep_csv" "$(cksum <rep/report.csv)"
expect_eq "sweep -o DIR: statistics named report.json unchanged" "$rep_json" "$(cksum <rep/report.json)"
touch afile
nnp sweep -q --mean 1 --std 1 -o afile
expect_rc "sweep -o a regular file: exit 4" 4
expect_one_line_error "sweep -o a regular file: one error line"

# Statistics of unlabelled rows cannot measure accuracy.
cut -d, -f2- blobs.csv >nolabel.csv
nnp stats -q model.bin nolabel.csv --no-label -o nolabel-stats.json
nnp sweep -q --stats nolabel-stats.json -o nl
expect_rc "sweep on unlabelled statistics: exit 3" 3
expect_err "sweep on unlabelled statistics: says so" "unlabelled"
# The message says what to do instead: take the statistics on labelled data.
expect_err "sweep on unlabelled statistics: says to run stats on labelled data" "run 'nnprune stats' on labelled data"
nnp sweep -q --stats nolabel-stats.json --data blobs.csv -o nl
expect_rc "sweep on unlabelled statistics with another --data: exit 3 (not the same file)" 3

finish
