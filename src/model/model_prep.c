/*
 * What a model says about its inputs and outputs beyond the weights: the input
 * preprocessing x' = (x - offset) * scale (kept on layer 0, which nnp_dense
 * applies) and the output kind (logits). Both live in the metadata object of
 * either file format:
 *
 *   "preprocessing": {"offset": 127.5, "scale": [0.1, 0.2, ...]},
 *   "output": "logits"
 *
 * offset and scale are each optional, one number (every feature) or one per
 * input; a file without them is byte-identical to one written before they
 * existed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_priv.h"
#include "num.h"

int nnp_model_has_prep(const nnp_model *m)
{
	return m && m->n_layers && m->layers && (m->layers[0].pre_offset || m->layers[0].pre_scale);
}

int nnp_model_logits(const nnp_model *m)
{
	if (!m || !m->n_layers || m->layers[m->n_layers - 1].act != NNP_ACT_LINEAR)
		return 0;
	return m->logits || m->n_classes > 0;
}

/* A vector of n = input size values from 1 or n given ones; NULL for none. */
static int expand(const float *v, size_t k, size_t n, float **out)
{
	*out = NULL;
	if (!v || !k)
		return NNP_OK;
	float *p = malloc(n * sizeof *p);
	if (!p)
		return NNP_ENOMEM;
	for (size_t i = 0; i < n; i++)
		p[i] = v[k == 1 ? 0 : i];
	*out = p;
	return NNP_OK;
}

static void set_vectors(nnp_model *m, float *off, float *sc)
{
	free(m->layers[0].pre_offset);
	free(m->layers[0].pre_scale);
	m->layers[0].pre_offset = off;
	m->layers[0].pre_scale = sc;
}

int nnp_model_set_prep(nnp_model *m, const float *offset, size_t n_offset, const float *scale,
                       size_t n_scale, nnp_err *err)
{
	size_t n = m->input_size;
	const char *what[2] = { "offset", "scale" };
	const float *v[2] = { offset, scale };
	size_t k[2] = { offset ? n_offset : 0, scale ? n_scale : 0 };
	for (int j = 0; j < 2; j++) {
		if (k[j] > 1 && k[j] != n)
			return nnp_err_set(err, NNP_EUSAGE, "model: input %s has %zu values but the model "
			                   "has %zu inputs (give one value or one per input)", what[j],
			                   k[j], n);
		for (size_t i = 0; i < k[j]; i++)
			if (!isfinite(v[j][i]))
				return nnp_err_set(err, NNP_EUSAGE, "model: input %s[%zu] is not a finite "
				                   "number", what[j], i);
	}
	float *off = NULL, *sc = NULL;
	if (expand(offset, k[0], n, &off) || expand(scale, k[1], n, &sc)) {
		free(off);
		return nnp_err_set(err, NNP_ENOMEM, "model: out of memory");
	}
	set_vectors(m, off, sc);
	return NNP_OK;
}

int nnpm_copy_prep(nnp_model *dst, const nnp_model *src)
{
	const nnp_layer *S = &src->layers[0];
	float *off = NULL, *sc = NULL;
	size_t n = src->input_size;
	if (expand(S->pre_offset, S->pre_offset ? n : 0, n, &off) ||
	    expand(S->pre_scale, S->pre_scale ? n : 0, n, &sc)) {
		free(off);
		return NNP_ENOMEM;
	}
	set_vectors(dst, off, sc);
	return NNP_OK;
}

int nnp_model_copy_io(nnp_model *dst, const nnp_model *src, nnp_err *err)
{
	if (dst->input_size != src->input_size ||
	    nnp_model_outputs(dst) != nnp_model_outputs(src))
		return nnp_err_set(err, NNP_EUSAGE, "model: copying metadata between models of "
		                   "different input or output sizes");
	int rc = nnp_model_set_name(dst, src->name, err);
	if (!rc)
		rc = nnp_model_set_classes(dst, (const char *const *)src->classes, src->n_classes, err);
	if (!rc)
		rc = nnp_model_set_provenance(dst, src->provenance, err);
	if (!rc && nnpm_copy_prep(dst, src))
		rc = nnp_err_set(err, NNP_ENOMEM, "model: out of memory");
	if (!rc)
		dst->logits = src->logits;
	return rc;
}

int nnpm_check_io(const nnp_model *m, const char *label, int status, nnp_err *err)
{
	const nnp_layer *L = &m->layers[0];
	const float *v[2] = { L->pre_offset, L->pre_scale };
	for (int j = 0; j < 2; j++)
		for (size_t i = 0; v[j] && i < m->input_size; i++)
			if (!isfinite(v[j][i]))
				return nnp_err_set(err, status, "%s: metadata: preprocessing: %s[%zu] is not "
				                   "a finite number", label, j ? "scale" : "offset", i);
	if (m->logits && m->layers[m->n_layers - 1].act != NNP_ACT_LINEAR)
		return nnp_err_set(err, status, "%s: metadata: output \"logits\" needs a linear last "
		                   "layer (it is %s)", label,
		                   nnp_act_name(m->layers[m->n_layers - 1].act));
	return NNP_OK;
}

/* ---- the metadata keys ---- */

static void put_vector(nnpm_sink *s, const float *v, size_t n)
{
	char num[NNP_FLOAT_CHARS];
	size_t i = 1;
	while (i < n && memcmp(&v[i], &v[0], sizeof *v) == 0)
		i++;
	if (i == n) {  /* the same value everywhere: one number */
		nnpm_sink_put(s, num, nnp_fmt_float(num, v[0]));
		return;
	}
	nnpm_sink_puts(s, "[");
	for (i = 0; i < n; i++) {
		if (i)
			nnpm_sink_puts(s, ",");
		nnpm_sink_put(s, num, nnp_fmt_float(num, v[i]));
	}
	nnpm_sink_puts(s, "]");
}

static void put_key(nnpm_sink *s, const char *key, int pretty, const char *indent,
                    const char **sep)
{
	nnpm_sink_puts(s, *sep);
	if (pretty) {
		nnpm_sink_puts(s, "\n");
		nnpm_sink_puts(s, indent);
		nnpm_sink_puts(s, "  ");
	}
	nnpm_sink_json_string(s, key);
	nnpm_sink_puts(s, pretty ? ": " : ":");
	*sep = ",";
}

void nnpm_io_print(nnpm_sink *s, const nnp_model *m, int pretty, const char *indent,
                   const char *sep)
{
	const nnp_layer *L = &m->layers[0];
	if (nnp_model_has_prep(m)) {
		const char *inner = "";
		put_key(s, "preprocessing", pretty, indent, &sep);
		nnpm_sink_puts(s, "{");
		if (L->pre_offset) {
			nnpm_sink_puts(s, pretty ? "\"offset\": " : "\"offset\":");
			put_vector(s, L->pre_offset, m->input_size);
			inner = pretty ? ", " : ",";
		}
		if (L->pre_scale) {
			nnpm_sink_puts(s, inner);
			nnpm_sink_puts(s, pretty ? "\"scale\": " : "\"scale\":");
			put_vector(s, L->pre_scale, m->input_size);
		}
		nnpm_sink_puts(s, "}");
	}
	if (m->logits) {
		put_key(s, "output", pretty, indent, &sep);
		nnpm_sink_puts(s, "\"logits\"");
	}
}

/* One of "offset"/"scale": a number or an array of input_size numbers. */
static int read_vector(const cJSON *v, size_t n, float **out, const char *label,
                       const char *place, const char *key, nnp_err *err)
{
	*out = NULL;
	if (!v)
		return NNP_OK;
	size_t k = cJSON_IsNumber(v) ? 1 : 0;
	if (cJSON_IsArray(v))
		for (const cJSON *c = v->child; c; c = c->next)
			k++;
	if (!k || (k != 1 && k != n) || (cJSON_IsArray(v) && k != n))
		return nnp_err_set(err, NNP_EINPUT, "%s: %smetadata: preprocessing: \"%s\" must be a "
		                   "number or an array of %zu numbers (one per input)", label, place,
		                   key, n);
	float *p = malloc(n * sizeof *p);
	if (!p)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	const cJSON *c = cJSON_IsArray(v) ? v->child : v;
	for (size_t i = 0; i < n; i++) {
		double d = c->valuedouble;
		if (!cJSON_IsNumber(c) || !(fabs(d) < 0x1.ffffffp127)) {
			free(p);
			return nnp_err_set(err, NNP_EINPUT, "%s: %smetadata: preprocessing: \"%s\"[%zu] "
			                   "must be a finite number within the float range", label,
			                   place, key, i);
		}
		p[i] = (float)d;
		if (cJSON_IsArray(v))
			c = c->next;
	}
	*out = p;
	return NNP_OK;
}

int nnpm_io_from_cjson(nnp_model *m, const cJSON *meta, const char *label, const char *place,
                       nnp_err *err)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(meta, "preprocessing");
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(meta, "output");
	float *off = NULL, *sc = NULL;
	char where[96];
	int rc = NNP_OK;
	if (p) {
		snprintf(where, sizeof where, "%smetadata: preprocessing: ", place);
		if (!cJSON_IsObject(p))
			return nnp_err_set(err, NNP_EINPUT, "%s: %smetadata: \"preprocessing\" must be an "
			                   "object (found %s)", label, place, nnpm_json_type(p));
		rc = nnpm_no_dup_keys(p, label, where, err);
		for (const cJSON *c = p->child; c && !rc; c = c->next)
			if (strcmp(c->string, "offset") && strcmp(c->string, "scale"))
				rc = nnp_err_set(err, NNP_EINPUT, "%s: %sunknown key \"%.40s\" (expected "
				                 "offset and scale)", label, where, c->string);
		if (!rc)
			rc = read_vector(cJSON_GetObjectItemCaseSensitive(p, "offset"), m->input_size,
			                 &off, label, place, "offset", err);
		if (!rc)
			rc = read_vector(cJSON_GetObjectItemCaseSensitive(p, "scale"), m->input_size,
			                 &sc, label, place, "scale", err);
		if (rc) {
			free(off);
			return rc;
		}
	}
	if (o && (!cJSON_IsString(o) || strcmp(o->valuestring, "logits"))) {
		free(off);
		free(sc);
		return nnp_err_set(err, NNP_EINPUT, "%s: %smetadata: \"output\" must be \"logits\" "
		                   "(the only output kind stored)", label, place);
	}
	if (p)  /* a file's metadata without the key leaves what the reader set */
		set_vectors(m, off, sc);
	m->logits = o != NULL;
	return NNP_OK;
}
