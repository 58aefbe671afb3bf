# Helpers shared by the scripted CLI tests (tests/cli/test_*.sh), sourced, not run.
#
# A script does:   . "$(dirname "$0")/lib.sh" "$@"   ...checks...   finish
# It then runs in a fresh scratch directory (removed at exit) and has:
#   nnp ARGS...           run nnprune; stdout in $OUT, stderr in $ERR, status in $RC
#   expect_rc NAME N      the last run exited N
#   expect_err NAME TEXT  its stderr contains TEXT (fixed string)
#   expect_out NAME TEXT  its stdout contains TEXT
#   expect_eq NAME WANT GOT, expect_same NAME FILE1 FILE2 (cmp), check NAME CMD...
#   ok NAME / bad NAME DETAILS / skip NAME WHY
#   py FILE EXPR          prints a Python expression over the JSON in FILE (as j);
#                         guard with [ $HAVE_PY = 1 ] (python3 is optional)
#   expect_json NAME FILE FILE is valid JSON (python3 or jq; else skipped)
#   gen_blobs SEED ROWS   a CSV of Gaussian blobs on stdout (label first)
#   finish                prints "N passed, M failed" and exits non-zero on failure
# No 'set -e': every check runs and is counted.
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

# Runs nnprune. A sanitizer report anywhere fails the suite even if the
# command's own checks pass.
nnp() {
	LAST="$*"
	"$NNP" "$@" >"$OUT" 2>"$ERR" </dev/null
	RC=$?
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$ERR"; then
		bad "sanitizer" "$(last_run)"
	fi
	return 0
}

# Like nnp but reading stdin from a file.
nnp_stdin() {
	local in=$1
	shift
	LAST="$* < $in"
	"$NNP" "$@" >"$OUT" 2>"$ERR" <"$in"
	RC=$?
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$ERR"; then
		bad "sanitizer" "$(last_run)"
	fi
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

# Numeric comparison through awk: num_le A B is true when A <= B.
num_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
num_lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

# Lists a directory's files (not subdirectories) with their checksums.
sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs cksum); }

finish() {
	local t=$(($(date +%s) - T0))
	echo "# $(basename "$0"): ${t}s, $SKIP skipped"
	echo "$PASS passed, $FAIL failed"
	[ $FAIL -eq 0 ]
	exit $?
}

# expect_schema NAME KIND FILE: FILE (an --json output) is valid against
# schema/nnprune.KIND.vN.json, N its "version" (python3-jsonschema; else skipped).
expect_schema() {
	local v schema msg
	v=$(json_num "$3" version)
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
