/* The lock of an output directory, and the removal of temporary files that
 * killed runs left there. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nnprune/io.h"

#define LOCK_NAME ".nnprune.lock"

struct nnp_dir_lock {
	int fd;
};

/* A POSIX record lock on the whole file: released by the kernel when the
 * process ends, however it ends. */
static int set_lock(int fd, int cmd)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	int rc;
	while ((rc = fcntl(fd, cmd, &fl)) != 0 && errno == EINTR)
		;
	return rc;
}

/* The process holding the lock, 0 if unknown (or none any more). */
static long holder_pid(int fd)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) != 0 || fl.l_type == F_UNLCK)
		return 0;
	return (long)fl.l_pid;
}

/* 1 if name is NAME.tmp.XXXXXX with six lowercase hex digits, as
 * nnp_atomic_open makes them. */
static int is_our_temp(const char *name)
{
	size_t n = strlen(name);
	if (n < 12 || memcmp(name + n - 11, ".tmp.", 5) != 0)
		return 0;
	for (size_t i = n - 6; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

/* Removes our temporary files in dir last modified before `since`: no live
 * run writes them (this one holds the lock and has written nothing yet). */
static void remove_stale(const char *dir, const struct timespec *since)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (!is_our_temp(e->d_name) ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (st.st_mtim.tv_sec < since->tv_sec ||
		    (st.st_mtim.tv_sec == since->tv_sec && st.st_mtim.tv_nsec < since->tv_nsec))
			(void)unlinkat(dfd, e->d_name, 0);
	}
	closedir(d);
}

int nnp_dir_lock_take(nnp_dir_lock **out, const char *dir, int wait, nnp_lock_wait_fn on_wait,
                      void *ctx, nnp_err *err)
{
	*out = NULL;
	size_t n = strlen(dir) + sizeof "/" LOCK_NAME;
	char *path = malloc(n);
	nnp_dir_lock *lk = malloc(sizeof *lk);
	if (!path || !lk) {
		free(path);
		free(lk);
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", dir);
	}
	snprintf(path, n, "%s/%s", dir, LOCK_NAME);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
	int e = errno;
	free(path);
	if (fd < 0) {
		free(lk);
		return nnp_err_set(err, NNP_EOUTPUT, "%s: cannot create the lock file %s there: %s",
		                   dir, LOCK_NAME, strerror(e));
	}
	int rc = set_lock(fd, F_SETLK);
	if (rc != 0 && (errno == EAGAIN || errno == EACCES)) {
		long pid = holder_pid(fd);
		if (!wait) {
			close(fd);
			free(lk);
			if (pid)
				return nnp_err_set(err, NNP_EOUTPUT, "%s: in use by another nnprune run "
				                   "(pid %ld)", dir, pid);
			return nnp_err_set(err, NNP_EOUTPUT, "%s: in use by another nnprune run", dir);
		}
		if (on_wait)
			on_wait(dir, pid, ctx);
		rc = set_lock(fd, F_SETLKW);
	}
	if (rc != 0) {
		e = errno;
		close(fd);
		free(lk);
		return nnp_err_set(err, NNP_EOUTPUT, "%s: cannot lock %s: %s", dir, LOCK_NAME,
		                   strerror(e));
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	remove_stale(dir, &now);
	lk->fd = fd;
	*out = lk;
	return NNP_OK;
}

void nnp_dir_unlock(nnp_dir_lock *lk)
{
	if (!lk)
		return;
	/* Closing the descriptor releases the lock. The file stays: removing it
	 * would let a waiting run lock a file that no longer has a name while a
	 * third creates and locks a new one. */
	close(lk->fd);
	free(lk);
}
