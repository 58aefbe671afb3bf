#!/usr/bin/env bash
# End-to-end tests of 'nnprune train' and 'nnprune finetune' on generated blobs.
# usage: test_train.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

gen_blobs 12345 600 >blobs.csv
gen_blobs 999 300 >val.csv
data_sum=$(cksum <blobs.csv)

# --- a model that works ---------------------------------------------------------------------
nnp train blobs.csv -o model.bin $TRAIN_ARGS
expect_rc "train: exit 0" 0
check "train: model written" test -s model.bin
check "train -q: stdout empty" test ! -s "$OUT"
check "train: stderr empty" test ! -s "$ERR"
expect_eq "train: no temporary file left" "" "$(ls -A | grep '\.tmp\.')"
nnp eval --json model.bin blobs.csv
check "train: accuracy >= 90% on the blobs" num_le 0.9 "$(json_num "$OUT" accuracy)"
nnp eval --json model.bin val.csv
check "train: accuracy >= 85% on held-out blobs" num_le 0.85 "$(json_num "$OUT" accuracy)"
nnp info --json model.bin
cp "$OUT" info.json
expect_out "train: provenance operation" '"operation":	"train"'
expect_out "train: provenance layers" '"layers":	"8,16,12,3"'
expect_out "train: provenance seed" '"seed":	1'
expect_out "train: provenance data" '"data":	"blobs.csv"'
if need_py "train: layer sizes"; then
	expect_eq "train: layer sizes" "[[8, 16, \"relu\"], [16, 12, \"relu\"], [12, 3, \"softmax\"]]" \
		"$(py info.json '[[l["in"], l["out"], l["activation"]] for l in j["layers"]]')"
fi

# Without -q: one line per epoch, then where the model went.
nnp train blobs.csv -o verbose.bin --layers 8,16,12,3 --epochs 5 --seed 1 --lr 0.01 --batch 16
expect_rc "train (verbose): exit 0" 0
expect_eq "train: one line per epoch" 5 "$(grep -c '^epoch [1-5]/5: loss ' "$OUT")"
expect_out "train: final line" "model written to verbose.bin (387 parameters"
expect_same "train -q or not: same model" model.bin verbose.bin

# --- determinism ------------------------------------------------------------------------------------
for j in 1 2; do
	nnp train blobs.csv -o a$j.bin $TRAIN_ARGS -j $j
	nnp train blobs.csv -o b$j.bin $TRAIN_ARGS -j $j
	expect_same "train -j $j twice: identical models" a$j.bin b$j.bin
done
nnp train blobs.csv -o s2.bin $TRAIN_ARGS --seed 2 -j 1
check "train: another seed gives another model" test "$(cksum <s2.bin)" != "$(cksum <a1.bin)"
# The format follows the extension; the content is the same model.
nnp train blobs.csv -o a1.json $TRAIN_ARGS -j 1
expect_rc "train -o x.json: exit 0" 0
nnp info a1.json
expect_out "train -o x.json: a JSON model" "nnprune JSON model"
nnp convert a1.json a1-conv.bin
expect_same "train -o x.json = the binary model converted" a1.bin a1-conv.bin

# --- --val and other options ----------------------------------------------------------------------------
nnp train blobs.csv -o val.bin $TRAIN_ARGS --val val.csv
expect_rc "train --val: exit 0" 0
nnp train blobs.csv -o val.bin --layers 8,16,12,3 --epochs 5 --seed 1 --lr 0.01 --batch 16 --val val.csv
expect_eq "train --val: every epoch reports validation" 5 "$(grep -c 'val loss [0-9.]*, val accuracy [0-9.]*%' "$OUT")"
cp "$OUT" val-train.txt
nnp info --json val.bin
cp "$OUT" vinfo.json
expect_out "train --val: provenance names the validation data" '"val_data":	"val.csv"'
if need_py "train --val: recorded accuracy"; then
	nnp eval --json val.bin val.csv
	expect_eq "train --val: recorded val accuracy = eval on val.csv" \
		"$(py "$OUT" 'round(j["accuracy"] * 300)')" "$(py vinfo.json 'round(j["provenance"]["val_accuracy"] * 300)')"
	expect_eq "train --val: last epoch line = eval on val.csv" \
		"val accuracy $(py "$OUT" '"%.2f" % (100 * j["accuracy"])')%" \
		"$(grep '^epoch 5/5' val-train.txt | grep -o 'val accuracy [0-9.]*%')"
fi
nnp train blobs.csv -o val.bin $TRAIN_ARGS --val missing.csv
expect_rc "train --val missing: exit 3" 3
gen_blobs 5 30 5 >five.csv
nnp train blobs.csv -o val.bin $TRAIN_ARGS --val five.csv
expect_rc "train --val with other features: exit 3" 3
expect_err "train --val with other features: names the file" "five.csv"

nnp train blobs.csv -o named.bin $TRAIN_ARGS --name blobs --classes a,b,c
expect_rc "train --name --classes: exit 0" 0
nnp info named.bin
expect_out "train --name: in info" "name: blobs"
expect_out "train --classes: in info" "classes: a, b, c"
# The optimizers' steps are checked against the update rules in the unit
# tests; here the command's options reach them and the models are good.
nnp train blobs.csv -o sgd.bin --layers 8,16,3 --epochs 3 --seed 1 --batch 16 -q -j 1 --optimizer sgd
expect_rc "train --optimizer sgd: exit 0" 0
nnp info sgd.bin
expect_out "train --optimizer sgd: recorded" '"optimizer":	"sgd"'
nnp eval --json sgd.bin blobs.csv
check "train --optimizer sgd: accuracy >= 90% (blobs, 3 epochs)" num_le 0.9 "$(json_num "$OUT" accuracy)"
nnp train blobs.csv -o sgd0.bin --layers 8,16,3 --epochs 3 --seed 1 --batch 16 -q -j 1 --optimizer sgd \
	--momentum 0
expect_rc "train --momentum 0: exit 0" 0
check "train --momentum 0: another model than momentum 0.9" not cmp -s sgd.bin sgd0.bin
nnp eval --json sgd0.bin blobs.csv
check "train --momentum 0: learns less in 3 epochs at lr 0.01 than momentum 0.9" \
	num_lt "$(json_num "$OUT" accuracy)" 0.9
nnp train blobs.csv -o sgdwd.bin --layers 8,16,3 --epochs 3 --seed 1 --batch 16 -q -j 1 \
	--optimizer sgd --weight-decay 0.5
nnp convert sgdwd.bin sgdwd.json
nnp convert sgd.bin sgd.json
check "train --weight-decay 0.5: smaller weights than without" num_lt \
	"$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^-?[0-9]/) { v = $i + 0; s += v * v } } END { print s }' sgdwd.json)" \
	"$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^-?[0-9]/) { v = $i + 0; s += v * v } } END { print s }' sgd.json)"
nnp train blobs.csv -o tanh.bin --layers 8,6,3 --epochs 5 --seed 1 --lr 0.01 -q -j 1 -a tanh \
	--output-act linear
expect_rc "train -a tanh --output-act linear: exit 0" 0
nnp info tanh.bin
expect_out "train -a tanh: hidden activation" "tanh"
nnp eval tanh.bin blobs.csv
expect_out "train --output-act linear: eval reports MSE" "MSE"
nnp eval --json tanh.bin blobs.csv
check "train -a tanh: accuracy >= 80%" num_le 0.8 "$(json_num "$OUT" accuracy)"
# Predicting 1/3 everywhere scores MSE 2/9; the trained model is well under it.
check "train --output-act linear: MSE < 0.15" num_lt "$(json_num "$OUT" loss)" 0.15
if need_py "train tanh/linear and sgd: eval values"; then
	expect_eval "train -a tanh --output-act linear: eval = a double forward pass" tanh.bin blobs.csv
	expect_eval "train --optimizer sgd: eval = a double forward pass" sgd.bin blobs.csv
fi
nnp train blobs.csv -o scaled.bin $TRAIN_ARGS --input-scale 1/2
expect_rc "train --input-scale 1/2: exit 0" 0
nnp info scaled.bin
expect_out "train --input-scale: recorded" '"input_scale":	0.5'
nnp eval --json scaled.bin blobs.csv
# The scale is folded into the first layer: the model takes raw values.
check "train --input-scale: model works on raw data (>= 90%)" num_le 0.9 "$(json_num "$OUT" accuracy)"
gen_blobs 12345 600 8 3 >hdr.csv.tmp
{ echo "y,a,b,c,d,e,f,g,h"; cat hdr.csv.tmp; } >hdr.csv
rm -f hdr.csv.tmp
nnp train hdr.csv -o hdr.bin $TRAIN_ARGS -j 1
expect_rc "train on a CSV with a header: exit 0" 0
nnp convert hdr.bin hdr.json
nnp convert a1.bin a1b.json
# The weights, without the metadata (its provenance names the data file).
expect_eq "train: a header line changes nothing" \
	"$(sed '/"metadata"/,$d' a1b.json)" "$(sed '/"metadata"/,$d' hdr.json)"
gzip -c blobs.csv >blobs.csv.gz
nnp train blobs.csv.gz -o gz.bin $TRAIN_ARGS -j 1
expect_rc "train on .gz: exit 0" 0
nnp convert gz.bin gz.json
expect_eq "train on .gz: same weights as on the plain file" \
	"$(sed '/"metadata"/,$d' a1b.json)" "$(sed '/"metadata"/,$d' gz.json)"

# --- bad options: exit 2, nothing written --------------------------------------------------------------
for args in "--layers 8,16,3 --epochs 0" "--layers 8,16,3 --lr -1" "--layers 8,16,3 --lr 0" \
	"--layers 2,,3" "--layers 8,16,3," "--layers ,8,3" "--layers 8" "--layers 8,0,3" "--layers 8,x,3" \
	"--layers 8,16,3 --epochs 2x" "--layers 8,16,3 --batch 0" "--layers 8,16,3 --momentum 1" \
	"--layers 8,16,3 --weight-decay 2" "--layers 8,16,3 --optimizer foo" "--layers 8,16,3 -a softmax" \
	"--layers 8,16,3 --output-act relu" "--layers 8,16,3 --seed -1" "--layers 8,16,3 --seed 1.5" \
	"--layers 8,16,3 --input-scale 0" "--layers 8,16,3 --input-scale 1/0" "--layers 8,16,3 --input-scale /2" \
	"--layers 8,16,3 --classes a,b" "--layers 8,16,3 --classes fashion-mnist" "--layers 8,16,3 --no-label" \
	"--layers 8,16,3 --frobnicate"; do
	nnp train blobs.csv -o never.bin $args
	expect_rc "train $args: exit 2" 2
	check "train $args: reason first" grep -q '^nnprune: train: ' "$ERR"
done
nnp train blobs.csv --layers 8,16,3
expect_rc "train without -o: exit 2" 2
expect_err "train without -o: says so" "-o MODEL is required"
nnp train blobs.csv -o never.bin
expect_rc "train without --layers: exit 2" 2
nnp train -o never.bin --layers 8,16,3
expect_rc "train without data: exit 2" 2
check "train: bad options wrote nothing" test ! -e never.bin

# IDX images without their labels file: the message names the option that gives it.
printf '\0\0\10\3\0\0\0\2\0\0\0\2\0\0\0\4' >imgs.idx
head -c 16 /dev/zero >>imgs.idx
nnp train blobs.csv -o never.bin --layers 8,16,3 --val imgs.idx
expect_rc "train --val IDX without --val-labels: exit 2" 2
expect_err "train --val IDX without --val-labels: names it" "imgs.idx: IDX images need their labels file: give --val-labels FILE"
expect_one_line_error "train --val IDX without --val-labels: one line"
nnp train imgs.idx -o never.bin --layers 8,16,3
expect_err "train IDX without --labels: names it" "imgs.idx: IDX images need their labels file: give --labels FILE"
nnp eval model.bin imgs.idx
expect_rc "eval IDX without --labels: exit 2" 2
expect_err "eval IDX without --labels: names it" "give --labels FILE"
check "train: IDX without labels wrote nothing" test ! -e never.bin

# --- layers that do not fit the data: exit 3 ---------------------------------------------------------------
nnp train blobs.csv -o never.bin --layers 5,4,3 -q
expect_rc "train --layers 5,... on 8 features: exit 3" 3
expect_one_line_error "train --layers 5,...: one error line"
expect_err "train --layers 5,...: names the data's count" "8 feature columns"
expect_err "train --layers 5,...: names the model's count" "5 inputs"
nnp train blobs.csv -o never.bin --layers 8,4,2 -q
expect_rc "train 2 outputs for 3 classes: exit 3" 3
expect_err "train 2 outputs for 3 classes: names the label" "label 2 is outside the model's 2 outputs"
nnp train missing.csv -o never.bin --layers 8,4,3 -q
expect_rc "train on missing data: exit 3" 3
check "train: input errors wrote nothing" test ! -e never.bin

# --- outputs ------------------------------------------------------------------------------------------------
nnp train blobs.csv -o nodir/m.bin $TRAIN_ARGS
expect_rc "train -o in a missing directory: exit 4" 4
expect_one_line_error "train -o missing dir: one error line"
nnp train blobs.csv -o blobs.csv --layers 8,16,12,3 --epochs 5 --seed 1 --lr 0.01 --batch 16
expect_rc "train -o DATA: exit 4" 4
expect_err "train -o DATA: says why" "refusing to write over an input file"
expect_eq "train -o DATA: data unchanged" "$data_sum" "$(cksum <blobs.csv)"
# The check needs only the paths: it comes before any training.
check "train -o DATA: refused before training" test "$(grep -c '^epoch' "$OUT")" = 0
nnp train blobs.csv -o val.csv $TRAIN_ARGS --val val.csv
expect_rc "train -o VAL_DATA: exit 4" 4

# --- finetune --------------------------------------------------------------------------------------------------
nnp stats -q model.bin blobs.csv
nnp sweep -q --mean 1 --std 1
expect_rc "setup: sweep for finetune" 0
P=pruned/model-m1-s1.bin
p_sum=$(cksum <$P)
nnp finetune $P blobs.csv -o ft.bin --epochs 3 --seed 1 --lr 0.01 --batch 16
expect_rc "finetune: exit 0" 0
expect_eq "finetune: one line per epoch" 3 "$(grep -c '^epoch [1-3]/3: loss ' "$OUT")"
expect_out "finetune: final line" "model written to ft.bin"
expect_eq "finetune: input model unchanged" "$p_sum" "$(cksum <$P)"
nnp info --json $P
cp "$OUT" p-info.json
nnp info --json ft.bin
cp "$OUT" ft-info.json
expect_out "finetune: provenance operation" '"operation":	"finetune"'
expect_out "finetune: provenance source" '"path":	"pruned/model-m1-s1.bin"'
expect_out "finetune: provenance keeps the prune step" '"operation":	"prune"'
expect_out "finetune: provenance keeps the training" '"operation":	"train"'
if need_py "finetune: shape and source"; then
	expect_eq "finetune: keeps the shape" "$(py p-info.json '[[l["in"], l["out"], l["activation"]] for l in j["layers"]]')" \
		"$(py ft-info.json '[[l["in"], l["out"], l["activation"]] for l in j["layers"]]')"
	expect_eq "finetune: source CRC-32 is the input's" "$(py p-info.json 'j["crc32"]')" \
		"$(py ft-info.json 'j["provenance"]["source"]["crc32"]')"
fi
nnp eval --json $P blobs.csv
before=$(json_num "$OUT" loss)
nnp eval --json ft.bin blobs.csv
after=$(json_num "$OUT" loss)
check "finetune: lowers the training loss ($before -> $after)" num_lt "$after" "$before"
check "finetune: weights changed" test "$(cksum <ft.bin)" != "$p_sum"
nnp finetune $P blobs.csv -o ft2.bin --epochs 3 --seed 1 --lr 0.01 --batch 16
expect_same "finetune twice: identical models" ft.bin ft2.bin
nnp finetune $P blobs.csv -o ft1.bin -q
expect_rc "finetune defaults (1 epoch): exit 0" 0
nnp info ft1.bin
expect_out "finetune defaults: 1 epoch recorded" '"epochs":	1'
nnp finetune scaled.bin blobs.csv -o ftscaled.bin -q
nnp info --json ftscaled.bin
if need_py "finetune: recorded input scale"; then
	expect_eq "finetune: inherits the recorded input scale" 0.5 "$(py "$OUT" 'j["provenance"]["input_scale"]')"
fi

nnp finetune $P blobs.csv -o $P --epochs 1 -q
expect_rc "finetune -o MODEL: exit 4" 4
expect_err "finetune -o MODEL: says why" "refusing to write over an input file"
expect_eq "finetune -o MODEL: model unchanged" "$p_sum" "$(cksum <$P)"
nnp finetune $P blobs.csv -o ./pruned/../$P --epochs 1 -q
expect_rc "finetune -o MODEL spelt differently: exit 4" 4
expect_eq "finetune -o MODEL spelt differently: unchanged" "$p_sum" "$(cksum <$P)"
nnp finetune $P blobs.csv -o blobs.csv --epochs 1 -q
expect_rc "finetune -o DATA: exit 4" 4
expect_eq "finetune -o DATA: data unchanged" "$data_sum" "$(cksum <blobs.csv)"
nnp finetune $P blobs.csv --epochs 1
expect_rc "finetune without -o: exit 2" 2
nnp finetune $P -o never.bin
expect_rc "finetune without data: exit 2" 2
nnp finetune $P blobs.csv -o never.bin --epochs 0
expect_rc "finetune --epochs 0: exit 2" 2
nnp finetune $P five.csv -o never.bin -q
expect_rc "finetune on data with other features: exit 3" 3
expect_err "finetune other features: names the counts" "5 feature columns"
nnp finetune missing.bin blobs.csv -o never.bin -q
expect_rc "finetune missing model: exit 3" 3
check "finetune: failures wrote nothing" test ! -e never.bin
nnp finetune --help
expect_rc "finetune --help: exit 0" 0
nnp train --help
expect_rc "train --help: exit 0" 0
expect_out "train --help: documents --layers" "--layers LIST"

finish
