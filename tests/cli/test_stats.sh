#!/usr/bin/env bash
# End-to-end tests of 'nnprune stats' and 'nnprune eval' on generated blobs.
# usage: test_stats.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_blobs_and_model

# The part of a statistics file that depends on the numbers only (not on the
# data file's name, size and CRC): from "metrics" to the end.
numbers() { sed -n '/"metrics"/,$p' "$1"; }
layers_part() { sed -n '/"layers"/,$p' "$1"; }

# --- default output: ./nnprune.stats.json, replaced atomically ---------------
echo "old statistics" >nnprune.stats.json
ln nnprune.stats.json old-link.json # a second name for the old inode
nnp stats model.bin blobs.csv
expect_rc "stats: exit 0" 0
check "stats: stderr empty" test ! -s "$ERR"
expect_out "stats: says where it wrote" "statistics written to nnprune.stats.json"
expect_out "stats: rows and accuracy line" "rows: 600; model on these rows: accuracy"
expect_json "stats: default file is JSON" nnprune.stats.json
check "stats: default file has the format tag" grep -q '"format": "nnprune-stats"' nnprune.stats.json
# Written in place (truncate + write), the old inode would hold the new text.
expect_eq "stats: replaced by rename, not rewritten in place" "old statistics" "$(cat old-link.json)"
rm -f old-link.json
expect_eq "stats: no temporary file left" \
	"blobs.csv model.bin nnprune.stats.json" "$(ls -A | tr '\n' ' ' | sed 's/ $//')"
cp nnprune.stats.json plain.json

# A failing run leaves the previous statistics alone.
printf '0,1,2\n' >bad.csv
before=$(cksum <nnprune.stats.json)
nnp stats model.bin bad.csv
expect_rc "stats: bad data exits 3" 3
expect_one_line_error "stats: bad data: one error line"
expect_err "stats: bad data: names file and line:col" "bad.csv:1:1:"
expect_eq "stats: failed run keeps the old file" "$before" "$(cksum <nnprune.stats.json)"
expect_eq "stats: failed run leaves no temporary file" "" "$(ls -A | grep '\.tmp\.')"
rm -f bad.csv

# --- -o ------------------------------------------------------------------------
mkdir sub
(cd sub && "$NNP" stats -q ../model.bin ../blobs.csv -o out.json >/dev/null 2>&1)
check "stats -o: writes the named file" test -s sub/out.json
check "stats -o: not the default" test ! -e sub/nnprune.stats.json
expect_eq "stats -o: same numbers" "$(numbers plain.json)" "$(numbers sub/out.json)"
nnp stats -q model.bin blobs.csv --output=sub/eq.json
expect_rc "stats --output=FILE: exit 0" 0
check "stats --output=FILE: written" test -s sub/eq.json
nnp stats -q model.bin blobs.csv -o nodir/x.json
expect_rc "stats -o missing dir: exit 4" 4
expect_one_line_error "stats -o missing dir: one error line"
expect_err "stats -o missing dir: names the file" "nodir/x.json"

# --- refusing to write over its inputs --------------------------------------------
model_sum=$(cksum <model.bin)
data_sum=$(cksum <blobs.csv)
nnp stats -q model.bin blobs.csv -o model.bin
expect_rc "stats -o MODEL: exit 4" 4
expect_err "stats -o MODEL: says why" "refusing to write over an input file"
expect_eq "stats -o MODEL: model unchanged" "$model_sum" "$(cksum <model.bin)"
nnp stats -q model.bin blobs.csv -o blobs.csv
expect_rc "stats -o DATA: exit 4" 4
expect_eq "stats -o DATA: data unchanged" "$data_sum" "$(cksum <blobs.csv)"
nnp stats -q model.bin blobs.csv -o ./sub/../blobs.csv
expect_rc "stats -o DATA spelt differently: exit 4" 4
ln -s blobs.csv link.csv
nnp stats -q model.bin blobs.csv -o link.csv
expect_rc "stats -o symlink to DATA: exit 4" 4
expect_eq "stats -o symlink to DATA: data unchanged" "$data_sum" "$(cksum <blobs.csv)"
check "stats -o symlink to DATA: link still a link" test -L link.csv
rm -f link.csv
expect_eq "stats: refused runs leave no temporary file" "" "$(ls -A | grep '\.tmp\.')"

# --- --json and --quiet -------------------------------------------------------------
nnp stats --json model.bin blobs.csv -o j.json
expect_rc "stats --json: exit 0" 0
cp "$OUT" stats-summary.json
expect_json "stats --json: stdout is JSON" stats-summary.json
check "stats --json: file written too" test -s j.json
nnp stats --quiet model.bin blobs.csv -o q.json
expect_rc "stats --quiet: exit 0" 0
check "stats --quiet: stdout empty" test ! -s "$OUT"
check "stats --quiet: stderr empty" test ! -s "$ERR"

# --- eval agrees with stats -------------------------------------------------------------
nnp eval --json --confusion model.bin blobs.csv
expect_rc "eval --json: exit 0" 0
cp "$OUT" eval.json
expect_json "eval --json: stdout is JSON" eval.json
nnp eval --confusion model.bin blobs.csv
expect_rc "eval text: exit 0" 0
cp "$OUT" eval.txt
expect_out "eval text: rows" "model.bin on blobs.csv: 600 rows, accuracy"
if need_py "eval/stats JSON values"; then
	expect_eq "eval --json: 600 rows" 600 "$(py eval.json 'j["rows"]')"
	acc=$(py eval.json 'repr(j["accuracy"])')
	expect_eq "eval accuracy = stats --json accuracy" "$acc" "$(py stats-summary.json 'repr(j["accuracy"])')"
	expect_eq "eval accuracy = stats file accuracy" "$acc" "$(py plain.json 'repr(j["metrics"]["accuracy"])')"
	expect_eq "eval loss = stats file loss" "$(py eval.json 'repr(j["loss"])')" \
		"$(py plain.json 'repr(j["metrics"]["loss"])')"
	check "eval: accuracy >= 90% on the training blobs" num_le 0.9 "$acc"
	# 600 rows, labels i % 3: 200 of each class.
	expect_eq "eval --confusion: rows sum to the class counts" "[200, 200, 200]" \
		"$(py eval.json '[sum(r) for r in j["confusion"]]')"
	expect_eq "eval --confusion: trace / rows = accuracy" "True" \
		"$(py eval.json 'sum(j["confusion"][i][i] for i in range(3)) == round(j["accuracy"] * 600)')"
	# The text matrix says the same: rows "  i  c0  c1  c2".
	expect_eq "eval --confusion text = json" "$(py eval.json '" ".join(str(v) for r in j["confusion"] for v in r)')" \
		"$(awk '/confusion matrix/ { m = 1; next } m && NF == 4 && $1 ~ /^[0-9]+$/ { printf "%s%s %s %s", s, $2, $3, $4; s = " " }' eval.txt)"
	expect_eq "stats --json: stats_file" "j.json" "$(py stats-summary.json 'j["stats_file"]')"
	expect_eq "stats --json: layer sizes" "[16, 12]" "$(py stats-summary.json '[l["neurons"] for l in j["layers"]]')"
	# The summary's quantiles come from the file's per-neuron numbers.
	expect_eq "stats --json: max |mean| = file's max" "True" "$(pyrun -c '
import json, sys
s = json.load(open("stats-summary.json")); f = json.load(open("j.json"))
print(all(abs(ls["abs_mean"][4] - max(abs(m) for m in lf["mean"])) < 1e-12 and
          abs(ls["std"][0] - min(lf["std"])) < 1e-12 for ls, lf in zip(s["layers"], f["layers"])))')"
	# Whatever the layer, mean is within [min, max], std >= 0, zero share in [0, 1].
	expect_eq "stats file: per-neuron figures consistent" "True" "$(py plain.json 'all(
		lo - 1e-9 <= m <= hi + 1e-9 and s >= 0 and 0 <= z <= 1
		for l in j["layers"] for m, s, lo, hi, z in zip(l["mean"], l["std"], l["min"], l["max"], l["zero_fraction"]))')"
fi

# Metrics are summed batch by batch in order: identical whatever the thread count.
nnp eval --json -j 1 model.bin blobs.csv
cp "$OUT" e1.json
nnp eval --json -j 3 model.bin blobs.csv
expect_same "eval -j 1 = eval -j 3" e1.json "$OUT"

# --- thread counts and repeatability of stats -----------------------------------------
nnp stats -q -j 2 model.bin blobs.csv -o j2a.json
nnp stats -q -j 2 model.bin blobs.csv -o j2b.json
expect_same "stats -j 2 twice: identical files" j2a.json j2b.json
nnp stats -q -j 1 model.bin blobs.csv -o j1.json
# Batches are merged in batch order whatever the thread count: the same bits.
expect_same "stats -j 1 / -j 2: identical files" j1.json j2a.json
nnp stats -q -j 3 model.bin blobs.csv -o j3.json
expect_same "stats -j 1 / -j 3: identical files" j1.json j3.json

# --- the same rows in other clothes give the same numbers -------------------------------
gzip -c blobs.csv >blobs.csv.gz
nnp stats -q model.bin blobs.csv.gz -o gz.json
expect_rc "stats on .gz: exit 0" 0
expect_eq "stats on .gz: same numbers as plain" "$(numbers plain.json)" "$(numbers gz.json)"
check "stats on .gz: records the .gz path" grep -q '"path": "blobs.csv.gz"' gz.json
# The same file renamed without .gz: recognised by content.
cp blobs.csv.gz gz-no-ext.dat
nnp stats -q model.bin gz-no-ext.dat -o gz2.json
expect_eq "stats on gzip without .gz name: same numbers" "$(numbers plain.json)" "$(numbers gz2.json)"
awk -F, 'BEGIN { OFS = ","; print "f0,f1,f2,f3,f4,f5,f6,f7,y" }
	{ l = $1; for (i = 1; i < 9; i++) $i = $(i + 1); $9 = l; print }' blobs.csv >last.csv
nnp stats -q model.bin last.csv --label-col y -o byname.json
expect_rc "stats --label-col NAME: exit 0" 0
expect_eq "stats --label-col NAME (header, label last): same numbers" "$(numbers plain.json)" "$(numbers byname.json)"
nnp stats -q model.bin last.csv --label-col last -o last.json
expect_eq "stats --label-col last: same numbers" "$(numbers plain.json)" "$(numbers last.json)"
nnp stats -q model.bin last.csv --label-col 8 --header yes -o idx.json
expect_eq "stats --label-col 8 --header yes: same numbers" "$(numbers plain.json)" "$(numbers idx.json)"
nnp stats -q model.bin last.csv --header no -o x.json
expect_rc "stats --header no on a file with a header: exit 3" 3
expect_one_line_error "stats --header no on a header: one error line"
tr , ';' <blobs.csv >semi.csv
nnp stats -q model.bin semi.csv --delimiter ';' -o semi.json
expect_eq "stats --delimiter ';': same numbers" "$(numbers plain.json)" "$(numbers semi.json)"
nnp stats -q model.bin semi.csv -o x.json
expect_rc "stats on ';' file without --delimiter: exit 3" 3
sed 's/$/\r/' blobs.csv >crlf.csv
nnp stats -q model.bin crlf.csv -o crlf.json
expect_eq "stats on CRLF lines: same numbers" "$(numbers plain.json)" "$(numbers crlf.json)"
{ printf '\357\273\277'; cat blobs.csv; } >bom.csv
nnp stats -q model.bin bom.csv -o bom.json
expect_eq "stats after a UTF-8 BOM: same numbers" "$(numbers plain.json)" "$(numbers bom.json)"
cut -d, -f2- blobs.csv >nolabel.csv
nnp stats -q model.bin nolabel.csv --no-label -o nolabel.json
expect_rc "stats --no-label: exit 0" 0
expect_eq "stats --no-label: same neuron numbers" "$(layers_part plain.json)" "$(layers_part nolabel.json)"

# --- stdin ---------------------------------------------------------------------------------
nnp_stdin blobs.csv eval --json model.bin -
expect_rc "eval on stdin '-': exit 0" 0
if need_py "eval on stdin: same accuracy"; then
	expect_eq "eval on stdin: same accuracy" "$acc" "$(py "$OUT" 'repr(j["accuracy"])')"
fi
# sweep re-reads and re-checks the data, so stats wants a file: '-' is a usage error.
nnp_stdin blobs.csv stats -q model.bin - -o stdin.json
expect_rc "stats on stdin '-': usage error" 2
expect_err "stats on stdin '-': says why" "not standard input"

# --- input errors ----------------------------------------------------------------------------
nnp eval model.bin missing.csv
expect_rc "eval missing data: exit 3" 3
expect_one_line_error "eval missing data: one error line"
nnp eval missing.bin blobs.csv
expect_rc "eval missing model: exit 3" 3
nnp eval models-do-not-exist/ blobs.csv
expect_rc "eval directory as model: exit 3" 3
head -c 25000 blobs.csv >cut.csv # ends mid-row
nnp eval model.bin cut.csv
expect_rc "eval on a file cut mid-row: exit 3" 3
expect_err "eval on a file cut mid-row: names the last line" "cut.csv:$(wc -l <cut.csv | awk '{ print $1 + 1 }'):"
head -c 9000 blobs.csv.gz >cut.csv.gz
nnp stats -q model.bin cut.csv.gz -o x.json
expect_rc "stats on a truncated .gz: exit 3" 3
expect_one_line_error "stats on a truncated .gz: one error line"
gen_blobs 1 30 5 >five.csv
nnp eval model.bin five.csv
expect_rc "eval with 5 features for 8 inputs: exit 3" 3
expect_err "eval feature count: names both counts" "5 feature columns"
expect_err "eval feature count: names the model's inputs" "8 inputs"
gen_blobs 1 30 8 4 >four.csv
nnp eval model.bin four.csv
expect_rc "eval label 3 for 3 outputs: exit 3" 3
expect_err "eval label out of range: line:col" "four.csv:4:1:"
nnp eval model.bin blobs.csv --header maybe
expect_rc "eval --header maybe: exit 2" 2
nnp eval model.bin blobs.csv --delimiter ab
expect_rc "eval --delimiter ab: exit 2" 2
nnp eval model.bin blobs.csv -j 257
expect_rc "eval -j 257: exit 2" 2
nnp stats model.bin
expect_rc "stats with one operand: exit 2" 2
nnp stats --help
expect_rc "stats --help: exit 0" 0
expect_out "stats --help: shows the default file" "nnprune.stats.json"
check "stats --help: nothing on stderr" test ! -s "$ERR"
nnp eval --help
expect_rc "eval --help: exit 0" 0

# Outputs checked before any work; stdout that cannot be written fails the run.
nnp stats -q model.bin blobs.csv -o no-such-dir/s.json
expect_rc "stats -o into a missing directory: exit 4" 4
expect_err "stats -o into a missing directory: says so" "does not exist"
nnp stats -q model.bin blobs.csv -o .
expect_rc "stats -o a directory: exit 4" 4
if [ -w /dev/full ]; then
	"$NNP" eval --json model.bin blobs.csv >/dev/full 2>"$ERR"
	check "eval --json into a full disk: exit 4" test $? = 4
	expect_err "eval --json into a full disk: says so" "stdout: write failed"
fi

finish
