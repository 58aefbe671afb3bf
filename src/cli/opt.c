/* Option parsing shared by every subcommand: strict, with honest messages. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "nnprune/pipeline.h"
#include "nnprune/gates.h"
#include "nnprune/io.h"

/* ---- "did you mean" ---- */

static int same_char(char a, char b)
{
	if (a == '_')
		a = '-';
	if (b == '_')
		b = '-';
	return tolower((unsigned char)a) == tolower((unsigned char)b);
}

/* Edit distance with adjacent transpositions (optimal string alignment). */
static size_t edit_distance(const char *a, size_t n, const char *b, size_t m)
{
	enum { MAXLEN = 64 };
	if (n >= MAXLEN || m >= MAXLEN)
		return (size_t)-1;
	size_t d[MAXLEN][MAXLEN];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t cost = !same_char(a[i - 1], b[j - 1]);
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && same_char(a[i - 1], b[j - 2]) &&
			    same_char(a[i - 2], b[j - 1]) && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

const char *cli_suggest(const char *word, size_t len, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	/* A typo costs about one edit in four letters; short words allow one. */
	size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	for (size_t i = 0; i < n; i++) {
		size_t m = strlen(names[i]);
		size_t d = edit_distance(word, len, names[i], m);
		/* An abbreviation ("--max" for "--max-drop") is close too. */
		if (len >= 3 && len < m) {
			size_t k = 0;
			while (k < len && same_char(word[k], names[i][k]))
				k++;
			if (k == len && limit < d)
				d = limit;
		}
		if (d <= limit && d < best_d) {
			best = names[i];
			best_d = d;
		}
	}
	return best;
}

int cli_init(cli_parser *p, int argc, char **argv, const cli_opt *opts,
             const char *cmd, const char *usage, cli_probe *probe)
{
	*p = (cli_parser){ .argc = argc, .argv = argv, .i = 1, .opts = opts, .cmd = cmd,
	                   .usage = usage, .probe = probe };
	p->operands = calloc((size_t)(argc > 0 ? argc : 1), sizeof *p->operands);
	if (!p->operands) {
		fprintf(stderr, "nnprune: out of memory\n");
		return -1;
	}
	return 0;
}

void cli_done(cli_parser *p)
{
	free(p->operands);
	p->operands = NULL;
}

int cli_usage_error(const cli_parser *p, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "nnprune: %s: ", p->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\nTry 'nnprune %s --help' for more.\n", p->usage, p->cmd);
	return NNP_EXIT_USAGE;
}

int cli_next(cli_parser *p, const char **arg)
{
	*arg = NULL;
	if (p->probe) {
		p->probe->opts = p->opts;
		p->probe->usage = p->usage;
		return CLI_ERROR;
	}
	while (p->i < p->argc) {
		char *a = p->argv[p->i++];
		if (p->no_more_opts || a[0] != '-' || a[1] == '\0') {
			p->operands[p->n_operands++] = a;  /* "-" alone is stdin */
			continue;
		}
		if (!strcmp(a, "--")) {
			p->no_more_opts = 1;
			continue;
		}
		const cli_opt *o = NULL;
		const char *val = NULL;
		if (a[1] == '-') {
			const char *name = a + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			for (const cli_opt *q = p->opts; q->name; q++)
				if (strlen(q->name) == len && !strncmp(q->name, name, len))
					o = q;
			if (!o) {
				const char *names[128], *near;
				size_t n = 0;
				for (const cli_opt *q = p->opts; q->name && n < 128; q++)
					names[n++] = q->name;
				if ((near = cli_suggest(name, len, names, n)))
					cli_usage_error(p, "unknown option '--%.*s'; did you mean '--%s'?",
					                (int)len, name, near);
				else
					cli_usage_error(p, "unknown option '--%.*s'", (int)len, name);
				return CLI_ERROR;
			}
			if (eq && !o->has_arg) {
				cli_usage_error(p, "option '--%s' takes no value", o->name);
				return CLI_ERROR;
			}
			if (eq)
				val = eq + 1;
		} else {
			for (const cli_opt *q = p->opts; q->name; q++)
				if (q->short_name && q->short_name == a[1])
					o = q;
			if (!o) {
				cli_usage_error(p, "unknown option '%s'", a);
				return CLI_ERROR;
			}
			if (a[2] != '\0') {
				if (!o->has_arg) {
					cli_usage_error(p, "unknown option '%s'", a);
					return CLI_ERROR;
				}
				val = a + 2;  /* -j2 */
			}
		}
		if (o->has_arg && !val) {
			if (p->i >= p->argc) {
				cli_usage_error(p, "option '--%s' needs a value", o->name);
				return CLI_ERROR;
			}
			val = p->argv[p->i++];
		}
		*arg = val;
		return o->id;
	}
	return CLI_END;
}

int cli_parse_opts(cli_parser *p, const cli_opt *opts, int help_id, void (*help)(void),
                   int (*on)(cli_parser *p, void *ctx, int id, const char *arg), void *ctx)
{
	const char *arg;
	int id;
	if (opts)
		p->opts = opts;
	while ((id = cli_next(p, &arg)) != CLI_END) {
		if (id == CLI_ERROR)
			return -1;
		if (id == help_id) {
			help();
			return 1;
		}
		if (on(p, ctx, id, arg))
			return -1;
	}
	return 0;
}

int cli_parse_cmd(cli_parser *p, int help_id, void (*help)(void),
                  int (*on)(cli_parser *p, void *ctx, int id, const char *arg), void *ctx,
                  int n, const char *what, int *rc)
{
	int prc = cli_parse_opts(p, NULL, help_id, help, on, ctx);
	if (prc)
		*rc = prc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
	else if (p->n_operands != n)
		*rc = cli_usage_error(p, "expected %s, got %d arguments", what, p->n_operands);
	return prc || p->n_operands != n;
}

int cli_double(const cli_parser *p, const char *opt, const char *text, double lo,
               double hi, double *out)
{
	/* strtod alone would take " 1", "0x10", "inf" and "nan": only plain
	 * decimal notation is a number here. */
	const char *q = text;
	if (*q == '+' || *q == '-')
		q++;
	int digits = 0;
	while ((*q >= '0' && *q <= '9') || *q == '.')
		digits += *q++ != '.';
	if (digits && (*q == 'e' || *q == 'E')) {
		q++;
		if (*q == '+' || *q == '-')
			q++;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (!digits || *q != '\0' || end != q) {
		cli_usage_error(p, "%s: '%s' is not a number", opt, text);
		return -1;
	}
	if (errno == ERANGE || !isfinite(v)) {
		cli_usage_error(p, "%s: %s is out of range", opt, text);
		return -1;
	}
	if (v < lo || v > hi) {
		cli_usage_error(p, "%s: %s is out of range [%g, %g]", opt, text, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_size(const cli_parser *p, const char *opt, const char *text, uint64_t lo,
             uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	if (text[0] < '0' || text[0] > '9') {
		cli_usage_error(p, "%s: '%s' is not a whole number", opt, text);
		return -1;
	}
	unsigned long long v = strtoull(text, &end, 10);
	if (*end != '\0' || errno == ERANGE) {
		cli_usage_error(p, "%s: '%s' is not a whole number", opt, text);
		return -1;
	}
	if (v < lo || v > hi) {
		cli_usage_error(p, "%s: %s is out of range [%llu, %llu]", opt, text,
		                (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_size_list(const cli_parser *p, const char *opt, const char *text, const char *example,
                  size_t max, size_t *sizes, size_t *n)
{
	const char *s = text;
	*n = 0;
	if (!*s)
		return cli_usage_error(p, "%s: empty list (expected sizes like %s)", opt, example), -1;
	while (*s) {
		char buf[32];
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		if (*n >= max)
			return cli_usage_error(p, "%s: '%s' has more than %zu values", opt, text, max),
			       -1;
		if (len == 0 || len >= sizeof buf)
			return cli_usage_error(p, "%s: '%s' is not a list of sizes like %s", opt, text,
			                       example), -1;
		memcpy(buf, s, len);
		buf[len] = '\0';
		uint64_t v;
		if (cli_size(p, opt, buf, 1, NNP_MAX_WIDTH, &v))
			return -1;
		sizes[(*n)++] = (size_t)v;
		s += len;
		if (*s == ',' && *++s == '\0')
			return cli_usage_error(p, "%s: trailing comma in '%s'", opt, text), -1;
	}
	return 0;
}

int cli_parse_bytes(const cli_parser *p, const char *opt, const char *text, uint64_t *out)
{
	char buf[64];
	size_t n = strlen(text);
	if (n == 0 || n >= sizeof buf)
		return cli_usage_error(p, "%s: '%s' is not a size", opt, text), -1;
	memcpy(buf, text, n + 1);
	uint64_t mult = nnp_size_suffix(buf[n - 1]);
	if (mult != 1)
		buf[n - 1] = '\0';
	uint64_t v;
	if (cli_size(p, opt, buf, 0, UINT64_MAX / mult, &v))
		return -1;
	*out = v * mult;
	return 0;
}

int cli_parse_widths(const cli_parser *p, const char *opt, const char *text, size_t max_sets,
                     cli_widths *w)
{
	memset(w, 0, sizeof *w);
	w->text = text;
	size_t cap = 0;
	for (const char *s = text;; ) {
		const char *slash = strchr(s, '/');
		size_t len = slash ? (size_t)(slash - s) : strlen(s);
		char buf[4096];
		if (len >= sizeof buf)
			return cli_usage_error(p, "%s: '%.40s...' is too long", opt, s), -1;
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (w->n_sets == max_sets && max_sets == 1)
			return cli_usage_error(p, "%s: one set of widths, without '/'", opt), -1;
		if (w->n_sets == max_sets)
			return cli_usage_error(p, "%s: more than %zu sets of widths", opt, max_sets), -1;
		if (w->n_sets == cap) {
			size_t ncap = cap ? 2 * cap : 4;
			size_t *v = realloc(w->v, ncap * NNP_MAX_LAYERS * sizeof *v);
			if (!v)
				return cli_usage_error(p, "%s: out of memory", opt), -1;
			w->v = v;
			cap = ncap;
		}
		size_t n;
		if (cli_size_list(p, opt, buf, max_sets > 1 ? "160,160,96/192,128,96" : "160,160,96",
		                  NNP_MAX_LAYERS, w->v + w->n_sets * NNP_MAX_LAYERS, &n))
			return -1;
		if (w->n_sets && n != w->n_per)
			return cli_usage_error(p, "%s: '%s' has %zu value%s, the first set %zu", opt,
			                       buf, n, n == 1 ? "" : "s", w->n_per), -1;
		w->n_per = n;
		w->n_sets++;
		if (!slash)
			break;
		s = slash + 1;
	}
	/* Sets were parsed NNP_MAX_LAYERS apart: pack them. */
	for (size_t k = 1; k < w->n_sets; k++)
		memmove(w->v + k * w->n_per, w->v + k * NNP_MAX_LAYERS, w->n_per * sizeof *w->v);
	return 0;
}

void cli_widths_free(cli_widths *w)
{
	free(w->v);
	w->v = NULL;
}

int cli_check_widths(const char *opt, const cli_widths *w, const nnp_model *m, nnp_err *err)
{
	size_t H = m->n_layers - 1;
	for (size_t k = 0; k < w->n_sets; k++) {
		const size_t *v = w->v + k * w->n_per;
		if (w->n_per != H)
			return nnp_err_set(err, NNP_EUSAGE, "%s %s: %zu value%s for a model with %zu "
			                   "hidden layer%s", opt, w->text, w->n_per,
			                   w->n_per == 1 ? "" : "s", H, H == 1 ? "" : "s");
		for (size_t l = 0; l < H; l++)
			if (v[l] > m->layers[l].out)
				return nnp_err_set(err, NNP_EUSAGE, "%s %s: hidden layer %zu has %zu "
				                   "neurons, it cannot keep %zu", opt, w->text, l,
				                   m->layers[l].out, v[l]);
	}
	return NNP_OK;
}

int cli_check_output(const char *path, nnp_err *err)
{
	if (!path[0])
		return nnp_err_set(err, NNP_EOUTPUT, "the output file name is empty");
	if (nnp_is_dir(path))
		return nnp_err_set(err, NNP_EOUTPUT, "%s: is a directory, not a file name", path);
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if (!nnp_is_dir(dir))
		return nnp_err_set(err, NNP_EOUTPUT, "%s: directory %s does not exist", path, dir);
	if (access(dir, W_OK) != 0)
		return nnp_err_set(err, NNP_EOUTPUT, "%s: cannot write in %s: %s", path, dir,
		                   strerror(errno));
	return NNP_OK;
}

int cli_fail(const nnp_err *err)
{
	fprintf(stderr, "nnprune: %s\n", err->msg[0] ? err->msg : "unknown error");
	return nnp_exit_code(err->status);
}

void cli_lock_wait(const char *dir, long pid, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "nnprune: %s: another run (pid %ld) is writing there; waiting for it "
	        "(--no-wait: fail instead)\n", dir, pid);
}

void cli_data_init(cli_data *d)
{
	nnp_data_opts init = NNP_DATA_OPTS_INIT;
	d->opts = init;
	d->opts.labels_option = "--labels FILE";
	d->threads = 0;
	d->batch = 0;
}

int cli_data_option(cli_parser *p, cli_data *d, int id, const char *arg)
{
	uint64_t v;
	switch (id) {
	case CLI_DATA_LABELS:
		d->opts.labels_path = arg;
		return 0;
	case CLI_DATA_HEADER:
		if (nnp_header_parse(arg, &d->opts.header)) {
			cli_usage_error(p, "--header: '%s' is not auto, yes or no", arg);
			return -1;
		}
		return 0;
	case CLI_DATA_LABEL_COL:
		if (!strcmp(arg, "first")) {
			d->opts.label = NNP_LABEL_FIRST;
		} else if (!strcmp(arg, "last")) {
			d->opts.label = NNP_LABEL_LAST;
		} else if (arg[0] >= '0' && arg[0] <= '9') {
			if (cli_size(p, "--label-col", arg, 0, NNP_MAX_COLUMNS - 1, &v))
				return -1;
			d->opts.label = NNP_LABEL_INDEX;
			d->opts.label_index = (size_t)v;
		} else if (arg[0] != '\0') {
			d->opts.label = NNP_LABEL_NAME;
			d->opts.label_name = arg;
		} else {
			cli_usage_error(p, "--label-col: empty value");
			return -1;
		}
		return 0;
	case CLI_DATA_NO_LABEL:
		d->opts.label = NNP_LABEL_NONE;
		return 0;
	case CLI_DATA_DELIM:
		if (!strcmp(arg, "\\t") || !strcmp(arg, "tab"))
			arg = "\t";
		if (strlen(arg) != 1 || strchr("\"\n\r.+-eE", arg[0]) ||
		    (arg[0] >= '0' && arg[0] <= '9')) {
			cli_usage_error(p, "--delimiter: '%s' must be one character other than a "
			                "quote, digit, sign, point, exponent 'e' or line break", arg);
			return -1;
		}
		d->opts.delimiter = arg[0];
		return 0;
	case CLI_DATA_THREADS:
		if (cli_size(p, "--threads", arg, 1, 256, &v))
			return -1;
		d->threads = (unsigned)v;
		return 0;
	default:
		return -1;
	}
}

void cli_label_note(const nnp_reader *r, const char *path, nnp_data_opts *o, int quiet)
{
	size_t col;
	const char *name = nnp_reader_label_by_name(r, &col);
	/* The first column by its name is what the first column by place would
	 * be: nothing to say. */
	if (!name || col == 0) {
		if (o->label == NNP_LABEL_AUTO && nnp_reader_has_labels(r))
			o->label = NNP_LABEL_FIRST;  /* what the reader took */
		return;
	}
	if (!quiet)
		fprintf(stderr, "nnprune: note: %s: the label is column %zu, named '%s' "
		        "(--label-col says otherwise)\n", path, col, name);
	o->label = NNP_LABEL_NAME;
	o->label_name = name;
}

void cli_progress_init(cli_progress *pr, const char *what, int quiet)
{
	pr->enabled = !quiet && isatty(STDERR_FILENO);
	pr->what = what;
	pr->total_rows = 0;
}

void cli_progress_cb(void *ctx, uint64_t rows, uint64_t bytes)
{
	cli_progress *pr = ctx;
	if (!pr || !pr->enabled)
		return;
	if (pr->total_rows)
		fprintf(stderr, "\r%s: %llu / %llu rows (%.0f%%)", pr->what,
		        (unsigned long long)rows, (unsigned long long)pr->total_rows,
		        100.0 * (double)rows / (double)pr->total_rows);
	else
		fprintf(stderr, "\r%s: %llu rows, %.1f MB", pr->what, (unsigned long long)rows,
		        (double)bytes / 1e6);
	fflush(stderr);
}

void cli_progress_end(cli_progress *pr)
{
	if (pr->enabled)
		fprintf(stderr, "\r\033[K");
}

/* "building candidates 3/40" and "fine-tuning 2/5 models" on stderr. */
static void pipeline_progress(void *ctx, nnp_pipeline_stage st, size_t done, size_t total)
{
	(void)ctx;
	if (done == NNP_PROGRESS_END)
		fprintf(stderr, "\r\033[K");
	else if (st == NNP_STAGE_BUILD)
		fprintf(stderr, "\rbuilding candidates: %zu/%zu", done, total);
	else
		fprintf(stderr, "\rnnprune: fine-tuning: %zu/%zu models", done, total);
	fflush(stderr);
}

int cli_pipeline_run(const cli_parser *p, nnp_pipeline **pl, const nnp_model *m,
                     nnp_pipeline_opts *po, int quiet, nnp_err *err)
{
	if (!quiet && isatty(STDERR_FILENO))
		po->progress = pipeline_progress;
	int rc = nnp_pipeline_run(pl, m, po, err);
	if (rc == NNP_EUSAGE)
		return cli_usage_error(p, "%s", err->msg);
	return rc ? cli_fail(err) : NNP_EXIT_OK;
}
