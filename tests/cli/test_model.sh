#!/usr/bin/env bash
# End-to-end tests of 'nnprune info' and 'nnprune convert', and of hostile
# model and data files: every corruption is an error (exit 3, one line),
# never a crash.
# usage: test_model.sh NNPRUNE_BINARY SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$@"

cp "$SRC/models/xor.json" xor.json
xor_sum=$(cksum <xor.json)

# --- info: the same facts from both formats ------------------------------------------------------
nnp convert xor.json xor.bin
expect_rc "convert json -> bin: exit 0" 0
nnp info --json xor.json
cp "$OUT" ij.json
nnp info --json xor.bin
cp "$OUT" ib.json
expect_json "info --json: JSON" ij.json
expect_eq "info --json: same model in both formats" \
	"$(grep -v '"path"\|"model_format"\|"bytes"\|"crc32"' ij.json)" "$(grep -v '"path"\|"model_format"\|"bytes"\|"crc32"' ib.json)"
expect_out "info --json on binary: format" '"model_format":	"bin"'
expect_out "info --json on binary: size" '"bytes":	300'
check "info --json: CRC-32 is 8 hex digits" grep -q '^	"crc32":	"[0-9a-f]\{8\}",$' ib.json
if command -v gzip >/dev/null 2>&1; then
	# A binary model's CRC-32 is the one it stores, over every byte before it:
	# the CRC gzip stores in its trailer (little-endian, 8 bytes from the end)
	# for the file less its last 4 bytes, and the file's own last 4 bytes.
	expect_eq "info: CRC-32 of a binary model = zlib's over all but its CRC field" \
		"$(head -c -4 xor.bin | gzip -c | tail -c 8 | od -An -tx1 -N4 | awk '{ print $4 $3 $2 $1 }')" \
		"$(json_num ib.json crc32 | tr -d '"')"
	expect_eq "info: CRC-32 of a binary model = its stored CRC field" \
		"$(tail -c 4 xor.bin | od -An -tx1 | awk '{ print $4 $3 $2 $1 }')" \
		"$(json_num ib.json crc32 | tr -d '"')"
	expect_eq "info: CRC-32 of a JSON model = zlib's over the whole file" \
		"$(gzip -c xor.json | tail -c 8 | od -An -tx1 -N4 | awk '{ print $4 $3 $2 $1 }')" \
		"$(json_num ij.json crc32 | tr -d '"')"
fi

# --- convert ----------------------------------------------------------------------------------------
nnp convert xor.bin back.json
expect_same "convert bin -> json: the bundled file byte for byte" xor.json back.json
nnp convert --format json xor.bin json-in-disguise.bin
expect_rc "convert --format json to a .bin name: exit 0" 0
nnp info json-in-disguise.bin
expect_out "convert --format json: content decides, not the name" "nnprune JSON model"
nnp convert -f bin xor.json bin-in-disguise.json
nnp info bin-in-disguise.json
expect_out "convert -f bin: binary whatever the name" "nnprune binary model"
expect_same "convert -f bin: same bytes as the .bin" xor.bin bin-in-disguise.json
nnp convert xor.bin noext
expect_rc "convert to a name without a known extension: exit 2" 2
expect_err "convert to a name without an extension: lists the formats" ".safetensors, .npz, .onnx or .h"
check "convert to a name without an extension: nothing written" test ! -e noext
nnp convert xor.json best.h
nnp convert --to bin xor.bin noext
nnp info noext
expect_out "convert --to bin: binary whatever the name" "nnprune binary model"

echo old >out.bin
ln out.bin out-link.bin
nnp convert xor.json out.bin
expect_rc "convert over an existing file: exit 0" 0
expect_eq "convert replaces by rename (old inode untouched)" old "$(cat out-link.bin)"
expect_same "convert over an existing file: new content" xor.bin out.bin

nnp convert xor.json xor.json
expect_rc "convert IN IN: exit 4" 4
expect_one_line_error "convert IN IN: one error line"
ln -s xor.json sym.json
nnp convert xor.json sym.json
expect_rc "convert to a symlink to IN: exit 4" 4
ln xor.json hard.json
nnp convert hard.json xor.json
expect_rc "convert to a hard link of IN: exit 4" 4
expect_eq "convert refusals: input unchanged" "$xor_sum" "$(cksum <xor.json)"
nnp convert xor.json nodir/x.bin
expect_rc "convert into a missing directory: exit 4" 4
expect_one_line_error "convert into a missing directory: one error line"
nnp convert --to bin xor.json /
expect_rc "convert to /: exit 4" 4
nnp convert missing.json x.bin
expect_rc "convert missing input: exit 3" 3
check "convert failures: no output, no temporary file" test -z "$(ls -A | grep '^x.bin\|\.tmp\.')"
nnp convert --help
expect_rc "convert --help: exit 0" 0
nnp info --help
expect_rc "info --help: exit 0" 0
nnp info xor.json xor.bin
expect_rc "info with two models: exit 2" 2

# --- hostile model files ----------------------------------------------------------------------------
# set_byte FILE OFFSET VALUE (decimal)
set_byte() { printf "\\$(printf %03o "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }

crashes=0 not3=0 notone=0 accepted=0 runs=0
# try_hostile NAMED WHAT ARGS...: nnprune ARGS on a hostile input; counts
# crashes, acceptances, exits other than 3 and errors that are not one line
# starting 'nnprune: NAMED'.
try_hostile() {
	local named=$1 what=$2
	shift 2
	nnp "$@"
	runs=$((runs + 1))
	if [ "$RC" -ge 128 ]; then
		crashes=$((crashes + 1))
		echo "  crash ($RC) on $what"
	elif [ "$RC" = 0 ]; then
		accepted=$((accepted + 1))
		echo "  accepted: $what"
	elif [ "$RC" != 3 ]; then
		not3=$((not3 + 1))
		echo "  exit $RC on $what"
	fi
	if [ "$RC" != 0 ] && { [ "$(wc -l <"$ERR")" != 1 ] || ! grep -q "^nnprune: $named" "$ERR"; }; then
		notone=$((notone + 1))
		echo "  not one 'nnprune: $named' line on $what: $(head -c 200 "$ERR")"
	fi
}
try_model() { try_hostile "$1:" "$2" info "$1"; } # FILE WHAT
# Every header and first-layer-record byte changed by one; the high byte of
# each 32-bit field set to 255 (huge sizes, counts, flags).
bytes=($(od -An -tu1 -N64 xor.bin))
for i in $(seq 0 63); do
	cp xor.bin h.bin
	set_byte h.bin "$i" $(((bytes[i] + 1) % 256))
	try_model h.bin "binary byte $i + 1"
done
for i in $(seq 3 4 63); do
	cp xor.bin h.bin
	set_byte h.bin "$i" 255
	try_model h.bin "binary byte $i = 255"
done
for n in 0 1 7 8 31 32 33 63 64 100 200 295 296 299; do
	head -c "$n" xor.bin >t.bin
	try_model t.bin "binary cut at $n"
done
# Huge sizes in an otherwise valid header must be refused before allocating.
for field in 16 20 24 32; do
	cp xor.bin h.bin
	for k in 0 1 2 3; do set_byte h.bin $((field + k)) 255; done
	try_model h.bin "binary u32 at $field = 0xffffffff"
done
# JSON: cut everywhere a structure opens or closes, and odd values.
# (556 bytes: cutting only the final newline leaves a valid file.)
for n in 1 2 50 120 200 300 400 500 550 554; do
	head -c "$n" xor.json >t.json
	try_model t.json "JSON cut at $n"
done
for sub in 's/"input_size": 2/"input_size": 0/' 's/"input_size": 2/"input_size": -2/' \
	's/"input_size": 2/"input_size": 2.5/' 's/"input_size": 2/"input_size": 1e300/' \
	's/"input_size": 2/"input_size": "2"/' 's/"version": 1/"version": 3/' \
	's/"layers": \[/"layers": [], "x": [/' 's/\[1, 1\],/[1, "1"],/' 's/\[1, 1\],/[1, null],/' \
	's/\[1, 1\],/[1, true],/' 's/\[1, 1\],/[],/' 's/\[1, 1\],/[[1], 1],/' 's/"bias": \[0, -1\]/"bias": 0/' \
	's/"relu"/"leaky_relu", "alpha": "x"/' 's/"relu"/"relu", "alpha": 0.1/' \
	's/"classes": \["false", "true"\]/"classes": ["a"]/' 's/"provenance": {\(.*\)}$/"provenance": [{\1}]/' \
	's/"name": "xor"/"name": 7/' 's/"hand-written"/"\\ud800"/' 's/^{/[{/'; do
	sed "$sub" xor.json >m.json
	if cmp -s m.json xor.json; then
		bad "fuzz setup" "sed '$sub' changed nothing"
		continue
	fi
	try_model m.json "sed '$sub'"
done
printf '\0\0\0\0' >nul.json
try_model nul.json "four NUL bytes"
head -c 3000 /dev/zero | tr '\0' '[' >deep.json
try_model deep.json "3000 nested ["
expect_eq "hostile models: no crash in $runs runs" 0 "$crashes"
expect_eq "hostile models: none accepted" 0 "$accepted"
expect_eq "hostile models: every error is exit 3" 0 "$not3"
expect_eq "hostile models: every error is one 'nnprune: FILE:' line" 0 "$notone"

# --- hostile data files --------------------------------------------------------------------------------
crashes=0 not3=0 runs=0 notone=0 accepted=0
try_data() { try_hostile d.csv "$1" eval xor.json d.csv; } # WHAT: eval xor.json on d.csv
for content in '0,1,2\n1,1\n' '0,1,2\n1,1,2,3\n' '0,1,2\n,1,2\n' '0,1,2\n1,1,\n' '0,1,2\n1,1,2x\n' \
	'0,1,2\n1,0x10,2\n' '0,1,2\n1,inf,2\n' '0,1,2\n1,-nan,2\n' '0,1,2\n1,1e39,2\n' '0,1,2\n1,NA,2\n' \
	'0,1,2\n3,1,2\n' '0,1,2\n-1,1,2\n' '0,1,2\n1e9,1,2\n' '0,1,2\n99999999999999999999,1,2\n' \
	'0,1,2\n"1,1,2\n' '0,1,2\n"1"x,1,2\n' '0,1,2\n1,1,2\0\n' '0;1;2\n' '0,1.5.2,2\n' '\n\n' \
	'0, 1 ,2\n' '0,1,2\r\n1,1\r\n' 'a,b,c\nx,y,z\n'; do
	printf "$content" >d.csv
	try_data "$(printf %q "$content")"
done
head -c 100000 /dev/zero | tr '\0' '1' >d.csv
try_data "one 100000-digit field"
{ printf '0'; head -c 300000 /dev/zero | tr '\0' ','; echo; } >d.csv
try_data "300000 empty fields"
printf '\037\213\010\000\000\000\000\000' >d.csv
try_data "a gzip header and nothing else"
expect_eq "hostile data: no crash in $runs runs" 0 "$crashes"
# Empty lines are ignored (documented in data.h), not errors.
printf '0,0,0\n\n1,0,1\n\n' >d.csv
nnp eval xor.json d.csv
expect_rc "data: empty lines are skipped" 0
expect_out "data: empty lines are not rows" "2 rows"
expect_eq "hostile data: none accepted" 0 "$accepted"
expect_eq "hostile data: every error is exit 3" 0 "$not3"
expect_eq "hostile data: every error is one 'nnprune: d.csv' line" 0 "$notone"

finish
