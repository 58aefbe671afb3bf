/* Tests of the pruning rule, the min_keep floor, physical removal and folding. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/prune.h"
#include "stats_priv.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------- */

/* Statistics of ReLU layers of the given widths, every figure 0. */
static nnp_stats *make_stats(size_t n_layers, const size_t *widths)
{
	const nnp_act acts[4] = { NNP_ACT_RELU, NNP_ACT_RELU, NNP_ACT_RELU, NNP_ACT_RELU };
	nnp_stats *s = NULL;
	nnp_err err;
	assert_true(n_layers <= 4);
	if (nnp_stats_alloc(&s, n_layers, widths, acts, &err))
		fail_msg("nnp_stats_alloc: %s", err.msg);
	return s;
}

/*
 * Reference rule: mark removals, then while the floor is not met, bring back
 * the removed neuron of largest std (first in index order on ties).
 */
static void ref_keep(const nnp_layer_stats *ls, double mt, double st, size_t min_keep,
                     unsigned char *stay, int *floor_hit)
{
	size_t w = ls->neurons, kept = 0;
	for (size_t j = 0; j < w; j++) {
		stay[j] = !(fabs(ls->mean[j]) <= mt && ls->std[j] <= st);
		kept += stay[j];
	}
	size_t want = min_keep < w ? min_keep : w;
	*floor_hit = kept < want;
	while (kept < want) {
		size_t best = w;
		for (size_t j = 0; j < w; j++)
			if (!stay[j] && (best == w || ls->std[j] > ls->std[best]))
				best = j;
		stay[best] = 1;
		kept++;
	}
}

static void check_against_ref(const nnp_stats *s, const nnp_keep *k, double mt, double st,
                              size_t min_keep)
{
	assert_int_equal(k->n_layers, s->n_layers);
	unsigned char stay[64];
	int any = 0;
	for (size_t l = 0; l < s->n_layers; l++) {
		int fh;
		ref_keep(&s->layers[l], mt, st, min_keep, stay, &fh);
		size_t c = 0;
		for (size_t j = 0; j < s->layers[l].neurons; j++) {
			if (!stay[j])
				continue;
			assert_true(c < k->count[l]);
			assert_int_equal(k->idx[l][c], j);
			c++;
		}
		assert_int_equal(c, k->count[l]);
		assert_int_equal(k->floor_hit[l], fh);
		any |= fh;
	}
	assert_int_equal(nnp_keep_any_floor(k), any);
}

/* ---- the rule --------------------------------------------------------- */

static void test_rule_matches_reference(void **state)
{
	(void)state;
	tu_rng rng = { 42 };
	nnp_err err;
	nnp_err_clear(&err);
	for (int trial = 0; trial < 60; trial++) {
		size_t widths[4];
		size_t nl = 1 + tu_next(&rng) % 4;
		for (size_t l = 0; l < nl; l++)
			widths[l] = 1 + tu_next(&rng) % 40;
		nnp_stats *s = make_stats(nl, widths);
		for (size_t l = 0; l < nl; l++)
			for (size_t j = 0; j < widths[l]; j++) {
				/* Quantised values so that ties and exact threshold hits occur. */
				s->layers[l].mean[j] = (double)((int)(tu_next(&rng) % 21) - 10) / 10.0;
				s->layers[l].std[j] = (double)(tu_next(&rng) % 11) / 10.0;
			}
		for (int t = 0; t < 25; t++) {
			double mt = (double)(tu_next(&rng) % 12) / 10.0;
			double st = (double)(tu_next(&rng) % 12) / 10.0;
			size_t mk = 1 + tu_next(&rng) % 45;
			nnp_keep *k = NULL;
			assert_int_equal(nnp_keep_rule(&k, s, mt, st, mk, &err), 0);
			check_against_ref(s, k, mt, st, mk);
			nnp_keep *k2 = NULL;
			assert_int_equal(nnp_keep_rule(&k2, s, mt, st, mk, &err), 0);
			assert_true(nnp_keep_equal(k, k2));
			nnp_keep_free(k2);
			nnp_keep_free(k);
		}
		nnp_stats_free(s);
	}
}

static nnp_keep *rule(const nnp_stats *s, double mt, double st, size_t mk)
{
	nnp_err err;
	nnp_err_clear(&err);
	nnp_keep *k = NULL;
	int rc = nnp_keep_rule(&k, s, mt, st, mk, &err);
	if (rc)
		fail_msg("nnp_keep_rule: %s", err.msg);
	return k;
}

static void test_rule_min_keep(void **state)
{
	(void)state;
	size_t widths[2] = { 5, 3 };
	nnp_stats *s = make_stats(2, widths);
	double sd0[5] = { 0.1, 0.3, 0.3, 0.2, 0.0 };
	double mn0[5] = { 0.0, -0.2, 0.2, 0.0, 0.0 };
	memcpy(s->layers[0].std, sd0, sizeof sd0);
	memcpy(s->layers[0].mean, mn0, sizeof mn0);
	double sd1[3] = { 5.0, 0.05, 7.0 };
	double mn1[3] = { 1.0, 0.0, 2.0 };
	memcpy(s->layers[1].std, sd1, sizeof sd1);
	memcpy(s->layers[1].mean, mn1, sizeof mn1);

	/* Everything in layer 0 is removed by the rule; the floor keeps the two
	 * largest std, and of the tied 0.3 pair both, so {1, 2}. */
	nnp_keep *k = rule(s, 1.0, 1.0, 2);
	assert_int_equal(k->count[0], 2);
	assert_int_equal(k->idx[0][0], 1);
	assert_int_equal(k->idx[0][1], 2);
	assert_int_equal(k->floor_hit[0], 1);
	/* Layer 1: only neuron 1 goes, 2 stay: floor not hit. */
	assert_int_equal(k->count[1], 2);
	assert_int_equal(k->idx[1][0], 0);
	assert_int_equal(k->idx[1][1], 2);
	assert_int_equal(k->floor_hit[1], 0);
	assert_int_equal(nnp_keep_any_floor(k), 1);
	nnp_keep_free(k);

	/* Ties at the cut: with one to bring back, the lower index (1) wins. */
	k = rule(s, 1.0, 1.0, 1);
	assert_int_equal(k->count[0], 1);
	assert_int_equal(k->idx[0][0], 1);
	nnp_keep_free(k);

	k = rule(s, 1.0, 1.0, 3);
	assert_int_equal(k->count[0], 3);
	assert_int_equal(k->idx[0][0], 1);
	assert_int_equal(k->idx[0][1], 2);
	assert_int_equal(k->idx[0][2], 3);
	/* Layer 1 keeps 2 < 3: neuron 1 comes back. */
	assert_int_equal(k->count[1], 3);
	assert_int_equal(k->floor_hit[1], 1);
	nnp_keep_free(k);

	/* min_keep larger than the width is capped at the width. */
	k = rule(s, 1.0, 1.0, 100);
	assert_int_equal(k->count[0], 5);
	assert_int_equal(k->count[1], 3);
	assert_int_equal(k->floor_hit[0], 1);
	nnp_keep_free(k);

	/* Exact threshold hits count as removable (<=), -0.2 by its magnitude. */
	k = rule(s, 0.2, 0.3, 1);
	assert_int_equal(k->count[0], 1);
	assert_int_equal(k->idx[0][0], 1);
	assert_int_equal(k->floor_hit[0], 1);
	nnp_keep_free(k);

	/* Strict thresholds: nothing removed, no floor. */
	k = rule(s, 0.0, 0.0, 1);
	assert_int_equal(k->count[0], 4);
	assert_int_equal(k->idx[0][3], 3);  /* only neuron 4 (mean 0, std 0) went */
	assert_int_equal(nnp_keep_any_floor(k), 0);
	nnp_keep_free(k);
	k = rule(s, -1.0, 0.0, 1);
	assert_int_equal(k->count[0], 5);
	nnp_keep_free(k);
	nnp_stats_free(s);
}

static void test_rule_errors(void **state)
{
	(void)state;
	size_t widths[1] = { 3 };
	nnp_stats *s = make_stats(1, widths);
	nnp_err err;
	nnp_err_clear(&err);
	nnp_keep *k = (nnp_keep *)&err;
	assert_int_equal(nnp_keep_rule(&k, s, 0.1, 0.1, 0, &err), NNP_EUSAGE);
	assert_null(k);
	assert_non_null(strstr(err.msg, "min_keep must be at least 1"));
	assert_int_equal(nnp_keep_rule(&k, s, NAN, 0.1, 1, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "thresholds must be numbers"));
	s->layers[0].neurons = 0;
	assert_int_equal(nnp_keep_rule(&k, s, 0.1, 0.1, 1, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "hidden layer 0: 0 neurons"));
	s->layers[0].neurons = 3;
	nnp_stats_free(s);
	nnp_keep_free(NULL);
}

static void test_keep_equal(void **state)
{
	(void)state;
	size_t widths[2] = { 4, 4 };
	nnp_stats *s = make_stats(2, widths);
	for (size_t j = 0; j < 4; j++) {
		s->layers[0].std[j] = 0.1 * (double)j;
		s->layers[1].std[j] = 0.1 * (double)(3 - j);
	}
	nnp_keep *a = rule(s, 1, 0.05, 1), *b = rule(s, 1, 0.15, 1), *c = rule(s, 1, 0.01, 1);
	/* a removes neuron 0 of layer 0 and neuron 3 of layer 1; b also 1 and 2. */
	assert_false(nnp_keep_equal(a, b));
	assert_true(nnp_keep_equal(a, c));
	nnp_keep_free(a);
	nnp_keep_free(b);
	nnp_keep_free(c);
	nnp_stats_free(s);
}

/* ---- physical removal ------------------------------------------------- */

static nnp_keep *keep_from(size_t n_layers, const size_t *counts, const size_t *const *idx)
{
	nnp_keep *k = nnp_keep_alloc(n_layers);
	assert_non_null(k);
	for (size_t l = 0; l < n_layers; l++) {
		k->count[l] = counts[l];
		k->idx[l] = malloc(counts[l] * sizeof(size_t));
		memcpy(k->idx[l], idx[l], counts[l] * sizeof(size_t));
	}
	return k;
}

static void test_apply_shapes_and_values(void **state)
{
	tu_case *tc = *state;
	tc->m->layers[0].alpha = 0.25f;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_model_set_name(tc->m, "net", &err), 0);
	const char *cls[3] = { "a", "b", "c" };
	assert_int_equal(nnp_model_set_classes(tc->m, cls, 3, &err), 0);
	assert_int_equal(nnp_model_set_provenance(tc->m, "{\"x\":1}", &err), 0);

	size_t k0[3] = { 0, 2, 4 }, k1[2] = { 1, 3 };
	const size_t *idx[2] = { k0, k1 };
	size_t counts[2] = { 3, 2 };
	nnp_keep *k = keep_from(2, counts, idx);
	nnp_model *p = NULL;
	assert_int_equal(nnp_prune_apply(&p, tc->m, k, NULL, 0, &err), 0);
	assert_int_equal(p->n_layers, 3);
	assert_int_equal(p->input_size, 6);
	assert_int_equal(p->layers[0].in, 6);
	assert_int_equal(p->layers[0].out, 3);
	assert_int_equal(p->layers[1].in, 3);
	assert_int_equal(p->layers[1].out, 2);
	assert_int_equal(p->layers[2].in, 2);
	assert_int_equal(p->layers[2].out, 3);
	assert_true(p->layers[0].alpha == 0.25f);
	for (size_t l = 0; l < 3; l++)
		assert_int_equal(p->layers[l].act, tc->m->layers[l].act);
	for (size_t i = 0; i < 3; i++) {
		for (size_t c = 0; c < 6; c++)
			assert_true(p->layers[0].w[i * 6 + c] == tc->m->layers[0].w[k0[i] * 6 + c]);
		assert_true(p->layers[0].b[i] == tc->m->layers[0].b[k0[i]]);
	}
	for (size_t i = 0; i < 2; i++) {
		for (size_t c = 0; c < 3; c++)
			assert_true(p->layers[1].w[i * 3 + c] ==
			            tc->m->layers[1].w[k1[i] * 5 + k0[c]]);
		assert_true(p->layers[1].b[i] == tc->m->layers[1].b[k1[i]]);
	}
	for (size_t i = 0; i < 3; i++) {
		for (size_t c = 0; c < 2; c++)
			assert_true(p->layers[2].w[i * 2 + c] == tc->m->layers[2].w[i * 4 + k1[c]]);
		assert_true(p->layers[2].b[i] == tc->m->layers[2].b[i]);
	}
	assert_string_equal(p->name, "net");
	assert_int_equal(p->n_classes, 3);
	assert_string_equal(p->classes[2], "c");
	assert_non_null(p->provenance);
	assert_non_null(strstr(p->provenance, "\"x\""));
	assert_int_equal(nnp_model_params(p), 6 * 3 + 3 + 3 * 2 + 2 + 2 * 3 + 3);
	nnp_model_free(p);
	nnp_keep_free(k);
}

static void test_apply_fold_bias(void **state)
{
	tu_case *c = *state;
	size_t widths[2] = { 6, 5 };
	nnp_stats *s = make_stats(2, widths);
	for (size_t l = 0; l < 2; l++)
		for (size_t j = 0; j < widths[l]; j++)
			s->layers[l].mean[j] = tu_uniform(&c->rng, -2, 2);
	size_t k0[2] = { 1, 4 }, k1[3] = { 0, 2, 3 };
	const size_t *idx[2] = { k0, k1 };
	size_t counts[2] = { 2, 3 };
	nnp_keep *k = keep_from(2, counts, idx);
	nnp_err err;
	nnp_err_clear(&err);
	nnp_model *p = NULL;
	assert_int_equal(nnp_prune_apply(&p, c->m, k, s, 1, &err), 0);
	size_t r0[4] = { 0, 2, 3, 5 }, r1[2] = { 1, 4 };
	for (size_t i = 0; i < 3; i++) {
		long double e = c->m->layers[1].b[k1[i]];
		for (size_t t = 0; t < 4; t++)
			e += (long double)s->layers[0].mean[r0[t]] *
			     c->m->layers[1].w[k1[i] * 6 + r0[t]];
		assert_float_equal(p->layers[1].b[i], (double)e, 1e-6 * (1 + fabsl(e)));
	}
	for (size_t i = 0; i < 2; i++) {
		long double e = c->m->layers[2].b[i];
		for (size_t t = 0; t < 2; t++)
			e += (long double)s->layers[1].mean[r1[t]] *
			     c->m->layers[2].w[i * 5 + r1[t]];
		assert_float_equal(p->layers[2].b[i], (double)e, 1e-6 * (1 + fabsl(e)));
	}
	/* Layer 0 has no hidden layer before it: its biases are copied. */
	assert_true(p->layers[0].b[0] == c->m->layers[0].b[1]);
	nnp_model_free(p);

	/* Errors: folding without statistics, a kept set that does not fit. */
	assert_int_equal(nnp_prune_apply(&p, c->m, k, NULL, 1, &err), NNP_EUSAGE);
	assert_null(p);
	assert_non_null(strstr(err.msg, "folding needs the statistics"));
	k->idx[1][2] = 5;
	assert_int_equal(nnp_prune_apply(&p, c->m, k, s, 1, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "layer 1: kept index 5"));
	k->idx[1][2] = 2;
	assert_int_equal(nnp_prune_apply(&p, c->m, k, s, 1, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "out of order"));
	k->idx[1][2] = 3;
	k->n_layers = 1;
	assert_int_equal(nnp_prune_apply(&p, c->m, k, s, 0, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "kept set has 1 hidden layers, the model 2"));
	k->n_layers = 2;
	s->layers[1].neurons = 4;
	assert_int_equal(nnp_prune_apply(&p, c->m, k, s, 1, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "statistics: layer 1 has 4 neurons, the model 5"));
	s->layers[1].neurons = 5;
	nnp_keep_free(k);
	nnp_stats_free(s);
}

/* ---- folding is exact for constant neurons ---------------------------- */

/* Naive double-accumulating forward of one row; returns the output in out. */
static void ref_forward(const nnp_model *m, const float *x, double *out, double *scratch,
                        double **hidden)
{
	size_t in = m->input_size;
	double *cur = scratch, *nxt = scratch + 64;
	for (size_t i = 0; i < in; i++)
		cur[i] = x[i];
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		for (size_t o = 0; o < L->out; o++) {
			double z = L->b[o];
			for (size_t i = 0; i < L->in; i++)
				z += (double)L->w[o * L->in + i] * cur[i];
			nxt[o] = z;
		}
		if (L->act == NNP_ACT_RELU) {
			for (size_t o = 0; o < L->out; o++)
				nxt[o] = nxt[o] > 0 ? nxt[o] : 0;
		} else if (L->act == NNP_ACT_SOFTMAX) {
			double mx = nxt[0], sum = 0;
			for (size_t o = 1; o < L->out; o++)
				mx = nxt[o] > mx ? nxt[o] : mx;
			for (size_t o = 0; o < L->out; o++)
				sum += (nxt[o] = exp(nxt[o] - mx));
			for (size_t o = 0; o < L->out; o++)
				nxt[o] /= sum;
		}
		if (hidden && l + 1 < m->n_layers)
			memcpy(hidden[l], nxt, L->out * sizeof(double));
		double *t = cur;
		cur = nxt;
		nxt = t;
	}
	memcpy(out, cur, nnp_model_outputs(m) * sizeof(double));
}

static void test_fold_exact_for_constant_neurons(void **state)
{
	tu_case *tc = *state;
	/* Layer 0: neurons 1 and 4 output their positive bias whatever the input,
	 * neuron 3 is dead (0). Layer 1: neuron 2 outputs 0.5. */
	size_t consts0[3] = { 1, 4, 3 };
	float bias0[3] = { 0.7f, 1.3f, -0.4f };
	for (size_t t = 0; t < 3; t++) {
		memset(tc->m->layers[0].w + consts0[t] * 5, 0, 5 * sizeof(float));
		tc->m->layers[0].b[consts0[t]] = bias0[t];
	}
	memset(tc->m->layers[1].w + 2 * 8, 0, 8 * sizeof(float));
	tc->m->layers[1].b[2] = 0.5f;

	enum { ROWS = 200 };
	float *x = malloc(ROWS * 5 * sizeof(float));
	for (size_t i = 0; i < ROWS * 5; i++)
		x[i] = (float)tu_uniform(&tc->rng, -1, 1);
	/* Statistics computed directly: two-pass mean and population std. */
	size_t widths[2] = { 8, 6 };
	nnp_stats *s = make_stats(2, widths);
	double *h[2] = { calloc(ROWS * 8, sizeof(double)), calloc(ROWS * 6, sizeof(double)) };
	double *rowh[2];
	double scratch[128], out[3];
	for (size_t r = 0; r < ROWS; r++) {
		rowh[0] = h[0] + r * 8;
		rowh[1] = h[1] + r * 6;
		ref_forward(tc->m, x + r * 5, out, scratch, rowh);
	}
	for (size_t l = 0; l < 2; l++) {
		for (size_t j = 0; j < widths[l]; j++) {
			double sum = 0, ss = 0;
			for (size_t r = 0; r < ROWS; r++)
				sum += h[l][r * widths[l] + j];
			double mean = sum / ROWS;
			for (size_t r = 0; r < ROWS; r++) {
				double d = h[l][r * widths[l] + j] - mean;
				ss += d * d;
			}
			s->layers[l].mean[j] = mean;
			s->layers[l].std[j] = sqrt(ss / ROWS);
		}
	}
	nnp_keep *k = rule(s, 100.0, 1e-12, 1);
	/* The planted constants went (a random neuron that happens to be dead on
	 * every row may go too: it is constant as well). */
	for (size_t l = 0; l < 2; l++) {
		size_t c = 0;
		for (size_t j = 0; j < widths[l]; j++) {
			int kept = c < k->count[l] && k->idx[l][c] == j;
			c += kept;
			int planted = l == 0 ? (j == 1 || j == 3 || j == 4) : j == 2;
			if (planted)
				assert_false(kept);
			if (!kept)
				assert_true(s->layers[l].std[j] == 0.0);
		}
	}

	nnp_err err;
	nnp_err_clear(&err);
	nnp_model *pf = NULL, *pn = NULL;
	assert_int_equal(nnp_prune_apply(&pf, tc->m, k, s, 1, &err), 0);
	assert_int_equal(nnp_prune_apply(&pn, tc->m, k, s, 0, &err), 0);
	double o_ref[3], o_f[3], o_n[3], maxdiff_n = 0;
	for (size_t r = 0; r < ROWS; r++) {
		ref_forward(tc->m, x + r * 5, o_ref, scratch, NULL);
		ref_forward(pf, x + r * 5, o_f, scratch, NULL);
		ref_forward(pn, x + r * 5, o_n, scratch, NULL);
		for (size_t o = 0; o < 3; o++) {
			assert_float_equal(o_f[o], o_ref[o], 1e-5);
			double d = fabs(o_n[o] - o_ref[o]);
			maxdiff_n = d > maxdiff_n ? d : maxdiff_n;
		}
	}
	/* Without folding the constants' contribution is simply lost. */
	assert_true(maxdiff_n > 1e-3);
	nnp_model_free(pf);
	nnp_model_free(pn);
	nnp_keep_free(k);
	free(h[0]);
	free(h[1]);
	free(x);
	nnp_stats_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_matches_reference),
		cmocka_unit_test(test_rule_min_keep),
		cmocka_unit_test(test_rule_errors),
		cmocka_unit_test(test_keep_equal),
		TU_NET_TEST(test_apply_shapes_and_values, 7, "6 5:leaky_relu 4:tanh 3:softmax", 1.0),
		TU_NET_TEST(test_apply_fold_bias, 99, "4 6:relu 5:sigmoid 2:linear", 1.0),
		TU_NET_TEST(test_fold_exact_for_constant_neurons, 2024, "5 8:relu 6:relu 3:softmax", 1.0),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
