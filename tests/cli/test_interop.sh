#!/usr/bin/env bash
# End-to-end tests of the interchange formats: weights made by PyTorch and
# NumPy (tests/fixtures) taken in by every reader, exported to each format,
# read back; the C header compiled as C99 (-pedantic) and as C++ and its
# accuracy and loss compared with 'nnprune eval' on 400 rows; PyTorch and
# onnx.checker on the exports when python3 has them; hostile files refused.
# usage: test_interop.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

FIX="$SRC/tests/fixtures"
gen_blobs 99 400 4 3 2 >rows.csv

# --- every reader gives the same model on the same rows ------------------------------------------
nnp eval --json "$FIX/seq.safetensors" rows.csv
expect_rc "eval a safetensors state dict: exit 0" 0
expect_err "activations not in the file: says what was assumed" "assumed relu hidden layers and logits outputs"
ref_loss=$(json_num "$OUT" loss)
ref_acc=$(json_num "$OUT" accuracy)
for f in seq.npz seq_compressed.npz seq_f64.safetensors matmul.onnx; do
	nnp eval --json "$FIX/$f" rows.csv --hidden relu --output logits
	expect_eq "eval $f: the same loss as the safetensors file" "$ref_loss" "$(json_num "$OUT" loss)"
done
nnp eval --json "$FIX/seq_keras.npz" rows.csv --layout in-out
expect_eq "eval Keras-style arr_N with --layout in-out: the same loss" "$ref_loss" "$(json_num "$OUT" loss)"
nnp eval "$FIX/seq_keras.npz" rows.csv
expect_rc "positional arrays without --layout: exit 2" 2
expect_err "positional arrays without --layout: names the option" "--layout"

# --- logits are scored as CrossEntropyLoss ---------------------------------------------------------
nnp info "$FIX/seq.safetensors"
expect_out "info: logits outputs" "outputs: logits: class = argmax, loss = softmax cross-entropy"
nnp eval "$FIX/seq.safetensors" rows.csv
expect_out "eval of logits: cross-entropy" "cross-entropy"

# --- exports read back the same -------------------------------------------------------------------
nnp convert "$FIX/seq.safetensors" base.json --input-scale 1/4 --input-offset 0.5
expect_rc "convert with --input-scale/--input-offset: exit 0" 0
nnp info base.json
expect_out "preprocessing recorded" "preprocessing: (x - 0.5) * 0.25"
nnp eval --json base.json rows.csv
base_loss=$(json_num "$OUT" loss)
for ext in bin safetensors npz onnx; do
	nnp convert base.json "out.$ext"
	expect_rc "convert to .$ext: exit 0" 0
	# npz holds the arrays only: activations and preprocessing are given again.
	if [ $ext = npz ]; then
		nnp eval --json "out.$ext" rows.csv --hidden relu --output logits --input-scale 0.25 \
			--input-offset 0.5
	else
		nnp eval --json "out.$ext" rows.csv
	fi
	expect_eq "read back .$ext: the same loss" "$base_loss" "$(json_num "$OUT" loss)"
done
nnp convert out.safetensors again.json
nnp convert base.json base2.json
expect_same "safetensors carries activations, preprocessing, classes and provenance" base2.json again.json
nnp convert base.json out.yaml
expect_rc "unknown extension: exit 2" 2
expect_err "unknown extension: lists the formats" ".json, .bin, .safetensors, .npz, .onnx or .h"
check "unknown extension: nothing written" test ! -e out.yaml
# The preprocessing travels into pruned models, and every command applies it.
nnp convert base.json base.bin
nnp stats base.bin rows.csv -o base.stats --quiet
expect_rc "stats on raw rows of a model with preprocessing: exit 0" 0
nnp prune base.bin --calib rows.csv --keep 0.5 -o slim.bin
expect_rc "prune a model with preprocessing: exit 0" 0
nnp info slim.bin
expect_out "pruned model keeps the preprocessing" "preprocessing: (x - 0.5) * 0.25"
nnp sweep --stats base.stats --out swept --quiet
expect_rc "sweep a model with preprocessing: exit 0" 0
nnp info "$(ls swept/*.bin | head -1)"
expect_out "swept models keep the preprocessing" "preprocessing: (x - 0.5) * 0.25"
nnp convert base.json odd.name --to safetensors
nnp info odd.name
expect_out "--to forces the format" "safetensors file"

# header_agrees NAME PROGRAM TOL [EVAL-ARGS]: the compiled header PROGRAM on
# rows.csv prints the accuracy nnprune eval EVAL-ARGS reports on base.json,
# and its loss within TOL (relative above 1).
header_agrees() {
	local name=$1 prog=$2 tol=$3 how acc loss
	shift 3
	how="nnprune eval${1:+ $*}"
	nnp eval --json base.json rows.csv "$@"
	acc=$(json_num "$OUT" accuracy)
	loss=$(json_num "$OUT" loss)
	set -- $("./$prog" <rows.csv)
	check "$name: accuracy = $how ($1 vs $acc)" num_le "$(awk -v a="$1" -v b="$acc" 'BEGIN { d = a - b; print d < 0 ? -d : d }')" 0
	check "$name: loss = $how within $tol ($2 vs $loss)" num_le \
		"$(awk -v a="$2" -v b="$loss" 'BEGIN { d = a - b; print (d < 0 ? -d : d) / (b > 1 ? b : 1) }')" "$tol"
}
# --- the C header ----------------------------------------------------------------------------------
nnp convert base.json model.h --prefix nnp_model
expect_rc "convert to .h: exit 0" 0
nnp convert base.json model8.h --int8 --data rows.csv --prefix nnp_model
expect_rc "convert --int8 --data: exit 0" 0
expect_out "convert --int8 --data: reports the int8 accuracy" "int8 accuracy"
cat >driver.c <<'C'
#include <math.h>
#include <stdio.h>
#include MODEL
/* Reads label,x... rows; prints the accuracy and the mean softmax cross-entropy. */
int main(void)
{
	float x[NNP_MODEL_INPUTS], y[NNP_MODEL_OUTPUTS], scratch[NNP_MODEL_SCRATCH];
	int label, n = 0, hit = 0, i;
	double loss = 0.0;
	while (scanf("%d", &label) == 1) {
		for (i = 0; i < NNP_MODEL_INPUTS; i++)
			if (scanf(",%f", &x[i]) != 1)
				return 1;
		int c = nnp_model_predict(x, y, scratch);
		double mx = y[0], s = 0.0;
		for (i = 1; i < NNP_MODEL_OUTPUTS; i++)
			mx = y[i] > mx ? y[i] : mx;
		for (i = 0; i < NNP_MODEL_OUTPUTS; i++)
			s += exp((double)y[i] - mx);
		loss += log(s) + mx - (double)y[label];
		hit += c == label;
		n++;
	}
	printf("%.9f %.9f\n", (double)hit / n, loss / n);
	return 0;
}
C
CC=${CC:-cc}
CXX=${CXX:-c++}
if command -v "$CC" >/dev/null 2>&1; then
	for h in model model8; do
		if "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -DMODEL="\"$h.h\"" \
			-o "$h-c" driver.c -lm 2>cc.err; then
			ok "$h.h compiles as C99 with -Wall -Wextra -Werror -pedantic"
		else
			bad "$h.h compiles as C99" "$(head -5 cc.err | tr '\n' '|')"
		fi
	done
	if command -v "$CXX" >/dev/null 2>&1; then
		if "$CXX" -x c++ -Wall -Wextra -Werror -DMODEL='"model.h"' -o model-cxx driver.c \
			2>cxx.err; then
			ok "model.h compiles as C++"
		else
			bad "model.h compiles as C++" "$(head -5 cxx.err | tr '\n' '|')"
		fi
	fi
	header_agrees "C header" model-c 1e-6
	header_agrees "int8 header" model8-c 1e-5 --int8
	if [ -x model-cxx ]; then
		expect_eq "C++ build: the same results" "$(./model-c <rows.csv)" "$(./model-cxx <rows.csv)"
	fi
else
	skip "C header compile" "no C compiler"
fi
check "C header: only <math.h> included" test "$(grep -c '#include' model.h)" = 1
check "C header: no malloc" test "$(grep -c 'malloc' model.h)" = 0

# --- the real consumers, when python3 has them ---------------------------------------------------
SYSPY=/usr/bin/python3
if [ -x $SYSPY ] && $SYSPY -c 'import torch, onnx, numpy' 2>/dev/null; then
	$SYSPY - out.safetensors out.onnx out.npz <<'PYEOF' >py.out 2>py.err
import json, struct, sys
import numpy as np, onnx, torch, torch.nn as nn
st, ox, nz = sys.argv[1:4]
raw = open(st, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
meta = hdr.pop("__metadata__")
sd = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
      dtype="<f4").reshape(v["shape"]).copy()) for k, v in hdr.items()}
acts = json.loads(meta["activations"])
mods = []
for i, a in enumerate(acts):
    w = sd["%d.weight" % (2 * i)]
    mods.append(nn.Linear(w.shape[1], w.shape[0]))
    if i + 1 < len(acts):
        mods.append({"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}.get(a, nn.Identity()))
seq = nn.Sequential(*mods)
seq.load_state_dict(sd, strict=True)
z = np.load(nz)
assert all(np.array_equal(z[k], sd[k].numpy()) for k in sd), "npz differs"
onnx.checker.check_model(onnx.load(ox), full_check=True)
print("ok", json.loads(meta["preprocessing"]))
PYEOF
	if [ $? = 0 ]; then ok "PyTorch loads the safetensors export (strict), npz matches, onnx.checker passes"
	else bad "PyTorch/onnx on the exports" "$(tail -3 py.err | tr '\n' '|')"; fi
else
	skip "PyTorch and onnx.checker on the exports" "python3 without torch, onnx and numpy"
fi

# --- hostile files: one line, exit 3, nothing written -----------------------------------------------
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a":1}' >bad.safetensors
nnp convert bad.safetensors out-bad.json
expect_rc "hostile safetensors: exit 3" 3
expect_one_line_error "hostile safetensors: one error line"
head -c 100 "$FIX/seq.npz" >trunc.npz
nnp convert trunc.npz out-bad.json
expect_rc "truncated npz: exit 3" 3
nnp convert "$FIX/elu.onnx" out-bad.json
expect_rc "unsupported ONNX op: exit 3" 3
expect_err "unsupported ONNX op: names it" "op Elu"
printf 'garbage' >g.onnx
nnp convert g.onnx out-bad.json
expect_rc "not an ONNX protobuf: exit 3" 3
check "hostile inputs: nothing written" test ! -e out-bad.json

# --- sweep and prune write every writable format; the model options on stats, sweep, prune -----
# seq.safetensors holds no activations: stats and prune take them as --hidden and
# --output-kind (their -o/--output is the output file), sweep as --output.
nnp eval --json "$FIX/seq.safetensors" rows.csv --hidden relu --output logits
ev_acc=$(json_num "$OUT" accuracy)
ev_loss=$(json_num "$OUT" loss)
nnp stats --json "$FIX/seq.safetensors" rows.csv --hidden relu --output-kind logits -o seq.stats
expect_rc "stats of a safetensors file with --hidden/--output-kind: exit 0" 0
expect_eq "stats: eval's accuracy" "$ev_acc" "$(json_num "$OUT" accuracy)"
expect_eq "stats: eval's loss" "$ev_loss" "$(json_num "$OUT" loss)"
nnp stats "$FIX/seq.safetensors" rows.csv --activations relu,relu,softmax --output-kind logits \
	-o seq-sm.stats
expect_rc "stats --activations: exit 0" 0
for fmt in json bin safetensors npz onnx h; do
	nnp sweep --stats seq.stats --out "sw-$fmt" --format $fmt --hidden relu --output logits -q \
		--write all
	expect_rc "sweep --format $fmt: exit 0" 0
	check "sweep --format $fmt: models named .$fmt" test -e "sw-$fmt/seq-m0-s0.2.$fmt"
	nnp prune "$FIX/seq.safetensors" --calib rows.csv --keep 0.5 --hidden relu \
		--output-kind logits --format $fmt -o "pruned-$fmt.out"
	expect_rc "prune --format $fmt: exit 0" 0
done
check "sweep --format h: a C header" grep -q "static inline" sw-h/seq-m0-s0.2.h
# A written model read back by eval gives the report's accuracy.
for fmt in onnx safetensors; do
	f=$(jq -r '.candidates[1].file' "sw-$fmt/report.json")
	rep_acc=$(jq -r '.candidates[1].accuracy' "sw-$fmt/report.json")
	nnp eval --json "sw-$fmt/$(basename "$f")" rows.csv
	expect_eq "sweep --format $fmt: eval of $(basename "$f") = the report's accuracy" \
		"$rep_acc" "$(json_num "$OUT" accuracy)"
done
nnp eval --json pruned-json.out rows.csv
pr_loss=$(json_num "$OUT" loss)
# (ONNX is recognised by its extension only: pruned-onnx.out is checked as pruned.onnx below.)
for fmt in bin safetensors; do
	nnp eval --json "pruned-$fmt.out" rows.csv
	expect_eq "prune --format $fmt: the same loss as JSON" "$pr_loss" "$(json_num "$OUT" loss)"
done
nnp prune "$FIX/seq.safetensors" --calib rows.csv --keep 0.5 -o pruned.onnx
nnp eval --json pruned.onnx rows.csv
expect_eq "prune -o X.onnx: ONNX by the extension, assumed activations" "$pr_loss" \
	"$(json_num "$OUT" loss)"
nnp finetune "$FIX/seq.safetensors" rows.csv --hidden relu --output-kind logits -e 1 -o ft.json -q
expect_rc "finetune a safetensors file with --output-kind: exit 0" 0
nnp info ft.json
expect_out "finetune: the activations given" "logits"
nnp sweep --stats seq.stats --out sw-bad --format npy
expect_rc "sweep --format npy (read-only): exit 2" 2
expect_err "unknown --format: lists the formats" "json, bin, safetensors, npz, onnx, h"
nnp prune "$FIX/seq.safetensors" --calib rows.csv --keep 0.5 --format yaml -o bad.yaml
expect_rc "prune --format yaml: exit 2" 2
check "prune --format yaml: nothing written" test ! -e bad.yaml

finish
