#!/usr/bin/env bash
# End-to-end tests of 'nnprune sweep --method/--compensate/--calib' and the
# budgets (--keep, --allocate, --target-params): the rule's outputs stay as
# they were, every method x compensation writes models named by budget that
# eval re-scores to the report's figures, calibration rows apart from the
# evaluation data, the same models as 'nnprune prune', fine-tuning, the gate,
# streaming, -j, and the usage errors.
# usage: test_sweep_method.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_blobs16_model_stats
P0=$((17 * 32 + 33 * 16 + 17 * 3))

# hidden widths "a-b" of a model, from info --json (no JSON tool needed)
# the weights and biases of a model, without its metadata
weights_of() {
	nnp convert "$1" w.json
	sed -n '/^  "layers"/,/^  "metadata"/p' w.json
}
# a directory's reports with the directory name taken out
same_reports() {
	for f in report.md report.csv report.json report.svg stats.svg; do
		cmp -s <(sed "s#$1/#DIR/#g" "$1/$f") <(sed "s#$2/#DIR/#g" "$2/$f") || return 1
	done
}
# the model files of two directories are byte-identical
same_models() {
	[ "$(cd "$1" && ls *.bin)" = "$(cd "$2" && ls *.bin)" ] || return 1
	for f in "$1"/*.bin; do
		cmp -s "$f" "$2/${f#$1/}" || return 1
	done
}

# --- the rule as it always was ------------------------------------------------------------------
# (Directory names of one length: the Markdown table's file column width follows them.)
nnp sweep -q -o pl
nnp sweep -q --method rule -o ru
expect_rc "--method rule: exit 0" 0
check "--method rule = the default: models" same_models pl ru
check "--method rule = the default: reports" same_reports pl ru
nnp sweep -q --method rule --compensate fold -o rf
check "--compensate fold = the default" same_models pl rf
nnp sweep -q --no-fold -o nf
nnp sweep -q --compensate none -o nn
check "--compensate none = --no-fold: models" same_models nf nn
check "--compensate none = --no-fold: reports" same_reports nf nn
check "the default sweep names models by thresholds" test -s pl/model-m0-s0.1.bin
expect_eq "the default sweep: one model per distinct candidate" \
	"$(sed -n 's/^ *"distinct": \([0-9]*\).*/\1/p' pl/report.json)" "$(ls pl/*.bin | wc -l)"
check "report.md: calibration = evaluation data, said" \
	grep -q '^- calibration: the evaluation data itself' pl/report.md
check "report.md: the rule shows folding" grep -q '^- folding: on' pl/report.md
nnp info pl/model-m0.1-s0.4.bin
check "plain provenance: no calibration record (as before)" not grep -q calibration "$OUT"
if need_py "report.json: method, compensation, calibration"; then
	expect_eq "report.json: method, compensation, calibration" "rule fold True" \
		"$(py pl/report.json '"%s %s %s" % (j["method"], j["compensate"], j["calibration"]["evaluation_data"])')"
fi

# --- every method x compensation --------------------------------------------------------------
for method in score obs; do
	for comp in none fold ls; do
		name="$method/$comp"
		d=o-$method-$comp
		nnp sweep --method $method --compensate $comp --calib calib.csv -o $d
		expect_rc "sweep $name: exit 0" 0
		check "sweep $name: stderr empty" test ! -s "$ERR"
		expect_out "sweep $name: a budget column" "budget"
		expect_out "sweep $name: the budgets" "keep 0.9"
		expect_out "sweep $name: says how it calibrated" "$method + $comp calibrated on calib.csv (300 rows)"
		check "sweep $name: no threshold column" not grep -q '  mean  ' "$OUT"
		# The default budget: --keep 0.9:0.1:0.1, nine candidates.
		expect_eq "sweep $name: nine models" 9 "$(ls $d/*.bin | wc -l)"
		check "sweep $name: named by budget" test -s $d/model-$method-$comp-k0.5.bin
		expect_eq "sweep $name: keep 0.5 keeps half" "16-8" "$(hidden_of $d/model-$method-$comp-k0.5.bin)"
		expect_eq "sweep $name: keep 0.1 keeps round(0.1 x width)" "3-2" \
			"$(hidden_of $d/model-$method-$comp-k0.1.bin)"
		check "sweep $name: report.md names the method" \
			grep -q "^- method: $method, compensation $comp" $d/report.md
		check "sweep $name: report.md names the calibration rows" \
			grep -q '^- calibration: calib.csv (300 rows), not the evaluation data' $d/report.md
		expect_eq "sweep $name: report.csv gains the budget columns" \
			"candidate,mean,std,kept,params,bytes,macs,accuracy,accuracy_drop,loss,agreement,reduction,pareto,floor_hit,same_as,file,keep,allocation_step,target_params,nonzeros,file_bytes" \
			"$(head -1 $d/report.csv)"
		nnp info $d/model-$method-$comp-k0.5.bin
		expect_out "sweep $name: provenance method" "\"method\":	\"$method\""
		expect_out "sweep $name: provenance compensation" "\"compensate\":	\"$comp\""
		expect_out "sweep $name: provenance budget" '"keep":	0.5'
		expect_out "sweep $name: provenance calibration" '"path":	"calib.csv"'
	done
done

# Every written model, re-scored by eval, gives the report's figures.
n=0 n_ok=0
while IFS=, read -r idx mean std kept params bytes macs acc drop loss agree red par fl same file rest; do
	[ "$idx" = candidate ] || [ "$idx" = original ] && continue
	n=$((n + 1))
	rescore "$file" blobs.csv
	if awk -v a="$acc" -v b="$EV_ACC" -v l="$loss" -v m="$EV_LOSS" \
		'BEGIN { d = l - m; if (d < 0) d = -d; exit !(int(a * 600 + 0.5) == int(b * 600 + 0.5) && d <= 1e-6 * l) }' &&
		[ "$INFO_PARAMS" = "$params" ] && [ "$INFO_HIDDEN" = "$kept" ]; then
		n_ok=$((n_ok + 1))
	else
		echo "  $file: eval $EV_ACC $EV_LOSS, info $INFO_PARAMS $INFO_HIDDEN; report $acc $loss $params $kept"
	fi
done <o-obs-ls/report.csv
expect_eq "obs/ls: eval and info of each model = report" "$n" "$n_ok"
check "obs/ls: re-scored some models" test "$n" = 9

# The same models as 'nnprune prune'.
for mc in "score ls" "obs ls" "obs fold" "score none"; do
	set -- $mc
	nnp prune model.bin --calib calib.csv --method $1 --compensate $2 --keep 0.3 -o pr.bin
	expect_eq "sweep $1/$2 keep 0.3 = prune --keep 0.3 (weights)" "$(weights_of pr.bin)" \
		"$(weights_of o-$1-$2/model-$1-$2-k0.3.bin)"
done

# Compensation changes the model; the obs order differs from the score order.
check "obs: none/ls differ" not cmp -s o-obs-none/model-obs-none-k0.5.bin o-obs-ls/model-obs-ls-k0.5.bin
check "score/obs ls differ" not cmp -s o-score-ls/model-score-ls-k0.3.bin o-obs-ls/model-obs-ls-k0.3.bin

# --- budgets ---------------------------------------------------------------------------------------
nnp sweep -q --method obs --calib calib.csv --keep 0.25,1,0.75:0.5:0.125 -o kl
expect_rc "--keep list and downward range: exit 0" 0
expect_eq "--keep 0.25,1,0.75:0.5:0.125: the five files" \
	"model-obs-ls-k0.25.bin model-obs-ls-k0.5.bin model-obs-ls-k0.625.bin model-obs-ls-k0.75.bin model-obs-ls-k1.bin" \
	"$(cd kl && ls *.bin | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--keep 1: the original's shape" "32-16" "$(hidden_of kl/model-obs-ls-k1.bin)"
nnp eval --json kl/model-obs-ls-k1.bin blobs.csv
cp "$OUT" k1.json
nnp eval --json model.bin blobs.csv
expect_eq "--keep 1: the original's loss" "$(json_num "$OUT" loss)" "$(json_num k1.json loss)"

nnp sweep -q --method score --calib calib.csv --allocate -o al
expect_rc "--allocate: exit 0" 0
check "--allocate: step files" test -s al/model-score-ls-a1.bin
check "--allocate: no keep files" not test -e al/model-score-ls-k0.9.bin
if need_py "--allocate report"; then
	expect_eq "--allocate: one candidate per step, numbered from 1" "True" \
		"$(py al/report.json '[c["budget"]["allocation_step"] for c in j["candidates"]] == list(range(1, len(j["candidates"]) + 1))')"
	expect_eq "--allocate: parameters strictly decrease along the path" "True" \
		"$(py al/report.json 'all(a["params"] > b["params"] for a, b in zip(j["candidates"], j["candidates"][1:]))')"
	expect_eq "--allocate: each step lowers one layer, never raises any" "True" \
		"$(py al/report.json 'all(sum(x != y for x, y in zip(a["kept"], b["kept"])) == 1 and all(y <= x for x, y in zip(a["kept"], b["kept"])) for a, b in zip(j["candidates"], j["candidates"][1:]))')"
	expect_eq "--allocate: the original has no budget, candidates no thresholds" "None None None" \
		"$(py al/report.json '"%s %s %s" % (j["original"]["budget"], j["candidates"][0]["mean"], j["candidates"][0]["std"])')"
fi

nnp sweep -q --method score --calib calib.csv --allocate --allocate-step 0.25 -o a4
expect_rc "--allocate-step 0.25: exit 0" 0
# Quarters of 32 and 16: three levels below the whole width per layer, six steps.
expect_eq "--allocate-step 0.25: six steps" 6 "$(ls a4/*.bin | wc -l)"
nnp sweep -q --method obs --calib calib.csv --target-params 50%,400,100% -o tp
expect_rc "--target-params: exit 0" 0
expect_eq "--target-params 50%: named by its parameter count" "model-obs-ls-t$((P0 / 2)).bin" \
	"$(cd tp && ls *.bin | grep -- "-t$((P0 / 2))\.")"
expect_eq "--target-params 100%: nothing removed" "32-16" "$(hidden_of tp/model-obs-ls-t$P0.bin)"
for f in tp/model-obs-ls-t$((P0 / 2)).bin tp/model-obs-ls-t400.bin; do
	lim=${f##*-t}
	lim=${lim%.bin}
	nnp info --json $f
	check "--target-params: $f within $lim parameters" test "$(json_num "$OUT" params)" -le "$lim"
done
nnp info tp/model-obs-ls-t400.bin
expect_out "--target-params: provenance budget" '"target_params":	400'
expect_out "--target-params: provenance allocation step" '"allocation_step":'
nnp sweep -q --method obs --calib calib.csv --target-params 10 -o tsmall
expect_rc "--target-params below the path: exit 2" 2
expect_err "--target-params below the path: says why" "below the smallest model the allocation reaches"

# --widths: one candidate per set, exactly those counts, the model 'prune --widths' writes.
nnp sweep -q --method obs --calib calib.csv --widths 16,8/32,3/5,16 -o wd
expect_rc "--widths three sets: exit 0" 0
expect_eq "--widths: files named by the widths" \
	"model-obs-ls-w16-8.bin model-obs-ls-w32-3.bin model-obs-ls-w5-16.bin" \
	"$(cd wd && ls *.bin | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--widths 5,16: the shape" "5-16" "$(hidden_of wd/model-obs-ls-w5-16.bin)"
nnp prune model.bin --calib calib.csv --method obs --widths 32,3 -o pw.bin
expect_eq "--widths 32,3: the weights 'prune --widths' gives" "$(weights_of pw.bin)" \
	"$(weights_of wd/model-obs-ls-w32-3.bin)"
nnp info wd/model-obs-ls-w16-8.bin
expect_out "--widths: provenance budget" '"widths":	[16, 8]'
check "--widths: the report's budget column" grep -q '| widths ' wd/report.md
if need_py "--widths report budgets"; then
	expect_eq "--widths: report.json budgets" "[[16, 8], [32, 3], [5, 16]]" \
		"$(py wd/report.json '[c["budget"]["widths"] for c in j["candidates"]]')"
fi
nnp sweep -q --method score --calib calib.csv --widths 16,8 --keep 0.5 --write all -o wk
expect_rc "--widths with --keep: exit 0" 0
check "--widths with --keep: both candidates" test -s wk/model-score-ls-k0.5.bin -a \
	-s wk/model-score-ls-w16-8.bin
for w in 16 16,8,4 40,8 16,17 16,8/4; do
	expect_usage "--widths $w" "--widths" sweep -q --method obs --calib calib.csv --widths $w -o we
done
expect_err "--widths 16,8/4: every set alike" "'4' has 1 value, the first set 2"
nnp sweep -q --method obs --calib calib.csv --widths 16,17 -o we
expect_err "--widths 16,17: which layer" "hidden layer 1 has 16 neurons, it cannot keep 17"
check "--widths errors write nothing" test ! -e we

# --- calibration -----------------------------------------------------------------------------------
# Without --calib the methods calibrate on the evaluation rows, and say so.
nnp sweep --method score -o selfcal
expect_rc "score without --calib: exit 0" 0
expect_out "score without --calib: says it" "calibrated on the evaluation data itself"
check "score without --calib: report.md says it" \
	grep -q '^- calibration: the evaluation data itself' selfcal/report.md
nnp info selfcal/model-score-ls-k0.5.bin
expect_out "score without --calib: provenance names the data" '"path":	"blobs.csv"'
# A calibration file with the evaluation data's content is no separate set.
cp blobs.csv blobs-copy.csv
nnp sweep --method score --calib blobs-copy.csv --keep 0.5 -o copycal
expect_out "--calib a copy of the data: says it" "calibrated on the evaluation data itself"
check "--calib a copy of the data: report.md says it" \
	grep -q '^- calibration: the evaluation data itself' copycal/report.md
# --calib-rows: the first N rows.
head -100 calib.csv >calib100.csv
nnp sweep -q --method obs --calib calib.csv --calib-rows 100 --keep 0.5 -o cr
nnp sweep -q --method obs --calib calib100.csv --keep 0.5 -o c100
expect_eq "--calib-rows 100 = the first 100 rows" "$(weights_of c100/model-obs-ls-k0.5.bin)" \
	"$(weights_of cr/model-obs-ls-k0.5.bin)"
check "--calib-rows 100: report.md counts 100 rows" grep -q '(100 rows), not the evaluation' cr/report.md
# The rule with --calib takes its thresholds on the calibration rows' statistics.
nnp sweep -q --calib calib.csv --mean 0.5 --std 1 -o rc
nnp stats -q model.bin calib.csv -o calib.stats.json
nnp sweep -q --stats calib.stats.json --mean 0.5 --std 1 -o rcs
expect_eq "rule --calib: the calibration statistics' kept sets and weights" \
	"$(weights_of rcs/model-m0.5-s1.bin)" "$(weights_of rc/model-m0.5-s1.bin)"
check "rule --calib: still evaluated on the statistics' data" grep -q '^- data: blobs.csv (600 rows)' rc/report.md
check "rule --calib: report.md names the calibration" grep -q '^- calibration: calib.csv' rc/report.md
nnp info rc/model-m0.5-s1.bin
expect_out "rule --calib: provenance calibration" '"path":	"calib.csv"'
expect_out "rule --calib: provenance compensation" '"compensate":	"fold"'
# The rule with a refit: files named apart, the same models as prune.
nnp sweep -q --compensate ls --calib calib.csv --mean 0.5 --std 1 -o rls
expect_rc "rule --compensate ls: exit 0" 0
check "rule --compensate ls: named apart" test -s rls/model-rule-ls-m0.5-s1.bin
nnp prune model.bin --calib calib.csv --method rule --compensate ls --mean 0.5 --std 1 -o prl.bin
expect_eq "rule ls = prune rule ls (weights)" "$(weights_of prl.bin)" \
	"$(weights_of rls/model-rule-ls-m0.5-s1.bin)"
check "rule ls: report.md names the method" grep -q '^- method: rule, compensation ls' rls/report.md

# --- gate, fine-tuning, JSON ---------------------------------------------------------------------
nnp sweep --method obs --calib calib.csv --max-drop 100 --best best.bin -o g
expect_rc "--max-drop with a method: exit 0" 0
expect_err "--max-drop: names the budget" "(keep 0.1)"
check "--best written" test -s best.bin
nnp sweep --method obs --calib calib.csv --keep 0.1 --max-drop 0 -o g0
expect_rc "--max-drop 0 out of reach: exit 1" 1
expect_err "--max-drop 0: the closest by budget" "closest: #0 (keep 0.1)"
nnp sweep -q --method score --calib calib.csv --keep 0.5,0.25 --finetune blobs.csv \
	--finetune-epochs 1 -o ft
expect_rc "--finetune with a method: exit 0" 0
check "--finetune: fine-tuned files named by budget" test -s ft/model-score-ls-k0.5-ft1.bin
nnp info ft/model-score-ls-k0.5-ft1.bin
expect_out "--finetune: provenance chain" '"operation":	"finetune"'
expect_out "--finetune: the pruning before it" '"method":	"score"'
nnp sweep --json --method obs --calib calib.csv --keep 0.5 -o js
expect_rc "--json with a method: exit 0" 0
expect_same "--json: stdout is report.json" "$OUT" js/report.json
if need_py "report.json: budget and method"; then
	expect_eq "report.json: budget and method" '{"keep": 0.5} obs ls 0.001 False' \
		"$(py js/report.json '"%s %s %s %s %s" % (json.dumps(j["candidates"][0]["budget"]), j["method"], j["compensate"], j["lambda_rel"], j["calibration"]["evaluation_data"])')"
fi
check "report.svg: titles name the budget" grep -q '#0: keep 0.5' js/report.svg
check "stats.svg: no threshold boxes" not grep -q 'threshold boxes' js/stats.svg

# --- determinism and streaming ---------------------------------------------------------------------
nnp sweep -q --method obs --calib calib.csv --allocate --keep 0.8,0.4 -j 1 -o d1
nnp sweep -q --method obs --calib calib.csv --allocate --keep 0.8,0.4 -j 2 -o d2
check "-j 1 / -j 2: models identical" same_models d1 d2
check "-j 1 / -j 2: reports identical" same_reports d1 d2
nnp sweep -q --method obs --calib calib.csv --allocate --keep 0.8,0.4 --mem-limit 1K \
	--calib-mem-limit 1K -o ds
expect_rc "streamed evaluation and calibration: exit 0" 0
check "streamed evaluation and calibration = in memory: reports" same_reports d1 ds
check "streamed evaluation and calibration = in memory: models" same_models d1 ds
nnp sweep -q --method obs --calib calib.csv --allocate --keep 0.8,0.4 --mem-limit 0 \
	--calib-mem-limit 0 -o d0
expect_rc "--mem-limit 0 --calib-mem-limit 0 (never held): exit 0" 0
check "--mem-limit 0 --calib-mem-limit 0 = in memory: models" same_models d1 d0
nnp sweep -q --method obs --allocate --keep 0.8,0.4 -o de
nnp sweep -q --method obs --allocate --keep 0.8,0.4 --mem-limit 1K -o dm
expect_rc "evaluation data as calibration, beyond --mem-limit: exit 0" 0
check "evaluation data as calibration, streamed = in memory: models" same_models de dm
check "evaluation data as calibration, streamed = in memory: reports" same_reports de dm

# --- usage errors ----------------------------------------------------------------------------------
for bad_args in "--keep 0.5" "--allocate" "--target-params 50%" "--method score --mean 0.1" \
	"--method obs --min-keep 2" "--method score --keep 0" "--method score --keep 1.5" \
	"--method score --keep 0.9:0.1:0" "--method score --keep 0.9:0.1" "--method score --keep x" \
	"--method score --keep 0.5,,0.4" "--method magic" "--compensate more" \
	"--no-fold --compensate ls" "--method score --compensate fold --lambda 0.1" \
	"--calib-rows 10" "--calib-labels l.idx" "--method obs --target-params 0" \
	"--method obs --target-params 101%" "--method obs --allocate-step 0.1" \
	"--method obs --allocate --allocate-step 0" "--widths 16,8" "--method obs --widths 16,,8" \
	"--method obs --widths 16,8/" "--method obs --widths 0,8" \
	"--method obs --calib calib.csv --calib-mem-limit 1X"; do
	nnp sweep $bad_args -o u
	expect_rc "usage: sweep $bad_args: exit 2" 2
	check "usage: sweep $bad_args: usage line" grep -q '^usage: nnprune sweep' "$ERR"
done
check "usage errors write nothing" test ! -e u
: >empty.csv
nnp sweep --method obs --calib empty.csv -o e
expect_rc "empty calibration file: exit 3" 3
gen_blobs 5 50 8 3 >narrow.csv
nnp sweep --method obs --calib narrow.csv -o e
expect_rc "calibration feature mismatch: exit 3" 3
expect_err "calibration feature mismatch: names the file" "narrow.csv"
nnp sweep --method obs --calib calib.csv -o e --keep 0.5 --best calib.csv --max-drop 100
expect_rc "--best over the calibration file: exit 4" 4

nnp sweep --help
expect_out "--help: the methods" "--method score"
expect_out "--help: the calibration" "--calib DATA"

finish
