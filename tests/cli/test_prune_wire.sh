#!/usr/bin/env bash
# End-to-end tests of the other pruning families through prune and sweep:
# --method taylor with labelled calibration rows, --method magnitude with
# --sparsity (sparse files re-evaluated by eval, nonzeros counted from the
# JSON model), and prune --iterative with each stop condition.
# usage: test_prune_wire.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_wide_model stats
cut -d, -f2- calib.csv >nolab.csv

# --- taylor: labelled calibration rows --------------------------------------------------------
nnp prune model.bin --calib calib.csv --method taylor --keep 0.5 -o t1.bin -j 1 -q
expect_rc "taylor: labelled CSV calibration accepted" 0
nnp prune model.bin --calib calib.csv --method taylor --keep 0.5 -o t2.bin -j 2 -q \
	--mem-limit 0
expect_rc "taylor: streamed calibration accepted" 0
check "taylor: streamed = in memory, -j 1 = -j 2" cmp -s t1.bin t2.bin
rescore t1.bin blobs.csv
expect_eq "taylor: half of every hidden layer kept" 16-8 "$INFO_HIDDEN"
nnp prune model.bin --calib nolab.csv --no-label --method taylor --keep 0.5 -o t3.bin
expect_rc "taylor without labels: refused" 3
expect_err "taylor without labels: says --calib-labels" "needs them"
expect_err "taylor without labels: names --calib-labels" "--calib-labels FILE"
check "taylor without labels: nothing written" not test -e t3.bin
nnp prune model.bin --calib nolab.csv --no-label --method taylor --keep 0.5 -o t3.bin \
	--mem-limit 0
expect_rc "taylor without labels, streamed: refused" 3
expect_err "taylor without labels, streamed: names --calib-labels" "--calib-labels FILE"
nnp prune model.bin --calib nolab.csv --no-label --method l2 --keep 0.5 -o l2.bin -q
expect_rc "l2 without labels: fine" 0
nnp sweep -q --method taylor --keep 0.5 --calib calib.csv -o swt
expect_rc "sweep --method taylor --calib labelled CSV" 0
nnp sweep -q --method taylor --keep 0.5 -o swt2
expect_rc "sweep --method taylor on the evaluation data (labelled)" 0

# --- magnitude: sparse candidates ------------------------------------------------------------
# nonzero weights of a model, counted in its JSON form (dense or CSR layers)
nonzeros_of() {
	nnp convert "$1" nz.json
	pyrun -c '
import json, sys
j = json.load(open(sys.argv[1]))
n = 0
for L in j["layers"]:
    if "weights_csr" in L:
        n += sum(1 for v in L["weights_csr"]["values"] if v != 0)
    else:
        n += sum(1 for row in L["weights"] for v in row if v != 0)
print(n)' nz.json
}
nnp prune model.bin --method magnitude --sparsity 0.9 -o m9.bin -j 1
expect_rc "prune --method magnitude: no --calib needed" 0
expect_out "prune magnitude: says the nonzeros" "1072 -> 107 nonzero weights"
nnp prune model.bin --method magnitude --sparsity 0.9 -o m9b.bin -j 2 -q
check "prune magnitude: -j 1 = -j 2" cmp -s m9.bin m9b.bin
nnp sweep -q --method magnitude --sparsity 0.5,0.9 --scope global -o smg -j 1
expect_rc "sweep --method magnitude --scope global" 0
nnp sweep -q --method magnitude --sparsity 0.5,0.9 -o sml -j 2
expect_rc "sweep --method magnitude" 0
nnp sweep -q --method magnitude --sparsity 0.5,0.9 -o sm1 -j 1
check "sweep magnitude: -j 1 = -j 2 (models)" cmp -s sml/model-magnitude-s0.9.bin \
	sm1/model-magnitude-s0.9.bin
check "sweep magnitude: the same model as prune" cmp -s <(nnp info --json m9.bin; \
	json_num "$OUT" macs) <(nnp info --json sml/model-magnitude-s0.9.bin; json_num "$OUT" macs)
check "report.md: magnitude calibrates on nothing" \
	grep -q "^- calibration: none (the weights' magnitudes alone choose)" sml/report.md
check "sweep magnitude: named by share and scope" test -s smg/model-magnitude-g0.9.bin
if need_py "magnitude: report figures against the written files"; then
	for d in sml smg; do
		for k in 0 1; do
			f=$(py $d/report.json 'j["candidates"]['$k']["file"]')
			acc=$(py $d/report.json 'j["candidates"]['$k']["accuracy"]')
			nz=$(py $d/report.json 'j["candidates"]['$k']["nonzeros"]')
			fb=$(py $d/report.json 'j["candidates"]['$k']["file_bytes"]')
			rescore "$f" blobs.csv
			check "$d $k: eval of the sparse file = the report's accuracy" \
				pyrun -c "import sys; sys.exit(abs(float('$acc') - float('$EV_ACC')) > 1e-9)"
			expect_eq "$d $k: nonzeros = a count of the JSON model" "$nz" "$(nonzeros_of "$f")"
			expect_eq "$d $k: file_bytes = the real size" "$fb" "$(wc -c <"$f" | tr -d ' ')"
		done
	done
	expect_eq "magnitude 0.5 per layer: half the weights of every layer" 536 \
		"$(py sml/report.json 'j["candidates"][0]["nonzeros"]')"
	expect_eq "prune magnitude 0.9: nonzeros counted" 107 "$(nonzeros_of m9.bin)"
	expect_eq "provenance: sparsity and scope" "0.9 global" \
		"$(nnp convert smg/model-magnitude-g0.9.bin p.json; py p.json \
		'"%g %s" % (j["metadata"]["provenance"]["budget"]["sparsity"], j["metadata"]["provenance"]["budget"]["scope"])')"
fi
# sweep --finetune keeps a sparse candidate sparse (masked training)
nnp sweep -q --method magnitude --sparsity 0.8 -o smf --finetune blobs.csv -j 2
expect_rc "sweep magnitude --finetune" 0
if need_py "magnitude --finetune: the fine-tuned model keeps its zeros"; then
	f=$(py smf/report.json 'j["candidates"][0]["file"]')
	ft=$(py smf/report.json 'j["candidates"][0].get("ft_file") or ""')
	[ -n "$ft" ] || ft=$(ls smf/*-ft1.bin | grep -v '^smf/model-ft1.bin$' | head -1)
	expect_eq "fine-tuned sparse model: the same nonzeros" "$(nonzeros_of "$f")" \
		"$(nonzeros_of "$ft")"
	check "fine-tuned sparse model: weights changed" not cmp -s "$f" "$ft"
fi
expect_usage "magnitude needs --sparsity" "needs --sparsity" prune model.bin --method magnitude -o x.bin
expect_usage "magnitude refuses --keep" "not a neuron budget" \
	prune model.bin --method magnitude --sparsity 0.5 --keep 0.5 -o x.bin
expect_usage "prune takes one --sparsity" "this command takes 1" \
	prune model.bin --method magnitude --sparsity 0.5,0.6 -o x.bin
expect_usage "--sparsity belongs to magnitude" "belong to --method magnitude" \
	prune model.bin --calib calib.csv --method l2 --sparsity 0.5 -o x.bin
expect_usage "magnitude refuses --compensate fold" "removes no neuron" \
	sweep --method magnitude --sparsity 0.5 --compensate fold -o x
expect_usage "--scope: layer, global or hidden" "is not layer, global or hidden" \
	sweep --method magnitude --sparsity 0.5 --scope all -o x

# --- prune --iterative: each stop condition ---------------------------------------------------
# params of trace line for step $2 of CSV $1 (step 0 = the given model)
trace_params() { awk -F, -v s="$2" 'NR > 1 && $1 == s { print $2 }' "$1"; }
last_step() { awk -F, 'NR > 1 { s = $1 } END { print s }' "$1"; }
nnp prune model.bin --calib calib.csv --method l2 --iterative --step 10% --until-drop 2 \
	-o id.bin -j 1
expect_rc "iterative --until-drop: exit 0" 0
expect_out "iterative --until-drop: stop reason printed" "stopped (drop)"
check "iterative: trace CSV written beside OUT" test -s id.bin.trace.csv
check "iterative: trace plot written" grep -q '<path class="trace"' id.bin.trace.svg
expect_eq "iterative: trace header" "step,params,accuracy,neurons_0,neurons_1" \
	"$(head -1 id.bin.trace.csv)"
rescore id.bin blobs.csv
ls=$(last_step id.bin.trace.csv)
expect_eq "until-drop: the model written is the one before the last step" \
	"$(trace_params id.bin.trace.csv $((ls - 1)))" "$INFO_PARAMS"
# the last step broke the budget: its accuracy is more than 2 points below step 0's
check "until-drop: the last step fell more than 2 points" awk -F, -v s="$ls" \
	'NR == 2 { a0 = $3 } NR > 1 && $1 == s { a = $3 } END { exit !(100 * (a0 - a) > 2) }' \
	id.bin.trace.csv
# and every kept step stayed within it
check "until-drop: every step before stayed within 2 points" awk -F, -v s="$ls" \
	'NR == 2 { a0 = $3 } NR > 1 && $1 < s && 100 * (a0 - $3) > 2 + 1e-9 { bad = 1 } END { exit bad }' \
	id.bin.trace.csv
nnp prune model.bin --calib calib.csv --method l2 --iterative --step 10% --until-drop 2 \
	-o id2.bin -j 2 -q --trace id2.csv
check "iterative: -j 1 = -j 2 (model)" cmp -s id.bin id2.bin
check "iterative: -j 1 = -j 2 (trace)" cmp -s id.bin.trace.csv id2.csv
check "--trace FILE: its plot beside it" test -s id2.svg

nnp prune model.bin --calib calib.csv --method obs --iterative --step 4 --target-params 50% \
	-o ip.bin --trace ip.csv
expect_rc "iterative --target-params: exit 0" 0
expect_out "iterative --target-params: stop reason printed" "stopped (target)"
rescore ip.bin blobs.csv
expect_eq "target: the trace's last line is the model written" \
	"$(trace_params ip.csv "$(last_step ip.csv)")" "$INFO_PARAMS"
check "target: at most half the parameters" test "$INFO_PARAMS" -le 561
check "target: the step before was above it" test \
	"$(trace_params ip.csv $(($(last_step ip.csv) - 1)))" -gt 561

nnp prune model.bin --calib calib.csv --method taylor --iterative --step 8 --min-neurons 4 \
	-o im.bin
expect_rc "iterative --min-neurons (taylor): exit 0" 0
expect_out "iterative --min-neurons: stop reason printed" "stopped (min-neurons)"
rescore im.bin blobs.csv
expect_eq "min-neurons: 4 neurons left in every hidden layer" 4-4 "$INFO_HIDDEN"
expect_eq "min-neurons: the trace's last line is the model written" \
	"$(trace_params im.bin.trace.csv "$(last_step im.bin.trace.csv)")" "$INFO_PARAMS"
if need_py "iterative: the provenance records the stop"; then
	nnp convert im.bin im.json
	expect_eq "provenance: iterative stop and steps" "min-neurons $(last_step im.bin.trace.csv)" \
		"$(py im.json '"%s %d" % (j["metadata"]["provenance"]["iterative"]["stop"], j["metadata"]["provenance"]["iterative"]["steps"])')"
	expect_eq "provenance: held-out rows (10% of 300)" 30 \
		"$(py im.json 'j["metadata"]["provenance"]["iterative"]["held_out_rows"]')"
fi
# --eval DATA: its rows judge every step (step 0 = the original on DATA) and
# every calibration row calibrates
gen_blobs 777 200 16 3 >held.csv
nnp prune model.bin --calib calib.csv --method l2 --iterative --step 10% --until-drop 2 \
	--eval held.csv -o ie.bin -j 1 -q
expect_rc "iterative --eval: exit 0" 0
rescore model.bin held.csv
check "iterative --eval: step 0's accuracy is the original's on DATA (nnprune eval)" \
	awk -F, -v e="$EV_ACC" 'NR == 2 { d = $3 - e; exit !(d < 1e-9 && d > -1e-9) }' ie.bin.trace.csv
if need_py "iterative --eval: the provenance counts DATA's rows as held out"; then
	nnp convert ie.bin ie.json
	expect_eq "iterative --eval: held-out rows = DATA's 200" 200 \
		"$(py ie.json 'j["metadata"]["provenance"]["iterative"]["held_out_rows"]')"
fi
expect_usage "iterative: --holdout does not go with --eval" "DATA's" \
	prune model.bin --calib calib.csv --method l2 --iterative --eval held.csv --holdout 5% -o x.bin
nnp prune model.bin --calib nolab.csv --no-label --method l2 --iterative --until-drop 1 -o x.bin
expect_rc "iterative --until-drop without labels: refused" 2
expect_err "iterative --until-drop without labels: says why" "held-out"
nnp prune model.bin --calib nolab.csv --no-label --method taylor --iterative -o x.bin
expect_rc "iterative taylor without labels: refused" 3
check "refused runs wrote nothing" not test -e x.bin
expect_usage "--step goes with --iterative" "goes with --iterative" \
	prune model.bin --calib calib.csv --method l2 --keep 0.5 --step 2 -o x.bin
expect_usage "--iterative needs a ranking method" "does not rank neurons" \
	prune model.bin --calib calib.csv --method rule --iterative -o x.bin
expect_usage "--iterative takes no --keep" "not a budget" \
	prune model.bin --calib calib.csv --method l2 --iterative --keep 0.5 -o x.bin
expect_usage "--holdout: at most 90%" "out of range" \
	prune model.bin --calib calib.csv --method l2 --iterative --holdout 95% -o x.bin

finish
