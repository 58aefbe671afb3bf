#!/usr/bin/env bash
# End-to-end tests of the unstructured refit (--method magnitude --compensate
# ls): the zeros of plain magnitude stay zero, the surviving weights change,
# layer 0's calibration error against the original's pre-activations does not
# rise, results do not depend on -j or on streaming the calibration rows, the
# sweep names and records it; the options it refuses.
# usage: test_refit.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_wide_model stats

nnp prune model.bin --method magnitude --sparsity 0.6 -o plain.bin -q
expect_rc "magnitude: exit 0" 0
nnp prune model.bin --method magnitude --sparsity 0.6 --compensate ls --calib calib.csv \
	-o ls1.bin -j 1 -q
expect_rc "magnitude --compensate ls: exit 0" 0
nnp prune model.bin --method magnitude --sparsity 0.6 --compensate ls --calib calib.csv \
	-o ls2.bin -j 2 -q --mem-limit 0
expect_rc "magnitude --compensate ls, streamed: exit 0" 0
check "refit: -j 1 in memory = -j 2 streamed" cmp -s ls1.bin ls2.bin

if need_py "refit: zeros kept, layer 0 error not raised"; then
	nnp info --json ls1.bin
	expect_eq "refit: the provenance records ls" ls "$(py "$OUT" 'j["provenance"]["compensate"]')"
	for f in model plain ls1; do nnp convert $f.bin $f.json; done
	pyrun -c '
import json, sys
def weights(path):
    j = json.load(open(path))
    out, n_in = [], j["input_size"]
    for L in j["layers"]:
        if "weights" in L:
            w = L["weights"]
        else:
            c = L["weights_csr"]
            w = [[0.0] * n_in for _ in range(len(c["row_ptr"]) - 1)]
            for r in range(len(w)):
                for k in range(c["row_ptr"][r], c["row_ptr"][r + 1]):
                    w[r][c["cols"][k]] = c["values"][k]
        out.append((w, L["bias"]))
        n_in = len(w)
    return out
o, p, q = (weights(f + ".json") for f in ("model", "plain", "ls1"))
bad = 0
changed = 0
for (wp, _), (wq, _) in zip(p, q):
    for rp, rq in zip(wp, wq):
        for a, b in zip(rp, rq):
            bad += a == 0 and b != 0
            changed += a != b
rows = [[float(v) for v in l.split(",")[1:]] for l in open("calib.csv")]
def mse0(m):
    (w, b), (wo, bo) = m[0], o[0]
    s = 0.0
    for x in rows:
        for i in range(len(w)):
            d = sum(a * v for a, v in zip(w[i], x)) + b[i]
            d -= sum(a * v for a, v in zip(wo[i], x)) + bo[i]
            s += d * d
    return s / len(rows)
print(bad, int(changed > 0), int(mse0(q) <= mse0(p)))
' >check.txt 2>&1
	expect_eq "refit: every zero of plain magnitude stays zero, weights changed, layer 0 error not raised" \
		"0 1 1" "$(cat check.txt)"
fi

nnp sweep -q --method magnitude --sparsity 0.5,0.7 --compensate ls --calib calib.csv -o swl
expect_rc "sweep magnitude --compensate ls: exit 0" 0
check "sweep: models named -magnitude-ls-s" test -s swl/model-magnitude-ls-s0.7.bin
nnp prune model.bin --method magnitude --sparsity 0.7 --compensate ls --calib calib.csv \
	-o p07.bin -q
if need_py "sweep: the report records ls; its model = prune's"; then
	expect_eq "sweep report: compensate ls" ls "$(py swl/report.json 'j["compensate"]')"
	expect_eq "sweep report: calibration rows" 300 \
		"$(py swl/report.json 'j["calibration"]["rows"]')"
	nnp convert p07.bin p07.json
	nnp convert swl/model-magnitude-ls-s0.7.bin s07.json
	expect_eq "sweep 0.7 = prune 0.7 (refit weights)" True \
		"$(pyrun -c 'import json, sys; a, b = (json.load(open(f))["layers"] for f in sys.argv[1:]); print(a == b)' p07.json s07.json)"
fi

expect_usage "refit needs --calib" "--calib DATA is required" \
	prune model.bin --method magnitude --sparsity 0.5 --compensate ls -o x.bin
expect_usage "magnitude refuses --compensate fold" "removes no neuron" \
	prune model.bin --method magnitude --sparsity 0.5 --compensate fold --calib calib.csv \
	-o x.bin
expect_usage "--lambda without ls" "without --compensate ls" \
	prune model.bin --method magnitude --sparsity 0.5 --lambda 0.01 -o x.bin
check "refused: nothing written" not test -e x.bin
finish
