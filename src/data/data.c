/*
 * Data readers: the buffered gzip input every format shares, opening a file
 * by its content (IDX or CSV), the row accessors and whole-file loading.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_priv.h"
#include "mem.h"
#include "names.h"

static const char *const header_names[] = { "auto", "yes", "no" };
static const nnp_names headers = NNP_NAMES(header_names);

NNP_NAMES_FUNCS(nnp_header_mode, nnp_header, headers)  /* nnp_header_name, nnp_header_parse */

/* Compressed bytes handed to inflate at a time, at most. */
#define NNP_ZIN_MAX (1u << 16)
/* A .gz buffer is sized for this ratio of its compressed size (any size works;
 * a small one only means more refills). */
#define NNP_GZ_RATIO 8u
/* The smallest buffer of an input of known size (see src_start). */
#define NNP_SRC_MIN 64u

static size_t clamp_size(uint64_t want, size_t lo, size_t hi)
{
	if (want < lo)
		return lo;
	return want > hi ? hi : (size_t)want;
}

/* Up to `want` raw bytes from the descriptor or memory; fewer only at the end. */
static int raw_read(nnp_src *s, unsigned char *dst, size_t want, size_t *got, nnp_err *err)
{
	*got = 0;
	if (s->mem) {
		size_t n = s->mem_len - s->mem_pos;
		if (n > want)
			n = want;
		memcpy(dst, s->mem + s->mem_pos, n);
		s->mem_pos += n;
		*got = n;
		if (s->mem_pos == s->mem_len)
			s->raw_eof = 1;
	} else {
		while (*got < want && !s->raw_eof) {
			ssize_t n = read(s->fd, dst + *got, want - *got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: read error: %s", s->path,
				                   (unsigned long long)(s->raw_read + *got), strerror(errno));
			if (n == 0)
				s->raw_eof = 1;
			*got += (size_t)n;
		}
	}
	/* The file's identity (CRC-32 of its raw bytes, gzip or not), taken as
	 * the bytes pass rather than in a second pass over the file. */
	for (size_t done = 0; done < *got;) {
		size_t n = *got - done > UINT_MAX ? UINT_MAX : *got - done;
		s->crc = (uint32_t)crc32(s->crc, dst + done, (uInt)n);
		done += n;
	}
	s->raw_read += *got;
	return NNP_OK;
}

/*
 * Allocates the buffer for the raw size `size` (0: unknown, then `cap`),
 * reads the first bytes and, if they are the gzip magic, switches to
 * inflating them.
 */
static int src_start(nnp_src *s, uint64_t size, size_t cap, nnp_err *err)
{
	if (cap < NNP_DATA_BUF_MIN)
		cap = NNP_DATA_BUF_MIN;
	/* A known size that fits: the whole input and one byte more (to see the
	 * end) in one buffer, which then also holds any field. At least
	 * NNP_SRC_MIN, so that a file growing while read still holds an IDX
	 * header (a CSV field that no longer fits is an error). */
	s->cap = size ? clamp_size(size + 1, NNP_SRC_MIN, cap) : cap;
	s->buf = nnp_malloc_huge(s->cap + NNP_SRC_PAD);
	if (!s->buf)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", s->path);
	size_t got = 0, n;
	while (got < 2 && !s->raw_eof) {
		int rc = raw_read(s, s->buf + got, 2 - got, &n, err);
		if (rc)
			return rc;
		got += n;
	}
	if (got == 2 && s->buf[0] == 0x1f && s->buf[1] == 0x8b) {
		s->zin_cap = size ? clamp_size(size, 64, NNP_ZIN_MAX) : NNP_ZIN_MAX;
		s->zin = malloc(s->zin_cap);
		if (!s->zin)
			return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", s->path);
		memcpy(s->zin, s->buf, 2);
		size_t gcap = size ? clamp_size(size * NNP_GZ_RATIO, NNP_DATA_BUF_MIN, cap) : cap;
		if (gcap != s->cap) {
			unsigned char *b = realloc(s->buf, gcap + NNP_SRC_PAD);
			if (!b)
				return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", s->path);
			s->buf = b;
			s->cap = gcap;
		}
		memset(&s->z, 0, sizeof s->z);
		if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
			return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", s->path);
		s->gz = 1;
		s->z.next_in = s->zin;
		s->z.avail_in = 2;
		got = 0;
	}
	s->len = got;
	memset(s->buf + s->len, 0, NNP_SRC_PAD);
	return NNP_OK;
}

int nnp_src_open(nnp_src *s, const char *path, size_t cap, nnp_err *err)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->open = 1;
	int is_stdin = strcmp(path, "-") == 0;
	s->path = strdup(is_stdin ? "stdin" : path);
	if (!s->path)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	/* A duplicate of stdin, so that closing the reader leaves fd 0 open. */
	s->fd = is_stdin ? fcntl(0, F_DUPFD_CLOEXEC, 0) : open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot open: %s", s->path, strerror(errno));
	struct stat st;
	uint64_t size = 0;
	if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode))
		size = st.st_size ? (uint64_t)st.st_size : 1;  /* 0 means unknown */
	return src_start(s, size, cap, err);
}

int nnp_src_open_mem(nnp_src *s, const char *label, const void *data, size_t len, size_t cap,
                     nnp_err *err)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->open = 1;
	s->path = strdup(label);
	if (!s->path)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	/* An empty buffer still needs a non-NULL pointer to mean "memory". */
	s->mem = len ? data : (const unsigned char *)"";
	s->mem_len = len;
	s->raw_eof = len == 0;
	return src_start(s, len ? len : 1, cap, err);
}

void nnp_src_close(nnp_src *s)
{
	/* A zeroed src was never opened: its fd 0 is not ours. */
	if (!s || !s->open)
		return;
	if (s->gz)
		inflateEnd(&s->z);
	if (s->fd >= 0)
		close(s->fd);
	free(s->zin);
	free(s->buf);
	free(s->path);
	memset(s, 0, sizeof *s);
	s->fd = -1;
}

static int gz_fail(const nnp_src *s, const char *what, nnp_err *err)
{
	return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: %s", s->path,
	                   (unsigned long long)nnp_src_at(s, s->len), what);
}

/* Inflates into buf[len..cap): stops when full or at the end of the input.
 * Damage met after this call added bytes is kept in gz_bad and reported by
 * the next call: the bytes before it go to the reader first, so that an
 * error in them (a bad field, a wrong header) is found whether the buffer
 * reached the damage or not, and the message does not depend on its size. */
static int gz_fill(nnp_src *s, nnp_err *err)
{
	if (s->gz_bad[0])
		return gz_fail(s, s->gz_bad, err);
	size_t start = s->len;
	const char *bad = NULL;
	char why[sizeof s->gz_bad];
	while (s->len < s->cap && !bad) {
		if (s->z.avail_in == 0 && !s->raw_eof) {
			size_t got;
			int rc = raw_read(s, s->zin, s->zin_cap, &got, err);
			if (rc)
				return rc;
			s->z.next_in = s->zin;
			s->z.avail_in = (uInt)got;
		}
		if (s->gz_member_end) {
			if (s->z.avail_in == 0) {
				s->eof = 1;
				break;
			}
			/* More bytes after a complete member: only another member may follow. */
			if (s->z.next_in[0] != 0x1f) {
				bad = "bytes after the end of the gzip data";
				break;
			}
			inflateReset(&s->z);
			s->gz_member_end = 0;
		}
		size_t room = s->cap - s->len;
		s->z.next_out = s->buf + s->len;
		s->z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
		uInt before = s->z.avail_out;
		/* Called even with no input left: inflate may still hold output that
		 * did not fit the last call's room, and it must all reach the reader
		 * before the stream is called truncated. */
		int zr = inflate(&s->z, Z_NO_FLUSH);
		s->len += before - s->z.avail_out;
		if (zr == Z_STREAM_END)
			s->gz_member_end = 1;
		else if ((zr == Z_OK || zr == Z_BUF_ERROR) && s->z.avail_in == 0 && s->raw_eof &&
		         s->z.avail_out == before)
			bad = "truncated gzip data (the file ends inside the stream)";
		else if (!(zr == Z_OK || (zr == Z_BUF_ERROR && s->z.avail_in == 0))) {
			snprintf(why, sizeof why, "invalid gzip data (%s)",
			         zr == Z_MEM_ERROR ? "out of memory" : s->z.msg ? s->z.msg : "corrupt");
			bad = why;
		}
	}
	if (!bad)
		return NNP_OK;
	if (s->len == start)
		return gz_fail(s, bad, err);
	snprintf(s->gz_bad, sizeof s->gz_bad, "%s", bad);
	return NNP_OK;
}

int nnp_src_refill(nnp_src *s, size_t from, size_t *added, nnp_err *err)
{
	*added = 0;
	if (from > 0) {
		size_t keep = s->len - from;
		memmove(s->buf, s->buf + from, keep);
		s->base += from;
		s->len = keep;
		s->pos = s->pos >= from ? s->pos - from : 0;
	}
	if (!s->eof && s->len < s->cap) {
		size_t before = s->len;
		int rc;
		if (s->gz) {
			rc = gz_fill(s, err);
		} else {
			size_t got;
			rc = raw_read(s, s->buf + s->len, s->cap - s->len, &got, err);
			s->len += got;
			if (!rc && got == 0)
				s->eof = 1;
		}
		if (rc)
			return rc;
		*added = s->len - before;
		if (*added == 0)
			s->eof = 1;
	}
	memset(s->buf + s->len, 0, NNP_SRC_PAD);
	return NNP_OK;
}

int nnp_data_opts_check(const nnp_data_opts *o, nnp_err *err)
{
	if (!nnp_header_name(o->header))
		return nnp_err_set(err, NNP_EUSAGE, "unknown header mode %d", (int)o->header);
	if (o->label < NNP_LABEL_FIRST || o->label > NNP_LABEL_AUTO)
		return nnp_err_set(err, NNP_EUSAGE, "unknown label mode %d", (int)o->label);
	if (o->label == NNP_LABEL_NAME && !o->label_name)
		return nnp_err_set(err, NNP_EUSAGE, "a label column by name needs the name");
	if (o->label == NNP_LABEL_NAME && o->header == NNP_HEADER_NO)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "the label column '%s' is given by name but the data has no header",
		                   o->label_name);
	if (o->label == NNP_LABEL_INDEX && o->label_index >= NNP_MAX_COLUMNS)
		return nnp_err_set(err, NNP_EUSAGE, "label column %zu is over the limit of %u columns",
		                   o->label_index, NNP_MAX_COLUMNS);
	/* A delimiter that can occur inside a number would make fields ambiguous. */
	unsigned char d = (unsigned char)o->delimiter;
	if (d == '\0' || d == '\n' || d == '\r' || d == '"' || (d >= '0' && d <= '9') || d == '.' ||
	    d == '+' || d == '-' || d == 'e' || d == 'E')
		return nnp_err_set(err, NNP_EUSAGE, "unusable CSV delimiter 0x%02x", d);
	if (o->n_classes > (size_t)NNP_MAX_LABEL + 1)
		return nnp_err_set(err, NNP_EUSAGE, "%zu classes is over the limit of %d", o->n_classes,
		                   NNP_MAX_LABEL + 1);
	return NNP_OK;
}

/* IDX files start with two zero bytes, which no CSV file may contain: such a
 * file is treated as IDX even when its type or dimension byte is wrong, so
 * the message names the real problem. */
static int looks_like_idx(const nnp_src *s)
{
	if (s->len == 0 || s->buf[0] != 0)
		return 0;
	return s->len < 2 || s->buf[1] == 0;
}

static int reader_open(nnp_reader **out, const char *path, const nnp_bytes *data,
                       const nnp_bytes *labels, const nnp_data_opts *opts, size_t bufsize,
                       nnp_err *err)
{
	nnp_data_opts defaults = NNP_DATA_OPTS_INIT;
	nnp_reader *r = NULL;
	int rc;
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (!path)
		return nnp_err_set(err, NNP_EUSAGE, "no data file given");
	if (bufsize < NNP_DATA_BUF_MIN)
		bufsize = NNP_DATA_BUF_MIN;
	rc = nnp_data_opts_check(opts, err);
	if (rc)
		return rc;
	r = calloc(1, sizeof *r);
	if (!r)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	r->csv.label_col = SIZE_MAX;
	r->n_classes = opts->n_classes;
	r->max_rows = opts->max_rows;
	r->lab_mem = labels;
	r->bufsize = bufsize;
	rc = data ? nnp_src_open_mem(&r->in, path, data->data, data->len, bufsize, err)
	          : nnp_src_open(&r->in, path, bufsize, err);
	if (rc)
		goto done;
	size_t added;
	while (r->in.len < 4 && !r->in.eof) {
		rc = nnp_src_refill(&r->in, 0, &added, err);
		if (rc)
			goto done;
	}
	if (looks_like_idx(&r->in)) {
		r->fmt = NNP_FMT_IDX;
		rc = nnp_idx_open(r, opts, err);
	} else {
		r->fmt = NNP_FMT_CSV;
		if (r->in.len == 0)
			rc = nnp_err_set(err, NNP_EINPUT, "%s: no data rows (the file is empty)",
			                 r->in.path);
		else if (opts->labels_path)
			rc = nnp_err_set(err, NNP_EUSAGE,
			                 "%s: a labels file is for IDX data, but this is CSV",
			                 r->in.path);
		else
			rc = nnp_csv_open(r, opts, err);
	}
done:
	if (rc) {
		nnp_reader_close(r);
		return rc;
	}
	*out = r;
	return NNP_OK;
}

int nnp_reader_open_buf(nnp_reader **out, const char *path, const nnp_data_opts *opts,
                        size_t bufsize, nnp_err *err)
{
	return reader_open(out, path, NULL, NULL, opts, bufsize, err);
}

int nnp_reader_open_mem(nnp_reader **out, const char *path, const nnp_bytes *data,
                        const nnp_bytes *labels, const nnp_data_opts *opts, size_t bufsize,
                        nnp_err *err)
{
	*out = NULL;
	if (!data)
		return nnp_err_set(err, NNP_EUSAGE, "no data given");
	if (labels && (!opts || !opts->labels_path))
		return nnp_err_set(err, NNP_EUSAGE, "labels in memory need a name (labels_path)");
	return reader_open(out, path, data, labels, opts, bufsize, err);
}

int nnp_reader_open(nnp_reader **out, const char *path, const nnp_data_opts *opts, nnp_err *err)
{
	return nnp_reader_open_buf(out, path, opts, NNP_DATA_BUF, err);
}

size_t nnp_reader_features(const nnp_reader *r)
{
	return r->features;
}

int nnp_reader_has_labels(const nnp_reader *r)
{
	return r->has_labels;
}

const char *nnp_reader_format(const nnp_reader *r)
{
	return r->fmt == NNP_FMT_IDX ? "idx" : "csv";
}

uint64_t nnp_reader_rows(const nnp_reader *r)
{
	return r->rows;
}

uint64_t nnp_reader_offset(const nnp_reader *r)
{
	return nnp_src_at(&r->in, r->in.pos);
}

int nnp_reader_identity(const nnp_reader *r, uint64_t *bytes, uint32_t *crc)
{
	/* Only once every raw byte has passed (an early stop leaves the rest). */
	if (!r->in.eof || !r->in.raw_eof || r->in.mem)
		return 0;
	*bytes = r->in.raw_read;
	*crc = r->in.crc;
	return 1;
}

const char *nnp_reader_label_by_name(const nnp_reader *r, size_t *col)
{
	if (!r->label_name[0])
		return NULL;
	*col = r->label_col;
	return r->label_name;
}

uint64_t nnp_reader_total_rows(const nnp_reader *r)
{
	return r->max_rows && r->total > r->max_rows ? r->max_rows : r->total;
}

int nnp_reader_read(nnp_reader *r, float *x, int32_t *labels, size_t max_rows, size_t *got,
                    nnp_err *err)
{
	*got = 0;
	if (r->failed) {
		/* The stream position is unknown after an error: repeat it. */
		if (err)
			*err = r->fail;
		return r->fail.status;
	}
	if (max_rows == 0 || !x)
		return nnp_err_set(err, NNP_EUSAGE, "%s: reading needs a row buffer", r->in.path);
	if (r->max_rows && r->rows >= r->max_rows)
		r->done = 1;
	if (r->done)
		return NNP_OK;
	if (r->max_rows && max_rows > r->max_rows - r->rows)
		max_rows = (size_t)(r->max_rows - r->rows);
	int rc;
	/* Back ends record into r->fail so the error can be repeated later. */
	if (r->fmt == NNP_FMT_IDX)
		rc = nnp_idx_read(r, x, labels, max_rows, got, &r->fail);
	else
		rc = nnp_csv_read(r, x, labels, max_rows, got, &r->fail);
	if (rc) {
		*got = 0;
		r->failed = 1;
		if (err)
			*err = r->fail;
		return rc;
	}
	r->rows += *got;
	return NNP_OK;
}

void nnp_reader_close(nnp_reader *r)
{
	if (!r)
		return;
	nnp_csv_free(r);
	nnp_idx_free(r);
	nnp_src_close(&r->in);
	free(r);
}

/* Grows d's arrays to hold cap rows. */
static int dataset_grow(nnp_dataset *d, size_t cap, int labelled)
{
	size_t bytes = cap * d->features * sizeof(float);
	float *x = d->x ? realloc(d->x, bytes) : nnp_malloc_huge(bytes);
	if (!x)
		return -1;
	nnp_mem_huge(x, bytes);
	d->x = x;
	if (labelled) {
		int32_t *y = realloc(d->y, cap * sizeof *y);
		if (!y)
			return -1;
		d->y = y;
	}
	return 0;
}

/* The most rows the input can hold, or 0 when that is not known (gzip CSV,
 * a pipe): for IDX the header's count, within what the file's size allows;
 * for CSV its size over two bytes per field (its text, then a comma or the
 * line's end). Reserving that much up
 * front spares the copies of a growing array (untouched pages cost nothing). */
static uint64_t rows_bound(const nnp_reader *r)
{
	uint64_t n = 0, size = 0;
	struct stat st;
	if (r->in.mem)
		size = r->in.mem_len;
	else if (r->in.fd >= 0 && fstat(r->in.fd, &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	if (r->fmt == NNP_FMT_IDX && r->features && r->idx.itemsize) {
		/* No more than the file can hold, inflated at deflate's 1032:1 at most. */
		uint64_t most = size / (r->features * r->idx.itemsize) * (r->in.gz ? 1032 : 1);
		n = r->total < most ? r->total : most;
	} else if (r->fmt != NNP_FMT_IDX && !r->in.gz && r->csv.ncols && size) {
		n = size / (2 * r->csv.ncols) + 1;
	}
	return r->max_rows && (n == 0 || n > r->max_rows) ? r->max_rows : n;
}

int nnp_dataset_load(nnp_dataset **out, const char *path, const nnp_data_opts *opts,
                     size_t max_bytes, nnp_err *err)
{
	return nnp_dataset_load_id(out, path, opts, max_bytes, NULL, NULL, NULL, err);
}

int nnp_dataset_load_id(nnp_dataset **out, const char *path, const nnp_data_opts *opts,
                        size_t max_bytes, uint64_t *bytes, uint32_t *crc, int *whole,
                        nnp_err *err)
{
	nnp_reader *r = NULL;
	nnp_dataset *d = NULL;
	int rc;
	*out = NULL;
	if (whole)
		*whole = 0;
	rc = nnp_reader_open(&r, path, opts, err);
	if (rc)
		goto done;
	d = calloc(1, sizeof *d);
	if (!d) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	d->features = nnp_reader_features(r);
	int labelled = nnp_reader_has_labels(r);
	/* features <= NNP_MAX_COLUMNS, so one row's size cannot overflow. */
	size_t row_bytes = d->features * sizeof(float) + (labelled ? sizeof(int32_t) : 0);
	size_t limit = (max_bytes ? max_bytes : SIZE_MAX) / row_bytes;
	/* (limit + 1) rows must still be addressable. */
	if (limit >= SIZE_MAX / row_bytes)
		limit = SIZE_MAX / row_bytes - 1;
	size_t cap = 0;
	/* Only a hint (an IDX header may lie): without the room, grow as usual. */
	uint64_t bound = rows_bound(r);
	if (bound && bound <= limit && !dataset_grow(d, (size_t)bound, labelled))
		cap = (size_t)bound;
	for (;;) {
		if (d->rows == cap) {
			if (cap > limit) {
				rc = nnp_err_set(err, NNP_ETOOBIG,
				                 "%s: the rows need more than %zu bytes in memory", r->in.path,
				                 max_bytes);
				goto done;
			}
			/* Geometric growth, but never beyond one row past the cap:
			 * reading that row is how the cap is detected. */
			size_t ncap = cap ? cap * 2 : 1024;
			if (ncap < cap || ncap > limit + 1)
				ncap = limit + 1;
			if (dataset_grow(d, ncap, labelled)) {
				rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory for %zu rows", r->in.path,
				                 ncap);
				goto done;
			}
			cap = ncap;
		}
		size_t got;
		rc = nnp_reader_read(r, d->x + d->rows * d->features, labelled ? d->y + d->rows : NULL,
		                     cap - d->rows, &got, err);
		if (rc)
			goto done;
		if (got == 0)
			break;
		d->rows += got;
	}
	/* Give back the unused tail of the last doubling. */
	float *x = realloc(d->x, d->rows * d->features * sizeof *x);
	if (x)
		d->x = x;
	if (labelled) {
		int32_t *y = realloc(d->y, d->rows * sizeof *y);
		if (y)
			d->y = y;
	}
	if (whole)
		*whole = nnp_reader_identity(r, bytes, crc);
done:
	nnp_reader_close(r);
	if (rc) {
		nnp_dataset_free(d);
		return rc;
	}
	*out = d;
	return NNP_OK;
}

void nnp_dataset_free(nnp_dataset *d)
{
	if (d)
		NNP_FREE_ALL(d->x, d->y, d);
}

int nnp_reader_fill(nnp_reader *r, float *x, int32_t *labels, size_t max_rows, size_t *got,
                    nnp_err *err)
{
	*got = 0;
	while (*got < max_rows) {
		size_t n;
		int rc = nnp_reader_read(r, x + *got * r->features, labels ? labels + *got : NULL,
		                         max_rows - *got, &n, err);
		if (rc)
			return rc;
		if (n == 0)
			break;
		*got += n;
	}
	return NNP_OK;
}

int nnp_data_count_rows(const char *path, const nnp_data_opts *opts, uint64_t *rows,
                        nnp_err *err)
{
	enum { COUNT_ROWS = 256 };
	nnp_reader *r = NULL;
	float *buf = NULL;
	*rows = 0;
	int rc = nnp_reader_open(&r, path, opts, err);
	if (!rc && !(buf = malloc(COUNT_ROWS * nnp_reader_features(r) * sizeof *buf)))
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	for (size_t got = 1; !rc && got;) {
		rc = nnp_reader_read(r, buf, NULL, COUNT_ROWS, &got, err);
		*rows += got;
	}
	free(buf);
	nnp_reader_close(r);
	return rc;
}
