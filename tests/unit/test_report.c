/* Tests of the sweep report: table, Markdown, CSV, JSON, SVG and files. */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cJSON.h>

#include "nnprune/io.h"
#include "nnprune/prune.h"
#include "nnprune/report.h"
#include "testutil.h"

#define N_INPUT 784
#define N_OUTPUT 10
#define HOSTILE_FILE "out/we<ird> & \"name\",x|y.json"

/* ---- fixture: a sweep filled by hand, as the engine would ---- */

typedef struct fixture {
	nnp_sweep sw;
	nnp_stats st;
	nnp_report_info info;
} fixture;

static size_t params_of(size_t n_hidden, const size_t *w)
{
	size_t p = 0, in = N_INPUT;
	for (size_t l = 0; l <= n_hidden; l++) {
		size_t out = l < n_hidden ? w[l] : N_OUTPUT;
		p += in * out + out;
		in = out;
	}
	return p;
}

static size_t macs_of(size_t n_hidden, const size_t *w)
{
	size_t m = 0, in = N_INPUT;
	for (size_t l = 0; l <= n_hidden; l++) {
		size_t out = l < n_hidden ? w[l] : N_OUTPUT;
		m += in * out;
		in = out;
	}
	return m;
}

static void fill_stats(nnp_stats *st, size_t n_hidden, const size_t *widths, const nnp_act *acts,
                       tu_rng *r)
{
	st->rows = 10000;
	st->n_layers = n_hidden;
	st->layers = calloc(n_hidden ? n_hidden : 1, sizeof *st->layers);
	assert_non_null(st->layers);
	for (size_t l = 0; l < n_hidden; l++) {
		nnp_layer_stats *L = &st->layers[l];
		L->layer = l;
		L->neurons = widths[l];
		L->act = acts[l];
		L->mean = calloc(widths[l], sizeof *L->mean);
		L->std = calloc(widths[l], sizeof *L->std);
		assert_true(L->mean && L->std);
		for (size_t j = 0; j < widths[l]; j++) {
			double u = tu_uniform(r, 0, 1);
			if (acts[l] == NNP_ACT_TANH) {
				L->mean[j] = tu_uniform(r, -0.8, 0.8) * u;
				L->std[j] = tu_uniform(r, 0, 0.5) * u;
			} else if (u < 0.2) {
				L->mean[j] = 0; /* dead ReLU */
				L->std[j] = 0;
			} else {
				L->mean[j] = 2 * u * u * tu_uniform(r, 0.2, 1);
				L->std[j] = L->mean[j] * tu_uniform(r, 0.3, 1.2);
			}
		}
	}
}

/* The rule as prune.h states it, with min_keep 1 keeping the largest std. */
static nnp_keep *keep_rule(const nnp_stats *st, double m, double s)
{
	nnp_keep *k = nnp_keep_alloc(st->n_layers);
	assert_non_null(k);
	for (size_t l = 0; l < st->n_layers; l++) {
		const nnp_layer_stats *L = &st->layers[l];
		k->idx[l] = calloc(L->neurons, sizeof *k->idx[l]);
		assert_non_null(k->idx[l]);
		size_t best = 0;
		for (size_t j = 0; j < L->neurons; j++) {
			if (!(fabs(L->mean[j]) <= m && L->std[j] <= s))
				k->idx[l][k->count[l]++] = j;
			if (L->std[j] > L->std[best])
				best = j;
		}
		if (k->count[l] == 0) {
			k->idx[l][k->count[l]++] = best;
			k->floor_hit[l] = 1;
		}
	}
	return k;
}

static char *dup_str(const char *s)
{
	char *p = malloc(strlen(s) + 1);
	assert_non_null(p);
	strcpy(p, s);
	return p;
}

static void fill_candidate(fixture *f, size_t i, double m, double s, tu_rng *r)
{
	nnp_candidate *c = &f->sw.c[i];
	const nnp_candidate *o = &f->sw.original;
	size_t nh = f->st.n_layers;
	c->kind = NNP_CAND_THRESHOLDS;
	c->thr.mean = m;
	c->thr.std = s;
	c->keep = keep_rule(&f->st, m, s);
	c->params = params_of(nh, c->keep->count);
	c->bytes = 4 * c->params + 64;
	c->nonzeros = c->params - 7;
	c->file_bytes = 4 * (uint64_t)c->params + 301;
	c->macs = macs_of(nh, c->keep->count);
	c->reduction = 100.0 * (double)(o->params - c->params) / (double)o->params;
	double gone = c->reduction / 100.0;
	double acc = o->accuracy - 0.9 * gone * gone * gone * gone + tu_uniform(r, -0.002, 0.002);
	c->accuracy = round(fmax(acc, 0.1) * 10000) / 10000;
	c->accuracy_drop = 100.0 * (o->accuracy - c->accuracy);
	c->loss = o->loss + 2 * (o->accuracy - c->accuracy);
	c->agreement = fmin(1, 1 - 1.1 * (o->accuracy - c->accuracy));
	c->floor_hit = 0;
	for (size_t l = 0; l < nh; l++)
		c->floor_hit |= c->keep->floor_hit[l];
	c->same_as = NNP_NO_DUP;
	for (size_t j = 0; j < i; j++)
		if (nnp_keep_equal(f->sw.c[j].keep, c->keep)) {
			c->same_as = j;
			break;
		}
	if (c->same_as != NNP_NO_DUP) {
		/* Same neurons: the engine evaluates once and copies the figures. */
		const nnp_candidate *d = &f->sw.c[c->same_as];
		c->accuracy = d->accuracy;
		c->accuracy_drop = d->accuracy_drop;
		c->loss = d->loss;
		c->agreement = d->agreement;
	} else {
		char name[64];
		snprintf(name, sizeof name, "out/cand-%03zu.json", i);
		c->file = dup_str(name);
		f->sw.n_unique++;
	}
}

/* The Pareto mark a report shows: never on a duplicate. */
static int shown_pareto(const nnp_candidate *c)
{
	return c->pareto && c->same_as == NNP_NO_DUP;
}

/* Pareto and best computed naively from their definitions (duplicates
 * marked like their first, as the engine did: the reports must drop it). */
static void mark_pareto_best(fixture *f, double max_drop)
{
	size_t n = f->sw.n;
	for (size_t i = 0; i <= n; i++) {
		nnp_candidate *c = i == n ? &f->sw.original : &f->sw.c[i];
		c->pareto = 1;
		for (size_t j = 0; j <= n; j++) {
			const nnp_candidate *d = j == n ? &f->sw.original : &f->sw.c[j];
			if (d->params < c->params && d->accuracy >= c->accuracy)
				c->pareto = 0;
		}
	}
	f->info.best = NNP_NO_DUP;
	for (size_t i = 0; i < n; i++) {
		const nnp_candidate *c = &f->sw.c[i];
		if (c->accuracy_drop > max_drop)
			continue;
		if (f->info.best == NNP_NO_DUP || c->params < f->sw.c[f->info.best].params)
			f->info.best = i;
	}
	f->info.max_drop = max_drop;
}

static fixture *fx_create(size_t nh, const size_t *widths, const nnp_act *acts,
                          const double *means, size_t nm, const double *stds, size_t ns,
                          uint64_t seed)
{
	tu_rng r = { seed };
	fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	fill_stats(&f->st, nh, widths, acts, &r);
	nnp_candidate *o = &f->sw.original;
	o->thr.mean = o->thr.std = NAN;
	o->same_as = NNP_NO_DUP;
	o->params = params_of(nh, widths);
	o->bytes = 4 * o->params + 64;
	o->macs = macs_of(nh, widths);
	o->accuracy = 0.9785;
	o->loss = 0.0712;
	o->agreement = 1;
	f->sw.n = nm * ns;
	f->sw.rows = 10000;
	f->sw.c = calloc(f->sw.n ? f->sw.n : 1, sizeof *f->sw.c);
	assert_non_null(f->sw.c);
	for (size_t a = 0; a < nm; a++)
		for (size_t b = 0; b < ns; b++)
			fill_candidate(f, a * ns + b, means[a], stds[b], &r);
	nnp_report_info_init(&f->info);
	f->info.model_path = "models/mnist-mlp.json";
	f->info.data_path = "data/mnist-val.csv.gz";
	f->info.rows = 10000;
	mark_pareto_best(f, 1.0);
	/* As if min_keep had overridden the rule for the last candidate. */
	if (f->sw.n)
		f->sw.c[f->sw.n - 1].floor_hit = 1;
	if (f->sw.n > 3) {
		free(f->sw.c[3].file);
		f->sw.c[3].file = dup_str(HOSTILE_FILE);
	}
	return f;
}

static void fx_free(fixture *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->sw.n; i++) {
		nnp_keep_free(f->sw.c[i].keep);
		free(f->sw.c[i].file);
		free(f->sw.c[i].ft.file);
	}
	free(f->sw.original.ft.file);
	free(f->sw.c);
	for (size_t l = 0; l < f->st.n_layers; l++) {
		free(f->st.layers[l].mean);
		free(f->st.layers[l].std);
	}
	free(f->st.layers);
	free(f);
}

static const double MEANS[] = { 0, 0.02, 0.05, 0.1, 0.2, 0.5 };
static const double STDS[] = { 0, 0.05, 0.1, 0.3 };
#define NM (sizeof MEANS / sizeof MEANS[0])
#define NS (sizeof STDS / sizeof STDS[0])

static fixture *fx_default(void)
{
	static const size_t w[3] = { 120, 60, 30 };
	static const nnp_act a[3] = { NNP_ACT_RELU, NNP_ACT_RELU, NNP_ACT_TANH };
	return fx_create(3, w, a, MEANS, NM, STDS, NS, 42);
}

/* cmocka setups: *state the fixture a test works on, freed by teardown_fx
 * even when the test fails. */
static int setup_default(void **state)
{
	*state = fx_default();
	return 0;
}

static int teardown_fx(void **state)
{
	fx_free(*state);
	return 0;
}

#define FX_TEST(test, setup) cmocka_unit_test_setup_teardown(test, setup, teardown_fx)

/* Not inlined: GCC's -Wdangling-pointer at -O2 otherwise mistakes the text for
 * the local out-parameter that received it. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static char *render(const fixture *f, nnp_report_kind kind, size_t *len)
{
	char *text = NULL;
	nnp_err err;
	nnp_err_clear(&err);
	int rc = nnp_report_render(&text, len, kind, &f->sw, &f->st, &f->info, &err);
	if (rc)
		fail_msg("render %d: %s", (int)kind, err.msg);
	assert_non_null(text);
	if (len)
		assert_int_equal(strlen(text), *len);
	return text;
}

/* Kind k rendered from f and from g gives the same bytes; f's text (caller frees). */
static char *render_same(const fixture *f, const fixture *g, nnp_report_kind k)
{
	size_t la, lb;
	char *a = render(f, k, &la);
	char *b = render(g, k, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(b);
	return a;
}

/* Non-overlapping occurrences. A plain loop: under ASan, strstr rescans the
 * whole haystack on every call. */
static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0, k = strlen(needle);
	for (const char *p = hay; *p;) {
		size_t i = 0;
		while (i < k && p[i] == needle[i])
			i++;
		if (i == k) {
			n++;
			p += k;
		} else {
			p++;
		}
	}
	return n;
}

static char *kept_str(const fixture *f, const nnp_candidate *c, const char *sep)
{
	static char buf[256];
	buf[0] = '\0';
	for (size_t l = 0; l < f->st.n_layers; l++) {
		char one[32];
		snprintf(one, sizeof one, "%s%zu", l ? sep : "",
		         c->keep ? c->keep->count[l] : f->st.layers[l].neurons);
		strcat(buf, one);
	}
	return buf;
}

/* ---- the terminal table ---- */

/* Splits text into lines (modifies it); returns the count. */
static size_t split_lines(char *text, char **lines, size_t max)
{
	size_t n = 0;
	for (char *p = text; *p && n < max;) {
		char *nl = strchr(p, '\n');
		assert_non_null(nl); /* every line ends with a newline */
		*nl = '\0';
		lines[n++] = p;
		p = nl + 1;
	}
	return n;
}

/* Column spans from the dashes line under the header. */
static size_t spans(const char *dashes, size_t *start, size_t *end, size_t max)
{
	size_t n = 0, i = 0, len = strlen(dashes);
	while (i < len && n < max) {
		assert_int_equal(dashes[i], '-');
		start[n] = i;
		while (i < len && dashes[i] == '-')
			i++;
		end[n++] = i;
		assert_true(i == len || !strncmp(dashes + i, "  ", 2));
		i += 2;
	}
	return n;
}

static void cell_at(const char *line, size_t s, size_t e, char *out)
{
	while (s < e && line[s] == ' ')
		s++;
	while (e > s && line[e - 1] == ' ')
		e--;
	memcpy(out, line + s, e - s);
	out[e - s] = '\0';
}

/* Row r of a table with the original first: the original, then candidate r - 1. */
static const nnp_candidate *row_cand(const fixture *f, size_t r)
{
	return r == 0 ? &f->sw.original : &f->sw.c[r - 1];
}

/* The text table of f read back: its lines (header, rule, the original and
 * each candidate, all as wide) and the column spans of the rule, under the
 * nh column heads. */
typedef struct table_doc {
	char *text, *copy;
	size_t len, n;
	char *lines[256];
	size_t s[20], e[20];
	char c[256];
} table_doc;

/* Cell (row, col) of the table, blanks trimmed (valid until the next call). */
static const char *table_cell(table_doc *t, size_t row, size_t col)
{
	cell_at(t->lines[row], t->s[col], t->e[col], t->c);
	return t->c;
}

static void table_read(table_doc *t, const fixture *f, const char *const *heads, size_t nh)
{
	t->text = render(f, NNP_REPORT_TABLE, &t->len);
	t->copy = dup_str(t->text);
	t->n = split_lines(t->copy, t->lines, 256);
	assert_int_equal(t->n, f->sw.n + 3);
	for (size_t i = 0; i < t->n; i++)
		assert_int_equal(strlen(t->lines[i]), strlen(t->lines[0]));
	assert_int_equal(spans(t->lines[1], t->s, t->e, 20), nh);
	for (size_t k = 0; k < nh; k++)
		assert_string_equal(table_cell(t, 0, k), heads[k]);
}

static void table_free(table_doc *t)
{
	free(t->copy);
	free(t->text);
}

static void test_table(void **state)
{
	fixture *f = *state;
	/* A tiny gain rounds to no change, shown "+0.00", never "-0.00". */
	f->sw.c[1].accuracy_drop = -0.001;
	static const char *const heads[15] = { "#", "mean", "std", "kept", "params", "nonzeros",
		                               "file bytes", "reduction", "accuracy", "drop", "loss",
		                               "agreement", "pareto", "floor", "note" };
	table_doc t;
	table_read(&t, f, heads, 15);
	size_t n = t.n;
	/* Right-aligned columns end at the span's last character. */
	static const int right[] = { 0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11 };
	for (size_t row = 2; row < n; row++)
		for (size_t k = 0; k < sizeof right / sizeof right[0]; k++)
			assert_true(t.lines[row][t.e[right[k]] - 1] != ' ');
	for (size_t row = 2; row < n; row++) {
		const nnp_candidate *cd = row_cand(f, row - 2);
		char want[128];
		assert_string_equal(table_cell(&t, row, 3), kept_str(f, cd, "-"));
		snprintf(want, sizeof want, "%zu", cd->params);
		assert_string_equal(table_cell(&t, row, 4), want);
		snprintf(want, sizeof want, "%zu", cd->nonzeros);
		assert_string_equal(table_cell(&t, row, 5), cd->nonzeros ? want : "-");
		snprintf(want, sizeof want, "%llu", (unsigned long long)cd->file_bytes);
		assert_string_equal(table_cell(&t, row, 6), cd->file_bytes ? want : "-");
		snprintf(want, sizeof want, "%.2f%%", 100 * cd->accuracy);
		assert_string_equal(table_cell(&t, row, 8), want);
		assert_string_equal(table_cell(&t, row, 12), shown_pareto(cd) ? "*" : "");
		assert_string_equal(table_cell(&t, row, 13), cd->floor_hit ? "*" : "");
		if (row == 2) {
			assert_string_equal(table_cell(&t, row, 14), "original");
			assert_string_equal(table_cell(&t, row, 0), "orig");
			assert_string_equal(table_cell(&t, row, 9), "-");
			continue;
		}
		size_t i = row - 3;
		want[0] = '\0';
		if (f->info.best == i)
			strcat(want, "best");
		if (cd->same_as != NNP_NO_DUP) {
			char d[32];
			snprintf(d, sizeof d, "%s= #%zu", f->info.best == i ? ", " : "", cd->same_as);
			strcat(want, d);
		}
		assert_string_equal(table_cell(&t, row, 14), want);
		snprintf(want, sizeof want, "%g", cd->thr.mean);
		assert_string_equal(table_cell(&t, row, 1), want);
		snprintf(want, sizeof want, "%+.2f", cd->accuracy_drop);
		if (i == 1)
			strcpy(want, "+0.00");
		assert_string_equal(table_cell(&t, row, 9), want);
	}
	/* The fixture has duplicates, a best and floor hits, so the notes above
	 * were exercised. */
	assert_true(f->sw.n_unique < f->sw.n);
	assert_true(f->info.best != NNP_NO_DUP);
	assert_true(f->sw.c[f->sw.n - 1].floor_hit && count_str(t.text, "best") == 1);

	/* nnp_report_table prints the same bytes. */
	FILE *fp = tmpfile();
	assert_non_null(fp);
	nnp_err err;
	assert_int_equal(nnp_report_table(fp, &f->sw, &f->st, &f->info, &err), 0);
	rewind(fp);
	char *back = calloc(t.len + 2, 1);
	assert_int_equal(fread(back, 1, t.len + 1, fp), t.len);
	assert_string_equal(back, t.text);
	fclose(fp);
	free(back);
	table_free(&t);
}

/* ---- JSON ---- */

static void assert_num(const cJSON *o, const char *key, double want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v))
		fail_msg("%s: not a number", key);
	double tol = 1e-11 * fmax(1, fabs(want));
	if (fabs(v->valuedouble - want) > tol)
		fail_msg("%s: %.17g, want %.17g", key, v->valuedouble, want);
}

static void assert_jnull(const cJSON *o, const char *key)
{
	if (!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key)))
		fail_msg("%s: not null", key);
}

static void assert_bool(const cJSON *o, const char *key, int want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	assert_true(cJSON_IsBool(v));
	assert_int_equal(cJSON_IsTrue(v), !!want);
}

static void assert_jstr(const cJSON *o, const char *key, const char *want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!want) {
		assert_true(cJSON_IsNull(v));
		return;
	}
	assert_true(cJSON_IsString(v));
	assert_string_equal(v->valuestring, want);
}

static void check_model_json(const fixture *f, const cJSON *o, const nnp_candidate *c, int orig)
{
	assert_true(cJSON_IsObject(o));
	if (orig) {
		assert_jnull(o, "mean");
		assert_jnull(o, "std");
		assert_jnull(o, "same_as");
	} else {
		assert_num(o, "mean", c->thr.mean);
		assert_num(o, "std", c->thr.std);
		/* Thresholds come back exactly, not just close. */
		assert_true(cJSON_GetObjectItemCaseSensitive(o, "mean")->valuedouble == c->thr.mean);
		if (c->same_as == NNP_NO_DUP)
			assert_jnull(o, "same_as");
		else
			assert_num(o, "same_as", (double)c->same_as);
	}
	const cJSON *kept = cJSON_GetObjectItemCaseSensitive(o, "kept");
	assert_true(cJSON_IsArray(kept));
	assert_int_equal(cJSON_GetArraySize(kept), f->st.n_layers);
	for (size_t l = 0; l < f->st.n_layers; l++) {
		size_t want = orig ? f->st.layers[l].neurons : c->keep->count[l];
		assert_int_equal((size_t)cJSON_GetArrayItem(kept, (int)l)->valuedouble, want);
	}
	assert_num(o, "params", (double)c->params);
	if (c->nonzeros)
		assert_num(o, "nonzeros", (double)c->nonzeros);
	else
		assert_jnull(o, "nonzeros");
	assert_num(o, "param_bytes", (double)c->bytes);
	if (c->file_bytes)
		assert_num(o, "file_bytes", (double)c->file_bytes);
	else
		assert_jnull(o, "file_bytes");
	assert_num(o, "macs", (double)c->macs);
	assert_num(o, "accuracy", c->accuracy);
	assert_num(o, "accuracy_drop_points", c->accuracy_drop);
	assert_num(o, "loss", c->loss);
	assert_num(o, "agreement", c->agreement);
	assert_num(o, "reduction_percent", c->reduction);
	assert_bool(o, "pareto", shown_pareto(c));
	if (orig) {
		assert_jnull(o, "kept_crc32");
	} else {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kept_crc32");
		assert_true(cJSON_IsString(k) && strlen(k->valuestring) == 8);
	}
	assert_bool(o, "floor_hit", c->floor_hit);
	assert_jstr(o, "file", c->file);
}

static void test_json(void **state)
{
	fixture *f = *state;
	f->info.fold = 0;
	f->info.min_keep = 3;
	char *text = render(f, NNP_REPORT_JSON, NULL);
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	assert_jstr(j, "format", "nnprune-report");
	assert_num(j, "version", 2);
	assert_jstr(j, "tool", "nnprune " NNP_VERSION);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
	assert_jstr(m, "path", "models/mnist-mlp.json");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
	assert_jstr(d, "path", "data/mnist-val.csv.gz");
	assert_num(d, "rows", 10000);
	assert_bool(j, "fold", 0);
	assert_num(j, "min_keep", 3);
	assert_num(j, "best", (double)f->info.best);
	const cJSON *gj = cJSON_GetObjectItemCaseSensitive(j, "gates");
	assert_num(gj, "max_drop_points", 1.0);
	assert_jnull(gj, "min_accuracy");
	assert_jnull(gj, "max_params");
	assert_jnull(gj, "max_params_percent");
	assert_jnull(gj, "max_bytes");
	const cJSON *vj = cJSON_GetObjectItemCaseSensitive(j, "verdict");
	assert_bool(vj, "passed", 1);
	assert_jnull(vj, "failed_gate");
	assert_jnull(j, "shard");
	assert_jnull(j, "manifest");
	assert_num(j, "candidates_total", (double)f->sw.n);
	assert_bool(d, "held_out", 0);
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(j, "layers");
	assert_int_equal(cJSON_GetArraySize(layers), 3);
	assert_jstr(cJSON_GetArrayItem(layers, 2), "activation", "tanh");
	assert_num(cJSON_GetArrayItem(layers, 1), "neurons", 60);
	check_model_json(f, cJSON_GetObjectItemCaseSensitive(j, "original"), &f->sw.original, 1);
	const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "candidates");
	assert_int_equal(cJSON_GetArraySize(cs), f->sw.n);
	for (size_t i = 0; i < f->sw.n; i++) {
		const cJSON *o = cJSON_GetArrayItem(cs, (int)i);
		assert_num(o, "index", (double)i);
		check_model_json(f, o, &f->sw.c[i], 0);
	}
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cs, 3),
	                                                     "file")->valuestring, HOSTILE_FILE);
	cJSON_Delete(j);
	free(text);

	/* No selection and no gate print as null. */
	f->info.best = NNP_NO_DUP;
	f->info.max_drop = NAN;
	text = render(f, NNP_REPORT_JSON, NULL);
	j = cJSON_Parse(text);
	assert_non_null(j);
	assert_jnull(j, "best");
	assert_jnull(cJSON_GetObjectItemCaseSensitive(j, "gates"), "max_drop_points");
	assert_jnull(j, "verdict");
	cJSON_Delete(j);
	free(text);
}

/* ---- CSV ---- */

/* A small RFC 4180 reader: fields of one record into out (malloc'd each). */
static size_t csv_record(const char **pp, char **out, size_t max)
{
	const char *p = *pp;
	size_t n = 0;
	for (;;) {
		char buf[512];
		size_t k = 0;
		if (*p == '"') {
			for (p++;; p++) {
				assert_true(*p != '\0');
				if (*p == '"' && p[1] == '"')
					buf[k++] = *p++;
				else if (*p == '"')
					break;
				else
					buf[k++] = *p;
			}
			p++;
		} else {
			while (*p && *p != ',' && *p != '\n')
				buf[k++] = *p++;
		}
		buf[k] = '\0';
		assert_true(n < max);
		out[n++] = dup_str(buf);
		if (*p == ',') {
			p++;
			continue;
		}
		assert_int_equal(*p, '\n');
		*pp = p + 1;
		return n;
	}
}

/* The report's CSV of f, read whole: record 0 the header, 1 the original,
 * 1 + i candidate i; every record has n fields and nothing follows them. */
typedef struct csv_doc {
	char *text;
	size_t rows;
	char *(*rec)[32];
} csv_doc;

static csv_doc csv_read(const fixture *f, size_t n)
{
	csv_doc d = { render(f, NNP_REPORT_CSV, NULL), f->sw.n + 2, NULL };
	d.rec = calloc(d.rows, sizeof *d.rec);
	assert_non_null(d.rec);
	const char *p = d.text;
	for (size_t r = 0; r < d.rows; r++)
		assert_int_equal(csv_record(&p, d.rec[r], 32), n);
	assert_int_equal(*p, '\0');
	return d;
}

static void csv_free(csv_doc *d)
{
	for (size_t r = 0; r < d->rows; r++)
		for (size_t k = 0; k < 32 && d->rec[r][k]; k++)
			free(d->rec[r][k]);
	free(d->rec);
	free(d->text);
}

/* Fields from, from + 1, ... of a record are the n names. */
static void expect_fields(char **fl, size_t from, const char *const *names, size_t n)
{
	for (size_t k = 0; k < n; k++)
		assert_string_equal(fl[from + k], names[k]);
}

static void test_csv(void **state)
{
	fixture *f = *state;
	csv_doc d = csv_read(f, 18);
	char **fl = d.rec[0];
	assert_string_equal(fl[0], "candidate");
	assert_string_equal(fl[3], "kept");
	static const char *const tail[] = { "file", "nonzeros", "file_bytes" };
	expect_fields(fl, 15, tail, 3);
	for (size_t r = 0; r <= f->sw.n; r++) {
		const nnp_candidate *c = row_cand(f, r);
		fl = d.rec[r + 1];
		char want[64];
		snprintf(want, sizeof want, "%zu", c->nonzeros);
		assert_string_equal(fl[16], c->nonzeros ? want : "");
		snprintf(want, sizeof want, "%llu", (unsigned long long)c->file_bytes);
		assert_string_equal(fl[17], c->file_bytes ? want : "");
		if (r == 0) {
			assert_string_equal(fl[0], "original");
			assert_string_equal(fl[1], "");
			assert_string_equal(fl[2], "");
		} else {
			snprintf(want, sizeof want, "%zu", r - 1);
			assert_string_equal(fl[0], want);
			assert_true(strtod(fl[1], NULL) == c->thr.mean);
			assert_true(strtod(fl[2], NULL) == c->thr.std);
		}
		assert_string_equal(fl[3], kept_str(f, c, "-"));
		assert_int_equal(strtoull(fl[4], NULL, 10), c->params);
		assert_int_equal(strtoull(fl[5], NULL, 10), c->bytes);
		assert_int_equal(strtoull(fl[6], NULL, 10), c->macs);
		assert_true(fabs(strtod(fl[7], NULL) - c->accuracy) < 1e-12);
		assert_true(fabs(strtod(fl[8], NULL) - c->accuracy_drop) < 1e-10);
		assert_true(fabs(strtod(fl[9], NULL) - c->loss) < 1e-12);
		assert_true(fabs(strtod(fl[10], NULL) - c->agreement) < 1e-12);
		assert_true(fabs(strtod(fl[11], NULL) - c->reduction) < 1e-9);
		assert_string_equal(fl[12], shown_pareto(c) ? "1" : "0");
		assert_string_equal(fl[13], c->floor_hit ? "1" : "0");
		if (r == 0 || c->same_as == NNP_NO_DUP) {
			assert_string_equal(fl[14], "");
		} else {
			snprintf(want, sizeof want, "%zu", c->same_as);
			assert_string_equal(fl[14], want);
		}
		assert_string_equal(fl[15], c->file ? c->file : "");
	}
	/* The hostile name was quoted, its quotes doubled. */
	assert_non_null(strstr(d.text, "\"out/we<ird> & \"\"name\"\",x|y.json\""));
	csv_free(&d);
}

/* ---- Markdown ---- */

/* Pipes not preceded by a backslash. */
static size_t md_pipes(const char *line)
{
	size_t n = 0;
	for (const char *p = line; *p; p++)
		if (*p == '|' && (p == line || p[-1] != '\\'))
			n++;
	return n;
}

/* The Markdown of f has one table row for the header, the alignment, the
 * original and each candidate, each with the given number of pipes. */
static void expect_md_table(const fixture *f, const char *text, size_t pipes)
{
	char *copy = dup_str(text);
	char *lines[512];
	size_t n = split_lines(copy, lines, 512), rows = 0;
	for (size_t i = 0; i < n; i++) {
		if (lines[i][0] != '|')
			continue;
		rows++;
		assert_int_equal(md_pipes(lines[i]), pipes);
	}
	assert_int_equal(rows, f->sw.n + 3);
	free(copy);
}

static void test_markdown(void **state)
{
	fixture *f = *state;
	char *text = render(f, NNP_REPORT_MD, NULL);
	assert_non_null(strstr(text, "# nnprune report: mnist-mlp.json\n"));
	assert_non_null(strstr(text, "- data: data/mnist-val.csv.gz (10000 rows)\n"));
	assert_non_null(strstr(text, "- folding: on\n"));
	assert_non_null(strstr(text, "- max drop: 1 point\n"));
	assert_non_null(strstr(text, "(report.svg)"));
	expect_md_table(f, text, 17); /* 16 columns */
	assert_non_null(strstr(text, "out/we\\<ird\\> \\& \"name\",x\\|y.json"));
	assert_non_null(strstr(text, "| ---: |"));
	/* Markers are escaped: a bare '*' could start emphasis. */
	const char *orow = strstr(text, "| orig |");
	assert_non_null(orow);
	const char *oend = strchr(orow, '\n');
	const char *star = strstr(orow, "|   \\*   |");
	assert_int_equal(star != NULL && star < oend, f->sw.original.pareto != 0);
	size_t marks = f->sw.original.pareto != 0;
	for (size_t i = 0; i < f->sw.n; i++)
		marks += shown_pareto(&f->sw.c[i]) + (f->sw.c[i].floor_hit != 0);
	assert_int_equal(count_str(text, "\\*"), marks + 2); /* + the two in the notes */
	assert_int_equal(count_str(text, " * "), 0);
	free(text);
}

/* ---- SVG ---- */

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == ':';
}

static void check_entity(const char **pp)
{
	static const char *ents[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };
	for (size_t i = 0; i < 5; i++)
		if (!strncmp(*pp, ents[i], strlen(ents[i]))) {
			*pp += strlen(ents[i]);
			return;
		}
	fail_msg("bad entity at %.20s", *pp);
}

/* Well-formedness as far as our writer can go wrong: a prolog, one root,
 * balanced and matching tags, quoted attributes, escaped text, only
 * newline/tab controls, valid UTF-8. */
static void check_xml(const char *text)
{
	const char *p = text;
	const char *prolog = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
	assert_int_equal(strncmp(p, prolog, strlen(prolog)), 0);
	p += strlen(prolog);
	char stack[64][32];
	size_t depth = 0, roots = 0;
	while (*p) {
		unsigned char ch = (unsigned char)*p;
		assert_true(ch >= 0x20 || ch == '\n' || ch == '\t');
		if (ch >= 0x80) {
			size_t k = 1;
			while ((((unsigned char)p[k]) & 0xC0) == 0x80)
				k++;
			assert_true(k >= 2 && k <= 4);
			p += k;
			continue;
		}
		if (ch == '&') {
			check_entity(&p);
			continue;
		}
		if (ch == '>')
			fail_msg("stray '>' in text");
		if (ch != '<') {
			p++;
			continue;
		}
		p++;
		int closing = *p == '/';
		if (closing)
			p++;
		char name[32];
		size_t k = 0;
		while (name_char(*p) && k < 31)
			name[k++] = *p++;
		name[k] = '\0';
		assert_true(k > 0);
		if (closing) {
			assert_true(depth > 0);
			assert_string_equal(stack[--depth], name);
			assert_int_equal(*p, '>');
			p++;
			continue;
		}
		for (;;) {
			while (*p == ' ' || *p == '\n')
				p++;
			if (*p == '/' || *p == '>')
				break;
			assert_true(name_char(*p));
			while (name_char(*p))
				p++;
			assert_int_equal(*p++, '=');
			assert_int_equal(*p++, '"');
			while (*p != '"') {
				assert_true(*p && *p != '<');
				if (*p == '&')
					check_entity(&p);
				else
					p++;
			}
			p++;
		}
		if (depth == 0)
			roots++;
		if (*p == '/') {
			assert_int_equal(p[1], '>');
			p += 2;
		} else {
			assert_true(depth < 64);
			strcpy(stack[depth++], name);
			p++;
		}
	}
	assert_int_equal(depth, 0);
	assert_int_equal(roots, 1);
}

static void test_svg_plot(void **state)
{
	fixture *f = *state;
	f->info.model_name = "mnist <mlp> & \"friends\"";
	char *text = render(f, NNP_REPORT_SVG, NULL);
	check_xml(text);
	/* Every candidate in both panels: all sizes, and within a few points. */
	assert_int_equal(count_str(text, "class=\"cand\""), 2 * f->sw.n);
	assert_non_null(strstr(text, "Within 3 points of the original"));
	assert_non_null(strstr(text, "<clipPath id=\"zoom\">"));
	/* Each distinct Pareto candidate in the zoom's range carries its thresholds. */
	double lo = 100.0 * f->sw.original.accuracy - 3;
	for (size_t i = 0; i < f->sw.n; i++) {
		const nnp_candidate *c = &f->sw.c[i];
		if (!c->pareto || c->same_as != NNP_NO_DUP || 100.0 * c->accuracy < lo)
			continue;
		char label[64];
		snprintf(label, sizeof label, ">%g, %g</text>", c->thr.mean, c->thr.std);
		assert_non_null(strstr(text, label));
	}
	assert_non_null(strstr(text, "mnist &lt;mlp&gt; &amp; &quot;friends&quot;"));
	assert_non_null(strstr(text, ">original</text>"));
	assert_non_null(strstr(text, "accuracy (%)"));
	assert_non_null(strstr(text, "parameters (weights + biases"));
	assert_non_null(strstr(text, "stroke-dasharray=\"6 4\""));  /* original accuracy */
	assert_non_null(strstr(text, "stroke-dasharray=\"2 3\""));  /* the gate */
	/* Self-contained: the namespace is the only URL, nothing is linked. */
	assert_int_equal(count_str(text, "http"), 1);
	assert_null(strstr(text, "href"));
	assert_null(strstr(text, "<script"));
	assert_null(strstr(text, "<style"));
	/* A Pareto staircase is drawn when two or more points are on the front. */
	size_t front = 0;
	for (size_t i = 0; i < f->sw.n; i++)
		front += f->sw.c[i].pareto != 0;
	assert_true(front >= 2);
	assert_non_null(strstr(text, " H "));
	free(text);
}

static void test_svg_stats(void **state)
{
	fixture *f = *state;
	char *text = render(f, NNP_REPORT_STATS_SVG, NULL);
	check_xml(text);
	assert_int_equal(count_str(text, "class=\"n\""), 120 + 60 + 30);
	assert_non_null(strstr(text, "layer 0</tspan> (relu, 120 neurons)"));
	assert_non_null(strstr(text, "layer 2</tspan> (tanh, 30 neurons)"));
	/* Neurons removed by the best candidate are drawn red. */
	const nnp_keep *k = f->sw.c[f->info.best].keep;
	size_t removed = 0;
	for (size_t l = 0; l < 3; l++)
		removed += f->st.layers[l].neurons - k->count[l];
	assert_true(removed > 0);
	assert_int_equal(count_str(text, "class=\"n\" cx"), 210);
	size_t red = 0;
	for (const char *p = text; (p = strstr(p, "<circle class=\"n\"")) != NULL; p++) {
		const char *end = strchr(p, '>');
		const char *fill = strstr(p, "fill=\"#d62728\"");
		red += fill && fill < end;
	}
	assert_int_equal(red, removed);
	free(text);

	/* A very wide layer is thinned to a bounded number of points. */
	static const size_t w[1] = { 50001 };
	static const nnp_act a[1] = { NNP_ACT_SIGMOID };
	static const double m1[1] = { 0.1 }, s1[1] = { 0.1 };
	fixture *g = fx_create(1, w, a, m1, 1, s1, 1, 7);
	text = render(g, NNP_REPORT_STATS_SVG, NULL);
	check_xml(text);
	assert_int_equal(count_str(text, "class=\"n\""), (50001 + 2) / 3);
	assert_non_null(strstr(text, "50001 neurons, 1 in 3 shown"));
	free(text);
	fx_free(g);
}

/* Hostile strings everywhere stay escaped; invalid UTF-8 and controls are replaced. */
static void test_hostile_names(void **state)
{
	fixture *f = *state;
	f->info.model_path = "m/<script>alert('x')</script>&amp;.json";
	f->info.data_path = "d/\x01\xff\"bad\"\n.csv";
	for (int k = 0; k < NNP_REPORT_KINDS; k++) {
		char *text = render(f, (nnp_report_kind)k, NULL);
		if (k == NNP_REPORT_SVG || k == NNP_REPORT_STATS_SVG) {
			check_xml(text);
			assert_null(strstr(text, "<script"));
		}
		if (k == NNP_REPORT_JSON) {
			cJSON *j = cJSON_Parse(text);
			assert_non_null(j);
			const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
			assert_jstr(d, "path", "d/\x01\xEF\xBF\xBD\"bad\"\n.csv");
			assert_jstr(cJSON_GetObjectItemCaseSensitive(j, "model"), "path",
			            f->info.model_path);
			cJSON_Delete(j);
		}
		if (k == NNP_REPORT_MD) {
			/* Every '<' is backslash-escaped, so no HTML gets through. */
			for (const char *p = strchr(text, '<'); p; p = strchr(p + 1, '<'))
				assert_int_equal(p[-1], '\\');
			assert_non_null(strstr(text, "\\<script\\>"));
		}
		free(text);
	}
}

/* ---- determinism, edges, errors, files ---- */

static void test_deterministic(void **state)
{
	(void)state;
	fixture *f = fx_default(), *g = fx_default();
	for (int k = 0; k < NNP_REPORT_KINDS; k++) {
		free(render_same(f, f, (nnp_report_kind)k));
		free(render_same(f, g, (nnp_report_kind)k));
	}
	fx_free(f);
	fx_free(g);
}

static void test_edges(void **state)
{
	(void)state;
	
/* No candidates at all, and a model without hidden layers. */
	static const size_t w[2] = { 16, 8 };
	static const nnp_act a[2] = { NNP_ACT_RELU, NNP_ACT_RELU };
	fixture *f = fx_create(2, w, a, MEANS, 0, STDS, 0, 3);
	fixture *g = fx_create(0, w, a, MEANS, 1, STDS, 2, 3);
	for (int k = 0; k < NNP_REPORT_KINDS; k++) {
		char *t1 = render(f, (nnp_report_kind)k, NULL);
		char *t2 = render(g, (nnp_report_kind)k, NULL);
		if (k == NNP_REPORT_SVG || k == NNP_REPORT_STATS_SVG) {
			check_xml(t1);
			check_xml(t2);
		}
		if (k == NNP_REPORT_JSON) {
			cJSON *j = cJSON_Parse(t1);
			assert_non_null(j);
			assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j,
			                 "candidates")), 0);
			assert_jnull(j, "best");
			cJSON_Delete(j);
			j = cJSON_Parse(t2);
			assert_non_null(j);
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "original");
			assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "kept")),
			                 0);
			cJSON_Delete(j);
		}
		if (k == NNP_REPORT_TABLE)
			assert_int_equal(count_str(t1, "\n"), 3);
		if (k == NNP_REPORT_STATS_SVG)
			assert_non_null(strstr(t2, "no hidden layers"));
		free(t1);
		free(t2);
	}
	fx_free(f);
	fx_free(g);
}

static void expect_error(const fixture *f, int status, const char *msg)
{
	char *text = (char *)1;
	nnp_err err;
	nnp_err_clear(&err);
	int rc = nnp_report_render(&text, NULL, NNP_REPORT_JSON, &f->sw, &f->st, &f->info, &err);
	assert_int_equal(rc, status);
	assert_int_equal(err.status, status);
	assert_null(text);
	if (!strstr(err.msg, msg))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
}

static void test_errors(void **state)
{
	fixture *f = *state;
	size_t saved = f->info.best;
	f->info.best = 99;
	expect_error(f, NNP_EUSAGE, "best candidate 99 out of range (24)");
	f->info.best = saved;

	f->sw.c[5].keep->n_layers = 2;
	expect_error(f, NNP_EUSAGE, "candidate 5: kept set has 2 hidden layers, statistics 3");
	f->sw.c[5].keep->n_layers = 3;

	size_t c = f->sw.c[6].keep->count[1];
	f->sw.c[6].keep->count[1] = 61;
	expect_error(f, NNP_EUSAGE, "candidate 6: layer 1 keeps 61 neurons, statistics have 60");
	f->sw.c[6].keep->count[1] = c;

	size_t sa = f->sw.c[2].same_as;
	f->sw.c[2].same_as = 2;
	expect_error(f, NNP_EUSAGE, "candidate 2: same_as 2 is not an earlier candidate");
	f->sw.c[2].same_as = sa;

	char *text = NULL;
	nnp_err err;
	assert_int_equal(nnp_report_render(&text, NULL, NNP_REPORT_CSV, &f->sw, NULL, &f->info,
	                                   &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "missing statistics"));
	assert_int_equal(nnp_report_render(&text, NULL, (nnp_report_kind)42, &f->sw, &f->st,
	                                   &f->info, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "unknown output kind 42"));
	assert_null(text);
	assert_null(nnp_report_file_name(NNP_REPORT_TABLE));
	assert_string_equal(nnp_report_file_name(NNP_REPORT_STATS_SVG), "stats.svg");
}

static size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_write(void **state)
{
	fixture *f = *state;
	char *dir = tu_mkdtemp();
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_report_write(dir, &f->sw, &f->st, &f->info, &err), 0);
	assert_int_equal(dir_entries(dir), 6); /* no temporary file left behind */
	for (int k = 1; k < NNP_REPORT_KINDS; k++) {
		char *path = tu_path(dir, nnp_report_file_name((nnp_report_kind)k));
		size_t n, m;
		unsigned char *disk = tu_read(path, &n);
		char *text = render(f, (nnp_report_kind)k, &m);
		assert_int_equal(n, m);
		assert_memory_equal(disk, text, n);
		free(disk);
		free(text);
		free(path);
	}
	/* Writing again replaces the files in place. */
	assert_int_equal(nnp_report_write(dir, &f->sw, &f->st, &f->info, &err), 0);
	assert_int_equal(dir_entries(dir), 6);
	{
		/* report.html as nnp_report_render_html renders it. */
		char *path = tu_path(dir, "report.html"), *html = NULL;
		size_t n, m;
		unsigned char *disk = tu_read(path, &n);
		assert_int_equal(nnp_report_render_html(&html, &m, &f->sw, &f->st, &f->info, &err), 0);
		assert_int_equal(n, m);
		assert_memory_equal(disk, html, n);
		free(disk);
		free(html);
		free(path);
	}

	/* A rendering error writes nothing. */
	char *sub = tu_path(dir, "empty");
	assert_int_equal(nnp_mkdir(sub, &err), 0);
	f->info.best = 1000;
	assert_int_equal(nnp_report_write(sub, &f->sw, &f->st, &f->info, &err), NNP_EUSAGE);
	assert_int_equal(dir_entries(sub), 0);

	/* An unwritable place is an output error naming the file. */
	char *missing = tu_path(dir, "missing");
	f->info.best = NNP_NO_DUP;
	assert_int_equal(nnp_report_write(missing, &f->sw, &f->st, &f->info, &err), NNP_EOUTPUT);
	assert_int_equal(err.status, NNP_EOUTPUT);
	char *want = tu_path(missing, "report.md");
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
	free(want);
	free(missing);
	free(sub);
	tu_rmtree_free(dir);
}

/* ---- the manifest, the previous run's files, --best ---- */

static void put_file(const char *dir, const char *name, size_t bytes)
{
	char *p = tu_path(dir, name);
	char *buf = malloc(bytes + 1);
	memset(buf, 'x', bytes);
	tu_write(p, buf, bytes);
	free(buf);
	free(p);
}

static int exists_in(const char *dir, const char *name)
{
	char *p = tu_path(dir, name);
	struct stat st;
	int r = lstat(p, &st) == 0;
	free(p);
	return r;
}

static void test_manifest(void **state)
{
	fixture *f = *state;
	char *dir = tu_mkdtemp();
	nnp_err err;
	/* The run's model files: two in the directory (one in a subdirectory),
	 * one elsewhere; a duplicate naming its first's file is listed once. */
	char *sub = tu_path(dir, "sub");
	assert_int_equal(nnp_mkdir(sub, &err), 0);
	put_file(dir, "a.bin", 10);
	put_file(dir, "sub/b.bin", 20);
	put_file(dir, "own.txt", 5);     /* the user's: never listed, never removed */
	char *other = tu_mkdtemp();
	put_file(other, "c.bin", 30);
	for (size_t i = 0; i < f->sw.n; i++) {
		free(f->sw.c[i].file);
		f->sw.c[i].file = NULL;
	}
	f->sw.c[0].file = tu_path(dir, "a.bin");
	f->sw.c[1].file = tu_path(dir, "a.bin");
	f->sw.c[2].file = tu_path(dir, "sub/b.bin");
	f->sw.c[3].file = tu_path(other, "c.bin");
	nnp_manifest m = { 0 };
	assert_int_equal(nnp_manifest_of_run(&m, dir, &f->sw, &err), 0);
	static const char *const want[] = { "a.bin", "sub/b.bin", "report.md", "report.csv",
		                            "report.svg", "stats.svg", "report.html", "report.json" };
	static const uint64_t want_bytes[] = { 10, 20 };
	assert_int_equal(m.n, 8);
	for (size_t i = 0; i < 8; i++) {
		assert_string_equal(m.e[i].name, want[i]);
		assert_true(m.e[i].bytes == (i < 2 ? want_bytes[i] : NNP_MANIFEST_ANY_SIZE));
	}
	/* report.json carries it, and it reads back equal. */
	f->info.manifest = &m;
	assert_int_equal(nnp_report_write(dir, &f->sw, &f->st, &f->info, &err), 0);
	nnp_manifest back;
	assert_int_equal(nnp_manifest_read(&back, dir, &err), 0);
	assert_int_equal(back.n, m.n);
	for (size_t i = 0; i < m.n; i++) {
		assert_string_equal(back.e[i].name, m.e[i].name);
		assert_true(back.e[i].bytes == m.e[i].bytes);
	}
	nnp_manifest_free(&back);

	/* The next run removes exactly those; a listed file whose size changed
	 * (someone else's now) stays and is reported. */
	put_file(dir, "sub/b.bin", 21);
	size_t removed = 0;
	nnp_manifest left;
	assert_int_equal(nnp_manifest_clean(dir, &removed, &left, &err), 0);
	assert_int_equal(removed, 7);  /* a.bin and the six reports */
	assert_int_equal(left.n, 1);
	assert_string_equal(left.e[0].name, "sub/b.bin");
	nnp_manifest_free(&left);
	assert_false(exists_in(dir, "a.bin"));
	assert_false(exists_in(dir, "report.json"));
	assert_true(exists_in(dir, "sub/b.bin"));
	assert_true(exists_in(dir, "own.txt"));
	assert_true(exists_in(other, "c.bin"));
	/* Nothing listed any more: a second clean removes nothing. */
	assert_int_equal(nnp_manifest_clean(dir, &removed, NULL, &err), 0);
	assert_int_equal(removed, 0);

	/* Missing files are skipped; a listed directory or link is left. */
	put_file(dir, "a.bin", 10);
	assert_int_equal(nnp_report_write(dir, &f->sw, &f->st, &f->info, &err), 0);
	char *rp = tu_path(dir, "report.md");
	unlink(rp);
	free(rp);
	char *ap = tu_path(dir, "a.bin"), *op = tu_path(dir, "own.txt");
	unlink(ap);
	assert_int_equal(symlink(op, ap), 0);  /* a.bin now a link to the user's file */
	assert_int_equal(nnp_manifest_clean(dir, &removed, &left, &err), 0);
	assert_int_equal(removed, 5);
	assert_int_equal(left.n, 2);  /* a.bin (a link), sub/b.bin (size) */
	nnp_manifest_free(&left);
	assert_true(exists_in(dir, "own.txt"));
	unlink(ap);

	/* A subdirectory replaced by a link to elsewhere is not followed. */
	char *other_b = tu_path(other, "b.bin");
	char *subb = tu_path(dir, "sub/b.bin");
	unlink(subb);
	rmdir(sub);
	assert_int_equal(symlink(other, sub), 0);
	put_file(other, "b.bin", 20);
	f->info.manifest = &m;
	assert_int_equal(nnp_report_write(dir, &f->sw, &f->st, &f->info, &err), 0);
	assert_int_equal(nnp_manifest_clean(dir, &removed, &left, &err), 0);
	assert_true(exists_in(other, "b.bin"));
	nnp_manifest_free(&left);
	unlink(sub);
	free(other_b);
	free(subb);

	/* Names leaving the directory are refused before anything is removed. */
	static const char *const bad[] = { "../x", "/etc/passwd", "a/../../b", "a//b", "./a", "" };
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		char json[512];
		snprintf(json, sizeof json, "{\"format\": \"nnprune-report\", \"version\": 2, "
		         "\"manifest\": [{\"file\": \"own.txt\", \"bytes\": 5}, {\"file\": \"%s\", "
		         "\"bytes\": null}]}", bad[k]);
		put_file(dir, "report.json", 0);
		char *jp = tu_path(dir, "report.json");
		tu_write(jp, json, strlen(json));
		free(jp);
		assert_int_equal(nnp_manifest_clean(dir, &removed, NULL, &err), NNP_EINPUT);
		assert_non_null(strstr(err.msg, "manifest entry 1"));
		assert_true(exists_in(dir, "own.txt"));
	}
	/* Not a report of ours, or one without a manifest: nothing to remove. */
	put_file(dir, "report.json", 3);
	assert_int_equal(nnp_manifest_clean(dir, &removed, NULL, &err), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(nnp_manifest_add(&m, "../up", 1, &err), NNP_EUSAGE);
	nnp_manifest_free(&m);
	f->info.manifest = NULL;
	free(ap);
	free(op);
	free(sub);
	tu_rmtree_free(other);
	tu_rmtree_free(dir);
}

static void test_best_path(void **state)
{
	char *path = tu_file(*state, "best.bin");
	const char *dir = ((const tu_fixture *)*state)->dir;
	nnp_err err;
	int ours = -1, removed = -1;
	/* Nothing there: go ahead. */
	assert_int_equal(nnp_best_check(path, &ours, &err), 0);
	assert_int_equal(ours, 0);
	assert_int_equal(nnp_best_remove(path, &removed, &err), 0);
	assert_int_equal(removed, 0);
	/* Someone's file: refused before any work, and never removed. */
	put_file(dir, "best.bin", 40);
	assert_int_equal(nnp_best_check(path, &ours, &err), NNP_EOUTPUT);
	assert_non_null(strstr(err.msg, "exists and is not a model an earlier --best wrote"));
	assert_int_equal(nnp_best_remove(path, &removed, &err), NNP_EOUTPUT);
	assert_true(exists_in(dir, "best.bin"));
	/* Ours (marked): accepted, and removed on a failed gate with its sidecar. */
	assert_int_equal(nnp_best_mark(path, &err), 0);
	assert_true(exists_in(dir, "best.bin.nnprune.json"));
	assert_int_equal(nnp_best_check(path, &ours, &err), 0);
	assert_int_equal(ours, 1);
	/* Changed since (same size, other bytes): no longer ours. */
	char *p40 = malloc(40);
	memset(p40, 'y', 40);
	tu_write(path, p40, 40);
	assert_int_equal(nnp_best_check(path, &ours, &err), NNP_EOUTPUT);
	memset(p40, 'x', 40);
	tu_write(path, p40, 40);
	free(p40);
	assert_int_equal(nnp_best_check(path, &ours, &err), 0);
	assert_int_equal(nnp_best_remove(path, &removed, &err), 0);
	assert_int_equal(removed, 1);
	assert_false(exists_in(dir, "best.bin"));
	assert_false(exists_in(dir, "best.bin.nnprune.json"));
	/* A directory at PATH is refused. */
	assert_int_equal(nnp_mkdir(path, &err), 0);
	assert_int_equal(nnp_best_check(path, &ours, &err), NNP_EOUTPUT);
	rmdir(path);
}

/* prune --json: the one pruned model as report.json's, checked field by field
 * and against schema/nnprune.prune.v1.json (when python3-jsonschema is here). */
static void test_prune_json(void **state)
{
	fixture *f = *state;
	nnp_sweep one = f->sw;
	one.n = 1;
	one.c = &f->sw.c[5];
	one.n_unique = 1;
	f->info.best = 0;
	f->info.method = "obs";
	f->info.compensate = "ls";
	f->info.lambda_rel = 0.001;
	f->info.calib_path = "data/calib.csv";
	f->info.calib_rows = 5000;
	nnp_gates g;
	nnp_gates_init(&g);
	g.max_params_pct = 90;
	f->info.gates = &g;
	char *text = NULL;
	nnp_err err;
	for (int evaluated = 1; evaluated >= 0; evaluated--) {
		if (!evaluated)
			f->info.data_path = NULL;
		assert_int_equal(nnp_report_render_prune(&text, NULL, &one, &f->st, &f->info,
		                                         "out/p.bin", "bin", &err), 0);
		cJSON *j = cJSON_Parse(text);
		assert_non_null(j);
		assert_jstr(j, "format", "nnprune.prune");
		assert_num(j, "version", 1);
		assert_jstr(cJSON_GetObjectItemCaseSensitive(j, "output"), "path", "out/p.bin");
		assert_jstr(j, "method", "obs");
		assert_num(cJSON_GetObjectItemCaseSensitive(j, "gates"), "max_params_percent", 90);
		const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "pruned");
		assert_num(pr, "params", (double)one.c[0].params);
		assert_num(pr, "nonzeros", (double)one.c[0].nonzeros);
		assert_num(pr, "file_bytes", (double)one.c[0].file_bytes);
		if (evaluated) {
			assert_num(pr, "accuracy", one.c[0].accuracy);
			assert_num(cJSON_GetObjectItemCaseSensitive(j, "evaluation"), "rows", 10000);
		} else {
			assert_jnull(pr, "accuracy");
			assert_jnull(j, "evaluation");
		}
		assert_bool(cJSON_GetObjectItemCaseSensitive(j, "verdict"), "passed", 1);
		cJSON_Delete(j);
		/* Against the schema. */
		char *dir = tu_mkdtemp(), *doc = tu_path(dir, "prune.json");
		tu_write(doc, text, strlen(text));
		char cmd[4096];
		snprintf(cmd, sizeof cmd, "python3 %s/../cli/check_schema.py "
		         "%s/../../schema/nnprune.prune.v1.json %s >/dev/null 2>&1",
		         NNP_TEST_DATA, NNP_TEST_DATA, doc);
		int st = system(cmd);
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (code != 77 && code != 127)  /* no jsonschema module / no python3 */
			assert_int_equal(code, 0);
		free(doc);
		tu_rmtree_free(dir);
		free(text);
	}
	one.n = 2;
	assert_int_equal(nnp_report_render_prune(&text, NULL, &one, &f->st, &f->info, "o", "bin",
	                                         &err), NNP_EUSAGE);
	assert_null(text);
}

/* ---- fine-tuning ---- */

#define FT_EPOCHS 2
#define FT_HOSTILE "out/ft \"x\",y.json"

/*
 * Fine-tuned figures as `sweep --finetune` fills them: the original and every
 * candidate (only the Pareto ones with pareto_only), duplicates copying
 * their first. Accuracies are whole basis points, so no cell rounds at a
 * tie. The best is chosen again on the fine-tuned drop, as the gate does.
 */
static void fx_finetune(fixture *f, int pareto_only, tu_rng *r)
{
	nnp_candidate *o = &f->sw.original;
	o->ft.done = 1;
	o->ft.accuracy = 0.9811;
	o->ft.loss = 0.0655;
	o->ft.drop = 100.0 * (o->accuracy - o->ft.accuracy);
	o->ft.drop_vs_ft = 0;
	o->ft.file = dup_str("out/orig-ft2.json");
	f->info.ft_epochs = FT_EPOCHS;
	f->info.ft_data_path = "data/train.csv";
	f->info.ft_lr = 0.001;
	f->info.ft_seed = 7;
	for (size_t i = 0; i < f->sw.n; i++) {
		nnp_candidate *c = &f->sw.c[i];
		if (pareto_only && !c->pareto)
			continue;
		c->ft.done = 1;
		if (c->same_as != NNP_NO_DUP) {
			const nnp_candidate *d = &f->sw.c[c->same_as];
			c->ft.accuracy = d->ft.accuracy;
			c->ft.loss = d->ft.loss;
		} else {
			double gain = 0.6 * (o->ft.accuracy - c->accuracy) + tu_uniform(r, -0.001, 0.001);
			c->ft.accuracy = round((c->accuracy + gain) * 10000) / 10000;
			c->ft.loss = c->loss * 0.8;
		}
		c->ft.drop = 100.0 * (o->accuracy - c->ft.accuracy);
		c->ft.drop_vs_ft = 100.0 * (o->ft.accuracy - c->ft.accuracy);
		char name[64];
		snprintf(name, sizeof name, "out/cand-%03zu-ft2.json", i);
		c->ft.file = dup_str(i == 3 ? FT_HOSTILE : name);
	}
	f->info.best = NNP_NO_DUP;
	for (size_t i = 0; i < f->sw.n; i++) {
		const nnp_candidate *c = &f->sw.c[i];
		if (!c->ft.done || c->ft.drop > f->info.max_drop)
			continue;
		if (f->info.best == NNP_NO_DUP || c->params < f->sw.c[f->info.best].params)
			f->info.best = i;
	}
}

static fixture *fx_ft(int pareto_only)
{
	fixture *f = fx_default();
	tu_rng r = { 99 };
	fx_finetune(f, pareto_only, &r);
	return f;
}

static int setup_ft(void **state)
{
	*state = fx_ft(1);
	return 0;
}

static int setup_ft_all(void **state)
{
	*state = fx_ft(0);
	return 0;
}

static void signed2(char *buf, size_t n, double x)
{
	snprintf(buf, n, "%+.2f", x);
}

static void test_ft_table(void **state)
{
	fixture *f = *state;
	static const char *const heads[18] = { "#", "mean", "std", "kept", "params", "nonzeros",
		                               "file bytes", "reduction", "accuracy", "drop", "loss",
		                               "agreement", "ft accuracy", "ft drop", "vs ft orig",
		                               "pareto", "floor", "note" };
	table_doc t;
	table_read(&t, f, heads, 18);
	size_t n = t.n;
	char want[64];
	size_t tuned = 0, not_tuned = 0;
	for (size_t row = 2; row < n; row++) {
		int orig = row == 2;
		const nnp_candidate *cd = row_cand(f, row - 2);
		/* The one-shot columns keep their places. */
		snprintf(want, sizeof want, "%.2f%%", 100 * cd->accuracy);
		assert_string_equal(table_cell(&t, row, 8), want);
		assert_string_equal(table_cell(&t, row, 15), shown_pareto(cd) ? "*" : "");
		if (!cd->ft.done) {
			not_tuned++;
			assert_string_equal(table_cell(&t, row, 12), "-");
			assert_string_equal(table_cell(&t, row, 13), "-");
			assert_string_equal(table_cell(&t, row, 14), "-");
			continue;
		}
		tuned++;
		snprintf(want, sizeof want, "%.2f%%", 100 * cd->ft.accuracy);
		assert_string_equal(table_cell(&t, row, 12), want);
		signed2(want, sizeof want, 100 * (f->sw.original.accuracy - cd->ft.accuracy));
		assert_string_equal(table_cell(&t, row, 13), want);
		if (orig)
			strcpy(want, "-");
		else
			signed2(want, sizeof want, 100 * (f->sw.original.ft.accuracy - cd->ft.accuracy));
		assert_string_equal(table_cell(&t, row, 14), want);
	}
	/* Both kinds of row were seen: --finetune-pareto leaves some out. */
	assert_true(tuned >= 2 && not_tuned >= 2);
	table_free(&t);
}

static void test_ft_markdown(void **state)
{
	fixture *f = *state;
	char *text = render(f, NNP_REPORT_MD, NULL);
	assert_non_null(strstr(text, "- max drop: 1 point (after fine-tuning)\n"));
	assert_non_null(strstr(text, "- fine-tuning: 2 epochs on data/train.csv (lr 0.001, seed 7)\n"));
	const nnp_candidate *b = &f->sw.c[f->info.best];
	char want[256];
	snprintf(want, sizeof want, "- best: \\#%zu: %zu parameters (%.1f%% fewer), accuracy %.2f%% "
	         "(drop %+.2f points), fine-tuned %.2f%% (drop %+.2f points)\n", f->info.best,
	         b->params, b->reduction, 100 * b->accuracy, b->accuracy_drop,
	         100 * b->ft.accuracy, b->ft.drop);
	if (!strstr(text, want))
		fail_msg("no \"%s\" in the Markdown", want);
	assert_non_null(strstr(text, "vs ft orig: points lost against the original fine-tuned"));
	expect_md_table(f, text, 20); /* 19 columns */
	assert_non_null(strstr(text, "| ft accuracy | ft drop | vs ft orig |"));
	free(text);
}

static void test_ft_csv(void **state)
{
	fixture *f = *state;
	csv_doc d = csv_read(f, 23);
	char **fl = d.rec[0];
	static const char *const tail[] = { "file", "ft_accuracy", "ft_accuracy_drop",
		                            "ft_accuracy_drop_vs_finetuned_original", "ft_loss",
		                            "ft_file" };
	expect_fields(fl, 15, tail, 6);
	const nnp_candidate *o = &f->sw.original;
	for (size_t r = 0; r <= f->sw.n; r++) {
		const nnp_candidate *c = row_cand(f, r);
		fl = d.rec[r + 1];
		/* The first 16 fields as without fine-tuning. */
		assert_true(fabs(strtod(fl[7], NULL) - c->accuracy) < 1e-12);
		assert_string_equal(fl[15], c->file ? c->file : "");
		if (!c->ft.done) {
			for (size_t k = 16; k < 21; k++)
				assert_string_equal(fl[k], "");
		} else {
			assert_true(fabs(strtod(fl[16], NULL) - c->ft.accuracy) < 1e-12);
			assert_true(fabs(strtod(fl[17], NULL) - 100 * (o->accuracy - c->ft.accuracy)) <
			            1e-9);
			double vs = r == 0 ? 0 : 100 * (o->ft.accuracy - c->ft.accuracy);
			assert_true(fabs(strtod(fl[18], NULL) - vs) < 1e-9);
			assert_true(fabs(strtod(fl[19], NULL) - c->ft.loss) < 1e-12);
			assert_string_equal(fl[20], c->ft.file);
		}
	}
	if (f->sw.c[3].ft.done)
		assert_non_null(strstr(d.text, ",\"out/ft \"\"x\"\",y.json\"\n"));
	csv_free(&d);
}

static void check_ft_json(const cJSON *m, const nnp_candidate *c, const nnp_candidate *o,
                          int orig)
{
	const cJSON *ft = cJSON_GetObjectItemCaseSensitive(m, "finetune");
	assert_non_null(ft);
	if (!c->ft.done) {
		assert_true(cJSON_IsNull(ft));
		return;
	}
	assert_true(cJSON_IsObject(ft));
	assert_num(ft, "epochs", FT_EPOCHS);
	assert_num(ft, "accuracy", c->ft.accuracy);
	assert_num(ft, "loss", c->ft.loss);
	assert_num(ft, "accuracy_drop_points", 100 * (o->accuracy - c->ft.accuracy));
	assert_num(ft, "accuracy_drop_vs_finetuned_original_points",
	           orig ? 0 : 100 * (o->ft.accuracy - c->ft.accuracy));
	assert_jstr(ft, "file", c->ft.file);
}

static void test_ft_json(void **state)
{
	fixture *f = *state;
	char *text = render(f, NNP_REPORT_JSON, NULL);
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	const nnp_candidate *o = &f->sw.original;
	check_model_json(f, cJSON_GetObjectItemCaseSensitive(j, "original"), o, 1);
	check_ft_json(cJSON_GetObjectItemCaseSensitive(j, "original"), o, o, 1);
	const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "candidates");
	assert_int_equal(cJSON_GetArraySize(cs), f->sw.n);
	size_t nulls = 0;
	for (size_t i = 0; i < f->sw.n; i++) {
		const cJSON *m = cJSON_GetArrayItem(cs, (int)i);
		check_model_json(f, m, &f->sw.c[i], 0);
		check_ft_json(m, &f->sw.c[i], o, 0);
		nulls += !f->sw.c[i].ft.done;
	}
	assert_true(nulls > 0 && nulls < f->sw.n);
	const cJSON *top = cJSON_GetObjectItemCaseSensitive(j, "finetune");
	assert_true(cJSON_IsObject(top));
	assert_jstr(top, "data", "data/train.csv");
	assert_num(top, "epochs", FT_EPOCHS);
	assert_num(top, "lr", 0.001);
	assert_num(top, "seed", 7);
	/* No recipe recorded: none of its members, as before they existed. */
	assert_null(cJSON_GetObjectItemCaseSensitive(top, "schedule"));
	assert_null(cJSON_GetObjectItemCaseSensitive(top, "distill"));
	assert_num(j, "best", (double)f->info.best);
	cJSON_Delete(j);
	free(text);
}

/* The recipe recorded: schedule, optimizer, learning-rate schedule and
 * distillation in JSON's "finetune" object and on Markdown's line; without
 * distillation its member is null. */
static void test_ft_recipe(void **state)
{
	fixture *f = *state;
	f->info.ft_schedule = "gradual";
	f->info.ft_optimizer = "sgd";
	f->info.ft_lr_schedule = "cosine";
	f->info.ft_distill_t = 2;
	f->info.ft_distill_alpha = 0.25;
	f->info.ft_teacher = "big \"t\".bin";
	char *text = render(f, NNP_REPORT_JSON, NULL);
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	const cJSON *top = cJSON_GetObjectItemCaseSensitive(j, "finetune");
	assert_jstr(top, "schedule", "gradual");
	assert_jstr(top, "optimizer", "sgd");
	assert_jstr(top, "lr_schedule", "cosine");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(top, "distill");
	assert_num(d, "t", 2);
	assert_num(d, "alpha", 0.25);
	assert_jstr(d, "teacher", "big \"t\".bin");
	assert_int_equal(cJSON_GetArraySize(d), 3);
	cJSON_Delete(j);
	free(text);
	text = render(f, NNP_REPORT_MD, NULL);
	assert_non_null(strstr(text, "- fine-tuning: 2 epochs on data/train.csv (lr 0.001, seed 7; "
	                             "sgd, cosine, gradual; distilled at T 2, alpha 0.25 from "
	                             "big \"t\".bin)\n"));
	free(text);
	f->info.ft_schedule = "oneshot";
	f->info.ft_distill_t = NAN;
	text = render(f, NNP_REPORT_JSON, NULL);
	j = cJSON_Parse(text);
	top = cJSON_GetObjectItemCaseSensitive(j, "finetune");
	assert_jstr(top, "schedule", "oneshot");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(top, "distill")));
	cJSON_Delete(j);
	free(text);
	text = render(f, NNP_REPORT_MD, NULL);
	assert_non_null(strstr(text, "(lr 0.001, seed 7; sgd, cosine, oneshot)\n"));
	free(text);
}

/* The number after `key="` in the element starting at p. */
static double attr_num(const char *p, const char *key)
{
	char pat[32];
	snprintf(pat, sizeof pat, " %s=\"", key);
	const char *end = strchr(p, '>');
	const char *a = strstr(p, pat);
	assert_true(a && a < end);
	return strtod(a + strlen(pat), NULL);
}

static void test_ft_svg(void **state)
{
	fixture *f = *state;
	char *text = render(f, NNP_REPORT_SVG, NULL);
	check_xml(text);
	size_t tuned = 0;
	for (size_t i = 0; i < f->sw.n; i++)
		tuned += f->sw.c[i].ft.done != 0;
	assert_int_equal(count_str(text, "<circle class=\"ft\""), 2 * tuned);  /* both panels */
	assert_int_equal(count_str(text, "<path class=\"ft\""), 1); /* the original */
	assert_int_equal(count_str(text, "class=\"cand\""), 2 * f->sw.n);
	assert_non_null(strstr(text, "fine-tuned (2 epochs)</text>"));
	assert_non_null(strstr(text, "fine-tuned original</text>"));
	assert_non_null(strstr(text, "stroke=\"#9467bd\" stroke-width=\"1.2\" "
	                             "stroke-dasharray=\"6 4\"/>"));
	/* The best ring is drawn on the best's fine-tuned point. */
	char title[64];
	snprintf(title, sizeof title, "<title>#%zu: ", f->info.best);
	const char *ft = NULL;
	for (const char *p = text; (p = strstr(p, "<circle class=\"ft\"")) != NULL; p++) {
		const char *t = strstr(p, "<title>");
		if (t && !strncmp(t, title, strlen(title))) {
			ft = p;
			break;
		}
	}
	assert_non_null(ft);
	const char *ring = strstr(text, "r=\"8\" fill=\"none\"");
	assert_non_null(ring);
	while (ring > text && strncmp(ring, "<circle", 7))
		ring--;
	assert_true(fabs(attr_num(ring, "cy") - attr_num(ft, "cy")) < 1e-9);
	assert_true(fabs(attr_num(ring, "cx") - attr_num(ft, "cx")) < 1e-9);
	free(text);
}

/* Fine-tuned fields are read only where `finetuned` is set: without it the
 * outputs are those of a sweep that never heard of fine-tuning. */
static void test_ft_ignored(void **state)
{
	(void)state;
	fixture *f = fx_default(), *g = fx_default();
	nnp_candidate *cs[2] = { &g->sw.original, &g->sw.c[4] };
	for (size_t k = 0; k < 2; k++) {
		cs[k]->ft.accuracy = 0.123;
		cs[k]->ft.loss = 9;
		cs[k]->ft.drop = 55;
		cs[k]->ft.drop_vs_ft = -3;
		cs[k]->ft.file = dup_str("out/never.json");
	}
	g->info.ft_epochs = 3;
	g->info.ft_data_path = "data/train.csv";
	g->info.ft_lr = 0.5;
	for (int k = 0; k < NNP_REPORT_KINDS; k++) {
		char *a = render_same(f, g, (nnp_report_kind)k);
		assert_null(strstr(a, "fine-tun"));
		free(a);
	}
	fx_free(f);
	fx_free(g);
}

static void test_ft_deterministic_and_errors(void **state)
{
	(void)state;
	fixture *f = fx_ft(0), *g = fx_ft(0);
	for (int k = 0; k < NNP_REPORT_KINDS; k++) {
		char *a = render_same(f, g, (nnp_report_kind)k);
		if (k == NNP_REPORT_SVG || k == NNP_REPORT_STATS_SVG)
			check_xml(a);
		free(a);
	}
	/* Fine-tuned figures without an epoch count are inconsistent inputs,
	 * whether the original or only a candidate carries them. */
	f->info.ft_epochs = 0;
	expect_error(f, NNP_EUSAGE, "fine-tuned results but no epoch count");
	f->sw.original.ft.done = 0;
	expect_error(f, NNP_EUSAGE, "fine-tuned results but no epoch count");
	fx_free(f);
	fx_free(g);
}

/* ---- sweeps of the other methods: budgets instead of thresholds ---- */

/* The default fixture as a sweep of obs + ls on separate calibration rows:
 * candidates 0-4 by keep fraction, then allocation steps, the last two by
 * parameter target. */
static fixture *fx_budget(void)
{
	fixture *f = fx_default();
	for (size_t i = 0; i < f->sw.n; i++) {
		nnp_candidate *c = &f->sw.c[i];
		c->kind = NNP_CAND_BUDGET;
		c->thr.mean = c->thr.std = NAN;
		c->floor_hit = 0;
		if (i < 5)
			c->budget.keep_frac = 0.9 - 0.2 * (double)i;
		else
			c->budget.alloc_step = i - 4;
		if (i + 2 >= f->sw.n)
			c->budget.target_params = 100000 + i;
	}
	f->info.method = "obs";
	f->info.compensate = "ls";
	f->info.lambda_rel = 0.001;
	f->info.calib_path = "data/calib.csv";
	f->info.calib_rows = 5000;
	return f;
}

static int setup_budget(void **state)
{
	*state = fx_budget();
	return 0;
}

static void budget_of(const nnp_candidate *c, char *buf, size_t n)
{
	if (c->budget.target_params)
		snprintf(buf, n, "target %zu (step %zu)", c->budget.target_params, c->budget.alloc_step);
	else if (c->budget.alloc_step)
		snprintf(buf, n, "step %zu", c->budget.alloc_step);
	else
		snprintf(buf, n, "keep %g", c->budget.keep_frac);
}

static void test_budget_table_md(void **state)
{
	fixture *f = *state;
	static const char *const heads[] = { "#", "budget", "kept", "params", "nonzeros",
		                             "file bytes", "reduction", "accuracy", "drop", "loss",
		                             "agreement", "pareto", "note" };
	table_doc t;
	table_read(&t, f, heads, sizeof heads / sizeof heads[0]);
	char want[128];
	assert_string_equal(table_cell(&t, 2, 1), "-");
	for (size_t i = 0; i < f->sw.n; i++) {
		budget_of(&f->sw.c[i], want, sizeof want);
		assert_string_equal(table_cell(&t, i + 3, 1), want);
	}
	assert_non_null(strstr(t.text, "keep 0.1 "));
	assert_non_null(strstr(t.text, "step 1 "));
	table_free(&t);

	char *text = render(f, NNP_REPORT_MD, NULL);
	assert_non_null(strstr(text, "\n- method: obs, compensation ls (ridge lambda 0.001 x "
	                             "trace(C)/n)\n- calibration: data/calib.csv (5000 rows), not "
	                             "the evaluation data\n- candidates: "));
	assert_null(strstr(text, "folding"));
	assert_null(strstr(text, "min\\_keep"));
	assert_null(strstr(text, "floor"));
	assert_non_null(strstr(text, "\nbudget: keep F keeps round(F x width) neurons"));
	char best[160];
	budget_of(&f->sw.c[f->info.best], want, sizeof want);
	snprintf(best, sizeof best, "- best: \\#%zu (%s): ", f->info.best, want);
	assert_non_null(strstr(text, best));
	expect_md_table(f, text, 15); /* 14 columns */
	free(text);
}

static void test_budget_csv_json(void **state)
{
	fixture *f = *state;
	csv_doc d = csv_read(f, 21);
	char **fl = d.rec[0];
	static const char *const tail[] = { "file", "keep", "allocation_step", "target_params" };
	expect_fields(fl, 15, tail, 4);
	for (size_t r = 0; r <= f->sw.n; r++) {
		const nnp_candidate *c = row_cand(f, r);
		fl = d.rec[r + 1];
		assert_string_equal(fl[1], "");
		assert_string_equal(fl[2], "");
		char want[64] = "";
		if (r && c->budget.keep_frac > 0)
			snprintf(want, sizeof want, "%.12g", c->budget.keep_frac);
		assert_string_equal(fl[16], want);
		want[0] = '\0';
		if (r && c->budget.alloc_step)
			snprintf(want, sizeof want, "%zu", c->budget.alloc_step);
		assert_string_equal(fl[17], want);
		want[0] = '\0';
		if (r && c->budget.target_params)
			snprintf(want, sizeof want, "%zu", c->budget.target_params);
		assert_string_equal(fl[18], want);
	}
	csv_free(&d);

	char *text = render(f, NNP_REPORT_JSON, NULL);
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	assert_jstr(j, "method", "obs");
	assert_jstr(j, "compensate", "ls");
	assert_num(j, "lambda_rel", 0.001);
	assert_jnull(j, "min_keep");
	assert_bool(j, "fold", 0);
	const cJSON *cal = cJSON_GetObjectItemCaseSensitive(j, "calibration");
	assert_jstr(cal, "path", "data/calib.csv");
	assert_num(cal, "rows", 5000);
	assert_bool(cal, "evaluation_data", 0);
	assert_jnull(cJSON_GetObjectItemCaseSensitive(j, "original"), "budget");
	const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "candidates");
	for (size_t i = 0; i < f->sw.n; i++) {
		const nnp_candidate *c = &f->sw.c[i];
		const cJSON *o = cJSON_GetArrayItem(cs, (int)i);
		assert_num(o, "params", (double)c->params);
		assert_num(o, "accuracy", c->accuracy);
		assert_jnull(o, "mean");
		assert_jnull(o, "std");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "budget");
		assert_true(cJSON_IsObject(b));
		assert_int_equal(cJSON_GetArraySize(b),
		                 (c->budget.keep_frac > 0) + (c->budget.alloc_step > 0) +
		                 (c->budget.target_params > 0));
		if (c->budget.keep_frac > 0)
			assert_num(b, "keep", c->budget.keep_frac);
		if (c->budget.alloc_step)
			assert_num(b, "allocation_step", (double)c->budget.alloc_step);
		if (c->budget.target_params)
			assert_num(b, "target_params", (double)c->budget.target_params);
	}
	cJSON_Delete(j);
	free(text);
}

static void test_budget_svg(void **state)
{
	fixture *f = *state;
	char *text = render(f, NNP_REPORT_SVG, NULL);
	check_xml(text);
	assert_non_null(strstr(text, "<title>#0: keep 0.9: "));
	assert_non_null(strstr(text, "<title>#5: step 1: "));
	assert_non_null(strstr(text, "; obs + ls; calibration data/calib.csv</text>"));
	assert_null(strstr(text, "mean nan"));
	free(text);
	text = render(f, NNP_REPORT_STATS_SVG, NULL);
	check_xml(text);
	assert_null(strstr(text, "threshold boxes"));
	char want[160], b[96];
	budget_of(&f->sw.c[f->info.best], b, sizeof b);
	snprintf(want, sizeof want, "best #%zu: %s</text>", f->info.best, b);
	assert_non_null(strstr(text, want));
	free(text);
}

/* The rule states its calibration too; with a refit it names the method. */
static void test_rule_calibration(void **state)
{
	fixture *f = *state;
	char *text = render(f, NNP_REPORT_MD, NULL);
	assert_non_null(strstr(text, "- folding: on\n- min\\_keep: 1\n- calibration: the "
	                             "evaluation data itself"));
	free(text);
	text = render(f, NNP_REPORT_JSON, NULL);
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	assert_jstr(j, "method", "rule");
	assert_jstr(j, "compensate", "fold");
	assert_jnull(j, "lambda_rel");
	const cJSON *cal = cJSON_GetObjectItemCaseSensitive(j, "calibration");
	assert_jstr(cal, "path", "data/mnist-val.csv.gz");
	assert_num(cal, "rows", 10000);
	assert_bool(cal, "evaluation_data", 1);
	assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
		cJSON_GetObjectItemCaseSensitive(j, "candidates"), 0), "budget"));
	cJSON_Delete(j);
	free(text);
	/* The plain heading of the chart, as it always was. */
	text = render(f, NNP_REPORT_SVG, NULL);
	assert_non_null(strstr(text, "rows; folding on; min_keep 1</text>"));
	free(text);

	f->info.method = "rule";
	f->info.compensate = "ls";
	f->info.lambda_rel = 0.01;
	text = render(f, NNP_REPORT_MD, NULL);
	assert_non_null(strstr(text, "- method: rule, compensation ls (ridge lambda 0.01 x "
	                             "trace(C)/n)\n- min\\_keep: 1\n"));
	assert_non_null(strstr(text, "| mean |"));
	free(text);
	text = render(f, NNP_REPORT_SVG, NULL);
	assert_non_null(strstr(text, "rows; rule + ls; min_keep 1; calibration = evaluation "
	                             "data</text>"));
	free(text);
}

/* report.html: the table holds the original and every candidate, both
 * charts are inline, nothing is fetched; written atomically; and, where
 * Chromium is installed, the page as a browser builds it shows the rows. */
static void test_html(void **state)
{
	fixture *f = *state;
	f->info.model_name = "mnist <mlp> & \"friends\"";
	char *text = NULL;
	size_t len = 0;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_report_render_html(&text, &len, &f->sw, &f->st, &f->info, &err), 0);
	assert_int_equal(strlen(text), len);
	assert_int_equal(count_str(text, "<tr"), f->sw.n + 2);  /* heading, original, candidates */
	assert_int_equal(count_str(text, "<svg"), 2);
	assert_int_equal(count_str(text, "class=\"cand\""), f->sw.n * 2);  /* both panels */
	assert_non_null(strstr(text, "<table class=\"sortable\" id=\"models\">"));
	assert_non_null(strstr(text, "<tr class=\"orig\">"));
	assert_non_null(strstr(text, "mnist &lt;mlp&gt; &amp; &quot;friends&quot;"));
	assert_null(strstr(text, "mnist <mlp>"));
	/* Self-contained: the only URLs are the two SVG namespaces. */
	assert_int_equal(count_str(text, "http"), 2);
	assert_null(strstr(text, "href"));
	assert_null(strstr(text, " src="));
	assert_null(strstr(text, "<link"));
	assert_null(strstr(text, "<?xml"));
	char row[64];
	snprintf(row, sizeof row, "<td data-v=\"%zu\">%zu</td>", f->info.best, f->info.best);
	assert_non_null(strstr(text, row));

	char *dir = tu_mkdtemp();
	assert_int_equal(nnp_report_write_html(dir, &f->sw, &f->st, &f->info, &err), 0);
	assert_int_equal(dir_entries(dir), 1);
	char *path = tu_path(dir, "report.html");
	size_t n;
	unsigned char *disk = tu_read(path, &n);
	assert_int_equal(n, len);
	assert_memory_equal(disk, text, n);
	free(disk);

	const char *chromium = getenv("NNP_CHROMIUM");
	if (chromium && *chromium) {
		char cmd[8192];
		snprintf(cmd, sizeof cmd, "'%s' --headless --no-sandbox --disable-gpu --no-first-run "
		         "--disable-background-networking --disable-component-update --disable-sync "
		         "--user-data-dir='%s/profile' --dump-dom 'file://%s' 2>/dev/null", chromium,
		         dir, path);
		FILE *pp = popen(cmd, "r");
		assert_non_null(pp);
		size_t cap = 1 << 20, got = 0, k;
		char *dom = malloc(cap + 1);
		assert_non_null(dom);
		while ((k = fread(dom + got, 1, cap - got, pp)) > 0 && got + k < cap)
			got += k;
		got += k;
		dom[got] = '\0';
		pclose(pp);
		/* The browser's DOM: every model's row, both charts, the script run. */
		assert_int_equal(count_str(dom, "<tr"), f->sw.n + 2);
		assert_int_equal(count_str(dom, "<svg"), 2);
		assert_non_null(strstr(dom, "<td data-v=\"-1\" class=\"t\">original</td>"));
		free(dom);
		printf("report.html: %zu table rows in Chromium's DOM\n", f->sw.n + 1);
	} else {
		printf("SKIPPED: Chromium is not installed (NNP_CHROMIUM unset): report.html not "
		       "checked in a browser\n");
	}
	const char *keep = getenv("NNP_KEEP_HTML");
	if (keep && *keep) {
		FILE *o = fopen(keep, "wb");
		if (o) {
			fwrite(text, 1, len, o);
			fclose(o);
		}
	}
	free(path);
	tu_rmtree_free(dir);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_table, setup_default),
		FX_TEST(test_json, setup_default),
		FX_TEST(test_csv, setup_default),
		FX_TEST(test_markdown, setup_default),
		FX_TEST(test_svg_plot, setup_default),
		FX_TEST(test_svg_stats, setup_default),
		FX_TEST(test_hostile_names, setup_default),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_edges),
		FX_TEST(test_errors, setup_default),
		FX_TEST(test_write, setup_default),
		FX_TEST(test_manifest, setup_default),
		TU_DIR_TEST(test_best_path),
		FX_TEST(test_prune_json, setup_default),
		FX_TEST(test_ft_table, setup_ft),
		FX_TEST(test_ft_markdown, setup_ft_all),
		FX_TEST(test_ft_csv, setup_ft),
		FX_TEST(test_ft_json, setup_ft),
		FX_TEST(test_ft_recipe, setup_ft),
		FX_TEST(test_ft_svg, setup_ft),
		cmocka_unit_test(test_ft_ignored),
		cmocka_unit_test(test_ft_deterministic_and_errors),
		FX_TEST(test_budget_table_md, setup_budget),
		FX_TEST(test_budget_csv_json, setup_budget),
		FX_TEST(test_budget_svg, setup_budget),
		FX_TEST(test_rule_calibration, setup_default),
		FX_TEST(test_html, setup_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
