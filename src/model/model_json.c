/*
 * The JSON model format: read with cJSON, written by our own printer so that
 * floats use the fewest digits that read back exactly (nnp_fmt_float) and the
 * layout is canonical: JSON -> binary -> JSON gives the same bytes.
 *
 * Speed: the weight rows and biases are parsed before cJSON sees the text
 * (see numdoc_scan below), so cJSON builds no node and runs no strtod per
 * weight; it still checks the whole document's syntax and structure.
 *
 * {"format": "nnprune-model", "version": 1, "input_size": N,
 *  "layers": [{"activation": "relu", "alpha": a (leaky_relu only),
 *              "weights": [[in numbers] x out], "bias": [out numbers]}, ...],
 *  "metadata": {"name": "...", "classes": [...], "provenance": {...}}}
 *
 * A layer may instead hold its weights sparse (CSR, see model_sparse.c):
 *   "weights_csr": {"row_ptr": [out+1 integers], "cols": [nnz integers],
 *                   "values": [nnz numbers]}
 * The writer uses it for a layer when its text is shorter than the dense
 * rows, and then writes "version": 2; files without such layers stay
 * version 1, byte for byte as before.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/parallel.h"
#include "nnprune/text.h"
#include "model_priv.h"
#include "grow.h"
#include "mem.h"
#include "num.h"

const char *nnpm_json_type(const cJSON *item)
{
	if (cJSON_IsString(item)) return "a string";
	if (cJSON_IsNumber(item)) return "a number";
	if (cJSON_IsArray(item)) return "an array";
	if (cJSON_IsObject(item)) return "an object";
	if (cJSON_IsTrue(item)) return "true";
	if (cJSON_IsFalse(item)) return "false";
	if (cJSON_IsNull(item)) return "null";
	return "an invalid value";
}

/* cJSON_GetArraySize returns an int: count in size_t ourselves. */
static size_t count_items(const cJSON *a)
{
	size_t n = 0;
	for (const cJSON *c = a->child; c; c = c->next)
		n++;
	return n;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int nnpm_no_dup_keys(const cJSON *obj, const char *label, const char *where, nnp_err *err)
{
	size_t n = count_items(obj);
	if (n < 2)
		return NNP_OK;
	/* Sorting keeps this O(n log n) even for a hostile object with many keys. */
	const char **keys = malloc(n * sizeof *keys);
	if (!keys)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	size_t i = 0;
	for (const cJSON *c = obj->child; c; c = c->next)
		keys[i++] = c->string ? c->string : "";
	qsort(keys, n, sizeof *keys, cmp_keys);
	int rc = NNP_OK;
	for (i = 1; i < n; i++) {
		if (strcmp(keys[i - 1], keys[i]) == 0) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: %sduplicate key \"%.64s\"", label, where,
			                 keys[i]);
			break;
		}
	}
	free(keys);
	return rc;
}

/*
 * A JSON number as a float, exactly as strtod + cast would, but refusing
 * values outside the float range: anything below 2^128 - 2^103 rounds to at
 * most FLT_MAX, so FLT_MAX printed with 9 digits (3.40282347e+38, a bit
 * above FLT_MAX) still reads back. NaN and infinities cannot get through.
 */
static int to_float(double d, float *f)
{
	if (!(fabs(d) < 0x1.ffffffp127))
		return -1;
	*f = (float)d;
	return 0;
}

/* line:column (1-based, columns in UTF-8 characters) of byte offset pos. */
static void line_col(const char *text, size_t pos, size_t *line, size_t *col)
{
	size_t l = 1, c = 1;
	for (size_t i = 0; i < pos; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- number arrays, parsed before cJSON sees the text ---- */

#define NUM_BIAS UINT32_MAX   /* numrow.row of a layer's bias */

/* One weight row or bias parsed ahead: n floats at vals[off]. */
typedef struct numrow {
	uint32_t layer, row;
	size_t off, n;
} numrow;

/* Where an array was cut: skeleton byte skel is "null", orig..orig_end the array. */
typedef struct numcut {
	size_t skel, orig, orig_end;
} numcut;

/*
 * The text with every weight row and bias that is a plain array of JSON
 * numbers in the float range replaced by `null` (the skeleton, all cJSON
 * parses), and those numbers. Rows are found by position: the scan follows
 * the nesting and notes which array it is in, so `null` in the skeleton only
 * stands for an array where the scan put one. Replacing one JSON value by
 * another keeps a document valid or invalid, and `null` cannot join a
 * neighbouring token, so cJSON's verdict on the skeleton is its verdict on
 * the text. Anything else (an escaped key, a string among the numbers, a
 * number outside the float range) stays in the skeleton for cJSON and the
 * checks below, which then word the error as before.
 */
typedef struct numdoc {
	char *skel;
	size_t skel_len;
	float *vals;              /* [cap_vals] */
	size_t n_vals, cap_vals;
	numrow *rows;
	numcut *cuts;
	size_t n_rows, cap_rows;
	size_t bad;               /* the first byte nnp_json_check_ws refuses, or SIZE_MAX */
} numdoc;

static void numdoc_free(numdoc *d)
{
	NNP_FREE_ALL(d->skel, d->vals, d->rows, d->cuts);
	memset(d, 0, sizeof *d);
}

static const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* Parses the array at p ('[') into dst (room for cap floats): its end and
 * *n, or NULL if it is not a non-empty array of numbers in the float range. */
static const unsigned char *number_array(const unsigned char *p, const unsigned char *end,
                                         float *dst, size_t cap, size_t *n)
{
	size_t k = 0;
	p = skip_ws(p + 1, end);
	while (k < cap) {
		size_t used = nnp_json_float(p, end, &dst[k]);
		if (!used)
			break;
		k++;
		p = skip_ws(p + used, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == ']') {
			*n = k;
			return p + 1;
		}
		break;
	}
	return NULL;
}

static int add_row(numdoc *d, uint32_t layer, uint32_t row, size_t off, size_t n,
                   size_t orig, size_t orig_end)
{
	if (d->n_rows == d->cap_rows) {
		size_t cap = d->cap_rows ? 2 * d->cap_rows : 256;
		int failed = 0;
		d->rows = nnp_regrow(d->rows, cap, sizeof *d->rows, &failed);
		d->cuts = nnp_regrow(d->cuts, cap, sizeof *d->cuts, &failed);
		if (failed)
			return NNP_ENOMEM;
		d->cap_rows = cap;
	}
	numrow *r = &d->rows[d->n_rows];
	r->layer = layer;
	r->row = row;
	r->off = off;
	r->n = n;
	numcut *c = &d->cuts[d->n_rows++];
	c->skel = d->skel_len;
	c->orig = orig;
	c->orig_end = orig_end;
	return NNP_OK;
}

enum { KEY_OTHER, KEY_LAYERS, KEY_WEIGHTS, KEY_BIAS };

/* One open object or array of the first four levels. */
typedef struct numframe {
	unsigned char obj, key, want_key;
	uint32_t idx;          /* arrays: index of the current element */
} numframe;

#define NUM_DEPTH 4

static unsigned char key_of(const unsigned char *s, size_t n)
{
	if (n == 6 && !memcmp(s, "layers", 6)) return KEY_LAYERS;
	if (n == 7 && !memcmp(s, "weights", 7)) return KEY_WEIGHTS;
	if (n == 4 && !memcmp(s, "bias", 4)) return KEY_BIAS;
	return KEY_OTHER;
}

/* At an array value at `depth`: 1 (and *layer, *row) if it is a weight row
 * {"layers": [.., {"weights": [.., HERE]}]} or a bias {"layers": [.., {"bias": HERE}]}. */
static int row_place(const numframe *st, int depth, uint32_t *layer, uint32_t *row)
{
	if (depth < 3 || depth > 4 || !st[0].obj || st[0].key != KEY_LAYERS || st[1].obj ||
	    !st[2].obj || st[2].want_key)
		return 0;
	*layer = st[1].idx;
	if (depth == 3 && st[2].key == KEY_BIAS) {
		*row = NUM_BIAS;
		return 1;
	}
	if (depth == 4 && st[2].key == KEY_WEIGHTS && !st[3].obj) {
		*row = st[3].idx;
		return 1;
	}
	return 0;
}

/* A byte nnp_json_check_ws refuses outside a string. */
static int bad_ctl(unsigned char c)
{
	return c < 0x20 && c != '\t' && c != '\n' && c != '\r';
}

/*
 * Builds the skeleton. With `defer`, a weight row or bias is only delimited
 * (up to its first ']') and its numbers are left for numdoc_defer_parse, at
 * vals[orig / 2]: a number and its comma or bracket take two bytes at least,
 * so the arrays' slots never overlap. Without it they are parsed here, one
 * after another. Also notes in d->bad the first byte nnp_json_check_ws would
 * refuse (the numbers parsed hold none).
 */
static int numdoc_scan(numdoc *d, const char *text, size_t len, int defer)
{
	memset(d, 0, sizeof *d);
	d->bad = SIZE_MAX;
	const unsigned char *t0 = (const unsigned char *)text, *p = t0, *end = p + len;
	/* `null` is longer than the shortest array, `[0]`, by one byte. */
	unsigned char *o = malloc(len + len / 3 + 2);
	if (!o)
		return NNP_ENOMEM;
	d->skel = (char *)o;
	/* Room for every number at once (pages are touched only as far as the
	 * numbers go). */
	d->cap_vals = len / 2 + 1;
	d->vals = d->cap_vals < SIZE_MAX / sizeof *d->vals
	          ? nnp_malloc_huge(d->cap_vals * sizeof *d->vals) : NULL;
	if (!d->vals)
		return NNP_ENOMEM;
	numframe st[NUM_DEPTH];
	int depth = 0, lost = 0;
	while (p < end) {
		unsigned char c = *p;
		if (c == '"') {
			const unsigned char *q = p + 1;
			while (q < end && *q != '"') {
				if (*q < 0x20 && d->bad == SIZE_MAX)
					d->bad = (size_t)(q - t0);
				q += *q == '\\' && q + 1 < end ? 2 : 1;
			}
			if (q < end)
				q++;
			if (depth && depth <= NUM_DEPTH && st[depth - 1].obj && st[depth - 1].want_key)
				st[depth - 1].key = key_of(p + 1, (size_t)(q - p) - 2);
			memcpy(o + d->skel_len, p, (size_t)(q - p));
			d->skel_len += (size_t)(q - p);
			p = q;
			continue;
		}
		uint32_t layer, row;
		if (c == '[' && !lost && row_place(st, depth, &layer, &row)) {
			size_t at = (size_t)(p - t0), off = defer ? at / 2 : d->n_vals, n = 0;
			const unsigned char *q;
			if (defer) {
				q = memchr(p, ']', (size_t)(end - p));
				q = q ? q + 1 : NULL;
			} else {
				q = number_array(p, end, d->vals + off, d->cap_vals - off, &n);
			}
			if (q) {
				d->n_vals = off + n;
				if (add_row(d, layer, row, off, n, at, (size_t)(q - t0)))
					return NNP_ENOMEM;
				memcpy(o + d->skel_len, "null", 4);
				d->skel_len += 4;
				p = q;
				continue;
			}
		}
		if (bad_ctl(c) && d->bad == SIZE_MAX)
			d->bad = (size_t)(p - t0);
		switch (c) {
		case '{':
		case '[':
			if (depth < NUM_DEPTH) {
				numframe f = { c == '{', KEY_OTHER, c == '{', 0 };
				st[depth] = f;
			}
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				lost = 1;   /* broken: cJSON will say where */
			else
				depth--;
			break;
		case ':':
			if (depth && depth <= NUM_DEPTH)
				st[depth - 1].want_key = 0;
			break;
		case ',':
			if (depth && depth <= NUM_DEPTH) {
				numframe *f = &st[depth - 1];
				if (f->obj) {
					f->want_key = 1;
					f->key = KEY_OTHER;
				} else {
					f->idx++;
				}
			}
			break;
		default:
			break;
		}
		o[d->skel_len++] = (char)c;
		p++;
	}
	o[d->skel_len] = '\0';
	return NNP_OK;
}

/* Deferred rows parsed in parallel: task t takes rows [t * per, (t + 1) * per). */
#define NUM_DEFER_MIN ((size_t)1 << 18)   /* bytes of text worth the threads */
#define NUM_DEFER_TASKS 64u

typedef struct defer_job {
	numdoc *d;
	const unsigned char *text, *end;
	size_t per;
	unsigned char *ok;        /* [n_rows] */
} defer_job;

static void defer_task(void *ctx, size_t t, unsigned worker)
{
	(void)worker;
	defer_job *j = ctx;
	numdoc *d = j->d;
	size_t r1 = (t + 1) * j->per < d->n_rows ? (t + 1) * j->per : d->n_rows;
	for (size_t r = t * j->per; r < r1; r++) {
		numrow *nr = &d->rows[r];
		const numcut *c = &d->cuts[r];
		size_t n = 0;
		const unsigned char *q = number_array(j->text + c->orig, j->end, d->vals + nr->off,
		                                      d->cap_vals - nr->off, &n);
		nr->n = n;
		j->ok[r] = q == j->text + c->orig_end;
	}
}

/* The numbers of the rows numdoc_scan deferred; 0 if every row is a plain
 * array of numbers, else 1 (then the caller scans again without deferring). */
static int numdoc_defer_parse(numdoc *d, const char *text, size_t len, int *nomem)
{
	defer_job j = { d, (const unsigned char *)text, (const unsigned char *)text + len,
		        d->n_rows / NUM_DEFER_TASKS + 1, calloc(d->n_rows ? d->n_rows : 1, 1) };
	if (!j.ok) {
		*nomem = 1;
		return 1;
	}
	nnp_pfor_job job = { defer_task, NULL, &j };
	nnp_pfor(0, (d->n_rows + j.per - 1) / j.per, &job);
	int again = 0;
	for (size_t r = 0; r < d->n_rows && !again; r++)
		again = !j.ok[r];
	free(j.ok);
	return again;
}

/* numdoc_scan, the numbers of a large document parsed on every core. */
static int numdoc_build(numdoc *d, const char *text, size_t len)
{
	int defer = len >= NUM_DEFER_MIN, nomem = 0;
	int rc = numdoc_scan(d, text, len, defer);
	if (rc || !defer || !numdoc_defer_parse(d, text, len, &nomem))
		return rc;
	numdoc_free(d);
	return nomem ? NNP_ENOMEM : numdoc_scan(d, text, len, 0);
}

static int cmp_rows(const void *a, const void *b)
{
	const numrow *x = a, *y = b;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* The parsed row of layer l (NUM_BIAS: its bias), or NULL: then cJSON has it. */
static const numrow *find_row(const numdoc *d, size_t l, uint32_t row)
{
	numrow key;
	key.layer = (uint32_t)l;
	key.row = row;
	return d->n_rows ? bsearch(&key, d->rows, d->n_rows, sizeof key, cmp_rows) : NULL;
}

/* Byte offset in the text of byte `pos` of the skeleton. */
static size_t orig_pos(const numdoc *d, size_t pos)
{
	size_t lo = 0, hi = d->n_rows;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->cuts[mid].skel <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return pos;
	const numcut *c = &d->cuts[lo - 1];
	if (pos >= c->skel + 4)
		return c->orig_end + (pos - c->skel - 4);
	/* cJSON points at the last byte when the text ends early: the array's. */
	return pos == c->skel ? c->orig : c->orig_end - 4 + (pos - c->skel);
}

/* Reads a required whole number in [lo, hi] from key `key` of obj. */
static int get_uint(const cJSON *obj, const char *key, double lo, double hi, size_t *out,
                    const char *label, nnp_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return nnp_err_set(err, NNP_EINPUT, "%s: missing \"%s\"", label, key);
	if (!cJSON_IsNumber(v))
		return nnp_err_set(err, NNP_EINPUT, "%s: \"%s\" must be an integer from %.0f to %.0f "
		                   "(found %s)", label, key, lo, hi, nnpm_json_type(v));
	double d = v->valuedouble;
	if (!(d >= lo && d <= hi) || d != floor(d))
		return nnp_err_set(err, NNP_EINPUT, "%s: \"%s\" must be an integer from %.0f to %.0f "
		                   "(found %.9g)", label, key, lo, hi, d);
	*out = (size_t)d;
	return NNP_OK;
}

static int check_header(const cJSON *root, const char *label, nnp_err *err)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "format");
	if (!f)
		return nnp_err_set(err, NNP_EINPUT, "%s: missing \"format\" (not an nnprune model?)",
		                   label);
	if (!cJSON_IsString(f))
		return nnp_err_set(err, NNP_EINPUT, "%s: \"format\" must be \"nnprune-model\" "
		                   "(found %s)", label, nnpm_json_type(f));
	if (strcmp(f->valuestring, "nnprune-model") != 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: \"format\" must be \"nnprune-model\" "
		                   "(found \"%.40s\")", label, f->valuestring);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (!v)
		return nnp_err_set(err, NNP_EINPUT, "%s: missing \"version\"", label);
	if (!cJSON_IsNumber(v))
		return nnp_err_set(err, NNP_EINPUT, "%s: \"version\" must be a number (found %s)",
		                   label, nnpm_json_type(v));
	if (v->valuedouble != 1.0 && v->valuedouble != 2.0)
		return nnp_err_set(err, NNP_EINPUT, "%s: unsupported version %.9g (this nnprune "
		                   "reads versions 1 and 2)", label, v->valuedouble);
	return NNP_OK;
}

/* What pass 1 learns about each layer before anything is allocated. */
typedef struct layer_src {
	const cJSON *weights, *bias;
	const cJSON *row_ptr, *cols, *values;   /* a "weights_csr" layer; weights is NULL */
	nnp_act act;
	float alpha;
} layer_src;

static int layer_activation(const cJSON *lj, size_t l, size_t n_layers, layer_src *ls,
                            const char *label, nnp_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(lj, "activation");
	if (!a)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: missing \"activation\"", label, l);
	if (!cJSON_IsString(a))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"activation\" must be a string "
		                   "(found %s)", label, l, nnpm_json_type(a));
	if (nnp_act_parse(a->valuestring, &ls->act))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: unknown activation \"%.40s\" "
		                   "(expected linear, relu, leaky_relu, sigmoid, tanh or softmax)",
		                   label, l, a->valuestring);
	if (ls->act == NNP_ACT_SOFTMAX && l + 1 != n_layers)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: softmax is only allowed on the "
		                   "last layer", label, l);
	const cJSON *al = cJSON_GetObjectItemCaseSensitive(lj, "alpha");
	ls->alpha = ls->act == NNP_ACT_LEAKY_RELU ? NNP_LEAKY_DEFAULT_ALPHA : 0.0f;
	if (!al)
		return NNP_OK;
	if (ls->act != NNP_ACT_LEAKY_RELU)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"alpha\" is only allowed with "
		                   "leaky_relu (this layer is %s)", label, l, nnp_act_name(ls->act));
	if (!cJSON_IsNumber(al) || to_float(al->valuedouble, &ls->alpha))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"alpha\" must be a finite "
		                   "number", label, l);
	return NNP_OK;
}

/* A required array member of a layer's "weights_csr". */
static int csr_array(const cJSON *csr, const char *key, size_t l, const cJSON **out,
                     size_t *n, const char *label, nnp_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(csr, key);
	if (!a)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights_csr\": missing \"%s\"",
		                   label, l, key);
	if (!cJSON_IsArray(a))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights_csr\": \"%s\" must be "
		                   "an array (found %s)", label, l, key, nnpm_json_type(a));
	*out = a;
	*n = count_items(a);
	return NNP_OK;
}

/* Shape of a "weights_csr": out + 1 row pointers, as many columns as values,
 * no more entries than weights. The index values are checked in pass 2. */
static int layer_shape_csr(const cJSON *csr, size_t l, size_t in, layer_src *ls,
                           size_t *rows, const char *label, nnp_err *err)
{
	size_t np = 0, nc = 0, nv = 0;
	if (!cJSON_IsObject(csr))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights_csr\" must be an object "
		                   "(found %s)", label, l, nnpm_json_type(csr));
	char where[64];
	snprintf(where, sizeof where, "layer %zu: \"weights_csr\": ", l);
	int rc = nnpm_no_dup_keys(csr, label, where, err);
	if (!rc)
		rc = csr_array(csr, "row_ptr", l, &ls->row_ptr, &np, label, err);
	if (!rc)
		rc = csr_array(csr, "cols", l, &ls->cols, &nc, label, err);
	if (!rc)
		rc = csr_array(csr, "values", l, &ls->values, &nv, label, err);
	if (rc)
		return rc;
	if (np < 2 || np - 1 > NNP_MAX_WIDTH)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights_csr\": \"row_ptr\" has "
		                   "%zu entries (2 to %u allowed: one per row and one more)", label, l,
		                   np, NNP_MAX_WIDTH + 1);
	if (nc != nv)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights_csr\": %zu \"cols\" but "
		                   "%zu \"values\" (the counts disagree)", label, l, nc, nv);
	if ((uint64_t)nc > (uint64_t)in * (np - 1))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights_csr\": %zu entries, "
		                   "more than the layer's %zu x %zu weights", label, l, nc, np - 1, in);
	*rows = np - 1;
	return NNP_OK;
}

/* Shape of "weights" and "bias": out rows of `in` items and out biases. */
static int layer_shape(const cJSON *lj, size_t l, size_t in, layer_src *ls, size_t *out,
                       const numdoc *nd, const char *label, nnp_err *err)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(lj, "weights");
	const cJSON *csr = cJSON_GetObjectItemCaseSensitive(lj, "weights_csr");
	size_t rows = 0;
	if (w && csr)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: both \"weights\" and "
		                   "\"weights_csr\" (a layer has one or the other)", label, l);
	if (csr) {
		int rc = layer_shape_csr(csr, l, in, ls, &rows, label, err);
		if (rc)
			return rc;
		goto bias;
	}
	if (!w)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: missing \"weights\"", label, l);
	if (!cJSON_IsArray(w))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights\" must be an array of "
		                   "rows (found %s)", label, l, nnpm_json_type(w));
	rows = count_items(w);
	if (rows < 1 || rows > NNP_MAX_WIDTH)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights\" has %zu rows (1 to %u "
		                   "allowed)", label, l, rows, NNP_MAX_WIDTH);
	size_t r = 0;
	for (const cJSON *row = w->child; row; row = row->next, r++) {
		const numrow *nr = find_row(nd, l, (uint32_t)r);
		if (!nr && !cJSON_IsArray(row))
			return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights\" row %zu must be "
			                   "an array of %zu numbers (found %s)", label, l, r, in,
			                   nnpm_json_type(row));
		size_t cols = nr ? nr->n : count_items(row);
		if (cols == in)
			continue;
		/* [in][out], as Keras kernels and emlearn arrays are, is the usual way in. */
		const cJSON *bj = cJSON_GetObjectItemCaseSensitive(lj, "bias");
		const numrow *nb = find_row(nd, l, NUM_BIAS);
		size_t nbj = nb ? nb->n : cJSON_IsArray(bj) ? count_items(bj) : 0;
		const char *hint = rows == in && nbj == cols ? " (the weights look like [in][out]: nnprune takes "
		                                "[out][in], one row per output neuron; transpose them)"
		                              : "";
		if (r == 0 && l == 0)
			return nnp_err_set(err, NNP_EINPUT, "%s: layer 0: weights have %zu columns but "
			                   "\"input_size\" is %zu%s", label, cols, in, hint);
		if (r == 0)
			return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: weights have %zu columns but "
			                   "layer %zu has %zu outputs%s", label, l, cols, l - 1, in, hint);
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights\" row %zu must be an "
		                   "array of %zu numbers (found %zu)", label, l, r, in, cols);
	}
bias:;
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(lj, "bias");
	if (!b)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: missing \"bias\"", label, l);
	const numrow *nr = find_row(nd, l, NUM_BIAS);
	if (!nr && !cJSON_IsArray(b))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"bias\" must be an array of %zu "
		                   "numbers (found %s)", label, l, rows, nnpm_json_type(b));
	size_t nb = nr ? nr->n : count_items(b);
	if (nb != rows)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"bias\" must be an array of %zu "
		                   "numbers (found %zu)", label, l, rows, nb);
	ls->weights = w;
	ls->bias = b;
	*out = rows;
	return NNP_OK;
}

/* Pass 1: every layer's activation and shape, and the parameter budget. */
static int scan_layers(const cJSON *layers, size_t n, size_t input_size, layer_src *ls,
                       size_t *sizes, nnp_act *acts, const numdoc *nd, const char *label,
                       nnp_err *err)
{
	char where[48];
	size_t in = input_size, l = 0;
	uint64_t params = 0;
	for (const cJSON *lj = layers->child; lj; lj = lj->next, l++) {
		if (!cJSON_IsObject(lj))
			return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu must be an object (found %s)",
			                   label, l, nnpm_json_type(lj));
		snprintf(where, sizeof where, "layer %zu: ", l);
		int rc = nnpm_no_dup_keys(lj, label, where, err);
		if (!rc)
			rc = layer_activation(lj, l, n, &ls[l], label, err);
		if (!rc)
			rc = layer_shape(lj, l, in, &ls[l], &sizes[l], nd, label, err);
		if (rc)
			return rc;
		acts[l] = ls[l].act;
		/* in and out are at most 2^24 and there are at most 2^10 layers. */
		params += (uint64_t)in * sizes[l] + sizes[l];
		if (params > NNP_MAX_PARAMS)
			return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: the model would have more "
			                   "than %zu parameters (the limit)", label, l, NNP_MAX_PARAMS);
		in = sizes[l];
	}
	return NNP_OK;
}

static int read_number(const cJSON *v, float *f, const char *label, size_t l,
                       const char *what, size_t i, size_t j, int two, nnp_err *err)
{
	char place[64];
	if (cJSON_IsNumber(v) && !to_float(v->valuedouble, f))
		return NNP_OK;
	if (two)
		snprintf(place, sizeof place, "%s[%zu][%zu]", what, i, j);
	else
		snprintf(place, sizeof place, "%s[%zu]", what, i);
	if (!cJSON_IsNumber(v))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: %s must be a number (found %s)",
		                   label, l, place, nnpm_json_type(v));
	return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: %s = %.9g is outside the float range",
	                   label, l, place, v->valuedouble);
}

/* A "weights_csr" index array into u32s: whole numbers 0 .. 2^32-1. */
static int csr_indices(const cJSON *a, const char *key, uint32_t *out, size_t l,
                       const char *label, nnp_err *err)
{
	size_t i = 0;
	for (const cJSON *v = a->child; v; v = v->next, i++) {
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 4294967295.0) ||
		    v->valuedouble != floor(v->valuedouble))
			return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights_csr\": \"%s\"[%zu] "
			                   "must be a whole number from 0 to 4294967295", label, l, key, i);
		out[i] = (uint32_t)v->valuedouble;
	}
	return NNP_OK;
}

/* Pass 2 for a "weights_csr" layer: indices checked, then scattered. */
static int fill_csr(nnp_layer *L, const layer_src *ls, size_t l, const char *label,
                    nnp_err *err)
{
	size_t nnz = count_items(ls->cols);
	uint32_t *ptr = malloc((L->out + 1) * sizeof *ptr);
	uint32_t *cols = malloc((nnz ? nnz : 1) * sizeof *cols);
	float *vals = malloc((nnz ? nnz : 1) * sizeof *vals);
	int rc = NNP_OK;
	nnpm_csr_fault f;
	if (!ptr || !cols || !vals) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: layer %zu: out of memory", label, l);
		goto done;
	}
	rc = csr_indices(ls->row_ptr, "row_ptr", ptr, l, label, err);
	if (!rc)
		rc = csr_indices(ls->cols, "cols", cols, l, label, err);
	size_t i = 0;
	for (const cJSON *v = ls->values->child; v && !rc; v = v->next, i++)
		rc = read_number(v, &vals[i], label, l, "\"weights_csr\": value", i, 0, 0, err);
	if (rc)
		goto done;
	if (nnpm_csr_check(L->in, L->out, nnz, ptr, cols, &f)) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights_csr\": \"%s\"[%zu]: %s",
		                 label, l, f.array ? "cols" : "row_ptr", f.index, f.what);
		goto done;
	}
	nnpm_csr_scatter(L, ptr, cols, vals);
done:
	free(ptr);
	free(cols);
	free(vals);
	return rc;
}

/* Pass 2: the numbers, into the allocated model. */
static int fill_layer(nnp_layer *L, const layer_src *ls, size_t l, const numdoc *nd,
                      const char *label, nnp_err *err)
{
	size_t r = 0;
	L->alpha = ls->alpha;
	if (!ls->weights) {
		int rc = fill_csr(L, ls, l, label, err);
		if (rc)
			return rc;
	}
	for (const cJSON *row = ls->weights ? ls->weights->child : NULL; row; row = row->next, r++) {
		size_t c = 0;
		float *w = L->w + r * L->in;
		const numrow *nr = find_row(nd, l, (uint32_t)r);
		if (nr) {
			memcpy(w, nd->vals + nr->off, nr->n * sizeof *w);
			continue;
		}
		for (const cJSON *v = row->child; v; v = v->next, c++)
			if (read_number(v, &w[c], label, l, "weight", r, c, 1, err))
				return NNP_EINPUT;
	}
	const numrow *nr = find_row(nd, l, NUM_BIAS);
	if (nr) {
		memcpy(L->b, nd->vals + nr->off, nr->n * sizeof *L->b);
		return NNP_OK;
	}
	size_t i = 0;
	for (const cJSON *v = ls->bias->child; v; v = v->next, i++)
		if (read_number(v, &L->b[i], label, l, "bias", i, 0, 0, err))
			return NNP_EINPUT;
	return NNP_OK;
}

static int parse_root(nnp_model **out, const cJSON *root, const numdoc *nd, const char *label,
                      nnp_err *err)
{
	nnp_model *m = NULL;
	layer_src *ls = NULL;
	size_t *sizes = NULL;
	nnp_act *acts = NULL;
	size_t input_size = 0;
	int rc = nnpm_no_dup_keys(root, label, "", err);
	if (!rc)
		rc = check_header(root, label, err);
	if (!rc)
		rc = get_uint(root, "input_size", 1, NNP_MAX_WIDTH, &input_size, label, err);
	if (rc)
		return rc;
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
	if (!layers)
		return nnp_err_set(err, NNP_EINPUT, "%s: missing \"layers\"", label);
	if (!cJSON_IsArray(layers))
		return nnp_err_set(err, NNP_EINPUT, "%s: \"layers\" must be an array (found %s)", label,
		                   nnpm_json_type(layers));
	size_t n = count_items(layers);
	if (n < 1 || n > NNP_MAX_LAYERS)
		return nnp_err_set(err, NNP_EINPUT, "%s: \"layers\" has %zu layers (1 to %u allowed)",
		                   label, n, NNP_MAX_LAYERS);
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	if (meta && !cJSON_IsObject(meta))
		return nnp_err_set(err, NNP_EINPUT, "%s: \"metadata\" must be an object (found %s)",
		                   label, nnpm_json_type(meta));
	ls = calloc(n, sizeof *ls);
	sizes = calloc(n, sizeof *sizes);
	acts = calloc(n, sizeof *acts);
	if (!ls || !sizes || !acts) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
		goto done;
	}
	rc = scan_layers(layers, n, input_size, ls, sizes, acts, nd, label, err);
	if (rc)
		goto done;
	rc = nnpm_alloc(&m, input_size, n, sizes, acts);
	if (rc) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory for the weights", label);
		goto done;
	}
	for (size_t l = 0; l < n && !rc; l++)
		rc = fill_layer(&m->layers[l], &ls[l], l, nd, label, err);
	if (!rc && meta)
		rc = nnpm_meta_from_cjson(m, meta, label, "", err);
	if (!rc)
		rc = nnpm_check(m, label, NNP_EINPUT, err);
done:
	free(ls);
	free(sizes);
	free(acts);
	return nnpm_hand_over(m, rc, out);
}

/* 1 if cJSON finds a syntax error before byte `at`: that error is the one
 * to report, since it comes first in the text (a missing quote can put a
 * line break inside a "string" further on). Only on the error path. */
static int json_fails_before(const char *text, size_t len, size_t at)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	cJSON_Delete(root);
	return !root && end && end >= text && (size_t)(end - text) < at;
}


int nnp_model_from_json(nnp_model **out, const char *text, size_t len, const char *label,
                        nnp_err *err)
{
	*out = NULL;
	if (!label)
		label = "model";
	if (!text)
		len = 0;
	/* Columns count from after the BOM, as editors show them. */
	if (len >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb &&
	    (unsigned char)text[2] == 0xbf) {
		text += 3;
		len -= 3;
	}
	size_t line, col;
	const char *end = NULL;
	numdoc nd;
	if (numdoc_build(&nd, text, len)) {
		numdoc_free(&nd);
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	}
	size_t bad = nd.bad;
	if (bad != SIZE_MAX && !json_fails_before(text, len, bad)) {
		numdoc_free(&nd);
		line_col(text, bad, &line, &col);
		return nnp_err_set(err, NNP_EINPUT, "%s:%zu:%zu: JSON syntax error: control byte 0x%02x "
		                   "(JSON allows space, tab, LF and CR between tokens, and no control "
		                   "byte inside a string)", label, line, col, (unsigned char)text[bad]);
	}
	if (nd.n_rows > 1)
		qsort(nd.rows, nd.n_rows, sizeof *nd.rows, cmp_rows);
	const char *sk = nd.skel;
	cJSON *root = len ? cJSON_ParseWithLengthOpts(sk, nd.skel_len, &end, 0) : NULL;
	if (!root) {
		/* cJSON leaves return_parse_end where it stopped. */
		size_t pos = end && end >= sk && end <= sk + nd.skel_len ? (size_t)(end - sk) : 0;
		pos = orig_pos(&nd, pos);
		numdoc_free(&nd);
		line_col(text, pos, &line, &col);
		return nnp_err_set(err, NNP_EINPUT, "%s:%zu:%zu: JSON syntax error%s", label, line, col,
		                   len ? "" : " (empty text)");
	}
	size_t pos = orig_pos(&nd, (size_t)(end - sk));
	while (pos < len && is_ws(text[pos]))
		pos++;
	int rc;
	if (pos < len) {
		line_col(text, pos, &line, &col);
		rc = nnp_err_set(err, NNP_EINPUT, "%s:%zu:%zu: unexpected text after the JSON object",
		                 label, line, col);
	} else if (!cJSON_IsObject(root)) {
		pos = 0;
		while (pos < len && is_ws(text[pos]))
			pos++;
		line_col(text, pos, &line, &col);
		rc = nnp_err_set(err, NNP_EINPUT, "%s:%zu:%zu: expected a JSON object (found %s)",
		                 label, line, col, nnpm_json_type(root));
	} else {
		rc = parse_root(out, root, &nd, label, err);
	}
	cJSON_Delete(root);
	numdoc_free(&nd);
	return rc;
}

/* ---- metadata, shared with the binary format ---- */

static int meta_strdup(const cJSON *v, char **out, const char *label, const char *place,
                       const char *key, nnp_err *err)
{
	if (!cJSON_IsString(v))
		return nnp_err_set(err, NNP_EINPUT, "%s: %smetadata: %s must be a string (found %s)",
		                   label, place, key, nnpm_json_type(v));
	size_t n = strlen(v->valuestring);
	if (!nnpm_utf8_ok(v->valuestring, n))
		return nnp_err_set(err, NNP_EINPUT, "%s: %smetadata: %s is not valid UTF-8", label,
		                   place, key);
	*out = malloc(n + 1);
	if (!*out)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	memcpy(*out, v->valuestring, n + 1);
	return NNP_OK;
}

static int meta_classes(const cJSON *c, size_t outs, char ***out, size_t *n_out,
                        const char *label, const char *place, nnp_err *err)
{
	if (!cJSON_IsArray(c))
		return nnp_err_set(err, NNP_EINPUT, "%s: %smetadata: \"classes\" must be an array of "
		                   "strings (found %s)", label, place, nnpm_json_type(c));
	size_t n = count_items(c);
	if (n != outs)
		return nnp_err_set(err, NNP_EINPUT, "%s: %smetadata: \"classes\" has %zu names but "
		                   "the model has %zu outputs", label, place, n, outs);
	char **names = calloc(n ? n : 1, sizeof *names);
	if (!names)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	size_t i = 0;
	int rc = NNP_OK;
	char key[48];
	for (const cJSON *v = c->child; v && !rc; v = v->next, i++) {
		snprintf(key, sizeof key, "\"classes\"[%zu]", i);
		rc = meta_strdup(v, &names[i], label, place, key, err);
	}
	if (rc) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return rc;
	}
	*out = names;
	*n_out = n;
	return NNP_OK;
}

static int meta_provenance(const cJSON *p, char **out, const char *label, const char *place,
                           nnp_err *err)
{
	if (!cJSON_IsObject(p))
		return nnp_err_set(err, NNP_EINPUT, "%s: %smetadata: \"provenance\" must be an object "
		                   "(found %s)", label, place, nnpm_json_type(p));
	char *t = cJSON_PrintUnformatted(p);
	if (!t)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	size_t n = strlen(t);
	int rc = NNP_OK;
	if (!nnpm_utf8_ok(t, n)) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: %smetadata: \"provenance\" is not valid UTF-8",
		                 label, place);
	} else if (!(*out = malloc(n + 1))) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	} else {
		memcpy(*out, t, n + 1);
	}
	cJSON_free(t);
	return rc;
}

int nnpm_meta_from_cjson(nnp_model *m, const cJSON *meta, const char *label,
                         const char *place, nnp_err *err)
{
	char *name = NULL, *prov = NULL, **classes = NULL;
	size_t n_classes = 0;
	char where[64];
	if (!cJSON_IsObject(meta))
		return nnp_err_set(err, NNP_EINPUT, "%s: %smetadata must be a JSON object (found %s)",
		                   label, place, nnpm_json_type(meta));
	snprintf(where, sizeof where, "%smetadata: ", place);
	int rc = nnpm_no_dup_keys(meta, label, where, err);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, "name");
	if (!rc && v)
		rc = meta_strdup(v, &name, label, place, "\"name\"", err);
	v = cJSON_GetObjectItemCaseSensitive(meta, "classes");
	if (!rc && v)
		rc = meta_classes(v, nnp_model_outputs(m), &classes, &n_classes, label, place, err);
	v = cJSON_GetObjectItemCaseSensitive(meta, "provenance");
	if (!rc && v)
		rc = meta_provenance(v, &prov, label, place, err);
	if (!rc)
		rc = nnpm_io_from_cjson(m, meta, label, place, err);
	if (rc) {
		free(name);
		free(prov);
		for (size_t i = 0; i < n_classes; i++)
			free(classes[i]);
		free(classes);
		return rc;
	}
	free(m->name);
	free(m->provenance);
	for (size_t i = 0; i < m->n_classes; i++)
		free(m->classes[i]);
	free(m->classes);
	m->name = name;
	m->provenance = prov;
	m->classes = classes;
	m->n_classes = n_classes;
	return NNP_OK;
}

void nnpm_meta_print(nnpm_sink *s, const nnp_model *m, int pretty, const char *indent)
{
	if (!nnpm_has_meta(m))
		return;
	const char *item_sep = pretty ? ", " : ",";
	const char *first = "";
	nnpm_sink_puts(s, "{");
	/* Each key starts with the previous key's separator. */
#define META_KEY(k)                                                   \
	do {                                                          \
		nnpm_sink_puts(s, first);                             \
		if (pretty) {                                         \
			nnpm_sink_puts(s, "\n");                      \
			nnpm_sink_puts(s, indent);                    \
			nnpm_sink_puts(s, "  \"" k "\": ");           \
		} else {                                              \
			nnpm_sink_puts(s, "\"" k "\":");              \
		}                                                     \
		first = ",";                                          \
	} while (0)
	if (m->name) {
		META_KEY("name");
		nnpm_sink_json_string(s, m->name);
	}
	if (m->n_classes) {
		META_KEY("classes");
		nnpm_sink_puts(s, "[");
		for (size_t i = 0; i < m->n_classes; i++) {
			if (i)
				nnpm_sink_puts(s, item_sep);
			nnpm_sink_json_string(s, m->classes[i]);
		}
		nnpm_sink_puts(s, "]");
	}
	if (m->provenance) {
		META_KEY("provenance");
		nnpm_sink_puts(s, m->provenance);
	}
	nnpm_io_print(s, m, pretty, indent, first);
#undef META_KEY
	if (pretty) {
		nnpm_sink_puts(s, "\n");
		nnpm_sink_puts(s, indent);
	}
	nnpm_sink_puts(s, "}");
}

/* ---- writer ---- */

/* Numbers joined by ", ", gathered in a local buffer: one sink write per few
 * kilobytes rather than one per number. */
static void put_floats(nnpm_sink *s, const float *v, size_t n)
{
	char buf[8192];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k > sizeof buf - NNP_FLOAT_CHARS - 2) {
			nnpm_sink_put(s, buf, k);
			k = 0;
		}
		if (i) {
			buf[k++] = ',';
			buf[k++] = ' ';
		}
		k += nnp_fmt_float(buf + k, v[i]);
	}
	nnpm_sink_put(s, buf, k);
}

/* A layer's weights as rows, one per line: readable, and diffs stay local. */
static void put_dense_weights(nnpm_sink *s, const nnp_layer *L)
{
	nnpm_sink_puts(s, "      \"weights\": [\n");
	for (size_t r = 0; r < L->out; r++) {
		nnpm_sink_puts(s, "        [");
		put_floats(s, L->w + r * L->in, L->in);
		nnpm_sink_puts(s, r + 1 < L->out ? "],\n" : "]\n");
	}
	nnpm_sink_puts(s, "      ],\n");
}

static void put_uints(nnpm_sink *s, const uint32_t *v, size_t n, int first)
{
	for (size_t i = 0; i < n; i++)
		nnpm_sink_printf(s, first && i == 0 ? "%u" : ", %u", v[i]);
}

/* A layer's weights as CSR, each array on one line. */
static void put_csr_weights(nnpm_sink *s, const nnp_layer *L)
{
	enum { CHUNK = 256 };
	uint32_t idx[CHUNK];
	float vals[CHUNK];
	size_t k, pos = 0;
	uint32_t first = 0;
	nnpm_sink_puts(s, "      \"weights_csr\": {\n        \"row_ptr\": [0");
	for (size_t r0 = 0; r0 < L->out; r0 += k) {
		k = L->out - r0 < CHUNK ? L->out - r0 : CHUNK;
		nnpm_csr_row_ptr(L, r0, k, first, idx);
		first = idx[k - 1];
		put_uints(s, idx, k, 0);
	}
	nnpm_sink_puts(s, "],\n        \"cols\": [");
	for (int start = 1; (k = nnpm_csr_next(L, &pos, CHUNK, idx, NULL)) > 0; start = 0)
		put_uints(s, idx, k, start);
	nnpm_sink_puts(s, "],\n        \"values\": [");
	pos = 0;
	for (int start = 1; (k = nnpm_csr_next(L, &pos, CHUNK, NULL, vals)) > 0; start = 0) {
		if (!start)
			nnpm_sink_put(s, ", ", 2);
		put_floats(s, vals, k);
	}
	nnpm_sink_puts(s, "]\n      },\n");
}

/* 1 if the layer's CSR text is shorter than its dense rows. Measured only
 * when at least half the weights are +0.0: below that, CSR can hardly win,
 * as each stored entry costs a column index and ", " (3 bytes or more) on
 * top of its value, and each zero left out saves "0, " (3 bytes). */
static int json_csr_shorter(const nnp_layer *L)
{
	if (nnpm_layer_stored(L) * 2 > L->in * L->out)
		return 0;
	nnpm_sink dense, csr;
	memset(&dense, 0, sizeof dense);
	memset(&csr, 0, sizeof csr);
	dense.count_only = csr.count_only = 1;
	put_dense_weights(&dense, L);
	put_csr_weights(&csr, L);
	return csr.len < dense.len;
}

void nnpm_write_json(nnpm_sink *s, const nnp_model *m)
{
	char num[NNP_FLOAT_CHARS];
	unsigned char *csr = calloc(m->n_layers, 1);
	if (!csr) {
		s->failed = NNP_ENOMEM;
		return;
	}
	int version = 1;
	for (size_t l = 0; l < m->n_layers; l++)
		if ((csr[l] = (unsigned char)json_csr_shorter(&m->layers[l])))
			version = 2;
	nnpm_sink_printf(s, "{\n  \"format\": \"nnprune-model\",\n  \"version\": %d,\n"
	                 "  \"input_size\": %zu,\n  \"layers\": [\n", version, m->input_size);
	for (size_t l = 0; l < m->n_layers && !s->failed; l++) {
		const nnp_layer *L = &m->layers[l];
		nnpm_sink_printf(s, "    {\n      \"activation\": \"%s\",\n", nnp_act_name(L->act));
		if (L->act == NNP_ACT_LEAKY_RELU) {
			nnp_fmt_float(num, L->alpha);
			nnpm_sink_printf(s, "      \"alpha\": %s,\n", num);
		}
		if (csr[l])
			put_csr_weights(s, L);
		else
			put_dense_weights(s, L);
		nnpm_sink_puts(s, "      \"bias\": [");
		put_floats(s, L->b, L->out);
		nnpm_sink_puts(s, l + 1 < m->n_layers ? "]\n    },\n" : "]\n    }\n");
	}
	nnpm_sink_puts(s, "  ]");
	free(csr);
	if (nnpm_has_meta(m)) {
		nnpm_sink_puts(s, ",\n  \"metadata\": ");
		nnpm_meta_print(s, m, 1, "  ");
	}
	nnpm_sink_puts(s, "\n}\n");
}
