#!/usr/bin/env bash
# Held-out evaluation (--eval), the gates, --best, --write, the run's
# directory (manifest, lock) and sweep --shard, for sweep and prune.
# usage: test_gates.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_blobs_and_model
gen_blobs 777 300 >held.csv
nnp stats -q model.bin blobs.csv -o s.json
expect_rc "stats: exit 0" 0
distinct() { sed -n 's/^ *"distinct": \([0-9]*\).*/\1/p' "$1/report.json"; }
nmodels() { ls "$1" | grep -c '\.bin$'; }

# --- held-out evaluation ---------------------------------------------------------------------
nnp eval --json model.bin held.csv
ev_acc=$(json_num "$OUT" accuracy)
nnp sweep --stats s.json --eval held.csv -q -o ho
expect_rc "sweep --eval: exit 0" 0
if need_py "held-out report"; then
	check "sweep --eval: the original's accuracy is eval's on DATA" \
		num_le "$(py ho/report.json 'abs(j["original"]["accuracy"] - '"$ev_acc"')')" 1e-12
	expect_eq "sweep --eval: the report names the judging rows and the statistics'" \
		"held.csv 300 True s.json blobs.csv 600" \
		"$(py ho/report.json '"%s %d %s %s %s %d" % (j["data"]["path"], j["data"]["rows"], j["data"]["held_out"], j["statistics"]["path"], j["statistics"]["data"], j["statistics"]["rows"])')"
	# A candidate's accuracy is eval's of its written model on DATA.
	f=$(py ho/report.json 'j["candidates"][3]["file"]')
	nnp eval --json "$f" held.csv
	check "sweep --eval: a candidate's accuracy is eval's of its file" \
		num_le "$(py ho/report.json 'abs(j["candidates"][3]["accuracy"] - '"$(json_num "$OUT" accuracy)"')')" 1e-12
fi
check "report.md says which rows judged" grep -q 'held.csv' ho/report.md
nnp sweep --stats s.json --eval held.csv --method score --keep 0.5 --finetune blobs.csv -q -o hof
expect_rc "sweep --eval with a method and --finetune: exit 0" 0
nnp prune model.bin --calib blobs.csv --keep 0.5 --eval held.csv --json -o p.bin
expect_rc "prune --eval --json: exit 0" 0
cp "$OUT" prune.json
expect_schema "prune --json valid against its schema" prune prune.json
if need_py "prune --json"; then
	check "prune --eval: the original's accuracy is eval's" \
		num_le "$(py prune.json 'abs(j["original"]["accuracy"] - '"$ev_acc"')')" 1e-12
	nnp eval --json p.bin held.csv
	check "prune --eval: the pruned accuracy is eval's of OUT" \
		num_le "$(py prune.json 'abs(j["pruned"]["accuracy"] - '"$(json_num "$OUT" accuracy)"')')" 1e-12
	expect_eq "prune --json: file bytes are OUT's" "$(wc -c <p.bin | tr -d ' ')" \
		"$(py prune.json 'j["pruned"]["file_bytes"]')"
fi
nnp prune model.bin --calib blobs.csv --keep 0.5 --max-drop 1 -o p.bin
expect_rc "prune --max-drop without --eval: exit 2" 2

# --- gates: each one failing names itself and the closest candidate ---------------------------
G="--stats s.json --eval held.csv -q"
for gate in "--max-drop 0 --mean 100 --std 100" "--min-accuracy 99%" "--max-params 10" \
	"--max-bytes 100"; do
	name=${gate%% *}
	nnp sweep $G $gate -o gf
	expect_rc "sweep $gate: exit 1" 1
	expect_err "sweep $gate: names the gate" "no candidate passes $name"
	expect_err "sweep $gate: names the closest" "; closest: #"
	expect_err "sweep $gate: says which gate it fails" "(fails $name)"
done
nnp sweep $G --max-drop 100 -o ga
expect_rc "--max-drop 100 alone: exit 0" 0
nnp sweep $G --max-drop 100 --max-params 10 -o ga
expect_rc "all gates must hold: exit 1" 1
expect_err "all gates must hold: the one failing named" "(fails --max-params)"
nnp prune model.bin --calib blobs.csv --keep 0.2 --eval held.csv --min-accuracy 99% -o p2.bin
expect_rc "prune --min-accuracy 99%: exit 1" 1
expect_err "prune: the gate named" "no candidate passes --min-accuracy"

# --- --best: a failed gate leaves no model there; a foreign file is refused ---------------------
nnp sweep $G --max-drop 100 --best best.bin -o gb
expect_rc "--best: exit 0" 0
check "--best written" test -s best.bin
nnp sweep $G --max-drop 100 --max-params 10 --best best.bin -o gb
expect_rc "--best, gate fails: exit 1" 1
check "a failed gate removes the earlier --best" test ! -e best.bin
check "... and its mark" test ! -e best.bin.nnprune.json
echo "mine" >other.bin
nnp sweep $G --max-drop 100 --best other.bin -o gnew
expect_rc "--best over a foreign file: exit 4" 4
expect_err "--best over a foreign file: says so" "other.bin: exists and is not a model an earlier --best wrote"
check "... refused before work (no DIR)" test ! -e gnew
expect_eq "... and the file is kept" "mine" "$(cat other.bin)"
nnp prune model.bin --calib blobs.csv --keep 0.8 --eval held.csv --max-drop 5 --best pb.bin -o p3.bin
expect_rc "prune --best: exit 0" 0
check "prune --best written" cmp -s pb.bin p3.bin
nnp prune model.bin --calib blobs.csv --keep 0.1 --eval held.csv --max-drop 0 --best pb.bin -o p4.bin
expect_rc "prune --best, gate fails: exit 1" 1
check "prune: a failed gate removes the earlier --best" test ! -e pb.bin

# --- --write modes ---------------------------------------------------------------------------
nnp sweep --stats s.json -q --write all -o wa
expect_eq "--write all: one file per candidate" 30 "$(nmodels wa)"
nnp sweep --stats s.json -q -o wd
expect_eq "--write distinct (default): one file per distinct kept set" "$(distinct wd)" "$(nmodels wd)"
check "--write distinct: fewer files than candidates" test "$(nmodels wd)" -lt 30
nnp sweep --stats s.json -q --write pareto --max-drop 2 -o wp
expect_rc "--write pareto: exit 0" 0
nnp sweep --stats s.json -q --write best --max-drop 2 -o wb
expect_eq "--write best: one file" 1 "$(nmodels wb)"
nnp sweep --stats s.json -q --write best -o wb0
expect_rc "--write best without a gate: exit 2" 2
check "... before any work" test ! -e wb0
if need_py "--write and the report"; then
	expect_eq "--write distinct: duplicates name their first's file, which exists" "True" \
		"$(py wd/report.json 'all(c["file"] == j["candidates"][c["same_as"]]["file"] for c in j["candidates"] if c["same_as"] is not None) and all(__import__("os").path.exists(c["file"]) for c in j["candidates"])')"
	expect_eq "--write pareto: the Pareto candidates and the best" \
		"$(py wp/report.json 'len([c for c in j["candidates"] if c["same_as"] is None and (c["pareto"] or c["index"] == j["best"])])')" \
		"$(nmodels wp)"
	expect_eq "--write: the mode is in report.json" "pareto" "$(py wp/report.json 'j["write"]')"
	expect_eq "the manifest lists the models and the reports" \
		"$(( $(nmodels wd) + 6 ))" "$(py wd/report.json 'len(j["manifest"])')"
fi

# --- a stale directory reused ----------------------------------------------------------------
nnp sweep --stats s.json -q --write all -o stale
echo "keep me" >stale/notes.txt
nnp sweep --stats s.json -q --mean 0.1 --std 0.4 -o stale
expect_rc "reuse: exit 0" 0
expect_eq "reuse: only this run's model is left" "model-m0.1-s0.4.bin" "$(ls stale | grep '\.bin$')"
expect_eq "reuse: a file of someone else's is kept" "keep me" "$(cat stale/notes.txt)"
nnp sweep --stats s.json -q --write all -o stale2
cp model.bin stale2/model-m1-s1.bin   # changed since that run wrote it
nnp sweep --stats s.json -q --mean 0 --std 0.1 -o stale2
expect_rc "reuse with a changed file: exit 0" 0
check "reuse: a changed file is left" cmp -s model.bin stale2/model-m1-s1.bin
expect_err "reuse: ... and said" "stale2/model-m1-s1.bin: left in place"

# --- two runs into one directory -------------------------------------------------------------
if need_py "the directory's lock"; then
	mkdir lk
	pyrun -c 'import fcntl, sys, time
f = open("lk/.nnprune.lock", "a+"); fcntl.lockf(f, fcntl.LOCK_EX)
open("lk/held", "w").close(); time.sleep(3)' &
	holder=$!
	for _ in $(seq 50); do [ -e lk/held ] && break; sleep 0.1; done
	nnp sweep --stats s.json -q --no-wait -o lk
	expect_rc "a second run with --no-wait: exit 4" 4
	expect_err "--no-wait: says why" "lk: in use by another nnprune run"
	nnp sweep --stats s.json -q -o lk
	expect_rc "a second run waits, then runs: exit 0" 0
	expect_err "... saying it waits" "another run (pid"
	wait $holder
	check "... and wrote its report" test -s lk/report.json
fi
# Two real runs at once: both finish and the directory holds one run's files.
"$NNP" sweep --stats s.json -q --write all -o two 2>two1.err &
p1=$!
"$NNP" sweep --stats s.json -q -o two 2>two2.err
rc2=$?
wait $p1
rc1=$?
expect_eq "two runs at once: both exit 0" "0 0" "$rc1 $rc2"
if need_py "two runs at once"; then
	expect_eq "two runs at once: the files are those the last manifest lists" \
		"$(py two/report.json '" ".join(sorted(e["file"] for e in j["manifest"]))')" \
		"$(ls two | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
fi

# --- shards: 0/2 + 1/2 merged = the unsharded run --------------------------------------------
S="--stats s.json --eval held.csv --max-drop 1 -q"
nnp sweep $S -o whole
nnp sweep $S --shard 0/2 -o sh0
expect_rc "--shard 0/2: exit 0" 0
nnp sweep $S --shard 1/2 -o sh1
expect_rc "--shard 1/2: exit 0" 0
nnp sweep $S --shard 2/2 -o shx
expect_rc "--shard 2/2: exit 2" 2
nnp report --merge sh0/report.json sh1/report.json --stats s.json -q -o merged
expect_rc "report --merge of real shards: exit 0" 0
if need_py "merged shards"; then
	# The files are in the shards' directories, and the loss is a float sum
	# whose order follows the grid (the threshold engine's batches of
	# candidates): equal to 7 digits, not bit for bit.
	norm='import json, re, sys
j = json.load(open(sys.argv[1])); j.pop("manifest")
for c in [j["original"]] + j["candidates"]:
	c["loss"] = "%.7g" % c["loss"]
	if c["file"]: c["file"] = re.sub("^[a-z0-9]*/", "D/", c["file"])
print(json.dumps(j, sort_keys=True))'
	check "merged shards = the unsharded report" test \
		"$(pyrun -c "$norm" whole/report.json)" = "$(pyrun -c "$norm" merged/report.json)"
	expect_eq "each shard holds its candidates" "15 15 0 1" \
		"$(py sh1/report.json '"%d %d %d %d" % (len(j["candidates"]), j["candidates_total"] // 2, j["shard"]["index"] * 0, j["shard"]["index"])')"
fi
finish
