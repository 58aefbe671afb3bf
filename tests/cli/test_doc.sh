#!/usr/bin/env bash
# The documentation the program makes of itself: every command's --help lists
# exactly the options it accepts, the man page (nnprune --man) holds every
# command's help and passes groff's checks, the bash and zsh completions offer
# the commands and options, and unknown commands and options get a
# "did you mean".
# usage: test_doc.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

commands=$("$NNP" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
expect_eq "commands listed" "info convert stats eval sweep prune train finetune lottery report bench completion" \
	"$(echo $commands)"

nnp completion bash
expect_rc "completion bash: exit 0" 0
cp "$OUT" nnprune.bash

# The options a command's table holds, as the completion script lists them.
table_opts() {
	awk -v c="$1" '$0 ~ "^\t" c "\\)$" { on = 1; next }
		on && /opts="/ { sub(/.*opts="/, ""); sub(/"$/, ""); print; exit }' nnprune.bash |
		tr ' ' '\n' | grep '^--' | grep -vx -- --help | LC_ALL=C sort -u
}
# The options its help offers: lines "  --name ..." or "  -x, --name ...".
help_lines() {
	"$NNP" "$1" --help | grep -E '^ +(-[a-zA-Z], )?--[a-z]' |
		sed -E 's/^ +(-[a-zA-Z], )?(--[a-z0-9-]+).*/\2/' | LC_ALL=C sort -u
}
# Every option its help names anywhere.
help_names() {
	"$NNP" "$1" --help | grep -oE -- '--[a-z][a-z0-9-]*' | LC_ALL=C sort -u
}
for c in $commands; do
	t=$(table_opts "$c")
	[ "$c" = completion ] || check "$c: the option table is not empty" test -n "$t"
	missing=$(echo "$t" | grep -v "^$" | LC_ALL=C comm -23 - <(help_names "$c") | tr '\n' ' ')
	expect_eq "$c --help names every option it accepts" "" "$missing"
	extra=$(help_lines "$c" | LC_ALL=C comm -13 <(echo "$t") - | tr '\n' ' ')
	expect_eq "$c --help offers no option it rejects" "" "$extra"
done
nnp eval --help
check "eval --help does not offer --no-label" sh -c "! grep -q -- --no-label '$OUT'"
nnp stats --help
expect_out "stats --help offers --no-label" "--no-label"
expect_out "data help: the label column by name" "named label, target, class or y"

# --- the man page ------------------------------------------------------------
nnp --man
expect_rc "--man: exit 0" 0
cp "$OUT" nnprune.1
for c in $commands; do
	check "man: a section for $c" grep -qx ".SS \"nnprune $c\"" nnprune.1
	# Every help line is in the page (roff escapes undone).
	"$NNP" "$c" --help >help.txt
	sed -n "/^\\.SS \"nnprune $c\"/,/^\\.fi/p" nnprune.1 | sed -e 's/\\-/-/g' -e 's/\\e/\\/g' \
		-e 's/^\\&//' >section.txt
	check "man: $c section holds its whole --help" sh -c 'grep -vxFf section.txt help.txt | grep -q . && exit 1 || exit 0'
done
if command -v groff >/dev/null 2>&1; then
	groff -man -Tutf8 -ww -z nnprune.1 2>groff.err
	check "man: groff formats it without warnings" test ! -s groff.err
	groff -man -Tutf8 nnprune.1 2>/dev/null | sed 's/.\x08//g' >man.txt
	check "man: rendered page has the stats options" grep -q -- "--output FILE" man.txt
else
	skip "man: groff" "groff is not installed"
fi
if [ -f "$(dirname "$NNP")/nnprune.1" ]; then
	expect_same "man: the build's nnprune.1 is current" nnprune.1 "$(dirname "$NNP")/nnprune.1"
fi

# --- bash completion -----------------------------------------------------------
complete_bash() {
	bash -c 'source ./nnprune.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _nnprune
		echo "${COMPREPLY[*]}"' _ "$@"
}
expect_eq "bash: commands" "stats" "$(complete_bash nnprune st)"
expect_eq "bash: a command's options" "--max-drop" "$(complete_bash nnprune sweep --max-d)"
expect_eq "bash: an option's values" "auto yes no" "$(complete_bash nnprune stats --header '')"
expect_eq "bash: words of --label-col" "first last" "$(complete_bash nnprune eval --label-col '')"
touch some.csv
expect_eq "bash: a file after a valued option" "some.csv" "$(complete_bash nnprune stats -o som)"
expect_eq "bash: completion's shells" "bash zsh" "$(complete_bash nnprune completion '')"
bash -n nnprune.bash
check "bash: script parses" test $? = 0

nnp completion zsh
expect_rc "completion zsh: exit 0" 0
cp "$OUT" _nnprune
check "zsh: #compdef line" grep -qx '#compdef nnprune' _nnprune
check "zsh: a valued option with its values" grep -qF "'--header[CSV header line (default auto)]:auto|yes|no:(auto yes no)'" _nnprune
if command -v zsh >/dev/null 2>&1; then
	zsh -n _nnprune
	check "zsh: script parses" test $? = 0
	# Load it for real and list what it offers after "nnprune sw".
	got=$(zsh -f -c 'autoload -Uz compinit; compinit -u -D; fpath=(. $fpath); source ./_nnprune 2>/dev/null; echo loaded' 2>&1)
	expect_eq "zsh: script loads" "loaded" "$(echo "$got" | tail -1)"
else
	skip "zsh: script parses" "zsh is not installed"
fi
nnp completion fish
expect_rc "completion fish: exit 2" 2
expect_err "completion fish: says which" "expected one shell, bash or zsh"

# --- did you mean ---------------------------------------------------------------
nnp stat model.bin data.csv
expect_rc "unknown command: exit 2" 2
expect_err "unknown command: did you mean" "'stat' is not a command; did you mean 'stats'?"
nnp frobnicate
expect_err "unknown command far from all: lists them" "is not a command (info, convert"
nnp sweep --max_drop 1
expect_rc "unknown option: exit 2" 2
expect_err "unknown option: did you mean" "unknown option '--max_drop'; did you mean '--max-drop'?"
nnp stats --ouptut x.json m d
expect_err "transposed letters: did you mean" "did you mean '--output'?"
nnp eval --conf m d
expect_err "abbreviation: did you mean" "did you mean '--confusion'?"
nnp stats --frobnicate
expect_err "unknown option far from all: no guess" "unknown option '--frobnicate'"
check "unknown option far from all: no guess" sh -c "! grep -q 'did you mean' '$ERR'"

finish
