/* The row source: chunks of rows in memory or read from a file. */
#include <stdint.h>
#include <stdlib.h>

#include "nnprune/rows.h"
#include "mem.h"

struct nnp_rows {
	nnp_rows_spec s;
	nnp_reader *r;            /* NULL in memory */
	int own_reader;
	size_t features;
	int labelled;
	float *x[2];
	int32_t *y[2];
	int cur;
	uint64_t next;            /* rows handed out */
	int eof;
	int ended;                /* the end checks ran */
};

static int check_stamp(const nnp_rows *R, nnp_err *err)
{
	nnp_file_stamp now;
	int rc = nnp_file_stamp_get(R->s.path, &now, err);
	if (!rc && !nnp_file_stamp_same(&now, R->s.stamp))
		rc = nnp_err_set(err, NNP_EINPUT, "%s: changed while being read (%s are read again "
		                 "at every pass: keep the file as it is)", R->s.path,
		                 R->s.what ? R->s.what : "rows");
	return rc;
}

int nnp_rows_open(nnp_rows **out, const nnp_rows_spec *spec, nnp_err *err)
{
	*out = NULL;
	if (!spec || spec->chunk_rows == 0 || (!spec->data && !spec->reader && !spec->path))
		return nnp_err_set(err, NNP_EUSAGE, "rows: no data or no chunk size");
	nnp_rows *R = calloc(1, sizeof *R);
	if (!R)
		return nnp_err_set(err, NNP_ENOMEM, "rows: out of memory");
	R->s = *spec;
	int rc = NNP_OK;
	if (spec->data) {
		R->features = spec->data->features;
		R->labelled = spec->labels && spec->data->y;
		*out = R;
		return NNP_OK;
	}
	if (spec->stamp && spec->path && (rc = check_stamp(R, err)))
		goto fail;
	if (spec->reader) {
		R->r = spec->reader;
	} else {
		if ((rc = nnp_reader_open(&R->r, spec->path, spec->opts, err)))
			goto fail;
		R->own_reader = 1;
	}
	R->features = nnp_reader_features(R->r);
	R->labelled = spec->labels && nnp_reader_has_labels(R->r);
	int nb = spec->buffers == 2 ? 2 : 1;
	size_t n = spec->chunk_rows;
	for (int i = 0; i < nb; i++) {
		R->x[i] = R->features && n <= SIZE_MAX / sizeof(float) / R->features
		          ? nnp_malloc_huge(n * R->features * sizeof(float)) : NULL;
		R->y[i] = R->labelled ? malloc(n * sizeof(int32_t)) : NULL;
		if (!R->x[i] || (R->labelled && !R->y[i])) {
			rc = nnp_err_set(err, NNP_ENOMEM, "out of memory for %zu rows of data", n);
			goto fail;
		}
	}
	*out = R;
	return NNP_OK;
fail:
	nnp_rows_free(R);
	return rc;
}

/* A stamped file read to its end: the count it was counted to have, and
 * the same stamp (replaced or rewritten during the pass, what was read may
 * be either version). */
static int check_end(nnp_rows *R, nnp_err *err)
{
	if (!R->s.stamp)
		return NNP_OK;
	if (R->next != R->s.expect_rows)
		return nnp_err_set(err, NNP_EINPUT, "%s: changed while being read: it had %llu %s, "
		                   "now %s", R->s.path, (unsigned long long)R->s.expect_rows,
		                   R->s.what ? R->s.what : "rows",
		                   R->next > R->s.expect_rows ? "more" : "fewer");
	return R->s.path ? check_stamp(R, err) : NNP_OK;
}

int nnp_labels_check(const int32_t *y, size_t rows, size_t outputs, uint64_t first_row,
                     nnp_err *err)
{
	if (!y)
		return NNP_OK;
	for (size_t i = 0; i < rows; i++)
		if (y[i] < 0 || (uint64_t)y[i] >= outputs)
			return nnp_err_set(err, NNP_EINPUT,
			                   "data row %llu: label %ld is out of range for a model "
			                   "with %zu outputs",
			                   (unsigned long long)(first_row + i + 1), (long)y[i], outputs);
	return NNP_OK;
}

static int next_rows(nnp_rows *R, nnp_chunk *c, nnp_err *err);

int nnp_rows_next(nnp_rows *R, nnp_chunk *c, nnp_err *err)
{
	int rc = next_rows(R, c, err);
	if (!rc && R->s.outputs)
		rc = nnp_labels_check(c->y, c->rows, R->s.outputs, c->first, err);
	return rc;
}

static int next_rows(nnp_rows *R, nnp_chunk *c, nnp_err *err)
{
	c->x = NULL;
	c->y = NULL;
	c->rows = 0;
	c->first = R->next;
	if (R->eof) {
		if (!R->r || R->ended)
			return NNP_OK;
		R->ended = 1;
		return check_end(R, err);
	}
	size_t cap = R->s.chunk_rows;
	if (!R->r) {
		const nnp_dataset *d = R->s.data;
		uint64_t left = d->rows - R->next;
		c->rows = left < cap ? (size_t)left : cap;
		c->x = d->x + R->next * d->features;
		c->y = R->labelled ? d->y + R->next : NULL;
		R->eof = c->rows == left;
		R->next += c->rows;
		return NNP_OK;
	}
	float *x = R->x[R->cur];
	int32_t *y = R->y[R->cur];
	if (R->x[1])
		R->cur = !R->cur;
	size_t got = 0;
	int rc = nnp_reader_fill(R->r, x, y, cap, &got, err);
	if (rc)
		return rc;
	R->eof = got < cap;
	if (R->s.stamp && got > R->s.expect_rows - R->next) {
		/* More rows than counted: stop here, the count tells. */
		R->next = R->s.expect_rows + 1;
		R->eof = R->ended = 1;
		return check_end(R, err);
	}
	c->x = x;
	c->y = y;
	c->rows = got;
	R->next += got;
	if (got == 0) {
		R->ended = 1;
		return check_end(R, err);
	}
	return NNP_OK;
}

size_t nnp_rows_features(const nnp_rows *R)
{
	return R->features;
}

int nnp_rows_labelled(const nnp_rows *R)
{
	return R->labelled;
}

int nnp_rows_streaming(const nnp_rows *R)
{
	return R->r != NULL;
}

uint64_t nnp_rows_offset(const nnp_rows *R)
{
	return R->r ? nnp_reader_offset(R->r) : 0;
}

void nnp_rows_free(nnp_rows *R)
{
	if (!R)
		return;
	if (R->own_reader)
		nnp_reader_close(R->r);
	for (int i = 0; i < 2; i++) {
		free(R->x[i]);
		free(R->y[i]);
	}
	free(R);
}
