/* Atomic output files, input identity and path checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "nnprune/io.h"

int nnp_atomic_open(nnp_atomic *a, const char *path, nnp_err *err)
{
	a->fp = NULL;
	a->path = NULL;
	a->tmp = NULL;
	size_t n = strlen(path);
	a->path = strdup(path);
	a->tmp = malloc(n + sizeof ".tmp.XXXXXX");
	if (!a->path || !a->tmp) {
		/* Not through nnp_atomic_abort: tmp holds no name yet to unlink. */
		free(a->path);
		free(a->tmp);
		a->path = a->tmp = NULL;
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	}
	/* The temporary file lives in the target's directory so that rename()
	 * stays on one file system and is atomic. */
	memcpy(a->tmp, path, n);
	/* open(O_EXCL) with mode 0666 lets the kernel apply the umask, as for any
	 * output; mkstemp's 0600 would need the umask read, which only umask()
	 * can do, and that changes it for the whole process for a moment. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
	             ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)a;
	int fd = -1, e = EEXIST;
	for (int attempt = 0; attempt < 100 && fd < 0 && e == EEXIST; attempt++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		snprintf(a->tmp + n, sizeof ".tmp.XXXXXX", ".tmp.%06llx",
		         (unsigned long long)(x >> 40) & 0xffffffULL);
		fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		e = errno;
	}
	if (fd < 0) {
		free(a->tmp);
		a->tmp = NULL;
		nnp_atomic_abort(a);
		return nnp_err_set(err, NNP_EOUTPUT, "%s: cannot create a file there: %s", path,
		                   strerror(e));
	}
	a->fp = fdopen(fd, "wb");
	if (!a->fp) {
		e = errno;
		close(fd);
		nnp_atomic_abort(a);
		return nnp_err_set(err, NNP_EOUTPUT, "%s: %s", path, strerror(e));
	}
	return NNP_OK;
}

int nnp_atomic_commit(nnp_atomic *a, nnp_err *err)
{
	int rc = NNP_OK;
	if (!a->fp)
		return nnp_err_set(err, NNP_EOUTPUT, "%s: not open for writing",
		                   a->path ? a->path : "(output)");
	if (fflush(a->fp) != 0 || ferror(a->fp) || fsync(fileno(a->fp)) != 0) {
		rc = nnp_err_set(err, NNP_EOUTPUT, "%s: write failed: %s", a->path, strerror(errno));
		nnp_atomic_abort(a);
		return rc;
	}
	FILE *fp = a->fp;
	a->fp = NULL;
	if (fclose(fp) != 0) {
		rc = nnp_err_set(err, NNP_EOUTPUT, "%s: write failed: %s", a->path, strerror(errno));
		nnp_atomic_abort(a);
		return rc;
	}
	if (rename(a->tmp, a->path) != 0) {
		rc = nnp_err_set(err, NNP_EOUTPUT, "%s: cannot rename the finished file into place: %s",
		                 a->path, strerror(errno));
		nnp_atomic_abort(a);
		return rc;
	}
	free(a->tmp);
	free(a->path);
	a->tmp = NULL;
	a->path = NULL;
	return NNP_OK;
}

void nnp_atomic_abort(nnp_atomic *a)
{
	if (!a)
		return;
	if (a->fp) {
		fclose(a->fp);
		a->fp = NULL;
	}
	if (a->tmp) {
		unlink(a->tmp);
		free(a->tmp);
		a->tmp = NULL;
	}
	free(a->path);
	a->path = NULL;
}

int nnp_write_file_atomic(const char *path, const void *buf, size_t len, nnp_err *err)
{
	nnp_atomic a;
	int rc = nnp_atomic_open(&a, path, err);
	if (rc)
		return rc;
	if (len && fwrite(buf, 1, len, a.fp) != len) {
		rc = nnp_err_set(err, NNP_EOUTPUT, "%s: write failed: %s", path, strerror(errno));
		nnp_atomic_abort(&a);
		return rc;
	}
	return nnp_atomic_commit(&a, err);
}

int nnp_file_identity(const char *path, uint64_t *bytes, uint32_t *crc, nnp_err *err)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
	unsigned char buf[1 << 16];
	uLong c = crc32(0L, Z_NULL, 0);
	uint64_t total = 0;
	size_t got;
	while ((got = fread(buf, 1, sizeof buf, fp)) > 0) {
		c = crc32(c, buf, (uInt)got);
		total += got;
	}
	int bad = ferror(fp);
	fclose(fp);
	if (bad)
		return nnp_err_set(err, NNP_EINPUT, "%s: read error at byte %llu", path,
		                   (unsigned long long)total);
	if (bytes)
		*bytes = total;
	if (crc)
		*crc = (uint32_t)c;
	return NNP_OK;
}

int nnp_file_stamp_get(const char *path, nnp_file_stamp *st, nnp_err *err)
{
	struct stat s;
	memset(st, 0, sizeof *st);
	if (stat(path, &s) != 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot read: %s", path, strerror(errno));
	st->dev = (uint64_t)s.st_dev;
	st->ino = (uint64_t)s.st_ino;
	st->size = (uint64_t)s.st_size;
	st->mtime_sec = (int64_t)s.st_mtim.tv_sec;
	st->mtime_nsec = s.st_mtim.tv_nsec;
	return NNP_OK;
}

int nnp_file_stamp_same(const nnp_file_stamp *a, const nnp_file_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec;
}

int nnp_same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int nnp_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int nnp_mkdir(const char *path, nnp_err *err)
{
	if (nnp_is_dir(path))
		return NNP_OK;
	if (mkdir(path, 0777) != 0 && !(errno == EEXIST && nnp_is_dir(path)))
		return nnp_err_set(err, NNP_EOUTPUT, "%s: cannot create directory: %s", path,
		                   strerror(errno));
	return NNP_OK;
}
