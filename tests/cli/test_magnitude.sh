#!/usr/bin/env bash
# --method magnitude: shares per weight layer on the command line
# (--sparsity 0.9/0.5/0), and unstructured candidates judged by their nonzero
# weights (reduction, Pareto front, --best, --max-params; --max-bytes by the
# file's real size), --scope hidden, and finetune keeping a sparse model's
# zeros; every figure checked against a count of the written JSON models.
# usage: test_magnitude.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_wide_model stats

# A model's nonzero weights per layer, counted in its JSON form (dense or
# CSR layers), then its biases, joined by spaces.
counts_of() {
	nnp convert "$1" cnt.json
	pyrun -c '
import json, sys
j = json.load(open(sys.argv[1]))
out, biases = [], 0
for L in j["layers"]:
    if "weights_csr" in L:
        nz = sum(1 for v in L["weights_csr"]["values"] if v != 0)
    else:
        nz = sum(1 for row in L["weights"] for v in row if v != 0)
    out.append(str(nz))
    biases += len(L["bias"])
print(" ".join(out), biases)' cnt.json
}

# prune_counted OUT WHAT STDOUT COUNTS ARGS...: 'prune model.bin --method magnitude
# ARGS -o OUT' exits 0, says STDOUT (WHAT it shows), and leaves COUNTS nonzero weights
# per layer and biases, counted from the written model; OUT's JSON copy is OUT.json
# (.bin replaced) for the provenance checks. Returns 1 without Python.
prune_counted() {
	local out=$1 what=$2 want_out=$3 want_counts=$4
	shift 4
	nnp prune model.bin --method magnitude "$@" -o "$out" -j 1
	expect_rc "prune $*: exit 0" 0
	expect_out "prune $*: $what" "$want_out"
	need_py "prune $* against a count of the written model" || return 1
	expect_eq "prune $*: nonzeros per layer, biases" "$want_counts" "$(counts_of "$out")"
	nnp convert "$out" "${out%.bin}.json"
}

# --- shares per layer ---------------------------------------------------------------------
# The model: 16 -> 32 -> 16 -> 3, weight layers of 512, 512 and 48 weights.
# round(0.9 * 512) = 461 and round(0.5 * 512) = 256 zeroed, none of 48: 51 256 48 left.
if prune_counted pl.bin "the shares and the share of all the weights" \
	"sparsity 0.9/0.5/0 per layer, 0.6688 of the weights" "51 256 48 51" --sparsity 0.9/0.5/0; then
	expect_eq "provenance: the shares per layer, scope layer" "[0.9, 0.5, 0] layer" \
		"$(py pl.json '"%s %s" % (j["metadata"]["provenance"]["budget"]["layer_sparsity"], j["metadata"]["provenance"]["budget"]["scope"])')"
	expect_eq "provenance: sparsity = the share of all the weights zeroed (717/1072)" \
		"0.66884" "$(py pl.json '"%.5f" % j["metadata"]["provenance"]["budget"]["sparsity"]')"
fi
nnp prune model.bin --method magnitude --sparsity 0.9/0.5/0 -o pj.bin --json
if need_py "prune --json without --eval: sizes and reduction by nonzeros"; then
	cp "$OUT" pj.out
	expect_schema "prune --json, shares per layer: schema" prune pj.out
	set -- $(counts_of pj.bin)
	expect_eq "prune --json: reduction = 100 (1123 - nonzero weights - biases) / 1123" \
		"$(awk -v s=$(($1 + $2 + $3 + $4)) 'BEGIN { printf "%.6f", 100 * (1123 - s) / 1123 }')" \
		"$(py pj.out '"%.6f" % j["pruned"]["reduction_percent"]')"
	expect_eq "prune --json: params of both, without --eval" "1123 1123" \
		"$(py pj.out '"%d %d" % (j["original"]["params"], j["pruned"]["params"])')"
fi
nnp prune model.bin --method magnitude --sparsity 0.9/0.5/0 -o pl2.bin -j 2 -q
check "per layer: -j 1 = -j 2" cmp -s pl.bin pl2.bin
expect_usage "per layer: the count must match the weight layers" \
	"--sparsity 0.9/0.5: 2 shares, but the model has 3 weight layers" \
	prune model.bin --method magnitude --sparsity 0.9/0.5 -o x.bin
check "per layer, wrong count: nothing written" not test -e x.bin
expect_usage "per layer: not with --scope global" \
	"--sparsity 0.9/0.5/0: shares per layer do not go with --scope global" \
	prune model.bin --method magnitude --sparsity 0.9/0.5/0 --scope global -o x.bin
check "per layer, --scope global: one line" test "$(grep -c '^nnprune:' "$ERR")" = 1
expect_usage "per layer: every share 0 refused" "every share is 0" \
	prune model.bin --method magnitude --sparsity 0/0/0 -o x.bin
expect_usage "per layer: a share over 1 refused" "--sparsity: layer 1: " \
	prune model.bin --method magnitude --sparsity 0.5/1.5/0 -o x.bin
expect_usage "per layer: no range inside" "shares per layer take no range" \
	sweep --method magnitude --sparsity 0.5/0.1:0.9:0.1/0 -o x
expect_usage "per layer: an empty share" "share 1 is empty" \
	prune model.bin --method magnitude --sparsity 0.5//0 -o x.bin
expect_usage "per layer: prune still takes one candidate" "2 values; this command takes 1" \
	prune model.bin --method magnitude --sparsity 0.5,0.9/0.5/0 -o x.bin

# --- --scope hidden: the output layer dense, the same share of every other layer ---------------
# 0.5 of 1072 weights from the 1024 outside the output layer: 0.5 * 1072 / 1024
# = 0.5234375 of each, round(0.5234375 * 512) = 268 zeroed per layer, none of 48.
if prune_counted hid.bin "says the output layer stays dense" "sparsity 0.5, output layer dense" \
	"244 244 48 51" --sparsity 0.5 --scope hidden; then
	expect_eq "provenance: scope hidden, sparsity 0.5" "hidden 0.5" \
		"$(py hid.json '"%s %g" % (j["metadata"]["provenance"]["budget"]["scope"], j["metadata"]["provenance"]["budget"]["sparsity"])')"
fi
expect_usage "--scope hidden: not with shares per layer" \
	"--sparsity 0.9/0.5/0: shares per layer do not go with --scope hidden" \
	prune model.bin --method magnitude --sparsity 0.9/0.5/0 --scope hidden -o x.bin
nnp prune model.bin --method magnitude --sparsity 0.99 --scope hidden -o x.bin
expect_rc "--scope hidden: more than the layers outside the output hold: exit 2" 2
expect_err "--scope hidden: says the limit" "is more than the 0.9552 of the weights outside the output layer"
check "--scope hidden, too much: nothing written" not test -e x.bin
nnp sweep -q --method magnitude --sparsity 0.5 --scope hidden -o swh -j 1 --max-drop 100
expect_rc "sweep --scope hidden: exit 0" 0
check "sweep --scope hidden: the budget says hidden" grep -q "| sparsity 0.5 hidden " swh/report.md
check "sweep --scope hidden: the file name says h" test -e swh/model-magnitude-h0.5.bin

# --- finetune of a sparse model: its zeros stay zero unless --regrow ----------------------------
nnp finetune pl.bin blobs.csv --epochs 2 -j 1 -o plft.bin
expect_rc "finetune of a sparse model: exit 0" 0
expect_err "finetune of a sparse model: says its zeros stay" \
	"its 717 zero weights (66.88% of 1072) stay zero (--regrow trains them)"
nnp finetune pl.bin blobs.csv --epochs 2 -j 1 -q --regrow -o plrg.bin
expect_rc "finetune --regrow: exit 0" 0
if need_py "finetune keeps the zeros of a sparse model"; then
	nnp convert pl.bin pl.json
	nnp convert plft.bin plft.json
	nnp convert plrg.bin plrg.json
	# Dense weights of each layer, then: zeros at the same places, the others trained.
	cat >zeros.py <<'PY'
import json, sys
def dense(path):
    out = []
    for L in json.load(open(path))["layers"]:
        if "weights_csr" in L:
            c, n = L["weights_csr"], len(L["bias"])
            w = {}
            for r in range(n):
                for k in range(c["row_ptr"][r], c["row_ptr"][r + 1]):
                    w[(r, c["cols"][k])] = c["values"][k]
            out.append(w)
        else:
            out.append({(r, i): v for r, row in enumerate(L["weights"]) for i, v in enumerate(row)})
    return out
a, b = dense(sys.argv[1]), dense(sys.argv[2])
zero_a = [{k for k, v in la.items() if v != 0} for la in a]
zero_b = [{k for k, v in lb.items() if v != 0} for lb in b]
moved = sum(1 for la, lb in zip(a, b) for k, v in la.items() if v != 0 and lb.get(k, 0) != v)
print("same" if zero_a == zero_b else "differ", "moved" if moved else "still")
PY
	expect_eq "finetune: the nonzeros at the same places, and trained" "same moved" \
		"$(pyrun zeros.py pl.json plft.json)"
	expect_eq "finetune --regrow: the zeros trained too" "differ moved" \
		"$(pyrun zeros.py pl.json plrg.json)"
fi
expect_usage "finetune --regrow: not with --sparsity" "--regrow: --sparsity keeps its zeros" \
	finetune pl.bin blobs.csv --sparsity 0.5 --regrow -o x.bin

# --- sweep: single shares beside shares per layer, judged by nonzeros --------------------------
nnp sweep -q --method magnitude --sparsity 0.5,0.9,0.9/0.5/0 -o sw -j 2 --max-drop 100
expect_rc "sweep --sparsity 0.5,0.9,0.9/0.5/0: exit 0" 0
check "per-layer candidate named by its shares" test -s sw/model-magnitude-s0.9_0.5_0.bin
check "report.md: its budget shows the shares" grep -q "| sparsity 0.9/0.5/0 " sw/report.md
check "report.md: the reduction column says nonzero" grep -q "nonzero reduction" sw/report.md
check "report.svg: magnitude calibrates on nothing" grep -q "calibration none (magnitudes alone)" sw/report.svg
check "report.svg: the x axis says nonzero weights" \
	grep -q "parameters (nonzero weights + biases)" sw/report.svg
if need_py "unstructured candidates judged by nonzeros"; then
	expect_schema "report.json with shares per layer: schema" report sw/report.json
	expect_eq "report.json: layer_sparsity of the per-layer candidate" "[0.9, 0.5, 0]" \
		"$(py sw/report.json 'j["candidates"][2]["budget"]["layer_sparsity"]')"
	params0=$(py sw/report.json 'j["original"]["params"]')
	# Each candidate: its reduction from a count of its file, and its size
	# (nonzero weights + biases) for the Pareto front and --best.
	: >sizes.txt
	for k in 0 1 2; do
		f=$(py sw/report.json 'j["candidates"]['$k']["file"]')
		set -- $(counts_of "$f")
		size=$(($1 + $2 + $3 + $4))
		acc=$(py sw/report.json 'j["candidates"]['$k']["accuracy"]')
		echo "$k $size $acc $(py sw/report.json 'j["candidates"]['$k']["pareto"]')" >>sizes.txt
		red=$(py sw/report.json '"%.6f" % j["candidates"]['$k']["reduction_percent"]')
		expect_eq "candidate $k: reduction = 100 (params - nonzero weights - biases) / params" \
			"$(awk -v p="$params0" -v s="$size" 'BEGIN { printf "%.6f", 100 * (p - s) / p }')" "$red"
	done
	set -- $(counts_of sw/model-magnitude-s0.9.bin)
	check "the 0.9 candidate: 90% of the weights gone (counted)" \
		awk -v z=$(($1 + $2 + $3)) 'BEGIN { r = 1 - z / 1072; exit !(r > 0.899 && r < 0.901) }'
	check "the 0.9 candidate: its reduction ~90% (85.9%: the 51 biases stay)" \
		awk -v r="$(py sw/report.json 'j["candidates"][1]["reduction_percent"]')" \
		'BEGIN { exit !(r > 85.8 && r < 86.0) }'
	# The Pareto flags of (size, accuracy), computed here, the original
	# (params, its accuracy) among them.
	oacc=$(py sw/report.json 'j["original"]["accuracy"]')
	want=$(awk -v p0="$params0" -v a0="$oacc" '{ k[NR] = $1; s[NR] = $2; a[NR] = $3 }
		END { s[0] = p0; a[0] = a0
			for (i = 1; i <= NR; i++) { on = 1
				for (j = 0; j <= NR; j++) if (j != i && ((s[j] < s[i] && a[j] >= a[i]) ||
				    (s[j] == s[i] && a[j] > a[i]))) on = 0
				printf "%s%s", (i > 1 ? " " : ""), (on ? "True" : "False") } }' sizes.txt)
	expect_eq "Pareto flags = those of (nonzero size, accuracy)" "$want" \
		"$(awk '{ printf "%s%s", (NR > 1 ? " " : ""), $4 }' sizes.txt)"
	expect_eq "--best with a wide gate: the fewest nonzero parameters (the 0.9 one)" 1 \
		"$(py sw/report.json 'j["best"]')"
	# --max-params 20%: only the 0.9 candidate (158 of 1123) is within;
	# judged by params every candidate had 1123 and none passed.
	nnp sweep -q --method magnitude --sparsity 0.5,0.9 -o sg -j 2 --max-params 20%
	expect_rc "--max-params 20%: a magnitude candidate passes" 0
	expect_eq "--max-params 20%: the 0.9 one" 1 "$(py sg/report.json 'j["best"]')"
	nnp sweep --method magnitude --sparsity 0.5,0.9 -o sg2 -j 2 --max-params 10%
	expect_rc "--max-params 10%: none within" 1
	expect_err "--max-params 10%: says nonzero parameters" "158 nonzero parameters (over 112)"
	# --max-bytes: the file's real size, exactly that of the 0.5 candidate.
	b5=$(wc -c <sg/model-magnitude-s0.5.bin | tr -d ' ')
	b9=$(wc -c <sg/model-magnitude-s0.9.bin | tr -d ' ')
	nnp sweep -q --method magnitude --sparsity 0.5 -o sb -j 2 --max-bytes "$b5"
	expect_rc "--max-bytes = the real file size: passes" 0
	nnp sweep -q --method magnitude --sparsity 0.5 -o sb2 -j 2 --max-bytes "$((b5 - 1))"
	expect_rc "--max-bytes one under the real file size: fails" 1
	check "the sparse file is smaller than the dense one" num_lt "$b9" "$(wc -c <model.bin)"
fi
# Shards of a magnitude sweep: report --merge cannot read their shares back
# (it would judge them by params, as duplicates of each other): refused.
expect_usage "sweep --shard with magnitude: refused" "--shard: report --merge cannot combine" \
	sweep --method magnitude --sparsity 0.5,0.9 --shard 0/2 -o x
cp sw/report.json part.json
nnp report --merge part.json -o mg --stats nnprune.stats.json
expect_rc "report --merge of magnitude candidates: exit 3" 3
expect_err "report --merge of magnitude candidates: says so" \
	"part.json: candidate 0: a magnitude candidate (sparsity): merging them is not supported"
check "report --merge of magnitude candidates: nothing written" not test -e mg/report.md
finish
