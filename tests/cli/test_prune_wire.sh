#!/usr/bin/env bash
# End-to-end tests of the other pruning families through prune and sweep:
# --method taylor with labelled calibration rows, --method magnitude with
# --sparsity (sparse files re-evaluated by eval, nonzeros counted from the
# JSON model), and prune --iterative with each stop condition.
# usage: test_prune_wire.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

gen_blobs 4242 600 16 3 >blobs.csv
gen_blobs 777 300 16 3 >calib.csv
cut -d, -f2- calib.csv >nolab.csv
nnp train blobs.csv -o model.bin --layers 16,32,16,3 --epochs 5 --seed 1 --lr 0.01 --batch 16 \
	-j 1 -q
nnp stats -q model.bin blobs.csv
if [ "$RC" != 0 ]; then
	bad "setup: train and stats" "$(last_run)"
	finish
fi

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
expect_usage "magnitude needs --sparsity" "needs --sparsity" prune model.bin --method magnitude -o x.bin
expect_usage "magnitude refuses --keep" "not a neuron budget" \
	prune model.bin --method magnitude --sparsity 0.5 --keep 0.5 -o x.bin
expect_usage "prune takes one --sparsity" "this command takes 1" \
	prune model.bin --method magnitude --sparsity 0.5,0.6 -o x.bin
expect_usage "--sparsity belongs to magnitude" "belong to --method magnitude" \
	prune model.bin --calib calib.csv --method l2 --sparsity 0.5 -o x.bin
expect_usage "magnitude refuses --compensate ls" "nothing to compensate" \
	sweep --method magnitude --sparsity 0.5 --compensate ls -o x
expect_usage "--scope: layer or global" "is not layer or global" \
	sweep --method magnitude --sparsity 0.5 --scope all -o x

finish
