# End-to-end tests of `nnprune sweep --finetune`, on generated data.
# usage: bash test_sweep_finetune.sh NNPRUNE_BINARY SOURCE_DIR
# Helpers from lib.sh (nnp, expect_*, check, gen_blobs, json_num, finish).
. "$(dirname "$0")/lib.sh" "$@"

same_num() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(a != "" && b != "" && d < 1e-9 && d > -1e-9) }'; }

# Field F of the CSV row whose first field is KEY ("original" or an index).
csv_field() { awk -F, -v k="$2" -v f="$3" '$1 == k { print $f }' "$1"; }

# ---- setup: data, a briefly trained model, its statistics ----
# 3 classes of Gaussian blobs in 8 features, centres 1.2 apart.
gen_blobs 7 600 8 3 1.2 >train.csv
gen_blobs 99 300 8 3 1.2 >val.csv
nnp train train.csv -o model.bin --layers 8,16,12,3 --epochs 3 --seed 1 -j 1 -q
[ "$RC" = 0 ] || { bad "setup: train" "$(last_run)"; finish; }
nnp stats model.bin val.csv
[ "$RC" = 0 ] || { bad "setup: stats" "$(last_run)"; finish; }
GRID="--mean 0,0.2,0.5,1 --std 0.3,1,2"
EP=2

# ---- every candidate fine-tuned, one thread ----
nnp sweep $GRID --finetune train.csv --finetune-epochs $EP -j 1
expect_rc "sweep --finetune runs" 0
check "table has the fine-tuned columns" grep -q "ft accuracy  ft drop  vs ft orig" "$OUT"
check "summary names the fine-tuning" grep -q "fine-tuned for 2 epochs on train.csv" "$OUT"
cp pruned/report.json j1.json
cp pruned/report.csv j1.csv
(cd pruned && cksum ./*-ft$EP.bin) >j1.sums
check "original fine-tuned file written" test -s pruned/model-ft$EP.bin
check "csv has 23 columns" awk -F, 'NR == 1 && NF == 23 && $17 == "ft_accuracy" && $21 == "ft_file" && $23 == "file_bytes" { f = 1 } END { exit !f }' j1.csv

# Every row's fine-tuned figures are what `nnprune eval` says of its file.
rows=0
mismatch=""
while IFS=, read -r key acc loss file; do
	rows=$((rows + 1))
	[ -s "$file" ] || { mismatch="$mismatch $key:nofile"; continue; }
	nnp eval "$file" val.csv --json
	same_num "$acc" "$(json_num "$OUT" accuracy)" || mismatch="$mismatch $key:acc"
	same_num "$loss" "$(json_num "$OUT" loss)" || mismatch="$mismatch $key:loss"
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

# ---- --finetune-batch reaches the training: as finetune --batch ----
nnp sweep $GRID --finetune train.csv --finetune-epochs $EP --finetune-batch 16 -j 1 -q -o pb
expect_rc "sweep --finetune-batch 16 runs" 0
nnp finetune model.bin train.csv -o orig-ft16.bin --epochs $EP --batch 16 -j 1 -q
check "--finetune-batch 16: original = nnprune finetune --batch 16" cmp -s orig-ft16.bin pb/model-ft$EP.bin
check "--finetune-batch 16: another model than batch 64" test -n "$(cmp orig-ft.bin pb/model-ft$EP.bin)"
nnp sweep $GRID --finetune train.csv --finetune-batch 0 -o bad1
expect_rc "--finetune-batch 0: exit 2" 2
expect_err "--finetune-batch 0: says why" "--finetune-batch"

# ---- --finetune-pareto: only the Pareto candidates ----
nnp sweep $GRID --finetune train.csv --finetune-epochs $EP --finetune-pareto -q -o pp
expect_rc "sweep --finetune-pareto runs" 0
# A duplicate is not marked Pareto (its first is) and shares its first's fine-tuning.
wrong=$(awk -F, 'NR > 2 && $15 == "" && (($13 == 1) != ($17 != "")) { print $1 }' pp/report.csv)
check "exactly the Pareto candidates are fine-tuned" test -z "$wrong"
n_pareto=$(awk -F, 'NR > 2 && $13 == 1 { n++ } END { print n + 0 }' pp/report.csv)
# --write distinct: a duplicate's fine-tuned model is its first's file.
n_tuned=$(awk -F, 'NR > 2 && $17 != "" && $15 == "" { n++ } END { print n + 0 }' pp/report.csv)
n_files=$(ls pp/*-ft$EP.bin | wc -l)
check "some candidates are not Pareto" test "$n_pareto" -lt 12
check "one -ft file per fine-tuned candidate plus the original" test "$n_files" = $((n_tuned + 1))
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
expect_err "verdict speaks of fine-tuning" "after fine-tuning; written to best.bin"
# A gate no fine-tuned model meets: one tiny candidate (min_keep's single
# neuron per layer) and a learning rate too small to move any weight, so
# fine-tuning leaves every accuracy as it was.
nnp sweep --mean 100 --std 100 --finetune train.csv --finetune-lr 1e-12 -q -o pg2 --max-drop 5
expect_rc "gate on fine-tuned accuracy fails with exit 1" 1
expect_err "failed verdict speaks of fine-tuning" "no candidate passes --max-drop 5 after fine-tuning; closest: #0 (mean 100, std 100)"
check "--finetune-lr reaches the training" test "$(csv_field pg2/report.csv 0 8)" = "$(csv_field pg2/report.csv 0 17)"
check "the failed gate's fine-tuned drop is over it" awk -F, '$1 == 0 && $18 > 5 { f = 1 } END { exit !f }' pg2/report.csv

# ---- without --finetune nothing changes ----
nnp sweep $GRID -q -o plain
check "no fine-tuned columns without --finetune" awk -F, 'NR == 1 && NF == 18 { f = 1 } END { exit !f }' plain/report.csv
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
