/*
 * Shared by the libFuzzer harnesses: scratch files that a harness rewrites
 * at every input (to compare a reader on memory with the same reader on a
 * file), and the check that turns a broken oracle into a crash the fuzzer
 * reports.
 */
#ifndef NNP_FUZZ_UTIL_H
#define NNP_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Aborts with a message when an oracle fails: libFuzzer saves the input. */
#define FZ_CHECK(cond) \
	((cond) ? (void)0 : fz_fail(#cond, __FILE__, __LINE__))

void fz_fail(const char *what, const char *file, int line);

/* The path of this process's scratch file number k (0 or 1), created at the
 * first call with the name ending in ext (later calls: the same path). On
 * Linux its contents live in memory (memfd) and the path is a symbolic link
 * to it, so rewriting it costs two system calls and no disk. */
const char *fz_file(int k, const char *ext);

/* fz_file(k, ""). */
const char *fz_path(int k);

/* Replaces the scratch file k's contents with n bytes; returns its path. */
const char *fz_write(int k, const void *data, size_t n);

/*
 * Memory reused from one execution to the next, for buffers too big to
 * allocate at every input: ASan maps and unmaps allocations over 128 KiB,
 * which cost more than the reading. Only the n bytes last asked for are
 * addressable, the rest is poisoned, so ASan reports an access past them as
 * it would past malloc(n).
 */
typedef struct fz_arena {
	unsigned char *p;
	size_t cap, used;
} fz_arena;

/* n bytes of a (contents undefined beyond the first `keep` bytes, which are
 * kept when it grows: keep <= the size last asked for). */
void *fz_arena_get(fz_arena *a, size_t n, size_t keep);

/* Poisons all of a; frees it when it grew past 16 MiB. */
void fz_arena_done(fz_arena *a);

#endif
