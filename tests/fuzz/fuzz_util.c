/*
 * Scratch files and the oracle check of the fuzz harnesses.
 *
 * A harness rewrites its scratch file at every execution. Truncating and
 * rewriting a file on disk costs a flush on some file systems (ext4 forces
 * the data out when a truncated file is closed: about 1.5 ms), which made the
 * file half of every oracle cost more than the reading. So the descriptor
 * stays open, the contents live in memory where memfd_create exists, and the
 * path the readers open is a symbolic link to /proc/self/fd/N: a regular
 * file for every reader, with the name (and extension) the harness chose.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

static struct {
	int fd;
	char path[96];
} files[2];

static void cleanup(void)
{
	for (int k = 0; k < 2; k++) {
		if (files[k].path[0])
			unlink(files[k].path);
	}
}

void fz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "oracle failed: %s (%s:%d)\n", what, file, line);
	abort();
}

const char *fz_file(int k, const char *ext)
{
	static int registered;
	if (files[k].path[0])
		return files[k].path;
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(files[k].path, sizeof files[k].path, "%s/nnpfuzz.%ld.%d%s", dir,
	         (long)getpid(), k, ext);
	unlink(files[k].path);
	files[k].fd = -1;
#ifdef MFD_CLOEXEC
	files[k].fd = memfd_create("nnpfuzz", MFD_CLOEXEC);
	if (files[k].fd >= 0) {
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", files[k].fd);
		if (symlink(proc, files[k].path) != 0) {
			close(files[k].fd);
			files[k].fd = -1;
		}
	}
#endif
	if (files[k].fd < 0) {  /* no memfd: a file kept open, never truncated to 0 */
		files[k].fd = open(files[k].path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		FZ_CHECK(files[k].fd >= 0);
	}
	if (!registered)
		atexit(cleanup);
	registered = 1;
	return files[k].path;
}

const char *fz_path(int k)
{
	return fz_file(k, "");
}

const char *fz_write(int k, const void *data, size_t n)
{
	const char *p = fz_path(k);
	size_t done = 0;
	while (done < n) {
		ssize_t w = pwrite(files[k].fd, (const char *)data + done, n - done, (off_t)done);
		FZ_CHECK(w > 0);
		done += (size_t)w;
	}
	FZ_CHECK(ftruncate(files[k].fd, (off_t)n) == 0);
	return p;
}

void *fz_arena_get(fz_arena *a, size_t n, size_t keep)
{
	if (n > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		while (cap < n)
			cap *= 2;
		unsigned char *p = malloc(cap);
		FZ_CHECK(p != NULL);
		if (a->p) {
			ASAN_UNPOISON_MEMORY_REGION(a->p, a->cap);
			memcpy(p, a->p, keep);
			free(a->p);
		}
		ASAN_POISON_MEMORY_REGION(p, cap);
		a->p = p;
		a->cap = cap;
		a->used = 0;
	}
	/* Only the difference changes: growing a buffer batch by batch stays linear. */
	if (n > a->used)
		ASAN_UNPOISON_MEMORY_REGION(a->p + a->used, n - a->used);
	else if (n < a->used)
		ASAN_POISON_MEMORY_REGION(a->p + n, a->used - n);
	a->used = n;
	return a->p;
}

void fz_arena_done(fz_arena *a)
{
	if (a->used)
		ASAN_POISON_MEMORY_REGION(a->p, a->used);
	a->used = 0;
	if (a->cap > ((size_t)16 << 20)) {
		ASAN_UNPOISON_MEMORY_REGION(a->p, a->cap);
		free(a->p);
		a->p = NULL;
		a->cap = 0;
	}
}
