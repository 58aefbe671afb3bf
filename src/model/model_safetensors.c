/*
 * safetensors (huggingface/safetensors): u64 LE header length N, N bytes of
 * JSON {"name": {"dtype", "shape", "data_offsets": [BEGIN, END]}, ...,
 * "__metadata__": {string: string}}, then the data, little-endian, row-major.
 * The reader makes the reference reader's checks: N <= 100,000,000, UTF-8
 * JSON, metadata strings only, offsets contiguous from 0 with END - BEGIN =
 * elements x item size (overflow-checked), nothing after the last tensor.
 * F32, F64, F16 and BF16 are read (to float32); other dtypes are refused.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_priv.h"

#define ST_MAX_HEADER 100000000ull
#define ST_MAX_INT ((1ull << 48) - 1)

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int nnpm_safetensors_detect(const unsigned char *head, size_t n)
{
	/* A plausible header length, then '{' (after optional spaces). */
	if (n < 9)
		return 0;
	uint64_t len = get64(head);
	if (len < 2 || len > ST_MAX_HEADER)
		return 0;
	size_t i = 8;
	while (i < n && head[i] == ' ')
		i++;
	return i < n && head[i] == '{';
}

static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, f = h & 0x3ff, u;
	if (e == 0) {
		if (f == 0) {
			u = sign;
		} else {  /* subnormal: normalise */
			e = 127 - 15 + 1;
			while (!(f & 0x400)) {
				f <<= 1;
				e--;
			}
			u = sign | e << 23 | (f & 0x3ff) << 13;
		}
	} else if (e == 31) {
		u = sign | 0x7f800000u | f << 13;
	} else {
		u = sign | (e + 127 - 15) << 23 | f << 13;
	}
	float v;
	memcpy(&v, &u, 4);
	return v;
}

typedef struct st_entry {
	const cJSON *item;
	uint64_t begin, end;
	int dtype;   /* 0 F32, 1 F64, 2 F16, 3 BF16 */
} st_entry;

static const char *const dtypes[4] = { "F32", "F64", "F16", "BF16" };
static const unsigned dsize[4] = { 4, 8, 2, 2 };

static int cmp_entries(const void *a, const void *b)
{
	const st_entry *x = a, *y = b;
	return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->end < y->end ? -1 : x->end > y->end;
}

static int get_int(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > (double)ST_MAX_INT ||
	    v->valuedouble != floor(v->valuedouble))
		return -1;
	*out = (uint64_t)v->valuedouble;
	return 0;
}

/* One entry's dtype, shape and offsets (not yet checked against the others). */
static int parse_entry(const cJSON *e, st_entry *se, nnpm_tensor *t, const char *label,
                       nnp_err *err)
{
	const char *name = e->string;
	if (!cJSON_IsObject(e))
		return nnp_err_set(err, NNP_EINPUT, "%s: header: tensor \"%.80s\": expected an object "
		                   "(found %s)", label, name, nnpm_json_type(e));
	for (const cJSON *c = e->child; c; c = c->next)
		if (strcmp(c->string, "dtype") && strcmp(c->string, "shape") &&
		    strcmp(c->string, "data_offsets"))
			return nnp_err_set(err, NNP_EINPUT, "%s: header: tensor \"%.80s\": unknown key "
			                   "\"%.40s\"", label, name, c->string);
	int rc = nnpm_no_dup_keys(e, label, "header: ", err);
	if (rc)
		return rc;
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
	const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
	const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
	if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of))
		return nnp_err_set(err, NNP_EINPUT, "%s: header: tensor \"%.80s\": needs \"dtype\" "
		                   "(a string), \"shape\" and \"data_offsets\" (arrays)", label, name);
	se->dtype = -1;
	for (int i = 0; i < 4; i++)
		if (!strcmp(dt->valuestring, dtypes[i]))
			se->dtype = i;
	if (se->dtype < 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%.80s\": dtype %.20s is not "
		                   "supported (F32, F64, F16 and BF16 are)", label, name,
		                   dt->valuestring);
	uint64_t count = 1;
	size_t nd = 0;
	for (const cJSON *d = sh->child; d; d = d->next, nd++) {
		uint64_t v;
		if (nd >= 8 || get_int(d, &v))
			return nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%.80s\": shape must be at most "
			                   "8 whole numbers below 2^48", label, name);
		t->shape[nd] = v;
		if (v && count > ST_MAX_INT / v)
			return nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%.80s\": the shape's element "
			                   "count overflows", label, name);
		count *= v;
	}
	t->ndim = nd;
	t->count = count;
	const cJSON *b = of->child, *en = b ? b->next : NULL;
	if (!b || !en || en->next || get_int(b, &se->begin) || get_int(en, &se->end))
		return nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%.80s\": data_offsets must be two "
		                   "whole numbers [BEGIN, END]", label, name);
	if (se->end < se->begin)
		return nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%.80s\": data_offsets END %llu is "
		                   "before BEGIN %llu", label, name, (unsigned long long)se->end,
		                   (unsigned long long)se->begin);
	if (count > ST_MAX_INT / dsize[se->dtype] || se->end - se->begin != count * dsize[se->dtype])
		return nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%.80s\": %llu bytes of data for "
		                   "%llu elements of %s", label, name,
		                   (unsigned long long)(se->end - se->begin), (unsigned long long)count,
		                   dtypes[se->dtype]);
	se->item = e;
	return NNP_OK;
}

static void convert(const unsigned char *p, uint64_t count, int dtype, float *out)
{
	for (uint64_t i = 0; i < count; i++) {
		const unsigned char *q = p + i * dsize[dtype];
		uint32_t u;
		switch (dtype) {
		case 0:
			u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
			    (uint32_t)q[3] << 24;
			memcpy(&out[i], &u, 4);
			break;
		case 1: {
			uint64_t v = get64(q);
			double d;
			memcpy(&d, &v, 8);
			out[i] = (float)d;
			break;
		}
		case 2:
			out[i] = half_to_float((uint16_t)(q[0] | q[1] << 8));
			break;
		default:
			u = ((uint32_t)q[0] | (uint32_t)q[1] << 8) << 16;
			memcpy(&out[i], &u, 4);
		}
	}
}

int nnpm_safetensors_read(nnp_model **out, const unsigned char *buf, size_t len,
                          const char *label, const nnp_import_opts *o, int *assumed,
                          nnp_err *err)
{
	*out = NULL;
	if (len < 8)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 0: %zu bytes, too short for a "
		                   "safetensors header", label, len);
	uint64_t n = get64(buf);
	if (n > ST_MAX_HEADER)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 0: header length %llu is over the "
		                   "limit of 100000000", label, (unsigned long long)n);
	if (n > len - 8)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 0: header length %llu runs past the end "
		                   "of the file (%zu bytes)", label, (unsigned long long)n, len);
	const char *h = (const char *)buf + 8;
	if (!nnpm_utf8_ok(h, (size_t)n))
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 8: the header is not valid UTF-8", label);
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)n, &end, 0);
	size_t pos = root ? (size_t)(end - h) : 0;
	while (root && pos < n && (h[pos] == ' ' || h[pos] == '\t' || h[pos] == '\r' ||
	                           h[pos] == '\n'))
		pos++;
	if (!root || pos != n || !cJSON_IsObject(root)) {
		size_t at = end && end >= h && end <= h + n ? (size_t)(end - h) : 0;
		cJSON_Delete(root);
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %zu: the header is not a JSON object",
		                   label, 8 + at);
	}
	nnpm_tensor *t = NULL;
	st_entry *se = NULL;
	nnp_model *m = NULL;
	size_t k = 0, cnt = 0;
	const cJSON *meta = NULL;
	nnpm_acts acts;
	memset(&acts, 0, sizeof acts);
	int rc = nnpm_no_dup_keys(root, label, "header: ", err);
	for (const cJSON *e = root->child; e; e = e->next)
		cnt++;
	if (!rc) {
		t = calloc(cnt ? cnt : 1, sizeof *t);
		se = calloc(cnt ? cnt : 1, sizeof *se);
		if (!t || !se)
			rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	}
	for (const cJSON *e = root->child; e && !rc; e = e->next) {
		if (!strcmp(e->string, "__metadata__")) {
			meta = e;
			if (!cJSON_IsObject(e))
				rc = nnp_err_set(err, NNP_EINPUT, "%s: header: __metadata__ must be an "
				                 "object of strings", label);
			for (const cJSON *c = e->child; c && !rc; c = c->next)
				if (!cJSON_IsString(c))
					rc = nnp_err_set(err, NNP_EINPUT, "%s: header: __metadata__: \"%.40s\" "
					                 "must be a string (found %s)", label, c->string,
					                 nnpm_json_type(c));
			continue;
		}
		rc = parse_entry(e, &se[k], &t[k], label, err);
		if (!rc && !(t[k].name = strdup(e->string)))
			rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
		k++;
	}
	/* Contiguous from 0, in offset order, up to the end of the file exactly. */
	if (!rc) {
		/* se and t are parallel: sort an index instead. */
		st_entry *sorted = malloc((k ? k : 1) * sizeof *sorted);
		if (!sorted) {
			rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
		} else {
			memcpy(sorted, se, k * sizeof *se);
			qsort(sorted, k, sizeof *sorted, cmp_entries);
			uint64_t at = 0, data = len - 8 - n;
			for (size_t i = 0; i < k && !rc; i++) {
				if (sorted[i].begin != at)
					rc = nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%.80s\": data_offsets "
					                 "start at %llu, expected %llu (%s)", label,
					                 sorted[i].item->string,
					                 (unsigned long long)sorted[i].begin,
					                 (unsigned long long)at,
					                 sorted[i].begin > at ? "a hole" : "an overlap");
				at = sorted[i].end;
			}
			if (!rc && at != data)
				rc = nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: the tensors end at data "
				                 "byte %llu but the file has %llu data bytes (%s)", label,
				                 (unsigned long long)(8 + n + (at < data ? at : data)),
				                 (unsigned long long)at, (unsigned long long)data,
				                 at < data ? "trailing bytes" : "truncated");
			free(sorted);
		}
	}
	const unsigned char *base = buf + 8 + n;
	for (size_t i = 0; i < k && !rc; i++) {
		t[i].data = malloc((t[i].count ? t[i].count : 1) * sizeof(float));
		if (!t[i].data)
			rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
		else
			convert(base + se[i].begin, t[i].count, se[i].dtype, t[i].data);
		for (uint64_t j = 0; !rc && j < t[i].count; j++)
			if (!isfinite(t[i].data[j]))
				rc = nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%.80s\": element %llu is not "
				                 "a finite float32", label, t[i].name, (unsigned long long)j);
	}
	if (!rc && meta)
		rc = nnpm_meta_strings_acts(meta, &acts, label, err);
	if (!rc)
		rc = nnpm_model_from_tensors(&m, t, k, &acts, o, assumed, label, err);
	if (!rc && meta)
		rc = nnpm_meta_strings_apply(m, meta, label, err);
	cJSON_Delete(root);
	nnpm_tensors_free(t, k);
	free(se);
	return nnpm_hand_over(m, rc, out);
}

/* ---- writer ---- */

typedef struct meta_ctx {
	nnpm_sink *s;
	int first;
} meta_ctx;

static void put_meta(void *ctx, const char *key, const char *json)
{
	meta_ctx *c = ctx;
	nnpm_sink_puts(c->s, c->first ? "" : ",");
	c->first = 0;
	nnpm_sink_json_string(c->s, key);
	nnpm_sink_puts(c->s, ":");
	nnpm_sink_json_string(c->s, json);
}

static void put_le32(nnpm_sink *s, const float *v, size_t n)
{
	unsigned char b[4096];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		b[k++] = (unsigned char)u;
		b[k++] = (unsigned char)(u >> 8);
		b[k++] = (unsigned char)(u >> 16);
		b[k++] = (unsigned char)(u >> 24);
		if (k == sizeof b) {
			nnpm_sink_put(s, b, k);
			k = 0;
		}
	}
	nnpm_sink_put(s, b, k);
}

/* The header: __metadata__, then each layer's weight and bias as an
 * nn.Sequential names them (Linear modules at even indices). */
static void put_header(nnpm_sink *s, const nnp_model *m)
{
	meta_ctx c = { s, 1 };
	nnpm_sink_puts(s, "{\"__metadata__\":{");
	nnpm_meta_strings(m, put_meta, &c);
	nnpm_sink_puts(s, "}");
	uint64_t at = 0;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		uint64_t wb = (uint64_t)L->in * L->out * 4, bb = (uint64_t)L->out * 4;
		nnpm_sink_printf(s, ",\"%zu.weight\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],"
		                 "\"data_offsets\":[%llu,%llu]}", 2 * l, L->out, L->in,
		                 (unsigned long long)at, (unsigned long long)(at + wb));
		at += wb;
		nnpm_sink_printf(s, ",\"%zu.bias\":{\"dtype\":\"F32\",\"shape\":[%zu],"
		                 "\"data_offsets\":[%llu,%llu]}", 2 * l, L->out,
		                 (unsigned long long)at, (unsigned long long)(at + bb));
		at += bb;
	}
	nnpm_sink_puts(s, "}");
}

int nnpm_safetensors_write(nnpm_sink *s, const nnp_model *m, const nnp_export_opts *o,
                           nnp_err *err)
{
	(void)o;
	(void)err;
	nnpm_sink count;
	memset(&count, 0, sizeof count);
	count.count_only = 1;
	put_header(&count, m);
	/* Padded with spaces so the data starts 8-byte aligned, as the reference writer does. */
	size_t n = (count.len + 7) / 8 * 8;
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (8 * i));
	nnpm_sink_put(s, len, 8);
	put_header(s, m);
	for (size_t i = count.len; i < n; i++)
		nnpm_sink_put(s, " ", 1);
	for (size_t l = 0; l < m->n_layers; l++) {
		put_le32(s, m->layers[l].w, m->layers[l].in * m->layers[l].out);
		put_le32(s, m->layers[l].b, m->layers[l].out);
	}
	return NNP_OK;
}
