# Helpers shared by the scripted CLI tests (tests/cli/test_*.sh), sourced, not run.
#
# A script does:   . "$(dirname "$0")/lib.sh" "$@"   ...checks...   finish
# It then runs in a fresh scratch directory (removed at exit) and has:
#   nnp ARGS...           run nnprune; stdout in $OUT, stderr in $ERR, status in $RC
#   expect_rc NAME N      the last run exited N
#   expect_err NAME TEXT  its stderr contains TEXT (fixed string)
#   expect_out NAME TEXT  its stdout contains TEXT
#   expect_usage NAME TEXT ARGS...  nnprune ARGS exits 2 with TEXT on stderr
#   expect_eq NAME WANT GOT, expect_same NAME FILE1 FILE2 (cmp), check NAME CMD...,
#   check NAME not CMD..., num_le A B, num_lt A B
#   ok NAME / bad NAME DETAILS / skip NAME WHY
#   py FILE EXPR          prints a Python expression over the JSON in FILE (as j);
#                         only inside 'if need_py NAME; then ... fi'
#   need_py NAME          true if python3 is here, else records NAME as skipped
#   expect_eval NAME MODEL DATA  eval's accuracy and loss = our own forward pass
#                         in double (py_eval; python3)
#   expect_json NAME FILE FILE is valid JSON (python3 or jq; else skipped)
#   gen_blobs SEED ROWS   a CSV of Gaussian blobs on stdout (label first)
#   hidden_of MODEL       its hidden widths joined by '-' (e.g. 16-12)
#   rescore MODEL DATA    a written model's own figures: EV_ACC, EV_LOSS (eval
#                         --json on DATA), INFO_PARAMS, INFO_HIDDEN (info --json)
#   finish                prints "N passed, M failed" and exits non-zero on failure
# No 'set -e': every check runs and is counted.
#
# Skips are never silent: a script that skipped anything (and failed nothing)
# exits 77, which ctest shows as "Skipped" (SKIP_RETURN_CODE); with CI=true a
# skip is a failure, since CI machines have python3 and jq (.ci/setup).
set -u
if [ $# -lt 2 ]; then
	echo "usage: $0 NNPRUNE_BINARY SOURCE_DIR" >&2
	exit 2
fi
NNP=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "$2" && pwd)
if [ ! -x "$NNP" ]; then
	echo "FAIL setup: $NNP is not executable"
	echo "0 passed, 1 failed"
	exit 1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LC_ALL=C
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nnpcli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
CAP="$WORK/.capture"
mkdir -p "$CAP" "$WORK/t"
OUT="$CAP/out"
ERR="$CAP/err"
RC=0
PASS=0
FAIL=0
SKIP=0
T0=$(date +%s)
cd "$WORK/t" || exit 1

ok() {
	PASS=$((PASS + 1))
	echo "ok $1"
}

bad() {
	FAIL=$((FAIL + 1))
	echo "FAIL $1: $2"
}

skip() {
	SKIP=$((SKIP + 1))
	echo "skip $1: $2"
}

# The last run's command line and the start of its stderr, for failure details.
last_run() {
	printf '[nnprune %s] exit %s; stderr: %s' "$LAST" "$RC" "$(head -c 400 "$ERR" | tr '\n' '|')"
}

# A report of AddressSanitizer, LeakSanitizer or UBSan (its first line, a
# "runtime error:" line or the closing "SUMMARY: ...Sanitizer" line) on the
# last run's stderr fails the suite.
SAN_PATTERN='ERROR: [A-Za-z]*Sanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer'
sanitizer_check() {
	if grep -qE "$SAN_PATTERN" "$ERR"; then
		bad "sanitizer" "$(last_run)"
	fi
}

# Runs nnprune. A sanitizer report anywhere fails the suite even if the
# command's own checks pass.
nnp() {
	LAST="$*"
	"$NNP" "$@" >"$OUT" 2>"$ERR" </dev/null
	RC=$?
	sanitizer_check
	return 0
}

# Like nnp but reading stdin from a file.
nnp_stdin() {
	local in=$1
	shift
	LAST="$* < $in"
	"$NNP" "$@" >"$OUT" 2>"$ERR" <"$in"
	RC=$?
	sanitizer_check
	return 0
}

expect_rc() {
	if [ "$RC" = "$2" ]; then ok "$1"; else bad "$1" "expected exit $2; $(last_run)"; fi
}

expect_err() {
	if grep -qF -- "$2" "$ERR"; then ok "$1"; else bad "$1" "stderr lacks '$2'; $(last_run)"; fi
}

expect_out() {
	if grep -qF -- "$2" "$OUT"; then
		ok "$1"
	else
		bad "$1" "stdout lacks '$2'; stdout: $(head -c 300 "$OUT" | tr '\n' '|')"
	fi
}

expect_usage() {
	local name=$1 text=$2
	shift 2
	nnp "$@"
	expect_rc "$name: exit 2" 2
	expect_err "$name: names the option" "$text"
}

expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected '$2', got '$3'"; fi
}

expect_same() {
	if cmp -s "$2" "$3"; then ok "$1"; else bad "$1" "$2 and $3 differ ($(cmp "$2" "$3" 2>&1 | head -1))"; fi
}

check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name" "condition failed: $*"; fi
}

# The error contract: exactly one line on stderr, starting "nnprune: ".
expect_one_line_error() {
	local n
	n=$(wc -l <"$ERR")
	if [ "$n" = 1 ] && head -1 "$ERR" | grep -q '^nnprune: '; then
		ok "$1"
	else
		bad "$1" "expected one 'nnprune: ' line on stderr; $(last_run)"
	fi
}

# python3 checks JSON values when present (else they are skipped). Resolved
# once to the real interpreter and run isolated without site: a version
# manager's shim can cost a third of a second per call.
HAVE_PY=0
PY=
# NNP_TEST_NO_PYTHON=1 runs the suite as on a machine without it.
if [ "${NNP_TEST_NO_PYTHON:-0}" != 1 ] && command -v python3 >/dev/null 2>&1; then
	PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
	[ -n "$PY" ] && [ -x "$PY" ] && HAVE_PY=1
fi
pyrun() { "$PY" -I -S "$@"; }

# if need_py NAME; then ...checks using py... fi: without python3 the block is
# recorded as skipped (see finish), never dropped silently.
need_py() {
	[ $HAVE_PY = 1 ] && return 0
	skip "$1" "python3 not found"
	return 1
}

# py FILE EXPR: evaluates EXPR with j = the parsed JSON of FILE ('-': stdin)
# and prints the result; exits non-zero if the file is not JSON.
py() {
	pyrun -c '
import json, sys
src = sys.argv[1]
j = json.load(sys.stdin if src == "-" else open(src))
r = eval(sys.argv[2])
print(json.dumps(r) if isinstance(r, (dict, list)) else r)
' "$1" "$2"
}

# py_eval MODEL.json DATA.csv: an independent forward pass in double over a
# JSON model (nnprune convert) and a headerless CSV with the label first;
# prints "CORRECT LOSS" (cross-entropy after softmax, else the MSE against
# the one-hot label averaged over the outputs), the figures eval reports.
py_eval() {
	pyrun -c '
import json, math, sys
m = json.load(open(sys.argv[1]))
correct, total, rows = 0, 0.0, 0
for line in open(sys.argv[2]):
    f = line.strip().split(",")
    y, a = int(f[0]), [float(v) for v in f[1:]]
    for L in m["layers"]:
        z = [b + sum(w * x for w, x in zip(row, a)) for row, b in zip(L["weights"], L["bias"])]
        act = L["activation"]
        if act == "relu": a = [max(v, 0.0) for v in z]
        elif act == "leaky_relu": a = [v if v > 0 else L["alpha"] * v for v in z]
        elif act == "sigmoid": a = [1 / (1 + math.exp(-v)) for v in z]
        elif act == "tanh": a = [math.tanh(v) for v in z]
        elif act == "softmax":
            mx = max(z)
            s = sum(math.exp(v - mx) for v in z)
            a = [math.exp(v - mx) / s for v in z]
            lse = mx + math.log(s)
        else: a = z
    rows += 1
    correct += max(range(len(a)), key=lambda k: a[k]) == y
    if m["layers"][-1]["activation"] == "softmax":
        total += lse - z[y]
    else:
        total += sum((v - (k == y)) ** 2 for k, v in enumerate(a)) / len(a)
print(correct, total / rows)
' "$1" "$2"
}

# expect_eval NAME MODEL DATA: `nnprune eval --json` of MODEL on DATA (a
# headerless CSV, label first) reports the accuracy and loss of py_eval.
expect_eval() {
	local name=$1 model=$2 data=$3 want got
	nnp convert "$model" "$WORK/.eval.json"
	want=$(py_eval "$WORK/.eval.json" "$data")
	nnp eval --json "$model" "$data"
	got=$(py "$OUT" '"%d %r" % (round(j["accuracy"] * j["rows"]), j["loss"])')
	if awk -v w="$want" -v g="$got" 'BEGIN { split(w, a, " "); split(g, b, " ")
		d = a[2] - b[2]; if (d < 0) d = -d
		exit !(a[1] == b[1] && d <= 1e-5 * (a[2] < 0 ? -a[2] : a[2]) + 1e-7) }'; then
		ok "$name"
	else
		bad "$name" "eval says '$got' (correct rows, loss), a double forward pass '$want'"
	fi
}

is_json() {
	if [ $HAVE_PY = 1 ]; then
		pyrun -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
	else
		jq -e . "$1" >/dev/null 2>&1
	fi
}

HAVE_JSON_TOOL=$HAVE_PY
[ "${NNP_TEST_NO_JQ:-0}" != 1 ] && command -v jq >/dev/null 2>&1 && HAVE_JSON_TOOL=1

# expect_json NAME FILE: FILE parses as JSON (skipped without python3 or jq).
expect_json() {
	if [ $HAVE_JSON_TOOL = 0 ]; then
		skip "$1" "neither python3 nor jq to parse JSON"
	elif is_json "$2"; then
		ok "$1"
	else
		bad "$1" "not valid JSON: $(head -c 200 "$2" | tr '\n' '|')"
	fi
}

# json_num FILE KEY: a top-level number in nnprune's pretty-printed JSON
# (one tab of indentation), without a JSON tool.
json_num() {
	awk -F'\t' -v k="\"$2\":" '$1 == "" && $2 == k { v = $3; sub(/,$/, "", v); print v; exit }' "$1"
}

# hidden_widths FILE: the hidden layers' widths in an info --json output,
# joined by '-'.
hidden_widths() {
	awk -F'\t' '$4 == "\"out\":" { v = $5; sub(/,$/, "", v); s = s sep v; sep = "-" }
		END { sub(/-[0-9]+$/, "", s); print s }' "$1"
}

hidden_of() {
	nnp info --json "$1"
	hidden_widths "$OUT"
}

rescore() {
	nnp eval --json "$1" "$2"
	EV_ACC=$(json_num "$OUT" accuracy)
	EV_LOSS=$(json_num "$OUT" loss)
	nnp info --json "$1"
	INFO_PARAMS=$(json_num "$OUT" params)
	INFO_HIDDEN=$(hidden_widths "$OUT")
}

# SEED ROWS [FEATURES [CLASSES [SEP]]]: Gaussian blobs, class i % CLASSES,
# feature j centred on SEP when j % CLASSES is the class, else 0; unit
# variance. A MINSTD generator in integer-exact double arithmetic, so every
# awk (mawk, gawk, busybox) writes the same file.
gen_blobs() {
	awk -v state="$1" -v n="$2" -v d="${3:-8}" -v k="${4:-3}" -v sep="${5:-1.5}" '
	function rnd() { state = (state * 48271) % 2147483647; return state / 2147483647 }
	BEGIN {
		pi = 3.141592653589793
		for (i = 0; i < n; i++) {
			c = i % k
			line = c
			for (j = 0; j < d; j++) {
				u1 = rnd()
				u2 = rnd()
				g = sqrt(-2 * log(u1)) * cos(2 * pi * u2)
				line = line "," sprintf("%.3f", (j % k == c ? sep : 0) + g)
			}
			print line
		}
	}'
}

# The standard setup: 600 rows of 8-D blobs in 3 classes and a 8-16-12-3
# ReLU network trained on them in a fraction of a second.
TRAIN_ARGS="--layers 8,16,12,3 --epochs 5 --seed 1 --lr 0.01 --batch 16 -q"
make_blobs_and_model() {
	gen_blobs 12345 600 >blobs.csv
	nnp train blobs.csv -o model.bin $TRAIN_ARGS
	if [ "$RC" != 0 ] || [ ! -s model.bin ]; then
		bad "setup: train" "$(last_run)"
		finish
	fi
}

# The pruning methods' setup: 600 rows of 16-D blobs in 3 classes, 300 more as
# calibration rows (calib.csv), a 16-32-16-3 ReLU network trained on the
# first and its statistics.
make_blobs16_model_stats() {
	gen_blobs 4242 600 16 3 >blobs.csv
	gen_blobs 777 300 16 3 >calib.csv
	nnp train blobs.csv -o model.bin --layers 16,32,16,3 --epochs 5 --seed 1 --lr 0.01 \
		--batch 16 -j 1 -q
	nnp stats -q model.bin blobs.csv
	if [ "$RC" != 0 ]; then
		bad "setup: train and stats" "$(last_run)"
		finish
	fi
}

# check NAME not CMD...: CMD fails.
not() { ! "$@"; }

# Numeric comparison through awk: num_le A B is true when A <= B.
num_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
num_lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

# Lists a directory's files (not subdirectories) with their checksums.
sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs cksum); }

finish() {
	local t=$(($(date +%s) - T0))
	echo "# $(basename "$0"): ${t}s, $SKIP skipped"
	if [ $SKIP -gt 0 ] && [ "${CI:-}" = true ]; then
		bad "skipped checks" "$SKIP checks could not run (CI=true: run .ci/setup)"
	fi
	echo "$PASS passed, $FAIL failed, $SKIP skipped"
	[ $FAIL -eq 0 ] || exit 1
	[ $SKIP -eq 0 ] || exit 77
	exit 0
}

# expect_schema NAME KIND FILE: FILE (an --json output) is valid against
# schema/nnprune.KIND.vN.json, N its "version" (python3-jsonschema; else skipped).
expect_schema() {
	local v schema msg
	v=$(json_num "$3" version)
	# report.json is indented with spaces, not cJSON's tabs.
	[ -n "$v" ] || v=$(sed -n 's/^ *"version": *\([0-9]*\).*/\1/p' "$3" | head -n 1)
	schema="$SRC/schema/nnprune.$2.v${v:-0}.json"
	if [ ! -f "$schema" ]; then
		bad "$1" "no schema $schema for version '${v}' of $2"
		return
	fi
	if ! command -v python3 >/dev/null 2>&1; then
		skip "$1" "python3 is not installed"
		return
	fi
	msg=$(python3 "$SRC/tests/cli/check_schema.py" "$schema" "$3" 2>&1)
	case $? in
	0) ok "$1" ;;
	77) skip "$1" "$msg" ;;
	*) bad "$1" "$(echo "$msg" | tr '\n' '|')" ;;
	esac
}
