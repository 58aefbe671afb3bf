/*
 * Data readers: the buffered gzip input every format shares, opening a file
 * by its content (IDX or CSV), the row accessors and whole-file loading.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_priv.h"

int nnp_src_open(nnp_src *s, const char *path, size_t cap, nnp_err *err)
{
	memset(s, 0, sizeof *s);
	int is_stdin = strcmp(path, "-") == 0;
	s->path = strdup(is_stdin ? "stdin" : path);
	s->buf = malloc(cap + NNP_SRC_PAD);
	if (!s->path || !s->buf)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	s->cap = cap;
	memset(s->buf, 0, NNP_SRC_PAD);
	if (is_stdin) {
		/* A duplicate, so that closing the reader leaves fd 0 open. */
		int fd = dup(0);
		if (fd < 0)
			return nnp_err_set(err, NNP_EINPUT, "stdin: cannot read: %s", strerror(errno));
		s->gz = gzdopen(fd, "rb");
		if (!s->gz)
			close(fd);
	} else {
		s->gz = gzopen(path, "rb");
	}
	if (!s->gz)
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot open: %s", s->path,
		                   errno ? strerror(errno) : "out of memory");
	/* A larger zlib buffer halves the inflate calls on .gz input; plain files
	 * are read straight into our buffer whatever this size. */
	(void)gzbuffer(s->gz, 1u << 17);
	return NNP_OK;
}

void nnp_src_close(nnp_src *s)
{
	if (!s)
		return;
	if (s->gz)
		(void)gzclose(s->gz);
	free(s->buf);
	free(s->path);
	memset(s, 0, sizeof *s);
}

static int src_gz_error(nnp_src *s, nnp_err *err)
{
	int zerr = Z_OK;
	const char *why = gzerror(s->gz, &zerr);
	if (zerr == Z_ERRNO)
		why = strerror(errno);
	uint64_t at = nnp_src_at(s, s->len);
	if (zerr == Z_BUF_ERROR)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: truncated gzip data (%s)", s->path,
		                   (unsigned long long)at, why);
	return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: read error: %s", s->path,
	                   (unsigned long long)at, why && *why ? why : "unknown");
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
		size_t want = s->cap - s->len;
		if (want > INT_MAX)
			want = INT_MAX;
		/* gzread keeps reading until it has `want` bytes or the input ends. */
		int got = gzread(s->gz, s->buf + s->len, (unsigned)want);
		if (got < 0)
			return src_gz_error(s, err);
		s->len += (size_t)got;
		*added = (size_t)got;
		/* A gzip stream cut short shows only in the error state, never in
		 * gzread's return value. */
		int zerr = Z_OK;
		(void)gzerror(s->gz, &zerr);
		if (zerr != Z_OK)
			return src_gz_error(s, err);
		if (got == 0)
			s->eof = 1;
	}
	memset(s->buf + s->len, 0, NNP_SRC_PAD);
	return NNP_OK;
}

static int check_opts(const nnp_data_opts *o, nnp_err *err)
{
	if (o->header != NNP_HEADER_AUTO && o->header != NNP_HEADER_YES && o->header != NNP_HEADER_NO)
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

int nnp_reader_open_buf(nnp_reader **out, const char *path, const nnp_data_opts *opts,
                        size_t bufsize, nnp_err *err)
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
	rc = check_opts(opts, err);
	if (rc)
		return rc;
	r = calloc(1, sizeof *r);
	if (!r)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	r->csv.label_col = SIZE_MAX;
	r->n_classes = opts->n_classes;
	r->max_rows = opts->max_rows;
	rc = nnp_src_open(&r->in, path, bufsize, err);
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
	float *x = realloc(d->x, cap * d->features * sizeof *x);
	if (!x)
		return -1;
	d->x = x;
	if (labelled) {
		int32_t *y = realloc(d->y, cap * sizeof *y);
		if (!y)
			return -1;
		d->y = y;
	}
	return 0;
}

int nnp_dataset_load(nnp_dataset **out, const char *path, const nnp_data_opts *opts,
                     size_t max_bytes, nnp_err *err)
{
	nnp_reader *r = NULL;
	nnp_dataset *d = NULL;
	int rc;
	*out = NULL;
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
	if (!d)
		return;
	free(d->x);
	free(d->y);
	free(d);
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
