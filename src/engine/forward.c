/* The batched forward engine: dense layers through CBLAS, activations as
 * plain loops, per-thread workspaces, and the scoring of outputs. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cblas.h>

#include "nnprune/forward.h"
#include "forward_priv.h"

/* Smallest probability the cross-entropy takes the log of: -log(1e-12) ~ 27.6
 * keeps the loss finite when a float softmax underflows to exactly 0. */
#define NNP_CE_CLAMP 1e-12

/* Layer buffers are aligned for the BLAS kernels and the vector loops. */
#define NNP_ALIGN 64

struct nnp_forward {
	const nnp_model *m;
	size_t max_rows;
	float **out;    /* [n_layers] post-activation outputs, [max_rows][out_l] */
};

void nnp_dense(const nnp_layer *L, const float *x, size_t rows, float *y)
{
	if (rows == 0 || L->out == 0)
		return;
	/* Copying the bias into y and letting sgemm add onto it (beta = 1) costs
	 * one write pass; beta = 0 would make OpenBLAS zero y first and need a
	 * second pass for the bias. */
	for (size_t r = 0; r < rows; r++)
		memcpy(y + r * L->out, L->b, L->out * sizeof *y);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)L->out, (int)L->in,
	            1.0f, x, (int)L->in, L->w, (int)L->in, 1.0f, y, (int)L->out);
}

static void act_relu(float *restrict z, size_t n)
{
	for (size_t i = 0; i < n; i++)
		z[i] = z[i] > 0.0f ? z[i] : 0.0f;
}

/*
 * The loops below are written for the vectoriser, which gives up on a loop
 * where a floating-point operation happens on one arm of a branch only (it
 * might trap). So there are no data-dependent choices but min/max patterns:
 * signs come from copysignf and underflow happens by itself.
 */

static void act_leaky(float *restrict z, size_t n, float alpha)
{
	for (size_t i = 0; i < n; i++) {
		float v = z[i];
		float pos = v > 0.0f ? v : 0.0f, neg = v < 0.0f ? v : 0.0f;
		z[i] = pos + alpha * neg;   /* exact: one of the two terms is 0 */
	}
}

/*
 * e^x and e^x - 1 for x <= 0, inlined into the loops (a call to libm per
 * element is opaque and scalar). x = n ln2 + r, |r| <= ln2/2, with ln2 split
 * in two so that n*LN2_HI is exact; e^r - 1 by its Taylor series to r^7
 * (truncation < 6e-9, below float's rounding), kept without its leading 1 so
 * that e^x - 1 is accurate for small |x| too. 2^n is built in the exponent
 * bits as two halves, each a normal float, so that below about -87 the
 * product fades through the subnormals to 0 on its own. Within a few ulp.
 */
#define LN2_HI 0.693359375f            /* 355/512: 9 significant bits */
#define LN2_LO (-2.12194440e-4f)       /* ln 2 - LN2_HI */
#define LOG2E 1.44269504f
#define EXP_MIN (-104.0f)              /* e^-104 is below the least subnormal */

static inline float pow2i(int32_t k)  /* k in [-126, 127] */
{
	int32_t bits = (k + 127) * (1 << 23);
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

/* max(x, EXP_MIN) for x <= 0 (or NaN), taken on the bit patterns: among
 * non-positive floats a larger magnitude is a larger unsigned pattern. An
 * integer minimum stays a plain min instruction, where a float comparison
 * lets the compiler split the loop into branches it then cannot vectorise. */
static inline float clamp_neg(float x)
{
	uint32_t b, lim;
	float lo = EXP_MIN, c;
	memcpy(&b, &x, sizeof b);
	memcpy(&lim, &lo, sizeof lim);
	b = b < lim ? b : lim;
	memcpy(&c, &b, sizeof c);
	return c;
}

static inline void exp_neg(float x, float *e, float *em1)
{
	float c = clamp_neg(x);
	int32_t n = (int32_t)(c * LOG2E - 0.5f);   /* c <= 0: truncation rounds */
	float nf = (float)n;
	float r = (c - nf * LN2_HI) - nf * LN2_LO;
	float p = 1.0f / 5040.0f;
	p = p * r + 1.0f / 720.0f;
	p = p * r + 1.0f / 120.0f;
	p = p * r + 1.0f / 24.0f;
	p = p * r + 1.0f / 6.0f;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	float pm1 = p * r;                         /* e^r - 1 */
	float s1 = pow2i(n / 2), s2 = pow2i(n - n / 2);
	*e = (s1 + s1 * pm1) * s2;
	*em1 = (s1 * s2 - 1.0f) + (s1 * pm1) * s2; /* exact when n == 0 */
}

/*
 * sigmoid v = 1 / (1 + u) for v >= 0 and u / (1 + u) below, u = e^-|v|:
 * exp never overflows, and very negative v keeps its full relative
 * precision where 1 - sigmoid(|v|) would round to 0. The numerator 1 or u
 * is (1/2 + h) + (1/2 - h) u with h = +-1/2, exactly.
 */
NNP_VEC_CLONES
static void act_sigmoid(float *restrict z, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float v = z[i], u, um1;
		exp_neg(-fabsf(v), &u, &um1);
		float h = copysignf(0.5f, v);
		z[i] = ((0.5f + h) + (0.5f - h) * u) / (1.0f + u);
	}
}

/* tanh |v| = (1 - e) / (1 + e) = -(e - 1) / (2 + (e - 1)) with e = e^(-2|v|):
 * with e - 1 computed directly there is no cancellation near 0. */
NNP_VEC_CLONES
static void act_tanh(float *restrict z, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float v = z[i], e, em1;
		exp_neg(-2.0f * fabsf(v), &e, &em1);
		z[i] = copysignf((0.0f - em1) / (2.0f + em1), v);
	}
}

static void act_softmax_row(float *restrict z, size_t n)
{
	if (n == 0)
		return;
	/* Subtracting the row maximum makes every exponent <= 0: no overflow,
	 * and the largest term is exactly 1 so the sum is >= 1. */
	float mx = z[0];
	for (size_t i = 1; i < n; i++)
		mx = z[i] > mx ? z[i] : mx;
	double sum = 0.0;
	for (size_t i = 0; i < n; i++) {
		z[i] = expf(z[i] - mx);
		sum += z[i];
	}
	float inv = (float)(1.0 / sum);
	for (size_t i = 0; i < n; i++)
		z[i] *= inv;
}

void nnp_activate(nnp_act act, float alpha, float *z, size_t rows, size_t n)
{
	size_t total = rows * n;
	switch (act) {
	case NNP_ACT_RELU: act_relu(z, total); break;
	case NNP_ACT_LEAKY_RELU: act_leaky(z, total, alpha); break;
	case NNP_ACT_SIGMOID: act_sigmoid(z, total); break;
	case NNP_ACT_TANH: act_tanh(z, total); break;
	case NNP_ACT_SOFTMAX:
		for (size_t r = 0; r < rows; r++)
			act_softmax_row(z + r * n, n);
		break;
	case NNP_ACT_LINEAR:
	default:
		break;
	}
}

int nnp_forward_create(nnp_forward **out, const nnp_model *m, size_t max_rows, nnp_err *err)
{
	*out = NULL;
	/* sgemm takes int dimensions. */
	if (max_rows == 0 || max_rows > INT_MAX)
		return nnp_err_set(err, NNP_EUSAGE, "batch of %zu rows: must be between 1 and %d",
		                   max_rows, INT_MAX);
	if (!m || m->n_layers == 0)
		return nnp_err_set(err, NNP_EUSAGE, "forward: the model has no layers");
	nnp_forward *f = calloc(1, sizeof *f);
	if (!f)
		return nnp_err_set(err, NNP_ENOMEM, "forward workspace: out of memory");
	f->m = m;
	f->max_rows = max_rows;
	f->out = calloc(m->n_layers, sizeof *f->out);
	if (!f->out)
		goto nomem;
	for (size_t l = 0; l < m->n_layers; l++) {
		size_t width = m->layers[l].out;
		if (width > (SIZE_MAX - NNP_ALIGN) / sizeof(float) / max_rows) {
			nnp_forward_free(f);
			return nnp_err_set(err, NNP_EUSAGE,
			                   "forward: layer %zu: %zu rows of %zu outputs overflow memory",
			                   l, max_rows, width);
		}
		size_t bytes = max_rows * width * sizeof(float);
		/* aligned_alloc wants a multiple of the alignment; width may be 0
		 * only in a model that failed validation, so never ask for 0. */
		bytes = (bytes + NNP_ALIGN - 1) / NNP_ALIGN * NNP_ALIGN;
		if (bytes == 0)
			bytes = NNP_ALIGN;
		f->out[l] = aligned_alloc(NNP_ALIGN, bytes);
		if (!f->out[l])
			goto nomem;
	}
	*out = f;
	return NNP_OK;
nomem:
	nnp_forward_free(f);
	return nnp_err_set(err, NNP_ENOMEM, "forward workspace for %zu rows: out of memory", max_rows);
}

void nnp_forward_free(nnp_forward *f)
{
	if (!f)
		return;
	if (f->out)
		for (size_t l = 0; l < f->m->n_layers; l++)
			free(f->out[l]);
	free(f->out);
	free(f);
}

const float *nnp_forward_step(nnp_forward *f, size_t l, const float *x, size_t rows)
{
	const nnp_model *m = f->m;
	if (l >= m->n_layers)
		return NULL;
	if (rows > f->max_rows)
		rows = f->max_rows;  /* the contract forbids it; never write past the buffers */
	const nnp_layer *L = &m->layers[l];
	nnp_dense(L, l ? f->out[l - 1] : x, rows, f->out[l]);
	nnp_activate(L->act, L->alpha, f->out[l], rows, L->out);
	return f->out[l];
}

const float *nnp_forward_run(nnp_forward *f, const float *x, size_t rows)
{
	const float *y = NULL;
	for (size_t l = 0; l < f->m->n_layers; l++)
		y = nnp_forward_step(f, l, x, rows);
	return y;
}

const float *nnp_forward_layer(const nnp_forward *f, size_t l)
{
	return l < f->m->n_layers ? f->out[l] : NULL;
}

double nnp_metrics_accuracy(const nnp_metrics *mt)
{
	return mt->labelled ? (double)mt->correct / (double)mt->labelled : 0.0;
}

double nnp_metrics_loss(const nnp_metrics *mt)
{
	return mt->labelled ? mt->loss_sum / (double)mt->labelled : 0.0;
}

void nnp_metrics_merge(nnp_metrics *a, const nnp_metrics *b)
{
	a->rows += b->rows;
	a->labelled += b->labelled;
	a->correct += b->correct;
	a->loss_sum += b->loss_sum;
	a->nonfinite += b->nonfinite;
	if (b->rows)
		a->mse = b->mse;
}

size_t nnp_argmax(const float *o, size_t n)
{
	size_t best = 0;
	for (size_t j = 1; j < n; j++)
		if (o[j] > o[best])
			best = j;
	return best;
}

/* Mean over the outputs of the squared error against the one-hot label, so
 * the figure does not grow with the number of classes. A label outside the
 * outputs has no hot position: every output is an error. */
static double row_mse(const float *o, size_t n, int64_t label)
{
	double s = 0.0;
	for (size_t j = 0; j < n; j++) {
		double t = (int64_t)j == label ? 1.0 : 0.0;
		double d = (double)o[j] - t;
		s += d * d;
	}
	return n ? s / (double)n : 0.0;
}

/* -log p(label), with p clamped to NNP_CE_CLAMP so that a confidently wrong
 * row costs a large but finite amount. */
static double row_ce(const float *o, size_t n, int64_t label)
{
	double p = label >= 0 && (uint64_t)label < n ? (double)o[label] : 0.0;
	return -log(p > NNP_CE_CLAMP ? p : NNP_CE_CLAMP);
}

/*
 * A negative label means "no label" for that row. A label >= n_out is
 * scored (wrong, worst loss) but kept out of the confusion matrix, which has
 * no row for it; nnp_run rejects such labels before they get here.
 */
void nnp_metrics_add(nnp_metrics *mt, nnp_act out_act, const float *out, size_t rows,
                     size_t n_out, const int32_t *labels, int32_t *pred, uint64_t *confusion)
{
	int ce = out_act == NNP_ACT_SOFTMAX;
	mt->mse = !ce;
	mt->rows += rows;
	if (n_out == 0)
		return;
	for (size_t r = 0; r < rows; r++) {
		const float *o = out + r * n_out;
		for (size_t j = 0; j < n_out; j++)
			if (!isfinite(o[j])) {
				mt->nonfinite++;
				break;
			}
		size_t best = nnp_argmax(o, n_out);
		if (pred)
			pred[r] = (int32_t)best;
		if (!labels || labels[r] < 0)
			continue;
		int64_t lab = labels[r];
		mt->labelled++;
		if ((uint64_t)lab == best)
			mt->correct++;
		mt->loss_sum += ce ? row_ce(o, n_out, lab) : row_mse(o, n_out, lab);
		if (confusion && (uint64_t)lab < n_out)
			confusion[(size_t)lab * n_out + best]++;
	}
}

void nnp_blas_single_thread(void)
{
	openblas_set_num_threads(1);
}
