/* Tests of the l2, apoz, taylor and magnitude criteria against references
 * computed here independently: a sort for magnitude, norms in double for l2,
 * the statistics' zero shares for apoz, finite differences of the loss in
 * double for taylor. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/criteria.h"
#include "nnprune/forward.h"
#include "nnprune/method.h"
#include "nnprune/stats.h"
#include "testutil.h"

static nnp_dataset *data_new(tu_rng *r, size_t rows, size_t f, size_t classes)
{
	return tu_random_dataset(r, rows, f, -1, 1, classes);
}

/* ---- magnitude ------------------------------------------------------------ */

/* Reference: sort (|w|, layer, index) over the layers [l0, l1), zero the
 * first k in the copy r. */
static void ref_zero(const nnp_model *m, nnp_model *r, size_t l0, size_t l1, size_t k)
{
	size_t n;
	tu_wref *key = tu_weights_by_magnitude(m, l0, l1, &n);
	for (size_t t = 0; t < k; t++)
		r->layers[key[t].layer].w[key[t].index] = 0.0f;
	free(key);
}

static size_t py_round(double x)
{
	return (size_t)nearbyint(x);
}

static void assert_same_weights(const nnp_model *a, const nnp_model *b)
{
	for (size_t l = 0; l < a->n_layers; l++) {
		assert_memory_equal(a->layers[l].w, b->layers[l].w,
		                    a->layers[l].in * a->layers[l].out * sizeof(float));
		assert_memory_equal(a->layers[l].b, b->layers[l].b, a->layers[l].out * sizeof(float));
	}
}

/* Weights drawn from few magnitudes, so that ties are many. */
static nnp_model *tied_model(tu_rng *r)
{
	nnp_model *m = tu_net(r, "7 9:relu 6:tanh 4:softmax", 1.0);
	const float mags[] = { 0.25f, 0.5f, 0.75f, 1.0f, 0.125f };
	for (size_t l = 0; l < m->n_layers; l++)
		for (size_t i = 0; i < m->layers[l].in * m->layers[l].out; i++) {
			float v = mags[tu_next(r) % 5];
			m->layers[l].w[i] = tu_next(r) % 2 ? v : -v;
		}
	return m;
}

static void test_magnitude_reference(void **state)
{
	(void)state;
	tu_rng r = { 31 };
	nnp_err err;
	for (int trial = 0; trial < 6; trial++) {
		nnp_model *m = trial % 2 ? tied_model(&r) : NULL;
		if (!m) {
			m = tu_net(&r, "5 8:relu 6:relu 3:softmax", 1.0);
		}
		const double shares[] = { 0.0, 0.1, 0.37, 0.5, 0.9, 1.0 };
		for (size_t s = 0; s < 6; s++) {
			/* per layer, one share */
			nnp_model *p = NULL, *ref = NULL;
			size_t removed;
			assert_int_equal(nnp_prune_magnitude(m, &shares[s], 1, NNP_MAG_PER_LAYER, &p,
			                                     &removed, &err), NNP_OK);
			assert_int_equal(nnp_model_clone(&ref, m, &err), NNP_OK);
			size_t want = 0;
			for (size_t l = 0; l < m->n_layers; l++) {
				size_t n = m->layers[l].in * m->layers[l].out, k = py_round(shares[s] * n);
				ref_zero(m, ref, l, l + 1, k);
				want += k;
			}
			assert_same_weights(p, ref);
			assert_int_equal(removed, want);
			nnp_model_free(p);
			nnp_model_free(ref);
			/* global */
			assert_int_equal(nnp_prune_magnitude(m, &shares[s], 1, NNP_MAG_GLOBAL, &p,
			                                     &removed, &err), NNP_OK);
			assert_int_equal(nnp_model_clone(&ref, m, &err), NNP_OK);
			size_t total = nnp_model_macs(m), k = py_round(shares[s] * total);
			ref_zero(m, ref, 0, m->n_layers, k);
			assert_same_weights(p, ref);
			assert_int_equal(removed, k);
			assert_int_equal(nnp_model_nonzeros(p), total - k);
			nnp_model_free(p);
			nnp_model_free(ref);
		}
		/* per layer, one share each (the output layer spared) */
		const double per[] = { 0.6, 0.25, 0.0 };
		nnp_model *p = NULL, *ref = NULL;
		assert_int_equal(nnp_prune_magnitude(m, per, 3, NNP_MAG_PER_LAYER, &p, NULL, &err),
		                 NNP_OK);
		assert_int_equal(nnp_model_clone(&ref, m, &err), NNP_OK);
		for (size_t l = 0; l < 3; l++)
			ref_zero(m, ref, l, l + 1,
			         py_round(per[l] * m->layers[l].in * m->layers[l].out));
		assert_same_weights(p, ref);
		assert_memory_equal(p->layers[2].w, m->layers[2].w,
		                    m->layers[2].in * m->layers[2].out * sizeof(float));
		nnp_model_free(p);
		nnp_model_free(ref);
		nnp_model_free(m);
	}
}

static void test_magnitude_errors(void **state)
{
	(void)state;
	tu_case *tc = tu_case_seed(32);
	tc->m = tied_model(&tc->rng);
	nnp_model *p = NULL;
	nnp_err err;
	const double bad[] = { -0.1, 1.5, NAN };
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(nnp_prune_magnitude(tc->m, &bad[i], 1, NNP_MAG_GLOBAL, &p, NULL,
		                                     &err), NNP_EUSAGE);
		assert_non_null(strstr(err.msg, "outside 0 to 1"));
		assert_null(p);
	}
	const double per[] = { 0.1, 0.2, 2.0 };
	assert_int_equal(nnp_prune_magnitude(tc->m, per, 3, NNP_MAG_PER_LAYER, &p, NULL, &err),
	                 NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "layer 2"));
	assert_int_equal(nnp_prune_magnitude(tc->m, per, 3, NNP_MAG_GLOBAL, &p, NULL, &err),
	                 NNP_EUSAGE);
	assert_int_equal(nnp_prune_magnitude(tc->m, per, 2, NNP_MAG_PER_LAYER, &p, NULL, &err),
	                 NNP_EUSAGE);
	assert_null(p);
	/* The row is unstructured: the context refuses it but for the refit of
	 * the surviving weights (compensation ls, test_method). */
	nnp_method_opts o = NNP_METHOD_OPTS_INIT;
	assert_int_equal(nnp_method_parse("magnitude", &o.method), 0);
	o.compensate = NNP_COMP_NONE;
	assert_int_equal(nnp_criterion_at((size_t)o.method)->kind, NNP_CRIT_UNSTRUCTURED);
	assert_false(nnp_criterion_by_thresholds("magnitude"));
	assert_false(nnp_criterion_ranks(nnp_criterion_find("magnitude")));
	assert_true(nnp_criterion_ranks(nnp_criterion_find("taylor")));
	tc->d = data_new(&tc->rng, 10, 7, 4);
	nnp_method_ctx *c = NULL;
	assert_int_equal(nnp_method_ctx_create(&c, tc->m, tc->d, &o, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "magnitude zeroes single weights"));
	assert_null(c);
	tu_case_free(tc);
}

/* ---- the ranking rows through the method context ------------------------- */

/* The removal order of scores s (lowest first, equal: higher index first),
 * then the last k ascending. */
static void ref_kept(const double *s, size_t n, size_t k, size_t *kept)
{
	size_t *idx = malloc(n * sizeof *idx);
	assert_non_null(idx);
	for (size_t j = 0; j < n; j++)
		idx[j] = j;
	for (size_t a = 0; a < n; a++)
		for (size_t b = a + 1; b < n; b++) {
			size_t x = idx[a], y = idx[b];
			int swap = s[y] < s[x] || (s[y] == s[x] && y > x);
			if (swap) {
				idx[a] = y;
				idx[b] = x;
			}
		}
	size_t t = 0;
	for (size_t j = 0; j < n; j++) {
		int in = 0;
		for (size_t q = n - k; q < n; q++)
			in |= idx[q] == j;
		if (in)
			kept[t++] = j;
	}
	free(idx);
}

static nnp_keep *prune_with(const char *method, nnp_compensate comp, const nnp_model *m,
                            const nnp_dataset *d, const size_t *counts, unsigned threads,
                            nnp_model **out)
{
	nnp_method_opts o = NNP_METHOD_OPTS_INIT;
	assert_int_equal(nnp_method_parse(method, &o.method), 0);
	o.compensate = comp;
	o.threads = threads;
	o.batch = 7;
	nnp_keep *k = NULL;
	nnp_err err;
	int rc = nnp_method_prune(out, m, d, &o, counts, &k, &err);
	if (rc)
		fail_msg("%s: %s", method, err.msg);
	return k;
}

static void test_l2_brute_force(void **state)
{
	(void)state;
	tu_case *c = tu_case_new(41, "6 10:relu 8:relu 3:softmax", 1.0, 40, -1, 1, 3);
	size_t counts[] = { 4, 5 };
	nnp_model *p = NULL;
	nnp_keep *k = prune_with("l2", NNP_COMP_NONE, c->m, c->d, counts, 2, &p);
	/* layer 0: norms of the rows of W0 */
	double s0[10], s1[8];
	size_t want0[4], want1[5];
	for (size_t j = 0; j < 10; j++) {
		double a = 0;
		for (size_t i = 0; i < 6; i++)
			a += (double)c->m->layers[0].w[j * 6 + i] * c->m->layers[0].w[j * 6 + i];
		s0[j] = sqrt(a);
	}
	ref_kept(s0, 10, 4, want0);
	assert_memory_equal(k->idx[0], want0, sizeof want0);
	/* layer 1, as the network now is: W1's rows over the inputs layer 0 kept
	 * (no compensation: the same values) */
	for (size_t j = 0; j < 8; j++) {
		double a = 0;
		for (size_t t = 0; t < 4; t++) {
			double w = c->m->layers[1].w[j * 10 + want0[t]];
			a += w * w;
		}
		s1[j] = sqrt(a);
	}
	ref_kept(s1, 8, 5, want1);
	assert_memory_equal(k->idx[1], want1, sizeof want1);
	assert_int_equal(p->layers[0].out, 4);
	assert_int_equal(p->layers[1].out, 5);
	nnp_keep_free(k);
	nnp_model_free(p);
	tu_case_free(c);
}

static void test_apoz_zero_shares(void **state)
{
	(void)state;
	tu_case *c = tu_case_new(42, "5 12:relu 3:softmax", 1.0, 200, -1, 1, 3);
	/* biases spread the shares of zeros */
	for (size_t j = 0; j < 12; j++)
		c->m->layers[0].b[j] = (float)(((double)j - 6.0) / 4.0);
	nnp_stats *st = NULL;
	nnp_run_opts ro = NNP_RUN_OPTS_INIT;
	nnp_err err;
	assert_int_equal(nnp_run_dataset(c->m, c->d, &ro, &st, NULL, NULL, &err), NNP_OK);
	double s[12];
	for (size_t j = 0; j < 12; j++)
		s[j] = 1.0 - st->layers[0].zero_fraction[j];
	for (size_t keep = 1; keep <= 12; keep += 3) {
		size_t counts[] = { keep }, want[12];
		ref_kept(s, 12, keep, want);
		nnp_model *p = NULL;
		nnp_keep *k = prune_with("apoz", NNP_COMP_FOLD, c->m, c->d, counts, 1, &p);
		assert_memory_equal(k->idx[0], want, keep * sizeof *want);
		nnp_keep_free(k);
		nnp_model_free(p);
	}
	/* tanh: refused with the layer named */
	c->m->layers[0].act = NNP_ACT_TANH;
	nnp_method_opts o = NNP_METHOD_OPTS_INIT;
	assert_int_equal(nnp_method_parse("apoz", &o.method), 0);
	nnp_model *p = NULL;
	size_t counts[] = { 3 };
	assert_int_equal(nnp_method_prune(&p, c->m, c->d, &o, counts, NULL, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, "hidden layer 0 is tanh"));
	nnp_stats_free(st);
	tu_case_free(c);
}

/* ---- taylor ---------------------------------------------------------------- */

/* The loss of one row in double, from hidden layer `from`'s outputs a
 * onwards (from = -1: from the inputs). */
static double loss_from(const nnp_model *m, long from, const double *a, int32_t y)
{
	double cur[64], nxt[64];
	size_t n = from < 0 ? m->input_size : m->layers[from].out;
	memcpy(cur, a, n * sizeof *cur);
	size_t L = m->n_layers;
	for (size_t l = (size_t)(from + 1); l < L; l++) {
		const nnp_layer *Ly = &m->layers[l];
		for (size_t o = 0; o < Ly->out; o++) {
			double z = Ly->b[o];
			for (size_t i = 0; i < Ly->in; i++)
				z += (double)Ly->w[o * Ly->in + i] * cur[i];
			nxt[o] = l + 1 < L ? tu_ref_act(Ly->act, Ly->alpha, z) : z;
		}
		memcpy(cur, nxt, Ly->out * sizeof *cur);
	}
	const nnp_layer *last = &m->layers[L - 1];
	size_t K = last->out;
	if (last->act == NNP_ACT_SOFTMAX || nnp_model_logits(m)) {
		double mx = cur[0], s = 0;
		for (size_t k = 1; k < K; k++)
			mx = cur[k] > mx ? cur[k] : mx;
		for (size_t k = 0; k < K; k++)
			s += exp(cur[k] - mx);
		return log(s) + mx - cur[y];
	}
	double e = 0;
	for (size_t k = 0; k < K; k++) {
		double v = tu_ref_act(last->act, last->alpha, cur[k]) - (k == (size_t)y);
		e += v * v;
	}
	return e / (double)K;
}

/* Reference Taylor scores by central differences of the loss w.r.t. each
 * hidden activation, in double. */
static void ref_taylor(const nnp_model *m, const nnp_dataset *d, double **ref)
{
	size_t H = m->n_layers - 1;
	for (size_t h = 0; h < H; h++)
		memset(ref[h], 0, m->layers[h].out * sizeof **ref);
	for (size_t r = 0; r < d->rows; r++) {
		double a[8][64];
		double x[64];
		for (size_t i = 0; i < m->input_size; i++)
			x[i] = d->x[r * m->input_size + i];
		const double *in = x;
		for (size_t h = 0; h < H; h++) {
			const nnp_layer *Ly = &m->layers[h];
			for (size_t o = 0; o < Ly->out; o++) {
				double z = Ly->b[o];
				for (size_t i = 0; i < Ly->in; i++)
					z += (double)Ly->w[o * Ly->in + i] * in[i];
				a[h][o] = tu_ref_act(Ly->act, Ly->alpha, z);
			}
			in = a[h];
		}
		for (size_t h = 0; h < H; h++)
			for (size_t j = 0; j < m->layers[h].out; j++) {
				const double eps = 1e-6;
				double v = a[h][j];
				a[h][j] = v + eps;
				double lp = loss_from(m, (long)h, a[h], d->y[r]);
				a[h][j] = v - eps;
				double lm = loss_from(m, (long)h, a[h], d->y[r]);
				a[h][j] = v;
				ref[h][j] += fabs(v * (lp - lm) / (2 * eps)) / (double)d->rows;
			}
	}
}

static void check_taylor(nnp_model *m, tu_rng *r)
{
	size_t H = m->n_layers - 1;
	nnp_dataset *d = data_new(r, 23, m->input_size, nnp_model_outputs(m));
	double *got[8], *ref[8], *again[8];
	for (size_t h = 0; h < H; h++) {
		got[h] = calloc(m->layers[h].out, sizeof(double));
		ref[h] = calloc(m->layers[h].out, sizeof(double));
		again[h] = calloc(m->layers[h].out, sizeof(double));
	}
	nnp_err err;
	assert_int_equal(nnp_taylor_scores(m, d, 1, 5, got, &err), NNP_OK);
	ref_taylor(m, d, ref);
	for (size_t h = 0; h < H; h++)
		for (size_t j = 0; j < m->layers[h].out; j++) {
			double tol = 1e-4 * fabs(ref[h][j]) + 1e-6;
			if (fabs(got[h][j] - ref[h][j]) > tol)
				fail_msg("layer %zu neuron %zu: %.9g, finite differences %.9g", h, j,
				         got[h][j], ref[h][j]);
		}
	/* any thread count: the same bits */
	for (unsigned t = 2; t <= 4; t += 2) {
		assert_int_equal(nnp_taylor_scores(m, d, t, 5, again, &err), NNP_OK);
		for (size_t h = 0; h < H; h++)
			assert_memory_equal(got[h], again[h], m->layers[h].out * sizeof(double));
	}
	/* the row through the method context keeps the largest scores */
	size_t counts[8], want[64];
	for (size_t h = 0; h < H; h++)
		counts[h] = h == 0 ? m->layers[0].out / 2 : m->layers[h].out;
	nnp_model *p = NULL;
	nnp_keep *k = prune_with("taylor", NNP_COMP_LS, m, d, counts, 2, &p);
	ref_kept(got[0], m->layers[0].out, counts[0], want);
	assert_memory_equal(k->idx[0], want, counts[0] * sizeof *want);
	nnp_keep_free(k);
	nnp_model_free(p);
	for (size_t h = 0; h < H; h++) {
		free(got[h]);
		free(ref[h]);
		free(again[h]);
	}
	nnp_dataset_free(d);
}

static void test_taylor_finite_differences(void **state)
{
	(void)state;
	tu_rng r = { 43 };
	{
		const size_t sizes[] = { 4, 6, 5, 3 };
		const nnp_act acts[] = { NNP_ACT_TANH, NNP_ACT_SIGMOID, NNP_ACT_SOFTMAX };
		nnp_model *m = tu_random_model(&r, 3, sizes, acts, 1.0);
		check_taylor(m, &r);
		nnp_model_free(m);
	}
	{   /* logits: a linear last layer read as class logits */
		const size_t sizes[] = { 3, 7, 4 };
		const nnp_act acts[] = { NNP_ACT_TANH, NNP_ACT_LINEAR };
		nnp_model *m = tu_random_model(&r, 2, sizes, acts, 1.0);
		m->logits = 1;
		check_taylor(m, &r);
		nnp_model_free(m);
	}
	{   /* mean squared error against the one-hot label */
		nnp_model *m = tu_net(&r, "3 6:tanh 2:sigmoid", 1.0);
		check_taylor(m, &r);
		nnp_model_free(m);
	}
}

static void test_taylor_needs_labels(void **state)
{
	(void)state;
	tu_case *tc = tu_case_new(44, "3 5:relu 2:softmax", 1.0, 9, -1, 1, 2);
	double s[5], *sc[1] = { s };
	nnp_err err;
	tc->d->y[4] = 2;
	assert_int_equal(nnp_taylor_scores(tc->m, tc->d, 1, 0, sc, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, "row 5: label 2 is out of range"));
	int32_t *y = tc->d->y;
	tc->d->y = NULL;
	assert_int_equal(nnp_taylor_scores(tc->m, tc->d, 1, 0, sc, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, "no labels"));
	nnp_method_opts o = NNP_METHOD_OPTS_INIT;
	assert_int_equal(nnp_method_parse("taylor", &o.method), 0);
	nnp_method_ctx *c = NULL;
	assert_int_equal(nnp_method_ctx_create(&c, tc->m, tc->d, &o, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, "method taylor needs them"));
	tc->d->y = y;
	tu_case_free(tc);
}

/* Streamed calibration rows (labels in the first column) give the same
 * Taylor scores, kept sets and model bits as the rows in memory; a file
 * without labels is refused. */
static void test_taylor_streamed(void **state)
{
	(void)state;
	tu_case *c = tu_case_new(45, "5 9:relu 7:tanh 3:softmax", 1.0, 61, -1, 1, 3);
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "calib.csv");
	size_t cap = 61 * 6 * 20, len = 0;
	char *csv = malloc(cap);
	for (size_t i = 0; i < 61; i++) {
		len += (size_t)snprintf(csv + len, cap - len, "%d", (int)c->d->y[i]);
		for (size_t j = 0; j < 5; j++)
			len += (size_t)snprintf(csv + len, cap - len, ",%.9g",
			                        (double)c->d->x[i * 5 + j]);
		len += (size_t)snprintf(csv + len, cap - len, "\n");
	}
	tu_write(path, csv, len);
	free(csv);
	nnp_data_opts so = NNP_DATA_OPTS_INIT;
	so.header = NNP_HEADER_NO;
	so.label = NNP_LABEL_FIRST;
	nnp_calib_stream src = { path, &so, 0, NULL };
	nnp_method_opts o = NNP_METHOD_OPTS_INIT;
	assert_int_equal(nnp_method_parse("taylor", &o.method), 0);
	o.batch = 8;
	o.threads = 2;
	nnp_err err;
	nnp_method_ctx *cs = NULL, *cm = NULL;
	assert_int_equal(nnp_method_ctx_create_stream(&cs, c->m, &src, &o, &err), NNP_OK);
	assert_int_equal(nnp_method_ctx_create(&cm, c->m, c->d, &o, &err), NNP_OK);
	const size_t counts[][2] = { { 4, 7 }, { 9, 3 }, { 5, 2 } };
	for (size_t t = 0; t < 3; t++) {
		nnp_model *ps = NULL, *pm = NULL;
		nnp_keep *ks = NULL, *km = NULL;
		if (nnp_method_ctx_prune(cs, counts[t], &ps, &ks, &err))
			fail_msg("%s", err.msg);
		assert_int_equal(nnp_method_ctx_prune(cm, counts[t], &pm, &km, &err), NNP_OK);
		assert_true(nnp_keep_equal(ks, km));
		for (size_t l = 0; l < 3; l++)
			assert_int_equal(ps->layers[l].out, pm->layers[l].out);
		assert_same_weights(ps, pm);
		nnp_keep_free(ks);
		nnp_keep_free(km);
		nnp_model_free(ps);
		nnp_model_free(pm);
	}
	nnp_method_ctx_free(cs);
	nnp_method_ctx_free(cm);
	/* the features alone, without labels: refused when the pass needs them */
	len = 0;
	csv = malloc(cap);
	for (size_t i = 0; i < 61; i++)
		for (size_t j = 0; j < 5; j++)
			len += (size_t)snprintf(csv + len, cap - len, "%.9g%s",
			                        (double)c->d->x[i * 5 + j], j < 4 ? "," : "\n");
	tu_write(path, csv, len);
	free(csv);
	so.label = NNP_LABEL_NONE;
	const size_t c0[2] = { 4, 7 };
	nnp_model *p = NULL;
	assert_int_equal(nnp_method_ctx_create_stream(&cs, c->m, &src, &o, &err), NNP_OK);
	assert_int_equal(nnp_method_ctx_prune(cs, c0, &p, NULL, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, "no labels"));
	assert_null(p);
	nnp_method_ctx_free(cs);
	free(path);
	tu_rmtree_free(dir);
	tu_case_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_magnitude_reference),
		cmocka_unit_test(test_magnitude_errors),
		cmocka_unit_test(test_l2_brute_force),
		cmocka_unit_test(test_apoz_zero_shares),
		cmocka_unit_test(test_taylor_finite_differences),
		cmocka_unit_test(test_taylor_needs_labels),
		cmocka_unit_test(test_taylor_streamed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
