/* Tests of the sweep engine (against independent evaluations of the pruned
 * models), of candidate selection and of LIST parsing. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/forward.h"
#include "nnprune/sweep.h"
#include "sweep_priv.h"
#include "testutil.h"

/* ---- LIST parsing ----------------------------------------------------- */

static void expect_list(const char *text, const char *const *lits, size_t n)
{
	double *v = NULL;
	size_t got = 0;
	nnp_err err;
	nnp_err_clear(&err);
	int rc = nnp_parse_list(text, &v, &got, &err);
	if (rc)
		fail_msg("%s: %s", text, err.msg);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++) {
		double want = strtod(lits[i], NULL);
		/* Bit-exact: a range must give what the literal gives. */
		if (memcmp(&v[i], &want, sizeof want) != 0)
			fail_msg("%s: value %zu is %.17g, want %s", text, i, v[i], lits[i]);
	}
	free(v);
}

static void expect_list_error(const char *text, const char *msg)
{
	double *v = (double *)&v;
	size_t n = 99;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_parse_list(text, &v, &n, &err), NNP_EUSAGE);
	assert_null(v);
	assert_int_equal(n, 0);
	if (!strstr(err.msg, msg))
		fail_msg("%s: message \"%s\" lacks \"%s\"", text, err.msg, msg);
}

static void test_list_values(void **state)
{
	(void)state;
	const char *one[] = { "0.1" };
	expect_list("0.1", one, 1);
	const char *three[] = { "0", "0.1", "0.5" };
	expect_list("0,0.1,0.5", three, 3);
	const char *r11[] = { "0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1" };
	expect_list("0:1:0.1", r11, 11);
	const char *r4[] = { "0", "0.1", "0.2", "0.3" };
	expect_list("0:0.3:0.1", r4, 4);
	const char *r5[] = { "0.05", "0.1", "0.15", "0.2" };
	expect_list("0.05:0.2:0.05", r5, 4);
	const char *r1[] = { "1" };
	expect_list("1:1:0.5", r1, 1);
	const char *r7[] = { "0.7", "1.4", "2.1" };
	expect_list("0.7:2.2:0.7", r7, 3);
	const char *mix[] = { "0", "0.5", "0.75", "1", "3" };
	expect_list("0,0.5:1:0.25,3", mix, 5);
	const char *exp_[] = { "0.001", "0", "25" };
	expect_list("1e-3,-0,2.5E+1", exp_, 3);

	/* 10000 values is the limit, inclusive. */
	double *v = NULL;
	size_t n = 0;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_parse_list("0:9999:1", &v, &n, &err), 0);
	assert_int_equal(n, 10000);
	assert_true(v[9999] == 9999.0);
	assert_true(v[1234] == 1234.0);
	free(v);
	/* Many small steps: no drift anywhere. */
	assert_int_equal(nnp_parse_list("0:1:0.001", &v, &n, &err), 0);
	assert_int_equal(n, 1001);
	for (size_t i = 0; i < n; i++) {
		char lit[32];
		snprintf(lit, sizeof lit, "%zu.%03zu", i / 1000, i % 1000);
		assert_true(v[i] == strtod(lit, NULL));
	}
	free(v);
}

static void test_list_errors(void **state)
{
	(void)state;
	expect_list_error("", "no values");
	expect_list_error("0.1x", "\"0.1x\" is not a number");
	expect_list_error("0,,1", "item 2 is empty");
	expect_list_error("0,1,", "item 3 is empty");
	expect_list_error(",0", "item 1 is empty");
	expect_list_error("-0.1", "\"-0.1\" is negative");
	expect_list_error("inf", "is not a number");
	expect_list_error("nan", "is not a number");
	expect_list_error("0x10", "is not a number");
	expect_list_error(" 0.1", "is not a number");
	expect_list_error("1e", "\"1e\" is not a number");
	expect_list_error(".", "is not a number");
	expect_list_error("1.2.3", "is not a number");
	expect_list_error("1e999", "\"1e999\" is out of range");
	expect_list_error("0:1:0", "step must be > 0");
	expect_list_error("1:0:0.1", "stop is below start");
	expect_list_error("0:1", "a range is start:stop:step");
	expect_list_error("0:1:0.1:2", "a range is start:stop:step");
	expect_list_error("0::0.1", "\"\" is not a number");
	expect_list_error("0:1:0.1x", "\"0.1x\" is not a number");
	expect_list_error("0:10000:1", "more than 10000 values");
	expect_list_error("0:1:1e-9", "more than 10000 values");
	expect_list_error("0:1e300:1e-300", "more than 10000 values");
	expect_list_error("5,0:9999:1", "more than 10000 values");
}

/* ---- selection -------------------------------------------------------- */

static void test_select(void **state)
{
	(void)state;
	nnp_candidate c[5];
	memset(c, 0, sizeof c);
	size_t params[5] = { 100, 50, 50, 50, 80 };
	double drop[5] = { 0.0, 2.0, 1.0, 1.0, 0.5 };
	double acc[5] = { 0.9, 0.88, 0.89, 0.89, 0.895 };
	for (size_t i = 0; i < 5; i++) {
		c[i].params = params[i];
		c[i].accuracy_drop = drop[i];
		c[i].accuracy = acc[i];
	}
	nnp_sweep sw;
	memset(&sw, 0, sizeof sw);
	sw.n = 5;
	sw.c = c;
	size_t near = 0;
	/* 50 params: candidates 2 and 3 tie on accuracy, the lower index wins. */
	assert_int_equal(nnp_sweep_select(&sw, 1.0, &near), 2);
	assert_int_equal(near, 0);
	assert_int_equal(nnp_sweep_select(&sw, 5.0, NULL), 2);
	assert_int_equal(nnp_sweep_select(&sw, 0.5, NULL), 4);
	assert_int_equal(nnp_sweep_select(&sw, 0.49, NULL), 0);
	c[0].accuracy_drop = 0.7;
	near = 0;
	assert_int_equal(nnp_sweep_select(&sw, 0.1, &near), NNP_NO_DUP);
	assert_int_equal(near, 4);
	/* Equal smallest drops: the smaller model is the closer one. */
	c[0].accuracy_drop = 0.5;
	assert_int_equal(nnp_sweep_select(&sw, 0.1, &near), NNP_NO_DUP);
	assert_int_equal(near, 4);
	/* Same params, higher accuracy first. */
	c[3].accuracy = 0.891;
	assert_int_equal(nnp_sweep_select(&sw, 1.0, NULL), 3);
}

/* ---- sweep fixtures --------------------------------------------------- */

#define ROWS 700
#define BATCH 100

typedef tu_fixture fixture;

static nnp_err g_err;

/* Evaluates m independently: batches through nnp_forward_run. */
static void eval_model(const nnp_model *m, const float *x, const int32_t *y, size_t rows,
                       nnp_metrics *mt, int32_t *pred)
{
	nnp_forward *f = NULL;
	assert_int_equal(nnp_forward_create(&f, m, BATCH, &g_err), 0);
	memset(mt, 0, sizeof *mt);
	const nnp_layer *last = &m->layers[m->n_layers - 1];
	for (size_t r0 = 0; r0 < rows; r0 += BATCH) {
		size_t n = rows - r0 < BATCH ? rows - r0 : BATCH;
		const float *o = nnp_forward_run(f, x + r0 * m->input_size, n);
		nnp_metrics_add(mt, last->act, o, n, last->out, y ? y + r0 : NULL, pred + r0, NULL);
	}
	nnp_forward_free(f);
}

/* True statistics of m on x: two-pass mean and population std in double. */
static nnp_stats *stats_of(const nnp_model *m, const float *x, size_t rows)
{
	nnp_stats *s = NULL;
	assert_int_equal(nnp_stats_create(&s, m, &g_err), 0);
	nnp_forward *f = NULL;
	assert_int_equal(nnp_forward_create(&f, m, 1, &g_err), 0);
	for (size_t l = 0; l < s->n_layers; l++) {
		size_t w = m->layers[l].out;
		double *sum = calloc(w, sizeof *sum), *ss = calloc(w, sizeof *ss);
		for (int pass = 0; pass < 2; pass++)
			for (size_t r = 0; r < rows; r++) {
				nnp_forward_run(f, x + r * m->input_size, 1);
				const float *h = nnp_forward_layer(f, l);
				for (size_t j = 0; j < w; j++) {
					if (pass == 0)
						sum[j] += h[j];
					else
						ss[j] += (h[j] - sum[j] / rows) * (h[j] - sum[j] / rows);
				}
			}
		for (size_t j = 0; j < w; j++) {
			s->layers[l].mean[j] = sum[j] / rows;
			s->layers[l].std[j] = sqrt(ss[j] / rows);
		}
		free(sum);
		free(ss);
	}
	nnp_forward_free(f);
	s->rows = rows;
	return s;
}

/*
 * A 12-24-16-12-5 softmax network whose hidden neurons span the thresholds:
 * in layer 0 every third neuron is quiet (tiny weights); in layers 1 and 2 a
 * few neurons are quieter than anything in layer 0 (one of layer 2 is dead),
 * so that some thresholds prune only deeper layers.
 */
static int setup(void **state)
{
	fixture *fx = tu_fixture_new();
	tu_rng rng = { 12345 };
	fx->m = tu_net(&rng, "12 24:relu 16:tanh 12:relu 5:softmax", 0.6);
	nnp_layer *L0 = &fx->m->layers[0];
	for (size_t j = 0; j < 24; j++) {
		float k = j % 3 == 0 ? 0.02f * (float)(1 + j % 5) : 1.0f;
		for (size_t i = 0; i < 12; i++)
			L0->w[j * 12 + i] *= k;
		if (j % 3 == 0)
			L0->b[j] = 0.05f * (float)(j % 4);
	}
	/* Deeper quiet neurons: tiny weights in, bias sets the mean. */
	size_t q1[3] = { 2, 9, 13 }, q2[2] = { 4, 7 };
	for (size_t t = 0; t < 3; t++) {
		for (size_t i = 0; i < 24; i++)
			fx->m->layers[1].w[q1[t] * 24 + i] *= 0.001f;
		fx->m->layers[1].b[q1[t]] = 0.01f * (float)t;
	}
	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < 16; i++)
			fx->m->layers[2].w[q2[t] * 16 + i] *= 0.001f;
		fx->m->layers[2].b[q2[t]] = t ? 0.3f : -5.0f;  /* the first is dead */
	}
	fx->d = tu_dataset(ROWS, 12);
	for (size_t i = 0; i < ROWS * 12; i++)
		fx->d->x[i] = (float)tu_uniform(&rng, -1.5, 1.5);
	/* Labels: mostly the network's own answer, so that accuracy is high and
	 * pruning visibly costs some of it. */
	int32_t *pred = malloc(ROWS * sizeof(int32_t));
	nnp_metrics mt;
	eval_model(fx->m, fx->d->x, NULL, ROWS, &mt, pred);
	for (size_t r = 0; r < ROWS; r++)
		fx->d->y[r] = tu_uniform(&rng, 0, 1) < 0.85 ? pred[r] : (int32_t)(tu_next(&rng) % 5);
	free(pred);
	fx->s = stats_of(fx->m, fx->d->x, ROWS);
	*state = fx;
	return 0;
}

static const double k_means[6] = { 0, 0.05, 0.1, 0.2, 0.5, 1 };
static const double k_stds[5] = { 0.1, 0.2, 0.4, 0.6, 1 };
/* Thresholds reaching below layer 0's quietest neurons as well; a negative
 * one removes nothing. */
static const double k_means2[5] = { -1, 0, 0.02, 0.3, 1e9 };
static const double k_stds2[5] = { 0, 1e-3, 0.01, 0.05, 1e9 };

static nnp_sweep_opts opts_for(const double *means, size_t nm, const double *stds, size_t ns,
                               int fold, unsigned threads)
{
	nnp_sweep_opts o = { .means = means, .n_means = nm, .stds = stds, .n_stds = ns,
		             .min_keep = 1, .fold = fold, .threads = threads };
	return o;
}

static nnp_sweep *run(const fixture *fx, const nnp_dataset *d, const nnp_sweep_opts *o,
                      size_t chunk_blocks)
{
	nnp_sweep *sw = NULL;
	int rc = nnp_sweep_run_chunked(&sw, fx->m, fx->s, d, o, chunk_blocks, &g_err);
	if (rc)
		fail_msg("nnp_sweep_run: %s", g_err.msg);
	return sw;
}

/* ---- checks ----------------------------------------------------------- */

static void check_candidate_eval(const fixture *fx, const nnp_sweep *sw, size_t i,
                                 const nnp_metrics *om, const int32_t *opred, int fold)
{
	const nnp_candidate *c = &sw->c[i];
	/* The model as it would be written, read back and run on its own. */
	char name[32];
	snprintf(name, sizeof name, "c%zu.bin", i);
	char *path = tu_path(fx->dir, name);
	assert_int_equal(nnp_model_save(sw->models[i], path, NNP_FMT_BIN, &g_err), 0);
	nnp_model *pm = NULL;
	assert_int_equal(nnp_model_load(&pm, path, NULL, &g_err), 0);
	free(path);
	/* ... and equal to what nnp_prune_apply builds from the same kept set. */
	nnp_model *ref = NULL;
	assert_int_equal(nnp_prune_apply(&ref, fx->m, c->keep, fx->s, fold, &g_err), 0);
	unsigned char *b1 = NULL, *b2 = NULL;
	size_t n1 = 0, n2 = 0;
	assert_int_equal(nnp_model_to_buffer(pm, NNP_FMT_BIN, &b1, &n1, &g_err), 0);
	assert_int_equal(nnp_model_to_buffer(ref, NNP_FMT_BIN, &b2, &n2, &g_err), 0);
	assert_int_equal(n1, n2);
	assert_memory_equal(b1, b2, n1);
	free(b1);
	free(b2);

	int32_t *pred = malloc(ROWS * sizeof *pred);
	nnp_metrics mt;
	eval_model(pm, fx->d->x, fx->d->y, ROWS, &mt, pred);
	size_t agree = 0;
	for (size_t r = 0; r < ROWS; r++)
		agree += pred[r] == opred[r];
	assert_true(c->accuracy == nnp_metrics_accuracy(&mt));
	assert_float_equal(c->loss, nnp_metrics_loss(&mt), 1e-6);
	assert_true(c->agreement == (double)agree / ROWS);
	assert_int_equal(c->params, nnp_model_params(pm));
	assert_int_equal(c->bytes, 4 * nnp_model_params(pm));
	assert_int_equal(c->macs, nnp_model_macs(pm));
	double p0 = (double)nnp_model_params(fx->m);
	assert_float_equal(c->reduction, 100.0 * (p0 - (double)c->params) / p0, 1e-9);
	assert_true(c->accuracy_drop ==
	            100.0 * ((double)om->correct - (double)mt.correct) / (double)om->labelled);
	free(pred);
	nnp_model_free(pm);
	nnp_model_free(ref);
}

static void check_pareto(const nnp_sweep *sw)
{
	size_t np = 0;
	const nnp_candidate **pt = malloc((sw->n + 1) * sizeof *pt);
	pt[np++] = &sw->original;
	for (size_t i = 0; i < sw->n; i++)
		if (sw->c[i].same_as == NNP_NO_DUP)
			pt[np++] = &sw->c[i];
	for (size_t a = 0; a < np; a++) {
		int dominated = 0;
		for (size_t b = 0; b < np; b++) {
			if (a == b)
				continue;
			const nnp_candidate *p = pt[a], *q = pt[b];
			if (q->params <= p->params && q->accuracy >= p->accuracy &&
			    (q->params < p->params || q->accuracy > p->accuracy))
				dominated = 1;
		}
		assert_int_equal(pt[a]->pareto, !dominated);
	}
	free(pt);
}

/* Everything about a sweep, against independent computations. */
static void check_sweep(const fixture *fx, const nnp_sweep *sw, const double *means, size_t nm,
                        const double *stds, size_t ns, int fold)
{
	int32_t *opred = malloc(ROWS * sizeof *opred);
	nnp_metrics om;
	eval_model(fx->m, fx->d->x, fx->d->y, ROWS, &om, opred);
	assert_int_equal(sw->rows, ROWS);
	assert_int_equal(sw->n, nm * ns);
	assert_true(sw->original.accuracy == nnp_metrics_accuracy(&om));
	assert_float_equal(sw->original.loss, nnp_metrics_loss(&om), 1e-9);
	assert_true(sw->original.agreement == 1.0);
	assert_int_equal(sw->original.params, nnp_model_params(fx->m));
	assert_null(sw->original.keep);
	assert_true(isnan(sw->original.thr.mean));
	assert_int_equal(sw->original.kind, NNP_CAND_ORIGINAL);
	size_t distinct = 0;
	for (size_t i = 0; i < sw->n; i++) {
		const nnp_candidate *c = &sw->c[i];
		assert_int_equal(c->kind, NNP_CAND_THRESHOLDS);
		assert_true(c->thr.mean == means[i / ns]);
		assert_true(c->thr.std == stds[i % ns]);
		nnp_keep *k = NULL;
		assert_int_equal(nnp_keep_rule(&k, fx->s, c->thr.mean, c->thr.std, 1, &g_err), 0);
		assert_true(nnp_keep_equal(k, c->keep));
		assert_int_equal(c->floor_hit, nnp_keep_any_floor(k));
		nnp_keep_free(k);
		size_t first = i;
		for (size_t j = 0; j < i && first == i; j++)
			if (nnp_keep_equal(sw->c[j].keep, c->keep))
				first = j;
		if (first == i) {
			distinct++;
			assert_int_equal(c->same_as, NNP_NO_DUP);
			assert_non_null(sw->models[i]);
			check_candidate_eval(fx, sw, i, &om, opred, fold);
		} else {
			const nnp_candidate *f = &sw->c[first];
			assert_int_equal(c->same_as, first);
			assert_null(sw->models[i]);
			assert_int_equal(c->params, f->params);
			assert_int_equal(c->macs, f->macs);
			assert_true(c->accuracy == f->accuracy);
			assert_true(c->loss == f->loss);
			assert_true(c->agreement == f->agreement);
			assert_true(c->accuracy_drop == f->accuracy_drop);
			assert_false(c->pareto);   /* a duplicate is never Pareto itself */
		}
		assert_null(c->file);
	}
	assert_int_equal(sw->n_unique, distinct);
	check_pareto(sw);
	free(opred);
}

/* Bitwise equality of every figure of two sweeps. */
static void cmp_cand(const nnp_candidate *a, const nnp_candidate *b)
{
	assert_int_equal(a->params, b->params);
	assert_int_equal(a->bytes, b->bytes);
	assert_int_equal(a->macs, b->macs);
	assert_memory_equal(&a->accuracy, &b->accuracy, sizeof(double));
	assert_memory_equal(&a->loss, &b->loss, sizeof(double));
	assert_memory_equal(&a->agreement, &b->agreement, sizeof(double));
	assert_memory_equal(&a->accuracy_drop, &b->accuracy_drop, sizeof(double));
	assert_memory_equal(&a->reduction, &b->reduction, sizeof(double));
	assert_int_equal(a->pareto, b->pareto);
	assert_int_equal(a->floor_hit, b->floor_hit);
	assert_int_equal(a->same_as, b->same_as);
}

static void cmp_sweeps(const nnp_sweep *a, const nnp_sweep *b)
{
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->n_unique, b->n_unique);
	assert_int_equal(a->rows, b->rows);
	cmp_cand(&a->original, &b->original);
	for (size_t i = 0; i < a->n; i++)
		cmp_cand(&a->c[i], &b->c[i]);
}

/* ---- sweep tests ------------------------------------------------------ */

static void test_sweep_default_grid(void **state)
{
	fixture *fx = *state;
	nnp_sweep_opts o = opts_for(k_means, 6, k_stds, 5, 1, 2);
	nnp_sweep *sw = run(fx, fx->d, &o, 0);
	check_sweep(fx, sw, k_means, 6, k_stds, 5, 1);
	/* The grid is coarse for this network: some kept sets repeat. */
	assert_true(sw->n_unique < sw->n);
	assert_true(sw->n_unique > 3);
	nnp_sweep_free(sw);
}

/* Covers both formulas and both kinds of start: layer 0 loses a few (the
 * correction), most (direct), nothing while deeper layers lose some. */
static void test_sweep_paths(void **state)
{
	fixture *fx = *state;
	for (int fold = 0; fold <= 1; fold++) {
		nnp_sweep_opts o = opts_for(k_means2, 5, k_stds2, 5, fold, 3);
		nnp_sweep *sw = run(fx, fx->d, &o, 0);
		check_sweep(fx, sw, k_means2, 5, k_stds2, 5, fold);
		int few0 = 0, most0 = 0, deep_only = 0, last_only = 0, none = 0;
		for (size_t i = 0; i < sw->n; i++) {
			const nnp_keep *k = sw->c[i].keep;
			size_t r0 = 24 - k->count[0], r1 = 16 - k->count[1], r2 = 12 - k->count[2];
			few0 |= r0 > 0 && r0 < k->count[0];
			most0 |= r0 > k->count[0];
			deep_only |= r0 == 0 && r1 > 0;
			last_only |= r0 == 0 && r1 == 0 && r2 > 0;
			none |= r0 + r1 + r2 == 0;
		}
		assert_true(few0 && most0 && deep_only && last_only && none);
		nnp_sweep_free(sw);
	}
}

static void test_sweep_threads_and_chunks(void **state)
{
	fixture *fx = *state;
	nnp_sweep_opts o = opts_for(k_means2, 5, k_stds2, 5, 1, 1);
	nnp_sweep *ref = run(fx, fx->d, &o, 0);
	for (unsigned t = 2; t <= 3; t++) {
		o.threads = t;
		nnp_sweep *sw = run(fx, fx->d, &o, 0);
		cmp_sweeps(ref, sw);
		nnp_sweep_free(sw);
	}
	/* Chunks of one and two blocks: 700 rows in 3 and 2 chunks. */
	for (size_t cb = 1; cb <= 2; cb++) {
		o.threads = (unsigned)cb + 1;
		nnp_sweep *sw = run(fx, fx->d, &o, cb);
		cmp_sweeps(ref, sw);
		nnp_sweep_free(sw);
	}
	nnp_sweep_free(ref);
}

static void test_sweep_streaming(void **state)
{
	fixture *fx = *state;
	char *path = tu_path(fx->dir, "val.csv");
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (size_t r = 0; r < ROWS; r++) {
		fprintf(fp, "%d", fx->d->y[r]);
		for (size_t i = 0; i < 12; i++)
			fprintf(fp, ",%.9g", fx->d->x[r * 12 + i]);
		fprintf(fp, "\n");
	}
	assert_int_equal(fclose(fp), 0);
	nnp_data_opts dopt = NNP_DATA_OPTS_INIT;
	dopt.header = NNP_HEADER_NO;
	nnp_sweep_opts o = opts_for(k_means2, 5, k_stds2, 5, 1, 2);
	o.data_path = path;
	o.data_opts = &dopt;
	nnp_sweep *ref = run(fx, fx->d, &o, 0);
	nnp_sweep *sw = run(fx, NULL, &o, 0);
	cmp_sweeps(ref, sw);
	nnp_sweep_free(sw);
	/* Several chunks read from the file. */
	sw = run(fx, NULL, &o, 1);
	cmp_sweeps(ref, sw);
	nnp_sweep_free(sw);
	nnp_sweep_free(ref);

	/* A file whose rows do not fit the model. */
	fp = fopen(path, "w");
	fprintf(fp, "1,0.5,0.25\n");
	fclose(fp);
	sw = NULL;
	assert_int_not_equal(nnp_sweep_run(&sw, fx->m, fx->s, NULL, &o, &g_err), 0);
	assert_null(sw);
	assert_non_null(strstr(g_err.msg, "val.csv"));
	/* A label the model has no output for, on the second row. */
	fp = fopen(path, "w");
	for (size_t r = 0; r < 3; r++) {
		fprintf(fp, "%d", r == 1 ? 5 : 0);
		for (size_t i = 0; i < 12; i++)
			fprintf(fp, ",0.5");
		fprintf(fp, "\n");
	}
	fclose(fp);
	assert_int_equal(nnp_sweep_run(&sw, fx->m, fx->s, NULL, &o, &g_err), NNP_EINPUT);
	assert_non_null(strstr(g_err.msg, "data row 2: label 5 is out of range for a model with 5"));
	free(path);
}

static void test_sweep_small_models(void **state)
{
	(void)state;
	enum { R = 300 };
	/* the rows, then each model, from one stream; freed together */
	tu_case *c = tu_case_seed(5);
	c->d = tu_random_dataset(&c->rng, R, 4, -1, 1, 3);
	const float *x = c->d->x;
	const int32_t *y = c->d->y;
	nnp_dataset d = *c->d;  /* a copy the second case makes unlabelled */
	double means[2] = { 0, 1e9 }, stds[2] = { 0, 1e9 };
	nnp_sweep_opts o = opts_for(means, 2, stds, 2, 1, 2);

	/* No hidden layer: every candidate is the original. */
	c->m = tu_net(&c->rng, "4 3:linear", 1.0);
	nnp_stats *s = NULL;
	assert_int_equal(nnp_stats_create(&s, c->m, &g_err), 0);
	nnp_sweep *sw = NULL;
	assert_int_equal(nnp_sweep_run(&sw, c->m, s, &d, &o, &g_err), 0);
	assert_int_equal(sw->n_unique, 1);
	int32_t pred[R];
	nnp_metrics mt;
	eval_model(c->m, x, y, R, &mt, pred);
	for (size_t i = 0; i < 4; i++) {
		assert_true(sw->c[i].accuracy == nnp_metrics_accuracy(&mt));
		assert_true(sw->c[i].loss == sw->original.loss);
		assert_int_equal(sw->c[i].same_as, i ? 0 : NNP_NO_DUP);
		assert_int_equal(sw->c[i].pareto, i == 0);   /* duplicates are not Pareto */
	}
	assert_true(sw->original.pareto);
	nnp_sweep_free(sw);
	nnp_stats_free(s);
	nnp_model_free(c->m);
	c->m = NULL;   /* a failing tu_net below must not leave it to be freed twice */

	/* One hidden layer, sigmoid output (MSE), unlabelled data: the second
	 * formula reaches the output layer directly. */
	c->m = tu_net(&c->rng, "4 6:relu 3:sigmoid", 1.0);
	s = stats_of(c->m, x, R);
	s->layers[0].std[1] = 0;  /* only neuron 1 goes at std 0 */
	s->layers[0].mean[1] = 0;
	d.y = NULL;
	assert_int_equal(nnp_sweep_run(&sw, c->m, s, &d, &o, &g_err), 0);
	assert_true(sw->c[3].keep->count[0] == 1);  /* (1e9, 1e9): the floor */
	assert_true(sw->c[3].floor_hit);
	assert_true(sw->c[0].keep->count[0] <= 5);  /* (0, 0): neuron 1 at least */
	eval_model(c->m, x, NULL, R, &mt, pred);
	for (size_t i = 0; i < 4; i++) {
		if (sw->c[i].same_as != NNP_NO_DUP)
			continue;
		int32_t p2[R];
		eval_model(sw->models[i], x, NULL, R, &mt, p2);
		size_t agree = 0;
		for (size_t r = 0; r < R; r++)
			agree += p2[r] == pred[r];
		assert_true(sw->c[i].agreement == (double)agree / R);
		assert_true(sw->c[i].accuracy == 0.0);
		assert_true(sw->c[i].loss == 0.0);
		assert_true(sw->c[i].accuracy_drop == 0.0);
	}
	assert_true(sw->c[3].agreement < 1.0);
	nnp_sweep_free(sw);
	nnp_stats_free(s);
	tu_case_free(c);
}

static void test_sweep_errors(void **state)
{
	fixture *fx = *state;
	nnp_sweep *sw = NULL;
	nnp_sweep_opts o = opts_for(k_means, 6, k_stds, 5, 1, 1);
	o.n_stds = 0;
	assert_int_equal(nnp_sweep_run(&sw, fx->m, fx->s, fx->d, &o, &g_err), NNP_EUSAGE);
	assert_non_null(strstr(g_err.msg, "must not be empty"));
	o.n_stds = 5;
	o.min_keep = 0;
	assert_int_equal(nnp_sweep_run(&sw, fx->m, fx->s, fx->d, &o, &g_err), NNP_EUSAGE);
	assert_non_null(strstr(g_err.msg, "min_keep"));
	o.min_keep = 1;
	nnp_dataset bad = *fx->d;
	bad.features = 11;
	assert_int_equal(nnp_sweep_run(&sw, fx->m, fx->s, &bad, &o, &g_err), NNP_EINPUT);
	assert_non_null(strstr(g_err.msg, "11 features, the model expects 12"));
	int32_t y2 = fx->d->y[2];
	fx->d->y[2] = 7;
	assert_int_equal(nnp_sweep_run(&sw, fx->m, fx->s, fx->d, &o, &g_err), NNP_EINPUT);
	assert_non_null(strstr(g_err.msg, "data row 3: label 7 is out of range"));
	fx->d->y[2] = y2;
	bad = *fx->d;
	bad.rows = 0;
	assert_int_equal(nnp_sweep_run(&sw, fx->m, fx->s, &bad, &o, &g_err), NNP_EINPUT);
	assert_non_null(strstr(g_err.msg, "no rows"));
	fx->s->layers[1].neurons = 15;
	assert_int_equal(nnp_sweep_run(&sw, fx->m, fx->s, fx->d, &o, &g_err), NNP_EINPUT);
	assert_non_null(strstr(g_err.msg, "layer 1 has 15 neurons, the model 16"));
	fx->s->layers[1].neurons = 16;
	assert_int_equal(nnp_sweep_run(&sw, fx->m, fx->s, NULL, &o, &g_err), NNP_EUSAGE);
	assert_non_null(strstr(g_err.msg, "no data path"));
	assert_null(sw);
	nnp_sweep_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_values),
		cmocka_unit_test(test_list_errors),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_sweep_small_models),
	};
	const struct CMUnitTest sweep_tests[] = {
		cmocka_unit_test(test_sweep_default_grid),
		cmocka_unit_test(test_sweep_paths),
		cmocka_unit_test(test_sweep_threads_and_chunks),
		cmocka_unit_test(test_sweep_streaming),
		cmocka_unit_test(test_sweep_errors),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rc += cmocka_run_group_tests(sweep_tests, setup, tu_fixture_teardown);
	return rc;
}
