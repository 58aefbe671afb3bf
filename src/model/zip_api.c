/*
 * libzip, opened on first use (see zip_api.h for why).
 */
#include "zip_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#ifndef NNP_LIBZIP_SONAME
#define NNP_LIBZIP_SONAME "libzip.so.4"
#endif

/* Filled once by load() under pthread_once and never written again: every
 * later call reads the same table, so no lock is needed after the first. The
 * handle is kept for the life of the process (libzip holds no state of ours). */
static nnp_zip_api api;
static char load_error[256];
static int loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* Each row: the field and the symbol. The sizeof assigns the symbol as
 * declared in <zip.h> to the field in an expression that is never evaluated,
 * so the compiler checks that each field has the library's exact type while
 * the program keeps no link-time reference to libzip. */
#define ROW(field, sym) \
	{ (int)sizeof(api.field = sym), offsetof(nnp_zip_api, field), #sym }

static void load(void)
{
	static const struct {
		int typecheck;
		size_t offset;
		const char *name;
	} rows[] = {
		ROW(error_init, zip_error_init),
		ROW(error_fini, zip_error_fini),
		ROW(error_strerror, zip_error_strerror),
		ROW(strerror, zip_strerror),
		ROW(source_buffer_create, zip_source_buffer_create),
		ROW(source_buffer, zip_source_buffer),
		ROW(source_keep, zip_source_keep),
		ROW(source_free, zip_source_free),
		ROW(source_stat, zip_source_stat),
		ROW(source_open, zip_source_open),
		ROW(source_read, zip_source_read),
		ROW(source_close, zip_source_close),
		ROW(open_from_source, zip_open_from_source),
		ROW(get_num_entries, zip_get_num_entries),
		ROW(stat_init, zip_stat_init),
		ROW(stat_index, zip_stat_index),
		ROW(fopen_index, zip_fopen_index),
		ROW(fread, zip_fread),
		ROW(fclose, zip_fclose),
		ROW(file_add, zip_file_add),
		ROW(set_file_compression, zip_set_file_compression),
		ROW(file_set_mtime, zip_file_set_mtime),
		ROW(close, zip_close),
		ROW(discard, zip_discard),
	};
	void *h = dlopen(NNP_LIBZIP_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(load_error, sizeof load_error, "%s", why ? why : "cannot be opened");
		return;
	}
	nnp_zip_api t;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		void *sym = dlsym(h, rows[i].name);
		if (!sym) {
			snprintf(load_error, sizeof load_error, "%s: no %s", NNP_LIBZIP_SONAME,
			         rows[i].name);
			return;
		}
		/* POSIX: a function's address from dlsym fits a function pointer. */
		memcpy((char *)&t + rows[i].offset, &sym, sizeof sym);
	}
	api = t;
	loaded = 1;
}

int nnp_zip_api_get(const nnp_zip_api **out, const char *what, int status, nnp_err *err)
{
	pthread_once(&load_once, load);
	*out = loaded ? &api : NULL;
	if (loaded)
		return NNP_OK;
	return nnp_err_set(err, status, "%s: .npz needs libzip, which cannot be loaded: %s",
	                   what, load_error);
}
