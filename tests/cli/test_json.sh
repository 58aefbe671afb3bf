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
	expect_eq "$1: first key is format" "\"format\":	\"nnprune.$1\"," "$(sed -n 2p "$2" | tr -d '\t' | sed 's/:/:\t/')"
	expect_eq "$1: second key is version" "1" "$(json_num "$2" version)"
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
# Each schema file names its format and version as the output does.
for s in "$SRC"/schema/nnprune.*.v*.json; do
	b=$(basename "$s" .json)
	check "schema $b: its \$id is its file name" grep -q "\"\$id\": \"$b\"" "$s"
done

finish
