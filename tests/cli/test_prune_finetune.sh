#!/usr/bin/env bash
# prune --finetune: one-shot and gradual schedules, distillation, the
# original fine-tuned the same way, and the defaults `finetune` shares.
# usage: test_prune_finetune.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

gen_blobs 41 600 8 3 1.2 >train.csv
gen_blobs 42 300 8 3 1.2 >val.csv
nnp train train.csv -o model.bin --layers 8,32,24,3 --epochs 3 --seed 1 -j 1 -q
[ "$RC" = 0 ] || { bad "setup: train" "$(last_run)"; finish; }
nnp train train.csv -o other.bin --layers 8,16,3 --epochs 3 --seed 2 -j 1 -q
[ "$RC" = 0 ] || { bad "setup: train other" "$(last_run)"; finish; }

PR="model.bin --calib train.csv --method obs"
FT="--finetune train.csv --finetune-epochs 2"

# The weights and biases of a model, whatever its provenance says.
weights() {
	nnp convert "$1" "$1.w.json"
	jq -c '.layers' "$1.w.json" 2>/dev/null
}
# FIELD of the provenance of MODEL.
prov() {
	nnp info --json "$1"
	jq -r ".provenance.$2" "$OUT" 2>/dev/null
}
# The training accuracies prune's stderr gives: "P O" (pruned, original).
ft_accs() {
	sed -n 's/.*training accuracy \([0-9.]*\)%, the original fine-tuned the same way \([0-9.]*\)%.*/\1 \2/p' "$ERR"
}
pct() { awk -v a="$1" 'BEGIN { printf "%.2f", 100 * a }'; }

if ! command -v jq >/dev/null; then
	skip "prune --finetune" "jq is missing"
	finish
fi

# ---- one-shot: prune then fine-tune = finetune of the slimmed model ----
nnp prune $PR --target-params 40% -o slim.bin -q
expect_rc "prune (no fine-tuning): exit 0" 0
nnp prune $PR --target-params 40% $FT -o ft.bin -j 2
expect_rc "prune --finetune: exit 0" 0
expect_err "prune --finetune: names the recipe" "(adam, lr 0.001 cosine, 2 epochs, seed 0)"
accs=$(ft_accs)
# With --eval, the comparison in words: 'X points below|above it' or 'level
# with it', the direction that of the two accuracies it prints, never a
# negative X (here the fine-tuned model ends above the original as it was).
nnp prune $PR --target-params 40% $FT --eval val.csv -o fte.bin -j 2
expect_rc "prune --finetune --eval: exit 0" 0
expect_err "prune --finetune --eval: a gain said as one" "points above the original as it was)"
if [ -n "$PY" ]; then
	expect_eq "prune --finetune: the drop against the control in words" ok "$(pyrun -c '
import re, sys
m = re.search(r"after fine-tuning ([0-9.]+)%, the original fine-tuned the same way ([0-9.]+)%: "
              r"(?:([0-9.]+) points (below|above)|level with) it \((?:[0-9.]+ points (?:below|above)"
              r"|level with) the original as it was\)", open(sys.argv[1]).read())
if not m: print("no match"); sys.exit()
a, b = float(m.group(1)), float(m.group(2))
if m.group(3) is None: print("ok" if abs(a - b) < 0.015 else "level, yet %g vs %g" % (a, b)); sys.exit()
x, word = float(m.group(3)), m.group(4)
want = "below" if a < b else "above"
print("ok" if word == want and abs(x - abs(a - b)) < 0.015 else "%s %s for %g vs %g" % (x, word, a, b))
' "$ERR")"
fi
nnp finetune slim.bin train.csv --epochs 2 -j 1 -q -o ref.bin
expect_rc "finetune of the slimmed model: exit 0" 0
expect_eq "prune --finetune = finetune -j 1 of the slimmed model (weights)" "$(weights ref.bin)" "$(weights ft.bin)"
expect_eq "finetune's defaults: cosine" "cosine" "$(prov ref.bin lr_schedule)"
near() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(a != "" && d < 1e-9 && d > -1e-9) }'; }
check "finetune's defaults: lr 0.001" near "$(prov ref.bin lr)" 0.001
expect_eq "prune --finetune records the recipe" "adam cosine 2" \
	"$(prov ft.bin optimizer) $(prov ft.bin lr_schedule) $(prov ft.bin epochs)"
check "prune --finetune records lr 0.001" near "$(prov ft.bin lr)" 0.001
expect_eq "prune --finetune: the previous step is the pruning" "prune obs" \
	"$(prov ft.bin previous.operation) $(prov ft.bin previous.method)"
# --finetune-batch: as finetune --batch, named in the recipe and the provenance.
nnp prune $PR --target-params 40% $FT --finetune-batch 16 -o ftb.bin -j 1
expect_rc "prune --finetune-batch 16: exit 0" 0
expect_err "prune --finetune-batch: names the batch" "(adam, lr 0.001 cosine, 2 epochs, seed 0, batch 16)"
nnp finetune slim.bin train.csv --epochs 2 --batch 16 -j 1 -q -o refb.bin
expect_eq "prune --finetune-batch 16 = finetune --batch 16 of the slimmed model (weights)" \
	"$(weights refb.bin)" "$(weights ftb.bin)"
expect_eq "prune --finetune-batch 16 records it" "16" "$(prov ftb.bin batch)"
# The control: the original fine-tuned the same way, as `finetune` does it.
nnp finetune model.bin train.csv --epochs 2 -j 1 -q -o ctl.bin
expect_eq "stderr: the pruned model's and the original's training accuracies, as finetune gives them" \
	"$(pct "$(prov ref.bin train_accuracy)") $(pct "$(prov ctl.bin train_accuracy)")" "$accs"
nnp prune $PR --target-params 40% $FT -o ft1.bin -j 1 -q
expect_same "prune --finetune: the same file for -j 1 and -j 2" ft.bin ft1.bin

# ---- distillation: teacher the original by default, or --teacher ----
nnp prune $PR --target-params 40% $FT --distill 2,0.5 -o ftd.bin -j 2
expect_rc "prune --finetune --distill: exit 0" 0
expect_err "stderr names the teacher" "distilled from model.bin at T 2, alpha 0.5"
accs=$(ft_accs)
nnp finetune slim.bin train.csv --epochs 2 --distill 2,0.5 --teacher model.bin -j 1 -q -o refd.bin
expect_rc "finetune --distill --teacher: exit 0" 0
expect_eq "prune --distill = finetune --distill --teacher ORIGINAL of the slimmed model" \
	"$(weights refd.bin)" "$(weights ftd.bin)"
check "distilled and plain fine-tuning differ" test "$(weights ftd.bin)" != "$(weights ft.bin)"
expect_eq "prune --distill records T and alpha" "2 0.5" "$(prov ftd.bin distill_t) $(prov ftd.bin distill_alpha)"
nnp finetune model.bin train.csv --epochs 2 --distill 2,0.5 --teacher model.bin -j 1 -q -o ctld.bin
expect_eq "stderr: the original distilled the same way is the control" \
	"$(pct "$(prov refd.bin train_accuracy)") $(pct "$(prov ctld.bin train_accuracy)")" "$accs"
nnp prune $PR --target-params 40% $FT --distill 3,0.7 --teacher other.bin -o ftt.bin -q
expect_rc "prune --teacher: exit 0" 0
nnp finetune slim.bin train.csv --epochs 2 --distill 3,0.7 --teacher other.bin -j 1 -q -o reft.bin
expect_eq "prune --teacher MODEL = finetune --teacher MODEL" "$(weights reft.bin)" "$(weights ftt.bin)"

# ---- gradual: ends at the one-shot's widths, or exactly at --widths ----
P0=$(nnp info --json model.bin; jq .params "$OUT")
TARGET=$(awk -v p="$P0" 'BEGIN { print int(0.4 * p) }')
nnp prune $PR --target-params 40% --schedule gradual $FT -o gr.bin -j 2
expect_rc "prune --schedule gradual: exit 0" 0
expect_err "stderr: gradual in 4 steps" "pruned gradually in 4 steps"
nnp info --json slim.bin; cp "$OUT" slim.info
nnp info --json gr.bin; cp "$OUT" gr.info
expect_eq "gradual: the one-shot's widths" "$(jq -c '[.layers[].out]' slim.info)" "$(jq -c '[.layers[].out]' gr.info)"
check "gradual: within the target ($TARGET of $P0 parameters)" num_le "$(jq .params gr.info)" "$TARGET"
check "gradual and one-shot weights differ" test "$(weights gr.bin)" != "$(weights ft.bin)"
expect_eq "gradual: recorded" "gradual 4" "$(prov gr.bin schedule) $(prov gr.bin steps)"
nnp prune $PR --target-params 40% --schedule gradual $FT -o gr1.bin -j 1 -q
expect_same "gradual: the same file for -j 1 and -j 2" gr.bin gr1.bin
# --widths 20,10: 8*20+20 + 20*10+10 + 10*3+3 = 423 parameters, exactly.
nnp prune $PR --widths 20,10 --schedule gradual $FT --distill 2,0.5 -o grw.bin -q
expect_rc "gradual --widths --distill: exit 0" 0
nnp info --json grw.bin
expect_eq "gradual: exactly the parameters of --widths" "423" "$(jq .params "$OUT")"
nnp prune $PR --widths 20,10 --schedule gradual $FT -o grw0.bin -q
check "gradual: distilled and plain differ" test "$(weights grw.bin)" != "$(weights grw0.bin)"

# ---- sweep --finetune: the same options, the same models ----
nnp stats model.bin val.csv
nnp sweep --method obs --keep 0.5 --calib train.csv $FT --schedule gradual --distill 2,0.5 -j 2 -q
expect_rc "sweep --schedule gradual --distill: exit 0" 0
nnp prune $PR --keep 0.5 --schedule gradual $FT --distill 2,0.5 -o gk.bin -q
ftf=$(ls pruned/*-ft2.bin | grep -v '^pruned/model-ft2.bin$' | head -1)
expect_eq "sweep's gradual distilled model = prune's" "$(weights gk.bin)" "$(weights "$ftf")"
expect_eq "sweep's original fine-tuned with distillation = finetune's" \
	"$(weights ctld.bin)" "$(weights pruned/model-ft2.bin)"

# ---- usage ----
for bad_args in "--finetune-epochs 2" "--distill 2,0.5" "--schedule gradual" "--optimizer sgd"; do
	nnp prune $PR --target-params 40% $bad_args -o x.bin
	expect_rc "prune $bad_args without --finetune: usage" 2
	expect_err "prune $bad_args: says it needs --finetune" "needs --finetune TRAIN_DATA"
done
nnp prune $PR --target-params 40% $FT --teacher other.bin -o x.bin
expect_rc "--teacher without --distill: usage" 2
nnp prune $PR --target-params 40% $FT --schedule slowly -o x.bin
expect_rc "--schedule slowly: usage" 2
nnp prune model.bin --calib train.csv --method rule --mean 0.1 --std 0.1 $FT --schedule gradual -o x.bin
expect_rc "--schedule gradual with the rule: usage" 2
nnp sweep $FT --schedule gradual -q
expect_rc "sweep --schedule gradual with the rule: usage" 2
expect_err "sweep --schedule gradual with the rule: says why" "needs a method that prunes to a budget"
nnp prune $PR --target-params 40% $FT --distill 2 -o x.bin
expect_rc "--distill 2: usage" 2
gen_blobs 43 60 5 3 >five.csv
nnp prune $PR --target-params 40% --finetune five.csv -o x.bin
expect_rc "fine-tuning rows of another width: exit 3" 3
expect_err "fine-tuning rows of another width: named" "five.csv:1:1: 5 feature columns"
check "nothing written by the errors" test ! -e x.bin
nnp prune $PR --target-params 40% $FT --schedule oneshot -o os.bin -q
expect_same "--schedule oneshot is the default" ft.bin os.bin

finish
