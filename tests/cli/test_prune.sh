#!/usr/bin/env bash
# End-to-end tests of 'nnprune prune' on generated blobs: every method x
# compensation writes a model of the budget's shape that eval and info read,
# with its provenance; the budgets (--keep, --target-params, the rule's
# thresholds); the rule's models equal the sweep's; usage and input errors;
# identical output for any -j.
# usage: test_prune.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

# 3 classes of 16-D blobs and a 16-32-16-3 ReLU network.
make_wide_model
P0=$((17 * 32 + 33 * 16 + 17 * 3))

# params of a 16-a-b-3 network
params_of() { echo $((17 * $1 + ($1 + 1) * $2 + ($2 + 1) * 3)); }

# --- every method x compensation -------------------------------------------------------------
declare -A loss
for method in score obs rule; do
	for comp in none fold ls; do
		name="$method/$comp"
		out=p-$method-$comp.bin
		if [ $method = rule ]; then
			nnp prune model.bin --calib calib.csv --method $method --compensate $comp \
				--mean 0.5 --std 1 -o $out
		else
			nnp prune model.bin --calib calib.csv --method $method --compensate $comp \
				--keep 0.5 -o $out
		fi
		expect_rc "prune $name: exit 0" 0
		check "prune $name: stderr empty" test ! -s "$ERR"
		expect_out "prune $name: summary names method and compensation" "$method + $comp"
		expect_out "prune $name: summary gives the parameters" "$P0 -> "
		check "prune $name: model written" test -s $out
		cp "$OUT" summary.txt
		hid=$(hidden_of $out)
		if [ $method = rule ]; then
			check "prune $name: removed neurons" test "$hid" != "32-16"
		else
			# --keep 0.5: round(0.5 * 32), round(0.5 * 16)
			expect_eq "prune $name: shape follows --keep 0.5" "16-8" "$hid"
		fi
		expect_eq "prune $name: summary's count is the model's" \
			"$(params_of ${hid%-*} ${hid#*-})" \
			"$(sed -n 's/.*: [0-9]* -> \([0-9]*\) parameters.*/\1/p' summary.txt)"
		nnp eval $out blobs.csv
		expect_rc "eval of prune $name: exit 0" 0
		# Half the neurons of a network at ~99% on easy blobs: all nine stay above 95%.
		check "eval of prune $name: accuracy >= 95%" num_le 95 \
			"$(sed -n 's/.*accuracy \([0-9.]*\)%.*/\1/p' "$OUT")"
		nnp eval --json $out blobs.csv
		loss[$method-$comp]=$(json_num "$OUT" loss)
		if need_py "eval of prune $name: values"; then
			expect_eval "eval of prune $name: accuracy and loss = a double forward pass" $out blobs.csv
		fi
		nnp info $out
		expect_out "info of prune $name: operation" '"operation":	"prune"'
		expect_out "info of prune $name: method" "\"method\":	\"$method\""
		expect_out "info of prune $name: compensation" "\"compensate\":	\"$comp\""
		expect_out "info of prune $name: calibration file" '"path":	"calib.csv"'
		expect_out "info of prune $name: kept indices" '"kept":'
		expect_out "info of prune $name: the training before it" '"operation":	"train"'
		if [ $method = obs ] || [ $comp = ls ]; then
			expect_out "info of prune $name: ridge lambda" '"lambda_rel":	0.001'
		else
			check "info of prune $name: no lambda" not grep -q lambda_rel "$OUT"
		fi
	done
done
# Compensation repairs what pruning broke: with the same neurons removed, folding
# the removed neurons' means into the next bias, and least squares, each give a
# lower loss than leaving the gap (a wrong sign or a wrong lambda would not).
for method in score obs rule; do
	check "$method: loss with fold < without compensation" \
		num_lt "${loss[$method-fold]}" "${loss[$method-none]}"
	check "$method: loss with ls < without compensation" \
		num_lt "${loss[$method-ls]}" "${loss[$method-none]}"
done

if need_py "provenance values"; then
	nnp info --json p-obs-ls.bin
	cp "$OUT" obs.json
	nnp info --json model.bin
	expect_eq "provenance: source CRC-32 is the model's" "$(py "$OUT" 'j["crc32"]')" \
		"$(py obs.json 'j["provenance"]["source"]["crc32"]')"
	expect_eq "provenance: calibration rows and CRC-32" \
		"300 $(pyrun -c 'import zlib; print("%08x" % zlib.crc32(open("calib.csv", "rb").read()))')" \
		"$(py obs.json '"%d %s" % (j["provenance"]["calibration"]["rows"], j["provenance"]["calibration"]["crc32"])')"
	expect_eq "provenance: budget" '{"keep": 0.5}' "$(py obs.json 'j["provenance"]["budget"]')"
	expect_eq "provenance: as many kept indices as neurons, ascending, in range" "True" \
		"$(py obs.json 'all(len(k) == l["out"] and k == sorted(set(k)) and k[-1] < w for k, l, w in zip(j["provenance"]["kept"], j["layers"], [32, 16]))')"
	nnp info --json p-rule-fold.bin
	expect_eq "provenance (rule): thresholds, min_keep" '{"mean": 0.5, "std": 1} 1' \
		"$(py "$OUT" '"%s %d" % (json.dumps(j["provenance"]["thresholds"]), j["provenance"]["min_keep"])')"
fi

# Compensation matters: the three score models differ.
check "score none/fold differ" not cmp -s p-score-none.bin p-score-fold.bin
check "score fold/ls differ" not cmp -s p-score-fold.bin p-score-ls.bin
check "obs/score ls differ in what they keep or how" not cmp -s p-obs-ls.bin p-score-ls.bin

# --- the rule: the same models as 'sweep' on the same data -----------------------------------
nnp stats -q model.bin calib.csv
nnp sweep -q --mean 0.5 --std 1 -o sw
nnp sweep -q --mean 0.5 --std 1 --no-fold -o swn
for pair in "p-rule-fold.bin sw/model-m0.5-s1.bin" "p-rule-none.bin swn/model-m0.5-s1.bin"; do
	set -- $pair
	nnp eval --json $1 blobs.csv
	cp "$OUT" e1.json
	nnp eval --json $2 blobs.csv
	expect_eq "rule $1 = sweep's model (accuracy, loss)" \
		"$(json_num e1.json accuracy) $(json_num e1.json loss)" \
		"$(json_num "$OUT" accuracy) $(json_num "$OUT" loss)"
	nnp convert $1 a.json
	nnp convert $2 b.json
	expect_eq "rule $1 = sweep's model (weights)" "$(sed -n '/^  "layers"/,/^  "metadata"/p' b.json)" \
		"$(sed -n '/^  "layers"/,/^  "metadata"/p' a.json)"
done
nnp prune model.bin --calib calib.csv --method rule --mean 1000 --std 1000 --min-keep 5 -o mk.bin
expect_rc "rule --min-keep 5: exit 0" 0
expect_eq "rule --min-keep 5: every layer keeps 5" "5-5" "$(hidden_of mk.bin)"

# --- budgets -------------------------------------------------------------------------------------
nnp prune model.bin --calib calib.csv --keep 1 -o k1.bin
expect_rc "--keep 1: exit 0" 0
expect_eq "--keep 1: nothing removed" "32-16" "$(hidden_of k1.bin)"
nnp eval --json k1.bin blobs.csv
cp "$OUT" k1.json
nnp eval --json model.bin blobs.csv
expect_eq "--keep 1: the original's figures" "$(json_num "$OUT" loss)" "$(json_num k1.json loss)"
nnp prune model.bin --calib calib.csv --keep 0.01 -o k0.bin
expect_eq "--keep 0.01: at least one neuron per layer" "1-1" "$(hidden_of k0.bin)"

for t in 50% 400; do
	for method in score obs; do
		nnp prune model.bin --calib calib.csv --method $method --target-params $t -o tp.bin
		expect_rc "--target-params $t ($method): exit 0" 0
		expect_out "--target-params $t ($method): allocation step in the summary" "allocation step"
		hid=$(hidden_of tp.bin)
		n=$(params_of ${hid%-*} ${hid#*-})
		lim=$t
		[ $t = 50% ] && lim=$((P0 / 2))
		check "--target-params $t ($method): $n <= $lim parameters" test "$n" -le "$lim"
		check "--target-params $t ($method): something kept" test "$n" -gt 0
	done
done
nnp info tp.bin
expect_out "--target-params: budget in the provenance" '"target":	"400"'
expect_out "--target-params: allocation step in the provenance" '"allocation_step":'
nnp prune model.bin --calib calib.csv --target-params 50% --allocate-step 0.25 -o ta.bin
expect_rc "--allocate-step 0.25: exit 0" 0
hid=$(hidden_of ta.bin)
# A grid of quarters: every hidden width is a multiple of a quarter of its layer.
check "--allocate-step 0.25: widths on the grid ($hid)" \
	test $(( ${hid%-*} % 8 )) -eq 0 -a $(( ${hid#*-} % 4 )) -eq 0
nnp info ta.bin
expect_out "--allocate-step: grid step in the provenance" '"grid_step":	0.25'
nnp prune model.bin --calib calib.csv --target-params 100% -o tall.bin
expect_rc "--target-params 100%: exit 0" 0
expect_eq "--target-params 100%: nothing removed" "32-16" "$(hidden_of tall.bin)"
nnp prune model.bin --calib calib.csv --target-params 10 -o tsmall.bin
expect_rc "--target-params 10: usage error" 2
expect_err "--target-params 10: says why" "below the smallest model the allocation reaches"
check "--target-params 10: no file" test ! -e tsmall.bin

# --widths: exactly those counts, the same model as the fraction that gives them.
for method in score obs; do
	nnp prune model.bin --calib calib.csv --method $method --widths 16,8 -o w-$method.bin
	expect_rc "--widths 16,8 ($method): exit 0" 0
	expect_out "--widths 16,8 ($method): the budget in the summary" "$method + ls (widths 16,8)"
	expect_eq "--widths 16,8 ($method): the shape" "16-8" "$(hidden_of w-$method.bin)"
	nnp eval --json w-$method.bin blobs.csv
	cp "$OUT" w.json
	nnp eval --json p-$method-ls.bin blobs.csv
	expect_eq "--widths 16,8 ($method): the model --keep 0.5 gives" "$(json_num "$OUT" loss)" \
		"$(json_num w.json loss)"
done
nnp info w-obs.bin
expect_out "--widths: budget in the provenance" '"widths":	[16, 8]'
nnp prune model.bin --calib calib.csv --method obs --widths 32,3 -o w3.bin
expect_eq "--widths 32,3: a whole layer and a narrow one" "32-3" "$(hidden_of w3.bin)"

# --- calibration data ----------------------------------------------------------------------------
nnp prune model.bin --calib calib.csv --calib-rows 100 --keep 0.5 -o r100.bin
expect_rc "--calib-rows 100: exit 0" 0
expect_out "--calib-rows 100: summary counts 100 rows" "on 100 calibration rows"
nnp info r100.bin
expect_out "--calib-rows 100: provenance rows" '"rows":	100'
head -100 calib.csv >calib100.csv
nnp prune model.bin --calib calib100.csv --keep 0.5 -o h100.bin
nnp convert r100.bin a.json
nnp convert h100.bin b.json
expect_eq "--calib-rows 100 = the first 100 rows" "$(sed -n '/^  "layers"/,/^  "metadata"/p' b.json)" \
	"$(sed -n '/^  "layers"/,/^  "metadata"/p' a.json)"
# Labels are not needed: the same rows without their label column.
cut -d, -f2- calib.csv >nolabel.csv
nnp prune model.bin --calib nolabel.csv --no-label --keep 0.5 -o nl.bin
expect_rc "--no-label: exit 0" 0
nnp convert p-score-ls.bin a.json
nnp convert nl.bin b.json
expect_eq "--no-label: same model as with labels" "$(sed -n '/^  "layers"/,/^  "metadata"/p' a.json)" \
	"$(sed -n '/^  "layers"/,/^  "metadata"/p' b.json)"
# Labels outside the model's outputs do not matter either.
awk -F, 'BEGIN { OFS = "," } { $1 = 9; print }' calib.csv >lab9.csv
nnp prune model.bin --calib lab9.csv --keep 0.5 -o l9.bin
expect_rc "labels out of range are ignored: exit 0" 0
nnp prune model.bin --calib calib.csv --keep 0.5 -o p.json
expect_rc "OUT .json: exit 0" 0
check "OUT .json: a JSON model" grep -q '"format": "nnprune-model"' p.json
nnp prune model.bin --calib calib.csv --keep 0.5 --format bin -o pj.json
check "--format bin wins over the extension" test "$(head -c 4 pj.json | od -An -c | tr -d ' ')" = '211NNP'
nnp prune -q model.bin --calib calib.csv --keep 0.5 -o q.bin
expect_rc "-q: exit 0" 0
check "-q: stdout empty" test ! -s "$OUT"

# Calibration rows beyond --mem-limit are read again at every pass: the same
# model, byte for byte, for every kind of pass (statistics, refits, allocation).
for args in "--method obs --target-params 50%" "--method score --compensate none --keep 0.5" \
	"--method rule --compensate ls --mean 0.5 --std 1" "--method rule --mean 0.5 --std 1"; do
	nnp prune model.bin --calib calib.csv $args -o mem.bin
	for lim in 0 1K; do
		nnp prune model.bin --calib calib.csv $args --mem-limit $lim -o str.bin
		expect_rc "--mem-limit $lim $args: exit 0" 0
		expect_same "--mem-limit $lim $args: the model held in memory gives" mem.bin str.bin
	done
done
nnp prune model.bin --calib calib.csv --calib-rows 100 --keep 0.5 -o mem.bin
nnp prune model.bin --calib calib.csv --calib-rows 100 --keep 0.5 --mem-limit 0 -o str.bin
expect_same "--calib-rows 100, streamed: the same model" mem.bin str.bin
nnp info --json str.bin
expect_out "--calib-rows 100, streamed: 100 rows in the provenance" '"rows":	100'
nnp prune model.bin --calib lab9.csv --method rule --mean 0.5 --std 1 --mem-limit 0 \
	-o l9s.bin
expect_rc "streamed: labels out of range are ignored" 0
# A bad row anywhere in a streamed file is found before any work.
{ cat calib.csv; echo "0,1,x"; } >badtail.csv
nnp prune model.bin --calib badtail.csv --keep 0.5 --mem-limit 0 -o bt.bin
expect_rc "streamed: bad last row: exit 3" 3
expect_one_line_error "streamed: bad last row: one line"
expect_err "streamed: bad last row: where" "badtail.csv:301:"
check "streamed: bad last row: nothing written" test ! -e bt.bin
nnp prune model.bin --calib calib.csv --keep 0.5 --mem-limit 1X -o bt.bin
expect_rc "--mem-limit 1X: exit 2" 2

# A pruned model pruned again keeps the chain of provenance.
nnp prune p-obs-ls.bin --calib calib.csv --keep 0.5 -o again.bin
expect_rc "prune a pruned model: exit 0" 0
expect_eq "prune a pruned model: 8-4" "8-4" "$(hidden_of again.bin)"
nnp info again.bin
check "prune a pruned model: two prune records" test "$(grep -c '"operation":	"prune"' "$OUT")" = 2
nnp finetune again.bin blobs.csv -o ft.bin --epochs 1 -j 1 -q
expect_rc "finetune of a pruned model: exit 0" 0

# --- determinism ---------------------------------------------------------------------------------
for args in "--method score --keep 0.4" "--method obs --keep 0.4" "--method obs --target-params 60%" \
	"--method rule --mean 0.5 --std 1 --compensate ls" "--method score --compensate fold --keep 0.3"; do
	nnp prune model.bin --calib calib.csv $args -j 1 -o j1.bin
	nnp prune model.bin --calib calib.csv $args -j 2 -o j2.bin
	expect_same "prune $args: -j 1 and -j 2 identical" j1.bin j2.bin
	nnp prune model.bin --calib calib.csv $args -j 2 -o j3.bin
	expect_same "prune $args: twice identical" j2.bin j3.bin
done

# --- errors --------------------------------------------------------------------------------------
# Bad budgets: exit 2 naming the option, and where given what is wrong.
# OUT|BUDGET|NAMED|WHY
while IFS='|' read -r out budget named why; do
	expect_usage "$budget" "$named" prune model.bin --calib calib.csv $budget -o $out
	[ -z "$why" ] || expect_err "$budget: what is wrong" "$why"
done <<'EOF'
we.bin|--widths 16|--widths 16: |1 value for a model with 2 hidden layers
we.bin|--widths 16,8,4|--widths 16,8,4: |
we.bin|--widths 40,8|--widths 40,8: |
we.bin|--widths 16,17|--widths 16,17: |hidden layer 1 has 16 neurons, it cannot keep 17
e.bin|--keep 0|--keep|(0, 1]
e.bin|--keep 1.5|--keep|
e.bin|--keep -0.5|--keep|
e.bin|--keep x|--keep|is not a number
EOF
check "--widths errors write nothing" test ! -e we.bin
check "usage errors write nothing" test ! -e e.bin
for bad_args in "--keep 0.5 -o e.bin" "--calib calib.csv -o e.bin" "--calib calib.csv --keep 0.5" \
	"--calib calib.csv --keep 0.5 --target-params 50% -o e.bin" \
	"--calib calib.csv --keep 0.5 --widths 16,8 -o e.bin" \
	"--calib calib.csv --widths 16,8 --target-params 50% -o e.bin" \
	"--calib calib.csv --method rule --mean 0 --std 0 --widths 16,8 -o e.bin" \
	"--calib calib.csv --widths 16,,8 -o e.bin" "--calib calib.csv --widths 16,8, -o e.bin" \
	"--calib calib.csv --widths 0,8 -o e.bin" "--calib calib.csv --widths x -o e.bin" \
	"--calib calib.csv --method score --mean 0.1 --std 0.1 -o e.bin" \
	"--calib calib.csv --method rule --keep 0.5 -o e.bin" \
	"--calib calib.csv --method rule --mean 0.1 -o e.bin" \
	"--calib calib.csv --method magic --keep 0.5 -o e.bin" \
	"--calib calib.csv --compensate more --keep 0.5 -o e.bin" \
	"--calib calib.csv --compensate fold --lambda 0.1 --keep 0.5 -o e.bin" \
	"--calib calib.csv --lambda 0 --keep 0.5 -o e.bin" \
	"--calib calib.csv --target-params 0 -o e.bin" \
	"--calib calib.csv --target-params 150% -o e.bin" \
	"--calib calib.csv --calib-rows 0 --keep 0.5 -o e.bin" \
	"--calib calib.csv --keep 0.5 --allocate-step 0.1 -o e.bin" \
	"--calib calib.csv --target-params 50% --allocate-step 0.6 -o e.bin"; do
	nnp prune model.bin $bad_args
	expect_rc "usage: prune $bad_args: exit 2" 2
	check "usage: prune $bad_args: usage line" grep -q '^usage: nnprune prune' "$ERR"
done
nnp prune --calib calib.csv --keep 0.5 -o e.bin
expect_rc "no MODEL: exit 2" 2
nnp prune model.bin --calib calib.csv --method rule --mean 0.1 -o e.bin
expect_err "rule without --std: says what it needs" "--mean M and --std S"
nnp prune model.bin --calib calib.csv -o e.bin
expect_err "no budget: says what it needs" "--keep F, --widths LIST or --target-params"

: >empty.csv
nnp prune model.bin --calib empty.csv --keep 0.5 -o e.bin
expect_rc "empty calibration file: exit 3" 3
expect_one_line_error "empty calibration file: one line"
expect_err "empty calibration file: names it" "empty.csv"
echo "label,a,b" >header.csv
nnp prune model.bin --calib header.csv --keep 0.5 -o e.bin
expect_rc "calibration file with a header only: exit 3" 3
gen_blobs 5 50 8 3 >narrow.csv
nnp prune model.bin --calib narrow.csv --keep 0.5 -o e.bin
expect_rc "calibration feature mismatch: exit 3" 3
expect_one_line_error "calibration feature mismatch: one line"
expect_err "calibration feature mismatch: names the file" "narrow.csv"
nnp prune model.bin --calib missing.csv --keep 0.5 -o e.bin
expect_rc "missing calibration file: exit 3" 3
nnp prune nomodel.bin --calib calib.csv --keep 0.5 -o e.bin
expect_rc "missing model: exit 3" 3
check "input errors write nothing" test ! -e e.bin
cp model.bin keep.bin
nnp prune keep.bin --calib calib.csv --keep 0.5 -o keep.bin
expect_rc "-o MODEL: exit 4" 4
expect_err "-o MODEL: refuses" "refusing to write over an input file"
expect_same "-o MODEL: the model is untouched" model.bin keep.bin
nnp prune model.bin --calib calib.csv --keep 0.5 -o calib.csv
expect_rc "-o DATA: exit 4" 4
nnp prune model.bin --calib calib.csv --keep 0.5 -o nodir/x.bin
expect_rc "unwritable output: exit 4" 4

nnp prune --help
expect_rc "--help: exit 0" 0
expect_out "--help: the methods" "--method obs"
expect_out "--help: the lambda default" "default 0.001"
nnp --help
expect_out "nnprune --help lists prune" "prune "

finish
