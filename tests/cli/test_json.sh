#!/usr/bin/env bash
# The JSON contract: every --json of info, convert, stats, eval and bench is
# one object starting with "format" ("nnprune.KIND") and "version" (an
# integer), valid against schema/nnprune.KIND.vVERSION.json; accuracy is a
# fraction everywhere.
# usage: test_json.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_blobs_and_model

# KIND FILE: the head, then the schema.
contract() {
	expect_json "$1: valid JSON" "$2"
	# (tabs from cJSON; two spaces from the library's renderers, as report.json)
	expect_eq "$1: first key is format" "\"format\":	\"nnprune.$1\"," \
		"$(sed -n 2p "$2" | tr -d '\t' | sed 's/^ *//; s/: */:\t/')"
	expect_eq "$1: second key is version" "1" \
		"$(sed -n 3p "$2" | sed -n 's/^[[:space:]]*"version":[[:space:]]*\([0-9]*\),$/\1/p')"
	expect_schema "$1: valid against its schema" "$1" "$2"
}

nnp info --json model.bin
cp "$OUT" info.json
contract info info.json
nnp info --json "$SRC/models/xor.json"
cp "$OUT" info-xor.json
expect_schema "info: a model with classes and metadata" info info-xor.json

nnp convert --json model.bin model.json
expect_rc "convert --json: exit 0" 0
cp "$OUT" convert.json
contract convert convert.json
expect_eq "convert --json: the written size" "$(wc -c <model.json | tr -d ' ')" "$(json_num convert.json bytes)"
expect_eq "convert --json: params as info says" "$(json_num info.json params)" "$(json_num convert.json params)"
nnp info --json model.json
cp "$OUT" info2.json
expect_eq "convert --json: crc32 as info says" "$(grep '"crc32"' info2.json)" "$(grep '"crc32"' convert.json)"

nnp stats --json model.bin blobs.csv -o s.json
cp "$OUT" stats.json
contract stats stats.json
cut -d, -f2- blobs.csv >nolabel.csv
nnp stats --json --no-label model.bin nolabel.csv -o s2.json
cp "$OUT" stats-nolabel.json
expect_schema "stats --no-label: valid" stats stats-nolabel.json

nnp eval --json --confusion model.bin blobs.csv
cp "$OUT" eval.json
contract eval eval.json
acc=$(json_num eval.json accuracy)
check "eval: accuracy is a fraction" num_le "$acc" 1
expect_eq "eval and stats: the same accuracy (a fraction in both)" "$acc" "$(json_num stats.json accuracy)"
# The accuracy against the confusion matrix's diagonal, counted independently.
if [ $HAVE_PY = 1 ]; then
	expect_eq "eval: accuracy = trace / rows" "True" \
		"$(py eval.json 'abs(j["accuracy"] - sum(j["confusion"][i][i] for i in range(len(j["confusion"]))) / j["rows"]) < 1e-12')"
fi
if command -v jq >/dev/null 2>&1; then
	for f in info convert stats eval; do
		expect_eq "jq: $f head" "nnprune.$f 1" "$(jq -r '"\(.format) \(.version)"' $f.json)"
	done
fi
# sweep --json prints report.json (its own format, "nnprune-report"), valid
# against schema/nnprune.report.v2.json; duplicates are never Pareto.
nnp sweep --stats s.json --mean 0,0.5,100 --std 0,100 -q -o swj --json
expect_rc "sweep --json: exit 0" 0
cp "$OUT" sweep.json
expect_json "sweep --json: valid JSON" sweep.json
expect_same "sweep --json: stdout is report.json" sweep.json swj/report.json
expect_eq "sweep --json: version" "2" "$(sed -n 's/^  "version": \([0-9]*\),$/\1/p' sweep.json)"
check "sweep --json: format nnprune-report" grep -q '"format": "nnprune-report"' sweep.json
expect_schema "sweep --json: valid against its schema" report sweep.json
if [ $HAVE_PY = 1 ]; then
	expect_eq "sweep --json: duplicates exist and none is Pareto" "True" \
		"$(py sweep.json 'any(c["same_as"] is not None for c in j["candidates"]) and not any(c["pareto"] for c in j["candidates"] if c["same_as"] is not None)')"
	expect_eq "sweep --json: units in the names" "True" \
		"$(py sweep.json 'all(abs(c["accuracy_drop_points"] - 100 * (j["original"]["accuracy"] - c["accuracy"])) < 1e-6 and abs(c["reduction_percent"] - 100 * (1 - c["params"] / j["original"]["params"])) < 1e-6 for c in j["candidates"])')"
fi
if command -v jq >/dev/null 2>&1; then
	expect_eq "jq: sweep head" "nnprune-report 2" "$(jq -r '"\(.format) \(.version)"' sweep.json)"
fi

# prune --json: schema/nnprune.prune.v1.json (the library renders it; checked
# here once the command offers the option).
if "$NNP" prune --help 2>/dev/null | grep -q -- '--json'; then
	nnp prune model.bin --calib blobs.csv --keep 0.5 -o p.bin --json
	expect_rc "prune --json: exit 0" 0
	cp "$OUT" prune.json
	contract prune prune.json
fi

# Each schema file names its format and version as the output does.
for s in "$SRC"/schema/nnprune.*.v*.json; do
	b=$(basename "$s" .json)
	check "schema $b: its \$id is its file name" grep -q "\"\$id\": \"$b\"" "$s"
done

finish
