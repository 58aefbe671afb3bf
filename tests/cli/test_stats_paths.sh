#!/usr/bin/env bash
# Paths in the statistics file: relative ones are relative to the file's own
# directory (absolute ones as given), so 'sweep --stats' works from any
# directory and after the files move together.
# usage: test_stats_paths.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_blobs_and_model
mkdir -p runs/a data
mv blobs.csv data/
# Written into another directory: the paths are rewritten relative to it.
nnp stats -q model.bin data/blobs.csv -o runs/a/x.stats.json
expect_rc "stats -o runs/a/x.stats.json: exit 0" 0
check "model path relative to the file" grep -q '"model": {"path": "../../model.bin"' runs/a/x.stats.json
check "data path relative to the file" grep -q '"data": {"path": "../../data/blobs.csv"' runs/a/x.stats.json
# In the working directory: exactly as given.
nnp stats -q model.bin data/blobs.csv -o here.stats.json
check "in the working directory: the model as given" grep -q '"model": {"path": "model.bin"' here.stats.json
check "in the working directory: the data as given" grep -q '"data": {"path": "data/blobs.csv"' here.stats.json
# Absolute paths stay absolute.
nnp stats -q "$PWD/model.bin" data/blobs.csv -o runs/abs.stats.json
check "absolute model path as given" grep -q "\"model\": {\"path\": \"$PWD/model.bin\"" runs/abs.stats.json

# The sweep finds them from anywhere.
(cd runs/a && "$NNP" sweep --stats x.stats.json --mean 0.1 --std 0.4 -o out -q) >/dev/null 2>err.txt
check "sweep in the statistics file's directory: exit 0" test $? = 0
mkdir elsewhere
(cd elsewhere && "$NNP" sweep --stats ../runs/a/x.stats.json --mean 0.1 --std 0.4 -o out -q) >/dev/null 2>err.txt
check "sweep --stats ../runs/a/x.stats.json from another directory: exit 0" test $? = 0
check "... and its report" test -s elsewhere/out/report.json
# The whole tree moved: still found.
mv runs moved-runs
(cd moved-runs/a && "$NNP" sweep --stats x.stats.json --mean 0.1 --std 0.4 -o out2 -q) >/dev/null 2>err.txt
check "after moving the directory (inputs at the same relative places): exit 0" test $? = 0
# A missing input is named as the file resolved from the statistics file.
mv data data.gone
nnp sweep --stats moved-runs/a/x.stats.json --mean 0.1 --std 0.4 -o out3 -q
expect_rc "missing data: exit 3" 3
expect_err "missing data: the path resolved from the statistics file" "moved-runs/a/../../data/blobs.csv"
mv data.gone data

finish
