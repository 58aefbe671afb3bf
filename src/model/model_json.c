/*
 * The JSON model format: read with cJSON, written by our own printer so that
 * floats use "%.9g" (exact float round trip) and the layout is canonical:
 * JSON -> binary -> JSON gives the same bytes.
 *
 * {"format": "nnprune-model", "version": 1, "input_size": N,
 *  "layers": [{"activation": "relu", "alpha": a (leaky_relu only),
 *              "weights": [[in numbers] x out], "bias": [out numbers]}, ...],
 *  "metadata": {"name": "...", "classes": [...], "provenance": {...}}}
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_priv.h"

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
	if (v->valuedouble != 1.0)
		return nnp_err_set(err, NNP_EINPUT, "%s: unsupported version %.9g (this nnprune "
		                   "reads version 1)", label, v->valuedouble);
	return NNP_OK;
}

/* What pass 1 learns about each layer before anything is allocated. */
typedef struct layer_src {
	const cJSON *weights, *bias;
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

/* Shape of "weights" and "bias": out rows of `in` items and out biases. */
static int layer_shape(const cJSON *lj, size_t l, size_t in, layer_src *ls, size_t *out,
                       const char *label, nnp_err *err)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(lj, "weights");
	if (!w)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: missing \"weights\"", label, l);
	if (!cJSON_IsArray(w))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights\" must be an array of "
		                   "rows (found %s)", label, l, nnpm_json_type(w));
	size_t rows = count_items(w);
	if (rows < 1 || rows > NNP_MAX_WIDTH)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights\" has %zu rows (1 to %u "
		                   "allowed)", label, l, rows, NNP_MAX_WIDTH);
	size_t r = 0;
	for (const cJSON *row = w->child; row; row = row->next, r++) {
		if (!cJSON_IsArray(row))
			return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"weights\" row %zu must be "
			                   "an array of %zu numbers (found %s)", label, l, r, in,
			                   nnpm_json_type(row));
		size_t cols = count_items(row);
		if (cols == in)
			continue;
		/* [in][out], as Keras kernels and emlearn arrays are, is the usual way in. */
		const cJSON *bj = cJSON_GetObjectItemCaseSensitive(lj, "bias");
		size_t nbj = cJSON_IsArray(bj) ? count_items(bj) : 0;
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
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(lj, "bias");
	if (!b)
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: missing \"bias\"", label, l);
	if (!cJSON_IsArray(b))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu: \"bias\" must be an array of %zu "
		                   "numbers (found %s)", label, l, rows, nnpm_json_type(b));
	size_t nb = count_items(b);
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
                       size_t *sizes, nnp_act *acts, const char *label, nnp_err *err)
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
			rc = layer_shape(lj, l, in, &ls[l], &sizes[l], label, err);
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

/* Pass 2: the numbers, into the allocated model. */
static int fill_layer(nnp_layer *L, const layer_src *ls, size_t l, const char *label,
                      nnp_err *err)
{
	size_t r = 0;
	L->alpha = ls->alpha;
	for (const cJSON *row = ls->weights->child; row; row = row->next, r++) {
		size_t c = 0;
		float *w = L->w + r * L->in;
		for (const cJSON *v = row->child; v; v = v->next, c++)
			if (read_number(v, &w[c], label, l, "weight", r, c, 1, err))
				return NNP_EINPUT;
	}
	size_t i = 0;
	for (const cJSON *v = ls->bias->child; v; v = v->next, i++)
		if (read_number(v, &L->b[i], label, l, "bias", i, 0, 0, err))
			return NNP_EINPUT;
	return NNP_OK;
}

static int parse_root(nnp_model **out, const cJSON *root, const char *label, nnp_err *err)
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
	rc = scan_layers(layers, n, input_size, ls, sizes, acts, label, err);
	if (rc)
		goto done;
	rc = nnpm_alloc(&m, input_size, n, sizes, acts);
	if (rc) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory for the weights", label);
		goto done;
	}
	for (size_t l = 0; l < n && !rc; l++)
		rc = fill_layer(&m->layers[l], &ls[l], l, label, err);
	if (!rc && meta)
		rc = nnpm_meta_from_cjson(m, meta, label, "", err);
	if (!rc)
		rc = nnpm_check(m, label, NNP_EINPUT, err);
done:
	free(ls);
	free(sizes);
	free(acts);
	if (rc) {
		nnp_model_free(m);
		return rc;
	}
	*out = m;
	return NNP_OK;
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
	cJSON *root = len ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
	if (!root) {
		/* cJSON leaves return_parse_end where it stopped. */
		size_t pos = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
		line_col(text, pos, &line, &col);
		return nnp_err_set(err, NNP_EINPUT, "%s:%zu:%zu: JSON syntax error%s", label, line, col,
		                   len ? "" : " (empty text)");
	}
	size_t pos = (size_t)(end - text);
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
		rc = parse_root(out, root, label, err);
	}
	cJSON_Delete(root);
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
#undef META_KEY
	if (pretty) {
		nnpm_sink_puts(s, "\n");
		nnpm_sink_puts(s, indent);
	}
	nnpm_sink_puts(s, "}");
}

/* ---- writer ---- */

static void put_floats(nnpm_sink *s, const float *v, size_t n)
{
	char num[40];
	for (size_t i = 0; i < n; i++) {
		if (i)
			nnpm_sink_put(s, ", ", 2);
		nnpm_sink_put(s, num, nnpm_fmt_float(num, v[i]));
	}
}

void nnpm_write_json(nnpm_sink *s, const nnp_model *m)
{
	char num[40];
	nnpm_sink_printf(s, "{\n  \"format\": \"nnprune-model\",\n  \"version\": 1,\n"
	                 "  \"input_size\": %zu,\n  \"layers\": [\n", m->input_size);
	for (size_t l = 0; l < m->n_layers && !s->failed; l++) {
		const nnp_layer *L = &m->layers[l];
		nnpm_sink_printf(s, "    {\n      \"activation\": \"%s\",\n", nnp_act_name(L->act));
		if (L->act == NNP_ACT_LEAKY_RELU) {
			nnpm_fmt_float(num, L->alpha);
			nnpm_sink_printf(s, "      \"alpha\": %s,\n", num);
		}
		/* One weight row per line: readable, and diffs stay local. */
		nnpm_sink_puts(s, "      \"weights\": [\n");
		for (size_t r = 0; r < L->out; r++) {
			nnpm_sink_puts(s, "        [");
			put_floats(s, L->w + r * L->in, L->in);
			nnpm_sink_puts(s, r + 1 < L->out ? "],\n" : "]\n");
		}
		nnpm_sink_puts(s, "      ],\n      \"bias\": [");
		put_floats(s, L->b, L->out);
		nnpm_sink_puts(s, l + 1 < m->n_layers ? "]\n    },\n" : "]\n    }\n");
	}
	nnpm_sink_puts(s, "  ]");
	if (nnpm_has_meta(m)) {
		nnpm_sink_puts(s, ",\n  \"metadata\": ");
		nnpm_meta_print(s, m, 1, "  ");
	}
	nnpm_sink_puts(s, "\n}\n");
}
