#!/usr/bin/env bash
# Golden-file CLI tests. Each case tests/cli/golden/NAME.cmd is a short shell
# script (lines starting with '#' say what the case checks and why the
# expected output is right) run by bash in a scratch directory holding copies
# of tests/data as data/ and models/ as models/, with $NNPRUNE set to the
# binary. Its stdout, stderr and exit code must equal NAME.out, NAME.err and
# NAME.code byte for byte. Paths in commands stay relative, so the expected
# files do not depend on where the test runs.
#
# usage: test_golden.sh NNPRUNE_BINARY SOURCE_DIR [NAME...]
#   NAME...     run only these cases
#   NNP_REGEN=1 rewrite the expected files from the current binary: read the
#               diff (git diff tests/cli/golden) before committing it.
set -u
if [ $# -lt 2 ]; then
	echo "usage: $0 NNPRUNE_BINARY SOURCE_DIR [NAME...]" >&2
	exit 2
fi
# The cases run in their own directories: the binary's path must not be relative.
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
shift 2
golden="$src/tests/cli/golden"
work=$(mktemp -d "${TMPDIR:-/tmp}/nnpgolden.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Sanitizer builds: report leaks too; the report goes to stderr and fails the case.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# Messages must not depend on the user's locale.
export LC_ALL=C
pass=0
fail=0
regen=${NNP_REGEN:-0}

if [ $# -gt 0 ]; then
	cases=()
	for name in "$@"; do
		cases+=("$golden/$name.cmd")
	done
else
	shopt -s nullglob
	cases=("$golden"/*.cmd)
	shopt -u nullglob
fi
if [ ${#cases[@]} -eq 0 ]; then
	echo "FAIL no cases in $golden"
	echo "0 passed, 1 failed"
	exit 1
fi

for cmdfile in "${cases[@]}"; do
	name=$(basename "$cmdfile" .cmd)
	if [ ! -f "$cmdfile" ]; then
		echo "FAIL $name: no such case ($cmdfile)"
		fail=$((fail + 1))
		continue
	fi
	case_dir="$work/$name"
	mkdir -p "$case_dir"
	cp -r "$src/tests/data" "$case_dir/data"
	cp -r "$src/models" "$case_dir/models"
	(cd "$case_dir" && NNPRUNE="$bin" bash "$cmdfile" >"$work/$name.out" 2>"$work/$name.err" </dev/null)
	echo $? >"$work/$name.code"
	if [ "$regen" = 1 ]; then
		cp "$work/$name.out" "$work/$name.err" "$work/$name.code" "$golden/"
		echo "regenerated $name (exit $(cat "$work/$name.code"))"
		continue
	fi
	ok=1
	for ext in out err code; do
		if [ ! -f "$golden/$name.$ext" ]; then
			echo "FAIL $name: missing $name.$ext (run with NNP_REGEN=1, then read it)"
			ok=0
		elif ! diff -u "$golden/$name.$ext" "$work/$name.$ext" >"$work/diff" 2>&1; then
			echo "FAIL $name: $ext differs:"
			cat "$work/diff"
			ok=0
		fi
	done
	if [ $ok = 1 ]; then
		echo "ok $name"
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done

# Expected files whose case was deleted or renamed would silently stop testing.
if [ $# -eq 0 ]; then
	for f in "$golden"/*.code; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .code)
		if [ ! -f "$golden/$name.cmd" ]; then
			echo "FAIL $name: $name.code has no $name.cmd"
			fail=$((fail + 1))
		fi
	done
fi

[ "$regen" = 1 ] && echo "expected files rewritten: review them before committing"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
