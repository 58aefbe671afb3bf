/* Tests of the evaluation of already-built models (evaluate.h): every figure
 * against an independent evaluation (nnp_forward_run + nnp_metrics_add over
 * the same blocks, agreement and Pareto flags by brute force), duplicates,
 * determinism across thread counts and between memory and a streamed file,
 * pruned models from the methods, unlabelled data, and the error cases. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/evaluate.h"
#include "nnprune/forward.h"
#include "nnprune/method.h"
#include "testutil.h"

#define IN 6
#define OUT 4

static nnp_dataset *make_data(tu_rng *r, size_t rows, int labelled)
{
	return tu_random_dataset(r, rows, IN, -2, 2, labelled ? OUT : 0);
}

/* The original 6-12-10-4 and candidates of other hidden widths. */
static nnp_model *make_model(tu_rng *r, size_t h1, size_t h2, nnp_act out_act)
{
	const size_t sizes[] = { IN, h1, h2, OUT };
	const nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_TANH, out_act };
	return tu_random_model(r, 3, sizes, acts, 0.8);
}

/* What an independent evaluation finds for one model. */
typedef struct ref_eval {
	nnp_metrics mt;
	uint64_t agree;
	int32_t *pred;   /* [rows] */
} ref_eval;

static void ref_run(ref_eval *e, const nnp_model *p, const nnp_dataset *d, size_t block,
                    const int32_t *opred)
{
	nnp_err err;
	nnp_forward *f = NULL;
	assert_int_equal(nnp_forward_create(&f, p, block, &err), 0);
	memset(e, 0, sizeof *e);
	e->pred = malloc(d->rows * sizeof *e->pred);
	assert_non_null(e->pred);
	for (size_t r0 = 0; r0 < d->rows; r0 += block) {
		size_t n = d->rows - r0 < block ? d->rows - r0 : block;
		const float *out = nnp_forward_run(f, d->x + r0 * d->features, n);
		nnp_metrics b;
		memset(&b, 0, sizeof b);
		nnp_metrics_add(&b, p->layers[p->n_layers - 1].act, out, n, OUT,
		                d->y ? d->y + r0 : NULL, e->pred + r0, NULL);
		nnp_metrics_merge(&e->mt, &b);
	}
	for (size_t i = 0; i < d->rows; i++)
		e->agree += opred ? e->pred[i] == opred[i] : 1;
	nnp_forward_free(f);
}

static size_t ref_params(const nnp_model *p)
{
	size_t n = 0, in = p->input_size;
	for (size_t l = 0; l < p->n_layers; l++) {
		n += (in + 1) * p->layers[l].out;
		in = p->layers[l].out;
	}
	return n;
}

static size_t ref_macs(const nnp_model *p)
{
	size_t n = 0, in = p->input_size;
	for (size_t l = 0; l < p->n_layers; l++) {
		n += in * p->layers[l].out;
		in = p->layers[l].out;
	}
	return n;
}

static void assert_close(double a, double b, double tol)
{
	if (!(fabs(a - b) <= tol))
		fail_msg("%.17g != %.17g (tolerance %g)", a, b, tol);
}

/* Brute force: Pareto iff no other distinct point is smaller and at least as
 * accurate, nor as small and more accurate. */
static int ref_pareto(const nnp_candidate *all, const int *distinct, size_t n, size_t i)
{
	for (size_t j = 0; j < n; j++) {
		if (j == i || !distinct[j])
			continue;
		if (all[j].params < all[i].params && all[j].accuracy >= all[i].accuracy)
			return 0;
		if (all[j].params == all[i].params && all[j].accuracy > all[i].accuracy)
			return 0;
	}
	return 1;
}

/* Checks every filled figure of orig and c[0..n) against the references. */
static void check_against_reference(const nnp_model *m, nnp_model *const *models,
                                    const nnp_candidate *c, size_t n, const nnp_candidate *orig,
                                    const nnp_dataset *d, size_t block)
{
	ref_eval o;
	ref_run(&o, m, d, block, NULL);
	size_t p0 = ref_params(m);
	assert_int_equal(orig->params, p0);
	assert_int_equal(orig->bytes, 4 * p0);
	assert_int_equal(orig->macs, ref_macs(m));
	assert_true(orig->accuracy == nnp_metrics_accuracy(&o.mt));
	assert_true(orig->loss == nnp_metrics_loss(&o.mt));
	assert_true(orig->agreement == 1.0);
	assert_true(orig->accuracy_drop == 0.0);
	assert_true(orig->reduction == 0.0);
	nnp_candidate *all = calloc(n + 1, sizeof *all);
	int *distinct = calloc(n + 1, sizeof *distinct);
	assert_non_null(all);
	assert_non_null(distinct);
	all[0] = *orig;
	distinct[0] = 1;
	for (size_t i = 0; i < n; i++) {
		size_t s = c[i].same_as == NNP_NO_DUP ? i : c[i].same_as;
		const nnp_model *p = models[s];
		ref_eval e;
		ref_run(&e, p, d, block, o.pred);
		size_t pp = ref_params(p);
		assert_int_equal(c[i].params, pp);
		assert_int_equal(c[i].bytes, 4 * pp);
		assert_int_equal(c[i].macs, ref_macs(p));
		/* Bit for bit: the same blocks, the same sums in the same order. */
		assert_true(c[i].accuracy == nnp_metrics_accuracy(&e.mt));
		assert_true(c[i].loss == nnp_metrics_loss(&e.mt));
		assert_true(c[i].agreement == (double)e.agree / (double)d->rows);
		if (d->y)
			assert_close(c[i].accuracy_drop,
			             100.0 * ((double)o.mt.correct - (double)e.mt.correct) / (double)d->rows,
			             0);
		else
			assert_true(c[i].accuracy_drop == 0.0);
		assert_close(c[i].reduction, 100.0 * ((double)p0 - (double)pp) / (double)p0, 1e-12);
		all[i + 1] = c[i];
		distinct[i + 1] = c[i].same_as == NNP_NO_DUP;
		free(e.pred);
	}
	for (size_t i = 0; i <= n; i++) {
		size_t s = i == 0 || c[i - 1].same_as == NNP_NO_DUP ? i : c[i - 1].same_as + 1;
		if (all[i].pareto != ref_pareto(all, distinct, n + 1, s))
			fail_msg("model %zu: pareto %d, expected %d", i, all[i].pareto,
			         ref_pareto(all, distinct, n + 1, s));
	}
	free(all);
	free(distinct);
	free(o.pred);
}

static void init_cands(nnp_candidate *c, size_t n)
{
	memset(c, 0, n * sizeof *c);
	for (size_t i = 0; i < n; i++) {
		c[i].same_as = NNP_NO_DUP;
		c[i].thr.mean = c[i].thr.std = NAN;
	}
}

/* A test's original, its candidates and its labelled rows, owned together. */
typedef struct eval_case {
	tu_rng r;
	nnp_model *m;
	nnp_model *models[5];
	size_t n;
	nnp_dataset *d;
} eval_case;

/* The original (hidden widths 12 and 10), n candidates of hidden widths w[i]
 * ({ 0, 0 }: an empty slot, for a duplicate), all with out_act, then rows
 * labelled rows (none with 0), drawn from seed in that order. Free with
 * free_case. */
static eval_case make_case(uint64_t seed, nnp_act out_act, const size_t (*w)[2], size_t n,
                           size_t rows)
{
	eval_case e = { { seed }, NULL, { NULL }, n, NULL };
	assert_true(n <= 5);
	e.m = make_model(&e.r, 12, 10, out_act);
	for (size_t i = 0; i < n; i++)
		if (w[i][0])
			e.models[i] = make_model(&e.r, w[i][0], w[i][1], out_act);
	if (rows)
		e.d = make_data(&e.r, rows, 1);
	return e;
}

static void free_case(eval_case *e)
{
	for (size_t i = 0; i < e->n; i++)
		nnp_model_free(e->models[i]);
	nnp_model_free(e->m);
	nnp_dataset_free(e->d);
}

/* ---- tests ------------------------------------------------------------ */

static void test_against_reference(void **state)
{
	(void)state;
	/* 2: a duplicate of 0; 4: the same size as 0 */
	static const size_t w[5][2] = { { 6, 5 }, { 12, 3 }, { 0, 0 }, { 2, 2 }, { 6, 5 } };
	eval_case e = make_case(7, NNP_ACT_SOFTMAX, w, 5, 1000);
	nnp_candidate c[5], orig;
	init_cands(c, 5);
	c[2].same_as = 0;
	c[3].keep = (nnp_keep *)&e.r;   /* untouched fields stay as they were */
	memset(&orig, 0, sizeof orig);
	nnp_err err;
	nnp_eval_opts o = NNP_EVAL_OPTS_INIT;
	uint64_t rows = 0;
	assert_int_equal(nnp_evaluate_models(e.m, (const nnp_model *const *)e.models, c, 5, e.d, &o,
	                                     &orig, &rows, &err), 0);
	assert_int_equal(rows, 1000);
	check_against_reference(e.m, e.models, c, 5, &orig, e.d, NNP_EVAL_BLOCK);
	assert_ptr_equal(c[3].keep, &e.r);
	assert_true(isnan(c[3].thr.mean));
	assert_int_equal(c[2].same_as, 0);
	/* The duplicate has exactly its first's figures. */
	assert_true(c[2].accuracy == c[0].accuracy && c[2].loss == c[0].loss &&
	            c[2].params == c[0].params && c[2].pareto == c[0].pareto);
	/* Some candidate differs from the original: the test can see a mistake. */
	assert_true(c[3].agreement < 1.0);
	free_case(&e);
}

/* A small block size: many blocks, partial last block, several chunks. */
static void test_small_blocks_and_threads(void **state)
{
	(void)state;
	static const size_t w[3][2] = { { 9, 10 }, { 4, 7 }, { 12, 10 } };
	eval_case e = make_case(11, NNP_ACT_LINEAR, w, 3, 777);
	nnp_candidate ref[3], c[3], o0, o1;
	nnp_err err;
	init_cands(ref, 3);
	init_cands(&o0, 1);
	init_cands(&o1, 1);
	nnp_eval_opts o = { 1, 7 };
	assert_int_equal(nnp_evaluate_models(e.m, (const nnp_model *const *)e.models, ref, 3, e.d,
	                                     &o, &o0, NULL, &err), 0);
	check_against_reference(e.m, e.models, ref, 3, &o0, e.d, 7);
	assert_true(o0.loss > 0.0);   /* MSE against the one-hot labels */
	for (unsigned t = 2; t <= 5; t++) {
		init_cands(c, 3);
		o.threads = t;
		assert_int_equal(nnp_evaluate_models(e.m, (const nnp_model *const *)e.models, c, 3,
		                                     e.d, &o, &o1, NULL, &err), 0);
		assert_memory_equal(c, ref, sizeof c);
		assert_memory_equal(&o1, &o0, sizeof o1);
	}
	free_case(&e);
}

/* The rows written as CSV (%.9g reads back bit for bit) and streamed give
 * the same figures as in memory, with chunks of few blocks. */
static void test_file_equals_memory(void **state)
{
	(void)state;
	static const size_t w[2][2] = { { 5, 10 }, { 12, 4 } };
	eval_case e = make_case(23, NNP_ACT_SOFTMAX, w, 2, 3001);
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "rows.csv");
	size_t cap = e.d->rows * (IN + 1) * 20 + 1, len = 0;
	char *csv = malloc(cap);
	assert_non_null(csv);
	for (size_t i = 0; i < e.d->rows; i++) {
		len += (size_t)snprintf(csv + len, cap - len, "%d", (int)e.d->y[i]);
		for (size_t j = 0; j < IN; j++)
			len += (size_t)snprintf(csv + len, cap - len, ",%.9g",
			                        (double)e.d->x[i * IN + j]);
		len += (size_t)snprintf(csv + len, cap - len, "\n");
	}
	tu_write(path, csv, len);
	nnp_candidate a[2], b[2], oa, ob;
	init_cands(a, 2);
	init_cands(b, 2);
	init_cands(&oa, 1);
	init_cands(&ob, 1);
	nnp_err err;
	/* Block 3: streaming chunks hold 64 blocks, so 3001 rows take 16 chunks. */
	nnp_eval_opts o = { 2, 3 };
	uint64_t ra = 0, rb = 0;
	assert_int_equal(nnp_evaluate_models(e.m, (const nnp_model *const *)e.models, a, 2, e.d, &o,
	                                     &oa, &ra, &err), 0);
	nnp_data_opts dopts = NNP_DATA_OPTS_INIT;
	dopts.header = NNP_HEADER_NO;
	assert_int_equal(nnp_evaluate_models_file(e.m, (const nnp_model *const *)e.models, b, 2,
	                                          path, &dopts, &o, &ob, &rb, &err), 0);
	assert_int_equal(ra, 3001);
	assert_int_equal(rb, 3001);
	assert_memory_equal(a, b, sizeof a);
	assert_memory_equal(&oa, &ob, sizeof oa);
	check_against_reference(e.m, e.models, a, 2, &oa, e.d, 3);
	/* Through a sweep, with a duplicate. */
	nnp_sweep sw;
	memset(&sw, 0, sizeof sw);
	init_cands(&sw.original, 1);
	nnp_candidate sc[3];
	nnp_model *sm[3] = { e.models[0], NULL, e.models[1] };
	init_cands(sc, 3);
	sc[1].same_as = 0;
	sw.n = 3;
	sw.c = sc;
	sw.models = sm;
	assert_int_equal(nnp_sweep_evaluate(&sw, e.m, NULL, path, &dopts, &o, &err), 0);
	assert_int_equal(sw.n_unique, 2);
	assert_int_equal(sw.rows, 3001);
	assert_memory_equal(&sw.original, &oa, sizeof oa);
	assert_memory_equal(&sc[0], &a[0], sizeof sc[0]);
	assert_memory_equal(&sc[2], &a[1], sizeof sc[2]);
	assert_true(sc[1].accuracy == a[0].accuracy && sc[1].params == a[0].params);
	free(csv);
		free(path);
	tu_rmtree_free(dir);
	free_case(&e);
}

/* Models from the pruning methods, and an unlabelled data set. */
static void test_method_models_unlabelled(void **state)
{
	(void)state;
	/* no candidates drawn: the methods make them; d the calibration rows */
	eval_case e = make_case(31, NNP_ACT_SOFTMAX, NULL, 0, 0);
	e.d = make_data(&e.r, 400, 0);
	e.n = 2;
	nnp_dataset *ev = make_data(&e.r, 500, 1);
	const size_t counts[2][2] = { { 6, 5 }, { 3, 2 } };
	nnp_method_opts mo = NNP_METHOD_OPTS_INIT;
	mo.threads = 1;
	nnp_err err;
	for (int i = 0; i < 2; i++)
		assert_int_equal(nnp_method_prune(&e.models[i], e.m, e.d, &mo, counts[i], NULL,
		                                  &err), 0);
	nnp_candidate c[2], orig;
	init_cands(c, 2);
	assert_int_equal(nnp_evaluate_models(e.m, (const nnp_model *const *)e.models, c, 2, ev,
	                                     NULL, &orig, NULL, &err), 0);
	check_against_reference(e.m, e.models, c, 2, &orig, ev, NNP_EVAL_BLOCK);
	assert_int_equal(c[1].params, (6 + 1) * 3 + (3 + 1) * 2 + (2 + 1) * 4);
	/* Without labels: no accuracy, but agreement still measured. */
	free(ev->y);
	ev->y = NULL;
	nnp_candidate u[2], uo;
	init_cands(u, 2);
	assert_int_equal(nnp_evaluate_models(e.m, (const nnp_model *const *)e.models, u, 2, ev,
	                                     NULL, &uo, NULL, &err), 0);
	check_against_reference(e.m, e.models, u, 2, &uo, ev, NNP_EVAL_BLOCK);
	assert_true(u[0].accuracy == 0.0 && u[0].accuracy_drop == 0.0 && u[0].loss == 0.0);
	assert_true(u[0].agreement == c[0].agreement && u[1].agreement == c[1].agreement);
	free_case(&e);
	nnp_dataset_free(ev);
}

/* A two-layer kept set from "a,b|c" style lists: layer 0 keeps idx0[0..n0). */
static nnp_keep *make_keep(const size_t *idx0, size_t n0, const size_t *idx1, size_t n1)
{
	nnp_keep *k = nnp_keep_alloc(2);
	assert_non_null(k);
	k->count[0] = n0;
	k->count[1] = n1;
	k->idx[0] = malloc((n0 + 1) * sizeof **k->idx);
	k->idx[1] = malloc((n1 + 1) * sizeof **k->idx);
	assert_true(k->idx[0] && k->idx[1]);
	memcpy(k->idx[0], idx0, n0 * sizeof *idx0);
	memcpy(k->idx[1], idx1, n1 * sizeof *idx1);
	return k;
}

static void test_dedupe(void **state)
{
	(void)state;
	const size_t a0[] = { 0, 2, 5 }, a1[] = { 1 }, b1[] = { 2 }, c0[] = { 0, 2 };
	nnp_candidate c[6];
	init_cands(c, 6);
	c[0].keep = make_keep(a0, 3, a1, 1);
	c[1].keep = make_keep(a0, 3, b1, 1);     /* differs in layer 1 only */
	c[2].keep = make_keep(a0, 3, a1, 1);     /* = 0 */
	c[3].keep = make_keep(c0, 2, a1, 1);     /* a prefix of 0's layer 0 */
	c[4].keep = make_keep(a0, 3, b1, 1);     /* = 1 */
	c[5].keep = make_keep(c0, 2, a1, 1);     /* = 3 */
	for (int i = 0; i < 6; i++)
		c[i].same_as = 99;                   /* overwritten, never read */
	size_t uniq = 0;
	nnp_err err;
	assert_int_equal(nnp_candidates_dedupe(c, 6, &uniq, &err), 0);
	assert_int_equal(uniq, 3);
	const size_t want[6] = { NNP_NO_DUP, NNP_NO_DUP, 0, NNP_NO_DUP, 1, 3 };
	for (int i = 0; i < 6; i++)
		assert_int_equal(c[i].same_as, want[i]);
	/* Many candidates: more than the first table size, all distinct or paired. */
	enum { N = 100 };
	nnp_candidate *m = calloc(N, sizeof *m);
	assert_non_null(m);
	for (size_t i = 0; i < N; i++) {
		size_t x = i % 37, y = i % 2;
		m[i].keep = make_keep(&x, 1, &y, 1);
	}
	assert_int_equal(nnp_candidates_dedupe(m, N, &uniq, &err), 0);
	assert_int_equal(uniq, 74);   /* (i mod 37, i mod 2) repeats with period 74 */
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(m[i].same_as, i < 74 ? NNP_NO_DUP : i - 74);
		nnp_keep_free(m[i].keep);
	}
	free(m);
	nnp_keep_free(c[5].keep);
	c[5].keep = NULL;
	assert_int_equal(nnp_candidates_dedupe(c, 6, &uniq, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "candidate 5 has no kept set");
	for (int i = 0; i < 5; i++)
		nnp_keep_free(c[i].keep);
}

static void expect_err(int rc, const nnp_err *err, int status, const char *needle)
{
	assert_int_equal(rc, status);
	assert_int_equal(err->status, status);
	tu_expect_msg(err, needle);
}

static void test_errors(void **state)
{
	(void)state;
	tu_rng r = { 41 };
	nnp_model *m = make_model(&r, 12, 10, NNP_ACT_SOFTMAX);
	nnp_model *good = make_model(&r, 5, 5, NNP_ACT_SOFTMAX);
	const size_t s7[] = { IN + 1, 5, 5, OUT }, s5[] = { IN, 5, 5, OUT + 1 };
	const nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_RELU, NNP_ACT_SOFTMAX };
	nnp_model *wide_in = tu_random_model(&r, 3, s7, acts, 1);
	nnp_model *wide_out = tu_random_model(&r, 3, s5, acts, 1);
	nnp_model *linear_out = make_model(&r, 5, 5, NNP_ACT_LINEAR);
	nnp_dataset *d = make_data(&r, 50, 1);
	nnp_candidate c[2], orig;
	nnp_err err;
	const nnp_model *one[2] = { good, good };
	int rc;

	init_cands(c, 2);
	const nnp_eval_opts many_threads = { 300, 0 }, huge_blocks = { 1, 100000 };
	const nnp_model *bad_in[1] = { wide_in }, *bad_out[2] = { good, wide_out };
	const nnp_model *bad_act[1] = { linear_out }, *none[2] = { NULL, NULL };
	const struct {
		const nnp_model *const *models;
		size_t n;
		const nnp_eval_opts *o;
		int status;
		const char *msg;
	} bad[] = {
		{ one, 1, &many_threads, NNP_EUSAGE, "300 threads, at most 256" },
		{ one, 1, &huge_blocks, NNP_EUSAGE, "blocks of 100000 rows" },
		{ bad_in, 1, NULL, NNP_EINPUT, "candidate 0 takes 7 inputs, the original 6" },
		{ bad_out, 2, NULL, NNP_EINPUT,
		  "candidate 1 has 5 softmax outputs, the original 4 softmax" },
		{ bad_act, 1, NULL, NNP_EINPUT, "4 linear outputs, the original 4 softmax" },
		{ none, 1, NULL, NNP_EUSAGE, "candidate 0 has no model" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rc = nnp_evaluate_models(m, bad[i].models, c, bad[i].n, d, bad[i].o, &orig, NULL,
		                         &err);
		expect_err(rc, &err, bad[i].status, bad[i].msg);
	}
	c[0].same_as = 1;
	rc = nnp_evaluate_models(m, one, c, 2, d, NULL, &orig, NULL, &err);
	expect_err(rc, &err, NNP_EUSAGE, "candidate 0: same_as 1 is not an earlier distinct");
	c[0].same_as = NNP_NO_DUP;

	d->y[17] = OUT;
	rc = nnp_evaluate_models(m, one, c, 1, d, NULL, &orig, NULL, &err);
	expect_err(rc, &err, NNP_EINPUT, "data row 18: label 4 is out of range for a model with 4");
	d->y[17] = 0;
	d->features = IN + 1;
	rc = nnp_evaluate_models(m, one, c, 1, d, NULL, &orig, NULL, &err);
	expect_err(rc, &err, NNP_EINPUT, "the data has 7 features, the model takes 6");
	d->features = IN;
	size_t rows = d->rows;
	d->rows = 0;
	rc = nnp_evaluate_models(m, one, c, 1, d, NULL, &orig, NULL, &err);
	expect_err(rc, &err, NNP_EINPUT, "the data has no rows");
	d->rows = rows;
	rc = nnp_evaluate_models(m, one, c, 1, NULL, NULL, &orig, NULL, &err);
	expect_err(rc, &err, NNP_EUSAGE, "no data");

	/* A file with the wrong feature count, and one with no rows. */
	char *dir = tu_mkdtemp(), *p1 = tu_path(dir, "a.csv"), *p2 = tu_path(dir, "b.csv");
	tu_write(p1, "1,2,3\n0,1,2\n", 12);
	tu_write(p2, "", 0);
	rc = nnp_evaluate_models_file(m, one, c, 1, p1, NULL, NULL, &orig, NULL, &err);
	assert_int_equal(rc, NNP_EINPUT);
	tu_expect_msg(&err, "a.csv");
	rc = nnp_evaluate_models_file(m, one, c, 1, p2, NULL, NULL, &orig, NULL, &err);
	assert_int_equal(rc, NNP_EINPUT);
	tu_expect_msg(&err, "b.csv");
		free(p1);
	free(p2);
	tu_rmtree_free(dir);

	nnp_model_free(m);
	nnp_model_free(good);
	nnp_model_free(wide_in);
	nnp_model_free(wide_out);
	nnp_model_free(linear_out);
	nnp_dataset_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_small_blocks_and_threads),
		cmocka_unit_test(test_file_equals_memory),
		cmocka_unit_test(test_method_models_unlabelled),
		cmocka_unit_test(test_dedupe),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
