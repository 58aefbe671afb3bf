# End-to-end tests of `nnprune sweep --finetune`, on generated data.
# usage: bash test_sweep_finetune.sh NNPRUNE_BINARY SOURCE_DIR
# Self-contained (awk, cmp, cksum); prints "N passed, M failed" last.
set -u
if [ $# -lt 2 ]; then
	echo "usage: $0 NNPRUNE_BINARY SOURCE_DIR" >&2
	exit 2
fi
NNP=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
export LC_ALL=C
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nnpft.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
PASS=0
FAIL=0
RC=0

ok() { PASS=$((PASS + 1)); echo "ok $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1: $2"; }
finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
	exit $?
}

# nnp ARGS: runs nnprune, stdout in out.txt, stderr in err.txt, status in RC.
nnp() {
	LAST="$*"
	"$NNP" "$@" >out.txt 2>err.txt </dev/null
	RC=$?
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' err.txt; then
		bad "sanitizer" "nnprune $LAST: $(head -c 300 err.txt)"
	fi
}
expect_rc() {
	if [ "$RC" = "$2" ]; then ok "$1"; else
		bad "$1" "expected exit $2, got $RC: nnprune $LAST: $(head -c 300 err.txt | tr '\n' '|')"
	fi
}
expect_err() {
	if grep -qF -- "$2" err.txt; then ok "$1"; else bad "$1" "stderr lacks '$2': $(head -c 300 err.txt)"; fi
}
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name" "failed: $*"; fi
}
same_num() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(a != "" && b != "" && d < 1e-9 && d > -1e-9) }'; }

# SEED ROWS: 3 classes of Gaussian blobs in 8 features, label first. A MINSTD
# generator in integer-exact double arithmetic: every awk writes the same file.
blobs() {
	awk -v state="$1" -v n="$2" '
	function rnd() { state = (state * 48271) % 2147483647; return state / 2147483647 }
	BEGIN {
		pi = 3.141592653589793
		for (i = 0; i < n; i++) {
			c = i % 3
			line = c
			for (j = 0; j < 8; j++) {
				g = sqrt(-2 * log(rnd())) * cos(2 * pi * rnd())
				line = line "," sprintf("%.3f", (j % 3 == c ? 1.2 : 0) + g)
			}
			print line
		}
	}'
}

# Field F of the CSV row whose first field is KEY ("original" or an index).
csv_field() { awk -F, -v k="$2" -v f="$3" '$1 == k { print $f }' "$1"; }
# Accuracy and loss from `nnprune eval --json`.
eval_json() {
	"$NNP" eval "$1" val.csv --json 2>/dev/null |
		awk -v key="\"$2\":" '$1 == key { v = $2; sub(/,$/, "", v); print v }'
}

# ---- setup: data, a briefly trained model, its statistics ----
blobs 7 600 >train.csv
blobs 99 300 >val.csv
nnp train train.csv -o model.bin --layers 8,16,12,3 --epochs 3 --seed 1 -j 1 -q
[ "$RC" = 0 ] || { bad "setup: train" "$(cat err.txt)"; finish; }
nnp stats model.bin val.csv
[ "$RC" = 0 ] || { bad "setup: stats" "$(cat err.txt)"; finish; }
GRID="--mean 0,0.2,0.5,1 --std 0.3,1,2"
EP=2

# ---- every candidate fine-tuned, one thread ----
nnp sweep $GRID --finetune train.csv --finetune-epochs $EP -j 1
expect_rc "sweep --finetune runs" 0
check "table has the fine-tuned columns" grep -q "ft accuracy  ft drop  vs ft orig" out.txt
check "summary names the fine-tuning" grep -q "fine-tuned for 2 epochs on train.csv" out.txt
cp pruned/report.json j1.json
cp pruned/report.csv j1.csv
(cd pruned && cksum ./*-ft$EP.bin) >j1.sums
check "original fine-tuned file written" test -s pruned/model-ft$EP.bin
check "csv has 21 columns" awk -F, 'NR == 1 && NF == 21 && $17 == "ft_accuracy" && $21 == "ft_file" { f = 1 } END { exit !f }' j1.csv

# Every row's fine-tuned figures are what `nnprune eval` says of its file.
rows=0
mismatch=""
while IFS=, read -r key acc loss file; do
	rows=$((rows + 1))
	[ -s "$file" ] || { mismatch="$mismatch $key:nofile"; continue; }
	same_num "$acc" "$(eval_json "$file" accuracy)" || mismatch="$mismatch $key:acc"
	same_num "$loss" "$(eval_json "$file" loss)" || mismatch="$mismatch $key:loss"
done < <(awk -F, 'NR > 1 { print $1 "," $17 "," $20 "," $21 }' j1.csv)
if [ -z "$mismatch" ] && [ "$rows" = 13 ]; then ok "fine-tuned accuracy and loss = nnprune eval of each -ft file"
else bad "fine-tuned accuracy and loss = nnprune eval of each -ft file" "rows $rows,$mismatch"; fi

# The drops: against the original, and against the fine-tuned original.
o_acc=$(csv_field j1.csv original 8)
o_ft=$(csv_field j1.csv original 17)
bad_drop=$(awk -F, -v o="$o_acc" -v of="$o_ft" 'NR > 2 {
	d = 100 * (o - $17) - $18; v = 100 * (of - $17) - $19
	if (d > 1e-7 || d < -1e-7 || v > 1e-7 || v < -1e-7) print $1 }' j1.csv)
check "ft drops are against the original and the fine-tuned original" test -z "$bad_drop"
check "fine-tuning changed the original" test "$o_acc" != "$o_ft"

# Same models as `nnprune finetune -j 1` with the same options, byte for byte.
nnp finetune model.bin train.csv -o orig-ft.bin --epochs $EP -j 1 -q
check "original = nnprune finetune of the model" cmp -s orig-ft.bin pruned/model-ft$EP.bin
slim=$(csv_field j1.csv 11 16)
nnp finetune "$slim" train.csv -o cand-ft.bin --epochs $EP -j 1 -q
check "candidate = nnprune finetune of its slimmed file" cmp -s cand-ft.bin "$(csv_field j1.csv 11 21)"
check "provenance points at the slimmed model" grep -q "\"operation\":\"finetune\",\"source\":{\"path\":\"$slim\"" "$(csv_field j1.csv 11 21)"

# ---- the thread count changes nothing ----
nnp sweep $GRID --finetune train.csv --finetune-epochs $EP -j 2 -q
expect_rc "sweep --finetune -j 2 runs" 0
check "report.json identical for -j 1 and -j 2" cmp -s j1.json pruned/report.json
(cd pruned && cksum ./*-ft$EP.bin) >j2.sums
check "fine-tuned models identical for -j 1 and -j 2" cmp -s j1.sums j2.sums
# Streaming the evaluation data (over --mem-limit) scores the same.
nnp sweep $GRID --finetune train.csv --finetune-epochs $EP -j 2 -q --mem-limit 1K
check "report.json identical when the data is streamed" cmp -s j1.json pruned/report.json

# ---- --finetune-pareto: only the Pareto candidates ----
nnp sweep $GRID --finetune train.csv --finetune-epochs $EP --finetune-pareto -q -o pp
expect_rc "sweep --finetune-pareto runs" 0
wrong=$(awk -F, 'NR > 2 && (($13 == 1) != ($17 != "")) { print $1 }' pp/report.csv)
check "exactly the Pareto candidates are fine-tuned" test -z "$wrong"
n_pareto=$(awk -F, 'NR > 2 && $13 == 1 { n++ } END { print n + 0 }' pp/report.csv)
n_files=$(ls pp/*-ft$EP.bin | wc -l)
check "some candidates are not Pareto" test "$n_pareto" -lt 12
check "one -ft file per Pareto candidate plus the original" test "$n_files" = $((n_pareto + 1))
check "non-Pareto candidates have \"finetune\": null" grep -q '"finetune": null' pp/report.json
same=$(awk -F, 'NR > 1 && $17 != "" { print $1 "," $17 }' pp/report.csv)
want=$(awk -F, -v s="$same" 'BEGIN { n = split(s, a, "\n"); for (i = 1; i <= n; i++) keep[substr(a[i], 1, index(a[i], ",") - 1)] = 1 }
	NR > 1 && ($1 in keep) { print $1 "," $17 }' j1.csv)
check "Pareto candidates' figures equal those of the full run" test "$same" = "$want"

# ---- --max-drop judges the fine-tuned accuracy ----
gate=0.5
nnp sweep $GRID --finetune train.csv --finetune-epochs $EP -q -o pg --max-drop $gate --best best.bin
expect_rc "gate on fine-tuned accuracy passes" 0
want=$(awk -F, -v g=$gate 'NR > 2 && $17 != "" && $18 <= g {
	if (b == "" || $5 < p || ($5 == p && $17 > a)) { b = $1; p = $5; a = $17 } } END { print b }' pg/report.csv)
got=$(awk '$1 == "\"best\":" { v = $2; sub(/,$/, "", v); print v }' pg/report.json)
check "best = smallest candidate within the gate after fine-tuning" test -n "$want" -a "$want" = "$got"
check "--best writes the fine-tuned model" cmp -s best.bin "$(csv_field pg/report.csv "$got" 21)"
expect_err "verdict speaks of fine-tuning" "accuracy drop after fine-tuning"
# A gate no fine-tuned model meets: one tiny candidate (min_keep's single
# neuron per layer) and a learning rate too small to move any weight, so
# fine-tuning leaves every accuracy as it was.
nnp sweep --mean 100 --std 100 --finetune train.csv --finetune-lr 1e-12 -q -o pg2 --max-drop 5
expect_rc "gate on fine-tuned accuracy fails with exit 1" 1
expect_err "failed verdict speaks of fine-tuning" "original accuracy after fine-tuning; closest: mean 100, std 100"
check "--finetune-lr reaches the training" test "$(csv_field pg2/report.csv 0 8)" = "$(csv_field pg2/report.csv 0 17)"
check "the failed gate's fine-tuned drop is over it" awk -F, '$1 == 0 && $18 > 5 { f = 1 } END { exit !f }' pg2/report.csv

# ---- without --finetune nothing changes ----
nnp sweep $GRID -q -o plain
check "no fine-tuned columns without --finetune" awk -F, 'NR == 1 && NF == 16 { f = 1 } END { exit !f }' plain/report.csv
check "no finetune key without --finetune" test "$(grep -c finetune plain/report.json)" = 0
check "no -ft files without --finetune" test -z "$(ls plain | grep -- -ft)"

# ---- bad values ----
nnp sweep $GRID --finetune train.csv --finetune-epochs 0 -o bad1
expect_rc "--finetune-epochs 0: exit 2" 2
expect_err "--finetune-epochs 0: says why" "--finetune-epochs"
nnp sweep $GRID --finetune train.csv --finetune-lr 0 -o bad1
expect_rc "--finetune-lr 0: exit 2" 2
nnp sweep $GRID --finetune train.csv --finetune-seed x -o bad1
expect_rc "--finetune-seed x: exit 2" 2
nnp sweep $GRID --finetune-epochs 3 -o bad1
expect_rc "--finetune-epochs without --finetune: exit 2" 2
expect_err "--finetune-epochs without --finetune: says why" "--finetune-epochs needs --finetune"
nnp sweep $GRID --finetune missing.csv -o bad1
expect_rc "missing training file: exit 3" 3
expect_err "missing training file: named" "missing.csv"
check "nothing written when the training data is missing" test ! -e bad1
awk -F, '{ print $1 "," $2 "," $3 }' train.csv >narrow.csv
nnp sweep $GRID --finetune narrow.csv -o bad2
expect_rc "training data with the wrong feature count: exit 3" 3
check "nothing written for bad training data" test ! -e bad2

finish
