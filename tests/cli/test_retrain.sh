#!/usr/bin/env bash
# End-to-end tests of the retraining options: train --save-init, --lr-schedule,
# finetune --distill T,ALPHA --teacher MODEL.
# usage: test_retrain.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_blobs_and_model

# --- train --save-init ----------------------------------------------------------------------------
nnp train blobs.csv -o t1.json $TRAIN_ARGS --save-init init1.json
expect_rc "train --save-init: exit 0" 0
check "train --save-init: initial model written" test -s init1.json
nnp train blobs.csv -o t2.json --layers 8,16,12,3 --epochs 1 --seed 1 --lr 0.5 -q --save-init init2.json
expect_same "train --save-init: the initial model depends on the seed only" init1.json init2.json
check "train --save-init: initial and trained models differ" \
	test "$(sed '/"metadata"/,$d' init1.json)" != "$(sed '/"metadata"/,$d' t1.json)"
nnp info init1.json
expect_out "train --save-init: provenance says init" '"operation":	"init"'
if need_py "train --save-init: spread and biases"; then
	# He initialisation before relu: std sqrt(2/8) = 0.5 over the first layer's 128 weights.
	check "train --save-init: first layer has He's spread" num_lt \
		"$(py init1.json 'abs((sum(v*v for r in j["layers"][0]["weights"] for v in r)/128) ** 0.5 - 0.5)')" 0.1
	check "train --save-init: biases zero" test "$(py init1.json 'sum(abs(b) for l in j["layers"] for b in l["bias"])')" = 0
fi
# The initial model carries the trained model's input preprocessing: with
# --input-scale 1/2 its weights are the unscaled run's, its scale 1/2.
nnp train blobs.csv -o t3.json $TRAIN_ARGS --input-scale 1/2 --save-init init3.json
expect_rc "train --save-init --input-scale: exit 0" 0
if need_py "train --save-init --input-scale"; then
	expect_eq "train --save-init --input-scale: W0 as without the scale" \
		"$(py init1.json 'j["layers"][0]["weights"]')" "$(py init3.json 'j["layers"][0]["weights"]')"
	expect_eq "train --save-init --input-scale: the scale recorded" 0.5 \
		"$(py init3.json 'j["metadata"]["preprocessing"]["scale"]')"
	expect_eq "train --save-init --input-scale: the trained model's scale" 0.5 \
		"$(py t3.json 'j["metadata"]["preprocessing"]["scale"]')"
fi
nnp train blobs.csv -o same.bin $TRAIN_ARGS --save-init same.bin
expect_rc "train --save-init = -o: exit 2" 2
nnp train blobs.csv -o never.bin $TRAIN_ARGS --save-init blobs.csv
expect_rc "train --save-init DATA: exit 4" 4
check "train --save-init refused: nothing written" test ! -e never.bin

# --- --lr-schedule ----------------------------------------------------------------------------------
nnp train blobs.csv -o cos.bin $TRAIN_ARGS --lr-schedule cosine
expect_rc "train --lr-schedule cosine: exit 0" 0
nnp info cos.bin
expect_out "train --lr-schedule cosine: recorded" '"lr_schedule":	"cosine"'
nnp eval --json cos.bin blobs.csv
check "train --lr-schedule cosine: accuracy >= 90%" num_le 0.9 "$(json_num "$OUT" accuracy)"
nnp train blobs.csv -o const.bin $TRAIN_ARGS --lr-schedule constant -j 1
nnp train blobs.csv -o plain.bin $TRAIN_ARGS -j 1
expect_same "train --lr-schedule constant: the default" const.bin plain.bin
nnp train blobs.csv -o never.bin $TRAIN_ARGS --lr-schedule linear
expect_rc "train --lr-schedule linear: exit 2" 2

# --- finetune --distill ----------------------------------------------------------------------------------
nnp finetune model.bin blobs.csv -o dist.bin --epochs 2 --distill 2,0.5 --teacher model.bin -q
expect_rc "finetune --distill: exit 0" 0
nnp info dist.bin
expect_out "finetune --distill: teacher recorded" '"teacher":	"model.bin"'
expect_out "finetune --distill: T recorded" '"distill_t":	2'
expect_out "finetune --distill: alpha recorded" '"distill_alpha":	0.5'
nnp eval --json dist.bin blobs.csv
check "finetune --distill: accuracy >= 90%" num_le 0.9 "$(json_num "$OUT" accuracy)"
for args in "--distill 2" "--distill 0,0.5" "--distill -1,0.5" "--distill 2,1.5" "--distill 2,-0.1" \
	"--distill 2,x" "--distill 2x,0.5" "--distill 2,0.5,1" "--distill ,0.5" "--distill 2," \
	"--distill nan,0.5" "--distill 2,0.5" "--teacher model.bin"; do
	teacher=--teacher
	case "$args" in *teacher* | "--distill 2,0.5") teacher= ;; esac
	nnp finetune model.bin blobs.csv -o never.bin $args ${teacher:+$teacher model.bin} -q
	expect_rc "finetune $args ${teacher:+--teacher}: exit 2" 2
	check "finetune $args: reason first" grep -q '^nnprune: finetune: ' "$ERR"
done
nnp finetune model.bin blobs.csv -o never.bin --distill 2,0.5 --teacher missing.bin -q
expect_rc "finetune --teacher missing: exit 3" 3
expect_err "finetune --teacher missing: names it" "missing.bin"
nnp train blobs.csv -o four.bin --layers 8,6,4 --epochs 1 -q
nnp finetune model.bin blobs.csv -o never.bin --distill 2,0.5 --teacher four.bin -q
expect_rc "finetune --teacher with other outputs: exit 3" 3
expect_err "finetune --teacher with other outputs: says so" "gives 4 outputs"
nnp finetune model.bin blobs.csv -o blobs.csv --distill 2,0.5 --teacher model.bin -q
expect_rc "finetune -o DATA with a teacher: exit 4" 4
check "finetune --distill: failures wrote nothing" test ! -e never.bin

finish
