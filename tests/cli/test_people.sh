#!/usr/bin/env bash
# Help for people: the label column found by its header name (label, target,
# class or y) and said on stderr; a label column that cannot be found is an
# error; hints for a tab-separated file, labels counted from 1 and weights
# written [in][out].
# usage: test_people.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_blobs_and_model
# The same rows with the label last, in the middle, and with header names.
awk -F, -v OFS=, '{ l = $1; for (i = 1; i < NF; i++) $i = $(i + 1); $NF = l; print }' blobs.csv >last.csv
{ echo "f1,f2,f3,f4,f5,f6,f7,f8,label"; cat last.csv; } >named-last.csv
{ echo "f1,f2,f3,f4,Target,f5,f6,f7,f8"; awk -F, -v OFS=, '{ print $2,$3,$4,$5,$1,$6,$7,$8,$9 }' blobs.csv; } >named-mid.csv
{ echo "label,x1,x2,x3,x4,x5,x6,x7,x8"; cat blobs.csv; } >named-first.csv

nnp eval --json model.bin blobs.csv
want=$(json_num "$OUT" accuracy)
nnp eval --json model.bin last.csv --label-col last
expect_eq "label last by option: same accuracy" "$want" "$(json_num "$OUT" accuracy)"

nnp eval --json model.bin named-last.csv
expect_rc "header 'label' last: exit 0" 0
expect_eq "header 'label' last: taken as the label (same accuracy)" "$want" "$(json_num "$OUT" accuracy)"
expect_err "header 'label' last: said on stderr" "named-last.csv: the label is column 8, named 'label'"
nnp stats model.bin named-mid.csv -o mid.stats.json
expect_rc "header 'Target' in the middle: exit 0" 0
expect_err "header 'Target': said on stderr" "the label is column 4, named 'Target'"
check "header 'Target': the statistics file names the column" \
	grep -q '"label": "name", "label_name": "Target"' mid.stats.json
nnp stats -q model.bin named-mid.csv -o mid2.stats.json
check "-q: nothing said" test ! -s "$ERR"
nnp stats --json model.bin blobs.csv -o plain.stats.json
expect_eq "header 'Target': the same accuracy as label-first data" "$(json_num "$OUT" accuracy)" \
	"$(awk -v a="$(sed -n 's/.*"metrics": {"accuracy": \([^,]*\),.*/\1/p' mid.stats.json)" 'BEGIN { printf "%.15g", a }')"
nnp eval model.bin named-first.csv
expect_rc "header 'label' first: exit 0" 0
check "header 'label' first: nothing to say" test ! -s "$ERR"
nnp eval model.bin named-last.csv --label-col label
check "--label-col given: nothing said" test ! -s "$ERR"

# A label column that cannot be found is an error, not a guess.
{ echo "a,b,c,d,e,f,g,h,i"; cat blobs.csv; } >anon.csv
nnp eval model.bin anon.csv
expect_rc "header without a label name: exit 3" 3
expect_one_line_error "header without a label name: one error line"
expect_err "header without a label name: says what to do" "anon.csv:1:1: no header column is named label, target, class or y"
nnp eval --json model.bin anon.csv --label-col first
expect_eq "... --label-col first reads it" "$want" "$(json_num "$OUT" accuracy)"
{ echo "class,a,b,c,d,e,f,g,y"; cat blobs.csv; } >two.csv
nnp eval model.bin two.csv
expect_rc "two label-like columns: exit 3" 3
expect_err "two label-like columns: names both" "columns 0 and 8 of the header could both be the label"
nnp eval model.bin named-last.csv --label-col nosuch
expect_rc "--label-col NAME not in the header: exit 3" 3
expect_err "--label-col NAME not in the header: says so" "no column named 'nosuch'"

# Hints.
tr ',' '\t' <blobs.csv >tabs.csv
nnp eval model.bin tabs.csv
expect_rc "tab-separated: exit 3" 3
expect_err "tab-separated: hint" "(the file looks tab-separated: --delimiter tab)"
{ echo "label	a	b	c	d	e	f	g	h"; tr ',' '\t' <blobs.csv; } >tabs-header.csv
nnp eval model.bin tabs-header.csv
expect_err "tab-separated with a header: hint" "--delimiter tab"
nnp eval --json model.bin tabs.csv --delimiter tab
expect_eq "--delimiter tab reads it" "$want" "$(json_num "$OUT" accuracy)"
awk -F, -v OFS=, '{ $1 = $1 + 1; print }' blobs.csv >one-based.csv
nnp eval model.bin one-based.csv
expect_rc "labels from 1: exit 3" 3
expect_err "labels from 1: hint" "label 3 is outside the model's 3 outputs (labels run from 0 to 2; if the file counts classes from 1, subtract 1)"

# Weights written [in][out] (Keras, emlearn): the layer's rows are its inputs.
nnp convert model.bin m.json
if [ $HAVE_PY = 1 ]; then
	pyrun -c '
import json, sys
m = json.load(open("m.json"))
L = m["layers"][0]
L["weights"] = [list(r) for r in zip(*L["weights"])]
json.dump(m, open("t.json", "w"))
'
	nnp info t.json
	expect_rc "[in][out] weights: exit 3" 3
	expect_err "[in][out] weights: hint" "(the weights look like [in][out]: nnprune takes [out][in], one row per output neuron; transpose them)"
else
	skip "[in][out] weights" "python3 is not installed"
fi

# eval rejects --no-label and so does not offer it.
nnp eval --no-label model.bin blobs.csv
expect_rc "eval --no-label: exit 2" 2

finish
