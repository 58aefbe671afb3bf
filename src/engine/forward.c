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
#include "mem.h"

/* Smallest probability the cross-entropy takes the log of: -log(1e-12) ~ 27.6
 * keeps the loss finite when a float softmax underflows to exactly 0. */
#define NNP_CE_CLAMP 1e-12

/* Layer buffers are aligned for the BLAS kernels and the vector loops. */
#define NNP_ALIGN 64

struct nnp_forward {
	const nnp_model *m;
	size_t max_rows;
	float **out;    /* [n_layers] post-activation outputs, [max_rows][out_l] */
	nnp_csr **csr;  /* [n_layers] sparse copies of the sparse layers, else NULL */
	float *scratch; /* nnp_sparse's, for the widest sparse layer */
	size_t n_sparse;
};

static void dense_plain(const nnp_layer *L, const float *x, size_t rows, float *y)
{
	/* Copying the bias into y and letting sgemm add onto it (beta = 1) costs
	 * one write pass; beta = 0 would make OpenBLAS zero y first and need a
	 * second pass for the bias. */
	for (size_t r = 0; r < rows; r++)
		memcpy(y + r * L->out, L->b, L->out * sizeof *y);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)L->out, (int)L->in,
	            1.0f, x, (int)L->in, L->w, (int)L->in, 1.0f, y, (int)L->out);
}

/* Preprocessed inputs are built on the stack, this many floats at a time. */
#define PREP_BLOCK 4096

/* dst[i] = (src[i] - offset[c0 + i]) * scale[c0 + i] for n columns from c0. */
static void prep_cols(const nnp_layer *L, const float *src, size_t c0, size_t n, float *dst)
{
	for (size_t i = 0; i < n; i++) {
		float v = src[i];
		if (L->pre_offset)
			v -= L->pre_offset[c0 + i];
		if (L->pre_scale)
			v *= L->pre_scale[c0 + i];
		dst[i] = v;
	}
}

/* Layer 0 with input preprocessing: the rows go through a stack buffer in
 * blocks (no allocation); a row wider than the buffer goes column block by
 * column block through sgemv. */
static void dense_prep(const nnp_layer *L, const float *x, size_t rows, float *y)
{
	float buf[PREP_BLOCK];
	size_t in = L->in, out = L->out;
	if (in <= PREP_BLOCK) {
		size_t per = PREP_BLOCK / in;
		for (size_t r0 = 0; r0 < rows; r0 += per) {
			size_t n = rows - r0 < per ? rows - r0 : per;
			for (size_t r = 0; r < n; r++)
				prep_cols(L, x + (r0 + r) * in, 0, in, buf + r * in);
			dense_plain(L, buf, n, y + r0 * out);
		}
		return;
	}
	for (size_t r = 0; r < rows; r++) {
		float *yr = y + r * out;
		memcpy(yr, L->b, out * sizeof *yr);
		for (size_t c0 = 0; c0 < in; c0 += PREP_BLOCK) {
			size_t n = in - c0 < PREP_BLOCK ? in - c0 : PREP_BLOCK;
			prep_cols(L, x + r * in + c0, c0, n, buf);
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)out, (int)n, 1.0f, L->w + c0,
			            (int)in, buf, 1, 1.0f, yr, 1);
		}
	}
}

void nnp_dense(const nnp_layer *L, const float *x, size_t rows, float *y)
{
	if (rows == 0 || L->out == 0)
		return;
	if (L->pre_offset || L->pre_scale)
		dense_prep(L, x, rows, y);
	else
		dense_plain(L, x, rows, y);
}

/* ---- sparse layers ---- */

/* Batch rows per block of the sparse kernel: the block's inputs, transposed,
 * are [in][SPARSE_ROWS] floats (100 KiB for 784 inputs), kept in cache while
 * every output row of the layer reads from them, and the block's
 * accumulators fit in 8 SSE (4 AVX) registers. 32 measured faster than 16,
 * 64 or 128 on the bench's layers. */
#ifndef SPARSE_ROWS
#define SPARSE_ROWS 32
#endif

int nnp_csr_from_layer(nnp_csr **out, const nnp_layer *L, nnp_err *err)
{
	*out = NULL;
	size_t nnz = nnp_layer_nonzeros(L);
	nnp_csr *c = calloc(1, sizeof *c);
	if (c) {
		c->row_ptr = malloc((L->out + 1) * sizeof *c->row_ptr);
		c->cols = malloc((nnz ? nnz : 1) * sizeof *c->cols);
		c->vals = malloc((nnz ? nnz : 1) * sizeof *c->vals);
	}
	if (!c || !c->row_ptr || !c->cols || !c->vals) {
		nnp_csr_free(c);
		return nnp_err_set(err, NNP_ENOMEM, "sparse copy of a %zu x %zu layer: out of memory",
		                   L->out, L->in);
	}
	c->in = L->in;
	c->out = L->out;
	c->nnz = nnz;
	c->b = L->b;
	size_t k = 0;
	c->row_ptr[0] = 0;
	for (size_t o = 0; o < L->out; o++) {
		const float *w = L->w + o * L->in;
		for (size_t j = 0; j < L->in; j++)
			if (w[j] != 0.0f) {
				c->cols[k] = (uint32_t)j;
				c->vals[k++] = w[j];
			}
		c->row_ptr[o + 1] = (uint32_t)k;
	}
	*out = c;
	return NNP_OK;
}

void nnp_csr_free(nnp_csr *c)
{
	if (!c)
		return;
	NNP_FREE_ALL(c->row_ptr, c->cols, c->vals, c);
}

size_t nnp_sparse_scratch(size_t in)
{
	return in * SPARSE_ROWS;
}

/*
 * One block of SPARSE_ROWS rows whose inputs are xt [in][SPARSE_ROWS] (rows
 * past the batch's end hold zeros): for each output, acc[r] = b + v_1
 * x[r][c_1] + v_2 x[r][c_2] + ..., one axpy over the block per stored weight,
 * the terms added in the row's column order. The block length is a constant,
 * so the block's accumulators stay in vector registers. GCC's unroll-and-jam
 * would fuse pairs of weights into a scalar loop that runs 10x slower, so it
 * is turned off here. The first n rows go to y, whose rows are `ld` floats
 * apart.
 */
#if defined(__GNUC__) && !defined(__clang__)
#define NNP_NO_JAM __attribute__((optimize("no-loop-unroll-and-jam")))
#else
#define NNP_NO_JAM
#endif
NNP_VEC_CLONES NNP_NO_JAM
static void sparse_block(const nnp_csr *c, const float *restrict xt, size_t n,
                         float *restrict y, size_t ld)
{
	float acc[SPARSE_ROWS];
	for (size_t o = 0; o < c->out; o++) {
		float b = c->b[o];
		for (size_t r = 0; r < SPARSE_ROWS; r++)
			acc[r] = b;
		for (uint32_t k = c->row_ptr[o]; k < c->row_ptr[o + 1]; k++) {
			const float v = c->vals[k];
			const float *restrict xr = xt + (size_t)c->cols[k] * SPARSE_ROWS;
			for (size_t r = 0; r < SPARSE_ROWS; r++)
				acc[r] += v * xr[r];
		}
		for (size_t r = 0; r < n; r++)
			y[r * ld + o] = acc[r];
	}
}

void nnp_sparse(const nnp_csr *c, const float *x, size_t rows, float *y, float *scratch)
{
	float *xt = scratch;
	for (size_t r0 = 0; r0 < rows; r0 += SPARSE_ROWS) {
		size_t n = rows - r0 < SPARSE_ROWS ? rows - r0 : SPARSE_ROWS;
		const float *xb = x + r0 * c->in;
		if (n < SPARSE_ROWS)
			memset(xt, 0, c->in * SPARSE_ROWS * sizeof *xt);
		/* Written in order; the n rows read stay in L1 while j walks them. */
		for (size_t j = 0; j < c->in; j++)
			for (size_t r = 0; r < n; r++)
				xt[j * SPARSE_ROWS + r] = xb[r * c->in + j];
		sparse_block(c, xt, n, y + r0 * c->out, c->out);
	}
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

/* The sparse copies of the layers sparse enough for nnp_sparse to win. */
static int sparse_copies(nnp_forward *f, nnp_err *err)
{
	const nnp_model *m = f->m;
	size_t widest = 0;
	f->csr = calloc(m->n_layers, sizeof *f->csr);
	if (!f->csr)
		return nnp_err_set(err, NNP_ENOMEM, "forward workspace: out of memory");
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		double size = (double)L->in * (double)L->out;
		/* nnp_sparse takes its inputs as they are: a layer with input
		 * preprocessing (layer 0) stays with nnp_dense, which applies it. */
		if (L->out < NNP_SPARSE_MIN_OUTPUTS || L->pre_offset || L->pre_scale ||
		    (double)nnp_layer_nonzeros(L) > NNP_SPARSE_MAX_DENSITY * size)
			continue;
		int rc = nnp_csr_from_layer(&f->csr[l], L, err);
		if (rc)
			return rc;
		f->n_sparse++;
		widest = L->in > widest ? L->in : widest;
	}
	if (f->n_sparse && !(f->scratch = malloc(nnp_sparse_scratch(widest) * sizeof(float))))
		return nnp_err_set(err, NNP_ENOMEM, "forward workspace: out of memory");
	return NNP_OK;
}

size_t nnp_forward_sparse_layers(const nnp_forward *f)
{
	return f->n_sparse;
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
	if (sparse_copies(f, err)) {
		nnp_forward_free(f);
		return err ? err->status : NNP_ENOMEM;
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
	if (f->csr)
		for (size_t l = 0; l < f->m->n_layers; l++)
			nnp_csr_free(f->csr[l]);
	NNP_FREE_ALL(f->out, f->csr, f->scratch, f);
}

const float *nnp_forward_step(nnp_forward *f, size_t l, const float *x, size_t rows)
{
	const nnp_model *m = f->m;
	if (l >= m->n_layers)
		return NULL;
	if (rows > f->max_rows)
		rows = f->max_rows;  /* the contract forbids it; never write past the buffers */
	const nnp_layer *L = &m->layers[l];
	if (f->csr[l])
		nnp_sparse(f->csr[l], l ? f->out[l - 1] : x, rows, f->out[l], f->scratch);
	else
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
/* -log softmax(z)[label] from the logits, in double: log-sum-exp minus the
 * label's logit, as PyTorch's CrossEntropyLoss computes it. */
static double row_ce_logits(const float *z, size_t n, int64_t label)
{
	if (label < 0 || (uint64_t)label >= n)
		return -log(NNP_CE_CLAMP);
	double zmax = z[0], s = 0.0;
	for (size_t j = 1; j < n; j++)
		zmax = z[j] > zmax ? z[j] : zmax;
	for (size_t j = 0; j < n; j++)
		s += exp((double)z[j] - zmax);
	return log(s) + zmax - (double)z[label];
}

nnp_act nnp_score_kind(const nnp_model *m)
{
	return nnp_model_logits(m) ? NNP_SCORE_LOGITS : m->layers[m->n_layers - 1].act;
}

void nnp_metrics_add(nnp_metrics *mt, nnp_act out_act, const float *out, size_t rows,
                     size_t n_out, const int32_t *labels, int32_t *pred, uint64_t *confusion)
{
	int logits = out_act == NNP_SCORE_LOGITS;
	int ce = out_act == NNP_ACT_SOFTMAX || logits;
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
		mt->loss_sum += logits ? row_ce_logits(o, n_out, lab)
		                : ce ? row_ce(o, n_out, lab) : row_mse(o, n_out, lab);
		if (confusion && (uint64_t)lab < n_out)
			confusion[(size_t)lab * n_out + best]++;
	}
}

/*
 * OpenBLAS starts a thread pool when it is loaded; its threads spin in
 * sched_yield for a while after starting and after every threaded call,
 * taking a core from nnprune's own workers. nnprune never gives OpenBLAS more
 * than one thread, so the pool is stopped. blas_thread_shutdown_ is exported
 * by OpenBLAS (it is its fork handler) but not in its headers: declared weak,
 * so that another BLAS links without it. OpenBLAS starts the pool again by
 * itself should a caller later ask it for more threads.
 */
#if defined(__GNUC__) && defined(__ELF__)
extern int blas_thread_shutdown_(void) __attribute__((weak));
#define NNP_BLAS_SHUTDOWN 1
#endif

void nnp_blas_single_thread(void)
{
	openblas_set_num_threads(1);
#ifdef NNP_BLAS_SHUTDOWN
	if (blas_thread_shutdown_)
		blas_thread_shutdown_();
#endif
}
