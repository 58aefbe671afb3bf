/*
 * nnprune: file helpers shared by every writer and reader: atomic output
 * (temporary file in the target directory, then rename), input identity
 * (size + CRC-32) and the "never write over an input" check.
 */
#ifndef NNPRUNE_IO_H
#define NNPRUNE_IO_H

#include <stdint.h>
#include <stdio.h>
#include "nnprune/nnp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An output being written. Fields are private to io.c. */
typedef struct nnp_atomic {
	FILE *fp;        /* write here */
	char *path;      /* final name (a symbolic link's target) */
	char *tmp;       /* temporary name in the same directory; NULL when direct */
	int direct;      /* 1: a character device or FIFO, written in place */
} nnp_atomic;

/*
 * Creates a temporary file beside `path` and opens it for writing in a->fp.
 * A symbolic link is followed: its target (existing or not) is what the
 * commit replaces, and the link stays. A character device or a FIFO
 * (/dev/null, /dev/stdout on a terminal or pipe) is opened and written in
 * place, never replaced; any other kind of file (block device, socket) is
 * refused with NNP_EUSAGE. The temporary file is registered so that
 * nnp_temp_cleanup removes it. Returns NNP_OK or NNP_EOUTPUT (with the
 * reason) and leaves `path` untouched.
 */
int nnp_atomic_open(nnp_atomic *a, const char *path, nnp_err *err);

/*
 * Flushes, syncs and closes a->fp, then renames the temporary file onto the
 * final path. On any failure the temporary file is removed, the old file at
 * `path` (if any) is left as it was, and NNP_EOUTPUT is returned.
 */
int nnp_atomic_commit(nnp_atomic *a, nnp_err *err);

/* Closes and removes the temporary file; safe after a failed open or commit. */
void nnp_atomic_abort(nnp_atomic *a);

/*
 * Writes `len` bytes of `buf` to `path` atomically (open + fwrite + commit).
 */
int nnp_write_file_atomic(const char *path, const void *buf, size_t len, nnp_err *err);

/*
 * Size in bytes and zlib CRC-32 of the raw bytes of a file (a .gz file is not
 * decompressed). Only a regular file has an identity: a pipe or device
 * (/dev/zero, a FIFO) is refused at once, never read. NNP_OK or NNP_EINPUT.
 */
int nnp_file_identity(const char *path, uint64_t *bytes, uint32_t *crc, nnp_err *err);

/*
 * What tells one version of a file from another without reading it: device,
 * inode, size and modification time. A file replaced (mv) or rewritten in
 * place gets another stamp.
 */
typedef struct nnp_file_stamp {
	uint64_t dev, ino, size;
	int64_t mtime_sec;
	long mtime_nsec;
} nnp_file_stamp;

/* The stamp of path now. NNP_EINPUT naming the file if it cannot be read. */
int nnp_file_stamp_get(const char *path, nnp_file_stamp *st, nnp_err *err);

/* 1 if a and b are stamps of the same version of a file. */
int nnp_file_stamp_same(const nnp_file_stamp *a, const nnp_file_stamp *b);

/*
 * Opens a regular file for reading (a FIFO is never waited on) and gives its
 * descriptor and size. Anything else is NNP_EINPUT naming what it is.
 */
int nnp_open_regular(const char *path, int *fd, uint64_t *size, nnp_err *err);

/* nnp_open_regular without keeping the file open: NNP_OK if path is one. */
int nnp_require_regular(const char *path, nnp_err *err);

/*
 * Removes every temporary file nnp_atomic_open created and no commit or
 * abort has yet released. Async-signal-safe.
 */
void nnp_temp_cleanup(void);

/*
 * Installs handlers for SIGINT, SIGTERM and SIGHUP (unless ignored) that
 * remove the live temporary files and exit with 128 + the signal number
 * (130, 143, 129). 0, or -1 if a handler could not be installed.
 */
int nnp_cleanup_on_signals(void);

/*
 * A lock on an output directory, so that two runs never mix their files:
 * a POSIX record lock on DIR/.nnprune.lock, released when the lock is freed
 * or the process ends in any way (kill -9 included). The file stays.
 */
typedef struct nnp_dir_lock nnp_dir_lock;

/*
 * Called once when another run holds the lock and the caller waits: `pid`
 * is the holder's process id (0 if unknown).
 */
typedef void (*nnp_lock_wait_fn)(const char *dir, long pid, void *ctx);

/*
 * Takes the lock of directory `dir` (which must exist). If another run holds
 * it: with `wait`, calls on_wait (may be NULL) once and blocks until it is
 * free; without, fails with NNP_EOUTPUT "dir: in use by another nnprune run
 * (pid N)". Once held, removes the temporary files of ours (NAME.tmp.XXXXXX)
 * left in dir by runs that ended before this one took the lock. The caller
 * owns *out: nnp_dir_unlock.
 */
int nnp_dir_lock_take(nnp_dir_lock **out, const char *dir, int wait, nnp_lock_wait_fn on_wait,
                      void *ctx, nnp_err *err);

/* Releases and frees the lock. NULL is allowed. */
void nnp_dir_unlock(nnp_dir_lock *lk);

/* 1 if both paths name the same existing file (same device and inode), else 0. */
int nnp_same_file(const char *a, const char *b);

/* 1 if a path exists and is a directory, 0 otherwise. */
int nnp_is_dir(const char *path);

/* Creates a directory (one level) unless it exists. NNP_OK or NNP_EOUTPUT. */
int nnp_mkdir(const char *path, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
