/*
 * Shared by the libFuzzer harnesses: a scratch file that a harness rewrites
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

/* The path of this process's scratch file number k (0 or 1), created once. */
const char *fz_path(int k);

/* Replaces the scratch file k's contents with n bytes; returns its path. */
const char *fz_write(int k, const void *data, size_t n);

/* The same for a file of the harness's own (removed by the harness). */
const char *fz_write_path(const char *path, const void *data, size_t n);

#endif
