/*
 * NumPy .npy (one array) and .npz (a zip of .npy members, read and written
 * through libzip). .npy: "\x93NUMPY", version 1.0/2.0/3.0, a header length
 * (u16 LE for 1.0, u32 LE after), a Python dict literal {'descr': '<f4',
 * 'fortran_order': False, 'shape': (3, 4), } padded with spaces and a
 * newline, then the data. '<f4', '<f8' and '>f4' are read, C or Fortran
 * order; the data must be exactly the shape's size.
 *
 * An .npz holds a state dict (`0.weight`, ...) or positional arrays (`arr_0`,
 * ...); a single .npy is read as the weights of a one-layer model (use an
 * .npz for more).
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model_priv.h"
#include "zip_api.h"

#define NPY_MAX_HEADER 10000u
#define NPZ_MAX_MEMBERS 4096u
#define NPZ_MAX_MEMBER ((uint64_t)4 << 30)
#define NPZ_MTIME ((time_t)315532800)  /* 1980-01-01 00:00 UTC */

static const unsigned char npy_magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

int nnpm_npy_detect(const unsigned char *head, size_t n)
{
	return n >= 6 && !memcmp(head, npy_magic, 6);
}

int nnpm_npz_detect(const unsigned char *head, size_t n)
{
	return n >= 4 && head[0] == 'P' && head[1] == 'K' &&
	       ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6));
}

/* ---- the header's dict literal ---- */

typedef struct npy_hdr {
	char descr[8];
	int fortran;
	size_t ndim;
	uint64_t shape[8];
	int have_descr, have_fortran, have_shape;
} npy_hdr;

static void skip_ws(const char **p, const char *e)
{
	while (*p < e && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
		(*p)++;
}

static int lit_string(const char **p, const char *e, char *out, size_t cap)
{
	if (*p >= e || (**p != '\'' && **p != '"'))
		return -1;
	char q = *(*p)++;
	size_t n = 0;
	while (*p < e && **p != q) {
		if (n + 1 >= cap)
			return -1;
		out[n++] = *(*p)++;
	}
	if (*p >= e)
		return -1;
	(*p)++;
	out[n] = '\0';
	return 0;
}

static int parse_hdr(const char *s, size_t len, npy_hdr *h)
{
	const char *p = s, *e = s + len;
	memset(h, 0, sizeof *h);
	skip_ws(&p, e);
	if (p >= e || *p++ != '{')
		return -1;
	for (;;) {
		skip_ws(&p, e);
		if (p < e && *p == '}') {
			p++;
			break;
		}
		char key[32];
		if (lit_string(&p, e, key, sizeof key))
			return -1;
		skip_ws(&p, e);
		if (p >= e || *p++ != ':')
			return -1;
		skip_ws(&p, e);
		if (!strcmp(key, "descr") && !h->have_descr) {
			if (lit_string(&p, e, h->descr, sizeof h->descr))
				return -1;
			h->have_descr = 1;
		} else if (!strcmp(key, "fortran_order") && !h->have_fortran) {
			if ((size_t)(e - p) >= 4 && !strncmp(p, "True", 4)) {
				h->fortran = 1;
				p += 4;
			} else if ((size_t)(e - p) >= 5 && !strncmp(p, "False", 5)) {
				p += 5;
			} else {
				return -1;
			}
			h->have_fortran = 1;
		} else if (!strcmp(key, "shape") && !h->have_shape) {
			if (p >= e || *p++ != '(')
				return -1;
			for (;;) {
				skip_ws(&p, e);
				if (p < e && *p == ')') {
					p++;
					break;
				}
				if (p >= e || !isdigit((unsigned char)*p) || h->ndim >= 8)
					return -1;
				uint64_t v = 0;
				while (p < e && isdigit((unsigned char)*p)) {
					if (v > ((uint64_t)1 << 48))
						return -1;
					v = v * 10 + (uint64_t)(*p++ - '0');
				}
				h->shape[h->ndim++] = v;
				skip_ws(&p, e);
				if (p < e && *p == ',')
					p++;
			}
			h->have_shape = 1;
		} else {
			return -1;  /* unknown or repeated key */
		}
		skip_ws(&p, e);
		if (p < e && *p == ',')
			p++;
	}
	skip_ws(&p, e);
	return p == e && h->have_descr && h->have_fortran && h->have_shape ? 0 : -1;
}

int nnpm_npy_parse(const unsigned char *buf, size_t len, const char *name, nnpm_tensor *t,
                   const char *label, nnp_err *err)
{
	memset(t, 0, sizeof *t);
	if (len < 10 || memcmp(buf, npy_magic, 6))
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 0: not a .npy array (no \\x93NUMPY "
		                   "magic)", label);
	unsigned major = buf[6], minor = buf[7];
	if (minor != 0 || major < 1 || major > 3)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 6: .npy version %u.%u is not supported "
		                   "(1.0 to 3.0 are)", label, major, minor);
	size_t hl, at;
	if (major == 1) {
		hl = (size_t)buf[8] | (size_t)buf[9] << 8;
		at = 10;
	} else {
		if (len < 12)
			return nnp_err_set(err, NNP_EINPUT, "%s: byte 8: truncated header", label);
		hl = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
		     (size_t)buf[11] << 24;
		at = 12;
	}
	if (hl > NPY_MAX_HEADER)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 8: header of %zu bytes is over numpy's "
		                   "limit of %u", label, hl, NPY_MAX_HEADER);
	if (hl > len - at)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 8: header of %zu bytes runs past the end "
		                   "of the array (%zu bytes)", label, hl, len);
	npy_hdr h;
	if (parse_hdr((const char *)buf + at, hl, &h))
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %zu: the header is not a dict of "
		                   "exactly 'descr', 'fortran_order' and 'shape'", label, at);
	int big = 0, f64 = 0;
	if (!strcmp(h.descr, "<f4") || !strcmp(h.descr, "=f4")) {
	} else if (!strcmp(h.descr, "<f8")) {
		f64 = 1;
	} else if (!strcmp(h.descr, ">f4")) {
		big = 1;
	} else {
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %zu: dtype '%s' is not supported (<f4, "
		                   "<f8 and >f4 are)", label, at, h.descr);
	}
	uint64_t count = 1;
	for (size_t i = 0; i < h.ndim; i++) {
		if (h.shape[i] && count > ((uint64_t)1 << 48) / h.shape[i])
			return nnp_err_set(err, NNP_EINPUT, "%s: byte %zu: the shape's element count "
			                   "overflows", label, at);
		count *= h.shape[i];
	}
	size_t item = f64 ? 8 : 4, data = at + hl;
	if (count > (len - data) / item || (len - data) != count * item)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %zu: %zu data bytes for %llu elements of "
		                   "%zu bytes", label, data, len - data, (unsigned long long)count,
		                   item);
	if (h.ndim > 2)
		return nnp_err_set(err, NNP_EINPUT, "%s: a %zu-D array: weights are 2-D and biases "
		                   "1-D", label, h.ndim);
	t->data = malloc((count ? count : 1) * sizeof(float));
	t->name = strdup(name);
	if (!t->data || !t->name) {
		free(t->data);
		free(t->name);
		memset(t, 0, sizeof *t);
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	}
	t->ndim = h.ndim;
	memcpy(t->shape, h.shape, sizeof h.shape);
	t->count = count;
	size_t rows = h.ndim == 2 ? (size_t)h.shape[0] : 1, cols = h.ndim == 2 ? (size_t)h.shape[1]
	                                                                      : (size_t)count;
	const unsigned char *d = buf + data;
	for (uint64_t k = 0; k < count; k++) {
		const unsigned char *q = d + k * item;
		float v;
		if (f64) {
			uint64_t u = 0;
			for (int b = 7; b >= 0; b--)
				u = u << 8 | q[b];
			double x;
			memcpy(&x, &u, 8);
			v = (float)x;
		} else {
			uint32_t u = big ? (uint32_t)q[3] | (uint32_t)q[2] << 8 | (uint32_t)q[1] << 16 |
			                   (uint32_t)q[0] << 24
			                 : (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
			                   (uint32_t)q[3] << 24;
			memcpy(&v, &u, 4);
		}
		if (!isfinite(v)) {
			free(t->data);
			free(t->name);
			memset(t, 0, sizeof *t);
			return nnp_err_set(err, NNP_EINPUT, "%s: element %llu is not a finite float32",
			                   label, (unsigned long long)k);
		}
		/* Fortran order: element k is [k % rows][k / rows]. */
		size_t dst = h.fortran && h.ndim == 2 ? (size_t)(k % rows) * cols + (size_t)(k / rows)
		                                      : (size_t)k;
		t->data[dst] = v;
	}
	return NNP_OK;
}

int nnpm_npy_read(nnp_model **out, const unsigned char *buf, size_t len, const char *label,
                  const nnp_import_opts *o, int *assumed, nnp_err *err)
{
	nnpm_tensor *t = calloc(1, sizeof *t);
	if (!t)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	int rc = nnpm_npy_parse(buf, len, "weight", t, label, err);
	if (!rc)
		rc = nnpm_model_from_tensors(out, t, 1, NULL, o, assumed, label, err);
	nnpm_tensors_free(t, 1);
	return rc;
}

/* ---- .npz ---- */

static int zip_fail(const nnp_zip_api *lz, const char *label, zip_error_t *ze, nnp_err *err)
{
	return nnp_err_set(err, NNP_EINPUT, "%s: not a valid zip archive: %s", label,
	                   lz->error_strerror(ze));
}

int nnpm_npz_read(nnp_model **out, const unsigned char *buf, size_t len, const char *label,
                  const nnp_import_opts *o, int *assumed, nnp_err *err)
{
	*out = NULL;
	const nnp_zip_api *lz;
	int lrc = nnp_zip_api_get(&lz, label, NNP_EINPUT, err);
	if (lrc)
		return lrc;
	zip_error_t ze;
	lz->error_init(&ze);
	zip_source_t *src = lz->source_buffer_create(buf, len, 0, &ze);
	zip_t *za = src ? lz->open_from_source(src, ZIP_CHECKCONS | ZIP_RDONLY, &ze) : NULL;
	if (!za) {
		int rc = zip_fail(lz, label, &ze, err);
		lz->source_free(src);
		lz->error_fini(&ze);
		return rc;
	}
	zip_int64_t n = lz->get_num_entries(za, 0);
	nnpm_tensor *t = NULL;
	unsigned char *mem = NULL;
	size_t k = 0;
	int rc = NNP_OK;
	char place[512];
	if (n < 1 || n > (zip_int64_t)NPZ_MAX_MEMBERS)
		rc = nnp_err_set(err, NNP_EINPUT, "%s: %lld members (1 to %u allowed)", label,
		                 (long long)n, NPZ_MAX_MEMBERS);
	else if (!(t = calloc((size_t)n, sizeof *t)))
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	for (zip_int64_t i = 0; i < n && !rc; i++) {
		zip_stat_t st;
		lz->stat_init(&st);
		if (lz->stat_index(za, (zip_uint64_t)i, 0, &st) != 0 || !st.name) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: member %lld: unreadable entry", label,
			                 (long long)i);
			break;
		}
		size_t nl = strlen(st.name);
		snprintf(place, sizeof place, "%s: %.200s", label, st.name);
		if (nl < 5 || strcmp(st.name + nl - 4, ".npy")) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: not a .npy member", place);
			break;
		}
		if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: encrypted", place);
			break;
		}
		if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method != ZIP_CM_STORE &&
		    st.comp_method != ZIP_CM_DEFLATE) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: compression method %d (stored and deflated "
			                 "are read)", place, (int)st.comp_method);
			break;
		}
		if (st.size > NPZ_MAX_MEMBER || st.size > SIZE_MAX ||
		    (st.comp_method == ZIP_CM_STORE && st.size != st.comp_size) ||
		    st.size / 1032 > st.comp_size) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: uncompressed size %llu does not fit its "
			                 "compressed size %llu", place, (unsigned long long)st.size,
			                 (unsigned long long)st.comp_size);
			break;
		}
		for (size_t j = 0; j < k; j++)
			if (strlen(t[j].name) == nl - 4 && !strncmp(t[j].name, st.name, nl - 4))
				rc = nnp_err_set(err, NNP_EINPUT, "%s: appears twice", place);
		if (rc)
			break;
		mem = malloc(st.size ? (size_t)st.size : 1);
		zip_file_t *zf = mem ? lz->fopen_index(za, (zip_uint64_t)i, 0) : NULL;
		zip_int64_t got = zf ? lz->fread(zf, mem, st.size) : -1;
		char extra;
		/* libzip checks the CRC at the end of the member. */
		zip_int64_t more = zf && got == (zip_int64_t)st.size ? lz->fread(zf, &extra, 1) : -1;
		if (zf)
			lz->fclose(zf);
		if (!mem) {
			rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
			break;
		}
		if (got != (zip_int64_t)st.size || more != 0) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: corrupt member (bad data or CRC)", place);
			break;
		}
		char *name = strndup(st.name, nl - 4);
		if (!name) {
			rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
			break;
		}
		rc = nnpm_npy_parse(mem, (size_t)st.size, name, &t[k], place, err);
		free(name);
		free(mem);
		mem = NULL;
		if (!rc)
			k++;
	}
	free(mem);
	lz->discard(za);
	lz->error_fini(&ze);
	if (!rc)
		rc = nnpm_model_from_tensors(out, t, k, NULL, o, assumed, label, err);
	nnpm_tensors_free(t, k);
	return rc;
}

/* ---- writing ---- */

void nnpm_npy_put(nnpm_sink *s, const float *v, size_t rows, size_t cols, int two_d)
{
	char hdr[128];
	int n = two_d ? snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, "
	                         "'shape': (%zu, %zu), }", rows, cols)
	              : snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, "
	                         "'shape': (%zu,), }", cols);
	size_t total = 10 + (size_t)n + 1, pad = (64 - total % 64) % 64;
	size_t hl = (size_t)n + pad + 1;
	unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hl,
		                  (unsigned char)(hl >> 8) };
	nnpm_sink_put(s, pre, 10);
	nnpm_sink_put(s, hdr, (size_t)n);
	for (size_t i = 0; i < pad; i++)
		nnpm_sink_put(s, " ", 1);
	nnpm_sink_put(s, "\n", 1);
	for (size_t i = 0; i < rows * cols; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		unsigned char b[4] = { (unsigned char)u, (unsigned char)(u >> 8),
			               (unsigned char)(u >> 16), (unsigned char)(u >> 24) };
		nnpm_sink_put(s, b, 4);
	}
}

int nnpm_npz_write(nnpm_sink *s, const nnp_model *m, const nnp_export_opts *o, nnp_err *err)
{
	(void)o;
	const nnp_zip_api *lz;
	int lrc = nnp_zip_api_get(&lz, "npz", NNP_EOUTPUT, err);
	if (lrc)
		return lrc;
	zip_error_t ze;
	lz->error_init(&ze);
	zip_source_t *out = lz->source_buffer_create(NULL, 0, 0, &ze);
	zip_t *za = NULL;
	int rc = NNP_OK;
	if (out) {
		lz->source_keep(out);
		za = lz->open_from_source(out, ZIP_TRUNCATE, &ze);
	}
	if (!za) {
		rc = nnp_err_set(err, NNP_ENOMEM, "npz: cannot create the archive: %s",
		                 lz->error_strerror(&ze));
		goto done;
	}
	for (size_t l = 0; l < m->n_layers && !rc; l++) {
		for (int part = 0; part < 2 && !rc; part++) {
			const nnp_layer *L = &m->layers[l];
			nnpm_sink a;
			memset(&a, 0, sizeof a);
			if (part == 0)
				nnpm_npy_put(&a, L->w, L->out, L->in, 1);
			else
				nnpm_npy_put(&a, L->b, 1, L->out, 0);
			char name[48];
			snprintf(name, sizeof name, "%zu.%s.npy", 2 * l, part ? "bias" : "weight");
			zip_source_t *zm = a.failed ? NULL : lz->source_buffer(za, a.mem.p, a.len, 1);
			zip_int64_t idx = zm ? lz->file_add(za, name, zm, ZIP_FL_ENC_UTF_8) : -1;
			if (zm && idx < 0)
				lz->source_free(zm);
			if (!zm)
				free(a.mem.p);
			/* A fixed date (1980-01-01, the zip epoch): the same model gives the
			 * same bytes, whenever it is written. */
			if (idx < 0 || lz->set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) ||
			    lz->file_set_mtime(za, (zip_uint64_t)idx, NPZ_MTIME, 0))
				rc = nnp_err_set(err, NNP_ENOMEM, "npz: cannot add %s", name);
		}
	}
	if (!rc && lz->close(za) != 0)
		rc = nnp_err_set(err, NNP_ENOMEM, "npz: cannot write the archive: %s",
		                 lz->strerror(za));
	else if (!rc)
		za = NULL;
	if (!rc) {
		zip_stat_t st;
		unsigned char chunk[65536];
		if (lz->source_stat(out, &st) != 0 || lz->source_open(out) != 0) {
			rc = nnp_err_set(err, NNP_ENOMEM, "npz: cannot read the archive back");
		} else {
			zip_int64_t got;
			while ((got = lz->source_read(out, chunk, sizeof chunk)) > 0)
				nnpm_sink_put(s, chunk, (size_t)got);
			lz->source_close(out);
		}
	}
done:
	if (za)
		lz->discard(za);
	lz->source_free(out);
	lz->error_fini(&ze);
	return rc;
}

/* ---- vectors of preprocessing values ---- */

#define VEC_MAX_BYTES ((size_t)64 << 20)

static int text_vector(const unsigned char *buf, size_t len, float **out, size_t *n,
                       const char *path, nnp_err *err)
{
	size_t cap = len / 2 + 1, k = 0, line = 1;
	float *v = malloc(cap * sizeof *v);
	char *text = malloc(len + 1);
	int rc = NNP_OK;
	if (!v || !text) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	memcpy(text, buf, len);
	text[len] = '\0';
	char *p = text;
	while (*p && !rc) {
		if (*p == '\n')
			line++;
		if (*p == ',' || isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		char *end;
		double d = strtod(p, &end);
		if (end == p || !isfinite(d) || fabs(d) > 3.4e38 ||
		    (*end && *end != ',' && !isspace((unsigned char)*end))) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s:%zu: value %zu is not a finite number",
			                 path, line, k + 1);
			break;
		}
		if (k < cap)
			v[k++] = (float)d;
		p = end;
	}
	if (!rc && k == 0)
		rc = nnp_err_set(err, NNP_EINPUT, "%s: no numbers in the file", path);
done:
	free(text);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return NNP_OK;
}

int nnp_read_vector(const char *path, float **out, size_t *n, nnp_err *err)
{
	*out = NULL;
	*n = 0;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot open", path);
	unsigned char *buf = malloc(VEC_MAX_BYTES + 1);
	size_t len = buf ? fread(buf, 1, VEC_MAX_BYTES + 1, fp) : 0;
	int bad = ferror(fp);
	fclose(fp);
	int rc;
	if (!buf)
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	else if (bad || len > VEC_MAX_BYTES)
		rc = nnp_err_set(err, NNP_EINPUT, "%s: unreadable or over %zu bytes", path,
		                 VEC_MAX_BYTES);
	else if (nnpm_npy_detect(buf, len)) {
		nnpm_tensor t;
		rc = nnpm_npy_parse(buf, len, "vector", &t, path, err);
		if (!rc) {
			*out = t.data;
			*n = (size_t)t.count;
			free(t.name);
			if (!t.count) {
				free(t.data);
				*out = NULL;
				rc = nnp_err_set(err, NNP_EINPUT, "%s: the array is empty", path);
			}
		}
	} else {
		rc = text_vector(buf, len, out, n, path, err);
	}
	free(buf);
	return rc;
}
