/* Tests of the pure scoring and selection functions: magnitude selection
 * against a sort-based reference (per layer, global and hidden, with ties), unit L2
 * norms, APoZ against zero shares counted by a double-precision forward
 * pass, and the ranking's tie order. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/stats.h"
#include "scores_priv.h"
#include "testutil.h"

static void test_count(void **state)
{
	(void)state;
	assert_int_equal(nnp_mag_count(0.25, 10), 2);   /* 2.5: halves to even */
	assert_int_equal(nnp_mag_count(0.35, 10), 4);   /* 3.5 */
	assert_int_equal(nnp_mag_count(0.05, 10), 0);   /* 0.5 */
	assert_int_equal(nnp_mag_count(0.9, 10), 9);
	assert_int_equal(nnp_mag_count(1.0, 7), 7);
	assert_int_equal(nnp_mag_count(0.0, 7), 0);
}

/* The reference: every weight as (|w|, layer, index), sorted; the first k. */
static void reference(const nnp_model *m, double s, nnp_mag_scope scope, unsigned char **mask)
{
	size_t total;
	tu_wref *keys = tu_weights_by_magnitude(m, 0, m->n_layers, &total);
	for (size_t l = 0; l < m->n_layers; l++)
		mask[l] = calloc(m->layers[l].in * m->layers[l].out, 1);
	if (scope == NNP_MAG_GLOBAL) {
		size_t k = (size_t)nearbyint(s * (double)total);
		for (size_t i = 0; i < k; i++)
			mask[keys[i].layer][keys[i].index] = 1;
	} else {
		/* Hidden: the output layer dense, the others at s * all / hidden. */
		const nnp_layer *O = &m->layers[m->n_layers - 1];
		double sh = scope == NNP_MAG_HIDDEN ? s * (double)total / (double)(total - O->in * O->out)
		                                    : s;
		for (size_t l = 0; l < m->n_layers; l++) {
			const nnp_layer *L = &m->layers[l];
			int dense = scope == NNP_MAG_HIDDEN && l + 1 == m->n_layers;
			size_t k = dense ? 0 : (size_t)nearbyint(sh * (double)(L->in * L->out)), taken = 0;
			for (size_t i = 0; i < total && taken < k; i++)
				if (keys[i].layer == l) {
					mask[l][keys[i].index] = 1;
					taken++;
				}
		}
	}
	free(keys);
}

/* Weights from a few values (many ties, both zeros, a subnormal) or
 * continuous ones (both radix digits matter). */
static nnp_model *model(tu_rng *r, int tied)
{
	static const float vals[] = { 0.0f, -0.0f, 0.25f, -0.25f, 0.5f, -1.0f, 1.0f, 3e-39f };
	nnp_model *m = tu_net(r, "13 11:relu 7:relu 3:linear", 1.0);
	if (tied)
		for (size_t l = 0; l < 3; l++)
			for (size_t i = 0; i < m->layers[l].in * m->layers[l].out; i++)
				m->layers[l].w[i] = vals[tu_next(r) % 8];
	return m;
}

static void test_magnitude_reference(void **state)
{
	(void)state;
	tu_rng r = { 21 };
	const double sp[] = { 0.0, 0.05, 0.3, 0.5, 0.77, 0.95, 1.0 };
	nnp_err err;
	for (int tied = 0; tied < 2; tied++)
		for (int scope = 0; scope < 3; scope++)
			for (size_t s = 0; s < sizeof sp / sizeof *sp; s++) {
				nnp_model *m = model(&r, tied), *orig = NULL;
				assert_int_equal(nnp_model_clone(&orig, m, &err), NNP_OK);
				nnp_mag_cut cuts[3];
				unsigned char *want[3];
				/* Weights 143, 77 and 21: the hidden scope's layers hold 220 of
				 * 241, so 0.95 and 1 are more than they can lose. */
				if (scope == NNP_MAG_HIDDEN && sp[s] * 241 > 220) {
					assert_int_equal(nnp_mag_select(m, sp[s], NNP_MAG_HIDDEN, cuts, &err),
					                 NNP_EUSAGE);
					assert_non_null(strstr(err.msg, "outside the output layer"));
					nnp_model_free(orig);
					nnp_model_free(m);
					continue;
				}
				assert_int_equal(nnp_mag_select(m, sp[s], (nnp_mag_scope)scope, cuts, &err),
				                 NNP_OK);
				reference(m, sp[s], (nnp_mag_scope)scope, want);
				size_t selected = 0;
				for (size_t l = 0; l < 3; l++) {
					const nnp_layer *L = &m->layers[l];
					unsigned char *got = malloc(L->in * L->out);
					nnp_mag_mark(L, &cuts[l], got);
					assert_memory_equal(got, want[l], L->in * L->out);
					for (size_t i = 0; i < L->in * L->out; i++)
						selected += got[i];
					free(got);
				}
				assert_int_equal(nnp_mag_apply(m, cuts), selected);
				size_t total = nnp_model_macs(m);
				if (scope == NNP_MAG_GLOBAL)
					assert_int_equal(selected, nnp_mag_count(sp[s], total));
				/* By hand: 0.5 of 241 -> 0.5 * 241 / 220 of layers 0 and 1,
				 * round(78.33) + round(42.17) = 120 weights, none of the output's. */
				if (scope == NNP_MAG_HIDDEN && sp[s] == 0.5)
					assert_int_equal(selected, 120);
				if (scope == NNP_MAG_HIDDEN)
					assert_int_equal(cuts[2].count, 0);
				for (size_t l = 0; l < 3; l++) {
					const nnp_layer *L = &m->layers[l], *O = &orig->layers[l];
					for (size_t i = 0; i < L->in * L->out; i++) {
						uint32_t u;
						memcpy(&u, &L->w[i], 4);
						if (want[l][i])
							assert_int_equal(u, 0);  /* +0.0 exactly */
						else
							assert_memory_equal(&L->w[i], &O->w[i], 4);
					}
					assert_memory_equal(L->b, O->b, L->out * sizeof(float));  /* biases kept */
					free(want[l]);
				}
				nnp_model_free(orig);
				nnp_model_free(m);
			}
	nnp_model *m = model(&r, 0);
	nnp_mag_cut cuts[3];
	assert_int_equal(nnp_mag_select(m, 1.5, NNP_MAG_GLOBAL, cuts, &err), NNP_EUSAGE);
	double sh;
	assert_int_equal(nnp_mag_hidden_share(m, 0.5, &sh, &err), NNP_OK);
	assert_true(fabs(sh - 0.5 * 241.0 / 220.0) < 1e-15);
	assert_string_equal(nnp_mag_scope_name(NNP_MAG_HIDDEN), "hidden");
	assert_null(nnp_mag_scope_name(3));
	nnp_model_free(m);
}

static void test_unit_l2(void **state)
{
	(void)state;
	tu_rng r = { 4 };
	nnp_model *m = model(&r, 0);
	const nnp_layer *L = &m->layers[0];
	double score[11];
	nnp_unit_l2(L, score);
	for (size_t o = 0; o < L->out; o++) {
		long double s = 0;
		for (size_t j = L->in; j-- > 0;)
			s += (long double)L->w[o * L->in + j] * L->w[o * L->in + j];
		assert_true(fabs(score[o] - (double)sqrtl(s)) <= 1e-14 * score[o]);
	}
	nnp_model_free(m);
}

static void test_apoz(void **state)
{
	tu_case *c = *state;
	size_t rows = 300;
	float *x = malloc(rows * 6 * sizeof *x);
	for (size_t i = 0; i < rows * 6; i++)
		x[i] = (float)tu_uniform(&c->rng, -1, 1);
	nnp_dataset d = { rows, 6, x, NULL };
	nnp_run_opts ro = NNP_RUN_OPTS_INIT;
	nnp_stats *st = NULL;
	nnp_err err;
	assert_int_equal(nnp_run_dataset(c->m, &d, &ro, &st, NULL, NULL, &err), NNP_OK);
	/* Zero shares by hand: a ReLU output is 0 exactly when W x + b <= 0. */
	const nnp_layer *L = &c->m->layers[0];
	double score[9];
	assert_int_equal(nnp_apoz_scores(st, 0, score, &err), NNP_OK);
	size_t some = 0;
	for (size_t o = 0; o < 9; o++) {
		size_t zeros = 0;
		for (size_t i = 0; i < rows; i++) {
			double z = L->b[o];
			for (size_t j = 0; j < 6; j++)
				z += (double)L->w[o * 6 + j] * x[i * 6 + j];
			zeros += z <= 0;
		}
		assert_true(fabs(score[o] - (1.0 - (double)zeros / (double)rows)) <= 1e-12);
		some += zeros > 0 && zeros < rows;
	}
	assert_true(some > 0);
	assert_int_equal(nnp_apoz_scores(st, 1, score, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "layer 1 is tanh");
	assert_int_equal(nnp_apoz_scores(st, 2, score, &err), NNP_EUSAGE);
	nnp_stats_free(st);
	free(x);
}

static void test_rank(void **state)
{
	(void)state;
	const double s[] = { 0.5, 0.1, 0.5, -2, 0.1, 0.5 };
	const size_t want[] = { 3, 1, 4, 0, 2, 5 };
	size_t order[6];
	nnp_err err;
	assert_int_equal(nnp_rank_ascending(s, 6, order, &err), NNP_OK);
	assert_memory_equal(order, want, sizeof want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_magnitude_reference),
		cmocka_unit_test(test_unit_l2),
		TU_NET_TEST(test_apoz, 8, "6 9:relu 5:tanh 3:softmax", 1.0),
		cmocka_unit_test(test_rank),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
