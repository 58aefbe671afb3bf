/* The forward/backward engine: a workspace per thread, the forward pass
 * keeping what the backward pass needs, the loss and its gradient, and
 * backpropagation through CBLAS (include/nnprune/backprop.h). */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "nnprune/backprop.h"
#include "nnprune/train.h"
#include "forward_priv.h"
#include "mem.h"

/* Every buffer starts on a cache line: SIMD loads stay aligned and two
 * threads never write the same line. */
#define BP_ALIGN 64u
#define BP_LINE_FLOATS (BP_ALIGN / sizeof(float))

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
	if (count > SIZE_MAX - BP_LINE_FLOATS)
		return -1;
	size_t r = (count + BP_LINE_FLOATS - 1) / BP_LINE_FLOATS * BP_LINE_FLOATS;
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

void nnp_backprop_free(nnp_backprop *w)
{
	if (!w)
		return;
	NNP_FREE_ALL(w->mem, w->z, w->a);
	memset(w, 0, sizeof *w);
}

int nnp_backprop_init(nnp_backprop *w, const nnp_model *m, size_t cap, size_t params)
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
	if (posix_memalign(&w->mem, BP_ALIGN, total * sizeof(float)) != 0) {
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
		nnp_backprop_free(w);
	return rc;
}

size_t nnp_backprop_max_rows(const nnp_model *m)
{
	return (size_t)INT_MAX / widest(m);
}

/* --------------------------------------------------------------- kernels -- */

void nnp_backprop_input(const nnp_layer *L0, const float *restrict src, float *restrict dst,
                        float scale)
{
	size_t F = L0->in;
	const float *off = L0->pre_offset, *sc = L0->pre_scale;
	if (off || sc) {
		for (size_t j = 0; j < F; j++)
			dst[j] = ((src[j] - (off ? off[j] : 0.0f)) * (sc ? sc[j] : 1.0f)) * scale;
	} else {
		for (size_t j = 0; j < F; j++)
			dst[j] = src[j] * scale;
	}
}

void nnp_backprop_forward(nnp_backprop *w, const nnp_model *m, size_t n)
{
	const float *in = w->x;
	for (size_t l = 0; l < m->n_layers; l++) {
		nnp_layer plain = m->layers[l];
		const nnp_layer *L = &plain;
		/* w->x holds preprocessed rows already (nnp_backprop_input). */
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

void nnp_backprop_loss(nnp_backprop *w, const nnp_model *m, size_t n, float inv_n,
                       double *loss_sum, uint64_t *correct)
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
		hits += nnp_argmax(a, K) == c;
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
	*loss_sum = loss;
	*correct = hits;
}

static void col_sums(const float *restrict d, size_t n, size_t k, float *restrict out)
{
	memset(out, 0, k * sizeof *out);
	for (size_t r = 0; r < n; r++)
		for (size_t j = 0; j < k; j++)
			out[j] += d[r * k + j];
}

void nnp_backprop_backward(nnp_backprop *w, const nnp_model *m, size_t n, const size_t *off,
                           nnp_dact_fn on_dact, void *ctx)
{
	float *d = w->d0, *e = w->d1;
	for (size_t l = m->n_layers; l-- > 0;) {
		const nnp_layer *L = &m->layers[l];
		int in = (int)L->in, out = (int)L->out, rows = (int)n;
		if (w->grad) {
			const float *xin = l ? w->a[l - 1] : w->x;
			float *gw = w->grad + off[l];
			/* dW = dZ^T X: [out][in], row-major like W. Added onto a buffer
			 * the optimizer left zeroed: with beta = 0 OpenBLAS would spend a
			 * whole extra pass over the weights zeroing it. */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows, 1.0f, d, out,
			            xin, in, 1.0f, gw, in);
			col_sums(d, n, L->out, gw + L->in * L->out);
		}
		if (l == 0)
			break;
		/* dA = dZ W: [n][in], the gradient w.r.t. the previous layer's
		 * output; then through its activation. */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, d, out,
		            L->w, in, 0.0f, e, in);
		if (on_dact)
			on_dact(ctx, l - 1, w->a[l - 1], e, n, L->in);
		act_backward(&m->layers[l - 1], w->z[l - 1], w->a[l - 1], e, n * L->in);
		float *t = d;
		d = e;
		e = t;
	}
}

int nnp_param_layout(const nnp_model *m, size_t **off, size_t *P)
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
	if (rows > nnp_backprop_max_rows(m))
		return nnp_err_set(err, NNP_EUSAGE, "gradient: %zu rows are too many for this model",
		                   rows);
	size_t *off = NULL, P;
	nnp_backprop w;
	memset(&w, 0, sizeof w);
	if (nnp_param_layout(m, &off, &P)) {
		rc = nnp_err_set(err, NNP_ENOMEM, "gradient: out of memory");
		goto done;
	}
	rc = nnp_backprop_init(&w, m, rows, P);
	if (rc) {
		rc = nnp_err_set(err, rc, "gradient: cannot allocate buffers for %zu rows", rows);
		goto done;
	}
	nnp_blas_single_thread();
	/* Through the input preprocessing, as training does. */
	for (size_t r = 0; r < rows; r++)
		nnp_backprop_input(&m->layers[0], x + r * m->input_size, w.x + r * m->input_size,
		                   1.0f);
	memcpy(w.y, y, rows * sizeof(int32_t));
	nnp_backprop_forward(&w, m, rows);
	double sum;
	uint64_t hits;
	nnp_backprop_loss(&w, m, rows, (float)(1.0 / (double)rows), &sum, &hits);
	nnp_backprop_backward(&w, m, rows, off, NULL, NULL);
	memcpy(grad, w.grad, P * sizeof(float));
	if (loss)
		*loss = sum / (double)rows;
done:
	nnp_backprop_free(&w);
	free(off);
	return rc;
}
