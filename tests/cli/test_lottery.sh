#!/usr/bin/env bash
# nnprune lottery: rounds of pruning, rewinding and masked retraining against
# the random re-initialisation control; its JSON, reports and models.
# usage: test_lottery.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

gen_blobs 777 600 >train.csv
gen_blobs 778 300 >val.csv
ARGS="--layers 8,16,12,3 --optimizer sgd --lr 0.05 --epochs 3 --rounds 3 --rate 0.4 -j 1"

nnp lottery train.csv --val val.csv $ARGS -o out --json
expect_rc "lottery --json: exit 0" 0
cp "$OUT" lottery.json
expect_json "lottery --json: valid JSON" lottery.json
expect_eq "lottery --json: format" '"nnprune.lottery"' "$(json_num lottery.json format)"
expect_schema "lottery --json: valid against its schema" lottery lottery.json
expect_same "report.json is what --json printed" lottery.json out/report.json
for f in report.md report.svg round-00.bin round-01.bin round-02.bin round-03.bin; do
	check "lottery: wrote $f" test -s "out/$f"
done
check "lottery: no temporary files left" not sh -c 'ls out | grep -q tmp'
if [ $HAVE_PY = 1 ]; then
	expect_eq "lottery: rounds 0..3" "[0, 1, 2, 3]" "$(py lottery.json '[r["round"] for r in j["rounds"]]')"
	# Per layer, each round keeps W - round(0.4 W) of the W left (halves to
	# even), the output layer W - round(0.2 W): --output-rate's default is
	# half of --rate.
	expect_eq "lottery: output_rate is half the rate by default" "0.2" "$(json_num lottery.json output_rate)"
	expect_eq "lottery: remaining weights, counted independently" "True" "$(py lottery.json '(
(lambda ks: all(r["weights"] == sum(ks[r["round"]]) for r in j["rounds"]))(
  (lambda f: [f(f, [128, 192, 36], i) for i in range(4)])(
    lambda g, k, i: k if i == 0 else [a - round(p * a) for a, p in zip(g(g, k, i - 1), [0.4, 0.4, 0.2])])))')"
	expect_eq "lottery: round 0 has no control, the others do" "True" \
		"$(py lottery.json 'j["rounds"][0]["control_accuracy"] is None and all(0 <= r["control_accuracy"] <= 1 for r in j["rounds"][1:])')"
	expect_eq "lottery: dense_accuracy is round 0's" "True" \
		"$(py lottery.json 'j["dense_accuracy"] == j["rounds"][0]["accuracy"]')"
	expect_eq "lottery: every round names its file" "True" \
		"$(py lottery.json 'all(r["file"] == "out/round-%02d.bin" % r["round"] for r in j["rounds"])')"
	# Every written model, evaluated again, gives the accuracy the report says
	# and holds exactly the kept weights as nonzeros.
	for r in 0 1 2 3; do
		nnp eval --json out/round-0$r.bin val.csv
		cp "$OUT" eval$r.json
		expect_eq "lottery: round $r re-evaluated by eval" "True" \
			"$(py eval$r.json "abs(j['accuracy'] - $(py lottery.json "j['rounds'][$r]['accuracy']")) < 1e-12")"
		nnp info --json out/round-0$r.bin
		cp "$OUT" info$r.json
	done
fi
check "report.md: a table row per round" test "$(grep -c '^| [0-9]' out/report.md)" = 4
check "report.svg: an SVG" grep -q '^<svg' out/report.svg
check "report.svg: ticket and control curves" test "$(grep -c '<polyline' out/report.svg)" = 2

# The same seed and thread count: the same models, bit for bit.
nnp lottery train.csv --val val.csv $ARGS -o out2 -q
expect_rc "lottery again: exit 0" 0
for r in 0 1 2 3; do
	expect_same "lottery: round $r reproduces" out/round-0$r.bin out2/round-0$r.bin
done

# --output-rate same: the output layer loses 0.4 of its weights too.
nnp lottery train.csv --val val.csv $ARGS --rounds 2 --output-rate same --no-control -o out5 --json
expect_rc "lottery --output-rate same: exit 0" 0
cp "$OUT" same.json
expect_schema "lottery --output-rate same: valid against its schema" lottery same.json
[ $HAVE_PY = 1 ] && expect_eq "lottery --output-rate same: every layer at 0.4" "True" "$(py same.json '
j["output_rate"] is None and [r["weights"] for r in j["rounds"]] == [356, 356 - 51 - 77 - 14, 356 - 51 - 77 - 14 - 31 - 46 - 9]')"
# From --init, the control shuffles the file's own initial values.
nnp train train.csv -o init-src.bin --layers 8,16,12,3 --epochs 1 --save-init init.bin -j 1 -q
nnp lottery train.csv --val val.csv --init init.bin --optimizer sgd --lr 0.05 --epochs 2 \
	--rounds 1 -j 1 -q -o out6 --json
expect_rc "lottery --init: exit 0" 0
expect_eq "lottery --init: the control shuffles the initial values" '"shuffled"' "$(json_num "$OUT" control_init)"
expect_eq "lottery --layers: the control draws fresh weights" '"random"' "$(json_num lottery.json control_init)"

# Structured and global variants run and report their scope.
nnp lottery train.csv --val val.csv $ARGS --structured --rounds 1 -o out3 --json
expect_rc "lottery --structured: exit 0" 0
expect_eq "lottery --structured: scope" '"neurons"' "$(json_num "$OUT" scope)"
nnp lottery train.csv --val val.csv $ARGS --scope global --rewind-epoch 1 --no-control --rounds 1 -o out4 --json
expect_rc "lottery --scope global --rewind-epoch 1: exit 0" 0
cp "$OUT" global.json
expect_schema "lottery --no-control: valid against its schema" lottery global.json
[ $HAVE_PY = 1 ] && expect_eq "lottery --no-control: no control accuracy" "None" \
	"$(py global.json 'j["rounds"][1]["control_accuracy"]')"

# Usage errors: exit 2, nothing written.
nnp lottery train.csv --val val.csv $ARGS --rate 1 -o bad1
expect_rc "lottery --rate 1: exit 2" 2
expect_err "lottery --rate 1: says why" "--rate"
check "lottery --rate 1: no directory" test ! -e bad1
nnp lottery train.csv $ARGS -o bad2
expect_rc "lottery without --val: exit 2" 2
nnp lottery train.csv --val val.csv $ARGS --rewind-epoch 9 -o bad3
expect_rc "lottery --rewind-epoch past --epochs: exit 2" 2
nnp lottery train.csv --val val.csv $ARGS --structured --scope global -o bad4
expect_rc "lottery --structured --scope global: exit 2" 2
nnp lottery train.csv --val val.csv $ARGS --structured --output-rate 0.1 -o bad7
expect_rc "lottery --structured --output-rate: exit 2" 2
nnp lottery train.csv --val val.csv $ARGS --output-rate 1 -o bad8
expect_rc "lottery --output-rate 1: exit 2" 2
check "lottery --output-rate 1: no directory" test ! -e bad8
nnp lottery missing.csv --val val.csv $ARGS -o bad5
expect_rc "lottery missing data: exit 3" 3
expect_one_line_error "lottery missing data: one error line"
check "lottery missing data: no directory" test ! -e bad5
printf '1,2,3\n' >short.csv
nnp lottery train.csv --val short.csv $ARGS -o bad6
expect_rc "lottery: validation rows of the wrong width: exit 3" 3
check "lottery bad validation data: no directory" test ! -e bad6

# finetune --sparsity: magnitude pruning while fine-tuning, the pruned
# weights exactly 0 at the end: 356 weights, 70% zeroed -> 107 kept.
nnp train train.csv -o dense.bin --layers 8,16,12,3 --epochs 3 -j 1 -q
nnp finetune dense.bin train.csv --sparsity 0.7 --steps 3 --epochs 2 -j 1 -o sparse.json
expect_rc "finetune --sparsity --steps: exit 0" 0
expect_out "finetune --sparsity: the last step at the target" "step 3/3: 107 of 356 weights kept"
if [ $HAVE_PY = 1 ]; then
	expect_eq "finetune --sparsity: at most 107 nonzero weights in the file" "True" "$(py sparse.json '
sum(len(l["weights_csr"]["values"]) if "weights_csr" in l else sum(1 for r in l["weights"] for v in r if v != 0) for l in j["layers"]) <= 107')"
fi
nnp finetune dense.bin train.csv --steps 3 -o x.bin
expect_rc "finetune --steps without --sparsity: exit 2" 2
# --scope hidden: the output layer's 36 weights stay, the 71 others of the
# 107 split by size (128 and 192 of 320): 28.4 and 42.6 -> 28 and 43.
nnp finetune dense.bin train.csv --sparsity 0.7 --scope hidden --steps 2 -j 1 -q -o hid.json
expect_rc "finetune --sparsity --scope hidden: exit 0" 0
if [ $HAVE_PY = 1 ]; then
	expect_eq "finetune --scope hidden: nonzeros per layer 28, 43, 36; scope recorded" \
		"[28, 43, 36] hidden" "$(py hid.json '
" ".join([str([len(l["weights_csr"]["values"]) if "weights_csr" in l else sum(1 for r in l["weights"] for v in r if v != 0) for l in j["layers"]]), j["metadata"]["provenance"]["scope"]])')"
fi
nnp finetune dense.bin train.csv --sparsity 0.95 --scope hidden -o hid2.json
expect_rc "finetune --scope hidden above the hidden layers' share: exit 2" 2
expect_err "finetune --scope hidden too much: says why" "more than the 0.8989 of the weights outside"
check "finetune --scope hidden too much: no file" test ! -e hid2.json

finish
