#!/usr/bin/env bash
# prune --iterative: --finetune-every K (the fine-tuning at steps K and 2K
# replayed with `nnprune finetune` gives the same weights), its option
# checks, and the trace drawn as a line in the report plot.
# usage: test_prune_iter.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_wide_model stats

# The weights and biases of a model (its JSON layers), to compare two models
# whatever their provenance.
layers_of() {
	nnp convert "$1" lw.json
	pyrun -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["layers"]))' lw.json
}
ITER="--calib calib.csv --method l2 --iterative --step 2"
FT="--finetune blobs.csv --finetune-every 2"

# --- --finetune-every K ------------------------------------------------------------------------
nnp prune model.bin $ITER --min-neurons 8 $FT -o f.bin -j 2
expect_rc "--finetune-every 2: exit 0" 0
expect_out "--finetune-every 2: says how often" "fine-tuned 8 times (every 2 steps)"
expect_eq "trace: a finetuned column" "step,params,accuracy,neurons_0,neurons_1,finetuned" \
	"$(head -1 f.bin.trace.csv)"
expect_eq "trace: fine-tuned at steps 2, 4, ..., 16" "2 4 6 8 10 12 14 16" \
	"$(awk -F, 'NR > 1 && $6 == 1 { printf "%s%s", s, $1; s = " " }' f.bin.trace.csv)"
nnp prune model.bin $ITER --min-neurons 8 $FT -o f1.bin -j 1 -q
check "--finetune-every: -j 1 = -j 2" cmp -s f.bin f1.bin
nnp prune model.bin $ITER --min-neurons 8 -o n.bin -j 2 -q
check "--finetune-every: weights differ from the run without it" not cmp -s f.bin n.bin
check "without --finetune-every: no finetuned column" \
	test "$(head -1 n.bin.trace.csv)" = "step,params,accuracy,neurons_0,neurons_1"
if need_py "--finetune-every: steps K and 2K replayed with nnprune finetune"; then
	# Step 2 (K): the loop stopped there by its target, with and without the
	# fine-tuning; `finetune` (the same recipe, one thread) of the one without
	# gives the one with, bit for bit.
	p2=$(awk -F, '$1 == 2 { print $2 }' f.bin.trace.csv)
	p4=$(awk -F, '$1 == 4 { print $2 }' f.bin.trace.csv)
	nnp prune model.bin $ITER --target-params "$p2" $FT -o k.bin -q
	nnp prune model.bin $ITER --target-params "$p2" -o k0.bin -q
	nnp finetune k0.bin blobs.csv -o k0f.bin -q -j 1
	expect_eq "step K: the loop's model = nnprune finetune of the unfine-tuned one" \
		"$(layers_of k0f.bin)" "$(layers_of k.bin)"
	check "step K: fine-tuning changed the weights" \
		test "$(layers_of k0.bin)" != "$(layers_of k.bin)"
	# Step 2K: two more steps from the fine-tuned step K model, then finetune.
	nnp prune model.bin $ITER --target-params "$p4" $FT -o k2.bin -q
	nnp prune k.bin $ITER --target-params "$p4" -o k20.bin -q
	nnp finetune k20.bin blobs.csv -o k20f.bin -q -j 1
	expect_eq "step 2K: the loop's model = two steps from step K, then nnprune finetune" \
		"$(layers_of k20f.bin)" "$(layers_of k2.bin)"
	nnp convert f.bin f.json
	expect_eq "provenance: the fine-tuning recipe and how many times" \
		"2 8 blobs.csv 1 adam 0.001 cosine 0" \
		"$(py f.json '" ".join(str(v) for v in j["metadata"]["provenance"]["iterative"]["finetune"].values())')"
fi
expect_usage "--finetune-every needs --finetune" "--finetune-every K needs --finetune DATA" \
	prune model.bin $ITER --finetune-every 2 -o x.bin
expect_usage "--finetune with --iterative needs --finetune-every" \
	"--finetune with --iterative needs --finetune-every K" \
	prune model.bin $ITER --finetune blobs.csv -o x.bin
expect_usage "--finetune-every goes with --iterative" "--finetune-every goes with --iterative" \
	prune model.bin --calib calib.csv --method l2 --keep 0.5 $FT -o x.bin
expect_usage "--finetune-every: not 0" "--finetune-every: 0 is out of range" \
	prune model.bin $ITER --finetune blobs.csv --finetune-every 0 -o x.bin
expect_usage "--finetune-epochs without --finetune" "--finetune-epochs needs --finetune" \
	prune model.bin $ITER --finetune-epochs 2 -o x.bin
expect_usage "no gradual schedule with --iterative" "--schedule gradual does not go with" \
	prune model.bin $ITER $FT --schedule gradual -o x.bin
nnp prune model.bin $ITER --finetune missing.csv --finetune-every 2 -o x.bin
expect_rc "--finetune DATA missing: exit 3" 3
expect_err "--finetune DATA missing: names it" "missing.csv"
check "--finetune DATA missing: nothing written" not test -e x.bin
check "--finetune DATA missing: no trace written" not test -e x.bin.trace.csv
# --- the trace as a line in the report plot -------------------------------------------------------
gen_blobs 99 600 16 3 >ev.csv
nnp prune model.bin $ITER --until-drop 3 --eval ev.csv $FT -o e.bin -j 2
expect_rc "--until-drop on --eval DATA, fine-tuned: exit 0" 0
expect_out "the plot named" "trace e.bin.trace.csv and its plot e.bin.trace.svg"
check "the plot is the report plot" grep -q "Accuracy against size:" e.bin.trace.svg
check "the plot: the held-out rows named" grep -q "data ev.csv, 600 rows" e.bin.trace.svg
check "the plot: the trace's legend entry" grep -q ">iterative + ft, stop: drop</text>" \
	e.bin.trace.svg
check "the plot: the model written is the candidate" grep -q "<title>#0: widths: " \
	e.bin.trace.svg
# Every step of the CSV is a point of the line (both panels), its tooltip
# giving the CSV's figures; the fine-tuned ones hollow.
awk -F, 'NR > 1 { printf "step %d: %d params, accuracy %.2f%%%s\n", $1, $2, 100 * $3,
	$6 == 1 ? ", fine-tuned" : "" }' e.bin.trace.csv >want.txt
sed -n 's/.*<circle class="trace"[^>]*><title>\([^<]*\)<\/title>.*/\1/p' e.bin.trace.svg |
	head -n "$(wc -l <want.txt)" >got.txt
expect_same "the plot: one point per step, the CSV's figures" want.txt got.txt
expect_eq "the plot: the line through every step, in both panels" \
	"$(( 2 * ($(wc -l <want.txt) - 1) ))" "$(grep '<path class="trace"' e.bin.trace.svg |
	grep -o ' L ' | wc -l | tr -d ' ')"
check "the plot: fine-tuned steps drawn hollow" \
	grep -q 'fill="#ffffff" stroke="#17becf" stroke-width="1.2"><title>step 2:' e.bin.trace.svg
nnp prune model.bin $ITER --until-drop 3 --eval ev.csv $FT -o e1.bin -j 1 -q
check "the plot: the same bytes for -j 1 and -j 2" cmp -s e.bin.trace.svg e1.bin.trace.svg
# Without held-out rows there is no accuracy to plot: the CSV alone.
nnp prune model.bin $ITER --holdout 0 --min-neurons 12 -o h.bin
expect_rc "--holdout 0: exit 0" 0
expect_out "--holdout 0: says there is no plot" "(no plot: no held-out rows)"
check "--holdout 0: the trace CSV" test -s h.bin.trace.csv
check "--holdout 0: no plot" not test -e h.bin.trace.svg
finish
