#!/usr/bin/env bash
# The hostile corpus: every case of tests/hostile/cases run once, checking the
# exit code, that an error is one 'nnprune: ' line containing the fragment,
# that no sanitizer speaks and that no temporary file is left; then the
# cases that need a timeline (outputs through links and devices, a lock,
# signals).
# usage: test_hostile.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/../cli/lib.sh" "$@"
H=$SRC/tests/hostile

cp "$H"/files/* .
cp "$SRC/models/xor.json" xor.json
# A statistics file with relative paths, and variants of it.
nnp stats xor.json xor.csv -o xor.stats.json -q
expect_rc "setup: statistics of xor" 0
sub() { sed "$1" xor.stats.json >"$2"; }
sub 's/"delimiter": ","/"delimiter": "5"/' stats_delim5.json
sub 's/"label": "first"/"label": "name", "label_name": "y"/; s/"header": "auto"/"header": "no"/' stats_byname.json
sub 's|"path": "xor.csv"|"path": "/dev/zero"|' stats_zero.json
sub 's|"path": "xor.csv"|"path": "data.fifo"|' stats_fifo.json
sub 's|"path": "xor.csv"|"path": "x\\u001b[2Jy.csv"|' stats_escpath.json
sub 's|"format"|\x01"format"|' stats_ws.json
sub 's|"path": "xor.json"|"path": "other.json"|' stats_other.json
sub 's|"path": "xor.json"|"path": "data.fifo"|' stats_mfifo.json
sed 's/"hand-written"/"hand-written, edited"/' xor.json >other.json
# A model with another shape (two hidden layers) for --model.
nnp train xor.csv -o deep.json --layers 2,3,3,2 --epochs 1 -q
mkfifo data.fifo out.fifo endless.fifo
# Writers for the FIFOs the cases read: endless '{' then spaces; nothing.
( { printf '{'; yes '' | tr '\n' ' '; } >endless.fifo 2>/dev/null & )
# Big inputs made here rather than committed.
{ printf '0'; head -c 1000001 /dev/zero | tr '\0' ','; printf '0\n'; } >columns_1e6.csv
head -c 100000000 /dev/zero | gzip -1 >zeros.csv.gz
head -c 100000000 /dev/zero | tr '\0' ',' | gzip -1 >commas.csv.gz
head -c 100000000 /dev/zero | tr '\0' '\n' | gzip -1 >newlines.csv.gz
ln -s xor.json link-to-input.json
if [ "$(id -u)" = 0 ]; then
	mknod null.dev c 1 3 && chmod 666 null.dev
	mknod block.dev b 7 0
fi

while IFS='|' read -r name code frag args; do
	case $name in '#'* | '') continue ;; esac
	name=$(echo "$name" | sed 's/ *$//')
	if { [ "${args#*null.dev}" != "$args" ] || [ "${args#*block.dev}" != "$args" ]; } && [ "$(id -u)" != 0 ]; then
		skip "$name" "device nodes need root"
		continue
	fi
	# A reader for the output FIFO, so that opening it for writing returns.
	reader=
	if [ "${args#*out.fifo}" != "$args" ]; then
		# bounded: a run that never opens the FIFO must fail the case, not hang it
		timeout 60 cat out.fifo >fifo.got &
		reader=$!
	fi
	# shellcheck disable=SC2086
	eval "set -- $args"
	nnp "$@"
	[ -n "$reader" ] && wait "$reader"
	expect_rc "$name: exit $code" "$code"
	if [ "$code" != 0 ]; then
		expect_one_line_error "$name: one line"
		expect_err "$name: message" "$frag"
	fi
	expect_eq "$name: no temporary file" "" "$(find . -name '*.tmp.*' | head -3)"
done <"$H/cases"

# After the cases: devices and FIFOs are still what they were.
check "FIFO output: still a FIFO" test -p out.fifo
expect_same "FIFO output: the model's bytes" fifo.got <(nnp convert xor.json /dev/stdout --to bin; cat "$OUT")
if [ "$(id -u)" = 0 ]; then
	check "char device output: still a character device" test -c null.dev
	check "block device output: still a block device" test -b block.dev
fi
check "link to input: input unchanged" cmp -s xor.json "$SRC/models/xor.json"

# A link to a regular file that is not an input: followed, its target replaced.
echo old >target.json
ln -s target.json link.json
nnp convert xor.json link.json
expect_rc "link output: exit 0" 0
check "link output: the link stays a link" test -L link.json
expect_same "link output: the target has the model" target.json xor.json

# Two runs into one --out: the second waits, or fails with exit 4 under --no-wait.
mkdir -p locked
: >locked/.nnprune.lock
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import fcntl, sys, time
f = open("locked/.nnprune.lock", "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
open("locked.ready", "w").close()
time.sleep(3)
' &
	holder=$!
	for _ in $(seq 100); do [ -e locked.ready ] && break; sleep 0.1; done
	nnp sweep --stats xor.stats.json -o locked --no-wait -q
	expect_rc "lock: --no-wait while another run holds it: exit 4" 4
	expect_err "lock: names the holder" "in use by another nnprune run (pid $holder)"
	start=$(date +%s)
	nnp sweep --stats xor.stats.json -o locked -q
	expect_rc "lock: waiting run: exit 0" 0
	expect_err "lock: waiting run says so" "waiting for it"
	check "lock: waited for the holder" test $(($(date +%s) - start)) -ge 1
	wait "$holder"
else
	skip "lock" "python3 needed to hold a POSIX lock"
fi

# Stale temporary files of a killed run: removed by the next sweep.
mkdir -p stale
echo x >stale/xor-m0-s0.1.json.tmp.a1b2c3
echo x >stale/notours.tmp.txt
touch -d '1 hour ago' stale/xor-m0-s0.1.json.tmp.a1b2c3 stale/notours.tmp.txt
nnp sweep --stats xor.stats.json -o stale -q
expect_rc "stale temporaries: sweep exit 0" 0
check "stale temporaries: ours removed" test ! -e stale/xor-m0-s0.1.json.tmp.a1b2c3
check "stale temporaries: others kept" test -e stale/notours.tmp.txt

# SIGINT and SIGTERM: the run's temporary files go, exit 130 and 143. A
# sweep of the 300-150 Fashion-MNIST model over 2,000 threshold pairs writes
# every candidate as JSON, each synced, on two threads (seconds of writing;
# the 30 default pairs take about 0.1 s): the signal comes once the first
# file is being written, while the other thread writes too.
awk 'BEGIN { srand(7); for (r = 0; r < 50; r++) { printf "%d", r % 10;
	for (c = 0; c < 784; c++) printf ",%d", int(rand() * 256); printf "\n" } }' >fm.csv
nnp stats "$SRC/models/fashion-mlp-300-150.bin" fm.csv -o fm.stats.json -q
expect_rc "signals: statistics of the Fashion-MNIST model" 0
for sig in INT TERM; do
	want=$((128 + $(kill -l $sig)))
	# A background job of a script starts with SIGINT ignored: restore it.
	env --default-signal=$sig "$NNP" sweep --stats fm.stats.json -o sig-$sig --format json -q \
		--write all -j 2 --mean 0:0.5:0.01 --std 0:2:0.05 \
		2>/dev/null &
	pid=$!
	# The models are written at once on the threads: signal as soon as the
	# first temporary file (or model) shows, while the others are written.
	for _ in $(seq 3000); do
		ls sig-$sig/*-m*-s*.json* >/dev/null 2>&1 && break
		sleep 0.005
	done
	kill -s $sig $pid 2>/dev/null
	wait $pid
	RC=$?
	if [ $RC = 0 ]; then
		skip "SIG$sig" "the run ended before the signal"
	else
		expect_rc "SIG$sig: exit $want" $want
	fi
	expect_eq "SIG$sig: no temporary file" "" "$(find sig-$sig -name '*.tmp.*' 2>/dev/null | head -3)"
	# The report comes last: if a killed run left one, every model it lists is there.
	missing=
	if [ -e sig-$sig/report.md ]; then
		for f in $(grep -o '[A-Za-z0-9_.-]*-m[0-9.]*-s[0-9.]*\.json' sig-$sig/report.md | sort -u); do
			[ -e "sig-$sig/$f" ] || missing="$missing $f"
		done
	fi
	expect_eq "SIG$sig: a report lists only models in place" "" "$missing"
done
finish
