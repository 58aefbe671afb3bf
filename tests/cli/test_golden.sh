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
. "$(dirname "$0")/lib.sh" "$@"
shift 2
golden="$SRC/tests/cli/golden"
work=$WORK
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
	bad "cases" "no cases in $golden"
	finish
fi

for cmdfile in "${cases[@]}"; do
	name=$(basename "$cmdfile" .cmd)
	if [ ! -f "$cmdfile" ]; then
		bad "$name" "no such case ($cmdfile)"
		continue
	fi
	case_dir="$work/$name"
	mkdir -p "$case_dir"
	cp -r "$SRC/tests/data" "$case_dir/data"
	cp -r "$SRC/models" "$case_dir/models"
	(cd "$case_dir" && NNPRUNE="$NNP" bash "$cmdfile" >"$work/$name.out" 2>"$work/$name.err" </dev/null)
	echo $? >"$work/$name.code"
	if [ "$regen" = 1 ]; then
		cp "$work/$name.out" "$work/$name.err" "$work/$name.code" "$golden/"
		echo "regenerated $name (exit $(cat "$work/$name.code"))"
		continue
	fi
	same=1
	for ext in out err code; do
		if [ ! -f "$golden/$name.$ext" ]; then
			bad "$name" "missing $name.$ext (run with NNP_REGEN=1, then read it)"
			same=0
		elif ! diff -u "$golden/$name.$ext" "$work/$name.$ext" >"$work/diff" 2>&1; then
			bad "$name" "$ext differs:"
			cat "$work/diff"
			same=0
		fi
	done
	[ $same = 1 ] && ok "$name"
done

# Expected files whose case was deleted or renamed would silently stop testing.
if [ $# -eq 0 ]; then
	for f in "$golden"/*.code; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .code)
		[ -f "$golden/$name.cmd" ] || bad "$name" "$name.code has no $name.cmd"
	done
fi

[ "$regen" = 1 ] && echo "expected files rewritten: review them before committing"
finish
