/* Tests of the output-aware pruning methods: Cholesky and the ridge refit
 * against Gaussian elimination, the OBS order against brute force, the score
 * order against a hand computation, whole prunes against an independent
 * double-precision reimplementation, the allocation path and its budget,
 * determinism across thread counts, and the error cases. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "nnprune/criteria.h"
#include "nnprune/method.h"
#include "method_priv.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------- */

/* Solves A X = B (A k x k, B k x m, both row-major, both overwritten) by
 * Gaussian elimination with partial pivoting; X lands in B. */
static void gauss_solve(double *A, double *B, size_t k, size_t m)
{
	for (size_t c = 0; c < k; c++) {
		size_t p = c;
		for (size_t r = c + 1; r < k; r++)
			if (fabs(A[r * k + c]) > fabs(A[p * k + c]))
				p = r;
		assert_true(fabs(A[p * k + c]) > 1e-300);
		if (p != c) {
			for (size_t j = 0; j < k; j++) {
				double t = A[c * k + j];
				A[c * k + j] = A[p * k + j];
				A[p * k + j] = t;
			}
			for (size_t j = 0; j < m; j++) {
				double t = B[c * m + j];
				B[c * m + j] = B[p * m + j];
				B[p * m + j] = t;
			}
		}
		for (size_t r = 0; r < k; r++) {
			if (r == c)
				continue;
			double f = A[r * k + c] / A[c * k + c];
			for (size_t j = 0; j < k; j++)
				A[r * k + j] -= f * A[c * k + j];
			for (size_t j = 0; j < m; j++)
				B[r * m + j] -= f * B[c * m + j];
		}
	}
	for (size_t r = 0; r < k; r++)
		for (size_t j = 0; j < m; j++)
			B[r * m + j] /= A[r * k + r];
}

/* The ridge weights on the inputs K[0..k-1] of a covariance C (n x n) and a
 * cross-covariance X (row stride ldx): B (k x m) = (C_KK + lam I)^-1 X_K, the
 * m columns of X from its first; A (k x k) is scratch. */
static void ridge_on(const double *C, size_t n, const double *X, size_t ldx, size_t m,
                     const size_t *K, size_t k, double lam, double *A, double *B)
{
	for (size_t i = 0; i < k; i++) {
		for (size_t j = 0; j < k; j++)
			A[i * k + j] = C[K[i] * n + K[j]] + (i == j ? lam : 0);
		for (size_t j = 0; j < m; j++)
			B[i * m + j] = X[K[i] * ldx + j];
	}
	gauss_solve(A, B, k, m);
}

static nnp_dataset *make_data(tu_rng *r, size_t rows, size_t f, double lo, double hi)
{
	return tu_random_dataset(r, rows, f, lo, hi, 0);
}

/* One row through a model in double; out receives the last layer's output
 * (softmax applied) and logits, if not NULL, its pre-activation. */
static void ref_row(const nnp_model *m, const float *x, double *out, double *logits)
{
	double buf[2][256];
	size_t in = m->input_size;
	for (size_t i = 0; i < in; i++)
		buf[0][i] = x[i];
	int cur = 0;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		assert_true(L->out <= 256 && L->in <= 256);
		double *y = buf[!cur];
		for (size_t o = 0; o < L->out; o++) {
			double s = L->b[o];
			for (size_t i = 0; i < L->in; i++)
				s += (double)L->w[o * L->in + i] * buf[cur][i];
			y[o] = s;
		}
		cur = !cur;
		if (l + 1 == m->n_layers)
			break;
		for (size_t o = 0; o < L->out; o++)
			y[o] = tu_ref_act(L->act, L->alpha, y[o]);
	}
	const nnp_layer *last = &m->layers[m->n_layers - 1];
	double *z = buf[cur];
	if (logits)
		memcpy(logits, z, last->out * sizeof *z);
	tu_ref_layer_act(last, z, out);
}

static nnp_method_opts opts_of(nnp_method me, nnp_compensate co, unsigned threads, size_t batch)
{
	nnp_method_opts o = NNP_METHOD_OPTS_INIT;
	o.method = me;
	o.compensate = co;
	o.threads = threads;
	o.batch = batch;
	return o;
}

/* ---- Cholesky and the ridge refit -------------------------------------- */

static void test_chol_solve(void **state)
{
	(void)state;
	tu_rng r = { 11 };
	enum { N = 7, M = 3 };
	double Mx[N * N], A[N * N], L[N * N], B[N * M], X[N * M], G[N * N];
	for (size_t i = 0; i < N * N; i++)
		Mx[i] = tu_uniform(&r, -1, 1);
	for (size_t i = 0; i < N; i++)
		for (size_t j = 0; j < N; j++) {
			double s = i == j ? 0.5 : 0.0;
			for (size_t k = 0; k < N; k++)
				s += Mx[i * N + k] * Mx[j * N + k];
			A[i * N + j] = s;
		}
	for (size_t i = 0; i < N * M; i++)
		B[i] = X[i] = tu_uniform(&r, -2, 2);
	memcpy(L, A, sizeof A);
	assert_int_equal(nnp_mth_chol(L, N), 0);
	/* L L^T reproduces A and L is lower triangular. */
	for (size_t i = 0; i < N; i++)
		for (size_t j = 0; j < N; j++) {
			double s = 0;
			for (size_t k = 0; k < N; k++)
				s += L[i * N + k] * L[j * N + k];
			assert_true(fabs(s - A[i * N + j]) < 1e-12);
			if (j > i)
				assert_true(L[i * N + j] == 0.0);
		}
	nnp_mth_chol_solve(L, N, X, M);
	memcpy(G, A, sizeof A);
	gauss_solve(G, B, N, M);
	for (size_t i = 0; i < N * M; i++)
		assert_true(fabs(X[i] - B[i]) < 1e-10);
	/* Not positive definite: a negative pivot, and NaN. */
	double bad[4] = { 1, 2, 2, 1 };
	assert_int_equal(nnp_mth_chol(bad, 2), -1);
	double nan_m[1] = { NAN };
	assert_int_equal(nnp_mth_chol(nan_m, 1), -1);
}

/* Population covariance of rows [N][n] and cross-covariance with [N][m]. */
static void cov_of(const double *h, const double *z, size_t N, size_t n, size_t m, double *C,
                   double *Xc, double *mh, double *mz)
{
	for (size_t j = 0; j < n; j++) {
		mh[j] = 0;
		for (size_t r = 0; r < N; r++)
			mh[j] += h[r * n + j] / (double)N;
	}
	for (size_t j = 0; j < m; j++) {
		mz[j] = 0;
		for (size_t r = 0; r < N; r++)
			mz[j] += z[r * m + j] / (double)N;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			double s = 0;
			for (size_t r = 0; r < N; r++)
				s += (h[r * n + i] - mh[i]) * (h[r * n + j] - mh[j]);
			C[i * n + j] = s / (double)N;
		}
		for (size_t j = 0; j < m; j++) {
			double s = 0;
			for (size_t r = 0; r < N; r++)
				s += (h[r * n + i] - mh[i]) * (z[r * m + j] - mz[j]);
			Xc[i * m + j] = s / (double)N;
		}
	}
}

static void test_ridge_vs_normal_equations(void **state)
{
	(void)state;
	tu_rng r = { 12 };
	enum { N = 150, n = 6, m = 3, k = 4 };
	static double h[N * n], z[N * m];
	for (size_t i = 0; i < N * n; i++)
		h[i] = tu_uniform(&r, -1, 3);
	for (size_t i = 0; i < N * m; i++)
		z[i] = tu_uniform(&r, -2, 2) + h[(i / m) * n + i % m];
	double C[n * n], X[n * m], mh[n], mz[m];
	cov_of(h, z, N, n, m, C, X, mh, mz);
	const size_t kept[k] = { 0, 2, 3, 5 };
	double lam = 0.05, w[k * m], a[k * k];
	assert_int_equal(nnp_mth_ridge(C, X, n, m, kept, k, &lam, w, a), 0);
	assert_true(lam == 0.05);
	/* Normal equations: (H_K^T H_K / N + lam I) W = H_K^T Z / N on centered data. */
	double A[k * k], B[k * m];
	for (size_t i = 0; i < k; i++) {
		for (size_t j = 0; j < k; j++) {
			double s = 0;
			for (size_t t = 0; t < N; t++)
				s += (h[t * n + kept[i]] - mh[kept[i]]) * (h[t * n + kept[j]] - mh[kept[j]]);
			A[i * k + j] = s / N + (i == j ? lam : 0);
		}
		for (size_t j = 0; j < m; j++) {
			double s = 0;
			for (size_t t = 0; t < N; t++)
				s += (h[t * n + kept[i]] - mh[kept[i]]) * (z[t * m + j] - mz[j]);
			B[i * m + j] = s / N;
		}
	}
	gauss_solve(A, B, k, m);
	for (size_t i = 0; i < k * m; i++)
		assert_true(fabs(w[i] - B[i]) < 1e-10);
}

/*
 * The whole pipeline on a network with one linear hidden layer: the refit
 * output layer must be the normal-equations solution computed here in double
 * from the calibration rows (batches of 7 rows on 2 threads exercise the
 * shifted accumulation and the merge).
 */
static void test_refit_end_to_end(void **state)
{
	(void)state;
	tu_rng r = { 13 };
	enum { D = 5, n = 6, m = 3, N = 101, k = 4 };
	const size_t sizes[] = { D, n, m };
	const nnp_act acts[] = { NNP_ACT_LINEAR, NNP_ACT_LINEAR };
	nnp_model *mod = tu_random_model(&r, 2, sizes, acts, 1.0);
	/* Inputs far from 0 so that the means dwarf the spreads. */
	nnp_dataset *d = make_data(&r, N, D, 20.0, 21.0);
	nnp_method_opts o = opts_of(NNP_METHOD_SCORE, NNP_COMP_LS, 2, 7);
	size_t counts[1] = { k };
	nnp_model *p = NULL;
	nnp_keep *kp = NULL;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_method_prune(&p, mod, d, &o, counts, &kp, &err), 0);
	assert_int_equal(kp->count[0], k);
	static double h[N * n], z[N * m];
	for (size_t t = 0; t < N; t++)
		for (size_t j = 0; j < n; j++) {
			double s = mod->layers[0].b[j];
			for (size_t i = 0; i < D; i++)
				s += (double)mod->layers[0].w[j * D + i] * d->x[t * D + i];
			h[t * n + j] = s;
		}
	for (size_t t = 0; t < N; t++)
		for (size_t j = 0; j < m; j++) {
			double s = mod->layers[1].b[j];
			for (size_t i = 0; i < n; i++)
				s += (double)mod->layers[1].w[j * n + i] * h[t * n + i];
			z[t * m + j] = s;
		}
	double C[n * n], X[n * m], mh[n], mz[m], tr = 0;
	cov_of(h, z, N, n, m, C, X, mh, mz);
	for (size_t j = 0; j < n; j++)
		tr += C[j * n + j];
	double lam = NNP_METHOD_LAMBDA_REL * tr / n;
	double A[k * k], B[k * m];
	const size_t *K = kp->idx[0];
	ridge_on(C, n, X, m, m, K, k, lam, A, B);
	const nnp_layer *P1 = &p->layers[1];
	assert_int_equal(P1->in, k);
	for (size_t j = 0; j < m; j++) {
		double bias = mz[j];
		for (size_t i = 0; i < k; i++) {
			double want = B[i * m + j];
			assert_true(fabs(P1->w[j * k + i] - want) < 1e-4 * (1 + fabs(want)));
			bias -= want * mh[K[i]];
		}
		assert_true(fabs(P1->b[j] - bias) < 1e-3 * (1 + fabs(bias)));
	}
	/* Layer 0 keeps its rows untouched. */
	for (size_t i = 0; i < k; i++)
		assert_memory_equal(p->layers[0].w + i * D, mod->layers[0].w + K[i] * D,
		                    D * sizeof(float));
	nnp_keep_free(kp);
	nnp_model_free(p);
	nnp_model_free(mod);
	nnp_dataset_free(d);
}

/* ---- the unstructured refit --------------------------------------------- */

/* Rows x[N][D] through layer l of m in double, from inputs in[N][n] (the
 * rows themselves for layer 0, preprocessed here): pre-activations z[N][out]. */
static void ref_layer(const nnp_model *m, size_t l, const double *in, size_t N, double *z)
{
	const nnp_layer *L = &m->layers[l];
	for (size_t t = 0; t < N; t++)
		for (size_t o = 0; o < L->out; o++) {
			double s = L->b[o];
			for (size_t i = 0; i < L->in; i++)
				s += (double)L->w[o * L->in + i] * in[t * L->in + i];
			z[t * L->out + o] = s;
		}
}

/* Mean over rows of (w . h_t + b - z_t,i)^2 for a float row w over n inputs. */
static double row_mse(const float *w, float b, const double *h, const double *z, size_t N,
                      size_t n, size_t m, size_t i)
{
	double s = 0;
	for (size_t t = 0; t < N; t++) {
		double v = b - z[t * m + i];
		for (size_t j = 0; j < n; j++)
			v += (double)w[j] * h[t * n + j];
		s += v * v;
	}
	return s / (double)N;
}

/*
 * magnitude + ls on a tiny network with input preprocessing: every row that
 * lost weights equals the ridge normal-equations solution over its surviving
 * weights, computed here in double on the inputs of the refit network so far
 * against the original's pre-activations; zeros stay zero; rows that lost
 * nothing stay; and no row's calibration error rises above the plain
 * magnitude row's on the same inputs.
 */
static void test_sparse_refit_normal_equations(void **state)
{
	(void)state;
	tu_rng r = { 31 };
	enum { D = 7, N = 203, W = 8 };
	const size_t sizes[] = { D, W, 5, 3 };
	const nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_TANH, NNP_ACT_LINEAR };
	nnp_model *mod = tu_random_model(&r, 3, sizes, acts, 0.8);
	const float off = 0.25f, sc = 1.5f;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_model_set_prep(mod, &off, 1, &sc, 1, &err), 0);
	nnp_dataset *d = make_data(&r, N, D, -1.0, 2.0);
	nnp_method me;
	assert_int_equal(nnp_method_parse("magnitude", &me), 0);
	/* Layer 1 keeps one row whole: per layer 0.5 of 40 weights, then 0.1 of
	 * layer 1's by hand below. */
	const double share[] = { 0.5, 0.0, 0.4 };
	nnp_model *mag = NULL, *fit = NULL;
	assert_int_equal(nnp_prune_magnitude(mod, share, 3, NNP_MAG_PER_LAYER, &mag, NULL, &err), 0);
	for (size_t i = 0; i < 5; i += 2)
		mag->layers[1].w[i * W + i] = 0.0f;   /* rows 1 and 3 lose nothing */
	nnp_method_opts o = opts_of(me, NNP_COMP_LS, 2, 16);
	nnp_method_ctx *c = NULL;
	assert_int_equal(nnp_method_ctx_create(&c, mod, d, &o, &err), 0);
	assert_int_equal(nnp_method_ctx_refit(c, mag, &fit, &err), 0);
	static double h[N * W], z[N * W], hn[N * W], C[W * W], X[W * W], mh[W], mz[W];
	for (size_t t = 0; t < N * D; t++)
		h[t] = ((double)d->x[t] - off) * sc;
	size_t checked = 0;
	for (size_t l = 0; l < 3; l++) {
		const nnp_layer *Lo = &mod->layers[l], *Lm = &mag->layers[l], *Lf = &fit->layers[l];
		size_t n = Lo->in, m = Lo->out;
		/* The original's pre-activations: its own inputs, layer by layer. */
		static double ho[N * W];
		for (size_t t = 0; t < N * D; t++)
			ho[t] = ((double)d->x[t] - off) * sc;
		for (size_t q = 0; q <= l; q++) {
			ref_layer(mod, q, ho, N, z);
			if (q < l)
				for (size_t t = 0; t < N * mod->layers[q].out; t++)
					ho[t] = tu_ref_act(mod->layers[q].act, 0, z[t]);
		}
		cov_of(h, z, N, n, m, C, X, mh, mz);
		double tr = 0;
		for (size_t j = 0; j < n; j++)
			tr += C[j * n + j];
		double lam = NNP_METHOD_LAMBDA_REL * tr / (double)n;
		for (size_t i = 0; i < m; i++) {
			const float *wm = Lm->w + i * n, *wf = Lf->w + i * n;
			if (!memcmp(wm, Lo->w + i * n, n * sizeof *wm)) {
				assert_memory_equal(wf, wm, n * sizeof *wf);
				assert_true(Lf->b[i] == Lo->b[i]);
				continue;
			}
			size_t K[W], k = 0;
			for (size_t j = 0; j < n; j++)
				if (wm[j] != 0.0f)
					K[k++] = j;
				else
					assert_true(wf[j] == 0.0f);
			double A[W * W], B[W];
			ridge_on(C, n, X + i, m, 1, K, k, lam, A, B);
			double bias = mz[i];
			for (size_t a = 0; a < k; a++) {
				assert_true(fabs(wf[K[a]] - B[a]) < 1e-4 * (1 + fabs(B[a])));
				bias -= B[a] * mh[K[a]];
			}
			assert_true(fabs(Lf->b[i] - bias) < 1e-4 * (1 + fabs(bias)));
			double e_fit = row_mse(wf, Lf->b[i], h, z, N, n, m, i);
			double e_mag = row_mse(wm, Lm->b[i], h, z, N, n, m, i);
			assert_true(e_fit <= e_mag * (1 + 1e-9));
			checked++;
		}
		/* The next layer's inputs: this layer of the refit network. */
		ref_layer(fit, l, h, N, hn);
		for (size_t t = 0; t < N * m; t++)
			h[t] = tu_ref_act(Lo->act, 0, hn[t]);
	}
	/* Every row of layers 0 and 2 and three of layer 1's. */
	assert_int_equal(checked, W + 3 + 3);
	/* The refit is deterministic: a second call on the same context agrees. */
	nnp_model *again = NULL;
	assert_int_equal(nnp_method_ctx_refit(c, mag, &again, &err), 0);
	tu_assert_models_bitequal(fit, again);
	nnp_model_free(again);
	/* Refused: neuron budgets on a refit context, a model of another shape,
	 * a refit on a structured context, magnitude without ls. */
	const size_t counts[2] = { 4, 3 };
	nnp_model *none = NULL;
	assert_int_equal(nnp_method_ctx_prune(c, counts, &none, NULL, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "removes no neuron");
	const size_t other[] = { D, W, 4, 3 };
	nnp_model *shape = tu_random_model(&r, 3, other, acts, 0.5);
	assert_int_equal(nnp_method_ctx_refit(c, shape, &none, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "not the original's");
	nnp_method_ctx *sx = NULL;
	nnp_method_opts so = opts_of(NNP_METHOD_SCORE, NNP_COMP_LS, 1, 0);
	assert_int_equal(nnp_method_ctx_create(&sx, mod, d, &so, &err), 0);
	assert_int_equal(nnp_method_ctx_refit(sx, mag, &none, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "belongs to an unstructured method");
	nnp_method_ctx_free(sx);
	so = opts_of(me, NNP_COMP_NONE, 1, 0);
	assert_int_equal(nnp_method_ctx_create(&sx, mod, d, &so, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "its one compensation is ls");
	assert_null(sx);
	assert_null(none);
	nnp_model_free(shape);
	nnp_model_free(fit);
	nnp_model_free(mag);
	nnp_method_ctx_free(c);
	nnp_model_free(mod);
	nnp_dataset_free(d);
}

/* ---- selection orders --------------------------------------------------- */

/* Ridge objective of keeping subset `mask` (bit j = input j): minus the
 * explained part, tr(X_S^T (C_SS + lam I)^-1 X_S); constants dropped. */
static double subset_obj(const double *C, const double *X, size_t n, size_t m, unsigned mask,
                         double lam)
{
	size_t idx[8], k = 0;
	for (size_t j = 0; j < n; j++)
		if (mask & (1u << j))
			idx[k++] = j;
	if (k == 0)
		return 0;
	double A[64], B[24];
	ridge_on(C, n, X, m, m, idx, k, lam, A, B);
	double s = 0;
	for (size_t i = 0; i < k; i++)
		for (size_t j = 0; j < m; j++)
			s += X[idx[i] * m + j] * B[i * m + j];
	return -s;
}

static void test_obs_order_brute_force(void **state)
{
	(void)state;
	enum { n = 5, m = 3 };
	for (uint64_t seed = 1; seed <= 20; seed++) {
		tu_rng r = { seed };
		double Mx[n * n], C[n * n], X[n * m];
		for (size_t i = 0; i < n * n; i++)
			Mx[i] = tu_uniform(&r, -1, 1);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++) {
				double s = 0;
				for (size_t t = 0; t < n; t++)
					s += Mx[i * n + t] * Mx[j * n + t];
				C[i * n + j] = s;
			}
		for (size_t i = 0; i < n * m; i++)
			X[i] = tu_uniform(&r, -1, 1);
		double lam = 0.01;
		double obj[1 << n];
		for (unsigned s = 0; s < (1u << n); s++)
			obj[s] = subset_obj(C, X, n, m, s, lam);
		size_t order[n];
		double inc[n];
		double *work = malloc(nnp_mth_obs_work(n, m) * sizeof *work);
		assert_non_null(work);
		double l2 = lam;
		assert_int_equal(nnp_mth_obs_order(C, X, n, m, &l2, order, inc, work), 0);
		free(work);
		/* Greedy by brute force: each step removes the input whose loss
		 * raises the objective least. */
		unsigned cur = (1u << n) - 1;
		for (size_t s = 0; s < n; s++) {
			size_t best = n;
			for (size_t j = 0; j < n; j++)
				if ((cur & (1u << j)) &&
				    (best == n || obj[cur & ~(1u << j)] < obj[cur & ~(1u << best)]))
					best = j;
			assert_int_equal(order[s], best);
			double want = obj[cur & ~(1u << best)] - obj[cur];
			assert_true(fabs(inc[s] - want) < 1e-9 * (1 + fabs(want)));
			cur &= ~(1u << best);
		}
	}
}

static void test_score_order_by_hand(void **state)
{
	(void)state;
	/* std = 2, 1, 0.5, 3; column norms of w = 1, sqrt(8), 4, 0.5;
	 * scores = 2, 2.83, 2, 1.5: neuron 3 goes first, then the tie 0/2
	 * goes to the higher index (2), then 0, and 1 stays longest. */
	const double var[4] = { 4, 1, 0.25, 9 };
	const float w[2 * 4] = { 1, 2, 0, 0.5f, 0, 2, 4, 0 };
	size_t order[4], kept[2];
	nnp_mth_rank rank[4];
	nnp_mth_score_order(var, w, 4, 2, order, rank);
	const size_t want[4] = { 3, 2, 0, 1 };
	assert_memory_equal(order, want, sizeof want);
	nnp_mth_kept_from_order(order, 4, 2, kept);
	assert_int_equal(kept[0], 0);
	assert_int_equal(kept[1], 1);
}

/* ---- whole prunes -------------------------------------------------------- */

/*
 * h3 = h1 + 2 h2 through a linear hidden layer: obs removes one of the three
 * dependent neurons (never the independent h4), and the ls refit leaves the
 * outputs unchanged.
 */
static void test_linear_combination_removed(void **state)
{
	(void)state;
	tu_rng r = { 14 };
	enum { D = 4, n = 4, m = 3, N = 64 };
	const size_t sizes[] = { D, n, m };
	const nnp_act acts[] = { NNP_ACT_LINEAR, NNP_ACT_SOFTMAX };
	nnp_model *mod = tu_random_model(&r, 2, sizes, acts, 1.0);
	nnp_layer *L0 = &mod->layers[0];
	/* Small integers make h1 + 2 h2 exact in float. */
	for (size_t i = 0; i < D * n; i++)
		L0->w[i] = (float)(int)tu_uniform(&r, -3, 4);
	for (size_t i = 0; i < D; i++)
		L0->w[2 * D + i] = L0->w[0 * D + i] + 2 * L0->w[1 * D + i];
	L0->b[0] = 1;
	L0->b[1] = -2;
	L0->b[2] = L0->b[0] + 2 * L0->b[1];
	/* h4 matters: a large outgoing weight. */
	for (size_t j = 0; j < m; j++)
		mod->layers[1].w[j * n + 3] = 3.0f * (float)(j + 1);
	nnp_dataset *d = make_data(&r, N, D, -1, 1);
	for (size_t i = 0; i < N * D; i++)
		d->x[i] = (float)(int)(d->x[i] * 8) / 8;
	nnp_method_opts o = opts_of(NNP_METHOD_OBS, NNP_COMP_LS, 1, 16);
	o.lambda_rel = 1e-12;
	size_t counts[1] = { 3 };
	nnp_model *p = NULL;
	nnp_keep *kp = NULL;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_method_prune(&p, mod, d, &o, counts, &kp, &err), 0);
	assert_int_equal(kp->count[0], 3);
	assert_int_equal(kp->idx[0][2], 3);
	double a[m], b[m], la[m], lb[m];
	for (size_t t = 0; t < N; t++) {
		ref_row(mod, d->x + t * D, a, la);
		ref_row(p, d->x + t * D, b, lb);
		for (size_t j = 0; j < m; j++) {
			assert_true(fabs(a[j] - b[j]) < 1e-4);
			assert_true(fabs(la[j] - lb[j]) < 1e-3 * (1 + fabs(la[j])));
		}
	}
	nnp_keep_free(kp);
	nnp_model_free(p);
	nnp_model_free(mod);
	nnp_dataset_free(d);
}

/* An independent double-precision version of the sequential procedure
 * for score + ls (or fold / none): returns the kept sets and the weights of
 * each layer of the pruned network. */
typedef struct ref_net {
	size_t L;
	size_t in[4], out[4];
	double *w[4], *b[4];
	size_t kept[4][64], count[4];
} ref_net;

static void ref_forward_hidden(const ref_net *R, const float *x, size_t upto, double *h)
{
	double buf[2][64];
	for (size_t i = 0; i < R->in[0]; i++)
		buf[0][i] = x[i];
	int cur = 0;
	for (size_t l = 0; l <= upto; l++) {
		for (size_t o = 0; o < R->out[l]; o++) {
			double s = R->b[l][o];
			for (size_t i = 0; i < R->in[l]; i++)
				s += R->w[l][o * R->in[l] + i] * buf[cur][i];
			buf[!cur][o] = s > 0 ? s : 0;   /* relu hidden layers */
		}
		cur = !cur;
	}
	memcpy(h, buf[cur], R->out[upto] * sizeof *h);
}

static void ref_prune(const nnp_model *m, const nnp_dataset *d, const size_t *counts,
                      nnp_compensate comp, double lambda_rel, ref_net *R)
{
	size_t L = m->n_layers, N = d->rows;
	ref_net O;
	memset(R, 0, sizeof *R);
	memset(&O, 0, sizeof O);
	R->L = O.L = L;
	for (size_t l = 0; l < L; l++) {
		const nnp_layer *S = &m->layers[l];
		R->in[l] = O.in[l] = S->in;
		R->out[l] = O.out[l] = S->out;
		R->w[l] = malloc(S->in * S->out * sizeof(double));
		R->b[l] = malloc(S->out * sizeof(double));
		O.w[l] = malloc(S->in * S->out * sizeof(double));
		O.b[l] = malloc(S->out * sizeof(double));
		for (size_t i = 0; i < S->in * S->out; i++)
			R->w[l][i] = O.w[l][i] = S->w[i];
		for (size_t i = 0; i < S->out; i++)
			R->b[l][i] = O.b[l][i] = S->b[i];
	}
	for (size_t l = 0; l + 1 < L; l++) {
		size_t n = m->layers[l].out, mo = m->layers[l + 1].out, k = counts[l];
		double *h = malloc(N * n * sizeof *h), *z = malloc(N * mo * sizeof *z);
		double *ho = malloc(n * sizeof *ho);
		for (size_t t = 0; t < N; t++) {
			ref_forward_hidden(R, d->x + t * d->features, l, h + t * n);
			ref_forward_hidden(&O, d->x + t * d->features, l, ho);
			for (size_t j = 0; j < mo; j++) {
				double s = O.b[l + 1][j];
				for (size_t i = 0; i < n; i++)
					s += O.w[l + 1][j * n + i] * ho[i];
				z[t * mo + j] = s;
			}
		}
		double *C = malloc(n * n * sizeof *C), *X = malloc(n * mo * sizeof *X);
		double mh[64], mz[64];
		cov_of(h, z, N, n, mo, C, X, mh, mz);
		/* score: the k largest std * column norm, ties to the lower index */
		double sc[64];
		int keep[64] = { 0 };
		for (size_t j = 0; j < n; j++) {
			double cn = 0;
			for (size_t i = 0; i < mo; i++)
				cn += O.w[l + 1][i * n + j] * O.w[l + 1][i * n + j];
			sc[j] = sqrt(C[j * n + j]) * sqrt(cn);
		}
		for (size_t c = 0; c < k; c++) {
			size_t best = n;
			for (size_t j = 0; j < n; j++)
				if (!keep[j] && (best == n || sc[j] > sc[best]))
					best = j;
			keep[best] = 1;
		}
		R->count[l] = 0;
		for (size_t j = 0; j < n; j++)
			if (keep[j])
				R->kept[l][R->count[l]++] = j;
		const size_t *K = R->kept[l];
		double *nw = malloc(mo * k * sizeof *nw), *nb = malloc(mo * sizeof *nb);
		if (k == n) {
			memcpy(nw, O.w[l + 1], mo * n * sizeof *nw);
			memcpy(nb, O.b[l + 1], mo * sizeof *nb);
		} else if (comp == NNP_COMP_LS) {
			double tr = 0;
			for (size_t j = 0; j < n; j++)
				tr += C[j * n + j];
			double lam = lambda_rel * tr / n;
			double *A = malloc(k * k * sizeof *A), *B = malloc(k * mo * sizeof *B);
			ridge_on(C, n, X, mo, mo, K, k, lam, A, B);
			for (size_t j = 0; j < mo; j++) {
				nb[j] = mz[j];
				for (size_t i = 0; i < k; i++) {
					nw[j * k + i] = B[i * mo + j];
					nb[j] -= B[i * mo + j] * mh[K[i]];
				}
			}
			free(A);
			free(B);
		} else {
			for (size_t j = 0; j < mo; j++) {
				nb[j] = O.b[l + 1][j];
				for (size_t i = 0; i < n; i++) {
					if (keep[i])
						continue;
					if (comp == NNP_COMP_FOLD)
						nb[j] += mh[i] * O.w[l + 1][j * n + i];
				}
				for (size_t i = 0; i < k; i++)
					nw[j * k + i] = O.w[l + 1][j * n + K[i]];
			}
		}
		free(R->w[l + 1]);
		free(R->b[l + 1]);
		R->w[l + 1] = nw;
		R->b[l + 1] = nb;
		R->in[l + 1] = k;
		/* Rows of layer l to its kept set. */
		size_t in = R->in[l];
		for (size_t c = 0; c < k; c++) {
			memmove(R->w[l] + c * in, R->w[l] + K[c] * in, in * sizeof(double));
			R->b[l][c] = R->b[l][K[c]];
		}
		R->out[l] = k;
		free(h);
		free(z);
		free(ho);
		free(C);
		free(X);
	}
	for (size_t l = 0; l < L; l++) {
		free(O.w[l]);
		free(O.b[l]);
	}
}

static void ref_free(ref_net *R)
{
	for (size_t l = 0; l < R->L; l++) {
		free(R->w[l]);
		free(R->b[l]);
	}
}

static void check_against_ref(const nnp_model *p, const nnp_keep *kp, const ref_net *R)
{
	for (size_t l = 0; l + 1 < R->L; l++) {
		assert_int_equal(kp->count[l], R->count[l]);
		assert_memory_equal(kp->idx[l], R->kept[l], R->count[l] * sizeof(size_t));
	}
	for (size_t l = 0; l < R->L; l++) {
		const nnp_layer *P = &p->layers[l];
		assert_int_equal(P->in, R->in[l]);
		assert_int_equal(P->out, R->out[l]);
		for (size_t i = 0; i < P->in * P->out; i++)
			if (fabs(P->w[i] - R->w[l][i]) > 2e-3 * (1 + fabs(R->w[l][i])))
				fail_msg("layer %zu: w[%zu] = %g, reference %g", l, i, P->w[i], R->w[l][i]);
		for (size_t i = 0; i < P->out; i++)
			if (fabs(P->b[i] - R->b[l][i]) > 2e-3 * (1 + fabs(R->b[l][i])))
				fail_msg("layer %zu: b[%zu] = %g, reference %g", l, i, P->b[i], R->b[l][i]);
	}
}

/*
 * Two hidden layers, score selection, each compensation: the library's
 * sequential prune (statistics of layer 1 taken in the network whose layer 1
 * was already refit) against the reference. Candidates run in a row on one
 * context must equal fresh contexts: the caches never leak.
 */
static void test_sequential_against_reference(void **state)
{
	(void)state;
	tu_case *tc = tu_case_new(15, "6 10:relu 8:relu 3:softmax", 0.8, 90, -1, 2, 0);
	const size_t cand[][2] = { { 6, 5 }, { 10, 4 }, { 7, 8 }, { 6, 5 }, { 3, 2 } };
	for (int co = NNP_COMP_NONE; co <= NNP_COMP_LS; co++) {
		nnp_method_opts o = opts_of(NNP_METHOD_SCORE, (nnp_compensate)co, 2, 16);
		nnp_method_ctx *c = NULL;
		nnp_err err;
		nnp_err_clear(&err);
		assert_int_equal(nnp_method_ctx_create(&c, tc->m, tc->d, &o, &err), 0);
		for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
			nnp_model *p = NULL, *q = NULL;
			nnp_keep *kp = NULL;
			assert_int_equal(nnp_method_ctx_prune(c, cand[i], &p, &kp, &err), 0);
			ref_net R;
			ref_prune(tc->m, tc->d, cand[i], (nnp_compensate)co, o.lambda_rel, &R);
			check_against_ref(p, kp, &R);
			ref_free(&R);
			assert_int_equal(nnp_method_prune(&q, tc->m, tc->d, &o, cand[i], NULL, &err),
			                 0);
			tu_assert_models_bitequal(p, q);
			assert_int_equal(nnp_model_params(p), nnp_method_params(tc->m, cand[i]));
			nnp_model_free(p);
			nnp_model_free(q);
			nnp_keep_free(kp);
		}
		nnp_method_ctx_free(c);
	}
	tu_case_free(tc);
}

/* Keeping every neuron returns the model unchanged, whatever the method. */
static void test_keep_all_is_identity(void **state)
{
	(void)state;
	tu_case *c = tu_case_new(16, "5 7:tanh 6:leaky_relu 4:linear", 1.0, 40, -1, 1, 0);
	const size_t counts[2] = { 7, 6 };
	for (int me = NNP_METHOD_SCORE; me <= NNP_METHOD_OBS; me++) {
		nnp_method_opts o = opts_of((nnp_method)me, NNP_COMP_LS, 1, 0);
		nnp_model *p = NULL;
		nnp_err err;
		assert_int_equal(nnp_method_prune(&p, c->m, c->d, &o, counts, NULL, &err), 0);
		tu_assert_models_bitequal(p, c->m);
		assert_true(p->layers[1].alpha == c->m->layers[1].alpha);
		nnp_model_free(p);
	}
	tu_case_free(c);
}

/* The rule's kept sets through prune_keep: compensation none is exactly
 * nnp_prune_apply without folding. */
static void test_prune_keep_matches_prune_apply(void **state)
{
	(void)state;
	tu_case *tc = tu_case_new(17, "4 6:relu 5:sigmoid 2:softmax", 1.0, 30, -1, 1, 0);
	size_t c0[] = { 0, 2, 5 }, c1[] = { 1, 2, 3, 4 };
	size_t counts[] = { 3, 4 };
	size_t *idx[] = { c0, c1 };
	int floor_hit[] = { 0, 0 };
	nnp_keep k = { 2, counts, idx, floor_hit };
	nnp_method_opts o = opts_of(NNP_METHOD_RULE, NNP_COMP_NONE, 2, 8);
	nnp_method_ctx *c = NULL;
	nnp_model *p = NULL, *q = NULL;
	nnp_err err;
	assert_int_equal(nnp_method_ctx_create(&c, tc->m, tc->d, &o, &err), 0);
	assert_int_equal(nnp_method_ctx_prune_keep(c, &k, &p, &err), 0);
	assert_int_equal(nnp_prune_apply(&q, tc->m, &k, NULL, 0, &err), 0);
	tu_assert_models_bitequal(p, q);
	nnp_model_free(p);
	nnp_model_free(q);
	nnp_method_ctx_free(c);
	tu_case_free(tc);
}

/* ---- allocation --------------------------------------------------------- */

/* Mean KL(original || pruned) over the rows, in double. */
static double ref_kl(const nnp_model *a, const nnp_model *b, const nnp_dataset *d)
{
	double pa[16], pb[16], s = 0;
	size_t out = nnp_model_outputs(a);
	for (size_t t = 0; t < d->rows; t++) {
		ref_row(a, d->x + t * d->features, pa, NULL);
		ref_row(b, d->x + t * d->features, pb, NULL);
		for (size_t i = 0; i < out; i++)
			if (pa[i] > 0)
				s += pa[i] * (log(pa[i]) - log(pb[i]));
	}
	return s / (double)d->rows;
}

static void test_allocation_budget(void **state)
{
	(void)state;
	tu_rng r = { 18 };
	const size_t sizes[] = { 6, 12, 9, 7, 3 };
	const nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_RELU, NNP_ACT_RELU, NNP_ACT_SOFTMAX };
	nnp_model *mod = tu_random_model(&r, 4, sizes, acts, 0.9);
	nnp_dataset *d = make_data(&r, 120, 6, -1, 1);
	for (int me = NNP_METHOD_SCORE; me <= NNP_METHOD_OBS; me++) {
		nnp_method_opts o = opts_of((nnp_method)me, NNP_COMP_LS, 2, 32);
		o.grid_step = 0.2;
		nnp_method_ctx *c = NULL;
		nnp_alloc *a = NULL;
		nnp_err err;
		assert_int_equal(nnp_method_ctx_create(&c, mod, d, &o, &err), 0);
		assert_int_equal(nnp_method_ctx_allocate(c, &a, &err), 0);
		assert_int_equal(a->n_layers, 3);
		assert_int_equal(a->n_grid, 5);
		assert_true(a->fraction[4] == 1.0);
		assert_true(fabs(a->fraction[0] - 0.2) < 1e-12);
		/* Curves: 0 when whole, never negative, and equal to the KL of the
		 * model pruned at that layer only, measured here. */
		for (size_t l = 0; l < 3; l++) {
			assert_int_equal(a->grid_count[l * 5 + 4], sizes[l + 1]);
			assert_true(a->sens[l * 5 + 4] == 0.0);
			for (size_t g = 0; g < 5; g++)
				assert_true(a->sens[l * 5 + g] > -1e-9);
		}
		size_t cnt[3] = { 12, 9, 7 };
		cnt[1] = a->grid_count[1 * 5 + 1];
		nnp_model *p = NULL;
		assert_int_equal(nnp_method_ctx_prune(c, cnt, &p, NULL, &err), 0);
		double want = ref_kl(mod, p, d);
		assert_true(fabs(a->sens[1 * 5 + 1] - want) < 1e-4 * (1 + want));
		nnp_model_free(p);
		/* The path: one layer lowered per step, params strictly falling. */
		size_t total = 0;
		for (size_t l = 0; l < 3; l++) {
			size_t distinct = 0, prev = 0;
			for (size_t g = 0; g < 5; g++) {
				size_t k = a->grid_count[l * 5 + g];
				distinct += k != prev && k != sizes[l + 1];
				prev = k;
			}
			total += distinct;
		}
		assert_int_equal(a->n, total);
		size_t prevc[3] = { 12, 9, 7 }, prevp = nnp_model_params(mod);
		for (size_t s = 0; s < a->n; s++) {
			const size_t *cs = a->counts + s * 3;
			int changed = 0;
			for (size_t l = 0; l < 3; l++) {
				assert_true(cs[l] <= prevc[l] && cs[l] >= 1);
				changed += cs[l] != prevc[l];
			}
			assert_int_equal(changed, 1);
			assert_int_equal(a->params[s], nnp_method_params(mod, cs));
			assert_true(a->params[s] < prevp);
			prevp = a->params[s];
			memcpy(prevc, cs, sizeof prevc);
		}
		/* Budgets: the pick never exceeds them and is the first that fits. */
		size_t full = nnp_model_params(mod);
		for (size_t target = a->params[a->n - 1]; target <= full; target += 13) {
			size_t i = nnp_alloc_pick(a, target);
			assert_true(i != NNP_ALLOC_NONE);
			assert_true(a->params[i] <= target);
			if (i > 0)
				assert_true(a->params[i - 1] > target);
			nnp_model *q = NULL;
			if (target % 5 == 0) {
				assert_int_equal(nnp_method_ctx_prune(c, a->counts + i * 3, &q, NULL, &err), 0);
				assert_true(nnp_model_params(q) <= target);
				nnp_model_free(q);
			}
		}
		assert_int_equal(nnp_alloc_pick(a, a->params[a->n - 1] - 1), NNP_ALLOC_NONE);
		nnp_alloc_free(a);
		nnp_method_ctx_free(c);
	}
	nnp_model_free(mod);
	nnp_dataset_free(d);
}

/* ---- determinism ---------------------------------------------------------- */

/* The network of the determinism and streaming tests and its 333 rows, which
 * no chunk or thread split divides evenly. */
static tu_case *wide_case(uint64_t seed)
{
	return tu_case_new(seed, "20 24:relu 16:tanh 5:softmax", 0.5, 333, 0, 1, 0);
}

/* Two allocation paths are the same: sensitivities, length and counts. */
static void assert_same_alloc(const nnp_alloc *a, const nnp_alloc *b)
{
	assert_memory_equal(a->sens, b->sens, 2 * a->n_grid * sizeof(double));
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->counts, b->counts, a->n * 2 * sizeof(size_t));
}

static void test_threads_determinism(void **state)
{
	(void)state;
	tu_case *c = wide_case(19);
	const size_t counts[2] = { 11, 9 };
	for (int me = NNP_METHOD_SCORE; me <= NNP_METHOD_OBS; me++) {
		nnp_model *p[3] = { NULL, NULL, NULL };
		nnp_alloc *a[3] = { NULL, NULL, NULL };
		const unsigned th[3] = { 1, 2, 3 };
		for (int i = 0; i < 3; i++) {
			nnp_method_opts o = opts_of((nnp_method)me, NNP_COMP_LS, th[i], 16);
			o.grid_step = 0.25;
			nnp_err err;
			assert_int_equal(nnp_method_prune(&p[i], c->m, c->d, &o, counts, NULL, &err), 0);
			assert_int_equal(nnp_method_allocate(&a[i], c->m, c->d, &o, &err), 0);
		}
		for (int i = 1; i < 3; i++) {
			tu_assert_models_bitequal(p[0], p[i]);
			assert_same_alloc(a[0], a[i]);
		}
		for (int i = 0; i < 3; i++) {
			nnp_model_free(p[i]);
			nnp_alloc_free(a[i]);
		}
	}
	tu_case_free(c);
}

/* ---- streamed calibration -------------------------------------------------- */

/* rows x f values as an unlabelled CSV (%.9g: every float comes back exact). */
static void write_rows_csv(const char *path, const nnp_dataset *d, size_t rows)
{
	size_t cap = rows * d->features * 20 + 1, len = 0;
	char *csv = malloc(cap);
	assert_non_null(csv);
	for (size_t i = 0; i < rows; i++)
		for (size_t j = 0; j < d->features; j++)
			len += (size_t)snprintf(csv + len, cap - len, "%.9g%s",
			                        (double)d->x[i * d->features + j],
			                        j + 1 < d->features ? "," : "\n");
	tu_write(path, csv, len);
	free(csv);
}

/* Sets path's modification time to t seconds: a rewrite within one clock
 * tick would otherwise keep its stamp. */
static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Every method x {none, ls} x threads 1, 3, 5 on the first n rows of d, in
 * memory and streamed from path: the same models, curves and path. */
static void stream_vs_memory(const nnp_model *mod, const nnp_dataset *d, size_t n,
                             const char *path, const nnp_data_opts *dopts, const size_t *counts)
{
	nnp_dataset rows = *d;
	rows.rows = n;
	write_rows_csv(path, d, n);
	nnp_calib_stream src = { path, dopts, 0, NULL };
	for (int me = NNP_METHOD_SCORE; me <= NNP_METHOD_OBS; me++)
		for (int co = NNP_COMP_NONE; co <= NNP_COMP_LS; co += 2)
			for (unsigned th = 1; th <= 5; th += 2) {
				nnp_method_opts o = opts_of((nnp_method)me, (nnp_compensate)co, th, 16);
				o.grid_step = 0.25;
				nnp_method_ctx *cm = NULL, *cs = NULL;
				nnp_model *pm = NULL, *ps = NULL;
				nnp_alloc *am = NULL, *as = NULL;
				nnp_err err;
				assert_int_equal(nnp_method_ctx_create(&cm, mod, &rows, &o, &err), 0);
				assert_int_equal(nnp_method_ctx_create_stream(&cs, mod, &src, &o, &err), 0);
				assert_int_equal(nnp_method_ctx_rows(cs), n);
				assert_int_equal(nnp_method_ctx_prune(cm, counts, &pm, NULL, &err), 0);
				assert_int_equal(nnp_method_ctx_prune(cs, counts, &ps, NULL, &err), 0);
				tu_assert_models_bitequal(pm, ps);
				assert_int_equal(nnp_method_ctx_allocate(cm, &am, &err), 0);
				assert_int_equal(nnp_method_ctx_allocate(cs, &as, &err), 0);
				assert_same_alloc(am, as);
				nnp_model_free(pm);
				nnp_model_free(ps);
				nnp_alloc_free(am);
				nnp_alloc_free(as);
				nnp_method_ctx_free(cm);
				nnp_method_ctx_free(cs);
			}
}

/* The same calibration rows streamed from a file and held in memory give the
 * same bits: models, sensitivities and the allocation path, with chunks that
 * do not divide the rows (333 rows, chunks of 8 batches of 16, or 10 batches
 * with 5 threads) and chunks that do (256 rows); max_rows takes the first
 * rows; a file replaced or rewritten after the context took it is caught. */
static void test_stream_matches_memory(void **state)
{
	(void)state;
	tu_case *c = wide_case(23);
	char *dir = tu_mkdtemp(), *path = tu_path(dir, "calib.csv");
	nnp_data_opts dopts = NNP_DATA_OPTS_INIT;
	dopts.header = NNP_HEADER_NO;
	dopts.label = NNP_LABEL_NONE;
	const size_t counts[2] = { 11, 9 };
	stream_vs_memory(c->m, c->d, 333, path, &dopts, counts);
	stream_vs_memory(c->m, c->d, 256, path, &dopts, counts);
	/* The first 200 rows, by max_rows, are the first 200 rows in memory. */
	write_rows_csv(path, c->d, c->d->rows);
	set_mtime(path, 1000);
	nnp_method_opts o = opts_of(NNP_METHOD_OBS, NNP_COMP_LS, 2, 16);
	nnp_data_opts first = dopts;
	first.max_rows = 200;
	nnp_calib_stream head_src = { path, &first, 0, NULL };
	nnp_dataset head = *c->d;
	head.rows = 200;
	nnp_model *pm = NULL, *ps = NULL;
	nnp_err err;
	nnp_method_ctx *cs = NULL;
	assert_int_equal(nnp_method_prune(&pm, c->m, &head, &o, counts, NULL, &err), 0);
	assert_int_equal(nnp_method_ctx_create_stream(&cs, c->m, &head_src, &o, &err), 0);
	assert_int_equal(nnp_method_ctx_rows(cs), 200);
	assert_int_equal(nnp_method_ctx_prune(cs, counts, &ps, NULL, &err), 0);
	tu_assert_models_bitequal(pm, ps);
	nnp_model_free(pm);
	nnp_model_free(ps);
	/* Rewritten with the same rows, other values, after the context took it. */
	nnp_dataset *d2 = make_data(&c->rng, 333, 20, 0, 1);
	write_rows_csv(path, d2, d2->rows);
	set_mtime(path, 2000);
	nnp_model *pc = NULL;
	const size_t other[2] = { 10, 8 };
	int rc = nnp_method_ctx_prune(cs, other, &pc, NULL, &err);
	assert_int_equal(rc, NNP_EINPUT);
	assert_non_null(strstr(err.msg, "calib.csv: changed while being read"));
	assert_null(pc);
	/* The allocation's passes (its original statistics already taken) too. */
	nnp_alloc *al = NULL;
	rc = nnp_method_ctx_allocate(cs, &al, &err);
	assert_int_equal(rc, NNP_EINPUT);
	assert_non_null(strstr(err.msg, "calib.csv: changed while being read"));
	assert_null(al);
	nnp_method_ctx_free(cs);
	nnp_dataset_free(d2);
	/* A row count the caller got wrong (the stamp matching) is caught too. */
	nnp_file_stamp st;
	assert_int_equal(nnp_file_stamp_get(path, &st, &err), 0);
	nnp_calib_stream wrong = { path, &dopts, 300, &st };
	assert_int_equal(nnp_method_ctx_create_stream(&cs, c->m, &wrong, &o, &err), 0);
	rc = nnp_method_ctx_prune(cs, other, &pc, NULL, &err);
	assert_int_equal(rc, NNP_EINPUT);
	assert_non_null(strstr(err.msg, "changed while being read: it had 300 calibration rows, "
	                                "now more"));
	nnp_method_ctx_free(cs);
	free(path);
	tu_rmtree_free(dir);
	tu_case_free(c);
}

/* ---- errors --------------------------------------------------------------- */

static void expect_err(int rc, const nnp_err *err, int status, const char *needle)
{
	assert_int_equal(rc, status);
	assert_int_equal(err->status, status);
	if (!strstr(err->msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err->msg, needle);
}

static void test_bad_options(void **state)
{
	(void)state;
	tu_case *tc = tu_case_new(20, "3 4:relu 2:softmax", 1.0, 10, -1, 1, 0);
	nnp_method_opts o = NNP_METHOD_OPTS_INIT;
	nnp_method_ctx *c = NULL;
	nnp_model *p = NULL;
	nnp_alloc *a = NULL;
	nnp_err err;
	size_t counts[1];

	const double bad_keep[] = { 0.0, -0.1, 1.0000001, 2.0, NAN };
	for (size_t i = 0; i < sizeof bad_keep / sizeof bad_keep[0]; i++) {
		nnp_err_clear(&err);
		expect_err(nnp_method_counts(tc->m, bad_keep[i], counts, &err), &err, NNP_EUSAGE,
		           "keep fraction");
	}
	assert_int_equal(nnp_method_counts(tc->m, 1.0, counts, &err), 0);
	assert_int_equal(counts[0], 4);
	assert_int_equal(nnp_method_counts(tc->m, 0.01, counts, &err), 0);
	assert_int_equal(counts[0], 1);
	assert_int_equal(nnp_method_counts(tc->m, 0.6, counts, &err), 0);
	assert_int_equal(counts[0], 2);   /* round(2.4) */

	/* Empty calibration set, wrong feature count. */
	nnp_dataset empty = { 0, 3, tc->d->x, NULL };
	expect_err(nnp_method_ctx_create(&c, tc->m, &empty, &o, &err), &err, NNP_EINPUT, "no rows");
	assert_null(c);
	expect_err(nnp_method_ctx_create(&c, tc->m, NULL, &o, &err), &err, NNP_EINPUT, "no rows");
	nnp_dataset wide = { 2, 4, tc->d->x, NULL };
	expect_err(nnp_method_ctx_create(&c, tc->m, &wide, &o, &err), &err, NNP_EINPUT,
	           "4 features per row, the model takes 3");
	/* The same, streamed: a header only, four columns, a bad row, no file. */
	char *dir = tu_mkdtemp(), *cp = tu_path(dir, "c.csv");
	nnp_data_opts so = NNP_DATA_OPTS_INIT;
	so.label = NNP_LABEL_NONE;
	nnp_calib_stream cs_src = { cp, &so, 0, NULL };
	tu_write(cp, "a,b,c\n", 6);
	expect_err(nnp_method_ctx_create_stream(&c, tc->m, &cs_src, &o, &err), &err, NNP_EINPUT,
	           "no data rows");
	tu_write(cp, "1,2,3,4\n", 8);
	expect_err(nnp_method_ctx_create_stream(&c, tc->m, &cs_src, &o, &err), &err, NNP_EINPUT,
	           "4 feature columns (4 fields, no label column) but the model has 3 inputs");
	tu_write(cp, "1,2,3\n4,x,6\n", 12);
	expect_err(nnp_method_ctx_create_stream(&c, tc->m, &cs_src, &o, &err), &err, NNP_EINPUT,
	           "c.csv:2:");
	assert_null(c);
	tu_rmtree(dir);
	expect_err(nnp_method_ctx_create_stream(&c, tc->m, &cs_src, &o, &err), &err, NNP_EINPUT,
	           "c.csv");
	free(cp);
	free(dir);

	/* Options. */
	nnp_method_opts b = o;
	b.lambda_rel = 0;
	expect_err(nnp_method_ctx_create(&c, tc->m, tc->d, &b, &err), &err, NNP_EUSAGE,
	           "ridge lambda");
	b = o;
	b.lambda_rel = INFINITY;
	expect_err(nnp_method_check_opts(&b, &err), &err, NNP_EUSAGE, "ridge lambda");
	b = o;
	b.grid_step = 0.7;
	expect_err(nnp_method_check_opts(&b, &err), &err, NNP_EUSAGE, "grid step 0.7");
	b = o;
	b.grid_step = 0;
	expect_err(nnp_method_check_opts(&b, &err), &err, NNP_EUSAGE, "grid step");
	b = o;
	b.threads = NNP_METHOD_MAX_THREADS + 1;
	expect_err(nnp_method_check_opts(&b, &err), &err, NNP_EUSAGE, "threads");
	b = o;
	b.batch = (size_t)NNP_METHOD_MAX_BATCH + 1;
	expect_err(nnp_method_check_opts(&b, &err), &err, NNP_EUSAGE, "batch");
	b = o;
	b.method = (nnp_method)99;
	expect_err(nnp_method_check_opts(&b, &err), &err, NNP_EUSAGE, "method 99");
	b = o;
	b.compensate = (nnp_compensate)9;
	expect_err(nnp_method_check_opts(&b, &err), &err, NNP_EUSAGE, "compensation 9");

	/* A model without a hidden layer. */
	nnp_model *flat = tu_net(&tc->rng, "3 2:softmax", 1.0);
	expect_err(nnp_method_ctx_create(&c, flat, tc->d, &o, &err), &err, NNP_EUSAGE,
	           "no hidden layer");
	nnp_model_free(flat);

	/* Counts, the rule method, kept sets. */
	assert_int_equal(nnp_method_ctx_create(&c, tc->m, tc->d, &o, &err), 0);
	size_t zero[1] = { 0 }, five[1] = { 5 };
	expect_err(nnp_method_ctx_prune(c, zero, &p, NULL, &err), &err, NNP_EUSAGE,
	           "keeping 0 of 4 neurons");
	expect_err(nnp_method_ctx_prune(c, five, &p, NULL, &err), &err, NNP_EUSAGE,
	           "keeping 5 of 4 neurons");
	assert_null(p);
	size_t kc[1] = { 2 }, ki[2] = { 3, 1 };
	size_t *kidx[1] = { ki };
	int fh[1] = { 0 };
	nnp_keep k = { 1, kc, kidx, fh };
	expect_err(nnp_method_ctx_prune_keep(c, &k, &p, &err), &err, NNP_EUSAGE, "out of order");
	nnp_method_ctx_free(c);
	c = NULL;
	b = o;
	b.method = NNP_METHOD_RULE;
	assert_int_equal(nnp_method_ctx_create(&c, tc->m, tc->d, &b, &err), 0);
	expect_err(nnp_method_ctx_prune(c, kc, &p, NULL, &err), &err, NNP_EUSAGE, "rule");
	expect_err(nnp_method_ctx_allocate(c, &a, &err), &err, NNP_EUSAGE, "rule");
	assert_null(a);
	nnp_method_ctx_free(c);
	c = NULL;

	/* Non-finite calibration rows (relu or tanh may squash them: linear keeps them). */
	tc->d->x[4] = NAN;
	tc->m->layers[0].act = NNP_ACT_LINEAR;
	expect_err(nnp_method_prune(&p, tc->m, tc->d, &o, kc, NULL, &err), &err, NNP_EINPUT,
	           "hidden layer 0: activations are not finite");
	assert_null(p);

	/* Names. */
	nnp_method me;
	nnp_compensate co;
	assert_int_equal(nnp_method_parse("obs", &me), 0);
	assert_int_equal(me, NNP_METHOD_OBS);
	assert_int_equal(nnp_method_parse("OBS", &me), -1);
	assert_int_equal(nnp_compensate_parse("fold", &co), 0);
	assert_int_equal(co, NNP_COMP_FOLD);
	assert_int_equal(nnp_compensate_parse("lsq", &co), -1);
	assert_string_equal(nnp_method_name(NNP_METHOD_SCORE), "score");
	assert_string_equal(nnp_compensate_name(NNP_COMP_LS), "ls");
	assert_null(nnp_method_name((nnp_method)nnp_criteria_count()));

	tu_case_free(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chol_solve),
		cmocka_unit_test(test_ridge_vs_normal_equations),
		cmocka_unit_test(test_refit_end_to_end),
		cmocka_unit_test(test_sparse_refit_normal_equations),
		cmocka_unit_test(test_obs_order_brute_force),
		cmocka_unit_test(test_score_order_by_hand),
		cmocka_unit_test(test_linear_combination_removed),
		cmocka_unit_test(test_sequential_against_reference),
		cmocka_unit_test(test_keep_all_is_identity),
		cmocka_unit_test(test_prune_keep_matches_prune_apply),
		cmocka_unit_test(test_allocation_budget),
		cmocka_unit_test(test_threads_determinism),
		cmocka_unit_test(test_stream_matches_memory),
		cmocka_unit_test(test_bad_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
