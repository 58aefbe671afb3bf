#!/usr/bin/env bash
# The sweep's reports record the retraining recipe: report.json's "finetune"
# object gains schedule (oneshot|gradual), optimizer, lr_schedule and distill
# (T, alpha, teacher, or null), report.md its fine-tuning line; valid against
# the schema, and kept by 'report --merge'.
# usage: test_sweep_recipe.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

make_wide_model stats
FT="--finetune blobs.csv --finetune-epochs 1"
nnp sweep --method score --keep 0.5,0.7 --calib calib.csv $FT --schedule gradual \
	--distill 2,0.5 -o gd
expect_rc "sweep --schedule gradual --distill: exit 0" 0
expect_out "gradual: the summary says so" "pruned gradually, distilled;"
nnp sweep -q --method score --keep 0.5,0.7 --calib calib.csv $FT --optimizer sgd \
	--lr-schedule constant --distill 3,0.25 --teacher model.bin -o os
expect_rc "sweep oneshot, sgd, --teacher: exit 0" 0
nnp sweep -q --method magnitude --sparsity 0.5 $FT -o mg
expect_rc "sweep magnitude --finetune: exit 0" 0
nnp sweep -q --method score --keep 0.5,0.7 --calib calib.csv -o nf
expect_rc "sweep without fine-tuning: exit 0" 0

if need_py "the recipe in report.json"; then
	recipe() { py "$1" '" ".join(str(j["finetune"].get(k)) for k in ("schedule", "optimizer", "lr_schedule", "distill"))'; }
	expect_eq "gradual, distilled from the original" \
		"gradual adam cosine {'t': 2, 'alpha': 0.5, 'teacher': None}" "$(recipe gd/report.json)"
	expect_eq "oneshot, sgd, constant, distilled from a teacher" \
		"oneshot sgd constant {'t': 3, 'alpha': 0.25, 'teacher': 'model.bin'}" \
		"$(recipe os/report.json)"
	expect_eq "magnitude: oneshot, no distillation" "oneshot adam cosine None" \
		"$(recipe mg/report.json)"
	expect_eq "no fine-tuning: no finetune object" False \
		"$(py nf/report.json '"finetune" in j')"
fi
for d in gd os mg nf; do
	expect_schema "$d: report.json valid against its schema" report $d/report.json
done
check "report.md: the gradual recipe" grep -q \
	"(lr 0.001, seed 0; adam, cosine, gradual; distilled at T 2, alpha 0.5 from the original)" \
	gd/report.md
check "report.md: the teacher named" grep -q "distilled at T 3, alpha 0.25 from model.bin)" \
	os/report.md

# Parts of the run (as shards write them: their candidates, no best, no
# manifest) merged keep the recipe.
if need_py "merge keeps the recipe"; then
	for k in 0 1; do
		pyrun -c '
import json, sys
j, k = json.load(open("gd/report.json")), int(sys.argv[1])
j["candidates"] = [c for c in j["candidates"] if c["index"] % 2 == k]
j["shard"] = {"index": k, "count": 2}
j["distinct"] = len(j["candidates"])
j["best"] = j["manifest"] = None
json.dump(j, open("part%d.json" % k, "w"))' $k
	done
	nnp report --merge part0.json part1.json --stats nnprune.stats.json -q -o merged
	expect_rc "merge: exit 0" 0
	expect_eq "merged finetune object = the unsplit run's" \
		"$(py gd/report.json 'j["finetune"]')" "$(py merged/report.json 'j["finetune"]')"
	expect_schema "merged: valid against its schema" report merged/report.json
fi
finish
