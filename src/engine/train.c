/* Training: minibatch Adam/SGD, backpropagation through CBLAS, and our own
 * threads over fixed parts of each batch so that runs are reproducible. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "nnprune/train.h"

/* A thread needs this many rows of a batch to itself to be worth its three
 * barriers a step. Measured on 784-512-256-128-10 over 60,000 rows, two
 * quiet cores: one epoch at batch 16 takes 7.4 s on one thread and 5.2 s on
 * two (8 rows each); at batch 32, 4.3 s and 3.2 s; at batch 64, 3.6 s and
 * 1.75 s. Fewer rows than this per thread would only add synchronisation. */
#define TR_MIN_PART 8u

/* Every buffer starts on a cache line: SIMD loads stay aligned and two
 * threads never write the same line. */
#define TR_ALIGN 64u
#define TR_LINE_FLOATS (TR_ALIGN / sizeof(float))

/* Validation runs in chunks of at least this many rows even when the
 * training batch is small, so that sgemm gets a reasonable shape. */
#define TR_EVAL_ROWS 256u

enum { CMD_STEP = 1, CMD_EVAL = 2, CMD_QUIT = 3 };

/* ---------------------------------------------------------------- PRNG -- */

/* xoshiro256** seeded through splitmix64: our own, so that a seed means the
 * same weights and the same shuffles everywhere. */
typedef struct tr_rng {
	uint64_t s[4];
	double spare;     /* second normal of the last Box-Muller pair */
	int has_spare;
} tr_rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(tr_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ stream;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	r->has_spare = 0;
	r->spare = 0.0;
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(tr_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Uniform in (0, 1]: never 0, so the log in Box-Muller is finite. */
static double rng_unit(tr_rng *r)
{
	return (double)((rng_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

static double rng_normal(tr_rng *r)
{
	if (r->has_spare) {
		r->has_spare = 0;
		return r->spare;
	}
	double u = rng_unit(r), v = rng_unit(r);
	double rad = sqrt(-2.0 * log(u));
	double th = 6.283185307179586476925 * v;
	r->spare = rad * sin(th);
	r->has_spare = 1;
	return rad * cos(th);
}

/* Uniform in [0, n), n >= 1, without modulo bias (rejection). */
static size_t rng_below(tr_rng *r, size_t n)
{
	uint64_t un = (uint64_t)n;
	uint64_t lim = UINT64_MAX - UINT64_MAX % un;
	uint64_t x;
	do
		x = rng_next(r);
	while (x >= lim);
	return (size_t)(x % un);
}

#define TR_STREAM_INIT 0x494e4954ULL      /* "INIT" */
#define TR_STREAM_SHUFFLE 0x53485546ULL   /* "SHUF" */

void nnp_model_init_random(nnp_model *m, uint64_t seed)
{
	tr_rng r;
	rng_seed(&r, seed, TR_STREAM_INIT);
	for (size_t l = 0; l < m->n_layers; l++) {
		nnp_layer *L = &m->layers[l];
		int he = L->act == NNP_ACT_RELU || L->act == NNP_ACT_LEAKY_RELU;
		double sd = he ? sqrt(2.0 / (double)L->in) : sqrt(2.0 / (double)(L->in + L->out));
		size_t n = L->in * L->out;
		for (size_t i = 0; i < n; i++)
			L->w[i] = (float)(sd * rng_normal(&r));
		memset(L->b, 0, L->out * sizeof *L->b);
	}
}

/* ------------------------------------------------------------- options -- */

const char *nnp_optimizer_name(nnp_optimizer o)
{
	switch (o) {
	case NNP_OPT_ADAM: return "adam";
	case NNP_OPT_SGD: return "sgd";
	default: return NULL;
	}
}

int nnp_optimizer_parse(const char *name, nnp_optimizer *out)
{
	if (!strcmp(name, "adam"))
		*out = NNP_OPT_ADAM;
	else if (!strcmp(name, "sgd"))
		*out = NNP_OPT_SGD;
	else
		return -1;
	return 0;
}

float nnp_train_default_lr(nnp_optimizer o)
{
	return o == NNP_OPT_SGD ? NNP_TRAIN_SGD_LR : NNP_TRAIN_ADAM_LR;
}

static int unit_interval(float v)
{
	return v >= 0.0f && v < 1.0f;
}

int nnp_train_check_opts(const nnp_train_opts *o, nnp_err *err)
{
	if (!nnp_optimizer_name(o->optimizer))
		return nnp_err_set(err, NNP_EUSAGE, "unknown optimizer %d (expected adam or sgd)",
		                   (int)o->optimizer);
	if (!(isfinite(o->lr) && o->lr > 0.0f))
		return nnp_err_set(err, NNP_EUSAGE, "--lr must be a finite number > 0 (got %g)",
		                   (double)o->lr);
	if (o->epochs < 1 || o->epochs > NNP_TRAIN_MAX_EPOCHS)
		return nnp_err_set(err, NNP_EUSAGE, "--epochs must be between 1 and %u (got %zu)",
		                   NNP_TRAIN_MAX_EPOCHS, o->epochs);
	if (o->batch < 1 || o->batch > NNP_TRAIN_MAX_BATCH)
		return nnp_err_set(err, NNP_EUSAGE, "--batch must be between 1 and %u (got %zu)",
		                   NNP_TRAIN_MAX_BATCH, o->batch);
	if (o->threads > NNP_TRAIN_MAX_THREADS)
		return nnp_err_set(err, NNP_EUSAGE, "--threads must be at most %u (got %u)",
		                   NNP_TRAIN_MAX_THREADS, o->threads);
	if (!(isfinite(o->input_scale) && o->input_scale > 0.0f))
		return nnp_err_set(err, NNP_EUSAGE,
		                   "--input-scale must be a finite number > 0 (got %g)",
		                   (double)o->input_scale);
	if (!(isfinite(o->weight_decay) && o->weight_decay >= 0.0f))
		return nnp_err_set(err, NNP_EUSAGE,
		                   "--weight-decay must be a finite number >= 0 (got %g)",
		                   (double)o->weight_decay);
	if (o->optimizer == NNP_OPT_SGD && !unit_interval(o->momentum))
		return nnp_err_set(err, NNP_EUSAGE, "--momentum must be in [0, 1) (got %g)",
		                   (double)o->momentum);
	if (o->optimizer == NNP_OPT_ADAM) {
		if (!unit_interval(o->beta1))
			return nnp_err_set(err, NNP_EUSAGE, "--beta1 must be in [0, 1) (got %g)",
			                   (double)o->beta1);
		if (!unit_interval(o->beta2))
			return nnp_err_set(err, NNP_EUSAGE, "--beta2 must be in [0, 1) (got %g)",
			                   (double)o->beta2);
		if (!(isfinite(o->eps) && o->eps > 0.0f))
			return nnp_err_set(err, NNP_EUSAGE, "--eps must be a finite number > 0 (got %g)",
			                   (double)o->eps);
	}
	return NNP_OK;
}

/* ----------------------------------------------------------- workspace -- */

/* One thread's buffers for batches of up to `cap` rows, in one aligned block. */
typedef struct tr_ws {
	size_t cap;
	float *x;          /* [cap][inputs], scaled */
	int32_t *y;        /* [cap] */
	float **z;         /* [layers] pre-activations [cap][out]; == a[l] when not needed */
	float **a;         /* [layers] post-activations [cap][out] */
	float *d0, *d1;    /* [cap][widest] gradients w.r.t. pre-activations, ping-pong */
	float *grad;       /* [params] this part's gradient, NULL when not training;
	                      all zero between steps (whoever reads it zeroes it) */
	void *mem;
	/* the last part this thread ran */
	size_t rows;
	double loss;       /* summed over the part's rows */
	uint64_t correct;
	nnp_metrics val;   /* validation figures of this thread's share */
} tr_ws;

static int mul_sz(size_t a, size_t b, size_t *out)
{
	if (a && b > SIZE_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

/* Reserves `count` floats (rounded up to whole cache lines) at *total. */
static int plan(size_t *total, size_t count, size_t *off)
{
	if (count > SIZE_MAX - TR_LINE_FLOATS)
		return -1;
	size_t r = (count + TR_LINE_FLOATS - 1) / TR_LINE_FLOATS * TR_LINE_FLOATS;
	if (r > SIZE_MAX - *total)
		return -1;
	*off = *total;
	*total += r;
	return 0;
}

static int plan_rows(size_t *total, size_t rows, size_t width, size_t *off)
{
	size_t n;
	if (mul_sz(rows, width, &n))
		return -1;
	return plan(total, n, off);
}

/* The backward pass needs the pre-activation only where the derivative
 * cannot be read from the output (and softmax for a stable log-sum-exp). */
static int needs_z(nnp_act a)
{
	return a == NNP_ACT_RELU || a == NNP_ACT_LEAKY_RELU || a == NNP_ACT_SOFTMAX;
}

static size_t widest(const nnp_model *m)
{
	size_t w = m->input_size;
	for (size_t l = 0; l < m->n_layers; l++)
		w = m->layers[l].out > w ? m->layers[l].out : w;
	return w;
}

static void ws_free(tr_ws *w)
{
	if (!w)
		return;
	free(w->mem);
	free(w->z);
	free(w->a);
	memset(w, 0, sizeof *w);
}

/*
 * Sizes and allocates a workspace. params = 0 for a forward-only one.
 * Returns NNP_OK, NNP_EUSAGE (sizes overflow) or NNP_ENOMEM, recording nothing.
 */
static int ws_init(tr_ws *w, const nnp_model *m, size_t cap, size_t params)
{
	size_t L = m->n_layers, total = 0, wide = widest(m);
	size_t ox, oy, od0, od1, og = 0;
	memset(w, 0, sizeof *w);
	w->cap = cap;
	w->z = calloc(L, sizeof *w->z);
	w->a = calloc(L, sizeof *w->a);
	size_t *oz = calloc(L, sizeof *oz), *oa = calloc(L, sizeof *oa);
	int rc = NNP_ENOMEM;
	if (!w->z || !w->a || !oz || !oa)
		goto done;
	rc = NNP_EUSAGE;
	if (plan_rows(&total, cap, m->input_size, &ox) || plan(&total, cap, &oy))
		goto done;
	for (size_t l = 0; l < L; l++) {
		if (plan_rows(&total, cap, m->layers[l].out, &oa[l]))
			goto done;
		oz[l] = oa[l];
		if (needs_z(m->layers[l].act) && plan_rows(&total, cap, m->layers[l].out, &oz[l]))
			goto done;
	}
	if (plan_rows(&total, cap, wide, &od0) || plan_rows(&total, cap, wide, &od1))
		goto done;
	if (params && plan(&total, params, &og))
		goto done;
	if (total > SIZE_MAX / sizeof(float))
		goto done;
	rc = NNP_ENOMEM;
	if (posix_memalign(&w->mem, TR_ALIGN, total * sizeof(float)) != 0) {
		w->mem = NULL;
		goto done;
	}
	float *base = w->mem;
	w->x = base + ox;
	/* y is only ever accessed as int32_t, so its effective type is int32_t. */
	w->y = (int32_t *)(void *)(base + oy);
	for (size_t l = 0; l < L; l++) {
		w->a[l] = base + oa[l];
		w->z[l] = base + oz[l];
	}
	w->d0 = base + od0;
	w->d1 = base + od1;
	w->grad = params ? base + og : NULL;
	memset(w->mem, 0, total * sizeof(float));
	rc = NNP_OK;
done:
	free(oz);
	free(oa);
	if (rc)
		ws_free(w);
	return rc;
}

/* --------------------------------------------------------------- kernels -- */

static void ws_forward(const nnp_model *m, tr_ws *w, size_t n)
{
	const float *in = w->x;
	for (size_t l = 0; l < m->n_layers; l++) {
		nnp_layer plain = m->layers[l];
		const nnp_layer *L = &plain;
		/* w->x holds preprocessed rows already (ws_gather). */
		plain.pre_offset = plain.pre_scale = NULL;
		nnp_dense(L, in, n, w->z[l]);
		if (w->z[l] != w->a[l])
			memcpy(w->a[l], w->z[l], n * L->out * sizeof(float));
		nnp_activate(L->act, L->alpha, w->a[l], n, L->out);
		in = w->a[l];
	}
}

/* d *= act'(z): the derivative read from z (relu family) or from a = act(z). */
static void act_backward(const nnp_layer *L, const float *restrict z, const float *restrict a,
                         float *restrict d, size_t n)
{
	float alpha = L->alpha;
	switch (L->act) {
	case NNP_ACT_RELU:
		for (size_t i = 0; i < n; i++)
			d[i] = z[i] > 0.0f ? d[i] : 0.0f;
		break;
	case NNP_ACT_LEAKY_RELU:
		for (size_t i = 0; i < n; i++)
			d[i] = z[i] > 0.0f ? d[i] : alpha * d[i];
		break;
	case NNP_ACT_SIGMOID:
		for (size_t i = 0; i < n; i++)
			d[i] *= a[i] * (1.0f - a[i]);
		break;
	case NNP_ACT_TANH:
		for (size_t i = 0; i < n; i++)
			d[i] *= 1.0f - a[i] * a[i];
		break;
	case NNP_ACT_LINEAR:
	case NNP_ACT_SOFTMAX:  /* only last, where the cross-entropy handles it */
	default:
		break;
	}
}

static size_t argmax_row(const float *o, size_t n)
{
	size_t best = 0;
	for (size_t j = 1; j < n; j++)
		if (o[j] > o[best])
			best = j;
	return best;
}

/*
 * Loss of the part's rows (summed into w->loss, hits into w->correct) and the
 * gradient of the batch-mean loss w.r.t. the last pre-activation into d0.
 * inv_n = 1 / rows of the whole batch, so that the parts' gradients add up.
 */
static void ws_loss(const nnp_model *m, tr_ws *w, size_t n, float inv_n)
{
	size_t last = m->n_layers - 1;
	const nnp_layer *L = &m->layers[last];
	size_t K = L->out;
	double loss = 0.0;
	uint64_t hits = 0;
	/* Logits are trained as PyTorch's CrossEntropyLoss: softmax taken here. */
	int logits = nnp_model_logits(m), ce = logits || L->act == NNP_ACT_SOFTMAX;
	for (size_t r = 0; r < n; r++) {
		const float *z = w->z[last] + r * K, *a = w->a[last] + r * K;
		float *d = w->d0 + r * K;
		size_t c = (size_t)w->y[r];
		hits += argmax_row(a, K) == c;
		if (ce) {
			/* log-sum-exp of the logits: exact where log(softmax) of a
			 * float that underflowed to 0 would be infinite. */
			float zmax = z[0];
			for (size_t k = 1; k < K; k++)
				zmax = z[k] > zmax ? z[k] : zmax;
			double s = 0.0;
			for (size_t k = 0; k < K; k++)
				s += exp((double)z[k] - (double)zmax);
			loss += log(s) + (double)zmax - (double)z[c];
			for (size_t k = 0; k < K; k++)
				d[k] = (logits ? (float)(exp((double)z[k] - (double)zmax) / s) : a[k]) *
				       inv_n;
			d[c] -= inv_n;
		} else {
			float g = 2.0f * inv_n / (float)K;
			double s = 0.0;
			for (size_t k = 0; k < K; k++) {
				float e = a[k] - (k == c ? 1.0f : 0.0f);
				s += (double)e * (double)e;
				d[k] = g * e;
			}
			loss += s / (double)K;
		}
	}
	if (!ce)
		act_backward(L, w->z[last], w->a[last], w->d0, n * K);
	w->loss = loss;
	w->correct = hits;
}

static void col_sums(const float *restrict d, size_t n, size_t k, float *restrict out)
{
	memset(out, 0, k * sizeof *out);
	for (size_t r = 0; r < n; r++)
		for (size_t j = 0; j < k; j++)
			out[j] += d[r * k + j];
}

/* Flat parameter layout: layer l's weights at off[l], its biases right after. */
static void ws_backward(const nnp_model *m, tr_ws *w, size_t n, const size_t *off)
{
	float *d = w->d0, *e = w->d1;
	for (size_t l = m->n_layers; l-- > 0;) {
		const nnp_layer *L = &m->layers[l];
		const float *xin = l ? w->a[l - 1] : w->x;
		float *gw = w->grad + off[l];
		int in = (int)L->in, out = (int)L->out, rows = (int)n;
		/* dW = dZ^T X: [out][in], row-major like W. Added onto a buffer the
		 * optimizer left zeroed: with beta = 0 OpenBLAS would spend a whole
		 * extra pass over the weights zeroing it. */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows, 1.0f, d, out,
		            xin, in, 1.0f, gw, in);
		col_sums(d, n, L->out, gw + L->in * L->out);
		if (l == 0)
			break;
		/* dX = dZ W: [n][in], then through the previous layer's activation. */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, d, out,
		            L->w, in, 0.0f, e, in);
		act_backward(&m->layers[l - 1], w->z[l - 1], w->a[l - 1], e, n * L->in);
		float *t = d;
		d = e;
		e = t;
	}
}

/* Copies rows first..first+n-1 (through idx when not NULL) into w, through
 * the model's input preprocessing (layer 0's), then scaled. */
static void ws_gather(tr_ws *w, const nnp_dataset *ds, const size_t *idx, size_t first,
                      size_t n, float scale, const nnp_layer *L0)
{
	size_t F = ds->features;
	const float *off = L0->pre_offset, *sc = L0->pre_scale;
	for (size_t r = 0; r < n; r++) {
		size_t row = idx ? idx[first + r] : first + r;
		const float *restrict src = ds->x + row * F;
		float *restrict dst = w->x + r * F;
		if (off || sc) {
			for (size_t j = 0; j < F; j++)
				dst[j] = ((src[j] - (off ? off[j] : 0.0f)) * (sc ? sc[j] : 1.0f)) * scale;
		} else {
			for (size_t j = 0; j < F; j++)
				dst[j] = src[j] * scale;
		}
		w->y[r] = ds->y[row];
	}
}

/* Part t of T of n items: contiguous, sizes differing by at most one, the
 * larger first (so part 0 is never empty when n > 0). */
static void part_bounds(size_t n, size_t T, size_t t, size_t *lo, size_t *hi)
{
	size_t q = n / T, r = n % T;
	*lo = t * q + (t < r ? t : r);
	*hi = *lo + q + (t < r ? 1 : 0);
}

/* ------------------------------------------------------------ optimizer -- */

typedef struct tr_step {
	float lr, mom, b1, b2, eps, wd;
	float step;          /* Adam: lr / (1 - beta1^t) */
	float inv_sqrt_bc2;  /* Adam: 1 / sqrt(1 - beta2^t) */
} tr_step;

/*
 * GCC will not vectorise sqrtf while math functions may set errno (C's
 * default, and GCC 12's optimize attribute does not lift it), and the Adam
 * loop would then cost as much as all the matrix products of a 64-row
 * batch. So on x86-64 (SSE2 is part of the ABI) four lanes go through
 * _mm_sqrt_ps; the tail, and other machines, take the same operations in
 * the same order one at a time.
 */
static void adam_seg(float *restrict w, float *restrict g, float *restrict m1,
                     float *restrict m2, size_t n, const tr_step *k, float wd)
{
	float b1 = k->b1, b2 = k->b2, c1 = 1.0f - k->b1, c2 = 1.0f - k->b2;
	float step = k->step, isb = k->inv_sqrt_bc2, eps = k->eps;
	size_t i = 0;
#if defined(__SSE2__)
	__m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), vc1 = _mm_set1_ps(c1);
	__m128 vc2 = _mm_set1_ps(c2), vstep = _mm_set1_ps(step), visb = _mm_set1_ps(isb);
	__m128 veps = _mm_set1_ps(eps), vwd = _mm_set1_ps(wd);
	for (; i + 4 <= n; i += 4) {
		__m128 wi = _mm_loadu_ps(w + i);
		__m128 gi = _mm_add_ps(_mm_loadu_ps(g + i), _mm_mul_ps(vwd, wi));
		_mm_storeu_ps(g + i, _mm_setzero_ps());
		__m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m1 + i)), _mm_mul_ps(vc1, gi));
		__m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(m2 + i)),
		                       _mm_mul_ps(_mm_mul_ps(vc2, gi), gi));
		_mm_storeu_ps(m1 + i, mi);
		_mm_storeu_ps(m2 + i, vi);
		__m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vi), visb), veps);
		_mm_storeu_ps(w + i, _mm_sub_ps(wi, _mm_div_ps(_mm_mul_ps(vstep, mi), den)));
	}
#endif
	for (; i < n; i++) {
		float gi = g[i] + wd * w[i];
		g[i] = 0.0f;
		float mi = b1 * m1[i] + c1 * gi;
		float vi = b2 * m2[i] + c2 * gi * gi;
		m1[i] = mi;
		m2[i] = vi;
		w[i] -= step * mi / (sqrtf(vi) * isb + eps);
	}
}

static void sgd_seg(float *restrict w, float *restrict g, float *restrict buf, size_t n,
                    const tr_step *k, float wd)
{
	float mom = k->mom, lr = k->lr;
	for (size_t i = 0; i < n; i++) {
		float b = mom * buf[i] + g[i] + wd * w[i];
		g[i] = 0.0f;
		buf[i] = b;
		w[i] -= lr * b;
	}
}

/* acc += g, leaving g zeroed for the next step's sgemm to add onto. */
static void drain_into(float *restrict acc, float *restrict g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		acc[i] += g[i];
		g[i] = 0.0f;
	}
}

/* ------------------------------------------------------------- trainer -- */

typedef struct trainer {
	nnp_model *m;
	const nnp_train_opts *o;
	size_t P;            /* parameters */
	size_t *off;         /* [layers] flat offset of each layer's weights */
	size_t T;            /* threads, the caller's included */
	tr_ws *ws;           /* [T] */
	float *m1, *m2;      /* optimizer state [P]: Adam moments, or SGD momentum in m1 */
	/* the current command, written by the caller's thread between barriers */
	int cmd;
	const nnp_dataset *data;
	const size_t *idx;   /* perm while training, NULL (file order) for validation */
	size_t first, n;
	float scale, inv_n;
	tr_step k;
	size_t *perm;        /* [rows] this epoch's order of the training rows */
	/* threads */
	struct tr_arg *args; /* [T] what each worker is started with */
	pthread_t *tid;      /* [T] (entry 0 unused) */
	size_t started;      /* workers created */
	pthread_barrier_t start, mid, done;
	int barriers;        /* 1 once the three are initialised */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int sync_ok;         /* mutex and condition initialised */
	int go;              /* 0 wait, 1 run, -1 quit: the start-up handshake */
} trainer;

typedef struct tr_arg {
	trainer *tr;
	size_t t;
} tr_arg;

static double batch_loss(const trainer *tr)
{
	double s = 0.0;
	for (size_t t = 0; t < tr->T; t++)
		s += tr->ws[t].rows ? tr->ws[t].loss : 0.0;
	return s;
}

static void step_compute(trainer *tr, size_t t)
{
	tr_ws *w = &tr->ws[t];
	size_t lo, hi;
	part_bounds(tr->n, tr->T, t, &lo, &hi);
	w->rows = hi - lo;
	w->loss = 0.0;
	w->correct = 0;
	if (w->rows == 0)
		return;
	ws_gather(w, tr->data, tr->idx, tr->first + lo, w->rows, tr->scale, &tr->m->layers[0]);
	ws_forward(tr->m, w, w->rows);
	ws_loss(tr->m, w, w->rows, tr->inv_n);
	ws_backward(tr->m, w, w->rows, tr->off);
}

/* Sums the parts' gradients into part 0's buffer and steps the optimizer,
 * over this thread's slice of the parameters, zeroing the gradients as it
 * reads them. Every element is summed in thread order whatever the slicing,
 * which keeps the result reproducible. */
static void step_update(trainer *tr, size_t t)
{
	/* Every thread sees the same sum, so all agree on skipping. */
	if (!isfinite(batch_loss(tr)))
		return;
	size_t blocks = (tr->P + TR_LINE_FLOATS - 1) / TR_LINE_FLOATS, lo, hi;
	part_bounds(blocks, tr->T, t, &lo, &hi);
	lo *= TR_LINE_FLOATS;
	hi = hi * TR_LINE_FLOATS < tr->P ? hi * TR_LINE_FLOATS : tr->P;
	if (lo >= hi)
		return;
	float *g = tr->ws[0].grad;
	for (size_t k = 1; k < tr->T; k++)
		if (tr->ws[k].rows)
			drain_into(g + lo, tr->ws[k].grad + lo, hi - lo);
	for (size_t l = 0; l < tr->m->n_layers; l++) {
		nnp_layer *L = &tr->m->layers[l];
		size_t nw = L->in * L->out;
		/* Two segments per layer: weights (decayed) then biases. */
		for (int s = 0; s < 2; s++) {
			size_t a = tr->off[l] + (s ? nw : 0), n = s ? L->out : nw;
			size_t b0 = a > lo ? a : lo, b1 = a + n < hi ? a + n : hi;
			if (b0 >= b1)
				continue;
			float *p = (s ? L->b : L->w) + (b0 - a);
			float wd = s ? 0.0f : tr->k.wd;
			if (tr->o->optimizer == NNP_OPT_ADAM)
				adam_seg(p, g + b0, tr->m1 + b0, tr->m2 + b0, b1 - b0, &tr->k, wd);
			else
				sgd_seg(p, g + b0, tr->m1 + b0, b1 - b0, &tr->k, wd);
		}
	}
}

static void eval_part(trainer *tr, size_t t)
{
	tr_ws *w = &tr->ws[t];
	const nnp_layer *last = &tr->m->layers[tr->m->n_layers - 1];
	size_t lo, hi;
	part_bounds(tr->data->rows, tr->T, t, &lo, &hi);
	for (size_t r = lo; r < hi; r += w->cap) {
		size_t n = hi - r < w->cap ? hi - r : w->cap;
		ws_gather(w, tr->data, NULL, r, n, tr->scale, &tr->m->layers[0]);
		ws_forward(tr->m, w, n);
		nnp_metrics_add(&w->val, nnp_score_kind(tr->m), w->a[tr->m->n_layers - 1], n, last->out, w->y,
		                NULL, NULL);
	}
}

static void sync_wait(trainer *tr, pthread_barrier_t *b)
{
	if (tr->T > 1)
		pthread_barrier_wait(b);
}

static void run_part(trainer *tr, size_t t)
{
	if (tr->cmd == CMD_STEP) {
		step_compute(tr, t);
		sync_wait(tr, &tr->mid);
		step_update(tr, t);
	} else if (tr->cmd == CMD_EVAL) {
		eval_part(tr, t);
	}
}

static void *worker_main(void *p)
{
	tr_arg *arg = p;
	trainer *tr = arg->tr;
	pthread_mutex_lock(&tr->mu);
	while (tr->go == 0)
		pthread_cond_wait(&tr->cv, &tr->mu);
	int go = tr->go;
	pthread_mutex_unlock(&tr->mu);
	if (go < 0)
		return NULL;
	for (;;) {
		pthread_barrier_wait(&tr->start);
		if (tr->cmd == CMD_QUIT)
			return NULL;
		run_part(tr, arg->t);
		pthread_barrier_wait(&tr->done);
	}
}

/* Runs a command on all threads, the caller's being part 0. */
static void run_all(trainer *tr, int cmd)
{
	tr->cmd = cmd;
	sync_wait(tr, &tr->start);
	run_part(tr, 0);
	sync_wait(tr, &tr->done);
}

static void set_go(trainer *tr, int go)
{
	pthread_mutex_lock(&tr->mu);
	tr->go = go;
	pthread_cond_broadcast(&tr->cv);
	pthread_mutex_unlock(&tr->mu);
}

static void threads_stop(trainer *tr)
{
	if (tr->started == 0)
		return;
	if (tr->go > 0) {
		tr->cmd = CMD_QUIT;
		pthread_barrier_wait(&tr->start);
	} else {
		set_go(tr, -1);
	}
	for (size_t t = 1; t <= tr->started; t++)
		pthread_join(tr->tid[t], NULL);
	tr->started = 0;
}

/*
 * Starts T-1 workers. They wait on a condition until all exist: should one
 * fail to start, the others are told to quit instead of meeting at barriers
 * sized for T threads.
 */
static int threads_start(trainer *tr, nnp_err *err)
{
	if (tr->T < 2)
		return NNP_OK;
	if (pthread_mutex_init(&tr->mu, NULL) != 0)
		return nnp_err_set(err, NNP_ENOMEM, "training: cannot create a mutex");
	if (pthread_cond_init(&tr->cv, NULL) != 0) {
		pthread_mutex_destroy(&tr->mu);
		return nnp_err_set(err, NNP_ENOMEM, "training: cannot create a condition variable");
	}
	tr->sync_ok = 1;
	unsigned cnt = (unsigned)tr->T;
	if (pthread_barrier_init(&tr->start, NULL, cnt) != 0)
		return nnp_err_set(err, NNP_ENOMEM, "training: cannot create a barrier");
	if (pthread_barrier_init(&tr->mid, NULL, cnt) != 0) {
		pthread_barrier_destroy(&tr->start);
		return nnp_err_set(err, NNP_ENOMEM, "training: cannot create a barrier");
	}
	if (pthread_barrier_init(&tr->done, NULL, cnt) != 0) {
		pthread_barrier_destroy(&tr->start);
		pthread_barrier_destroy(&tr->mid);
		return nnp_err_set(err, NNP_ENOMEM, "training: cannot create a barrier");
	}
	tr->barriers = 1;
	for (size_t t = 1; t < tr->T; t++) {
		tr->args[t].tr = tr;
		tr->args[t].t = t;
		if (pthread_create(&tr->tid[t], NULL, worker_main, &tr->args[t]) != 0) {
			threads_stop(tr);
			return nnp_err_set(err, NNP_ENOMEM, "training: cannot start thread %zu of %zu",
			                   t + 1, tr->T);
		}
		tr->started = t;
	}
	set_go(tr, 1);
	return NNP_OK;
}

static void trainer_free(trainer *tr)
{
	threads_stop(tr);
	if (tr->barriers) {
		pthread_barrier_destroy(&tr->start);
		pthread_barrier_destroy(&tr->mid);
		pthread_barrier_destroy(&tr->done);
	}
	if (tr->sync_ok) {
		pthread_cond_destroy(&tr->cv);
		pthread_mutex_destroy(&tr->mu);
	}
	if (tr->ws)
		for (size_t t = 0; t < tr->T; t++)
			ws_free(&tr->ws[t]);
	free(tr->ws);
	free(tr->off);
	free(tr->m1);
	free(tr->m2);
	free(tr->tid);
	free(tr->args);
	free(tr->perm);
}

/* Flat offsets of each layer's weights; *P the total (validated models fit). */
static int layout(const nnp_model *m, size_t **off, size_t *P)
{
	*off = malloc(m->n_layers * sizeof **off);
	if (!*off)
		return NNP_ENOMEM;
	size_t p = 0;
	for (size_t l = 0; l < m->n_layers; l++) {
		(*off)[l] = p;
		p += m->layers[l].in * m->layers[l].out + m->layers[l].out;
	}
	*P = p;
	return NNP_OK;
}

static float *alloc_floats(size_t n)
{
	void *p = NULL;
	size_t bytes = (n ? n : 1) * sizeof(float);
	if (posix_memalign(&p, TR_ALIGN, bytes) != 0)
		return NULL;
	memset(p, 0, bytes);
	return p;
}

/* Everything the epoch loop touches, allocated here and only here. */
static int trainer_init(trainer *tr, nnp_model *m, const nnp_train_opts *o, size_t T,
                        size_t cap, size_t rows, nnp_err *err)
{
	memset(tr, 0, sizeof *tr);
	tr->m = m;
	tr->o = o;
	tr->T = T;
	if (layout(m, &tr->off, &tr->P))
		return nnp_err_set(err, NNP_ENOMEM, "training: out of memory");
	tr->scale = o->input_scale;
	tr->ws = calloc(T, sizeof *tr->ws);
	tr->tid = calloc(T, sizeof *tr->tid);
	tr->args = calloc(T, sizeof *tr->args);
	tr->perm = malloc(rows * sizeof *tr->perm);
	if (!tr->perm || !tr->args)
		return nnp_err_set(err, NNP_ENOMEM, "training: out of memory for %zu rows", rows);
	for (size_t i = 0; i < rows; i++)
		tr->perm[i] = i;
	tr->m1 = alloc_floats(tr->P);
	tr->m2 = o->optimizer == NNP_OPT_ADAM ? alloc_floats(tr->P) : NULL;
	if (!tr->ws || !tr->tid || !tr->m1 || (o->optimizer == NNP_OPT_ADAM && !tr->m2))
		return nnp_err_set(err, NNP_ENOMEM, "training: out of memory for %zu parameters",
		                   tr->P);
	for (size_t t = 0; t < T; t++) {
		int rc = ws_init(&tr->ws[t], m, cap, tr->P);
		if (rc == NNP_EUSAGE)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "training: %zu rows per thread are too many for this model",
			                   cap);
		if (rc)
			return nnp_err_set(err, NNP_ENOMEM,
			                   "training: out of memory for the buffers of %zu rows", cap);
	}
	return NNP_OK;
}

/* ---------------------------------------------------------- data checks -- */

static int check_data(const nnp_model *m, const nnp_dataset *d, const char *what,
                      nnp_err *err)
{
	size_t K = nnp_model_outputs(m);
	if (d->rows == 0)
		return nnp_err_set(err, NNP_EINPUT, "%s has no rows", what);
	if (!d->y)
		return nnp_err_set(err, NNP_EINPUT, "%s has no labels (training needs a label column)",
		                   what);
	if (d->features != m->input_size)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s has %zu features per row but the model takes %zu inputs", what,
		                   d->features, m->input_size);
	for (size_t r = 0; r < d->rows; r++) {
		if (d->y[r] < 0 || (uint64_t)d->y[r] >= K)
			return nnp_err_set(err, NNP_EINPUT,
			                   "%s: row %zu: label %ld is out of range (the model has %zu "
			                   "outputs, labels 0..%zu)",
			                   what, r + 1, (long)d->y[r], K, K - 1);
		const float *x = d->x + r * d->features;
		for (size_t j = 0; j < d->features; j++)
			if (!isfinite(x[j]))
				return nnp_err_set(err, NNP_EINPUT,
				                   "%s: row %zu: feature %zu is %s, not a finite number",
				                   what, r + 1, j + 1, isnan(x[j]) ? "NaN" : "infinite");
	}
	return NNP_OK;
}

/* ----------------------------------------------------------- the loop -- */

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* W0 *= s: the model then takes raw inputs where it took inputs * s. */
static void scale_layer0(nnp_model *m, float s)
{
	nnp_layer *L = &m->layers[0];
	size_t n = L->in * L->out;
	for (size_t i = 0; i < n; i++)
		L->w[i] *= s;
}

static void set_step(trainer *tr, uint64_t t)
{
	const nnp_train_opts *o = tr->o;
	tr->k.lr = o->lr;
	tr->k.mom = o->momentum;
	tr->k.b1 = o->beta1;
	tr->k.b2 = o->beta2;
	tr->k.eps = o->eps;
	tr->k.wd = o->weight_decay;
	/* Bias corrections in double: beta^t for large t is tiny, not 0 - 0. */
	double bc1 = 1.0 - pow((double)o->beta1, (double)t);
	double bc2 = 1.0 - pow((double)o->beta2, (double)t);
	tr->k.step = (float)((double)o->lr / bc1);
	tr->k.inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
}

static void shuffle(size_t *idx, size_t n, tr_rng *r)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_below(r, i);
		size_t t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

static void eval_val(trainer *tr, const nnp_dataset *val, nnp_metrics *out)
{
	for (size_t t = 0; t < tr->T; t++)
		memset(&tr->ws[t].val, 0, sizeof tr->ws[t].val);
	tr->data = val;
	tr->idx = NULL;
	run_all(tr, CMD_EVAL);
	memset(out, 0, sizeof *out);
	for (size_t t = 0; t < tr->T; t++)
		nnp_metrics_merge(out, &tr->ws[t].val);
	out->mse = nnp_score_kind(tr->m) != NNP_ACT_SOFTMAX &&
	           nnp_score_kind(tr->m) != NNP_SCORE_LOGITS;
}

/* One epoch; NNP_EINPUT if the loss stops being finite. */
static int run_epoch(trainer *tr, const nnp_dataset *train, size_t epoch, uint64_t *steps,
                     double *loss, uint64_t *hits, nnp_err *err)
{
	const nnp_train_opts *o = tr->o;
	size_t rows = train->rows;
	*loss = 0.0;
	*hits = 0;
	tr->data = train;
	tr->idx = tr->perm;
	size_t b = 0;
	for (size_t first = 0; first < rows; first += o->batch, b++) {
		tr->first = first;
		tr->n = rows - first < o->batch ? rows - first : o->batch;
		tr->inv_n = (float)(1.0 / (double)tr->n);
		set_step(tr, *steps + 1);
		run_all(tr, CMD_STEP);
		double bl = batch_loss(tr);
		if (!isfinite(bl))
			return nnp_err_set(err, NNP_EINPUT,
			                   "training diverged at epoch %zu, batch %zu (loss is %s); try "
			                   "a smaller --lr",
			                   epoch, b + 1, isnan(bl) ? "NaN" : "infinite");
		*loss += bl;
		for (size_t t = 0; t < tr->T; t++)
			*hits += tr->ws[t].correct;
		(*steps)++;
		if (o->on_progress)
			o->on_progress(epoch, (uint64_t)(first + tr->n), (uint64_t)rows, o->ctx);
	}
	return NNP_OK;
}

static size_t choose_threads(const nnp_train_opts *o, size_t batch)
{
	size_t T = o->threads ? o->threads : nnp_default_threads();
	size_t most = batch / TR_MIN_PART;
	if (T > most)
		T = most;
	return T ? T : 1;
}

static size_t div_up(size_t a, size_t b)
{
	return a / b + (a % b != 0);
}

static int check_inputs(const nnp_model *m, const nnp_dataset *train, const nnp_dataset *val,
                        const nnp_train_opts *o, nnp_err *err)
{
	int rc;
	if ((rc = nnp_train_check_opts(o, err)) != 0)
		return rc;
	if ((rc = nnp_model_validate(m, "model", err)) != 0)
		return rc;
	if (!train)
		return nnp_err_set(err, NNP_EUSAGE, "training: no training data given");
	if ((rc = check_data(m, train, "training data", err)) != 0)
		return rc;
	if (val && (rc = check_data(m, val, "validation data", err)) != 0)
		return rc;
	return NNP_OK;
}

/* The epochs; stops early when the callback asks, fails on divergence. */
static int epoch_loop(trainer *tr, const nnp_dataset *train, const nnp_dataset *val,
                      nnp_train_report *rep, nnp_err *err)
{
	const nnp_train_opts *o = tr->o;
	tr_rng rng;
	rng_seed(&rng, o->seed, TR_STREAM_SHUFFLE);
	uint64_t steps = 0;
	for (size_t e = 1; e <= o->epochs; e++) {
		double t0 = now_sec(), loss;
		uint64_t hits;
		if (o->shuffle)
			shuffle(tr->perm, train->rows, &rng);
		int rc = run_epoch(tr, train, e, &steps, &loss, &hits, err);
		rep->steps = steps;
		if (rc)
			return rc;
		nnp_metrics vm;
		if (val)
			eval_val(tr, val, &vm);
		nnp_epoch_info info = { e, o->epochs, loss / (double)train->rows,
		                        (double)hits / (double)train->rows, val ? &vm : NULL,
		                        now_sec() - t0 };
		rep->epochs_run = e;
		rep->train_loss = info.train_loss;
		rep->train_accuracy = info.train_accuracy;
		rep->has_val = val != NULL;
		if (val)
			rep->val = vm;
		if (o->on_epoch && o->on_epoch(&info, o->ctx) != 0) {
			rep->stopped_early = e < o->epochs;
			break;
		}
	}
	return NNP_OK;
}

int nnp_train(nnp_model *m, const nnp_dataset *train, const nnp_dataset *val,
              const nnp_train_opts *o, nnp_train_report *rep, nnp_err *err)
{
	trainer tr;
	nnp_train_report local;
	double t_run = now_sec();
	memset(&tr, 0, sizeof tr);
	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof *rep);
	int rc = check_inputs(m, train, val, o, err);
	if (rc)
		return rc;

	nnp_blas_single_thread();
	size_t batch = o->batch < train->rows ? o->batch : train->rows;
	size_t T = choose_threads(o, batch);
	size_t cap = div_up(batch, T);
	if (val) {
		size_t share = div_up(val->rows, T);
		size_t want = share < TR_EVAL_ROWS ? share : TR_EVAL_ROWS;
		cap = want > cap ? want : cap;
	}
	/* sgemm takes int dimensions: rows x widest must fit. */
	if (cap > INT_MAX / widest(m))
		return nnp_err_set(err, NNP_EUSAGE, "training: batches of %zu rows are too large", cap);
	rep->threads = (unsigned)T;
	if ((rc = trainer_init(&tr, m, o, T, cap, train->rows, err)) != 0)
		goto done;
	if ((rc = threads_start(&tr, err)) != 0)
		goto done;
	/* A saved model maps raw inputs; training works on scaled ones. */
	if (o->model_takes_raw && o->input_scale != 1.0f)
		scale_layer0(m, 1.0f / o->input_scale);
	rc = epoch_loop(&tr, train, val, rep, err);
	/* Fold the scale in on every path, failure included, so that m always
	 * maps raw inputs when we return. */
	if (o->input_scale != 1.0f)
		scale_layer0(m, o->input_scale);
done:
	trainer_free(&tr);
	rep->seconds = now_sec() - t_run;
	return rc;
}

int nnp_train_grad(const nnp_model *m, const float *x, const int32_t *y, size_t rows,
                   float *grad, double *loss, nnp_err *err)
{
	if (rows == 0 || rows > NNP_TRAIN_MAX_BATCH)
		return nnp_err_set(err, NNP_EUSAGE, "gradient: rows must be between 1 and %u (got %zu)",
		                   NNP_TRAIN_MAX_BATCH, rows);
	int rc = nnp_model_validate(m, "model", err);
	if (rc)
		return rc;
	size_t K = nnp_model_outputs(m);
	for (size_t r = 0; r < rows; r++)
		if (y[r] < 0 || (uint64_t)y[r] >= K)
			return nnp_err_set(err, NNP_EINPUT,
			                   "gradient: row %zu: label %ld is out of range (the model has "
			                   "%zu outputs)",
			                   r + 1, (long)y[r], K);
	if (rows > INT_MAX / widest(m))
		return nnp_err_set(err, NNP_EUSAGE, "gradient: %zu rows are too many for this model",
		                   rows);
	size_t *off = NULL, P;
	tr_ws w;
	memset(&w, 0, sizeof w);
	if (layout(m, &off, &P)) {
		rc = nnp_err_set(err, NNP_ENOMEM, "gradient: out of memory");
		goto done;
	}
	rc = ws_init(&w, m, rows, P);
	if (rc) {
		rc = nnp_err_set(err, rc, "gradient: cannot allocate buffers for %zu rows", rows);
		goto done;
	}
	nnp_blas_single_thread();
	/* Through the input preprocessing, as training does. */
	nnp_dataset ds = { rows, m->input_size, (float *)(uintptr_t)x, (int32_t *)(uintptr_t)y };
	ws_gather(&w, &ds, NULL, 0, rows, 1.0f, &m->layers[0]);
	ws_forward(m, &w, rows);
	ws_loss(m, &w, rows, (float)(1.0 / (double)rows));
	ws_backward(m, &w, rows, off);
	memcpy(grad, w.grad, P * sizeof(float));
	if (loss)
		*loss = w.loss / (double)rows;
done:
	ws_free(&w);
	free(off);
	return rc;
}
