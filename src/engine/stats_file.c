/*
 * The statistics file, nnprune.stats.json: what `stats` writes and `sweep`
 * reads. Layout (version 1):
 *
 * {"format": "nnprune-stats", "version": 1, "tool": "nnprune 0.1.0",
 *  "model": {"path": "model.bin", "bytes": 2269736, "crc32": "89abcdef"},
 *  "data": {"path": "val.csv", "rows": 10000, "bytes": 1234, "crc32": "0123abcd",
 *           "labels": {"path": ..., "bytes": ..., "crc32": ...},     (IDX only)
 *           "options": {"header": "auto|yes|no",
 *                       "label": "first|last|none|name|<column index>",
 *                       "label_name": "...",                          (label "name" only)
 *                       "delimiter": ","}},
 *  "metrics": {"accuracy": 0.8865, "loss": 0.3312,
 *              "loss_kind": "cross_entropy|mse", "labelled": 10000, "correct": 8865},
 *  "layers": [{"layer": 0, "neurons": 512, "activation": "relu",
 *              "mean": [...], "std": [...], "min": [...], "max": [...],
 *              "zero_fraction": [...]}, ...]}
 *
 * "layers" lists the hidden layers (all but the last) in model order; each
 * array has "neurons" entries. Doubles are printed with %.17g so they read
 * back bit-identical; CRC-32s are 8 lowercase hex digits; "label" is a string
 * (a column index is written as its decimal digits; a JSON integer is also
 * accepted). Unknown keys are ignored so later versions can add some.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cJSON.h>

#include "nnprune/data.h"
#include "nnprune/io.h"
#include "nnprune/text.h"
#include "nnprune/stats.h"
#include "mem.h"
#include "stats_priv.h"
#include "textbuf.h"

#define STATS_FORMAT "nnprune-stats"
#define STATS_PART_FORMAT "nnprune-stats-part"  /* a shard's rows: nnprune stats --merge */
#define STATS_VERSION 1
/* A file holds about 5 x 25 bytes per hidden neuron, so 64 MiB is half a
 * million hidden neurons, far beyond real MLPs. The cap bounds what a hostile
 * file can make cJSON allocate (some 64 bytes per value). */
#define STATS_MAX_BYTES ((size_t)64 << 20)
/* cJSON keeps every member; duplicate detection compares them pairwise. */
#define STATS_MAX_KEYS 1024
/* Integers in the file are JSON numbers, i.e. doubles: exact up to 2^53. */
#define STATS_MAX_INT 9007199254740992.0

/* --------------------------------------------------------------- writer */

/* The writer builds the file in the one text buffer (src/util/textbuf.h). */
typedef nnp_tbuf sbuf;
#define sb_put nnp_tb_putn
#define sb_puts nnp_tb_puts
#define sb_printf nnp_tb_printf

/* A JSON string: quotes, backslashes and control bytes escaped; other bytes
 * (UTF-8 paths) pass through unchanged. */
static void sb_str(sbuf *b, const char *s)
{
	sb_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"')
			sb_puts(b, "\\\"");
		else if (*p == '\\')
			sb_puts(b, "\\\\");
		else if (*p == '\n')
			sb_puts(b, "\\n");
		else if (*p == '\t')
			sb_puts(b, "\\t");
		else if (*p < 0x20)
			sb_printf(b, "\\u%04x", (unsigned)*p);
		else
			sb_put(b, (const char *)p, 1);
	}
	sb_puts(b, "\"");
}

static void sb_num(sbuf *b, double v)
{
	char tmp[40];
	int n = snprintf(tmp, sizeof tmp, "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		b->oom = 1;
		return;
	}
	/* A caller's setlocale() could make the decimal point a comma; JSON
	 * only knows '.'. */
	for (int i = 0; i < n; i++)
		if (tmp[i] == ',')
			tmp[i] = '.';
	sb_put(b, tmp, (size_t)n);
}

static void sb_array(sbuf *b, const char *key, const double *v, size_t n, int last)
{
	sb_puts(b, "      ");
	sb_str(b, key);
	sb_puts(b, ": [");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_puts(b, ", ");
		sb_num(b, v[i]);
	}
	sb_puts(b, last ? "]\n" : "],\n");
}

static void sb_identity(sbuf *b, const char *path, uint64_t bytes, uint32_t crc)
{
	sb_puts(b, "\"path\": ");
	sb_str(b, path);
	sb_printf(b, ", \"bytes\": %llu, \"crc32\": \"%08lx\"", (unsigned long long)bytes,
	          (unsigned long)crc);
}

static void write_options(sbuf *b, const nnp_data_opts *o)
{
	char idx[32];
	const char *label = "first";
	switch (o->label) {
	case NNP_LABEL_LAST: label = "last"; break;
	case NNP_LABEL_NONE: label = "none"; break;
	case NNP_LABEL_NAME: label = "name"; break;
	case NNP_LABEL_AUTO: label = "auto"; break;
	case NNP_LABEL_INDEX:
		snprintf(idx, sizeof idx, "%zu", o->label_index);
		label = idx;
		break;
	case NNP_LABEL_FIRST:
	default: break;
	}
	char delim[2] = {o->delimiter ? o->delimiter : ',', '\0'};
	sb_puts(b, "    \"options\": {\"header\": ");
	sb_str(b, nnp_header_name(o->header));
	sb_puts(b, ", \"label\": ");
	sb_str(b, label);
	if (o->label == NNP_LABEL_NAME) {
		sb_puts(b, ", \"label_name\": ");
		sb_str(b, o->label_name);
	}
	sb_puts(b, ", \"delimiter\": ");
	sb_str(b, delim);
	sb_puts(b, "}\n");
}

static void write_source(sbuf *b, const nnp_stats *s, const nnp_stats_source *src)
{
	static const nnp_stats_source none;
	static const nnp_data_opts defaults = NNP_DATA_OPTS_INIT;
	if (!src)
		src = &none;
	sb_puts(b, "  \"model\": {");
	sb_identity(b, src->model_path, src->model_bytes, src->model_crc32);
	sb_puts(b, "},\n  \"data\": {");
	sb_identity(b, src->data_path, src->data_bytes, src->data_crc32);
	sb_printf(b, ", \"rows\": %llu,\n", (unsigned long long)s->rows);
	if (src->labels_path) {
		sb_puts(b, "    \"labels\": {");
		sb_identity(b, src->labels_path, src->labels_bytes, src->labels_crc32);
		sb_puts(b, "},\n");
	}
	write_options(b, src == &none ? &defaults : &src->data_opts);
	sb_puts(b, "  },\n");
}

static void write_layer(sbuf *b, const nnp_layer_stats *L, int last)
{
	const char *act = nnp_act_name(L->act);
	sb_printf(b, "    {\"layer\": %zu, \"neurons\": %zu, \"activation\": ", L->layer, L->neurons);
	sb_str(b, act ? act : "unknown");
	sb_puts(b, ",\n");
	sb_array(b, "mean", L->mean, L->neurons, 0);
	sb_array(b, "std", L->std, L->neurons, 0);
	sb_array(b, "min", L->min, L->neurons, 0);
	sb_array(b, "max", L->max, L->neurons, 0);
	sb_array(b, "zero_fraction", L->zero_fraction, L->neurons, 1);
	sb_puts(b, last ? "    }\n" : "    },\n");
}

static int all_finite(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* Names the first value JSON cannot hold (NaN or infinity), or NULL. */
static const char *first_non_finite(const nnp_stats *s, size_t *layer)
{
	*layer = 0;
	if (!isfinite(nnp_metrics_loss(&s->metrics)))
		return "loss";
	for (size_t l = 0; l < s->n_layers; l++) {
		const nnp_layer_stats *L = &s->layers[l];
		*layer = l;
		if (!all_finite(L->mean, L->neurons))
			return "mean";
		if (!all_finite(L->std, L->neurons))
			return "std";
		if (!all_finite(L->min, L->neurons))
			return "min";
		if (!all_finite(L->max, L->neurons))
			return "max";
		if (!all_finite(L->zero_fraction, L->neurons))
			return "zero_fraction";
	}
	return NULL;
}

char *nnp_stats_to_json(const nnp_stats *s, const nnp_stats_source *src)
{
	size_t bad_layer;
	if (first_non_finite(s, &bad_layer))
		return NULL;
	sbuf b = {NULL, 0, 0, 0};
	int part = src && src->part;
	sb_puts(&b, part ? "{\n  \"format\": \"" STATS_PART_FORMAT "\",\n"
	                 : "{\n  \"format\": \"" STATS_FORMAT "\",\n");
	sb_printf(&b, "  \"version\": %d,\n", STATS_VERSION);
	sb_puts(&b, "  \"tool\": \"nnprune " NNP_VERSION "\",\n");
	if (part)
		sb_printf(&b, "  \"part\": {\"first_row\": %llu, \"end\": %s},\n",
		          (unsigned long long)src->part_first, src->part_end ? "true" : "false");
	write_source(&b, s, src);
	sb_puts(&b, "  \"metrics\": {\"accuracy\": ");
	sb_num(&b, nnp_metrics_accuracy(&s->metrics));
	sb_puts(&b, ", \"loss\": ");
	sb_num(&b, nnp_metrics_loss(&s->metrics));
	sb_puts(&b, s->metrics.mse ? ", \"loss_kind\": \"mse\"" : ", \"loss_kind\": \"cross_entropy\"");
	sb_printf(&b, ", \"labelled\": %llu", (unsigned long long)s->metrics.labelled);
	sb_printf(&b, ", \"correct\": %llu},\n", (unsigned long long)s->metrics.correct);
	sb_puts(&b, "  \"layers\": [\n");
	for (size_t l = 0; l < s->n_layers; l++)
		write_layer(&b, &s->layers[l], l + 1 == s->n_layers);
	sb_puts(&b, "  ]\n}\n");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int nnp_stats_save(const nnp_stats *s, const nnp_stats_source *src, const char *path, nnp_err *err)
{
	size_t layer;
	const char *bad = first_non_finite(s, &layer);
	if (bad) {
		if (!strcmp(bad, "loss"))
			return nnp_err_set(err, NNP_EINPUT, "%s: the loss is not finite", path);
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: layer %zu: a \"%s\" value is not finite (the activations "
		                   "overflowed)", path, s->layers[layer].layer, bad);
	}
	char *json = nnp_stats_to_json(s, src);
	if (!json)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	int rc = nnp_write_file_atomic(path, json, strlen(json), err);
	free(json);
	return rc;
}

/* --------------------------------------------------------------- reader */

void nnp_stats_source_free(nnp_stats_source *src)
{
	if (!src)
		return;
	NNP_FREE(src->model_path);
	NNP_FREE(src->data_path);
	NNP_FREE(src->labels_path);
	NNP_FREE(src->label_name_buf);
	src->data_opts.label_name = NULL;
	src->data_opts.labels_path = NULL;
}

/* What every lookup needs to word its error: the file and the place. */
typedef struct jctx {
	const char *path;
	nnp_err *err;
} jctx;

static int read_all(const char *path, char **out, size_t *len, nnp_err *err)
{
	*out = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
	int rc = NNP_OK;
	char *buf = NULL;
	struct stat st;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: not a regular file", path);
		goto done;
	}
	if ((uint64_t)st.st_size > STATS_MAX_BYTES) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: %lld bytes is too large for a statistics file "
		                 "(limit %zu)", path, (long long)st.st_size, STATS_MAX_BYTES);
		goto done;
	}
	size_t n = (size_t)st.st_size;
	buf = malloc(n + 1);
	if (!buf) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	if (n && fread(buf, 1, n, fp) != n) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: read error", path);
		goto done;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
done:
	free(buf);
	fclose(fp);
	return rc;
}

static int parse_error(const jctx *c, const char *text, const char *at)
{
	size_t line = 1, col = 1;
	for (const char *p = text; p < at && *p; p++) {
		if (*p == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	return nnp_err_set(c->err, NNP_EINPUT, "%s:%zu:%zu: invalid JSON", c->path, line, col);
}

/* cJSON keeps duplicate keys and returns the first: refuse them rather
 * than silently pick one. */
static int check_duplicates(const jctx *c, const cJSON *obj, const char *where)
{
	size_t n = 0;
	for (const cJSON *a = obj->child; a; a = a->next)
		if (++n > STATS_MAX_KEYS)
			return nnp_err_set(c->err, NNP_EINPUT, "%s: %smore than %d keys in an object",
			                   c->path, where, STATS_MAX_KEYS);
	for (const cJSON *a = obj->child; a; a = a->next)
		for (const cJSON *b = a->next; b; b = b->next)
			if (a->string && b->string && !strcmp(a->string, b->string))
				return nnp_err_set(c->err, NNP_EINPUT, "%s: %sduplicate key \"%s\"", c->path,
				                   where, a->string);
	return NNP_OK;
}

static int get_item(const jctx *c, const cJSON *obj, const char *where, const char *key,
                    const cJSON **out)
{
	*out = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!*out)
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"%s\" is missing", c->path, where, key);
	return NNP_OK;
}

static int get_object(const jctx *c, const cJSON *obj, const char *where, const char *key,
                      const cJSON **out)
{
	int rc = get_item(c, obj, where, key, out);
	if (rc)
		return rc;
	if (!cJSON_IsObject(*out))
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"%s\" must be an object", c->path,
		                   where, key);
	return check_duplicates(c, *out, where);
}

static int get_string(const jctx *c, const cJSON *obj, const char *where, const char *key,
                      const char **out)
{
	const cJSON *it = NULL;
	int rc = get_item(c, obj, where, key, &it);
	if (rc)
		return rc;
	if (!cJSON_IsString(it) || !it->valuestring)
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"%s\" must be a string", c->path,
		                   where, key);
	*out = it->valuestring;
	return NNP_OK;
}

static int get_number(const jctx *c, const cJSON *obj, const char *where, const char *key,
                      double *out)
{
	const cJSON *it = NULL;
	int rc = get_item(c, obj, where, key, &it);
	if (rc)
		return rc;
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"%s\" must be a number", c->path,
		                   where, key);
	*out = it->valuedouble;
	return NNP_OK;
}

static int get_uint(const jctx *c, const cJSON *obj, const char *where, const char *key,
                    double max, uint64_t *out)
{
	double v = 0;
	int rc = get_number(c, obj, where, key, &v);
	if (rc)
		return rc;
	if (v < 0 || v > max || v != floor(v))
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"%s\" must be a whole number from 0 "
		                   "to %.0f (found %.17g)", c->path, where, key, max, v);
	*out = (uint64_t)v;
	return NNP_OK;
}

static int get_crc(const jctx *c, const cJSON *obj, const char *where, uint32_t *out)
{
	const char *s = "";
	int rc = get_string(c, obj, where, "crc32", &s);
	if (rc)
		return rc;
	uint32_t v = 0;
	size_t i = 0;
	for (; s[i] && i < 9; i++) {
		char ch = s[i];
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			break;
		v = v << 4 | d;
	}
	if (i != 8 || s[i])
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"crc32\" must be 8 hex digits (found "
		                   "\"%.40s\")", c->path, where, s);
	*out = v;
	return NNP_OK;
}

/* A {"path", "bytes", "crc32"} triple; the path is copied into *path. */
static int get_identity(const jctx *c, const cJSON *obj, const char *where, char **path,
                        uint64_t *bytes, uint32_t *crc)
{
	const char *p = "";
	int rc = get_string(c, obj, where, "path", &p);
	if (!rc)
		rc = get_uint(c, obj, where, "bytes", STATS_MAX_INT, bytes);
	if (!rc)
		rc = get_crc(c, obj, where, crc);
	if (rc)
		return rc;
	*path = strdup(p);
	if (!*path)
		return nnp_err_set(c->err, NNP_ENOMEM, "%s: out of memory", c->path);
	return NNP_OK;
}

static int parse_label(const jctx *c, const cJSON *opt, nnp_data_opts *o)
{
	const cJSON *it = NULL;
	int rc = get_item(c, opt, "data: options: ", "label", &it);
	if (rc)
		return rc;
	if (cJSON_IsNumber(it)) {
		double v = it->valuedouble;
		if (v < 0 || v >= NNP_MAX_COLUMNS || v != floor(v))
			goto bad;
		o->label = NNP_LABEL_INDEX;
		o->label_index = (size_t)v;
		return NNP_OK;
	}
	if (!cJSON_IsString(it) || !it->valuestring)
		goto bad;
	const char *s = it->valuestring;
	if (!strcmp(s, "first")) {
		o->label = NNP_LABEL_FIRST;
	} else if (!strcmp(s, "last")) {
		o->label = NNP_LABEL_LAST;
	} else if (!strcmp(s, "none")) {
		o->label = NNP_LABEL_NONE;
	} else if (!strcmp(s, "name")) {
		o->label = NNP_LABEL_NAME;
	} else if (!strcmp(s, "auto")) {
		o->label = NNP_LABEL_AUTO;
	} else {
		size_t v = 0, i = 0;
		for (; s[i] >= '0' && s[i] <= '9' && i < 8; i++)
			v = v * 10 + (size_t)(s[i] - '0');
		if (i == 0 || s[i] || v >= NNP_MAX_COLUMNS)
			goto bad;
		o->label = NNP_LABEL_INDEX;
		o->label_index = v;
	}
	return NNP_OK;
bad:
	return nnp_err_set(c->err, NNP_EINPUT, "%s: data: options: \"label\" must be \"first\", "
	                   "\"last\", \"none\", \"name\", \"auto\" or a column index below %u", c->path,
	                   NNP_MAX_COLUMNS);
}

static int parse_options(const jctx *c, const cJSON *data, nnp_stats_source *src)
{
	const char *w = "data: options: ";
	nnp_data_opts *o = &src->data_opts;
	const cJSON *opt;
	const char *s = "";
	int rc = get_object(c, data, "data: ", "options", &opt);
	if (!rc)
		rc = get_string(c, opt, w, "header", &s);
	if (rc)
		return rc;
	if (nnp_header_parse(s, &o->header))
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"header\" must be \"auto\", \"yes\" or "
		                   "\"no\"", c->path, w);
	rc = parse_label(c, opt, o);
	if (!rc && o->label == NNP_LABEL_NAME) {
		rc = get_string(c, opt, w, "label_name", &s);
		if (rc)
			return rc;
		src->label_name_buf = strdup(s);
		if (!src->label_name_buf)
			return nnp_err_set(c->err, NNP_ENOMEM, "%s: out of memory", c->path);
		o->label_name = src->label_name_buf;
	}
	if (!rc)
		rc = get_string(c, opt, w, "delimiter", &s);
	if (rc)
		return rc;
	if (strlen(s) != 1 || s[0] == '"' || s[0] == '\n' || s[0] == '\r')
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"delimiter\" must be one character "
		                   "other than a quote or a line break", c->path, w);
	o->delimiter = s[0];
	return NNP_OK;
}

static int parse_header(const jctx *c, const cJSON *root, nnp_stats_source *src)
{
	const char *s = "";
	uint64_t version = 0;
	int rc = get_string(c, root, "", "format", &s);
	if (rc)
		return rc;
	if (!strcmp(s, STATS_PART_FORMAT)) {
		const cJSON *part, *end;
		rc = get_object(c, root, "", "part", &part);
		if (!rc)
			rc = get_uint(c, part, "part: ", "first_row", STATS_MAX_INT, &src->part_first);
		if (rc)
			return rc;
		end = cJSON_GetObjectItemCaseSensitive(part, "end");
		if (!cJSON_IsBool(end))
			return nnp_err_set(c->err, NNP_EINPUT, "%s: part: \"end\" must be true or false",
			                   c->path);
		src->part = 1;
		src->part_end = cJSON_IsTrue(end);
	} else if (strcmp(s, STATS_FORMAT)) {
		return nnp_err_set(c->err, NNP_EINPUT, "%s: \"format\" must be \"" STATS_FORMAT
		                   "\" (found \"%.40s\")", c->path, s);
	}
	rc = get_uint(c, root, "", "version", STATS_MAX_INT, &version);
	if (rc)
		return rc;
	if (version != STATS_VERSION)
		return nnp_err_set(c->err, NNP_EINPUT, "%s: version %llu is not supported (expected "
		                   "%d)", c->path, (unsigned long long)version, STATS_VERSION);
	return get_string(c, root, "", "tool", &s);
}

static int parse_source(const jctx *c, const cJSON *root, nnp_stats_source *src, uint64_t *rows)
{
	const cJSON *model, *data, *labels;
	int rc = get_object(c, root, "", "model", &model);
	if (!rc)
		rc = get_identity(c, model, "model: ", &src->model_path, &src->model_bytes,
		                  &src->model_crc32);
	if (!rc)
		rc = get_object(c, root, "", "data", &data);
	if (!rc)
		rc = get_identity(c, data, "data: ", &src->data_path, &src->data_bytes,
		                  &src->data_crc32);
	if (!rc)
		rc = get_uint(c, data, "data: ", "rows", STATS_MAX_INT, rows);
	if (rc)
		return rc;
	if (*rows == 0)
		return nnp_err_set(c->err, NNP_EINPUT, "%s: data: \"rows\" must be at least 1", c->path);
	labels = cJSON_GetObjectItemCaseSensitive(data, "labels");
	if (labels) {
		rc = get_object(c, data, "data: ", "labels", &labels);
		if (!rc)
			rc = get_identity(c, labels, "data: labels: ", &src->labels_path,
			                  &src->labels_bytes, &src->labels_crc32);
		if (rc)
			return rc;
	}
	nnp_data_opts defaults = NNP_DATA_OPTS_INIT;
	src->data_opts = defaults;
	rc = parse_options(c, data, src);
	src->data_opts.labels_path = src->labels_path;
	/* Options no reader accepts are this file's fault, not the caller's. */
	if (!rc && nnp_data_opts_check(&src->data_opts, c->err)) {
		char why[NNP_ERRMSG_MAX];
		memcpy(why, c->err->msg, sizeof why);
		rc = nnp_err_set(c->err, NNP_EINPUT, "%s: data: options: %s", c->path, why);
	}
	return rc;
}

static int parse_metrics(const jctx *c, const cJSON *root, uint64_t rows, nnp_metrics *mt)
{
	const char *w = "metrics: ";
	const cJSON *obj;
	const char *kind = "";
	double acc = 0, loss = 0;
	int rc = get_object(c, root, "", "metrics", &obj);
	if (!rc)
		rc = get_number(c, obj, w, "accuracy", &acc);
	if (!rc)
		rc = get_number(c, obj, w, "loss", &loss);
	if (!rc)
		rc = get_string(c, obj, w, "loss_kind", &kind);
	if (!rc)
		rc = get_uint(c, obj, w, "labelled", (double)rows, &mt->labelled);
	if (!rc)
		rc = get_uint(c, obj, w, "correct", (double)mt->labelled, &mt->correct);
	if (rc)
		return rc;
	if (acc < 0 || acc > 1)
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"accuracy\" must be between 0 and 1",
		                   c->path, w);
	if (loss < 0)
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"loss\" must not be negative", c->path, w);
	if (!strcmp(kind, "mse"))
		mt->mse = 1;
	else if (!strcmp(kind, "cross_entropy"))
		mt->mse = 0;
	else
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"loss_kind\" must be \"cross_entropy\" "
		                   "or \"mse\"", c->path, w);
	mt->rows = rows;
	mt->loss_sum = loss * (double)mt->labelled;
	return NNP_OK;
}

static const char *const array_keys[5] = {"mean", "std", "min", "max", "zero_fraction"};

/* Checks one layer's scalars and that each array has exactly `neurons`
 * numbers, before anything is allocated for it. */
static int check_layer(const jctx *c, const cJSON *L, size_t i, size_t *neurons, nnp_act *act)
{
	char w[48];
	snprintf(w, sizeof w, "layers[%zu]: ", i);
	if (!cJSON_IsObject(L))
		return nnp_err_set(c->err, NNP_EINPUT, "%s: layers[%zu] must be an object", c->path, i);
	uint64_t index = 0, n = 0;
	const char *name = "";
	int rc = check_duplicates(c, L, w);
	if (!rc)
		rc = get_uint(c, L, w, "layer", STATS_MAX_INT, &index);
	if (!rc)
		rc = get_uint(c, L, w, "neurons", NNP_MAX_WIDTH, &n);
	if (!rc)
		rc = get_string(c, L, w, "activation", &name);
	if (rc)
		return rc;
	if (index != i)
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"layer\" is %llu, expected %zu (hidden "
		                   "layers in model order)", c->path, w, (unsigned long long)index, i);
	if (n == 0)
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"neurons\" must be at least 1", c->path, w);
	if (nnp_act_parse(name, act) != 0 || *act == NNP_ACT_SOFTMAX)
		return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"activation\" \"%.40s\" is not a hidden "
		                   "layer activation", c->path, w, name);
	for (size_t k = 0; k < 5; k++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(L, array_keys[k]);
		int ok = cJSON_IsArray(a);
		size_t count = 0;
		for (const cJSON *e = ok ? a->child : NULL; e && ok; e = e->next, count++)
			ok = cJSON_IsNumber(e) && isfinite(e->valuedouble);
		if (!ok || count != n)
			return nnp_err_set(c->err, NNP_EINPUT, "%s: %s\"%s\" must be an array of %llu "
			                   "numbers", c->path, w, array_keys[k], (unsigned long long)n);
	}
	*neurons = (size_t)n;
	return NNP_OK;
}

static int fill_layer(const jctx *c, const cJSON *L, nnp_layer_stats *S)
{
	double *dst[5] = {S->mean, S->std, S->min, S->max, S->zero_fraction};
	for (size_t k = 0; k < 5; k++) {
		size_t j = 0;
		for (const cJSON *e = cJSON_GetObjectItemCaseSensitive(L, array_keys[k])->child; e;
		     e = e->next)
			dst[k][j++] = e->valuedouble;
	}
	for (size_t j = 0; j < S->neurons; j++) {
		const char *what = NULL;
		if (S->std[j] < 0)
			what = "\"std\" is negative";
		else if (S->zero_fraction[j] < 0 || S->zero_fraction[j] > 1)
			what = "\"zero_fraction\" is outside [0, 1]";
		else if (S->min[j] > S->max[j])
			what = "\"min\" is above \"max\"";
		if (what)
			return nnp_err_set(c->err, NNP_EINPUT, "%s: layers[%zu]: neuron %zu: %s", c->path,
			                   S->layer, j, what);
	}
	return NNP_OK;
}

static int parse_layers(const jctx *c, const cJSON *root, nnp_stats **out)
{
	const cJSON *arr;
	size_t neurons[NNP_MAX_LAYERS];
	nnp_act acts[NNP_MAX_LAYERS];
	nnp_stats *s = NULL;
	int rc = get_item(c, root, "", "layers", &arr);
	if (rc)
		return rc;
	size_t n = 0;
	for (const cJSON *e = cJSON_IsArray(arr) ? arr->child : NULL; e; e = e->next)
		n++;
	if (!cJSON_IsArray(arr) || n > NNP_MAX_LAYERS)
		return nnp_err_set(c->err, NNP_EINPUT, "%s: \"layers\" must be an array of at most %u "
		                   "layers", c->path, NNP_MAX_LAYERS);
	size_t i = 0;
	for (const cJSON *e = arr->child; e && !rc; e = e->next, i++)
		rc = check_layer(c, e, i, &neurons[i], &acts[i]);
	if (!rc)
		rc = nnp_stats_alloc(&s, n, neurons, acts, c->err);
	i = 0;
	for (const cJSON *e = arr->child; e && !rc; e = e->next, i++)
		rc = fill_layer(c, e, &s->layers[i]);
	if (!rc)
		*out = s;
	else
		nnp_stats_free(s);
	return rc;
}

/* A relative path in a statistics file is relative to the file's directory:
 * joined to it (a file in the working directory leaves it as it is). */
static int resolve_from(const char *stats_path, char **p, nnp_err *err)
{
	const char *slash = strrchr(stats_path, '/');
	if (!*p || !(*p)[0] || (*p)[0] == '/' || !slash)
		return NNP_OK;
	size_t dl = (size_t)(slash - stats_path) + 1, pl = strlen(*p);
	char *j = malloc(dl + pl + 1);
	if (!j)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", stats_path);
	memcpy(j, stats_path, dl);
	memcpy(j + dl, *p, pl + 1);
	free(*p);
	*p = j;
	return NNP_OK;
}

int nnp_stats_note_origin(nnp_err *err, const nnp_stats_source *src, const char *stats_path)
{
	const char *const paths[] = { src->model_path, src->data_path, src->labels_path };
	for (size_t i = 0; i < 3; i++) {
		size_t n = paths[i] ? strlen(paths[i]) : 0;
		if (n && !strncmp(err->msg, paths[i], n) && err->msg[n] == ':') {
			size_t used = strlen(err->msg);
			snprintf(err->msg + used, sizeof err->msg - used, " (from %s)", stats_path);
			return 1;
		}
	}
	return 0;
}

int nnp_stats_load(nnp_stats **out, nnp_stats_source *src, const char *path, nnp_err *err)
{
	int rc = nnp_stats_load_part(out, src, path, err);
	if (!rc && src->part) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: a partial statistics file (%llu rows from row "
		                 "%llu): combine the parts with 'nnprune stats --merge'", path,
		                 (unsigned long long)(*out)->rows,
		                 (unsigned long long)src->part_first);
		nnp_stats_free(*out);
		*out = NULL;
		nnp_stats_source_free(src);
	}
	return rc;
}

int nnp_stats_load_part(nnp_stats **out, nnp_stats_source *src, const char *path, nnp_err *err)
{
	*out = NULL;
	memset(src, 0, sizeof *src);
	char *text = NULL;
	size_t len = 0;
	int rc = read_all(path, &text, &len, err);
	if (rc)
		return rc;
	rc = nnp_stats_from_json(out, src, text, len, path, err);
	free(text);
	return rc;
}

int nnp_stats_from_json(nnp_stats **out, nnp_stats_source *src, const char *text, size_t len,
                        const char *path, nnp_err *err)
{
	*out = NULL;
	memset(src, 0, sizeof *src);
	jctx c = {path, err};
	cJSON *root = NULL;
	nnp_stats *s = NULL;
	uint64_t rows = 0;
	nnp_metrics mt;
	memset(&mt, 0, sizeof mt);
	int rc = NNP_OK;
	if (len > STATS_MAX_BYTES)
		return nnp_err_set(err, NNP_EINPUT, "%s: %zu bytes is too large for a statistics file "
		                   "(limit %zu)", path, len, STATS_MAX_BYTES);
	const char *end = NULL;
	size_t bad;
	if (nnp_json_check_ws(text, len, &bad)) {
		rc = parse_error(&c, text, text + bad);
		goto done;
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		rc = parse_error(&c, text, end ? end : text);
		goto done;
	}
	/* Only white space may follow the document. */
	for (const char *p = end; p && p < text + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			rc = parse_error(&c, text, p);
			goto done;
		}
	if (!cJSON_IsObject(root)) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: the document must be a JSON object", path);
		goto done;
	}
	rc = check_duplicates(&c, root, "");
	if (!rc)
		rc = parse_header(&c, root, src);
	if (!rc)
		rc = parse_source(&c, root, src, &rows);
	if (!rc)
		rc = parse_metrics(&c, root, rows, &mt);
	if (!rc)
		rc = parse_layers(&c, root, &s);
	if (!rc)
		rc = resolve_from(path, &src->model_path, err);
	if (!rc)
		rc = resolve_from(path, &src->data_path, err);
	if (!rc)
		rc = resolve_from(path, &src->labels_path, err);
	if (rc)
		goto done;
	src->data_opts.labels_path = src->labels_path;
	s->rows = rows;
	s->metrics = mt;
	*out = s;
	s = NULL;
done:
	if (rc)
		nnp_stats_source_free(src);
	nnp_stats_free(s);
	cJSON_Delete(root);
	return rc;
}
