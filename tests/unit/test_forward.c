/* Forward engine: dense + activations against a naive double-precision
 * implementation, activation edge cases, metrics against hand computations. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/forward.h"
#include "forward_priv.h"
#include "testutil.h"

/* ---------------------------------------------------------- reference */


/* One row through the model in double; out[l] receives layer l's output. */
static void ref_forward(const nnp_model *m, const float *x, double **out)
{
	size_t w0 = m->input_size;
	double *in = malloc(w0 * sizeof *in);
	assert_non_null(in);
	for (size_t i = 0; i < w0; i++)
		in[i] = x[i];
	const double *prev = in;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		double *y = out[l];
		for (size_t o = 0; o < L->out; o++) {
			double s = L->b[o];
			for (size_t i = 0; i < L->in; i++)
				s += (double)L->w[o * L->in + i] * prev[i];
			y[o] = s;
		}
		tu_ref_layer_act(L, y, y);
		prev = y;
	}
	free(in);
}

static void close_to(double got, double want, double tol, const char *what, size_t a, size_t b)
{
	if (fabs(got - want) > tol * (1.0 + fabs(want)))
		fail_msg("%s [%zu][%zu]: got %.9g, want %.9g", what, a, b, got, want);
}

/* Runs rows of random inputs in batches of `batch` and checks every layer. */
static void check_model(nnp_model *m, tu_rng *rng, size_t rows, size_t batch)
{
	nnp_err err;
	nnp_forward *f = NULL;
	assert_int_equal(nnp_forward_create(&f, m, batch, &err), 0);
	size_t in = m->input_size;
	float *x = malloc(rows * in * sizeof *x);
	double **ref = calloc(m->n_layers, sizeof *ref);
	assert_non_null(x);
	assert_non_null(ref);
	for (size_t l = 0; l < m->n_layers; l++) {
		ref[l] = malloc(m->layers[l].out * sizeof **ref);
		assert_non_null(ref[l]);
	}
	for (size_t i = 0; i < rows * in; i++)
		x[i] = (float)tu_uniform(rng, -2, 2);
	for (size_t off = 0; off < rows; off += batch) {
		size_t n = rows - off < batch ? rows - off : batch;
		const float *y = nnp_forward_run(f, x + off * in, n);
		assert_ptr_equal(y, nnp_forward_layer(f, m->n_layers - 1));
		for (size_t r = 0; r < n; r++) {
			ref_forward(m, x + (off + r) * in, ref);
			for (size_t l = 0; l < m->n_layers; l++) {
				const float *got = nnp_forward_layer(f, l);
				size_t w = m->layers[l].out;
				for (size_t o = 0; o < w; o++)
					close_to(got[r * w + o], ref[l][o], 1e-5, "layer output", l, o);
			}
		}
	}
	assert_null(nnp_forward_layer(f, m->n_layers));
	for (size_t l = 0; l < m->n_layers; l++)
		free(ref[l]);
	free(ref);
	free(x);
	nnp_forward_free(f);
}

static void test_forward_all_activations(void **state)
{
	tu_case *c = *state;
	c->m->layers[1].alpha = 0.2f;  /* a slope the default would not hide */
	static const size_t batches[] = {1, 3, 16, 64};
	for (size_t i = 0; i < 4; i++)
		check_model(c->m, &c->rng, 50, batches[i]);
	/* NULL between models: a failing tu_net leaves the teardown nothing to free twice. */
	nnp_model_free(c->m);
	c->m = NULL;

	c->m = tu_net(&c->rng, "20 32:tanh 10:softmax", 0.6);
	for (size_t i = 0; i < 4; i++)
		check_model(c->m, &c->rng, 70, batches[i]);
	nnp_model_free(c->m);
	c->m = NULL;

	/* A single layer: the output layer is the only one. */
	c->m = tu_net(&c->rng, "5 3:sigmoid", 1.0);
	check_model(c->m, &c->rng, 9, 4);
}

/* Layer-at-a-time stepping gives exactly what a whole run gives. */
static void test_forward_step(void **state)
{
	tu_case *c = *state;
	nnp_err err;
	nnp_forward *a = NULL, *b = NULL;
	assert_int_equal(nnp_forward_create(&a, c->m, 10, &err), 0);
	assert_int_equal(nnp_forward_create(&b, c->m, 10, &err), 0);
	float x[70];
	for (int i = 0; i < 70; i++)
		x[i] = (float)tu_uniform(&c->rng, -1, 1);
	const float *ya = nnp_forward_run(a, x, 10), *yb = NULL;
	for (size_t l = 0; l < 3; l++) {
		yb = nnp_forward_step(b, l, x, 10);
		assert_ptr_equal(yb, nnp_forward_layer(b, l));
		assert_memory_equal(yb, nnp_forward_layer(a, l),
		                    10 * c->m->layers[l].out * sizeof(float));
	}
	assert_memory_equal(ya, yb, 30 * sizeof(float));
	assert_null(nnp_forward_step(b, 3, x, 10));
	nnp_forward_free(a);
	nnp_forward_free(b);
}

static void test_dense_bias_and_layout(void **state)
{
	(void)state;
	/* W [2][3] row-major, y = x W^T + b, worked by hand. */
	float w[] = {1, 2, 3, -1, 0, 0.5f};
	float b[] = {0.5f, -2};
	nnp_layer L = {3, 2, NNP_ACT_LINEAR, 0, w, b, NULL, NULL};
	float x[] = {1, 1, 1, 2, 0, -2};
	float y[4];
	nnp_dense(&L, x, 2, y);
	assert_true(y[0] == 6.5f);    /* 1+2+3 + 0.5 */
	assert_true(y[1] == -2.5f);   /* -1+0+0.5 - 2 */
	assert_true(y[2] == -3.5f);   /* 2+0-6 + 0.5 */
	assert_true(y[3] == -5.0f);   /* -2+0-1 - 2 */
}

static void test_activation_edges(void **state)
{
	(void)state;
	float z[] = {-100, 100, 0, -20, 20, 88};
	nnp_activate(NNP_ACT_SIGMOID, 0, z, 2, 3);
	assert_true(z[1] == 1.0f);
	assert_true(z[0] >= 0 && z[0] < 1e-40f);
	assert_true(z[2] == 0.5f);
	/* sigmoid(-20) = 2.06e-9 keeps its relative precision. */
	double s20 = exp(-20.0) / (1 + exp(-20.0));
	assert_true(fabs(z[3] - s20) < 1e-6 * s20);
	assert_true(z[4] == 1.0f);
	assert_true(z[5] == 1.0f);

	float t[] = {-100, 100, 0.5f, -1e30f, -INFINITY, 1e-30f};
	nnp_activate(NNP_ACT_TANH, 0, t, 1, 6);
	assert_true(t[0] == -1.0f && t[1] == 1.0f && t[3] == -1.0f && t[4] == -1.0f);
	assert_true(fabs(t[2] - tanh(0.5)) < 1e-7);
	assert_true(t[5] == 1e-30f);   /* tanh x = x for tiny x, no cancellation */
	float si[] = {-INFINITY, INFINITY, -1e30f};
	nnp_activate(NNP_ACT_SIGMOID, 0, si, 1, 3);
	assert_true(si[0] == 0.0f && si[1] == 1.0f && si[2] == 0.0f);

	/* Huge logits: the max subtraction keeps exp from overflowing. */
	float sm[] = {1000, 1000, -1000, 1e30f, 0, -1e30f, 3, 3, 3};
	nnp_activate(NNP_ACT_SOFTMAX, 0, sm, 3, 3);
	assert_true(fabs(sm[0] - 0.5) < 1e-7 && fabs(sm[1] - 0.5) < 1e-7 && sm[2] == 0.0f);
	assert_true(sm[3] == 1.0f && sm[4] == 0.0f && sm[5] == 0.0f);
	for (int i = 6; i < 9; i++)
		assert_true(fabs(sm[i] - 1.0 / 3) < 1e-7);
	/* Rows are independent and each sums to 1. */
	float sm2[] = {1, 2, 3, 4, -1, -2, -3, -4};
	nnp_activate(NNP_ACT_SOFTMAX, 0, sm2, 2, 4);
	double e[4] = {exp(1), exp(2), exp(3), exp(4)}, tot = e[0] + e[1] + e[2] + e[3];
	for (int i = 0; i < 4; i++) {
		assert_true(fabs(sm2[i] - e[i] / tot) < 1e-7);
		assert_true(fabs(sm2[7 - i] - e[i] / tot) < 1e-7);
	}

	float rl[] = {-0.5f, 0, 2.5f, -1e-30f};
	nnp_activate(NNP_ACT_RELU, 0, rl, 1, 4);
	assert_true(rl[0] == 0 && rl[1] == 0 && rl[2] == 2.5f && rl[3] == 0);
	float lk[] = {-0.5f, 0, 2.5f};
	nnp_activate(NNP_ACT_LEAKY_RELU, 0.1f, lk, 3, 1);
	assert_true(lk[0] == -0.05f && lk[1] == 0 && lk[2] == 2.5f);
	float ln[] = {-7, 3};
	nnp_activate(NNP_ACT_LINEAR, 0, ln, 1, 2);
	assert_true(ln[0] == -7 && ln[1] == 3);
}

/* sigmoid and tanh over a dense grid, tiny values included, against libm
 * in double: within 4e-7 relative (a few float ulp). */
static void test_activation_accuracy(void **state)
{
	(void)state;
	size_t n = 40001;
	float *a = malloc(2 * n * sizeof *a);
	assert_non_null(a);
	for (size_t i = 0; i < n; i++) {
		a[i] = (float)(-40.0 + 80.0 * (double)i / (double)(n - 1));
		a[n + i] = (float)((double)a[i] * 1e-5);
	}
	for (int k = 0; k < 2; k++) {
		float *z = malloc(2 * n * sizeof *z);
		assert_non_null(z);
		memcpy(z, a, 2 * n * sizeof *z);
		nnp_activate(k ? NNP_ACT_TANH : NNP_ACT_SIGMOID, 0, z, 2, n);
		for (size_t i = 0; i < 2 * n; i++) {
			double x = a[i];
			double want = k ? tanh(x) : 1.0 / (1.0 + exp(-x));
			if (fabs(z[i] - want) > 4e-7 * fabs(want) + 1e-45)
				fail_msg("%s(%.9g) = %.9g, want %.9g", k ? "tanh" : "sigmoid", x, z[i], want);
		}
		free(z);
	}
	free(a);
}

static void test_metrics_cross_entropy(void **state)
{
	(void)state;
	const float out[] = {0.7f, 0.2f, 0.1f,
	                     0.1f, 0.6f, 0.3f,
	                     0.3f, 0.3f, 0.4f,
	                     0.5f, 0.5f, 0.0f,
	                     0.0f, 0.0f, 1.0f};
	const int32_t labels[] = {0, 2, 2, 1, 0};
	int32_t pred[5];
	uint64_t conf[9] = {0};
	nnp_metrics mt;
	memset(&mt, 0, sizeof mt);
	nnp_metrics_add(&mt, NNP_ACT_SOFTMAX, out, 5, 3, labels, pred, conf);
	assert_int_equal(mt.rows, 5);
	assert_int_equal(mt.labelled, 5);
	/* Row 3 is a tie: the first maximum (0) wins, so it is wrong. */
	const int32_t want_pred[] = {0, 1, 2, 0, 2};
	for (int i = 0; i < 5; i++)
		assert_int_equal(pred[i], want_pred[i]);
	assert_int_equal(mt.correct, 2);
	assert_int_equal(mt.mse, 0);
	/* Row 4 gives its label probability 0: clamped to 1e-12. */
	double want = -log((double)0.7f) - log((double)0.3f) - log((double)0.4f) -
	              log((double)0.5f) - log(1e-12);
	assert_true(fabs(mt.loss_sum - want) < 1e-12 * want);
	assert_true(fabs(nnp_metrics_loss(&mt) - want / 5) < 1e-12);
	assert_true(nnp_metrics_accuracy(&mt) == 0.4);
	const uint64_t want_conf[9] = {1, 0, 1,   /* label 0: rows 0 and 4 */
	                               1, 0, 0,   /* label 1: row 3 */
	                               0, 1, 1};  /* label 2: rows 1 and 2 */
	for (int i = 0; i < 9; i++)
		assert_int_equal(conf[i], want_conf[i]);

	/* Merging adds every field. */
	nnp_metrics b = mt;
	nnp_metrics_merge(&b, &mt);
	assert_int_equal(b.rows, 10);
	assert_int_equal(b.correct, 4);
	assert_true(b.loss_sum == 2 * mt.loss_sum);
}

/* Rows whose outputs overflowed are counted, so callers can refuse them. */
static void test_metrics_nonfinite(void **state)
{
	(void)state;
	float out[] = { 0.2f, 0.8f, NAN, 0.5f, 0.5f, INFINITY, 0.9f, 0.1f };
	int32_t y[] = { 1, 0, 1, 0 };
	nnp_metrics a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	nnp_metrics_add(&a, NNP_ACT_SOFTMAX, out, 2, 2, y, NULL, NULL);
	nnp_metrics_add(&b, NNP_ACT_SOFTMAX, out + 4, 2, 2, y + 2, NULL, NULL);
	assert_int_equal(a.nonfinite, 1);
	assert_int_equal(b.nonfinite, 1);
	nnp_metrics_merge(&a, &b);
	assert_int_equal(a.nonfinite, 2);
	assert_int_equal(a.rows, 4);
}

static void test_metrics_mse(void **state)
{
	(void)state;
	const float out[] = {0.2f, 0.9f,
	                     1.5f, -0.5f,
	                     3.0f, 1.0f};
	const int32_t labels[] = {1, 0, -1};   /* -1: this row has no label */
	nnp_metrics mt;
	memset(&mt, 0, sizeof mt);
	nnp_metrics_add(&mt, NNP_ACT_LINEAR, out, 3, 2, labels, NULL, NULL);
	assert_int_equal(mt.mse, 1);
	assert_int_equal(mt.rows, 3);
	assert_int_equal(mt.labelled, 2);
	assert_int_equal(mt.correct, 2);
	double d0 = (double)0.2f, d1 = (double)0.9f - 1, d2 = (double)1.5f - 1, d3 = -0.5;
	double want = (d0 * d0 + d1 * d1) / 2 + (d2 * d2 + d3 * d3) / 2;  /* 0.025 + 0.25 */
	assert_true(fabs(mt.loss_sum - want) < 1e-15);
	assert_true(fabs(nnp_metrics_loss(&mt) - 0.1375) < 1e-7);
	assert_true(nnp_metrics_accuracy(&mt) == 1.0);

	/* Unlabelled rows are counted but not scored. */
	nnp_metrics u;
	memset(&u, 0, sizeof u);
	int32_t pred[3];
	nnp_metrics_add(&u, NNP_ACT_SIGMOID, out, 3, 2, NULL, pred, NULL);
	assert_int_equal(u.rows, 3);
	assert_int_equal(u.labelled, 0);
	assert_int_equal(pred[0], 1);
	assert_int_equal(pred[1], 0);
	assert_int_equal(pred[2], 0);
	assert_true(nnp_metrics_accuracy(&u) == 0 && nnp_metrics_loss(&u) == 0);
}

static void test_create_errors_and_threads(void **state)
{
	(void)state;
	tu_case *c = tu_case_net(1, "3 2:linear", 1);
	nnp_forward *f = (nnp_forward *)&c->rng;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_forward_create(&f, c->m, 0, &err), NNP_EUSAGE);
	assert_null(f);
	tu_expect_msg(&err, "batch of 0 rows");
	assert_int_equal(nnp_forward_create(&f, c->m, (size_t)1 << 40, &err), NNP_EUSAGE);
	nnp_forward_free(NULL);
	tu_case_free(c);
	assert_true(nnp_default_threads() >= 1);
	nnp_blas_single_thread();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TU_NET_TEST(test_forward_all_activations, 42,
		            "13 17:relu 9:leaky_relu 11:sigmoid 8:tanh 6:linear", 0.5),
		cmocka_unit_test(test_metrics_nonfinite),
		TU_NET_TEST(test_forward_step, 8, "7 9:relu 5:tanh 3:softmax", 0.8),
		cmocka_unit_test(test_dense_bias_and_layout),
		cmocka_unit_test(test_activation_edges),
		cmocka_unit_test(test_activation_accuracy),
		cmocka_unit_test(test_metrics_cross_entropy),
		cmocka_unit_test(test_metrics_mse),
		cmocka_unit_test(test_create_errors_and_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
