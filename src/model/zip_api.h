/*
 * libzip, opened on first use.
 *
 * Only the .npz reader and writer need libzip, but linking it loads libzip,
 * libcrypto and libbz2 into every command at start-up: about 6 ms of CPU and
 * 135 page faults, a third of `nnprune --version`, paid by `stats` and `sweep`
 * that never see a zip. So the library is opened with dlopen the first time an
 * .npz is read or written, and called through this table of its functions.
 * The declarations (types, constants) still come from <zip.h>.
 */
#ifndef NNP_ZIP_API_H
#define NNP_ZIP_API_H

#include <time.h>
#include <zip.h>

#include "nnprune/nnp.h"

typedef struct nnp_zip_api {
	void (*error_init)(zip_error_t *);
	void (*error_fini)(zip_error_t *);
	const char *(*error_strerror)(zip_error_t *);
	const char *(*strerror)(zip_t *);
	zip_source_t *(*source_buffer_create)(const void *, zip_uint64_t, int, zip_error_t *);
	zip_source_t *(*source_buffer)(zip_t *, const void *, zip_uint64_t, int);
	void (*source_keep)(zip_source_t *);
	void (*source_free)(zip_source_t *);
	int (*source_stat)(zip_source_t *, zip_stat_t *);
	int (*source_open)(zip_source_t *);
	zip_int64_t (*source_read)(zip_source_t *, void *, zip_uint64_t);
	int (*source_close)(zip_source_t *);
	zip_t *(*open_from_source)(zip_source_t *, int, zip_error_t *);
	zip_int64_t (*get_num_entries)(zip_t *, zip_flags_t);
	void (*stat_init)(zip_stat_t *);
	int (*stat_index)(zip_t *, zip_uint64_t, zip_flags_t, zip_stat_t *);
	zip_file_t *(*fopen_index)(zip_t *, zip_uint64_t, zip_flags_t);
	zip_int64_t (*fread)(zip_file_t *, void *, zip_uint64_t);
	int (*fclose)(zip_file_t *);
	zip_int64_t (*file_add)(zip_t *, const char *, zip_source_t *, zip_flags_t);
	int (*set_file_compression)(zip_t *, zip_uint64_t, zip_int32_t, zip_uint32_t);
	int (*file_set_mtime)(zip_t *, zip_uint64_t, time_t, zip_flags_t);
	int (*close)(zip_t *);
	void (*discard)(zip_t *);
} nnp_zip_api;

/* Sets *out to libzip's functions, loaded once for the whole process (any
 * thread may call first). When the library or one of its functions cannot be
 * found, returns status (NNP_EINPUT when reading, NNP_EOUTPUT when writing)
 * with "what: .npz needs libzip, which cannot be loaded: <why>". */
int nnp_zip_api_get(const nnp_zip_api **out, const char *what, int status, nnp_err *err);

#endif
