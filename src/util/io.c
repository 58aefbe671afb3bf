/* Atomic output files, input identity and path checks, and the registry of
 * live temporary files that a signal handler removes. */
/* realpath() is XSI. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "nnprune/io.h"

/* ---- live temporary files ----
 * A fixed table of pointers, each slot claimed and released with one atomic
 * operation, so that a signal handler can walk it without locks: it only
 * loads pointers and calls unlink(), both async-signal-safe. A file that
 * finds no free slot (more than NNP_TEMP_SLOTS written at once) is simply
 * not removed on a signal. */
#define NNP_TEMP_SLOTS 256
static _Atomic(char *) temp_slots[NNP_TEMP_SLOTS];

static void temp_register(char *name)
{
	for (size_t i = 0; i < NNP_TEMP_SLOTS; i++) {
		char *expect = NULL;
		if (atomic_compare_exchange_strong(&temp_slots[i], &expect, name))
			return;
	}
}

static void temp_unregister(char *name)
{
	for (size_t i = 0; i < NNP_TEMP_SLOTS; i++) {
		char *expect = name;
		if (atomic_compare_exchange_strong(&temp_slots[i], &expect, NULL))
			return;
	}
}

void nnp_temp_cleanup(void)
{
	for (size_t i = 0; i < NNP_TEMP_SLOTS; i++) {
		char *p = atomic_exchange(&temp_slots[i], NULL);
		if (p)
			unlink(p);
	}
}

/* Creations in flight: a thread that has blocked the signals, and is between
 * open() and temp_register(), has a file the table does not know yet. The
 * signal then runs on another thread, which must wait for it. Once dying is
 * set no creation starts (sequentially consistent: a creator either counted
 * itself before the handler read the count, or sees dying). */
static atomic_int temp_creating;
static atomic_int temp_dying;

static void on_signal(int sig)
{
	atomic_store(&temp_dying, 1);
	/* Bounded: a creation stuck in the kernel must not keep us alive. */
	for (long spin = 0; atomic_load(&temp_creating) > 0 && spin < 200000000L; spin++)
		;
	nnp_temp_cleanup();
	_exit(128 + sig);
}

int nnp_cleanup_on_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	int rc = 0;
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		struct sigaction old;
		/* A signal the caller's parent ignores (nohup) stays ignored. */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		if (sigaction(sigs[i], &sa, NULL) != 0)
			rc = -1;
	}
	return rc;
}

/* Blocks the cleanup signals while a temporary file is created and
 * registered, so that no signal finds it created but unknown. */
static void block_signals(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

static void restore_signals(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---- where an output really goes ---- */

/* The directory part of path ("." if none), malloc'd. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/*
 * The path an output is finally written to: a symbolic link is followed to
 * its target (existing or not), so that the rename replaces the target and
 * the link stays. NULL with errno set when the chain cannot be resolved.
 */
static char *resolve_output(const char *path)
{
	char *p = strdup(path);
	for (int depth = 0; p && depth < 40; depth++) {
		struct stat st;
		if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode))
			return p;
		/* An existing target: realpath gives its canonical name. */
		char *real = realpath(p, NULL);
		if (real) {
			free(p);
			return real;
		}
		/* A dangling link: follow it one step by hand. */
		char link[PATH_MAX];
		ssize_t n = readlink(p, link, sizeof link - 1);
		if (n < 0) {
			free(p);
			return NULL;
		}
		link[n] = '\0';
		char *next;
		if (link[0] == '/') {
			next = strdup(link);
		} else {
			char *dir = dir_of(p);
			size_t len = dir ? strlen(dir) + 1 + (size_t)n + 1 : 0;
			next = dir ? malloc(len) : NULL;
			if (next)
				snprintf(next, len, "%s/%s", dir, link);
			free(dir);
		}
		free(p);
		p = next;
	}
	if (p) {
		free(p);
		errno = ELOOP;
	}
	return NULL;
}

/* A character device or FIFO (/dev/null, /dev/stdout, a pipe): written in
 * place, never replaced. The descriptor is opened without O_CREAT so that
 * nothing new appears if the node vanished meanwhile. */
static int open_direct(nnp_atomic *a, const char *path, nnp_err *err)
{
	int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)))) {
		close(fd);
		errno = EINVAL;
		fd = -1;
	}
	int e = errno;
	if (fd >= 0 && !(a->fp = fdopen(fd, "wb"))) {
		e = errno;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		nnp_atomic_abort(a);
		return nnp_err_set(err, NNP_EOUTPUT, "%s: cannot write there: %s", path, strerror(e));
	}
	a->direct = 1;
	return NNP_OK;
}

int nnp_atomic_open(nnp_atomic *a, const char *path, nnp_err *err)
{
	a->fp = NULL;
	a->path = NULL;
	a->tmp = NULL;
	a->direct = 0;
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return nnp_err_set(err, NNP_EOUTPUT, "%s: is a directory", path);
		if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
			return nnp_err_set(err, NNP_EUSAGE, "%s: neither a regular file, a character "
			                   "device nor a FIFO: refusing to write there", path);
		if (!(a->path = strdup(path)))
			return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
		return open_direct(a, path, err);
	}
	errno = 0;
	a->path = resolve_output(path);
	if (!a->path)
		return nnp_err_set(err, errno == ENOMEM || errno == 0 ? NNP_ENOMEM : NNP_EOUTPUT,
		                   "%s: cannot follow the link: %s", path,
		                   strerror(errno ? errno : ENOMEM));
	size_t n = strlen(a->path);
	a->tmp = malloc(n + sizeof ".tmp.XXXXXX");
	if (!a->tmp) {
		/* Not through nnp_atomic_abort: tmp holds no name yet to unlink. */
		free(a->path);
		a->path = NULL;
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	}
	/* The temporary file lives in the target's directory so that rename()
	 * stays on one file system and is atomic. */
	memcpy(a->tmp, a->path, n);
	/* open(O_EXCL) with mode 0666 lets the kernel apply the umask, as for any
	 * output; mkstemp's 0600 would need the umask read, which only umask()
	 * can do, and that changes it for the whole process for a moment. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
	             ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)a;
	int fd = -1, e = EEXIST;
	sigset_t old;
	block_signals(&old);
	atomic_fetch_add(&temp_creating, 1);
	if (atomic_load(&temp_dying))
		e = EINTR; /* a signal is removing our files: create none */
	for (int attempt = 0; attempt < 100 && fd < 0 && e == EEXIST; attempt++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		snprintf(a->tmp + n, sizeof ".tmp.XXXXXX", ".tmp.%06llx",
		         (unsigned long long)(x >> 40) & 0xffffffULL);
		fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		e = errno;
	}
	if (fd >= 0)
		temp_register(a->tmp);
	atomic_fetch_sub(&temp_creating, 1);
	restore_signals(&old);
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
	/* A device or FIFO cannot be synced (EINVAL) and is not renamed. */
	if (fflush(a->fp) != 0 || ferror(a->fp) || (!a->direct && fsync(fileno(a->fp)) != 0)) {
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
	if (a->direct) {
		free(a->path);
		a->path = NULL;
		return NNP_OK;
	}
	if (rename(a->tmp, a->path) != 0) {
		rc = nnp_err_set(err, NNP_EOUTPUT, "%s: cannot rename the finished file into place: %s",
		                 a->path, strerror(errno));
		nnp_atomic_abort(a);
		return rc;
	}
	temp_unregister(a->tmp);
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
		temp_unregister(a->tmp);
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

int nnp_open_regular(const char *path, int *fd_out, uint64_t *size, nnp_err *err)
{
	*fd_out = -1;
	/* O_NONBLOCK: opening a FIFO for reading must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot read: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return nnp_err_set(err, NNP_EINPUT, "%s: is %s, not a regular file: it cannot be read "
		                   "again or checked for changes", path,
		                   S_ISDIR(st.st_mode) ? "a directory" : "a pipe, socket or device");
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	*fd_out = fd;
	if (size)
		*size = (uint64_t)st.st_size;
	return NNP_OK;
}

int nnp_require_regular(const char *path, nnp_err *err)
{
	int fd;
	int rc = nnp_open_regular(path, &fd, NULL, err);
	if (!rc)
		close(fd);
	return rc;
}

int nnp_file_identity(const char *path, uint64_t *bytes, uint32_t *crc, nnp_err *err)
{
	int fd;
	int rc = nnp_open_regular(path, &fd, NULL, err);
	if (rc)
		return rc;
	unsigned char buf[1 << 16];
	uLong c = crc32(0L, Z_NULL, 0);
	uint64_t total = 0;
	ssize_t got;
	while ((got = read(fd, buf, sizeof buf)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		c = crc32(c, buf, (uInt)got);
		total += (uint64_t)got;
	}
	close(fd);
	if (got < 0)
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
