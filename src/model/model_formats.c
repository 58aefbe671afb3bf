/*
 * The format table: one row per file format (name, extensions, content
 * detection, reader, writer). Loading tries the rows' detectors on the first
 * bytes (ONNX, whose protobuf has no magic, by its extension); saving looks the
 * format up by name or extension. A new format is a new row and its file.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#include "nnprune/io.h"
#include "model_priv.h"

static int detect_none(const unsigned char *head, size_t n)
{
	(void)head;
	(void)n;
	return 0;
}

static const nnpm_format_row rows[] = {
	{ NNP_FMT_JSON, "json", ".json", "nnprune JSON model", detect_none, NULL, NULL },
	{ NNP_FMT_BIN, "bin", ".bin .nnp", "nnprune binary model", detect_none, NULL, NULL },
	{ NNP_FMT_SAFETENSORS, "safetensors", ".safetensors", "safetensors file",
	  nnpm_safetensors_detect, nnpm_safetensors_read, nnpm_safetensors_write },
	{ NNP_FMT_NPZ, "npz", ".npz", "NumPy .npz archive", nnpm_npz_detect, nnpm_npz_read,
	  nnpm_npz_write },
	{ NNP_FMT_NPY, "npy", ".npy", "NumPy .npy array", nnpm_npy_detect, nnpm_npy_read, NULL },
	{ NNP_FMT_ONNX, "onnx", ".onnx", "ONNX model", detect_none, nnpm_onnx_read,
	  nnpm_onnx_write },
	{ NNP_FMT_C, "h", ".h", "C header", detect_none, NULL, nnpm_c_write },
};
#define N_ROWS (sizeof rows / sizeof rows[0])

const nnpm_format_row *nnpm_format_find(nnp_format f)
{
	for (size_t i = 0; i < N_ROWS; i++)
		if (rows[i].fmt == f)
			return &rows[i];
	return NULL;
}

const char *nnp_format_name(nnp_format f)
{
	const nnpm_format_row *r = nnpm_format_find(f);
	return r ? r->name : NULL;
}

nnp_format nnp_format_parse(const char *name)
{
	for (size_t i = 0; name && i < N_ROWS; i++)
		if (!strcmp(name, rows[i].name) || (rows[i].fmt == NNP_FMT_C && !strcmp(name, "c")))
			return rows[i].fmt;
	return 0;
}

nnp_format nnp_format_of_path(const char *path)
{
	const char *dot = path ? strrchr(path, '.') : NULL;
	const char *slash = path ? strrchr(path, '/') : NULL;
	if (!dot || (slash && dot < slash))
		return 0;
	size_t n = strlen(dot);
	for (size_t i = 0; i < N_ROWS; i++) {
		const char *e = rows[i].exts;
		while (*e) {
			size_t k = strcspn(e, " ");
			if (k == n && !strncasecmp(e, dot, n))
				return rows[i].fmt;
			e += k;
			while (*e == ' ')
				e++;
		}
	}
	return 0;
}

int nnp_format_writable(nnp_format f)
{
	const nnpm_format_row *r = nnpm_format_find(f);
	return r && (r->write || f == NNP_FMT_JSON || f == NNP_FMT_BIN);
}

const char *nnp_format_list_writable(void)
{
	/* Built from the table once; every row fits ("json, bin, ..." < 96 bytes). */
	static char list[128];
	if (!list[0]) {
		size_t n = 0;
		for (size_t i = 0; i < N_ROWS; i++)
			if (nnp_format_writable(rows[i].fmt))
				n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "",
				                      rows[i].name);
	}
	return list;
}

/* ---- metadata as strings (safetensors' __metadata__) ---- */

static char *print_free(cJSON *j)
{
	char *t = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	return t;
}

void nnpm_meta_strings(const nnp_model *m, void (*put)(void *ctx, const char *key,
                       const char *json), void *ctx)
{
	cJSON *a = cJSON_CreateArray(), *sl = cJSON_CreateArray();
	int leaky = 0;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		const char *n = l + 1 == m->n_layers && m->logits ? "logits" : nnp_act_name(L->act);
		cJSON_AddItemToArray(a, cJSON_CreateString(n));
		cJSON_AddItemToArray(sl, cJSON_CreateNumber((double)L->alpha));
		leaky |= L->act == NNP_ACT_LEAKY_RELU;
	}
	char *t = print_free(a);
	put(ctx, "format", "\"nnprune\"");
	if (t)
		put(ctx, "activations", t);
	cJSON_free(t);
	t = leaky ? print_free(sl) : (cJSON_Delete(sl), NULL);
	if (t)
		put(ctx, "leaky_slope", t);
	cJSON_free(t);
	/* The rest as the JSON format's metadata object prints it. */
	nnpm_sink s;
	memset(&s, 0, sizeof s);
	nnpm_meta_print(&s, m, 0, "");
	nnpm_sink_put(&s, "", 1);
	cJSON *meta = s.failed || !s.mem.p ? NULL : cJSON_Parse((const char *)s.mem.p);
	free(s.mem.p);
	for (const cJSON *c = meta ? meta->child : NULL; c; c = c->next) {
		if (!strcmp(c->string, "output"))
			continue;  /* in the activations as "logits" */
		t = cJSON_PrintUnformatted(c);
		if (t)
			put(ctx, c->string, t);
		cJSON_free(t);
	}
	cJSON_Delete(meta);
}

int nnpm_meta_strings_acts(const cJSON *meta, nnpm_acts *acts, const char *label,
                           nnp_err *err)
{
	memset(acts, 0, sizeof *acts);
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(meta, "activations");
	if (!cJSON_IsString(a))
		return NNP_OK;
	cJSON *j = cJSON_Parse(a->valuestring);
	const cJSON *sl = cJSON_GetObjectItemCaseSensitive(meta, "leaky_slope");
	cJSON *sj = cJSON_IsString(sl) ? cJSON_Parse(sl->valuestring) : NULL;
	int rc = NNP_OK;
	size_t n = 0;
	if (!cJSON_IsArray(j))
		rc = -1;
	for (const cJSON *c = j ? j->child : NULL; c && !rc; c = c->next, n++) {
		int lg = 0;
		if (n >= NNPM_MAX_ACTS || !cJSON_IsString(c)) {
			rc = -1;
			break;
		}
		if (!strcmp(c->valuestring, "logits")) {
			acts->act[n] = NNP_ACT_LINEAR;
			lg = 1;
		} else if (nnp_act_parse(c->valuestring, &acts->act[n])) {
			rc = -1;
			break;
		}
		acts->logits = lg;
		acts->alpha[n] = acts->act[n] == NNP_ACT_LEAKY_RELU ? NNP_LEAKY_DEFAULT_ALPHA : 0.0f;
		const cJSON *s = cJSON_GetArrayItem(sj, (int)n);
		if (acts->act[n] == NNP_ACT_LEAKY_RELU && cJSON_IsNumber(s))
			acts->alpha[n] = (float)s->valuedouble;
	}
	cJSON_Delete(j);
	cJSON_Delete(sj);
	if (rc)
		return nnp_err_set(err, NNP_EINPUT, "%s: __metadata__: \"activations\" must be a JSON "
		                   "list of activation names", label);
	acts->n = n;
	acts->given = 1;
	return NNP_OK;
}

int nnpm_meta_strings_apply(nnp_model *m, const cJSON *meta, const char *label, nnp_err *err)
{
	static const char *const keys[] = { "name", "classes", "provenance", "preprocessing" };
	cJSON *obj = cJSON_CreateObject();
	int rc = obj ? NNP_OK : nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	for (size_t i = 0; i < sizeof keys / sizeof *keys && !rc; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, keys[i]);
		if (!cJSON_IsString(v))
			continue;
		cJSON *p = cJSON_Parse(v->valuestring);
		if (!p)  /* someone else's plain string: a name we keep, the rest we ignore */
			p = i == 0 ? cJSON_CreateString(v->valuestring) : NULL;
		if (p)
			cJSON_AddItemToObject(obj, keys[i], p);
	}
	if (!rc && m->logits)
		cJSON_AddStringToObject(obj, "output", "logits");
	if (!rc)
		rc = nnpm_meta_from_cjson(m, obj, label, "__metadata__: ", err);
	cJSON_Delete(obj);
	return rc;
}

/* ---- loading ---- */

/* Whole weights files are read into memory; this caps what we accept. */
#define NNPM_MAX_WEIGHTS_FILE ((uint64_t)8 << 30)

static int read_all(const char *path, unsigned char **buf, size_t *len, nnp_err *err)
{
	struct stat st;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
	int rc = NNP_OK;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode))
		rc = nnp_err_set(err, NNP_EINPUT, "%s: not a regular file", path);
	else if ((uint64_t)st.st_size > NNPM_MAX_WEIGHTS_FILE || (uint64_t)st.st_size > SIZE_MAX)
		rc = nnp_err_set(err, NNP_EINPUT, "%s: %llu bytes, over the limit for a weights file",
		                 path, (unsigned long long)st.st_size);
	else if (!(*buf = malloc(st.st_size ? (size_t)st.st_size : 1)))
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	else if (fread(*buf, 1, (size_t)st.st_size, fp) != (size_t)st.st_size ||
	         fgetc(fp) != EOF)
		rc = nnp_err_set(err, NNP_EINPUT, "%s: the file changed while being read", path);
	if (rc && *buf) {
		free(*buf);
		*buf = NULL;
	}
	*len = rc ? 0 : (size_t)st.st_size;
	fclose(fp);
	return rc;
}

/* How many first bytes decide a format, for bytes and files alike. */
#define NNPM_SNIFF 64

/* The interchange format of bytes, from the first n (content) or else the
 * name's extension: a weights file's extension still says what it claims to
 * be (ONNX has no magic; a damaged header has none left), so its own reader
 * explains what is wrong. */
static const nnpm_format_row *row_for(const unsigned char *head, size_t n, const char *name)
{
	for (size_t i = 0; i < N_ROWS; i++)
		if (rows[i].read && rows[i].detect(head, n))
			return &rows[i];
	const nnpm_format_row *r = nnpm_format_find(nnp_format_of_path(name));
	return r && r->read ? r : NULL;
}

/* A weights file that does not say its activations, read by a caller that
 * takes no import options. */
static int acts_not_said(const char *path, nnp_err *err)
{
	return nnp_err_set(err, NNP_EINPUT, "%s: the file does not say its activations: give "
	                   "them (nnprune eval/info/convert --activations relu,...,logits), or "
	                   "convert it once: nnprune convert %s model.bin --activations ...",
	                   path, path);
}

/* The interchange format of a file, from its first bytes or else its name. */
static const nnpm_format_row *foreign_format(const char *path)
{
	unsigned char head[NNPM_SNIFF];
	size_t n = 0;
	struct stat st;
	/* Only a regular file is looked into: the first bytes of a pipe, once
	 * read here, would be gone for the loader that reads it next. */
	FILE *fp = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? fopen(path, "rb") : NULL;
	if (fp) {
		n = fread(head, 1, sizeof head, fp);
		fclose(fp);
	}
	return row_for(head, n, path);
}

int nnpm_load_foreign_bytes(nnp_model **out, const unsigned char *buf, size_t len,
                            const char *label, nnp_format *fmt, nnp_err *err)
{
	*out = NULL;
	/* The same first bytes as a file's: memory and file give one verdict. */
	const nnpm_format_row *row = row_for(buf, len < NNPM_SNIFF ? len : NNPM_SNIFF, label);
	if (!row)
		return NNP_OK;
	nnp_model *m = NULL;
	int assumed = 0;
	int rc = row->read(&m, buf, len, label, NULL, &assumed, err);
	if (!rc)
		rc = nnpm_check(m, label, NNP_EINPUT, err);
	if (!rc && assumed)
		rc = acts_not_said(label, err);
	if (rc) {
		nnp_model_free(m);
		return rc;
	}
	*fmt = row->fmt;
	*out = m;
	return NNP_OK;
}

int nnpm_load_foreign(nnp_model **out, const char *path, nnp_file_info *fi, nnp_err *err)
{
	*out = NULL;
	const nnpm_format_row *row = foreign_format(path);
	if (!row)
		return NNP_OK;
	nnp_model *m = NULL;
	nnp_file_info local;
	int rc = nnp_model_load_opts(&m, path, NULL, &local, err);
	if (!rc && local.acts_assumed) {
		nnp_model_free(m);
		return acts_not_said(path, err);
	}
	if (rc)
		return rc;
	*fi = local;
	*out = m;
	return NNP_OK;
}

static int apply_opts(nnp_model *m, const nnp_import_opts *o, const char *path, nnp_err *err)
{
	if (!o)
		return NNP_OK;
	if (o->input_offset || o->input_scale) {
		const nnp_layer *L = &m->layers[0];
		size_t n = m->input_size;
		float *keep_o = NULL, *keep_s = NULL;
		/* An option replaces that half of the file's preprocessing only. */
		const float *off = o->input_offset ? o->input_offset : L->pre_offset;
		size_t n_off = o->input_offset ? o->n_input_offset : L->pre_offset ? n : 0;
		const float *sc = o->input_scale ? o->input_scale : L->pre_scale;
		size_t n_sc = o->input_scale ? o->n_input_scale : L->pre_scale ? n : 0;
		if ((off == L->pre_offset && off && !(keep_o = malloc(n * sizeof *keep_o))) ||
		    (sc == L->pre_scale && sc && !(keep_s = malloc(n * sizeof *keep_s)))) {
			free(keep_o);
			return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
		}
		if (keep_o) {
			memcpy(keep_o, off, n * sizeof *keep_o);
			off = keep_o;
		}
		if (keep_s) {
			memcpy(keep_s, sc, n * sizeof *keep_s);
			sc = keep_s;
		}
		int rc = nnp_model_set_prep(m, off, n_off, sc, n_sc, err);
		free(keep_o);
		free(keep_s);
		if (rc)
			return nnp_err_set(err, NNP_EUSAGE, "%s: %s", path, err ? err->msg : "");
	}
	if (o->int8)
		nnp_model_quantize_int8(m);
	return NNP_OK;
}

int nnp_model_load_opts(nnp_model **out, const char *path, const nnp_import_opts *o,
                        nnp_file_info *info, nnp_err *err)
{
	nnp_model *m = NULL;
	nnp_file_info fi;
	memset(&fi, 0, sizeof fi);
	*out = NULL;
	const nnpm_format_row *row = foreign_format(path);
	int rc;
	if (!row) {
		rc = nnp_model_load(&m, path, &fi, err);
		/* Options about activations or layout mean nothing for our own files. */
		if (!rc && o && (o->activations || o->hidden || o->output ||
		                 o->layout != NNP_LAYOUT_AUTO)) {
			rc = nnp_err_set(err, NNP_EUSAGE, "%s: an nnprune model carries its activations "
			                 "and layout: --activations, --hidden, --output and --layout are "
			                 "for weights files", path);
		}
	} else {
		unsigned char *buf = NULL;
		size_t len = 0;
		rc = read_all(path, &buf, &len, err);
		if (!rc)
			rc = row->read(&m, buf, len, path, o, &fi.acts_assumed, err);
		if (!rc)
			rc = nnpm_check(m, path, NNP_EINPUT, err);
		fi.format = row->fmt;
		fi.bytes = len;
		fi.crc32 = buf ? (uint32_t)nnpm_crc(crc32(0L, Z_NULL, 0), buf, len) : 0;
		free(buf);
	}
	if (!rc)
		rc = apply_opts(m, o, path, err);
	if (rc) {
		nnp_model_free(m);
		return rc;
	}
	if (info)
		*info = fi;
	*out = m;
	return NNP_OK;
}

/* ---- int8 ---- */

void nnp_model_quantize_int8(nnp_model *m)
{
	for (size_t l = 0; l < m->n_layers; l++) {
		nnp_layer *L = &m->layers[l];
		for (size_t o = 0; o < L->out; o++) {
			float *w = L->w + o * L->in, mx = 0.0f;
			for (size_t i = 0; i < L->in; i++)
				mx = fabsf(w[i]) > mx ? fabsf(w[i]) : mx;
			float s = mx / 127.0f;
			for (size_t i = 0; i < L->in; i++)
				w[i] = s > 0.0f ? (float)lrintf(w[i] / s) * s : 0.0f;
		}
	}
}

/* ---- saving ---- */

int nnp_model_save_opts(const nnp_model *m, const char *path, nnp_format fmt,
                        const nnp_export_opts *o, nnp_err *err)
{
	if (fmt == NNP_FMT_JSON || fmt == NNP_FMT_BIN)
		return nnp_model_save(m, path, fmt, err);
	const nnpm_format_row *row = nnpm_format_find(fmt);
	if (!row || !row->write)
		return nnp_err_set(err, NNP_EUSAGE, "%s: cannot write the %s format (writable: %s)",
		                   path, row ? row->name : "unknown", nnp_format_list_writable());
	int rc = nnpm_check(m, path, NNP_EOUTPUT, err);
	if (rc)
		return rc;
	/* Measure first: a model the format cannot hold fails before any file exists. */
	nnpm_sink s;
	memset(&s, 0, sizeof s);
	s.count_only = 1;
	if ((rc = row->write(&s, m, o, err)) != 0)
		return rc;
	nnp_atomic a;
	if ((rc = nnp_atomic_open(&a, path, err)) != 0)
		return rc;
	memset(&s, 0, sizeof s);
	s.fp = a.fp;
	rc = row->write(&s, m, o, err);
	if (rc || s.failed) {
		if (!rc)
			rc = nnp_err_set(err, s.failed, "%s: write failed: %s", path,
			                 s.failed == NNP_ENOMEM ? "out of memory" : strerror(s.err_no));
		nnp_atomic_abort(&a);
		return rc;
	}
	return nnp_atomic_commit(&a, err);
}
