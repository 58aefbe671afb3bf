#!/usr/bin/env bash
# Smoke tests of 'nnprune bench' (small sizes: the figures themselves are not
# checked, only that it runs, reports and cleans up).
# usage: test_bench.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

# bench writes its scratch files under $TMPDIR: a private one shows leftovers.
mkdir "$WORK/tmp"
export TMPDIR="$WORK/tmp"

nnp bench --rows 300 --big-rows 0 -j 1 --json
expect_rc "bench --json: exit 0" 0
cp "$OUT" bench.json
expect_json "bench --json: stdout is JSON" bench.json
expect_schema "bench --json: valid against its schema" bench bench.json
for key in rows csv_parse_mb_s sgemm_gflops forward_stats_gflops stats_command_seconds \
	stats_peak_rss_mib sweep_seconds sweep_vs_eval method_obs_ls_seconds \
	prune_score_none_peak_rss_mib prune_obs_ls_peak_rss_mib json_model_read_mb_s \
	json_model_write_mb_s json_model_save_mb_s user_stats_json_seconds user_stats_floor_seconds \
	user_sweep_bin_seconds user_sweep_json_seconds user_sweep_floor_seconds \
	train_epoch_seconds train_masked_vs_plain train_distill_vs_plain; do
	v=$(json_num bench.json "$key")
	check "bench --json: $key > 0" num_lt 0 "${v:-0}"
done
expect_eq "bench --json: rows as asked" 300 "$(json_num bench.json rows)"
expect_eq "bench: scratch files removed" "" "$(ls -A "$TMPDIR")"
expect_eq "bench: nothing written in the working directory" "bench.json" "$(ls -A)"
# With a file ten times the rows: the methods' memory on it.
nnp bench --rows 300 --big-rows 3000 -j 1 --json
expect_rc "bench --big-rows 3000: exit 0" 0
cp "$OUT" big.json
for key in stats_big_peak_rss_mib prune_obs_ls_more_rows_peak_rss_mib; do
	v=$(json_num big.json "$key")
	check "bench --big-rows: $key > 0" num_lt 0 "${v:-0}"
done
check "bench --big-rows: prune growth reported" grep -q '"prune_rss_growth_mib"' big.json
expect_eq "bench --big-rows: scratch files removed" "" "$(ls -A "$TMPDIR")"
rm -f big.json

gen_blobs 7 300 >blobs.csv
nnp train blobs.csv -o model.bin $TRAIN_ARGS
nnp bench --rows 300 --big-rows 0 -j 1 --model model.bin --data blobs.csv
expect_rc "bench --model --data: exit 0" 0
expect_out "bench: names the network" "model.bin network (8-16-12-3)"
expect_out "bench: reports the sweep" "sweep, default 30-pair grid"
expect_out "bench: reports CSV parsing" "CSV parsing, one thread"
expect_eq "bench --model --data: scratch files removed" "" "$(ls -A "$TMPDIR")"

# The synthetic labels fit whatever model is given (here 2 outputs).
cp "$SRC/models/xor.json" xor.json
nnp bench --rows 300 --big-rows 0 -j 1 --model xor.json
check "bench --model models/xor.json: runs on synthetic data" test "$RC" = 0
expect_eq "bench failing: scratch files removed" "" "$(ls -A "$TMPDIR")"

nnp bench --rows 300 --big-rows 0 --model missing.bin
expect_rc "bench --model missing: exit 3" 3
expect_one_line_error "bench --model missing: one error line"
for args in "--rows 0" "--rows x" "--big-rows -1" "-j 0" "extra" "--frobnicate"; do
	nnp bench $args
	expect_rc "bench $args: exit 2" 2
	check "bench $args: reason first" grep -q '^nnprune: bench: ' "$ERR"
done
nnp bench --help
expect_rc "bench --help: exit 0" 0
expect_out "bench --help: documents --rows" "--rows N"

finish
