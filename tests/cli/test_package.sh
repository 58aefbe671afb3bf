#!/usr/bin/env bash
# The Debian package: 'cpack -G DEB' in the build directory makes it; unpacked
# into an empty root directory (as on a clean machine) its nnprune runs
# --version and a stats run, its man page and completions are where man and
# the shells look, and a program built against its headers, pkg-config file
# and libraries (shared and static) runs.
# usage: test_package.sh NNPRUNE_BINARY SOURCE_DIR   (the binary in its build directory)
. "$(dirname "$0")/lib.sh" "$@"

BUILD=$(dirname "$NNP")
if [ ! -f "$BUILD/CPackConfig.cmake" ]; then
	skip "package" "$BUILD has no CPackConfig.cmake (not a CMake build directory)"
	finish
fi
for tool in cpack dpkg-deb; do
	if ! command -v $tool >/dev/null 2>&1; then
		skip "package" "$tool is not installed"
		finish
	fi
done
version=$(sed -n 's/^#define NNP_VERSION "\(.*\)"$/\1/p' "$SRC/include/nnprune/nnp.h")

# Packaged from what the build installs, into a scratch directory of our own.
cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/pkg" >cpack.log 2>&1
check "cpack -G DEB: exit 0" test $? = 0
deb=$(ls "$WORK"/pkg/nnprune_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
	bad "cpack: a .deb" "$(tail -5 cpack.log | tr '\n' '|')"
	finish
fi
expect_eq "package: version" "$version" "$(dpkg-deb -f "$deb" Version)"
depends=$(dpkg-deb -f "$deb" Depends)
# libzip is opened at run time (.npz only), so it is named by hand: checked too.
for lib in libc6 libcjson1 libopenblas0 zlib1g libzip4; do
	check "package: depends on $lib" sh -c "echo '$depends' | grep -q '$lib'"
done

mkdir -p root
dpkg-deb -x "$deb" root
R=$PWD/root
for f in usr/bin/nnprune usr/include/nnprune/nnp.h usr/include/nnprune/model.h \
	usr/lib/pkgconfig/nnprune.pc usr/lib/libnnprune.a usr/lib/libnnprune.so \
	usr/share/man/man1/nnprune.1 usr/share/bash-completion/completions/nnprune \
	usr/share/zsh/vendor-completions/_nnprune usr/share/nnprune/schema/nnprune.eval.v1.json; do
	check "package holds /$f" test -e "root/$f"
done
check "package: libnnprune.so.N is a real library" sh -c "ls root/usr/lib/libnnprune.so.* >/dev/null"

# The packaged program, alone in its root.
expect_eq "packaged nnprune --version" "nnprune $version" "$(root/usr/bin/nnprune --version)"
cp "$SRC/models/xor.json" "$SRC/tests/data/cli_xor.csv" .
root/usr/bin/nnprune stats xor.json cli_xor.csv -o xor.stats.json --json >stats.out 2>stats.err
check "packaged nnprune stats: exit 0" test $? = 0
check "packaged nnprune stats: nothing on stderr" test ! -s stats.err
check "packaged nnprune stats: the statistics file" grep -q '"format": "nnprune-stats"' xor.stats.json
expect_eq "packaged nnprune stats: 4 rows" 4 "$(json_num stats.out rows)"
# The same numbers as the build's own binary.
"$NNP" stats xor.json cli_xor.csv -o build.stats.json -q
expect_eq "packaged stats = built stats" "$(sed -n '/"metrics"/,$p' build.stats.json)" \
	"$(sed -n '/"metrics"/,$p' xor.stats.json)"
# libzip is not linked: it is opened when an .npz is first written or read.
check "packaged nnprune: libzip not loaded at start-up" \
	sh -c "! ldd root/usr/bin/nnprune | grep -q libzip"
root/usr/bin/nnprune convert xor.json xor.npz >npz.out 2>npz.err
check "packaged nnprune convert to .npz: exit 0" test $? = 0
root/usr/bin/nnprune convert xor.npz back.json --activations relu,softmax >>npz.out 2>>npz.err
check "packaged nnprune convert .npz back: exit 0" test $? = 0
"$NNP" convert back.json build.npz >>npz.out
check "packaged .npz = built .npz, byte for byte" cmp -s xor.npz build.npz
if command -v man >/dev/null 2>&1; then
	man -l root/usr/share/man/man1/nnprune.1 2>/dev/null | grep -q "nnprune stats"
	check "packaged man page renders with its stats section" test $? = 0
fi
bash -n root/usr/share/bash-completion/completions/nnprune
check "packaged bash completion parses" test $? = 0

# A program built against the package through its pkg-config file.
if command -v pkg-config >/dev/null 2>&1 && command -v cc >/dev/null 2>&1; then
	cat >use.c <<'EOF'
#include <stdio.h>
#include "nnprune/model.h"
int main(int argc, char **argv)
{
	nnp_model *m = NULL;
	nnp_err err;
	nnp_err_clear(&err);
	if (argc != 2 || nnp_model_load(&m, argv[1], NULL, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	printf("%zu %zu\n", m->n_layers, nnp_model_params(m));
	nnp_model_free(m);
	return 0;
}
EOF
	export PKG_CONFIG_PATH=$R/usr/lib/pkgconfig
	# A sanitizer build's library needs its runtime in the program too.
	san=
	if command -v ldd >/dev/null 2>&1 && ldd "$NNP" | grep -q libasan; then
		san="-fsanitize=address,undefined"
	fi
	expect_eq "pkg-config: version" "$version" "$(pkg-config --modversion nnprune)"
	cflags=$(pkg-config --cflags nnprune)
	cc $san $cflags use.c -o use_shared $(pkg-config --libs nnprune) 2>cc.err
	check "builds against the shared library" test $? = 0
	# xor.json: 2-2-1... its layer count and parameters, as 'nnprune info' says.
	want=$("$NNP" info --json xor.json | sed -n 's/^\t"params":[ \t]*\([0-9]*\).*/\1/p')
	layers=$("$NNP" info --json xor.json | grep -c '"activation"')
	expect_eq "shared: runs and loads a model" "$layers $want" \
		"$(LD_LIBRARY_PATH=$R/usr/lib ./use_shared xor.json 2>&1)"
	cc $san $cflags use.c -o use_static $R/usr/lib/libnnprune.a \
		$(pkg-config --libs-only-l --static nnprune | sed 's/-lnnprune//') 2>cc.err
	check "builds against the static library" test $? = 0
	expect_eq "static: runs and loads a model" "$layers $want" "$(./use_static xor.json 2>&1)"
else
	skip "pkg-config build" "pkg-config or cc is missing"
fi

finish
