/* The model in memory: creation, copies, metadata, invariants, and the entry
 * points that load and save it in either file format. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nnprune/io.h"
#include "nnprune/text.h"
#include "model_priv.h"
#include "mem.h"
#include "names.h"

static const char *const act_names[NNP_ACT_COUNT] = {
	"linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"
};
static const nnp_names act_table = NNP_NAMES(act_names);

NNP_NAMES_FUNCS(nnp_act, nnp_act, act_table)  /* nnp_act_name, nnp_act_parse */


static void free_classes(char **classes, size_t n)
{
	if (!classes)
		return;
	for (size_t i = 0; i < n; i++)
		free(classes[i]);
	free(classes);
}

void nnp_model_free(nnp_model *m)
{
	if (!m)
		return;
	for (size_t l = 0; m->layers && l < m->n_layers; l++) {
		nnp_layer *L = &m->layers[l];
		NNP_FREE_ALL(L->w, L->b, L->pre_offset, L->pre_scale);
	}
	free(m->layers);
	free(m->name);
	free_classes(m->classes, m->n_classes);
	free(m->provenance);
	free(m);
}

int nnpm_alloc(nnp_model **out, size_t input_size, size_t n_layers, const size_t *sizes,
               const nnp_act *acts)
{
	*out = NULL;
	nnp_model *m = calloc(1, sizeof *m);
	if (!m)
		return NNP_ENOMEM;
	m->layers = calloc(n_layers ? n_layers : 1, sizeof *m->layers);
	if (!m->layers) {
		free(m);
		return NNP_ENOMEM;
	}
	m->n_layers = n_layers;
	m->input_size = input_size;
	size_t in = input_size;
	for (size_t l = 0; l < n_layers; l++) {
		nnp_layer *L = &m->layers[l];
		size_t o = sizes[l];
		if (o && in > SIZE_MAX / sizeof(float) / o) {
			nnp_model_free(m);
			return NNP_EUSAGE;
		}
		L->in = in;
		L->out = o;
		L->act = acts[l];
		L->alpha = acts[l] == NNP_ACT_LEAKY_RELU ? NNP_LEAKY_DEFAULT_ALPHA : 0.0f;
		/* calloc(0) may return NULL: ask for at least one element. */
		L->w = nnp_calloc_huge((in * o > 0 ? in * o : 1) * sizeof(float));
		L->b = calloc(o ? o : 1, sizeof(float));
		if (!L->w || !L->b) {
			nnp_model_free(m);
			return NNP_ENOMEM;
		}
		in = o;
	}
	*out = m;
	return NNP_OK;
}

int nnp_model_create(nnp_model **out, size_t input_size, size_t n_layers,
                     const size_t *sizes, const nnp_act *acts, nnp_err *err)
{
	*out = NULL;
	if (n_layers < 1 || n_layers > NNP_MAX_LAYERS)
		return nnp_err_set(err, NNP_EUSAGE, "model: %zu layers (1 to %u allowed)", n_layers,
		                   NNP_MAX_LAYERS);
	if (!sizes || !acts)
		return nnp_err_set(err, NNP_EUSAGE, "model: no layer sizes or activations given");
	if (input_size < 1 || input_size > NNP_MAX_WIDTH)
		return nnp_err_set(err, NNP_EUSAGE, "model: input size %zu is out of range (1 to %u)",
		                   input_size, NNP_MAX_WIDTH);
	/* Widths are at most 2^24 and layers 2^10, so the sum fits in 64 bits. */
	uint64_t params = 0, in = input_size;
	for (size_t l = 0; l < n_layers; l++) {
		if (sizes[l] < 1 || sizes[l] > NNP_MAX_WIDTH)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "model: layer %zu: %zu outputs is out of range (1 to %u)", l,
			                   sizes[l], NNP_MAX_WIDTH);
		if (!nnp_act_name(acts[l]))
			return nnp_err_set(err, NNP_EUSAGE, "model: layer %zu: unknown activation code %d",
			                   l, (int)acts[l]);
		if (acts[l] == NNP_ACT_SOFTMAX && l + 1 != n_layers)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "model: layer %zu: softmax is only allowed on the last layer", l);
		params += in * sizes[l] + sizes[l];
		in = sizes[l];
	}
	if (params > NNP_MAX_PARAMS)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "model: %llu parameters, over the limit of %zu",
		                   (unsigned long long)params, NNP_MAX_PARAMS);
	int rc = nnpm_alloc(out, input_size, n_layers, sizes, acts);
	if (rc)
		return nnp_err_set(err, rc, "model: out of memory for %llu parameters",
		                   (unsigned long long)params);
	return NNP_OK;
}

static int check_shape(const nnp_model *m, const char *label, int status, nnp_err *err);

/* Copies name, classes and provenance as they are (no re-validation). */
static int copy_meta(nnp_model *d, const nnp_model *m)
{
	if (m->name && !(d->name = strdup(m->name)))
		return NNP_ENOMEM;
	if (m->provenance && !(d->provenance = strdup(m->provenance)))
		return NNP_ENOMEM;
	if (m->classes && m->n_classes) {
		d->classes = calloc(m->n_classes, sizeof *d->classes);
		if (!d->classes)
			return NNP_ENOMEM;
		d->n_classes = m->n_classes;
		for (size_t i = 0; i < m->n_classes; i++)
			if (m->classes[i] && !(d->classes[i] = strdup(m->classes[i])))
				return NNP_ENOMEM;
	}
	return NNP_OK;
}

int nnp_model_clone(nnp_model **out, const nnp_model *m, nnp_err *err)
{
	*out = NULL;
	nnp_model *c = NULL;
	size_t *sizes = NULL;
	nnp_act *acts = NULL;
	int rc = m ? check_shape(m, "model", NNP_EUSAGE, err)
	           : nnp_err_set(err, NNP_EUSAGE, "model: no model");
	if (rc)
		return rc;
	sizes = malloc(m->n_layers * sizeof *sizes);
	acts = malloc(m->n_layers * sizeof *acts);
	if (sizes && acts) {
		for (size_t l = 0; l < m->n_layers; l++) {
			sizes[l] = m->layers[l].out;
			acts[l] = m->layers[l].act;
		}
		rc = nnpm_alloc(&c, m->input_size, m->n_layers, sizes, acts);
	} else {
		rc = NNP_ENOMEM;
	}
	if (!rc) {
		for (size_t l = 0; l < m->n_layers; l++) {
			const nnp_layer *S = &m->layers[l];
			nnp_layer *D = &c->layers[l];
			D->alpha = S->alpha;
			memcpy(D->w, S->w, S->in * S->out * sizeof(float));
			memcpy(D->b, S->b, S->out * sizeof(float));
		}
		rc = copy_meta(c, m);
		if (!rc)
			rc = nnpm_copy_prep(c, m);
		c->logits = m->logits;
	}
	free(sizes);
	free(acts);
	if (rc) {
		nnp_model_free(c);
		return nnp_err_set(err, NNP_ENOMEM, "model: out of memory while copying");
	}
	*out = c;
	return NNP_OK;
}

/* The metadata blob must fit the binary format's cap. Undo a setter if not. */
static int meta_fits(const nnp_model *m, nnp_err *err)
{
	size_t n = nnpm_meta_size(m);
	if (n > NNP_MAX_META_BYTES)
		return nnp_err_set(err, NNP_EUSAGE, "model: metadata would take %zu bytes, over the "
		                   "limit of %u", n, NNP_MAX_META_BYTES);
	return NNP_OK;
}

/* *field = p (malloc'd or NULL), the old value freed, if the metadata then
 * still fits; else p freed and *field as it was: NNP_EUSAGE (said). */
static int set_meta_str(nnp_model *m, char **field, char *p, nnp_err *err)
{
	char *old = *field;
	*field = p;
	if (meta_fits(m, err)) {
		*field = old;
		free(p);
		return NNP_EUSAGE;
	}
	free(old);
	return NNP_OK;
}

int nnp_model_set_name(nnp_model *m, const char *name, nnp_err *err)
{
	char *p = NULL;
	if (name) {
		if (!nnpm_utf8_ok(name, strlen(name)))
			return nnp_err_set(err, NNP_EUSAGE, "model: the name is not valid UTF-8");
		p = strdup(name);
		if (!p)
			return nnp_err_set(err, NNP_ENOMEM, "model: out of memory");
	}
	return set_meta_str(m, &m->name, p, err);
}

int nnp_model_set_provenance(nnp_model *m, const char *json_object, nnp_err *err)
{
	char *p = NULL;
	if (json_object) {
		const char *end = NULL;
		size_t n = strlen(json_object), bad;
		cJSON *j = nnp_json_check_ws(json_object, n, &bad)
		           ? NULL : cJSON_ParseWithLengthOpts(json_object, n, &end, 0);
		size_t rest = j ? n - (size_t)(end - json_object) : 0;
		while (rest && strchr(" \t\r\n", end[0])) {
			end++;
			rest--;
		}
		if (!cJSON_IsObject(j) || rest) {
			cJSON_Delete(j);
			return nnp_err_set(err, NNP_EUSAGE, "model: provenance must be a JSON object");
		}
		/* Stored in cJSON's compact form so that every writer emits the same bytes. */
		p = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		if (!p)
			return nnp_err_set(err, NNP_ENOMEM, "model: out of memory");
		if (!nnpm_utf8_ok(p, strlen(p))) {
			cJSON_free(p);
			return nnp_err_set(err, NNP_EUSAGE, "model: provenance is not valid UTF-8");
		}
		/* cJSON's allocator may differ from ours: copy into a malloc'd string. */
		char *q = strdup(p);
		cJSON_free(p);
		p = q;
		if (!p)
			return nnp_err_set(err, NNP_ENOMEM, "model: out of memory");
	}
	return set_meta_str(m, &m->provenance, p, err);
}

int nnp_model_set_classes(nnp_model *m, const char *const *names, size_t n, nnp_err *err)
{
	char **c = NULL;
	if (names && n) {
		size_t outs = nnp_model_outputs(m);
		if (n != outs)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "model: %zu class names for a model with %zu outputs", n, outs);
		for (size_t i = 0; i < n; i++)
			if (!names[i] || !nnpm_utf8_ok(names[i], strlen(names[i])))
				return nnp_err_set(err, NNP_EUSAGE,
				                   "model: class name %zu is missing or not valid UTF-8", i);
		c = calloc(n, sizeof *c);
		if (!c)
			return nnp_err_set(err, NNP_ENOMEM, "model: out of memory");
		for (size_t i = 0; i < n; i++) {
			c[i] = strdup(names[i]);
			if (!c[i]) {
				free_classes(c, n);
				return nnp_err_set(err, NNP_ENOMEM, "model: out of memory");
			}
		}
	} else {
		n = 0;
	}
	char **old = m->classes;
	size_t old_n = m->n_classes;
	m->classes = c;
	m->n_classes = n;
	if (meta_fits(m, err)) {
		m->classes = old;
		m->n_classes = old_n;
		free_classes(c, n);
		return NNP_EUSAGE;
	}
	free_classes(old, old_n);
	return NNP_OK;
}

static const char *nonfinite_name(float v)
{
	return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

/* Sizes, chaining, activations and limits: everything but the values. */
static int check_shape(const nnp_model *m, const char *label, int status, nnp_err *err)
{
	if (m->n_layers < 1 || m->n_layers > NNP_MAX_LAYERS || !m->layers)
		return nnp_err_set(err, status, "%s: the model has %zu layers (1 to %u allowed)", label,
		                   m->n_layers, NNP_MAX_LAYERS);
	if (m->input_size < 1 || m->input_size > NNP_MAX_WIDTH)
		return nnp_err_set(err, status, "%s: input size %zu is out of range (1 to %u)", label,
		                   m->input_size, NNP_MAX_WIDTH);
	uint64_t params = 0;
	size_t prev = m->input_size;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		if (L->in != prev && l == 0)
			return nnp_err_set(err, status, "%s: layer 0: weights have %zu columns but the "
			                   "input size is %zu", label, L->in, prev);
		if (L->in != prev)
			return nnp_err_set(err, status, "%s: layer %zu: weights have %zu columns but "
			                   "layer %zu has %zu outputs", label, l, L->in, l - 1, prev);
		if (L->out < 1 || L->out > NNP_MAX_WIDTH)
			return nnp_err_set(err, status, "%s: layer %zu: %zu outputs is out of range "
			                   "(1 to %u)", label, l, L->out, NNP_MAX_WIDTH);
		if (!nnp_act_name(L->act))
			return nnp_err_set(err, status, "%s: layer %zu: unknown activation code %d",
			                   label, l, (int)L->act);
		if (L->act == NNP_ACT_SOFTMAX && l + 1 != m->n_layers)
			return nnp_err_set(err, status, "%s: layer %zu: softmax is only allowed on the "
			                   "last layer", label, l);
		if (!isfinite(L->alpha))
			return nnp_err_set(err, status, "%s: layer %zu: alpha is %s", label, l,
			                   nonfinite_name(L->alpha));
		if (!L->w || !L->b)
			return nnp_err_set(err, status, "%s: layer %zu: weights or bias missing", label, l);
		if (l > 0 && (L->pre_offset || L->pre_scale))
			return nnp_err_set(err, status, "%s: layer %zu: only layer 0 may carry the input "
			                   "preprocessing", label, l);
		params += (uint64_t)L->in * L->out + L->out;
		prev = L->out;
	}
	if (params > NNP_MAX_PARAMS)
		return nnp_err_set(err, status, "%s: the model has %llu parameters, over the limit "
		                   "of %zu", label, (unsigned long long)params, NNP_MAX_PARAMS);
	return NNP_OK;
}

static int check_values(const nnp_model *m, const char *label, int status, nnp_err *err)
{
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		size_t n = L->in * L->out;
		for (size_t i = 0; i < n; i++)
			if (!isfinite(L->w[i]))
				return nnp_err_set(err, status, "%s: layer %zu: weight[%zu][%zu] is %s",
				                   label, l, i / L->in, i % L->in, nonfinite_name(L->w[i]));
		for (size_t i = 0; i < L->out; i++)
			if (!isfinite(L->b[i]))
				return nnp_err_set(err, status, "%s: layer %zu: bias[%zu] is %s", label, l, i,
				                   nonfinite_name(L->b[i]));
	}
	return NNP_OK;
}

static int check_meta(const nnp_model *m, const char *label, int status, nnp_err *err)
{
	int rc = nnpm_check_io(m, label, status, err);
	if (rc)
		return rc;
	size_t outs = nnp_model_outputs(m);
	if (m->n_classes && (!m->classes || m->n_classes != outs))
		return nnp_err_set(err, status, "%s: metadata: %zu class names but the model has "
		                   "%zu outputs", label, m->n_classes, outs);
	for (size_t i = 0; i < m->n_classes; i++)
		if (!m->classes[i] || !nnpm_utf8_ok(m->classes[i], strlen(m->classes[i])))
			return nnp_err_set(err, status, "%s: metadata: class name %zu is missing or not "
			                   "valid UTF-8", label, i);
	if (m->name && !nnpm_utf8_ok(m->name, strlen(m->name)))
		return nnp_err_set(err, status, "%s: metadata: the name is not valid UTF-8", label);
	if (m->provenance) {
		cJSON *j = cJSON_Parse(m->provenance);
		int ok = cJSON_IsObject(j);
		cJSON_Delete(j);
		if (!ok || !nnpm_utf8_ok(m->provenance, strlen(m->provenance)))
			return nnp_err_set(err, status, "%s: metadata: provenance is not a JSON object",
			                   label);
	}
	size_t n = nnpm_meta_size(m);
	if (n > NNP_MAX_META_BYTES)
		return nnp_err_set(err, status, "%s: metadata takes %zu bytes, over the limit of %u",
		                   label, n, NNP_MAX_META_BYTES);
	return NNP_OK;
}

int nnpm_check(const nnp_model *m, const char *label, int status, nnp_err *err)
{
	if (!label)
		label = "model";
	if (!m)
		return nnp_err_set(err, status, "%s: no model", label);
	int rc = check_shape(m, label, status, err);
	if (!rc)
		rc = check_values(m, label, status, err);
	if (!rc)
		rc = check_meta(m, label, status, err);
	return rc;
}

int nnp_model_validate(const nnp_model *m, const char *label, nnp_err *err)
{
	return nnpm_check(m, label, NNP_EINPUT, err);
}

size_t nnp_model_params(const nnp_model *m)
{
	size_t n = 0;
	for (size_t l = 0; l < m->n_layers; l++)
		n += m->layers[l].in * m->layers[l].out + m->layers[l].out;
	return n;
}

size_t nnp_model_macs(const nnp_model *m)
{
	size_t n = 0;
	for (size_t l = 0; l < m->n_layers; l++)
		n += m->layers[l].in * m->layers[l].out;
	return n;
}

size_t nnp_model_outputs(const nnp_model *m)
{
	return m->n_layers ? m->layers[m->n_layers - 1].out : 0;
}

size_t nnp_model_max_width(const nnp_model *m)
{
	size_t w = m->input_size;
	for (size_t l = 0; l < m->n_layers; l++)
		if (m->layers[l].out > w)
			w = m->layers[l].out;
	return w;
}

/* ---- output sink ---- */

unsigned long nnpm_crc(unsigned long crc, const void *p, size_t n)
{
	const unsigned char *q = p;
	/* zlib's crc32 takes an unsigned int length: feed big blocks in pieces. */
	while (n) {
		size_t k = n > (1u << 30) ? (1u << 30) : n;
		crc = crc32(crc, q, (uInt)k);
		q += k;
		n -= k;
	}
	return crc;
}

int nnpm_hand_over(nnp_model *m, int rc, nnp_model **out)
{
	if (rc) {
		nnp_model_free(m);
		return rc;
	}
	*out = m;
	return NNP_OK;
}

void nnpm_sink_put(nnpm_sink *s, const void *p, size_t n)
{
	if (s->failed || n == 0)
		return;
	if (s->crc_on)
		s->crc = nnpm_crc(s->crc, p, n);
	if (s->count_only) {
		s->len += n;
		return;
	}
	if (s->fp) {
		if (fwrite(p, 1, n, s->fp) != n) {
			s->failed = NNP_EOUTPUT;
			s->err_no = errno;
			return;
		}
		s->len += n;
		return;
	}
	nnp_tb_putn(&s->mem, p, n);
	if (s->mem.oom) {
		s->failed = NNP_ENOMEM;
		return;
	}
	s->len += n;
}

void nnpm_sink_puts(nnpm_sink *s, const char *str)
{
	nnpm_sink_put(s, str, strlen(str));
}

void nnpm_sink_printf(nnpm_sink *s, const char *fmt, ...)
{
	nnp_tbuf t = { 0 };
	va_list ap;
	va_start(ap, fmt);
	nnp_tb_vprintf(&t, fmt, ap);
	va_end(ap);
	if (t.oom) {
		if (!s->failed)
			s->failed = NNP_ENOMEM;
	} else {
		nnpm_sink_put(s, t.p, t.len);
	}
	nnp_tb_free(&t);
}

void nnpm_sink_json_string(nnpm_sink *s, const char *str)
{
	const char *run = str;
	nnpm_sink_put(s, "\"", 1);
	for (const char *p = str; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		nnpm_sink_put(s, run, (size_t)(p - run));
		run = p + 1;
		char esc[8];
		switch (c) {
		case '"': nnpm_sink_puts(s, "\\\""); break;
		case '\\': nnpm_sink_puts(s, "\\\\"); break;
		case '\n': nnpm_sink_puts(s, "\\n"); break;
		case '\r': nnpm_sink_puts(s, "\\r"); break;
		case '\t': nnpm_sink_puts(s, "\\t"); break;
		case '\b': nnpm_sink_puts(s, "\\b"); break;
		case '\f': nnpm_sink_puts(s, "\\f"); break;
		default:
			snprintf(esc, sizeof esc, "\\u%04x", c);
			nnpm_sink_puts(s, esc);
		}
	}
	nnpm_sink_puts(s, run);
	nnpm_sink_put(s, "\"", 1);
}

int nnpm_utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		size_t k;
		unsigned min, cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1; min = 0x80; cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2; min = 0x800; cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3; min = 0x10000; cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i - 1 < k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + j] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

int nnpm_has_meta(const nnp_model *m)
{
	return m->name || m->n_classes || m->provenance || nnp_model_has_prep(m) || m->logits;
}

size_t nnpm_meta_size(const nnp_model *m)
{
	nnpm_sink s;
	memset(&s, 0, sizeof s);
	s.count_only = 1;
	nnpm_meta_print(&s, m, 0, "");
	return s.len;
}

/* ---- loading ---- */

enum { SNIFF_BIN, SNIFF_JSON, SNIFF_BLANK, SNIFF_OTHER };

/* The format, from the first bytes: the binary magic's start, or a '{' after
 * an optional UTF-8 BOM and JSON white space. The one place that decides
 * "is this our model", for files, streams and bytes in memory alike. */
static int sniff(const unsigned char *p, size_t n)
{
	if (n > 0 && p[0] == 0x89)
		return memcmp(p, NNPM_BIN_MAGIC, n < 4 ? n : 4) == 0 ? SNIFF_BIN : SNIFF_OTHER;
	size_t i = 0;
	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i == n)
		return SNIFF_BLANK;
	return p[i] == '{' ? SNIFF_JSON : SNIFF_OTHER;
}

static int not_a_model(const char *path, nnp_err *err)
{
	return nnp_err_set(err, NNP_EINPUT, "%s: byte 0: not an nnprune model (neither the binary "
	                   "magic nor a JSON object)", path);
}

int nnp_model_from_bytes(nnp_model **out, const unsigned char *buf, size_t n,
                         const char *label, nnp_format *fmt, nnp_err *err)
{
	nnp_format f;
	*out = NULL;
	if (!label)
		label = "model";
	if (!fmt)
		fmt = &f;
	switch (sniff(buf, n)) {
	case SNIFF_BIN:
		*fmt = NNP_FMT_BIN;
		return nnp_model_from_bin(out, buf, n, label, err);
	case SNIFF_JSON:
		*fmt = NNP_FMT_JSON;
		return nnp_model_from_json(out, (const char *)buf, n, label, err);
	default:
		if (n == 0)
			return nnp_err_set(err, NNP_EINPUT, "%s: byte 0: the file is empty (not an "
			                   "nnprune model)", label);
		/* The interchange formats, as nnp_model_load reads them from a file. */
		int rc = nnpm_load_foreign_bytes(out, buf, n, label, fmt, err);
		return rc || *out ? rc : not_a_model(label, err);
	}
}

/*
 * Reads a pipe or device once, up to NNP_MAX_STREAM_MODEL bytes: the first
 * block decides whether it can be a model at all, so /dev/zero or
 * /dev/urandom are refused after a few bytes; the buffer grows with what
 * really arrives.
 */
static int slurp_stream(FILE *fp, const char *path, unsigned char **buf, size_t *len,
                        nnp_err *err)
{
	size_t n = 0, size = 4096;
	unsigned char *b = malloc(size);
	if (!b)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	for (;;) {
		size_t got = fread(b + n, 1, size - n, fp);
		n += got;
		if (n == size && size == 4096 && sniff(b, n) == SNIFF_OTHER)
			break;  /* refused below, without reading on */
		if (n < size)
			break;
		if (size >= NNP_MAX_STREAM_MODEL) {
			free(b);
			return nnp_err_set(err, NNP_EINPUT, "%s: more than %u bytes from a pipe or "
			                   "device, the limit for a model that is not a regular file",
			                   path, NNP_MAX_STREAM_MODEL);
		}
		unsigned char *nb = realloc(b, size * 2);
		if (!nb) {
			free(b);
			return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
		}
		b = nb;
		size *= 2;
	}
	if (ferror(fp)) {
		free(b);
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %zu: read error", path, n);
	}
	*buf = b;
	*len = n;
	return NNP_OK;
}

/* Reads exactly `size` bytes of a regular file, positioned at 0. */
static int slurp_file(FILE *fp, const char *path, uint64_t size, unsigned char **buf,
                      nnp_err *err)
{
	if (size > NNPM_MAX_JSON_BYTES || size > SIZE_MAX)
		return nnp_err_set(err, NNP_EINPUT, "%s: the file is %llu bytes, over the 4 GiB limit "
		                   "for JSON models (use the binary format)", path,
		                   (unsigned long long)size);
	unsigned char *b = nnp_malloc_huge((size_t)size);
	if (!b)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory for %llu bytes", path,
		                   (unsigned long long)size);
	size_t got = fread(b, 1, (size_t)size, fp);
	if (got != size || fgetc(fp) != EOF) {
		free(b);
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %zu: the file changed while being read",
		                   path, got);
	}
	*buf = b;
	return NNP_OK;
}

/* A pipe or device: no size to check against, so read it (bounded) and parse in memory. */
static int load_stream(nnp_model **m, FILE *fp, const char *path, nnp_file_info *fi,
                       nnp_err *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc = slurp_stream(fp, path, &buf, &len, err);
	if (rc)
		return rc;
	rc = nnp_model_from_bytes(m, buf, len, path, &fi->format, err);
	fi->bytes = len;
	/* For a binary model, the CRC of everything before its own CRC field. */
	size_t covered = (!rc && fi->format == NNP_FMT_BIN) ? len - 4 : len;
	fi->crc32 = (uint32_t)nnpm_crc(crc32(0L, Z_NULL, 0), buf, covered);
	free(buf);
	return rc;
}

/* A regular file: binary models are streamed, JSON ones read whole. */
static int load_regular(nnp_model **m, FILE *fp, uint64_t size, const char *path,
                        nnp_file_info *fi, nnp_err *err)
{
	unsigned char head[4096], *buf = NULL;
	fi->bytes = size;
	if (size == 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 0: the file is empty (not an nnprune "
		                   "model)", path);
	size_t n = fread(head, 1, sizeof head, fp);
	int kind = sniff(head, n);
	if (ferror(fp) || fseek(fp, 0, SEEK_SET) != 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: read error: %s", path, strerror(errno));
	if (kind == SNIFF_BIN) {
		fi->format = NNP_FMT_BIN;
		return nnpm_read_bin_file(m, fp, size, path, &fi->crc32, err);
	}
	/* The interchange formats (safetensors, npz, npy, ONNX), then refuse a
	 * stray CSV or image before reading all of it. */
	if (kind == SNIFF_OTHER || (kind == SNIFF_BLANK && n == size)) {
		int rc = nnpm_load_foreign(m, path, fi, err);
		return rc || *m ? rc : not_a_model(path, err);
	}
	int rc = slurp_file(fp, path, size, &buf, err);
	if (rc)
		return rc;
	rc = nnp_model_from_bytes(m, buf, (size_t)size, path, &fi->format, err);
	fi->crc32 = (uint32_t)nnpm_crc(crc32(0L, Z_NULL, 0), buf, (size_t)size);
	free(buf);
	return rc;
}

int nnp_model_identity(const char *path, nnp_file_info *info, nnp_err *err)
{
	unsigned char head[8], tail[4];
	int fd;
	int rc = nnp_open_regular(path, &fd, NULL, err);
	if (rc)
		return rc;
	FILE *fp = fdopen(fd, "rb");
	if (!fp) {
		close(fd);
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	}
	size_t n = fread(head, 1, sizeof head, fp);
	int bin = n == sizeof head && !memcmp(head, NNPM_BIN_MAGIC, sizeof head);
	if (bin) {
		long size = 0;
		if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 12 ||
		    fseek(fp, size - 4, SEEK_SET) != 0 || fread(tail, 1, 4, fp) != 4)
			rc = nnp_err_set(err, NNP_EINPUT, "%s: read error", path);
		info->format = NNP_FMT_BIN;
		info->bytes = (uint64_t)(size > 0 ? size : 0);
		info->crc32 = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
		              (uint32_t)tail[3] << 24;
	}
	fclose(fp);
	if (bin || rc)
		return rc;
	info->format = NNP_FMT_JSON;
	return nnp_file_identity(path, &info->bytes, &info->crc32, err);
}

int nnp_model_load(nnp_model **out, const char *path, nnp_file_info *info, nnp_err *err)
{
	nnp_model *m = NULL;
	nnp_file_info fi = { NNP_FMT_JSON, 0, 0, 0 };
	struct stat st;
	int rc;
	*out = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fileno(fp), &st) != 0)
		rc = nnp_err_set(err, NNP_EINPUT, "%s: cannot read: %s", path, strerror(errno));
	else if (S_ISDIR(st.st_mode))
		rc = nnp_err_set(err, NNP_EINPUT, "%s: is a directory, not a model file", path);
	else if (S_ISREG(st.st_mode))
		rc = load_regular(&m, fp, (uint64_t)st.st_size, path, &fi, err);
	else
		rc = load_stream(&m, fp, path, &fi, err);
	fclose(fp);
	if (rc) {
		nnp_model_free(m);
		return rc;
	}
	if (info)
		*info = fi;
	*out = m;
	return NNP_OK;
}

/* ---- saving ---- */

static int write_model(nnpm_sink *s, const nnp_model *m, nnp_format fmt)
{
	if (fmt == NNP_FMT_JSON)
		nnpm_write_json(s, m);
	else
		nnpm_write_bin(s, m);
	return s->failed;
}

/* Refuses to write a model that could not be read back. */
static int check_for_output(const nnp_model *m, const char *label, nnp_format fmt,
                            nnp_err *err)
{
	if (fmt != NNP_FMT_JSON && fmt != NNP_FMT_BIN)
		return nnp_err_set(err, NNP_EUSAGE, "%s: unknown model format %d", label, (int)fmt);
	int rc = nnpm_check(m, label, NNP_EOUTPUT, err);
	if (rc && err) {
		char msg[NNP_ERRMSG_MAX];
		memcpy(msg, err->msg, sizeof msg);
		nnp_err_set(err, rc, "%s (not written)", msg);
	}
	return rc;
}

int nnp_model_save(const nnp_model *m, const char *path, nnp_format fmt, nnp_err *err)
{
	int rc = check_for_output(m, path, fmt, err);
	if (rc)
		return rc;
	nnp_atomic a;
	rc = nnp_atomic_open(&a, path, err);
	if (rc)
		return rc;
	nnpm_sink s;
	memset(&s, 0, sizeof s);
	s.fp = a.fp;
	if (write_model(&s, m, fmt)) {
		rc = nnp_err_set(err, s.failed, "%s: write failed: %s", path,
		                 s.failed == NNP_ENOMEM ? "out of memory" : strerror(s.err_no));
		nnp_atomic_abort(&a);
		return rc;
	}
	return nnp_atomic_commit(&a, err);
}

int nnp_model_to_buffer(const nnp_model *m, nnp_format fmt, unsigned char **buf,
                        size_t *len, nnp_err *err)
{
	*buf = NULL;
	*len = 0;
	int rc = check_for_output(m, "model", fmt, err);
	if (rc)
		return rc;
	nnpm_sink s;
	memset(&s, 0, sizeof s);
	/* A NUL after the bytes (not counted) lets callers use JSON as a string. */
	if (write_model(&s, m, fmt) || (nnpm_sink_put(&s, "", 1), s.failed)) {
		free(s.mem.p);
		return nnp_err_set(err, NNP_ENOMEM, "model: out of memory while serialising");
	}
	*buf = (unsigned char *)s.mem.p;
	*len = s.len - 1;
	return NNP_OK;
}
