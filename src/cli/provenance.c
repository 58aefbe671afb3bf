/*
 * What `prune` and `sweep` share about a pruned model: the calibration rows
 * it was computed on, the parameter budget it was given, and the provenance
 * it records.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include <zlib.h>

#include "nnprune/criteria.h"
#include "cli.h"
#include "nnprune/io.h"

/* ---- calibration rows ------------------------------------------------- */

/* 1 if the (possibly gzip'd) file starts with two zero bytes: IDX, as the
 * readers recognise it (no CSV may hold a NUL). */
static int is_idx(const char *path)
{
	unsigned char b[2];
	if (!strcmp(path, "-"))
		return 0;
	gzFile f = gzopen(path, "rb");
	if (!f)
		return 0;
	int n = gzread(f, b, 2);
	gzclose(f);
	return n == 2 && b[0] == 0 && b[1] == 0;
}

int cli_calib_load(cli_calib *c, const char *path, const nnp_data_opts *opts, size_t features,
                   uint64_t max_rows, uint64_t mem_limit, nnp_err *err)
{
	memset(c, 0, sizeof *c);
	c->path = path;
	c->labels_path = opts->labels_path;
	c->max_rows = max_rows;
	nnp_data_opts o = *opts;
	/* Labels are read if the file has them but never used: only the
	 * features calibrate, so their range is not checked. */
	o.expect_features = features;
	o.n_classes = 0;
	o.max_rows = max_rows;
	/* IDX images without their labels file are read unlabelled. */
	if (!o.labels_path && o.label != NNP_LABEL_NONE && is_idx(path))
		o.label = NNP_LABEL_NONE;
	c->opts = o;
	/* The identity and the rows must describe one version of the file. */
	int rc = nnp_file_stamp_get(path, &c->stamp, err);
	if (!rc)
		rc = nnp_file_identity(path, &c->bytes, &c->crc32, err);
	if (rc)
		return rc;
	/* Counted first (reading every row, holding a few): a bad row is an error
	 * before any work, and the count decides, without a trial load, whether
	 * the rows are held or read again at every pass. */
	uint64_t rows;
	if ((rc = nnp_data_count_rows(path, &o, &rows, err)))
		return rc;
	if (rows > SIZE_MAX / 2)
		return nnp_err_set(err, NNP_EINPUT, "%s: %llu rows: too many", path,
		                   (unsigned long long)rows);
	c->rows = (size_t)rows;
	/* Labels included: they are read when present. */
	uint64_t row_bytes = (uint64_t)features * sizeof(float) + sizeof(int32_t);
	c->streamed = rows > mem_limit / row_bytes;
	if (!c->streamed) {
		if ((rc = nnp_dataset_load(&c->d, path, &o, 0, err)))
			return rc;
		/* The methods never look at labels; statistics runs must not check them. */
		c->view = *c->d;
		c->view.y = NULL;
		if (c->d->rows != c->rows)
			return nnp_err_set(err, NNP_EINPUT, "%s: changed while being read", path);
	}
	return cli_calib_unchanged(c, err);
}

int cli_calib_unchanged(const cli_calib *c, nnp_err *err)
{
	nnp_file_stamp now;
	int rc = nnp_file_stamp_get(c->path, &now, err);
	if (!rc && !nnp_file_stamp_same(&now, &c->stamp))
		rc = nnp_err_set(err, NNP_EINPUT, "%s: changed while being read", c->path);
	return rc;
}

void cli_calib_free(cli_calib *c)
{
	nnp_dataset_free(c->d);
	c->d = NULL;
}

int cli_calib_method_ctx(nnp_method_ctx **out, const nnp_model *m, const cli_calib *c,
                         const nnp_method_opts *mo, nnp_err *err)
{
	nnp_calib_stream s = { c->path, &c->opts, c->rows, &c->stamp };
	return c->streamed ? nnp_method_ctx_create_stream(out, m, &s, mo, err)
	                   : nnp_method_ctx_create(out, m, &c->view, mo, err);
}

int cli_calib_stats(nnp_stats **out, const nnp_model *m, const cli_calib *c,
                    const nnp_run_opts *ro, nnp_err *err)
{
	if (!c->streamed)
		return nnp_run_dataset(m, &c->view, ro, out, NULL, NULL, err);
	/* The statistics do not need the labels, and a run that reads them
	 * would check their range. */
	nnp_run_opts o = *ro;
	o.no_labels = 1;
	nnp_reader *r = NULL;
	int rc = cli_calib_unchanged(c, err);
	if (!rc)
		rc = nnp_reader_open(&r, c->path, &c->opts, err);
	if (!rc)
		rc = nnp_run(m, r, &o, out, NULL, NULL, err);
	nnp_reader_close(r);
	/* The statistics must be of the rows the refits will read. */
	if (!rc && (rc = cli_calib_unchanged(c, err))) {
		nnp_stats_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- budgets ---------------------------------------------------------- */

int cli_parse_target(const cli_parser *p, const char *opt, const char *text, cli_target *t)
{
	size_t n = strlen(text);
	memset(t, 0, sizeof *t);
	if (n == 0 || n >= sizeof t->text)
		return cli_usage_error(p, "%s: '%s' is not a number of parameters or a percentage",
		                       opt, text), -1;
	memcpy(t->text, text, n + 1);
	if (n > 1 && text[n - 1] == '%') {
		char buf[sizeof t->text];
		memcpy(buf, text, n - 1);
		buf[n - 1] = '\0';
		char *end;
		errno = 0;
		double v = strtod(buf, &end);
		if (end == buf || *end != '\0' || errno == ERANGE || !isfinite(v) ||
		    !((buf[0] >= '0' && buf[0] <= '9') || buf[0] == '.'))
			return cli_usage_error(p, "%s: '%s' is not a number of parameters or a "
			                          "percentage", opt, text), -1;
		if (!(v > 0.0 && v <= 100.0))
			return cli_usage_error(p, "%s: %s is out of range (0%%, 100%%]", opt, text), -1;
		t->percent = v;
		return 0;
	}
	uint64_t v;
	if (cli_size(p, opt, text, 1, NNP_MAX_PARAMS, &v))
		return -1;
	t->params = (size_t)v;
	return 0;
}

/* Calls fn on each comma-separated item of text (copied: items are NUL-terminated). */
static int each_item(const cli_parser *p, const char *opt, const char *text,
                     int (*fn)(const cli_parser *, const char *, const char *, void *), void *ctx)
{
	char *copy = strdup(text);
	if (!copy) {
		fprintf(stderr, "nnprune: out of memory\n");
		return -1;
	}
	int rc = 0;
	char *item = copy;
	for (;;) {
		char *comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		if (!*item) {
			cli_usage_error(p, "%s: \"%s\" has an empty item", opt, text);
			rc = -1;
			break;
		}
		if ((rc = fn(p, opt, item, ctx)))
			break;
		if (!comma)
			break;
		item = comma + 1;
	}
	free(copy);
	return rc;
}

typedef struct target_list {
	cli_target *t;
	size_t n;
} target_list;

static int add_target(const cli_parser *p, const char *opt, const char *item, void *ctx)
{
	target_list *l = ctx;
	if (l->n >= CLI_MAX_BUDGETS)
		return cli_usage_error(p, "%s: more than %u values", opt, CLI_MAX_BUDGETS), -1;
	return cli_parse_target(p, opt, item, &l->t[l->n++]);
}

int cli_parse_targets(const cli_parser *p, const char *opt, const char *text, cli_target **t,
                      size_t *n)
{
	target_list l = { malloc(CLI_MAX_BUDGETS * sizeof *l.t), 0 };
	*t = NULL;
	*n = 0;
	if (!l.t) {
		fprintf(stderr, "nnprune: out of memory\n");
		return -1;
	}
	if (!*text || each_item(p, opt, text, add_target, &l)) {
		if (!*text)
			cli_usage_error(p, "%s: no values", opt);
		free(l.t);
		return -1;
	}
	*t = l.t;
	*n = l.n;
	return 0;
}

typedef struct frac_list {
	double *v;
	size_t n;
} frac_list;

/* A plain decimal number (no sign, no "inf", no hexadecimal). */
static int frac_value(const cli_parser *p, const char *opt, const char *s, double *v)
{
	char *end;
	errno = 0;
	int ok = (s[0] >= '0' && s[0] <= '9') || s[0] == '.';
	for (const char *q = s; ok && *q; q++)
		ok = (*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '-' ||
		     *q == '+';
	double x = ok ? strtod(s, &end) : 0.0;
	if (!ok || *end != '\0' || errno == ERANGE || !isfinite(x))
		return cli_usage_error(p, "%s: '%s' is not a number", opt, s), -1;
	*v = x;
	return 0;
}

static int frac_push(const cli_parser *p, const char *opt, frac_list *l, double x)
{
	if (!(x > 0.0 && x <= 1.0))
		return cli_usage_error(p, "%s: %.12g is out of range (0, 1]", opt, x), -1;
	if (l->n >= CLI_MAX_BUDGETS)
		return cli_usage_error(p, "%s: more than %u values", opt, CLI_MAX_BUDGETS), -1;
	l->v[l->n++] = x;
	return 0;
}

static int add_fraction(const cli_parser *p, const char *opt, const char *item, void *ctx)
{
	frac_list *l = ctx;
	char *c1 = strchr(item, ':');
	if (!c1) {
		double x;
		return frac_value(p, opt, item, &x) ? -1 : frac_push(p, opt, l, x);
	}
	char *c2 = strchr(c1 + 1, ':');
	if (!c2 || strchr(c2 + 1, ':'))
		return cli_usage_error(p, "%s: '%s': a range is start:stop:step", opt, item), -1;
	*c1 = *c2 = '\0';
	double a, b, step;
	if (frac_value(p, opt, item, &a) || frac_value(p, opt, c1 + 1, &b) ||
	    frac_value(p, opt, c2 + 1, &step))
		return -1;
	if (!(step > 0.0))
		return cli_usage_error(p, "%s: range %s:%s:%s: the step must be > 0", opt, item,
		                       c1 + 1, c2 + 1), -1;
	/* The 1e-9 absorbs binary noise: 0.9:0.1:0.1 has 9 values, not 8. */
	double span = fabs(b - a) / step + 1e-9;
	if (!(span < CLI_MAX_BUDGETS))
		return cli_usage_error(p, "%s: more than %u values", opt, CLI_MAX_BUDGETS), -1;
	size_t count = (size_t)floor(span) + 1;
	double dir = b < a ? -1.0 : 1.0;
	for (size_t i = 0; i < count; i++) {
		/* 12 significant digits turn 0.30000000000000004 back into 0.3. */
		char buf[40];
		snprintf(buf, sizeof buf, "%.12g", a + dir * (double)i * step);
		if (frac_push(p, opt, l, strtod(buf, NULL)))
			return -1;
	}
	return 0;
}

int cli_parse_fractions(const cli_parser *p, const char *opt, const char *text, double **vals,
                        size_t *n)
{
	frac_list l = { malloc(CLI_MAX_BUDGETS * sizeof *l.v), 0 };
	*vals = NULL;
	*n = 0;
	if (!l.v) {
		fprintf(stderr, "nnprune: out of memory\n");
		return -1;
	}
	if (!*text || each_item(p, opt, text, add_fraction, &l)) {
		if (!*text)
			cli_usage_error(p, "%s: no values", opt);
		free(l.v);
		return -1;
	}
	*vals = l.v;
	*n = l.n;
	return 0;
}

size_t cli_target_params(const cli_target *t, size_t params0)
{
	if (t->percent > 0.0)
		return (size_t)floor(t->percent / 100.0 * (double)params0 + 1e-9);
	return t->params;
}

/* ---- provenance ------------------------------------------------------- */

void cli_print_methods(nnp_method dflt)
{
	for (size_t i = 0; i < nnp_criteria_count(); i++) {
		const nnp_criterion *c = nnp_criterion_at(i);
		printf("  --method %-8s  %s%s\n", c->name, c->help,
		       (size_t)dflt == i ? " (default)" : "");
	}
}

int cli_method_option(const cli_parser *p, int which, const char *arg, nnp_method_opts *mo)
{
	switch (which) {
	case 'm':
		if (nnp_method_parse(arg, &mo->method))
			return cli_usage_error(p, "--method: '%s' is not %s", arg, nnp_criteria_names()),
			       -1;
		return 0;
	case 'c':
		if (nnp_compensate_parse(arg, &mo->compensate))
			return cli_usage_error(p, "--compensate: '%s' is not none, fold or ls", arg), -1;
		return 0;
	default:
		return cli_double(p, "--lambda", arg, 1e-12, 1e6, &mo->lambda_rel);
	}
}

void cli_prov_init(cli_prov *p)
{
	memset(p, 0, sizeof *p);
	p->lambda_rel = NAN;
	p->mean_thr = p->std_thr = NAN;
	p->fold = -1;
	p->min_keep = CLI_PROV_NONE;
	p->keep_frac = NAN;
	p->alloc_step = CLI_PROV_NONE;
	p->target_params = CLI_PROV_NONE;
}

static void add_crc(cJSON *o, const char *key, uint32_t crc)
{
	char buf[9];
	snprintf(buf, sizeof buf, "%08x", (unsigned)crc);
	cJSON_AddStringToObject(o, key, buf);
}

static void add_budget(cJSON *o, const cli_prov *p)
{
	if (isnan(p->keep_frac) && !p->widths && p->alloc_step == CLI_PROV_NONE &&
	    p->target_params == CLI_PROV_NONE)
		return;
	cJSON *b = cJSON_AddObjectToObject(o, "budget");
	if (!isnan(p->keep_frac))
		cJSON_AddNumberToObject(b, "keep", p->keep_frac);
	if (p->widths) {
		cJSON *w = cJSON_AddArrayToObject(b, "widths");
		for (size_t l = 0; w && l < p->n_widths; l++)
			cJSON_AddItemToArray(w, cJSON_CreateNumber((double)p->widths[l]));
	}
	if (p->target_params != CLI_PROV_NONE) {
		cJSON_AddNumberToObject(b, "target_params", (double)p->target_params);
		if (p->target_text)
			cJSON_AddStringToObject(b, "target", p->target_text);
	}
	if (p->alloc_step != CLI_PROV_NONE) {
		/* 1-based, as the report numbers the path's steps. */
		cJSON_AddNumberToObject(b, "allocation_step", (double)p->alloc_step + 1);
		cJSON_AddNumberToObject(b, "grid_step", p->grid_step);
	}
}

char *cli_provenance_prune(const cli_prov *p)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "tool", "nnprune " NNP_VERSION);
	cJSON_AddStringToObject(o, "operation", "prune");
	cJSON_AddStringToObject(o, "method", p->method);
	if (p->compensate)
		cJSON_AddStringToObject(o, "compensate", p->compensate);
	if (!isnan(p->lambda_rel))
		cJSON_AddNumberToObject(o, "lambda_rel", p->lambda_rel);
	cJSON *s = cJSON_AddObjectToObject(o, "source");
	cJSON_AddStringToObject(s, "path", p->src_path);
	add_crc(s, "crc32", p->src_crc);
	if (p->calib) {
		cJSON *c = cJSON_AddObjectToObject(o, "calibration");
		cJSON_AddStringToObject(c, "path", p->calib->path);
		cJSON_AddNumberToObject(c, "bytes", (double)p->calib->bytes);
		add_crc(c, "crc32", p->calib->crc32);
		cJSON_AddNumberToObject(c, "rows", (double)p->calib->rows);
		if (p->calib->max_rows)
			cJSON_AddNumberToObject(c, "max_rows", (double)p->calib->max_rows);
	}
	if (!isnan(p->mean_thr)) {
		cJSON *t = cJSON_AddObjectToObject(o, "thresholds");
		cJSON_AddNumberToObject(t, "mean", p->mean_thr);
		cJSON_AddNumberToObject(t, "std", p->std_thr);
	}
	add_budget(o, p);
	if (p->fold >= 0)
		cJSON_AddBoolToObject(o, "fold", p->fold);
	if (p->min_keep != CLI_PROV_NONE)
		cJSON_AddNumberToObject(o, "min_keep", (double)p->min_keep);
	cJSON *kept = cJSON_AddArrayToObject(o, "kept");
	for (size_t l = 0; p->kept && l < p->kept->n_layers; l++) {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; i < p->kept->count[l]; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber((double)p->kept->idx[l][i]));
		cJSON_AddItemToArray(kept, a);
	}
	if (p->src && p->src->provenance) {
		cJSON *prev = cJSON_Parse(p->src->provenance);
		if (prev)
			cJSON_AddItemToObject(o, "previous", prev);
	}
	char *txt = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return txt;
}
