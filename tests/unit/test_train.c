/* Tests of the training engine: gradients against double-precision finite
 * differences, the optimizers' steps against their update rules in double,
 * initialisation statistics, convergence, reproducibility, finetuning,
 * input-scale folding and option checks. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/backprop.h"
#include "nnprune/train.h"
#include "testutil.h"

/* ------------------------------------------------ double-precision model -- */

#define REF_MAXW 64

/* Output of one row through the model whose parameters are p (the flat
 * layout of nnp_train_grad: per layer W [out][in] then b [out]). */
static void ref_row(const nnp_model *m, const double *p, const double *x, double *out)
{
	double a[REF_MAXW], z[REF_MAXW];
	size_t n = m->input_size;
	memcpy(a, x, n * sizeof *a);
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		assert_true(L->out <= REF_MAXW && L->in <= REF_MAXW);
		const double *W = p, *b = p + L->in * L->out;
		for (size_t o = 0; o < L->out; o++) {
			double s = b[o];
			for (size_t i = 0; i < L->in; i++)
				s += W[o * L->in + i] * a[i];
			z[o] = s;
		}
		tu_ref_layer_act(L, z, a);
		p += L->in * L->out + L->out;
		n = L->out;
	}
	memcpy(out, a, n * sizeof *out);
}

/* Mean loss: cross-entropy for softmax outputs, else MSE averaged over outputs. */
static double ref_loss(const nnp_model *m, const double *p, const float *x, const int32_t *y,
                       size_t rows)
{
	size_t K = nnp_model_outputs(m), F = m->input_size;
	int ce = m->layers[m->n_layers - 1].act == NNP_ACT_SOFTMAX;
	double xin[REF_MAXW], out[REF_MAXW], total = 0;
	for (size_t r = 0; r < rows; r++) {
		for (size_t j = 0; j < F; j++)
			xin[j] = x[r * F + j];
		ref_row(m, p, xin, out);
		if (ce) {
			total += -log(out[y[r]]);
		} else {
			double s = 0;
			for (size_t k = 0; k < K; k++) {
				double d = out[k] - (k == (size_t)y[r] ? 1.0 : 0.0);
				s += d * d;
			}
			total += s / (double)K;
		}
	}
	return total / (double)rows;
}

static double *flat_params(const nnp_model *m)
{
	double *p = malloc(nnp_model_params(m) * sizeof *p);
	assert_non_null(p);
	size_t k = 0;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		for (size_t i = 0; i < L->in * L->out; i++)
			p[k++] = L->w[i];
		for (size_t i = 0; i < L->out; i++)
			p[k++] = L->b[i];
	}
	return p;
}

/* The double gradient of the mean loss over the n rows x/y at p, by central
 * differences (p is restored). */
static void ref_grad(const nnp_model *m, double *p, const float *x, const int32_t *y,
                     size_t n, double *g)
{
	size_t P = nnp_model_params(m);
	double h = 1e-6;
	for (size_t i = 0; i < P; i++) {
		double keep = p[i];
		p[i] = keep + h;
		double lp = ref_loss(m, p, x, y, n);
		p[i] = keep - h;
		double lm = ref_loss(m, p, x, y, n);
		p[i] = keep;
		g[i] = (lp - lm) / (2 * h);
	}
}

/* Checks nnp_train_grad against central differences of the double model. */
static void check_grad(size_t n_layers, const size_t *sizes, const nnp_act *acts, uint64_t seed)
{
	tu_rng r = { seed };
	nnp_model *m = tu_random_model(&r, n_layers, sizes, acts, 0.8);
	size_t rows = 6, F = sizes[0], K = sizes[n_layers], P = nnp_model_params(m);
	float x[6 * 8];
	int32_t y[6];
	assert_true(F <= 8);
	for (size_t i = 0; i < rows * F; i++)
		x[i] = (float)tu_uniform(&r, -1.5, 1.5);
	for (size_t i = 0; i < rows; i++)
		y[i] = (int32_t)(tu_next(&r) % K);
	float *g = malloc(P * sizeof *g);
	assert_non_null(g);
	double loss = -1;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_train_grad(m, x, y, rows, g, &loss, &err), NNP_OK);
	double *p = flat_params(m);
	double ref = ref_loss(m, p, x, y, rows);
	assert_true(fabs(loss - ref) <= 1e-5 * fmax(1.0, fabs(ref)));
	double gmax = 0;
	double *fd = malloc(P * sizeof *fd);
	assert_non_null(fd);
	ref_grad(m, p, x, y, rows, fd);
	for (size_t i = 0; i < P; i++)
		gmax = fmax(gmax, fabs(fd[i]));
	/* A gradient of all zeros would pass anything: make sure it is not. */
	assert_true(gmax > 1e-3);
	for (size_t i = 0; i < P; i++) {
		double tol = 2e-3 * fabs(fd[i]) + 2e-5 * gmax;
		if (fabs((double)g[i] - fd[i]) > tol)
			fail_msg("param %zu: gradient %.9g, finite differences %.9g", i, (double)g[i],
			         fd[i]);
	}
	free(fd);
	free(p);
	free(g);
	nnp_model_free(m);
}

static void test_grad_softmax_ce(void **state)
{
	(void)state;
	size_t s[] = { 4, 6, 5, 3 };
	nnp_act a[] = { NNP_ACT_RELU, NNP_ACT_TANH, NNP_ACT_SOFTMAX };
	check_grad(3, s, a, 11);
}

static void test_grad_mse_linear(void **state)
{
	(void)state;
	size_t s[] = { 3, 5, 4, 5, 3 };
	nnp_act a[] = { NNP_ACT_LEAKY_RELU, NNP_ACT_SIGMOID, NNP_ACT_LINEAR, NNP_ACT_LINEAR };
	check_grad(4, s, a, 12);
}

static void test_grad_mse_sigmoid(void **state)
{
	(void)state;
	size_t s[] = { 5, 7, 4 };
	nnp_act a[] = { NNP_ACT_TANH, NNP_ACT_SIGMOID };
	check_grad(2, s, a, 13);
	size_t s2[] = { 3, 8, 6, 2 };
	nnp_act a2[] = { NNP_ACT_RELU, NNP_ACT_LEAKY_RELU, NNP_ACT_SIGMOID };
	check_grad(3, s2, a2, 14);
}

static void test_grad_single_layer(void **state)
{
	(void)state;
	size_t s[] = { 6, 4 };
	nnp_act a[] = { NNP_ACT_SOFTMAX };
	check_grad(1, s, a, 15);
	nnp_act b[] = { NNP_ACT_TANH };
	check_grad(1, s, b, 16);
}

/* What a first-order (Taylor) criterion needs, written on the engine: the
 * gradient of each row's loss w.r.t. every hidden neuron's activation. */
typedef struct dact_rec {
	float *da[4];    /* [hidden layer][rows][width] */
	float *a[4];
} dact_rec;

static void keep_dact(void *ctx, size_t layer, const float *a, const float *da, size_t rows,
                      size_t width)
{
	dact_rec *r = ctx;
	memcpy(r->da[layer], da, rows * width * sizeof *da);
	memcpy(r->a[layer], a, rows * width * sizeof *a);
}

/* dL/da_l[j] of one row = sum_k dL/dz_{l+1}[k] W_{l+1}[k][j], and dL/dz_{l+1}[k]
 * is the derivative by the next layer's bias k: central differences of the
 * double model, row by row. */
static void test_backprop_activation_grads(void **state)
{
	(void)state;
	tu_case *c = tu_case_net(77, "5 7:tanh 6:relu 4:softmax", 0.8);
	const size_t F = c->m->input_size, K = nnp_model_outputs(c->m);
	enum { ROWS = 4 };
	nnp_backprop b;
	assert_int_equal(nnp_backprop_init(&b, c->m, ROWS, 0), NNP_OK);
	assert_null(b.grad);
	for (size_t i = 0; i < ROWS * F; i++)
		b.x[i] = (float)tu_uniform(&c->rng, -1.5, 1.5);
	for (size_t i = 0; i < ROWS; i++)
		b.y[i] = (int32_t)(tu_next(&c->rng) % K);
	dact_rec rec;
	for (size_t l = 0; l < 2; l++) {
		rec.da[l] = malloc(ROWS * c->m->layers[l].out * sizeof(float));
		rec.a[l] = malloc(ROWS * c->m->layers[l].out * sizeof(float));
		assert_true(rec.da[l] && rec.a[l]);
	}
	double loss;
	uint64_t hits;
	nnp_backprop_forward(&b, c->m, ROWS);
	/* inv_n = 1: each row's own loss, not the batch mean. */
	nnp_backprop_loss(&b, c->m, ROWS, 1.0f, &loss, &hits);
	nnp_backprop_backward(&b, c->m, ROWS, NULL, keep_dact, &rec);
	double *p = flat_params(c->m), h = 1e-6, gmax = 0;
	size_t off = 0;
	for (size_t l = 0; l < 2; l++) {
		const nnp_layer *N = &c->m->layers[l + 1];
		size_t bias = off + c->m->layers[l].in * c->m->layers[l].out + c->m->layers[l].out +
		              N->in * N->out;
		for (size_t row = 0; row < ROWS; row++) {
			double dz[8];
			for (size_t k = 0; k < N->out; k++) {
				double keep = p[bias + k];
				p[bias + k] = keep + h;
				double lp = ref_loss(c->m, p, b.x + row * F, b.y + row, 1);
				p[bias + k] = keep - h;
				double lm = ref_loss(c->m, p, b.x + row * F, b.y + row, 1);
				p[bias + k] = keep;
				dz[k] = (lp - lm) / (2 * h);
			}
			for (size_t j = 0; j < N->in; j++) {
				double want = 0;
				for (size_t k = 0; k < N->out; k++)
					want += dz[k] * N->w[k * N->in + j];
				double got = rec.da[l][row * N->in + j];
				gmax = fmax(gmax, fabs(want));
				if (fabs(got - want) > 2e-3 * fabs(want) + 1e-5)
					fail_msg("layer %zu row %zu neuron %zu: dL/da %.9g, finite "
					         "differences %.9g", l, row, j, got, want);
				/* the activations handed over are the forward's */
				assert_true(rec.a[l][row * N->in + j] == b.a[l][row * N->in + j]);
			}
		}
		off += c->m->layers[l].in * c->m->layers[l].out + c->m->layers[l].out;
	}
	assert_true(gmax > 1e-3);
	for (size_t l = 0; l < 2; l++) {
		free(rec.da[l]);
		free(rec.a[l]);
	}
	free(p);
	nnp_backprop_free(&b);
	tu_case_free(c);
}

static void test_grad_errors(void **state)
{
	(void)state;
	tu_case *c = tu_case_net(3, "2 3:softmax", 1.0);
	float x[4] = { 0 }, g[9];
	int32_t y[2] = { 0, 3 };
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_train_grad(c->m, x, y, 0, g, NULL, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "rows must be between 1"));
	assert_int_equal(nnp_train_grad(c->m, x, y, 2, g, NULL, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, "row 2: label 3 is out of range"));
	tu_case_free(c);
}

/* ---------------------------------------------------------------- init -- */

static void moments(const float *v, size_t n, double *mean, double *sd)
{
	double s = 0, q = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	*mean = s / (double)n;
	for (size_t i = 0; i < n; i++)
		q += (v[i] - *mean) * (v[i] - *mean);
	*sd = sqrt(q / (double)n);
}

static void test_init_stats(void **state)
{
	(void)state;
	const char *net = "512 512:relu 256:tanh 10:sigmoid";
	tu_case *c = tu_case_net(1, net, 1.0);
	nnp_model_init_random(c->m, 99);
	double mean, sd;
	/* He on the relu layer: std sqrt(2/in). */
	moments(c->m->layers[0].w, 512 * 512, &mean, &sd);
	double he = sqrt(2.0 / 512);
	assert_true(fabs(sd - he) < 0.03 * he);
	assert_true(fabs(mean) < 0.01 * he);
	/* Normal, not uniform: about 68.3% within one standard deviation. */
	size_t in1 = 0;
	for (size_t i = 0; i < 512 * 512; i++)
		in1 += fabs(c->m->layers[0].w[i]) < he;
	double frac = (double)in1 / (512.0 * 512.0);
	assert_true(fabs(frac - 0.6827) < 0.01);
	/* Glorot on tanh and sigmoid layers: std sqrt(2/(in+out)). */
	moments(c->m->layers[1].w, 512 * 256, &mean, &sd);
	double gl = sqrt(2.0 / (512 + 256));
	assert_true(fabs(sd - gl) < 0.03 * gl);
	moments(c->m->layers[2].w, 256 * 10, &mean, &sd);
	gl = sqrt(2.0 / (256 + 10));
	assert_true(fabs(sd - gl) < 0.1 * gl);
	for (size_t l = 0; l < 3; l++)
		for (size_t i = 0; i < c->m->layers[l].out; i++)
			assert_true(c->m->layers[l].b[i] == 0.0f);
	/* Same seed, same weights; another seed, other weights. */
	nnp_model *m2 = tu_net(&c->rng, net, 1.0);
	nnp_model_init_random(m2, 99);
	for (size_t l = 0; l < 3; l++)
		assert_memory_equal(c->m->layers[l].w, m2->layers[l].w,
		                    c->m->layers[l].in * c->m->layers[l].out * sizeof(float));
	nnp_model_init_random(m2, 100);
	assert_memory_not_equal(c->m->layers[0].w, m2->layers[0].w, 512 * sizeof(float));
	tu_case_free(c);
	nnp_model_free(m2);
}

/* ---------------------------------------------------------------- data -- */


static double normal(tu_rng *r)
{
	double u = tu_uniform(r, 1e-12, 1.0), v = tu_uniform(r, 0.0, 1.0);
	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* Three gaussian blobs in the plane (std 0.5, centres 3 apart), classes interleaved. */
static nnp_dataset *blobs(size_t rows, uint64_t seed, double offset, double scale)
{
	static const double cx[3] = { 0.0, -2.6, 2.6 }, cy[3] = { 3.0, -1.5, -1.5 };
	tu_rng r = { seed };
	nnp_dataset *d = tu_dataset(rows, 2);
	for (size_t i = 0; i < rows; i++) {
		int c = (int)(i % 3);
		d->y[i] = c;
		d->x[2 * i] = (float)(offset + scale * (cx[c] + 0.5 * normal(&r)));
		d->x[2 * i + 1] = (float)(offset + scale * (cy[c] + 0.5 * normal(&r)));
	}
	return d;
}

/* Accuracy of m on d, with the double-precision reference forward pass. */
static double ref_accuracy(const nnp_model *m, const nnp_dataset *d)
{
	double *p = flat_params(m), xin[REF_MAXW], out[REF_MAXW];
	size_t K = nnp_model_outputs(m), hits = 0;
	for (size_t r = 0; r < d->rows; r++) {
		for (size_t j = 0; j < d->features; j++)
			xin[j] = d->x[r * d->features + j];
		ref_row(m, p, xin, out);
		size_t best = 0;
		for (size_t k = 1; k < K; k++)
			if (out[k] > out[best])
				best = k;
		hits += best == (size_t)d->y[r];
	}
	free(p);
	return (double)hits / (double)d->rows;
}

/* A network of spec (tu_net) with the library's initialisation from seed. */
static nnp_model *fresh(const char *spec, uint64_t seed)
{
	nnp_model *m = tu_net(NULL, spec, 0);
	nnp_model_init_random(m, seed);
	return m;
}

/* nnp_train that must succeed. */
static void train_ok(nnp_model *m, const nnp_dataset *d, const nnp_dataset *v,
                     const nnp_train_opts *o, nnp_train_report *rep)
{
	nnp_err err;
	nnp_err_clear(&err);
	if (nnp_train(m, d, v, o, rep, &err))
		fail_msg("nnp_train: %s", err.msg);
}

static double full_loss(const nnp_model *m, const nnp_dataset *d)
{
	float *g = malloc(nnp_model_params(m) * sizeof *g);
	assert_non_null(g);
	double loss = -1;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_train_grad(m, d->x, d->y, d->rows, g, &loss, &err), NNP_OK);
	free(g);
	return loss;
}

/* ---------------------------------------------------------- convergence -- */

typedef struct cb_log {
	size_t calls, last_epoch, stop_at;
	int val_ok;
	uint64_t last_done, last_total;
	size_t progress_calls;
} cb_log;

static int on_epoch(const nnp_epoch_info *e, void *ctx)
{
	cb_log *lg = ctx;
	lg->calls++;
	assert_int_equal(e->epoch, lg->last_epoch + 1);
	lg->last_epoch = e->epoch;
	lg->val_ok = e->val != NULL && e->val->labelled > 0;
	assert_true(e->train_accuracy >= 0.0 && e->train_accuracy <= 1.0);
	assert_true(e->seconds >= 0.0);
	return lg->stop_at && e->epoch == lg->stop_at;
}

static void on_progress(size_t epoch, uint64_t done, uint64_t total, void *ctx)
{
	cb_log *lg = ctx;
	(void)epoch;
	assert_true(done <= total);
	lg->last_done = done;
	lg->last_total = total;
	lg->progress_calls++;
}

static void test_blobs_adam(void **state)
{
	(void)state;
	tu_case *c = tu_case_of(fresh("2 16:relu 3:softmax", 1), blobs(600, 5, 0.0, 1.0),
	                        blobs(300, 6, 0.0, 1.0));
	nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
	cb_log lg = { 0 };
	o.lr = 0.01f;
	o.epochs = 8;
	o.batch = 32;
	o.seed = 3;
	o.on_epoch = on_epoch;
	o.on_progress = on_progress;
	o.ctx = &lg;
	nnp_train_report rep;
	train_ok(c->m, c->d, c->held, &o, &rep);
	assert_int_equal(lg.calls, 8);
	assert_true(lg.val_ok);
	assert_int_equal(lg.last_total, 600);
	assert_int_equal(lg.last_done, 600);
	assert_int_equal(lg.progress_calls, 8 * 19);  /* ceil(600/32) steps an epoch */
	assert_int_equal(rep.epochs_run, 8);
	assert_int_equal(rep.steps, 8 * 19);
	assert_false(rep.stopped_early);
	assert_true(rep.has_val);
	double acc = ref_accuracy(c->m, c->held);
	assert_true(acc >= 0.95);
	/* The report's validation figures are the model's. */
	assert_int_equal(rep.val.labelled, 300);
	assert_true(fabs(nnp_metrics_accuracy(&rep.val) - acc) < 1e-9);
	assert_true(rep.train_accuracy >= 0.9);
	tu_case_free(c);
}

/* XOR of the quadrants, tanh then sigmoid with MSE, SGD with momentum. */
static void test_xor_sgd_mse(void **state)
{
	(void)state;
	tu_rng r = { 8 };
	nnp_dataset *d = tu_dataset(800, 2);
	for (size_t i = 0; i < d->rows; i++) {
		double u, v;
		do {
			u = tu_uniform(&r, -1, 1);
			v = tu_uniform(&r, -1, 1);
		} while (fabs(u) < 0.1 || fabs(v) < 0.1);
		d->x[2 * i] = (float)u;
		d->x[2 * i + 1] = (float)v;
		d->y[i] = (u > 0) != (v > 0);
	}
	nnp_model *m = fresh("2 16:tanh 2:sigmoid", 4);
	double before = full_loss(m, d);
	nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
	o.optimizer = NNP_OPT_SGD;
	o.lr = 0.5f;
	o.epochs = 30;
	o.batch = 16;
	nnp_train_report rep;
	train_ok(m, d, NULL, &o, &rep);
	assert_false(rep.has_val);
	assert_true(full_loss(m, d) < before / 4);
	assert_true(ref_accuracy(m, d) >= 0.95);
	nnp_model_free(m);
	nnp_dataset_free(d);
}

static void test_stop_early(void **state)
{
	(void)state;
	tu_case *c = tu_case_of(fresh("2 4:tanh 3:softmax", 1), blobs(90, 9, 0.0, 1.0), NULL);
	nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
	cb_log lg = { 0 };
	lg.stop_at = 2;
	o.epochs = 5;
	o.batch = 1000;  /* more than the rows: one step an epoch */
	o.on_epoch = on_epoch;
	o.ctx = &lg;
	nnp_train_report rep;
	train_ok(c->m, c->d, NULL, &o, &rep);
	assert_int_equal(lg.calls, 2);
	assert_false(lg.val_ok);
	assert_int_equal(rep.epochs_run, 2);
	assert_int_equal(rep.steps, 2);
	assert_true(rep.stopped_early);
	tu_case_free(c);
}

/* ------------------------------------------------------ optimizer steps -- */

/* One optimizer configuration run through nnp_train and, independently, in
 * double precision: the gradient of each batch by central differences of the
 * double model (ref_loss), then PyTorch's update rules written out here. */
typedef struct opt_case {
	nnp_optimizer opt;
	float lr, momentum, beta1, beta2, eps, wd;
	unsigned threads;
	size_t batch, batches, epochs;  /* rows = batch * batches, in file order */
} opt_case;

/* 1 where flat parameter i is a weight (decayed), 0 where it is a bias. */
static int is_weight(const nnp_model *m, size_t i)
{
	for (size_t l = 0; l < m->n_layers; l++) {
		size_t nw = m->layers[l].in * m->layers[l].out, n = nw + m->layers[l].out;
		if (i < n)
			return i < nw;
		i -= n;
	}
	return 0;
}

static void check_opt_steps(const opt_case *c)
{
	/* 3-5-3, tanh then softmax: every segment has a 4-wide SIMD part and a
	 * scalar tail (15 weights, 5 and 3 biases), and tanh has no flat
	 * regions, so no gradient is exactly 0. */
	tu_rng r = { 77 };
	nnp_model *m = tu_net(&r, "3 5:tanh 3:softmax", 0.8);
	size_t rows = c->batch * c->batches, P = nnp_model_params(m);
	nnp_dataset *d = tu_dataset(rows, 3);
	for (size_t i = 0; i < rows * 3; i++)
		d->x[i] = (float)tu_uniform(&r, -1.5, 1.5);
	for (size_t i = 0; i < rows; i++)
		d->y[i] = (int32_t)(tu_next(&r) % 3);

	double *p = flat_params(m), *p0 = flat_params(m);
	double *g = calloc(P, sizeof *g), *m1 = calloc(P, sizeof *m1), *m2 = calloc(P, sizeof *m2);
	assert_non_null(g);
	assert_non_null(m1);
	assert_non_null(m2);
	size_t t = 0;
	for (size_t e = 0; e < c->epochs; e++) {
		for (size_t b = 0; b < c->batches; b++) {
			t++;
			ref_grad(m, p, d->x + b * c->batch * 3, d->y + b * c->batch, c->batch, g);
			for (size_t i = 0; i < P; i++) {
				/* A gradient near 0 would leave Adam's direction to rounding. */
				if (c->wd == 0.0f && fabs(g[i]) < 1e-4)
					fail_msg("fixture: gradient %zu is %g, too small to test with", i, g[i]);
				double gi = g[i] + (is_weight(m, i) ? (double)c->wd * p[i] : 0.0);
				if (c->opt == NNP_OPT_ADAM) {
					double b1 = c->beta1, b2 = c->beta2;
					m1[i] = b1 * m1[i] + (1 - b1) * gi;
					m2[i] = b2 * m2[i] + (1 - b2) * gi * gi;
					double mh = m1[i] / (1 - pow(b1, (double)t));
					double vh = m2[i] / (1 - pow(b2, (double)t));
					p[i] -= (double)c->lr * mh / (sqrt(vh) + (double)c->eps);
				} else {
					m1[i] = (double)c->momentum * m1[i] + gi;
					p[i] -= (double)c->lr * m1[i];
				}
			}
		}
	}

	nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
	o.optimizer = c->opt;
	o.lr = c->lr;
	o.momentum = c->momentum;
	o.beta1 = c->beta1;
	o.beta2 = c->beta2;
	o.eps = c->eps;
	o.weight_decay = c->wd;
	o.threads = c->threads;
	o.batch = c->batch;
	o.epochs = c->epochs;
	o.shuffle = 0;
	nnp_train_report rep;
	train_ok(m, d, NULL, &o, &rep);
	assert_int_equal(rep.steps, t);
	assert_int_equal(rep.threads, c->threads);
	double *q = flat_params(m);
	/* Float against double: a few ulps of each parameter and of each update,
	 * far below what any slip in the rule would move. */
	double moved = 0;
	for (size_t i = 0; i < P; i++)
		moved = fmax(moved, fabs(p[i] - p0[i]));
	assert_true(moved > 1e-3);
	double tol = 1e-5 * moved + 5e-7;
	for (size_t i = 0; i < P; i++) {
		if (fabs(q[i] - p[i]) > tol)
			fail_msg("param %zu (%s): %.9g after %zu steps, expected %.9g (from %.9g)", i,
			         is_weight(m, i) ? "weight" : "bias", q[i], t, p[i], p0[i]);
		/* Every parameter moved: none is compared unchanged with itself. */
		if (fabs(p[i] - p0[i]) < 5 * tol)
			fail_msg("fixture: param %zu moved only %g", i, fabs(p[i] - p0[i]));
	}
	free(q);
	free(p);
	free(p0);
	free(g);
	free(m1);
	free(m2);
	nnp_model_free(m);
	nnp_dataset_free(d);
}

/* The optimizer cases of one test, run by test_opt_steps. */
typedef struct opt_cases {
	const opt_case *c;
	size_t n;
} opt_cases;

static void test_opt_steps(void **state)
{
	const opt_cases *t = *state;
	for (size_t i = 0; i < t->n; i++)
		check_opt_steps(&t->c[i]);
}

/* Adam as `train` runs it (PyTorch's defaults, no weight decay): two steps an
 * epoch over two epochs, so the bias corrections 1 - beta^t run over t = 1..4;
 * then other betas and an eps large enough to matter (gradients are ~0.01..0.3). */
static const opt_case adam_cases[] = {
	{ NNP_OPT_ADAM, 0.01f, 0.0f, 0.9f, 0.999f, 1e-8f, 0.0f, 1, 4, 2, 2 },
	{ NNP_OPT_ADAM, 0.02f, 0.0f, 0.8f, 0.99f, 1e-2f, 0.0f, 1, 4, 2, 1 },
};

/* --weight-decay with Adam: wd * w added to the weights' gradients (L2, not
 * decoupled), never to the biases; large enough to flip some directions. */
static const opt_case adam_decay_cases[] = {
	{ NNP_OPT_ADAM, 0.01f, 0.0f, 0.9f, 0.999f, 1e-8f, 0.5f, 1, 4, 2, 2 },
};

/* --optimizer sgd: momentum 0.9 (default), 0.5 and none, with and without decay. */
static const opt_case sgd_cases[] = {
	{ NNP_OPT_SGD, 0.1f, 0.9f, 0.9f, 0.999f, 1e-8f, 0.0f, 1, 4, 2, 2 },
	{ NNP_OPT_SGD, 0.1f, 0.0f, 0.9f, 0.999f, 1e-8f, 0.0f, 1, 4, 3, 1 },
	{ NNP_OPT_SGD, 0.05f, 0.5f, 0.9f, 0.999f, 1e-8f, 0.3f, 1, 4, 3, 1 },
};

/* Two threads, each computing half of a 16-row batch: the parts' gradients
 * are summed before the step, for both optimizers. */
static const opt_case threads_cases[] = {
	{ NNP_OPT_ADAM, 0.01f, 0.0f, 0.9f, 0.999f, 1e-8f, 0.1f, 2, 16, 2, 1 },
	{ NNP_OPT_SGD, 0.1f, 0.9f, 0.9f, 0.999f, 1e-8f, 0.1f, 2, 16, 2, 1 },
};

/* The tests' states (cmocka's initial state is not const). */
#define OPT_CASES(t) { t, sizeof t / sizeof t[0] }
static opt_cases step_adam = OPT_CASES(adam_cases), step_adam_decay = OPT_CASES(adam_decay_cases),
                 step_sgd = OPT_CASES(sgd_cases), step_threads = OPT_CASES(threads_cases);
/* A cmocka test of test_opt_steps on one list, named after it. */
#define OPT_TEST(name) { "test_" #name, test_opt_steps, NULL, NULL, &name }

/* ------------------------------------------------------- reproducibility -- */

/* Rows labelled by a random linear teacher: learnable, not trivial. */
static nnp_dataset *teacher(size_t rows, size_t F, size_t K, uint64_t seed)
{
	tu_rng r = { seed };
	nnp_dataset *d = tu_dataset(rows, F);
	double *w = malloc(F * K * sizeof *w);
	assert_non_null(w);
	for (size_t i = 0; i < F * K; i++)
		w[i] = tu_uniform(&r, -1, 1);
	for (size_t i = 0; i < rows; i++) {
		size_t best = 0;
		double bv = -1e300;
		for (size_t j = 0; j < F; j++)
			d->x[i * F + j] = (float)tu_uniform(&r, -1, 1);
		for (size_t k = 0; k < K; k++) {
			double v = 0;
			for (size_t j = 0; j < F; j++)
				v += w[k * F + j] * d->x[i * F + j];
			if (v > bv) {
				bv = v;
				best = k;
			}
		}
		d->y[i] = (int32_t)best;
	}
	free(w);
	return d;
}

static nnp_model *train_copy(const nnp_dataset *d, const nnp_dataset *v, nnp_train_opts *o,
                             nnp_train_report *rep)
{
	nnp_model *m = fresh("20 48:relu 24:leaky_relu 4:softmax", 21);
	train_ok(m, d, v, o, rep);
	return m;
}

static int same_weights(const nnp_model *a, const nnp_model *b)
{
	for (size_t l = 0; l < a->n_layers; l++) {
		const nnp_layer *x = &a->layers[l], *y = &b->layers[l];
		if (memcmp(x->w, y->w, x->in * x->out * sizeof(float)) ||
		    memcmp(x->b, y->b, x->out * sizeof(float)))
			return 0;
	}
	return 1;
}

static void test_deterministic(void **state)
{
	(void)state;
	/* 1003 rows: the last batch of each epoch is short (1003 = 15*64 + 43). */
	tu_case *c = tu_case_of(NULL, teacher(1003, 20, 4, 31), teacher(200, 20, 4, 32));
	nnp_model *ref[3] = { NULL, NULL, NULL };
	for (unsigned t = 1; t <= 2; t++) {
		for (int opt = 0; opt < 2; opt++) {
			nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
			nnp_train_report r1, r2;
			o.threads = t;
			o.epochs = 3;
			o.batch = 64;
			o.seed = 77;
			o.input_scale = 0.5f;
			o.lr = 0.01f;
			if (opt) {
				o.optimizer = NNP_OPT_SGD;
				o.lr = 0.1f;
				o.weight_decay = 1e-3f;
			}
			nnp_model *a = train_copy(c->d, c->held, &o, &r1);
			nnp_model *b = train_copy(c->d, c->held, &o, &r2);
			assert_int_equal(r1.threads, t);
			assert_true(same_weights(a, b));
			assert_true(r1.train_loss == r2.train_loss);
			assert_true(r1.val.loss_sum == r2.val.loss_sum);
			assert_true(r1.train_accuracy > 0.7);
			nnp_model_free(b);
			if (opt == 0) {
				/* Another seed shuffles differently. */
				o.seed = 78;
				b = train_copy(c->d, c->held, &o, &r2);
				assert_false(same_weights(a, b));
				nnp_model_free(b);
			}
			if (opt == 0 && t == 1) {
				ref[0] = a;
			} else if (opt == 0 && t == 2) {
				/* Two threads sum in another order: close, not equal. */
				ref[1] = a;
				assert_false(same_weights(ref[0], a));
				assert_true(fabs(full_loss(ref[0], c->d) - full_loss(a, c->d)) <
				            0.05);
			} else {
				nnp_model_free(a);
			}
		}
	}
	nnp_model_free(ref[0]);
	nnp_model_free(ref[1]);
	tu_case_free(c);
}

/* Three threads, and a last batch of one row: two of its three parts are empty. */
static void test_uneven_parts(void **state)
{
	(void)state;
	tu_case *tc = tu_case_of(NULL, teacher(985, 20, 4, 33), teacher(7, 20, 4, 34));
	nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
	nnp_train_report r1, r2;
	o.threads = 3;
	o.batch = 24;  /* 985 = 41 * 24 + 1 */
	o.epochs = 2;
	o.lr = 0.01f;
	nnp_model *a = train_copy(tc->d, tc->held, &o, &r1);
	nnp_model *b = train_copy(tc->d, tc->held, &o, &r2);
	assert_int_equal(r1.threads, 3);
	assert_true(same_weights(a, b));
	assert_int_equal(r1.steps, 2 * 42);
	assert_int_equal(r1.val.labelled, 7);
	assert_true(r1.train_accuracy > 0.7);
	/* More threads than 8-row shares of a batch: only as many as shares. */
	o.threads = 8;
	nnp_model *c = train_copy(tc->d, tc->held, &o, &r2);
	assert_int_equal(r2.threads, 3);
	assert_true(same_weights(a, c));
	nnp_model_free(a);
	nnp_model_free(b);
	nnp_model_free(c);
	tu_case_free(tc);
}

/* ---------------------------------------------------- scale and finetune -- */

/* The defaults but epochs, batch and input scale: what the two input-scale
 * tests train with. */
static nnp_train_opts scaled_opts(size_t epochs, size_t batch, float scale)
{
	nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
	o.epochs = epochs;
	o.batch = batch;
	o.input_scale = scale;
	return o;
}

/* Inputs like pixels: 0..255. */
static nnp_dataset *pixel_blobs(size_t rows, uint64_t seed)
{
	return blobs(rows, seed, 128.0, 30.0);
}

static void test_scale_folding(void **state)
{
	(void)state;
	const float s = 1.0f / 255.0f;
	nnp_dataset *raw = pixel_blobs(300, 41), *scaled = pixel_blobs(300, 41);
	for (size_t i = 0; i < raw->rows * raw->features; i++)
		scaled->x[i] = raw->x[i] * s;
	nnp_model *a = fresh("2 12:tanh 3:softmax", 5), *b = fresh("2 12:tanh 3:softmax", 5);
	nnp_train_opts o = scaled_opts(2, 16, s);
	nnp_err err;
	nnp_err_clear(&err);
	train_ok(a, raw, NULL, &o, NULL);
	o.input_scale = 1.0f;
	train_ok(b, scaled, NULL, &o, NULL);
	/* Same trajectory: only W0 differs, by exactly the fold. */
	for (size_t i = 0; i < 24; i++)
		assert_true(a->layers[0].w[i] == b->layers[0].w[i] * s);
	assert_memory_equal(a->layers[1].w, b->layers[1].w, 36 * sizeof(float));
	assert_memory_equal(a->layers[0].b, b->layers[0].b, 12 * sizeof(float));
	/* And the saved model on raw inputs = the training network on scaled ones. */
	nnp_forward *fa = NULL, *fb = NULL;
	assert_int_equal(nnp_forward_create(&fa, a, 300, &err), NNP_OK);
	assert_int_equal(nnp_forward_create(&fb, b, 300, &err), NNP_OK);
	const float *ya = nnp_forward_run(fa, raw->x, 300), *yb = nnp_forward_run(fb, scaled->x, 300);
	for (size_t i = 0; i < 900; i++)
		assert_true(fabs((double)ya[i] - (double)yb[i]) <= 1e-5);
	nnp_forward_free(fa);
	nnp_forward_free(fb);
	nnp_model_free(a);
	nnp_model_free(b);
	nnp_dataset_free(raw);
	nnp_dataset_free(scaled);
}

static void test_finetune(void **state)
{
	(void)state;
	const float s = 1.0f / 255.0f;
	tu_case *tc = tu_case_of(fresh("2 10:relu 8:sigmoid 3:softmax", 6), pixel_blobs(600, 51),
	                         NULL);
	nnp_train_opts o = scaled_opts(1, 32, s);
	nnp_err err;
	nnp_err_clear(&err);
	train_ok(tc->m, tc->d, NULL, &o, NULL);
	double l0 = full_loss(tc->m, tc->d);  /* m takes raw inputs now */

	/* A tiny learning rate: the unfolded, refolded model computes the same
	 * function (had W0 not been unfolded, inputs would be scaled twice). */
	nnp_model *c = NULL;
	assert_int_equal(nnp_model_clone(&c, tc->m, &err), NNP_OK);
	o.model_takes_raw = 1;
	o.optimizer = NNP_OPT_SGD;
	o.lr = 1e-12f;
	train_ok(c, tc->d, NULL, &o, NULL);
	assert_true(fabs(full_loss(c, tc->d) - l0) < 1e-5 * fmax(1.0, l0));
	nnp_model_free(c);

	/* A real finetune: same shape, lower loss. */
	o.optimizer = NNP_OPT_ADAM;
	o.lr = 0.01f;
	o.epochs = 3;
	train_ok(tc->m, tc->d, NULL, &o, NULL);
	assert_int_equal(tc->m->n_layers, 3);
	assert_int_equal(tc->m->input_size, 2);
	const size_t sz[] = { 10, 8, 3 };
	const nnp_act ac[] = { NNP_ACT_RELU, NNP_ACT_SIGMOID, NNP_ACT_SOFTMAX };
	for (size_t l = 0; l < 3; l++) {
		assert_int_equal(tc->m->layers[l].out, sz[l]);
		assert_int_equal(tc->m->layers[l].act, ac[l]);
	}
	double l1 = full_loss(tc->m, tc->d);
	assert_true(l1 < 0.8 * l0);
	/* And a plain finetune (scale 1) on the model as it is. */
	o.input_scale = 1.0f;
	o.model_takes_raw = 1;
	o.lr = 1e-4f;
	o.epochs = 2;
	train_ok(tc->m, tc->d, NULL, &o, NULL);
	assert_true(full_loss(tc->m, tc->d) < l1);
	tu_case_free(tc);
}

/* --------------------------------------------------------------- errors -- */

static void expect(nnp_model *m, const nnp_dataset *d, const nnp_dataset *v,
                   const nnp_train_opts *o, int status, const char *msg)
{
	nnp_err err;
	nnp_err_clear(&err);
	int rc = nnp_train(m, d, v, o, NULL, &err);
	if (rc != status || !strstr(err.msg, msg))
		fail_msg("expected %d \"%s\", got %d \"%s\"", status, msg, rc, err.msg);
}

static void test_bad_options(void **state)
{
	(void)state;
	tu_case *tc = tu_case_of(fresh("2 4:relu 3:softmax", 1), blobs(30, 1, 0.0, 1.0), NULL);
	nnp_train_opts o;
	const nnp_train_opts def = NNP_TRAIN_OPTS_INIT;

	/* One option out of its range at a time, the rest the defaults: the field
	 * at off (a float, a size_t or an unsigned) set to v, under optimizer opt,
	 * and what the refusal says. */
	enum { F32, SIZE, UINT };
#define AT(field) offsetof(nnp_train_opts, field)
	static const struct {
		nnp_optimizer opt;
		size_t off;
		int type;
		double v;
		const char *want;
	} bad[] = {
		{ NNP_OPT_ADAM, AT(epochs), SIZE, 0, "--epochs must be between 1 and" },
		{ NNP_OPT_ADAM, AT(batch), SIZE, 0, "--batch must be between 1 and" },
		{ NNP_OPT_ADAM, AT(lr), F32, 0, "--lr must be a finite number > 0 (got 0)" },
		{ NNP_OPT_ADAM, AT(lr), F32, -1, "(got -1)" },
		{ NNP_OPT_ADAM, AT(lr), F32, NAN, "--lr must be" },
		{ NNP_OPT_ADAM, AT(threads), UINT, 100000, "--threads must be at most" },
		{ NNP_OPT_ADAM, AT(input_scale), F32, 0, "--input-scale must be" },
		{ NNP_OPT_ADAM, AT(weight_decay), F32, -0.1, "--weight-decay must be" },
		{ NNP_OPT_ADAM, AT(beta2), F32, 1, "--beta2 must be in [0, 1)" },
		{ NNP_OPT_ADAM, AT(eps), F32, 0, "--eps must be" },
		{ NNP_OPT_SGD, AT(momentum), F32, 1, "--momentum must be in [0, 1)" },
		/* only the optimizer out of range: lr stays the default */
		{ (nnp_optimizer)7, AT(lr), F32, NNP_TRAIN_ADAM_LR, "unknown optimizer 7" },
	};
#undef AT
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		o = def;
		o.optimizer = bad[i].opt;
		char *field = (char *)&o + bad[i].off;
		if (bad[i].type == F32) {
			float f = (float)bad[i].v;
			memcpy(field, &f, sizeof f);
		} else if (bad[i].type == SIZE) {
			size_t z = (size_t)bad[i].v;
			memcpy(field, &z, sizeof z);
		} else {
			unsigned u = (unsigned)bad[i].v;
			memcpy(field, &u, sizeof u);
		}
		expect(tc->m, tc->d, NULL, &o, NNP_EUSAGE, bad[i].want);
	}
	/* The same checks without data. */
	nnp_err err;
	nnp_err_clear(&err);
	o = def;
	assert_int_equal(nnp_train_check_opts(&o, &err), NNP_OK);
	o.batch = NNP_TRAIN_MAX_BATCH + 1;
	assert_int_equal(nnp_train_check_opts(&o, &err), NNP_EUSAGE);

	/* Data problems. */
	o = def;
	expect(tc->m, NULL, NULL, &o, NNP_EUSAGE, "no training data");
	int32_t *y = tc->d->y;
	tc->d->y = NULL;
	expect(tc->m, tc->d, NULL, &o, NNP_EINPUT, "training data has no labels");
	tc->d->y = y;
	tc->held = blobs(10, 2, 0.0, 1.0);
	tc->held->features = 1;
	expect(tc->m, tc->d, tc->held, &o, NNP_EINPUT,
	       "validation data has 1 features per row but the model takes 2 inputs");
	tc->held->features = 2;
	tc->held->y[4] = 3;
	expect(tc->m, tc->d, tc->held, &o, NNP_EINPUT,
	       "validation data: row 5: label 3 is out of range");
	tc->held->y[4] = -1;
	expect(tc->m, tc->d, tc->held, &o, NNP_EINPUT, "label -1 is out of range");
	tc->held->y[4] = 0;
	tc->d->x[7] = NAN;
	expect(tc->m, tc->d, NULL, &o, NNP_EINPUT, "training data: row 4: feature 2 is NaN");
	tc->d->x[7] = 0.0f;
	size_t rows = tc->d->rows;
	tc->d->rows = 0;
	expect(tc->m, tc->d, NULL, &o, NNP_EINPUT, "training data has no rows");
	tc->d->rows = rows;
	/* Nothing above touched the model. */
	nnp_model *c = fresh("2 4:relu 3:softmax", 1);
	assert_true(same_weights(tc->m, c));
	nnp_model_free(c);
	tu_case_free(tc);
}

static void test_diverges(void **state)
{
	(void)state;
	tu_case *c = tu_case_of(fresh("8 16:linear 3:linear", 1), teacher(200, 8, 3, 4), NULL);
	for (size_t i = 0; i < 200 * 8; i++)
		c->d->x[i] *= 1000.0f;
	nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
	o.optimizer = NNP_OPT_SGD;
	o.lr = 1e6f;
	o.batch = 10;
	nnp_train_report rep;
	expect(c->m, c->d, NULL, &o, NNP_EINPUT, "training diverged at epoch 1, batch ");
	nnp_err err;
	nnp_err_clear(&err);
	nnp_model_init_random(c->m, 1);
	assert_int_equal(nnp_train(c->m, c->d, NULL, &o, &rep, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, "; try a smaller --lr"));
	assert_true(strstr(err.msg, "(loss is NaN)") || strstr(err.msg, "(loss is infinite)"));
	assert_true(rep.steps < 20);
	tu_case_free(c);
}

static void test_names(void **state)
{
	(void)state;
	/* the names both ways: test_names (every name/parse pair) */
	assert_null(nnp_optimizer_name((nnp_optimizer)9));
	assert_true(nnp_train_default_lr(NNP_OPT_SGD) == 0.01f);
	assert_true(nnp_train_default_lr(NNP_OPT_ADAM) == 1e-3f);
	const nnp_train_opts def = NNP_TRAIN_OPTS_INIT;
	assert_int_equal(def.epochs, 10);
	assert_int_equal(def.batch, 64);
	assert_true(def.momentum == 0.9f && def.input_scale == 1.0f && def.shuffle == 1);
}

/* ------------------------------------------- masks, schedules, distillation -- */

/* A few rows of n features, labels in [0, K), from a seeded generator. */
static nnp_dataset *rand_rows(size_t rows, size_t F, size_t K, uint64_t seed)
{
	tu_rng r = { seed };
	nnp_dataset *d = tu_dataset(rows, F);
	for (size_t i = 0; i < rows * F; i++)
		d->x[i] = (float)tu_uniform(&r, -1.5, 1.5);
	for (size_t i = 0; i < rows; i++)
		d->y[i] = (int32_t)(tu_next(&r) % K);
	return d;
}

/* About half of every layer's weights kept; layer 1 (the second) left unmasked. */
static uint8_t **rand_mask(const nnp_model *m, uint64_t seed)
{
	tu_rng r = { seed };
	uint8_t **mk = calloc(m->n_layers, sizeof *mk);
	assert_non_null(mk);
	for (size_t l = 0; l < m->n_layers; l++) {
		if (l == 1)
			continue;
		size_t n = m->layers[l].in * m->layers[l].out;
		mk[l] = malloc(n);
		assert_non_null(mk[l]);
		for (size_t i = 0; i < n; i++)
			mk[l][i] = (uint8_t)(tu_next(&r) % 2 ? 1 + tu_next(&r) % 255 : 0);
	}
	return mk;
}

static void free_mask(uint8_t **mk, size_t L)
{
	for (size_t l = 0; l < L; l++)
		free(mk[l]);
	free(mk);
}

static int pruned(const uint8_t *const *mk, size_t l, size_t i)
{
	return mk && mk[l] && !mk[l][i];
}

/* Every pruned weight is +0.0f, bit for bit. */
static void assert_masked_zero(const nnp_model *m, const uint8_t *const *mk)
{
	const float zero = 0.0f;
	for (size_t l = 0; l < m->n_layers; l++)
		for (size_t i = 0; i < m->layers[l].in * m->layers[l].out; i++)
			if (pruned(mk, l, i))
				assert_memory_equal(&m->layers[l].w[i], &zero, sizeof zero);
}

typedef struct mask_watch {
	const nnp_model *m;
	const uint8_t *const *mk;
	size_t steps;
} mask_watch;

static void watch_mask(size_t epoch, uint64_t done, uint64_t total, void *ctx)
{
	mask_watch *w = ctx;
	(void)epoch;
	(void)done;
	(void)total;
	assert_masked_zero(w->m, w->mk);
	w->steps++;
}

/*
 * The update rules written out in double, one full-batch step at a time: the
 * gradient of the float model at the current weights (nnp_train_grad), then
 * PyTorch's Adam (L2 weight decay added to the gradient) or SGD with
 * momentum, the learning rate of the schedule's formula, pruned weights 0.
 */
static void ref_train(nnp_model *m, const nnp_dataset *d, const nnp_train_opts *o,
                      const uint8_t *const *mk, size_t steps)
{
	size_t P = nnp_model_params(m);
	double *w = flat_params(m), *m1 = calloc(P, sizeof *m1), *m2 = calloc(P, sizeof *m2);
	float *g = malloc(P * sizeof *g);
	assert_true(m1 && m2 && g);
	nnp_err err;
	nnp_err_clear(&err);
	for (size_t t = 1; t <= steps; t++) {
		/* Load w (pruned weights zeroed) into m. */
		size_t k = 0;
		for (size_t l = 0; l < m->n_layers; l++) {
			nnp_layer *L = &m->layers[l];
			for (size_t i = 0; i < L->in * L->out; i++, k++) {
				if (pruned(mk, l, i))
					w[k] = 0.0;
				L->w[i] = (float)w[k];
			}
			for (size_t i = 0; i < L->out; i++, k++)
				L->b[i] = (float)w[k];
		}
		assert_int_equal(nnp_train_grad(m, d->x, d->y, d->rows, g, NULL, &err), NNP_OK);
		double lr = o->lr;
		if (o->lr_schedule == NNP_LR_COSINE)
			lr = o->lr * 0.5 * (1.0 + cos(3.141592653589793 * (double)(t - 1) / (double)steps));
		k = 0;
		for (size_t l = 0; l < m->n_layers; l++) {
			nnp_layer *L = &m->layers[l];
			size_t nw = L->in * L->out;
			for (size_t i = 0; i < nw + L->out; i++, k++) {
				int is_w = i < nw;
				if (is_w && pruned(mk, l, i))
					continue;
				double gi = g[k] + (is_w ? o->weight_decay * w[k] : 0.0);
				if (o->optimizer == NNP_OPT_SGD) {
					m1[k] = o->momentum * m1[k] + gi;
					w[k] -= lr * m1[k];
				} else {
					m1[k] = o->beta1 * m1[k] + (1 - o->beta1) * gi;
					m2[k] = o->beta2 * m2[k] + (1 - o->beta2) * gi * gi;
					double mh = m1[k] / (1 - pow(o->beta1, (double)t));
					double vh = m2[k] / (1 - pow(o->beta2, (double)t));
					w[k] -= lr * mh / (sqrt(vh) + o->eps);
				}
			}
		}
	}
	size_t k = 0;
	for (size_t l = 0; l < m->n_layers; l++) {
		nnp_layer *L = &m->layers[l];
		for (size_t i = 0; i < L->in * L->out; i++)
			L->w[i] = (float)w[k++];
		for (size_t i = 0; i < L->out; i++)
			L->b[i] = (float)w[k++];
	}
	free(w);
	free(m1);
	free(m2);
	free(g);
}

static double max_diff(const nnp_model *a, const nnp_model *b)
{
	double d = 0;
	for (size_t l = 0; l < a->n_layers; l++) {
		const nnp_layer *x = &a->layers[l], *y = &b->layers[l];
		for (size_t i = 0; i < x->in * x->out; i++)
			d = fmax(d, fabs((double)x->w[i] - y->w[i]));
		for (size_t i = 0; i < x->out; i++)
			d = fmax(d, fabs((double)x->b[i] - y->b[i]));
	}
	return d;
}

static nnp_model *clone(const nnp_model *m)
{
	nnp_model *c = NULL;
	size_t sizes[NNP_MAX_LAYERS + 1];
	nnp_act acts[NNP_MAX_LAYERS];
	nnp_err err;
	nnp_err_clear(&err);
	sizes[0] = m->input_size;
	for (size_t l = 0; l < m->n_layers; l++) {
		sizes[l + 1] = m->layers[l].out;
		acts[l] = m->layers[l].act;
	}
	assert_int_equal(nnp_model_create(&c, sizes[0], m->n_layers, sizes + 1, acts, &err), NNP_OK);
	for (size_t l = 0; l < m->n_layers; l++) {
		memcpy(c->layers[l].w, m->layers[l].w, m->layers[l].in * m->layers[l].out * sizeof(float));
		memcpy(c->layers[l].b, m->layers[l].b, m->layers[l].out * sizeof(float));
	}
	return c;
}

/* Masked training against the update rules, for each optimizer, with weight
 * decay and momentum, on one and two threads, constant and cosine rates. */
static void test_masked_training(void **state)
{
	(void)state;
	const char *net = "6 9:relu 7:tanh 4:softmax";
	nnp_dataset *d = rand_rows(40, 6, 4, 3);
	for (int opt = 0; opt < 2; opt++)
		for (unsigned th = 1; th <= 2; th++)
			for (int sched = 0; sched < 2; sched++) {
				nnp_model *m = fresh(net, 9), *ref = clone(m);
				uint8_t **mk = rand_mask(m, 17);
				nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
				o.optimizer = opt ? NNP_OPT_SGD : NNP_OPT_ADAM;
				o.lr = opt ? 0.05f : 0.01f;
				o.momentum = 0.8f;
				o.weight_decay = 0.01f;
				o.epochs = 6;
				o.batch = 40;
				o.shuffle = 0;
				o.threads = th;
				o.lr_schedule = sched ? NNP_LR_COSINE : NNP_LR_CONSTANT;
				o.mask = (const uint8_t *const *)mk;
				mask_watch mw = { m, o.mask, 0 };
				o.on_progress = watch_mask;
				o.ctx = &mw;
				nnp_train_report rep;
				train_ok(m, d, NULL, &o, &rep);
				assert_int_equal(rep.threads, th);
				assert_int_equal(mw.steps, 6);
				assert_masked_zero(m, o.mask);
				ref_train(ref, d, &o, o.mask, 6);
				double diff = max_diff(m, ref);
				assert_true(diff < 2e-5);
				/* The weights moved: the comparison is not vacuous. */
				nnp_model *init = fresh(net, 9);
				assert_true(max_diff(m, init) > 1e-2);
				nnp_model_free(init);
				free_mask(mk, 3);
				nnp_model_free(m);
				nnp_model_free(ref);
			}
	nnp_dataset_free(d);
}

static void test_lr_schedule(void **state)
{
	(void)state;
	const double pi = 3.141592653589793;
	for (uint64_t t = 1; t <= 10; t++) {
		assert_true(nnp_lr_at(NNP_LR_CONSTANT, 0.3, t, 10) == 0.3);
		double want = 0.3 * 0.5 * (1 + cos(pi * (double)(t - 1) / 10.0));
		assert_true(fabs(nnp_lr_at(NNP_LR_COSINE, 0.3, t, 10) - want) < 1e-15);
	}
	assert_true(nnp_lr_at(NNP_LR_COSINE, 0.3, 1, 10) == 0.3);
	assert_true(fabs(nnp_lr_at(NNP_LR_COSINE, 0.3, 6, 10) - 0.15) < 1e-15);
	assert_true(fabs(nnp_lr_at(NNP_LR_COSINE, 0.3, 11, 10)) < 1e-15);
	/* the names both ways: test_names (every name/parse pair) */
}

static void test_rewind(void **state)
{
	(void)state;
	tu_case *c = tu_case_of(fresh("6 9:relu 7:tanh 4:softmax", 11), rand_rows(40, 6, 4, 5),
	                        NULL);
	nnp_model *init = clone(c->m);
	uint8_t **mk = rand_mask(c->m, 19);
	nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
	o.epochs = 3;
	o.batch = 8;
	o.input_scale = 1.0f / 3.0f;
	train_ok(c->m, c->d, NULL, &o, NULL);
	assert_false(same_weights(c->m, init));
	nnp_err err;
	assert_int_equal(nnp_model_rewind(c->m, init, (const uint8_t *const *)mk, &err), NNP_OK);
	const float zero = 0.0f;
	for (size_t l = 0; l < 3; l++) {
		const nnp_layer *L = &c->m->layers[l], *I = &init->layers[l];
		for (size_t i = 0; i < L->in * L->out; i++)
			assert_memory_equal(&L->w[i], pruned((const uint8_t *const *)mk, l, i) ? &zero : &I->w[i],
			                    sizeof(float));
		assert_memory_equal(L->b, I->b, L->out * sizeof(float));
	}
	/* Without a mask: the initial model, bit for bit. */
	assert_int_equal(nnp_model_rewind(c->m, init, NULL, &err), NNP_OK);
	assert_true(same_weights(c->m, init));
	/* Another shape is refused, naming the layer; m is left alone. */
	nnp_model *other = fresh("6 9:relu 5:tanh 4:softmax", 1);
	assert_int_equal(nnp_model_rewind(c->m, other, NULL, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, "layer 2 is 7x9 in the model but 5x9"));
	assert_true(same_weights(c->m, init));
	nnp_model_free(other);
	free_mask(mk, 3);
	nnp_model_free(init);
	tu_case_free(c);
}

/* The loss written out from the probabilities, and its gradient w.r.t. the
 * student's logits against central differences, in double. */
static void test_distill_loss(void **state)
{
	(void)state;
	tu_rng r = { 23 };
	const double Ts[] = { 1.0, 2.0, 4.5 }, alphas[] = { 0.0, 0.3, 1.0 };
	enum { K = 5 };
	for (int rep = 0; rep < 4; rep++)
		for (size_t ti = 0; ti < 3; ti++)
			for (size_t ai = 0; ai < 3; ai++) {
				double zs[K], zt[K], dz[K], T = Ts[ti], al = alphas[ai];
				for (size_t k = 0; k < K; k++) {
					zs[k] = tu_uniform(&r, -4, 4);
					zt[k] = tu_uniform(&r, -4, 4);
				}
				size_t c = tu_next(&r) % K;
				/* Direct: probabilities, then the sums. */
				double ps[K], pt[K], p[K], ss = 0, st = 0, s1 = 0;
				for (size_t k = 0; k < K; k++) {
					ss += exp(zs[k] / T);
					st += exp(zt[k] / T);
					s1 += exp(zs[k]);
				}
				double kl = 0;
				for (size_t k = 0; k < K; k++) {
					ps[k] = exp(zs[k] / T) / ss;
					pt[k] = exp(zt[k] / T) / st;
					p[k] = exp(zs[k]) / s1;
					kl += pt[k] * log(pt[k] / ps[k]);
				}
				double want = al * T * T * kl - (1 - al) * log(p[c]);
				double got = nnp_distill_loss(zs, zt, K, c, T, al, dz);
				assert_true(fabs(got - want) < 1e-12 * (1 + fabs(want)));
				for (size_t k = 0; k < K; k++) {
					const double h = 1e-5;
					double save = zs[k];
					zs[k] = save + h;
					double up = nnp_distill_loss(zs, zt, K, c, T, al, NULL);
					zs[k] = save - h;
					double dn = nnp_distill_loss(zs, zt, K, c, T, al, NULL);
					zs[k] = save;
					assert_true(fabs((up - dn) / (2 * h) - dz[k]) < 1e-8);
				}
			}
	/* A student equal to its teacher has nothing to learn from it. */
	double z[3] = { 0.5, -1, 2 }, dz[3];
	assert_true(fabs(nnp_distill_loss(z, z, 3, 1, 3.0, 1.0, dz)) < 1e-15);
	for (size_t k = 0; k < 3; k++)
		assert_true(fabs(dz[k]) < 1e-15);
}

/* Mean distillation loss of a tiny network in double; the student's logits
 * are the logs of its softmax outputs (the loss is shift-invariant). */
static double ref_distill(const nnp_model *m, const double *p, const nnp_model *t,
                          const double *pt, const nnp_dataset *d, double scale, double T,
                          double alpha)
{
	size_t F = d->features, K = nnp_model_outputs(m);
	double xs[REF_MAXW], xr[REF_MAXW], os[REF_MAXW], ot[REF_MAXW], total = 0;
	for (size_t r = 0; r < d->rows; r++) {
		for (size_t j = 0; j < F; j++) {
			xr[j] = d->x[r * F + j];
			xs[j] = xr[j] * scale;
		}
		ref_row(m, p, xs, os);
		ref_row(t, pt, xr, ot);
		for (size_t k = 0; k < K; k++) {
			os[k] = log(os[k]);
			ot[k] = log(ot[k]);
		}
		total += nnp_distill_loss(os, ot, K, (size_t)d->y[r], T, alpha, NULL);
	}
	return total / (double)d->rows;
}

/* One full-batch SGD step with distillation moves every parameter by
 * -lr times the finite-difference gradient of the double loss; the teacher
 * sees raw inputs while the student trains on scaled ones. */
static void test_distill_training(void **state)
{
	(void)state;
	tu_case *c = tu_case_of(fresh("3 6:relu 6:sigmoid 4:softmax", 4), rand_rows(16, 3, 4, 7),
	                        NULL);
	for (size_t l = 0; l < 3; l++)  /* a confident teacher */
		for (size_t i = 0; i < c->m->layers[l].in * c->m->layers[l].out; i++)
			c->m->layers[l].w[i] *= 2.0f;
	const double scale = 0.5, T = 2.5, alpha = 0.7, lr = 0.1;
	for (unsigned th = 1; th <= 2; th++) {
		nnp_model *m = fresh("3 5:tanh 4:softmax", 8), *before = clone(m);
		nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
		o.optimizer = NNP_OPT_SGD;
		o.lr = (float)lr;
		o.momentum = 0.0f;
		o.epochs = 1;
		o.batch = 16;
		o.shuffle = 0;
		o.threads = th;
		o.input_scale = (float)scale;
		o.model_takes_raw = 0;
		o.teacher = c->m;
		o.distill_t = (float)T;
		o.distill_alpha = (float)alpha;
		nnp_train_report rep;
		train_ok(m, c->d, NULL, &o, &rep);
		double *p = flat_params(before), *pt = flat_params(c->m), *pa = flat_params(m);
		/* The reported loss is the distillation loss at the starting weights. */
		double l0 = ref_distill(before, p, c->m, pt, c->d, scale, T, alpha);
		assert_true(fabs(rep.train_loss - l0) < 1e-5);
		/* W0 came back folded (times the scale): unfold to compare. */
		size_t n0 = before->layers[0].in * before->layers[0].out;
		for (size_t i = 0; i < n0; i++)
			pa[i] /= scale;
		size_t P = nnp_model_params(m);
		for (size_t k = 0; k < P; k++) {
			const double h = 1e-5;
			double save = p[k];
			p[k] = save + h;
			double up = ref_distill(before, p, c->m, pt, c->d, scale, T, alpha);
			p[k] = save - h;
			double dn = ref_distill(before, p, c->m, pt, c->d, scale, T, alpha);
			p[k] = save;
			double g = (up - dn) / (2 * h), moved = (save - pa[k]) / lr;
			assert_true(fabs(moved - g) < 2e-4 + 1e-3 * fabs(g));
		}
		free(p);
		free(pt);
		free(pa);
		nnp_model_free(m);
		nnp_model_free(before);
	}
	tu_case_free(c);
}

static void test_distill_errors(void **state)
{
	(void)state;
	nnp_dataset *d = rand_rows(16, 3, 3, 7);
	nnp_model *m = fresh("3 5:tanh 4:softmax", 8), *t3 = fresh("3 5:tanh 3:softmax", 1),
	          *tl = fresh("3 5:tanh 4:linear", 1);
	nnp_model *keep = clone(m);
	nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
	nnp_err err;
	nnp_err_clear(&err);
	o.teacher = m;
	o.distill_t = 0.0f;
	assert_int_equal(nnp_train_check_opts(&o, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "temperature"));
	o.distill_t = 2.0f;
	o.distill_alpha = 1.5f;
	assert_int_equal(nnp_train_check_opts(&o, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "alpha must be in [0, 1]"));
	o.distill_alpha = 0.5f;
	o.teacher = t3;
	assert_int_equal(nnp_train(m, d, NULL, &o, NULL, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, "teacher: takes 3 inputs and gives 3 outputs"));
	o.teacher = tl;
	assert_int_equal(nnp_train(m, d, NULL, &o, NULL, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, "softmax"));
	assert_true(same_weights(m, keep));
	nnp_model_free(m);
	nnp_model_free(t3);
	nnp_model_free(tl);
	nnp_model_free(keep);
	nnp_dataset_free(d);
}

/* Same seed and thread count with a mask and a teacher: the same model. */
static void test_deterministic_mask_distill(void **state)
{
	(void)state;
	tu_case *c = tu_case_of(fresh("20 48:relu 24:leaky_relu 4:softmax", 5),
	                        teacher(403, 20, 4, 41), NULL);
	for (unsigned th = 1; th <= 2; th++) {
		nnp_model *r[2];
		uint8_t **mk = NULL;
		for (int k = 0; k < 2; k++) {
			r[k] = fresh("20 48:relu 24:leaky_relu 4:softmax", 21);
			if (!mk)
				mk = rand_mask(r[k], 3);
			nnp_train_opts o = NNP_TRAIN_OPTS_INIT;
			o.threads = th;
			o.epochs = 2;
			o.seed = 9;
			o.input_scale = 0.5f;
			o.mask = (const uint8_t *const *)mk;
			o.teacher = c->m;
			o.distill_t = 2.0f;
			o.distill_alpha = 0.5f;
			o.lr_schedule = NNP_LR_COSINE;
			train_ok(r[k], c->d, NULL, &o, NULL);
			assert_masked_zero(r[k], o.mask);
		}
		assert_true(same_weights(r[0], r[1]));
		free_mask(mk, 3);
		nnp_model_free(r[0]);
		nnp_model_free(r[1]);
	}
	tu_case_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grad_softmax_ce),
		cmocka_unit_test(test_grad_mse_linear),
		cmocka_unit_test(test_grad_mse_sigmoid),
		cmocka_unit_test(test_grad_single_layer),
		cmocka_unit_test(test_grad_errors),
		cmocka_unit_test(test_backprop_activation_grads),
		cmocka_unit_test(test_init_stats),
		cmocka_unit_test(test_blobs_adam),
		cmocka_unit_test(test_xor_sgd_mse),
		OPT_TEST(step_adam),
		OPT_TEST(step_adam_decay),
		OPT_TEST(step_sgd),
		OPT_TEST(step_threads),
		cmocka_unit_test(test_stop_early),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_uneven_parts),
		cmocka_unit_test(test_scale_folding),
		cmocka_unit_test(test_finetune),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_diverges),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_masked_training),
		cmocka_unit_test(test_lr_schedule),
		cmocka_unit_test(test_rewind),
		cmocka_unit_test(test_distill_loss),
		cmocka_unit_test(test_distill_training),
		cmocka_unit_test(test_distill_errors),
		cmocka_unit_test(test_deterministic_mask_distill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
