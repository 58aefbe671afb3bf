/*
 * Options `prune` and `sweep` share: budgets (--target-params, --keep) and
 * the method (--method, --compensate, --lambda).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/criteria.h"
#include "cli.h"
#include "nnprune/io.h"

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

/* What a list's items are parsed into: room for CLI_MAX_BUDGETS of them. */
typedef struct item_list {
	void *v;
	size_t n;
} item_list;

/* The comma list text parsed by fn, item by item, into *out (malloc'd,
 * elements of size bytes) and *n; -1 after a usage error (said), with *out
 * NULL. */
static int parse_list(const cli_parser *p, const char *opt, const char *text, size_t size,
                      int (*fn)(const cli_parser *, const char *, const char *, void *),
                      void **out, size_t *n)
{
	item_list l = { malloc(CLI_MAX_BUDGETS * size), 0 };
	*out = NULL;
	*n = 0;
	if (!l.v) {
		fprintf(stderr, "nnprune: out of memory\n");
		return -1;
	}
	if (!*text || each_item(p, opt, text, fn, &l)) {
		if (!*text)
			cli_usage_error(p, "%s: no values", opt);
		free(l.v);
		return -1;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

static int add_target(const cli_parser *p, const char *opt, const char *item, void *ctx)
{
	item_list *l = ctx;
	cli_target *t = l->v;
	if (l->n >= CLI_MAX_BUDGETS)
		return cli_usage_error(p, "%s: more than %u values", opt, CLI_MAX_BUDGETS), -1;
	return cli_parse_target(p, opt, item, &t[l->n++]);
}

int cli_parse_targets(const cli_parser *p, const char *opt, const char *text, cli_target **t,
                      size_t *n)
{
	void *v;
	int rc = parse_list(p, opt, text, sizeof **t, add_target, &v, n);
	*t = v;
	return rc;
}

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

static int frac_push(const cli_parser *p, const char *opt, item_list *l, double x)
{
	double *v = l->v;
	if (!(x > 0.0 && x <= 1.0))
		return cli_usage_error(p, "%s: %.12g is out of range (0, 1]", opt, x), -1;
	if (l->n >= CLI_MAX_BUDGETS)
		return cli_usage_error(p, "%s: more than %u values", opt, CLI_MAX_BUDGETS), -1;
	v[l->n++] = x;
	return 0;
}

static int add_fraction(const cli_parser *p, const char *opt, const char *item, void *ctx)
{
	item_list *l = ctx;
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
	void *v;
	int rc = parse_list(p, opt, text, sizeof **vals, add_fraction, &v, n);
	*vals = v;
	return rc;
}

size_t cli_target_params(const cli_target *t, size_t params0)
{
	if (t->percent > 0.0)
		return (size_t)floor(t->percent / 100.0 * (double)params0 + 1e-9);
	return t->params;
}

/* ---- the method ------------------------------------------------------- */

void cli_print_methods(nnp_method dflt)
{
	for (size_t i = 0; i < nnp_criteria_count(); i++) {
		const nnp_criterion *c = nnp_criterion_at(i);
		printf("  --method %-8s  %s%s\n", c->name, c->help,
		       (size_t)dflt == i ? " (default)" : "");
	}
}

static int method_option(const cli_parser *p, int which, const char *arg, nnp_method_opts *mo)
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

void cli_method_init(cli_method *m, nnp_method dflt)
{
	const nnp_method_opts mo = NNP_METHOD_OPTS_INIT;
	memset(m, 0, sizeof *m);
	m->mo = mo;
	m->mo.method = dflt;
}

int cli_method_is_option(int id)
{
	return id >= CLI_M_METHOD && id <= CLI_M_CALIB_ROWS;
}

int cli_method_arg(const cli_parser *p, cli_method *m, int id, const char *arg)
{
	switch (id) {
	case CLI_M_METHOD:
		m->method_set = 1;
		return method_option(p, 'm', arg, &m->mo);
	case CLI_M_COMP:
		m->comp_set = 1;
		return method_option(p, 'c', arg, &m->mo);
	case CLI_M_LAMBDA:
		m->lambda_set = 1;
		return method_option(p, 'l', arg, &m->mo);
	case CLI_M_ALLOC_STEP:
		m->alloc_step_set = 1;
		return cli_double(p, "--allocate-step", arg, 0.001, 0.5, &m->mo.grid_step);
	case CLI_M_CALIB: m->calib = arg; return 0;
	case CLI_M_CALIB_LABELS: m->calib_labels = arg; return 0;
	default:
		return cli_size(p, "--calib-rows", arg, 1, UINT64_MAX, &m->calib_rows);
	}
}

int cli_method_check(const cli_parser *p, const cli_method *m)
{
	if (m->lambda_set && !nnp_method_uses_ridge(&m->mo))
		return cli_usage_error(p, "--lambda: only --method obs and --compensate ls use a "
		                          "ridge"), -1;
	return 0;
}
