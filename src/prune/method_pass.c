/* The streaming passes of the pruning methods: batches of calibration rows
 * run through the original and the partly pruned network on our threads,
 * their sums added in batch order so that no result depends on the thread
 * count. */
#include <math.h>
#include <string.h>
#include <cblas.h>

#include "nnprune/backprop.h"
#include "nnprune/forward.h"
#include "nnprune/rows.h"
#include "method_priv.h"

typedef struct mth_pass {
	nnp_method_ctx *c;
	int kind;
	size_t layer;
	const mth_variant *var;
	size_t n_var;
	size_t acc_len;
	const float *x;    /* the rows at hand: all of them, or a streamed chunk */
	size_t rows;
	size_t n_batches;  /* of those rows */
} mth_pass;

/* The widths of stat layer t: its activations h (n) and the original next
 * pre-activations z (m); MTH_INPUT: the rows and layer 0. */
static void stat_dims(const nnp_method_ctx *c, size_t t, size_t *n, size_t *m)
{
	*n = t == MTH_INPUT ? c->m->input_size : c->m->layers[t].out;
	*m = c->m->layers[t == MTH_INPUT ? 0 : t + 1].out;
}

size_t nnp_mth_stat_len(const nnp_method_ctx *c, size_t l)
{
	size_t n, m;
	stat_dims(c, l, &n, &m);
	/* ... then the counts of exact zeros. */
	return (c->full ? n + m + n * n + n * m : 2 * n) + n;
}

size_t nnp_mth_shift_len(const nnp_method_ctx *c, size_t l)
{
	size_t n, m;
	stat_dims(c, l, &n, &m);
	return c->full ? n + m : n;
}

/* ---- forward pieces ---------------------------------------------------- */

/* Original layers 0..n_dense-1 into w->z, activations of 0..n_act-1 into w->a
 * (n_act >= n_dense - 1: each dense layer reads the previous activation). */
static void orig_forward(const nnp_method_ctx *c, mth_ws *w, const float *x, size_t rows,
                         size_t n_dense, size_t n_act)
{
	const float *in = x;
	for (size_t i = 0; i < n_dense; i++) {
		const nnp_layer *L = &c->m->layers[i];
		nnp_dense(L, in, rows, w->z[i]);
		if (i < n_act) {
			memcpy(w->a[i], w->z[i], rows * L->out * sizeof(float));
			nnp_activate(L->act, L->alpha, w->a[i], rows, L->out);
			in = w->a[i];
		}
	}
}

/* Copies columns idx[0..k) of src [rows][n] into dst [rows][k]. */
static void gather(const float *restrict src, size_t rows, size_t n, const size_t *idx, size_t k,
                   float *restrict dst)
{
	for (size_t r = 0; r < rows; r++) {
		const float *s = src + r * n;
		float *d = dst + r * k;
		for (size_t i = 0; i < k; i++)
			d[i] = s[idx[i]];
	}
}

/*
 * The pruned network up to hidden layer l (all of its n_l neurons). Layer 0
 * is never refit, so its kept outputs are the original's, gathered.
 */
static void work_forward(const nnp_method_ctx *c, mth_ws *w, size_t rows, size_t l)
{
	if (l == 0) {
		w->h = w->a[0];
		return;
	}
	gather(w->a[0], rows, c->m->layers[0].out, c->kept[0], c->count[0], w->g);
	float *cur = w->g, *nxt = w->p;
	for (size_t i = 1; i <= l; i++) {
		const nnp_layer *L = &c->wl[i];
		nnp_dense(L, cur, rows, nxt);
		nnp_activate(L->act, L->alpha, nxt, rows, L->out);
		/* After the first layer the ping-pong pair is p and q. */
		float *t = cur == w->g ? w->q : cur;
		cur = nxt;
		nxt = t;
	}
	w->h = cur;
}

/* The network under refit (sparse): c->wl[0..l], every layer full width,
 * from the rows; w->h its layer l activations. */
static void sparse_forward(const nnp_method_ctx *c, mth_ws *w, const float *x, size_t rows,
                           size_t l)
{
	const float *cur = x;
	float *nxt = w->p;
	for (size_t i = 0; i <= l; i++) {
		const nnp_layer *L = &c->wl[i];
		nnp_dense(L, cur, rows, nxt);
		nnp_activate(L->act, L->alpha, nxt, rows, L->out);
		cur = nxt;
		nxt = nxt == w->p ? w->q : w->p;
	}
	w->h = cur;
}

/* Runs batch b's forward for the pass; returns its row count. */
static size_t batch_forward(const mth_pass *P, mth_ws *w, size_t b)
{
	const nnp_method_ctx *c = P->c;
	size_t r0 = b * c->batch;
	size_t rows = P->rows - r0 < c->batch ? P->rows - r0 : c->batch;
	const float *x = P->x + r0 * c->m->input_size;
	size_t L = c->L;
	switch (P->kind) {
	case MTH_PASS_ORIG:
		orig_forward(c, w, x, rows, c->full ? L : c->H, c->H);
		break;
	case MTH_PASS_INPUT: {
		/* Layer 0's inputs are the rows after its preprocessing. */
		const nnp_layer *L0 = &c->m->layers[0];
		size_t in = L0->in;
		orig_forward(c, w, x, rows, 1, 0);
		w->h = x;
		if (L0->pre_offset || L0->pre_scale) {
			for (size_t r = 0; r < rows; r++)
				nnp_backprop_input(L0, x + r * in, w->g + r * in, 1.0f);
			w->h = w->g;
		}
		break;
	}
	case MTH_PASS_WORK:
		if (c->full)
			orig_forward(c, w, x, rows, P->layer + 2, P->layer + 1);
		else
			orig_forward(c, w, x, rows, 1, 1);
		if (c->sparse)
			sparse_forward(c, w, x, rows, P->layer);
		else
			work_forward(c, w, rows, P->layer);
		break;
	default: {
		int soft = c->m->layers[L - 1].act == NNP_ACT_SOFTMAX;
		orig_forward(c, w, x, rows, L, soft ? L - 1 : L);
		break;
	}
	}
	return rows;
}

/* ---- statistics --------------------------------------------------------- */

/* The activations (h, n wide) and original next pre-activations (z, m wide)
 * that stat layer t of the pass accumulates. */
static void pass_hz(const mth_pass *P, const mth_ws *w, size_t t, const float **h,
                    const float **z)
{
	if (P->kind == MTH_PASS_ORIG) {
		*h = w->a[t];
		*z = w->z[t + 1];
	} else {
		*h = w->h;
		*z = w->z[P->kind == MTH_PASS_INPUT ? 0 : P->layer + 1];
	}
}

/*
 * One batch of one layer. Rows are shifted by a reference (batch 0's mean)
 * before the products, so that the covariance is not the small difference
 * of two large sums.
 */
/* d = x - shift for rows of width n, and their column sums added to sum. */
static void shift_rows(const float *x, size_t rows, size_t n, const double *shift, double *d,
                       double *sum)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * n;
		double *dr = d + r * n;
		for (size_t j = 0; j < n; j++) {
			dr[j] = (double)xr[j] - shift[j];
			sum[j] += dr[j];
		}
	}
}

static void stat_batch(const float *h, const float *z, size_t rows, size_t n, size_t m, int full,
                       const double *sh, double *part, double *hd, double *zd)
{
	double *zc = part + (full ? n + m + n * n + n * m : 2 * n);
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < n; j++)
			zc[j] += h[r * n + j] == 0.0f;
	shift_rows(h, rows, n, sh, hd, part);
	if (!full) {
		double *sq = part + n;
		for (size_t r = 0; r < rows; r++) {
			const double *d = hd + r * n;
			for (size_t j = 0; j < n; j++)
				sq[j] += d[j] * d[j];
		}
		return;
	}
	double *sum_z = part + n, *S = sum_z + m, *X = S + n * n;
	shift_rows(z, rows, m, sh + n, zd, sum_z);
	/* Only S's upper triangle is written (and read back). */
	cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n, (int)rows, 1.0, hd, (int)n, 0.0, S,
	            (int)n);
	cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)m, (int)rows, 1.0, hd,
	            (int)n, zd, (int)m, 0.0, X, (int)m);
}

/* Stat layers of a pass: every hidden layer (ORIG), else P->layer alone. */
static size_t pass_layers(const mth_pass *P)
{
	return P->kind == MTH_PASS_ORIG ? P->c->H : 1;
}

static size_t pass_layer(const mth_pass *P, size_t i)
{
	return P->kind == MTH_PASS_ORIG ? i : P->kind == MTH_PASS_INPUT ? MTH_INPUT : P->layer;
}

static void stats_of_batch(const mth_pass *P, mth_ws *w, size_t rows)
{
	const nnp_method_ctx *c = P->c;
	memset(w->part, 0, P->acc_len * sizeof *w->part);
	for (size_t i = 0; i < pass_layers(P); i++) {
		size_t t = pass_layer(P, i), n, m;
		const float *h, *z;
		pass_hz(P, w, t, &h, &z);
		stat_dims(c, t, &n, &m);
		size_t off = P->kind == MTH_PASS_ORIG ? c->off[t] : 0;
		size_t soff = P->kind == MTH_PASS_ORIG ? c->soff[t] : 0;
		stat_batch(h, z, rows, n, m, c->full, c->shift + soff, w->part + off, w->hd, w->zd);
	}
}

/* Column means of a [rows][n] block. */
static void col_mean(const float *h, size_t rows, size_t n, double *out)
{
	for (size_t j = 0; j < n; j++)
		out[j] = 0.0;
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < n; j++)
			out[j] += (double)h[r * n + j];
	for (size_t j = 0; j < n; j++)
		out[j] /= (double)rows;
}

/* The reference shifts, from batch 0, computed before any thread starts. */
static void pass_shifts(const mth_pass *P, mth_ws *w)
{
	const nnp_method_ctx *c = P->c;
	size_t rows = batch_forward(P, w, 0);
	for (size_t i = 0; i < pass_layers(P); i++) {
		size_t t = pass_layer(P, i), n, m;
		const float *h, *z;
		pass_hz(P, w, t, &h, &z);
		stat_dims(c, t, &n, &m);
		double *s = c->shift + (P->kind == MTH_PASS_ORIG ? c->soff[t] : 0);
		col_mean(h, rows, n, s);
		if (c->full)
			col_mean(z, rows, m, s + n);
	}
}

/* ---- divergence of the variants ----------------------------------------- */

static double log_sum_exp(const float *z, size_t n)
{
	double mx = z[0];
	for (size_t i = 1; i < n; i++)
		mx = z[i] > mx ? z[i] : mx;
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += exp((double)z[i] - mx);
	return mx + log(s);
}

/* KL(softmax(zo) || softmax(zq)) from the logits, in double, so that an
 * output rounding to 0 in float costs its true amount, not infinity. */
static double kl_logits(const float *zo, const float *zq, size_t n)
{
	double lo = log_sum_exp(zo, n), lq = log_sum_exp(zq, n), kl = 0.0;
	for (size_t i = 0; i < n; i++) {
		double a = (double)zo[i] - lo, b = (double)zq[i] - lq;
		kl += exp(a) * (a - b);
	}
	return kl;
}

static void variant_batch(const mth_pass *P, mth_ws *w, size_t rows)
{
	const nnp_method_ctx *c = P->c;
	const nnp_model *m = c->m;
	size_t L = c->L, out = m->layers[L - 1].out;
	const nnp_layer *last = &m->layers[L - 1];
	int soft = last->act == NNP_ACT_SOFTMAX;
	for (size_t v = 0; v < P->n_var; v++) {
		const mth_variant *V = &P->var[v];
		size_t l = V->layer;
		gather(w->a[l], rows, m->layers[l].out, V->idx, V->k, w->g);
		const nnp_layer *nx = &m->layers[l + 1];
		nnp_layer T = { V->k, nx->out, nx->act, nx->alpha, V->w, V->b, NULL, NULL };
		nnp_dense(&T, w->g, rows, w->p);
		float *cur = w->p, *nxt = w->q;
		for (size_t i = l + 1; i < L; i++) {
			if (i > l + 1) {
				nnp_dense(&m->layers[i], cur, rows, nxt);
				float *t = cur;
				cur = nxt;
				nxt = t;
			}
			if (i < L - 1)
				nnp_activate(m->layers[i].act, m->layers[i].alpha, cur, rows,
				             m->layers[i].out);
		}
		double s = 0.0;
		if (soft) {
			for (size_t r = 0; r < rows; r++)
				s += kl_logits(w->z[L - 1] + r * out, cur + r * out, out);
		} else {
			nnp_activate(last->act, last->alpha, cur, rows, out);
			const float *ao = w->a[L - 1];
			for (size_t r = 0; r < rows; r++) {
				double e = 0.0;
				for (size_t i = 0; i < out; i++) {
					double d = (double)cur[r * out + i] - (double)ao[r * out + i];
					e += d * d;
				}
				s += e / (double)out;
			}
		}
		w->part[v] = s;
	}
}

/* ---- the pass: batches on the pool, sums added in batch order ---------- */

static void batch_task(void *ctx, size_t b, unsigned worker)
{
	mth_pass *P = ctx;
	mth_ws *w = &P->c->ws[worker];
	size_t rows = batch_forward(P, w, b);
	if (P->kind == MTH_PASS_EVAL)
		variant_batch(P, w, rows);
	else
		stats_of_batch(P, w, rows);
}

static void batch_merge(void *ctx, size_t b, unsigned worker)
{
	(void)b;
	mth_pass *P = ctx;
	const double *part = P->c->ws[worker].part;
	for (size_t i = 0; i < P->acc_len; i++)
		P->c->acc[i] += part[i];
}

/* Runs the batches of the rows at hand (P->x) on the context's pool. */
static void run_rows(mth_pass *P)
{
	nnp_pfor_job job = { batch_task, batch_merge, P };
	nnp_pool_for(P->c->pool, P->n_batches, &job);
}

/* The pass over a streamed file, a chunk at a time. Chunks are whole
 * batches, so batch b of the file is batch b of the rows in memory; the row
 * source checks the file's stamp and count. */
void nnp_mth_rows_spec(const nnp_method_ctx *c, nnp_rows_spec *sp)
{
	memset(sp, 0, sizeof *sp);
	if (c->d) {
		sp->data = c->d;
		sp->chunk_rows = c->rows;
		return;
	}
	sp->path = c->path;
	sp->opts = &c->sopts;
	sp->chunk_rows = c->chunk_rows;
	sp->stamp = &c->stamp;
	sp->expect_rows = c->rows;
	sp->what = "calibration rows";
}

static int stream_rows(mth_pass *P, nnp_err *err)
{
	nnp_method_ctx *c = P->c;
	nnp_rows_spec sp;
	nnp_mth_rows_spec(c, &sp);
	nnp_rows *src = NULL;
	int rc = nnp_rows_open(&src, &sp, err);
	for (int first = 1; !rc; first = 0) {
		nnp_chunk ch;
		rc = nnp_rows_next(src, &ch, err);
		if (rc || ch.rows == 0)
			break;
		P->x = ch.x;
		P->rows = ch.rows;
		P->n_batches = (ch.rows - 1) / c->batch + 1;
		if (first && P->kind != MTH_PASS_EVAL)
			pass_shifts(P, &c->ws[0]);
		run_rows(P);
	}
	nnp_rows_free(src);
	return rc;
}

int nnp_mth_pass(nnp_method_ctx *c, int kind, size_t layer, const mth_variant *var,
                 size_t n_var, nnp_err *err)
{
	mth_pass P = { .c = c, .kind = kind, .layer = layer, .var = var, .n_var = n_var };
	P.acc_len = kind == MTH_PASS_ORIG ? c->orig_len
	            : kind == MTH_PASS_WORK ? nnp_mth_stat_len(c, layer)
	            : kind == MTH_PASS_INPUT ? nnp_mth_stat_len(c, MTH_INPUT) : n_var;
	memset(c->acc, 0, P.acc_len * sizeof *c->acc);
	if (!c->d)
		return stream_rows(&P, err);
	P.x = c->d->x;
	P.rows = c->d->rows;
	P.n_batches = c->n_batches;
	if (kind != MTH_PASS_EVAL)
		pass_shifts(&P, &c->ws[0]);
	run_rows(&P);
	return NNP_OK;
}

/* Here rather than in method.c: the Taylor scores (taylor.c) check their rows too. */
int nnp_mth_check_rows(const nnp_model *m, const nnp_dataset *d, const char *who, nnp_err *err)
{
	if (!d || d->rows == 0 || !d->x)
		return nnp_err_set(err, NNP_EINPUT, "%scalibration set: no rows", who);
	if (d->features != m->input_size)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%scalibration set: %zu features per row, the model takes %zu", who,
		                   d->features, m->input_size);
	return NNP_OK;
}
