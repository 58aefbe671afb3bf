/* Scratch files and the oracle check of the fuzz harnesses. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"

static char paths[2][64];

static void cleanup(void)
{
	for (int k = 0; k < 2; k++)
		if (paths[k][0])
			unlink(paths[k]);
}

void fz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "oracle failed: %s (%s:%d)\n", what, file, line);
	abort();
}

const char *fz_path(int k)
{
	static int registered;
	if (!paths[k][0]) {
		const char *dir = getenv("TMPDIR");
		snprintf(paths[k], sizeof paths[k], "%s/nnpfuzz.%ld.%d", dir && *dir ? dir : "/tmp",
		         (long)getpid(), k);
		if (!registered)
			atexit(cleanup);
		registered = 1;
	}
	return paths[k];
}

const char *fz_write(int k, const void *data, size_t n)
{
	return fz_write_path(fz_path(k), data, n);
}

const char *fz_write_path(const char *p, const void *data, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FZ_CHECK(fd >= 0);
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, (const char *)data + done, n - done);
		FZ_CHECK(w > 0);
		done += (size_t)w;
	}
	close(fd);
	return p;
}
