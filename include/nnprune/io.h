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
	char *path;      /* final name */
	char *tmp;       /* temporary name in the same directory */
} nnp_atomic;

/*
 * Creates a temporary file beside `path` and opens it for writing in a->fp.
 * Returns NNP_OK or NNP_EOUTPUT (with the reason) and leaves `path` untouched.
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
 * decompressed). Returns NNP_OK or NNP_EINPUT.
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
