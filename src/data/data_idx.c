/*
 * IDX reader (MNIST, Fashion-MNIST): an images file of N items (1 to 3
 * dimensions, any IDX number type) and, for labelled data, a labels file of
 * N unsigned bytes. Both are read through the same buffered gzip input and
 * must be exactly as long as their headers say: a short file or trailing
 * bytes are errors, reported as "path: byte N: reason".
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data_priv.h"
#include "num.h"

typedef struct idx_type {
	unsigned char code;
	unsigned char size;
	const char *name;
} idx_type;

static const idx_type idx_types[] = {
	{ 0x08, 1, "u8" }, { 0x09, 1, "i8" }, { 0x0B, 2, "i16" },
	{ 0x0C, 4, "i32" }, { 0x0D, 4, "f32" }, { 0x0E, 8, "f64" },
};

static const idx_type *find_type(unsigned char code)
{
	for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
		if (idx_types[i].code == code)
			return &idx_types[i];
	return NULL;
}

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t be64(const unsigned char *b)
{
	return (uint64_t)be32(b) << 32 | be32(b + 4);
}

/* a * b, or 1 on overflow. */
static int mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	if (a && b > UINT64_MAX / a)
		return 1;
	*out = a * b;
	return 0;
}

/* Buffers n bytes at s->pos (n is small); *ok = 0 if the input ends first. */
static int src_need(nnp_src *s, size_t n, int *ok, nnp_err *err)
{
	*ok = 0;
	while (s->len - s->pos < n) {
		if (s->eof)
			return NNP_OK;
		size_t added;
		int rc = nnp_src_refill(s, s->pos, &added, err);
		if (rc)
			return rc;
	}
	*ok = 1;
	return NNP_OK;
}

/* Reads an IDX header at the start of s: type, dimensions and sizes. */
static int idx_header(nnp_src *s, const idx_type **type, unsigned *ndims, uint32_t dims[3],
                      nnp_err *err)
{
	int ok, rc = src_need(s, 4, &ok, err);
	if (rc)
		return rc;
	if (!ok)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: truncated IDX header", s->path,
		                   (unsigned long long)nnp_src_at(s, s->len));
	const unsigned char *b = s->buf + s->pos;
	if (b[0] || b[1])
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: byte 0: not an IDX file (magic %02x %02x %02x %02x)", s->path,
		                   b[0], b[1], b[2], b[3]);
	*type = find_type(b[2]);
	if (!*type)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: byte 2: unknown IDX type 0x%02x (known: 08 09 0B 0C 0D 0E)",
		                   s->path, b[2]);
	*ndims = b[3];
	if (*ndims < 1 || *ndims > 3)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: byte 3: %u dimensions; IDX data must have 1 to 3", s->path,
		                   *ndims);
	size_t hdr = 4 + 4 * (size_t)*ndims;
	rc = src_need(s, hdr, &ok, err);
	if (rc)
		return rc;
	if (!ok)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: byte %llu: truncated IDX header (%zu bytes expected)", s->path,
		                   (unsigned long long)nnp_src_at(s, s->len), hdr);
	for (unsigned i = 0; i < *ndims; i++)
		dims[i] = be32(s->buf + s->pos + 4 + 4 * i);
	s->pos += hdr;
	return NNP_OK;
}

static int idx_open_labels(nnp_reader *r, const char *path, nnp_err *err)
{
	nnp_src *s = &r->idx.lab;
	const idx_type *t;
	unsigned nd;
	uint32_t dims[3];
	int rc = r->lab_mem ? nnp_src_open_mem(s, path, r->lab_mem->data, r->lab_mem->len,
	                                       NNP_LABELS_BUF, err)
	                    : nnp_src_open(s, path, NNP_LABELS_BUF, err);
	if (!rc)
		rc = idx_header(s, &t, &nd, dims, err);
	if (rc)
		return rc;
	if (t->code != 0x08)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: byte 2: labels must be unsigned bytes (type 08), found %s",
		                   s->path, t->name);
	if (nd != 1)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: byte 3: a labels file has 1 dimension, found %u", s->path, nd);
	if (dims[0] != r->idx.count)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 4: %lu labels but %s has %llu images",
		                   s->path, (unsigned long)dims[0], r->in.path,
		                   (unsigned long long)r->idx.count);
	r->idx.lab_bytes = 8 + (uint64_t)dims[0];
	return NNP_OK;
}

int nnp_idx_open(nnp_reader *r, const nnp_data_opts *o, nnp_err *err)
{
	nnp_idx *x = &r->idx;
	nnp_src *s = &r->in;
	const idx_type *t;
	unsigned nd;
	uint32_t dims[3];
	if (o->label == NNP_LABEL_INDEX || o->label == NNP_LABEL_NAME)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "%s: IDX data takes its labels from a labels file, not a column",
		                   s->path);
	int labelled = o->label != NNP_LABEL_NONE;
	if (labelled && !o->labels_path)
		return nnp_err_set(err, NNP_EUSAGE, "%s: IDX images need their labels file%s%s",
		                   s->path, o->labels_option ? ": give " : "",
		                   o->labels_option ? o->labels_option : "");
	int rc = idx_header(s, &t, &nd, dims, err);
	if (rc)
		return rc;
	x->type = t->code;
	x->itemsize = t->size;
	x->count = dims[0];
	/* At most two u32 factors: the product fits in 64 bits. */
	uint64_t feat = 1;
	char shape[64] = "1";
	for (unsigned i = 1; i < nd; i++)
		feat *= dims[i];
	if (nd == 2)
		snprintf(shape, sizeof shape, "%lu", (unsigned long)dims[1]);
	else if (nd == 3)
		snprintf(shape, sizeof shape, "%lux%lu", (unsigned long)dims[1], (unsigned long)dims[2]);
	if (feat == 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 8: items of %s hold no values", s->path,
		                   shape);
	if (feat > NNP_MAX_COLUMNS)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: byte 8: items of %s values are over the limit of %u", s->path,
		                   shape, NNP_MAX_COLUMNS);
	uint64_t bytes;
	if (mul_u64(x->count, feat * x->itemsize, &bytes) || bytes > UINT64_MAX - 16)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 4: %llu items of %s overflow the size",
		                   s->path, (unsigned long long)x->count, shape);
	x->data_bytes = 4 + 4 * (uint64_t)nd + bytes;
	r->features = (size_t)feat;
	r->total = x->count;
	if (o->expect_features && r->features != o->expect_features)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: byte 4: items of %s = %zu values but the model has %zu inputs",
		                   s->path, shape, r->features, o->expect_features);
	if (labelled) {
		rc = idx_open_labels(r, o->labels_path, err);
		if (rc)
			return rc;
		r->has_labels = 1;
	}
	return NNP_OK;
}

static int truncated(const nnp_src *s, uint64_t expect, nnp_err *err)
{
	return nnp_err_set(err, NNP_EINPUT,
	                   "%s: byte %llu: truncated: the header announces %llu bytes in all",
	                   s->path, (unsigned long long)nnp_src_at(s, s->len),
	                   (unsigned long long)expect);
}

static int bad_value(const nnp_src *s, size_t at, double v, nnp_err *err)
{
	return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: value %g is %s", s->path,
	                   (unsigned long long)nnp_src_at(s, at), v,
	                   isfinite(v) ? "beyond the float32 range" : "not a finite number");
}

/* Converts k big-endian items at s->buf[s->pos] into xo. */
static int convert(const nnp_src *s, unsigned char type, size_t k, float *restrict xo,
                   nnp_err *err)
{
	const unsigned char *restrict b = s->buf + s->pos;
	size_t i;
	switch (type) {
	case 0x08:
		for (i = 0; i < k; i++)
			xo[i] = (float)b[i];
		break;
	case 0x09:
		for (i = 0; i < k; i++)
			xo[i] = (float)((int)b[i] - (b[i] & 0x80 ? 256 : 0));
		break;
	case 0x0B:
		for (i = 0; i < k; i++) {
			int u = b[2 * i] << 8 | b[2 * i + 1];
			xo[i] = (float)(u - (u & 0x8000 ? 65536 : 0));
		}
		break;
	case 0x0C:
		for (i = 0; i < k; i++) {
			int64_t u = be32(b + 4 * i);
			xo[i] = (float)(u - (u & 0x80000000 ? INT64_C(4294967296) : 0));
		}
		break;
	case 0x0D:
		for (i = 0; i < k; i++) {
			float f = nnp_bits_float(be32(b + 4 * i));
			if (!isfinite(f))
				return bad_value(s, s->pos + 4 * i, f, err);
			xo[i] = f;
		}
		break;
	default: /* 0x0E */
		for (i = 0; i < k; i++) {
			uint64_t u = be64(b + 8 * i);
			double d;
			memcpy(&d, &u, sizeof d);
			if (!isfinite(d) || fabs(d) > FLT_MAX)
				return bad_value(s, s->pos + 8 * i, d, err);
			xo[i] = (float)d;
		}
		break;
	}
	return NNP_OK;
}

/* Refills s after its pos; a file that ends here is truncated (it should
 * hold want bytes). */
static int refill_more(nnp_src *s, uint64_t want, nnp_err *err)
{
	size_t added;
	int rc = nnp_src_refill(s, s->pos, &added, err);
	if (!rc && added == 0)
		rc = truncated(s, want, err);
	return rc;
}

/* Reads one image: its items may straddle refills of the buffer. */
static int idx_row(nnp_reader *r, float *xo, nnp_err *err)
{
	nnp_src *s = &r->in;
	const size_t isz = r->idx.itemsize;
	size_t left = r->features;
	while (left) {
		size_t avail = (s->len - s->pos) / isz;
		if (avail == 0) {
			int rc = refill_more(s, r->idx.data_bytes, err);
			if (rc)
				return rc;
			continue;
		}
		size_t k = avail < left ? avail : left;
		int rc = convert(s, r->idx.type, k, xo, err);
		if (rc)
			return rc;
		s->pos += k * isz;
		xo += k;
		left -= k;
	}
	return NNP_OK;
}

static int idx_label(nnp_reader *r, int32_t *y, nnp_err *err)
{
	nnp_src *s = &r->idx.lab;
	if (s->pos == s->len) {
		int rc = refill_more(s, r->idx.lab_bytes, err);
		if (rc)
			return rc;
	}
	unsigned v = s->buf[s->pos];
	if (r->n_classes && v >= r->n_classes)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: label %u is outside the model's %zu outputs",
		                   s->path, (unsigned long long)nnp_src_at(s, s->pos), v, r->n_classes);
	s->pos++;
	*y = (int32_t)v;
	return NNP_OK;
}

/* After the last item: the file must end exactly there. */
static int idx_end(nnp_src *s, uint64_t expect, nnp_err *err)
{
	size_t added = 0;
	if (s->pos == s->len) {
		int rc = nnp_src_refill(s, s->pos, &added, err);
		if (rc)
			return rc;
	}
	if (s->pos < s->len)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: byte %llu: trailing data after the %llu bytes the header announces",
		                   s->path, (unsigned long long)expect, (unsigned long long)expect);
	return NNP_OK;
}

int nnp_idx_read(nnp_reader *r, float *x, int32_t *labels, size_t max_rows, size_t *got,
                 nnp_err *err)
{
	nnp_idx *ix = &r->idx;
	const size_t nf = r->features;
	size_t n = 0;
	int rc;
	while (n < max_rows && r->rows + n < ix->count) {
		rc = idx_row(r, x + n * nf, err);
		if (rc)
			return rc;
		if (r->has_labels) {
			int32_t y = 0;
			rc = idx_label(r, &y, err);
			if (rc)
				return rc;
			if (labels)
				labels[n] = y;
		}
		n++;
	}
	if (r->rows + n == ix->count) {
		rc = idx_end(&r->in, ix->data_bytes, err);
		if (!rc && r->has_labels)
			rc = idx_end(&ix->lab, ix->lab_bytes, err);
		if (rc)
			return rc;
		if (ix->count == 0)
			return nnp_err_set(err, NNP_EINPUT, "%s: no data rows", r->in.path);
		r->done = 1;
	}
	*got = n;
	return NNP_OK;
}

void nnp_idx_free(nnp_reader *r)
{
	nnp_src_close(&r->idx.lab);
}
