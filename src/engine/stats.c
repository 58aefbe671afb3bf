/* Activation statistics: the accumulator and nnp_run, which streams a data
 * set through the model on worker threads. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/parallel.h"
#include "nnprune/rows.h"
#include "nnprune/stats.h"
#include "forward_priv.h"
#include "stats_priv.h"
#include "mem.h"

#define RUN_DEFAULT_BATCH NNP_RUN_BATCH
/* A chunk holds this many batches per worker. The calling thread parses the
 * next chunk on the same cores as the workers: with one batch each, the
 * worker sharing a core with the parser finishes last while the other idles
 * (1.4 of 2 cores busy in `stats`); with two, the one free first takes the
 * spare batch (on 2 cores, 40 paired runs of 10,000 CSV rows: 8% less wall
 * time with the binary model, 3% with the JSON one, for 4 MiB more peak
 * memory, flat in rows). More would fault in fresh pages instead of reusing
 * the two chunk buffers from cache (at 8, a 10,000-row run touched 25 MB of
 * fresh pages). */
#define RUN_BATCHES_PER_WORKER 2
#define RUN_MAX_BATCH ((size_t)1 << 20)
/* Rows of one chunk, inputs and labels, before it holds fewer batches. */
#define RUN_CHUNK_BYTES ((size_t)128 << 20)

/* ---------------------------------------------------------------- stats */

static void layer_stats_free(nnp_layer_stats *L)
{
	NNP_FREE_ALL(L->mean, L->std, L->min, L->max, L->zero_fraction);
}

void nnp_stats_free(nnp_stats *s)
{
	if (!s)
		return;
	if (s->layers)
		for (size_t l = 0; l < s->n_layers; l++)
			layer_stats_free(&s->layers[l]);
	free(s->layers);
	free(s);
}

int nnp_stats_alloc(nnp_stats **out, size_t n_layers, const size_t *neurons,
                    const nnp_act *acts, nnp_err *err)
{
	*out = NULL;
	if (n_layers > NNP_MAX_LAYERS)
		return nnp_err_set(err, NNP_EUSAGE, "statistics: %zu layers exceed the limit of %u",
		                   n_layers, NNP_MAX_LAYERS);
	for (size_t l = 0; l < n_layers; l++)
		if (neurons[l] == 0 || neurons[l] > NNP_MAX_WIDTH)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "statistics: layer %zu: %zu neurons (must be 1 to %u)", l,
			                   neurons[l], NNP_MAX_WIDTH);
	nnp_stats *s = calloc(1, sizeof *s);
	if (!s)
		goto nomem;
	s->n_layers = n_layers;
	if (n_layers) {
		s->layers = calloc(n_layers, sizeof *s->layers);
		if (!s->layers)
			goto nomem;
	}
	for (size_t l = 0; l < n_layers; l++) {
		nnp_layer_stats *L = &s->layers[l];
		size_t n = neurons[l];
		L->layer = l;
		L->neurons = n;
		L->act = acts[l];
		L->mean = calloc(n, sizeof(double));
		L->std = calloc(n, sizeof(double));
		L->min = calloc(n, sizeof(double));
		L->max = calloc(n, sizeof(double));
		L->zero_fraction = calloc(n, sizeof(double));
		if (!L->mean || !L->std || !L->min || !L->max || !L->zero_fraction)
			goto nomem;
	}
	*out = s;
	return NNP_OK;
nomem:
	nnp_stats_free(s);
	return nnp_err_set(err, NNP_ENOMEM, "statistics: out of memory");
}

int nnp_stats_create(nnp_stats **out, const nnp_model *m, nnp_err *err)
{
	*out = NULL;
	size_t hidden = m->n_layers ? m->n_layers - 1 : 0;
	size_t neurons[NNP_MAX_LAYERS];
	nnp_act acts[NNP_MAX_LAYERS];
	if (hidden > NNP_MAX_LAYERS)
		return nnp_err_set(err, NNP_EUSAGE, "statistics: %zu layers exceed the limit of %u",
		                   hidden, NNP_MAX_LAYERS);
	for (size_t l = 0; l < hidden; l++) {
		neurons[l] = m->layers[l].out;
		acts[l] = m->layers[l].act;
	}
	return nnp_stats_alloc(out, hidden, neurons, acts, err);
}

int nnp_stats_alloc_like(nnp_stats **out, const nnp_stats *shape, nnp_err *err)
{
	size_t neurons[NNP_MAX_LAYERS] = { 0 };
	nnp_act acts[NNP_MAX_LAYERS] = { 0 };
	size_t n = shape->n_layers;
	for (size_t l = 0; l < n && l < NNP_MAX_LAYERS; l++) {
		neurons[l] = shape->layers[l].neurons;
		acts[l] = shape->layers[l].act;
	}
	/* Past the limit nnp_stats_alloc refuses. */
	int rc = nnp_stats_alloc(out, n, neurons, acts, err);
	for (size_t l = 0; !rc && l < n; l++)
		(*out)->layers[l].layer = shape->layers[l].layer;
	return rc;
}

/* ---------------------------------------------------------- accumulator */

typedef struct acc_layer {
	size_t n;
	uint64_t rows;
	double *mean, *m2, *min, *max, *zeros;
} acc_layer;

struct nnp_acc {
	size_t n_layers;
	acc_layer *layers;
	/* Scratch for one batch, as wide as the widest hidden layer. */
	double *bsum, *bm2;
	float *bmin, *bmax, *bzero;
};

void nnp_acc_free(nnp_acc *a)
{
	if (!a)
		return;
	if (a->layers)
		for (size_t l = 0; l < a->n_layers; l++) {
			acc_layer *L = &a->layers[l];
			NNP_FREE_ALL(L->mean, L->m2, L->min, L->max, L->zeros);
		}
	NNP_FREE_ALL(a->layers, a->bsum, a->bm2, a->bzero, a->bmin, a->bmax, a);
}

int nnp_acc_create(nnp_acc **out, const nnp_model *m, nnp_err *err)
{
	*out = NULL;
	nnp_acc *a = calloc(1, sizeof *a);
	if (!a)
		goto nomem;
	a->n_layers = m->n_layers ? m->n_layers - 1 : 0;
	size_t wmax = 1;
	if (a->n_layers) {
		a->layers = calloc(a->n_layers, sizeof *a->layers);
		if (!a->layers)
			goto nomem;
	}
	for (size_t l = 0; l < a->n_layers; l++) {
		acc_layer *L = &a->layers[l];
		L->n = m->layers[l].out;
		if (L->n > wmax)
			wmax = L->n;
		L->mean = calloc(L->n, sizeof(double));
		L->m2 = calloc(L->n, sizeof(double));
		L->min = calloc(L->n, sizeof(double));
		L->max = calloc(L->n, sizeof(double));
		L->zeros = calloc(L->n, sizeof(double));
		if (!L->mean || !L->m2 || !L->min || !L->max || !L->zeros)
			goto nomem;
	}
	a->bsum = calloc(wmax, sizeof(double));
	a->bm2 = calloc(wmax, sizeof(double));
	a->bzero = calloc(wmax, sizeof(float));
	a->bmin = calloc(wmax, sizeof(float));
	a->bmax = calloc(wmax, sizeof(float));
	if (!a->bsum || !a->bm2 || !a->bzero || !a->bmin || !a->bmax)
		goto nomem;
	*out = a;
	return NNP_OK;
nomem:
	nnp_acc_free(a);
	return nnp_err_set(err, NNP_ENOMEM, "statistics accumulator: out of memory");
}

/* Neurons per strip: 256 rows x 128 floats = 128 KiB stays in L2. */
#ifndef ACC_STRIP
#define ACC_STRIP 128
#endif

/* Exact-zero test as a number, so that counting is a vector add. */
#define IS_ZERO(v) ((v) == 0.0f ? 1.0f : 0.0f)
#define MIN_OF(a, b) ((a) < (b) ? (a) : (b))
#define MAX_OF(a, b) ((a) > (b) ? (a) : (b))

/*
 * First pass over a batch: per-neuron sum (in double), min, max and zero
 * count. Rows outer, neurons inner, so each statement is a vector operation
 * across neurons; four rows are folded per sweep so the accumulators are
 * loaded and stored a quarter as often. Min, max and the zero count stay in
 * float (exact: a count below 2^24 is an integer in float) to use the wider
 * float vectors.
 */
NNP_VEC_CLONES
static void batch_pass1(const float *restrict z, size_t rows, size_t n, size_t ld,
                        double *restrict s, float *restrict mn, float *restrict mx,
                        float *restrict zc)
{
	for (size_t j = 0; j < n; j++) {
		s[j] = (double)z[j];
		mn[j] = z[j];
		mx[j] = z[j];
		zc[j] = IS_ZERO(z[j]);
	}
	size_t r = 1;
	for (; r + 4 <= rows; r += 4) {
		const float *restrict a = z + r * ld, *restrict b = a + ld;
		const float *restrict c = b + ld, *restrict d = c + ld;
		for (size_t j = 0; j < n; j++) {
			float va = a[j], vb = b[j], vc = c[j], vd = d[j];
			s[j] += ((double)va + (double)vb) + ((double)vc + (double)vd);
			float lo = MIN_OF(MIN_OF(va, vb), MIN_OF(vc, vd));
			float hi = MAX_OF(MAX_OF(va, vb), MAX_OF(vc, vd));
			mn[j] = MIN_OF(lo, mn[j]);
			mx[j] = MAX_OF(hi, mx[j]);
			zc[j] += (IS_ZERO(va) + IS_ZERO(vb)) + (IS_ZERO(vc) + IS_ZERO(vd));
		}
	}
	for (; r < rows; r++) {
		const float *restrict a = z + r * ld;
		for (size_t j = 0; j < n; j++) {
			float v = a[j];
			s[j] += (double)v;
			mn[j] = MIN_OF(v, mn[j]);
			mx[j] = MAX_OF(v, mx[j]);
			zc[j] += IS_ZERO(v);
		}
	}
}

/* Second pass: turns the sums into batch means (one division per neuron,
 * which is exact when every row holds the same value) and sums the squared
 * deviations from them, four rows per sweep. */
NNP_VEC_CLONES
static void batch_pass2(const float *restrict z, size_t rows, size_t n, size_t ld,
                        double *restrict mu, double *restrict q)
{
	double dn = (double)rows;
	for (size_t j = 0; j < n; j++) {
		mu[j] /= dn;
		q[j] = 0.0;
	}
	size_t r = 0;
	for (; r + 4 <= rows; r += 4) {
		const float *restrict a = z + r * ld, *restrict b = a + ld;
		const float *restrict c = b + ld, *restrict d = c + ld;
		for (size_t j = 0; j < n; j++) {
			double m = mu[j];
			double da = (double)a[j] - m, db = (double)b[j] - m;
			double dc = (double)c[j] - m, dd = (double)d[j] - m;
			q[j] += (da * da + db * db) + (dc * dc + dd * dd);
		}
	}
	for (; r < rows; r++) {
		const float *restrict a = z + r * ld;
		for (size_t j = 0; j < n; j++) {
			double d = (double)a[j] - mu[j];
			q[j] += d * d;
		}
	}
}

/*
 * Chan et al.: merging (na, mean_a, M2_a) with (nb, mean_b, M2_b) gives
 * mean = mean_a + d * nb/n and M2 = M2_a + M2_b + d^2 * na*nb/n with
 * d = mean_b - mean_a. The two factors are computed once per merge.
 */
static void merge_batch(acc_layer *L, uint64_t nb, const double *restrict mb,
                        const double *restrict qb, const float *restrict mnb,
                        const float *restrict mxb, const float *restrict zb)
{
	size_t n = L->n;
	double *restrict mean = L->mean, *restrict m2 = L->m2;
	double *restrict mn = L->min, *restrict mx = L->max, *restrict zc = L->zeros;
	if (L->rows == 0) {
		for (size_t j = 0; j < n; j++) {
			mean[j] = mb[j];
			m2[j] = qb[j];
			mn[j] = mnb[j];
			mx[j] = mxb[j];
			zc[j] = (double)zb[j];
		}
		L->rows = nb;
		return;
	}
	double na = (double)L->rows, dn = (double)nb, tot = na + dn;
	double fb = dn / tot, w = na * dn / tot;
	for (size_t j = 0; j < n; j++) {
		double d = mb[j] - mean[j];
		mean[j] += d * fb;
		m2[j] += qb[j] + d * d * w;
		double lo = (double)mnb[j], hi = (double)mxb[j];
		mn[j] = lo < mn[j] ? lo : mn[j];
		mx[j] = hi > mx[j] ? hi : mx[j];
		zc[j] += (double)zb[j];
	}
	L->rows += nb;
}

void nnp_acc_add_layer(nnp_acc *a, size_t l, const float *z, size_t rows)
{
	if (rows == 0 || l >= a->n_layers)
		return;
	acc_layer *L = &a->layers[l];
	/* The float zero counts are exact below 2^24 rows per piece. */
	size_t piece = (size_t)1 << 22;
	for (size_t off = 0; off < rows; off += piece) {
		size_t n = rows - off < piece ? rows - off : piece;
		/* Both passes run over a strip of neurons at a time, so the second
		 * pass re-reads the strip from cache rather than from memory. */
		for (size_t j = 0; j < L->n; j += ACC_STRIP) {
			size_t w = L->n - j < ACC_STRIP ? L->n - j : ACC_STRIP;
			const float *p = z + off * L->n + j;
			batch_pass1(p, n, w, L->n, a->bsum + j, a->bmin + j, a->bmax + j, a->bzero + j);
			batch_pass2(p, n, w, L->n, a->bsum + j, a->bm2 + j);
		}
		merge_batch(L, n, a->bsum, a->bm2, a->bmin, a->bmax, a->bzero);
	}
}

void nnp_acc_add(nnp_acc *a, const nnp_forward *f, size_t rows)
{
	for (size_t l = 0; l < a->n_layers; l++)
		nnp_acc_add_layer(a, l, nnp_forward_layer(f, l), rows);
}

/* Empties an accumulator for reuse (its buffers stay). */
static void acc_reset(nnp_acc *a)
{
	for (size_t l = 0; l < a->n_layers; l++)
		a->layers[l].rows = 0;
}

void nnp_acc_merge(nnp_acc *a, const nnp_acc *b)
{
	for (size_t l = 0; l < a->n_layers && l < b->n_layers; l++) {
		acc_layer *A = &a->layers[l];
		const acc_layer *B = &b->layers[l];
		if (B->rows == 0 || A->n != B->n)
			continue;
		if (A->rows == 0) {
			memcpy(A->mean, B->mean, A->n * sizeof(double));
			memcpy(A->m2, B->m2, A->n * sizeof(double));
			memcpy(A->min, B->min, A->n * sizeof(double));
			memcpy(A->max, B->max, A->n * sizeof(double));
			memcpy(A->zeros, B->zeros, A->n * sizeof(double));
			A->rows = B->rows;
			continue;
		}
		double na = (double)A->rows, nb = (double)B->rows, tot = na + nb;
		double fb = nb / tot, w = na * nb / tot;
		for (size_t j = 0; j < A->n; j++) {
			double d = B->mean[j] - A->mean[j];
			A->mean[j] += d * fb;
			A->m2[j] += B->m2[j] + d * d * w;
			A->min[j] = B->min[j] < A->min[j] ? B->min[j] : A->min[j];
			A->max[j] = B->max[j] > A->max[j] ? B->max[j] : A->max[j];
			A->zeros[j] += B->zeros[j];
		}
		A->rows += B->rows;
	}
}

uint64_t nnp_acc_rows(const nnp_acc *a)
{
	return a->n_layers ? a->layers[0].rows : 0;
}

void nnp_acc_finish(const nnp_acc *a, nnp_stats *s)
{
	s->rows = nnp_acc_rows(a);
	for (size_t l = 0; l < a->n_layers && l < s->n_layers; l++) {
		const acc_layer *A = &a->layers[l];
		nnp_layer_stats *S = &s->layers[l];
		if (A->n != S->neurons)
			continue;
		if (A->rows == 0)
			continue;
		/* Divisions, not a reciprocal: done once per neuron, and a share
		 * like 3/10 then comes out as the correctly rounded double. */
		double n = (double)A->rows;
		for (size_t j = 0; j < A->n; j++) {
			S->mean[j] = A->mean[j];
			S->std[j] = sqrt(A->m2[j] / n);
			S->min[j] = A->min[j];
			S->max[j] = A->max[j];
			S->zero_fraction[j] = A->zeros[j] / n;
		}
	}
}

/* ------------------------------------------------------------------ run */

/* One chunk of rows from the row source, and its predictions when a
 * confusion matrix is wanted. */
typedef struct run_chunk {
	nnp_chunk c;
	int32_t *pred;            /* [cap], owned; only when a confusion matrix is wanted */
} run_chunk;

/* The chunk's batches are the tasks; batch b's metrics and accumulator go to
 * slot b, folded into the totals in batch order (include/nnprune/parallel.h). */
typedef struct run_pool {
	const nnp_model *m;
	size_t batch, inputs, outputs;
	nnp_pool *pool;
	nnp_forward **fwd;        /* [pool size] */
	unsigned n_fwd;
	const run_chunk *job;
	nnp_metrics *bmetrics;    /* [n_bacc] */
	nnp_acc **bacc;           /* [n_bacc], NULL when no statistics are wanted */
	size_t n_bacc;
	nnp_acc *acc;
} run_pool;

static void run_batch(void *ctx, size_t b, unsigned worker)
{
	run_pool *p = ctx;
	const run_chunk *rc = p->job;
	const nnp_chunk *c = &rc->c;
	nnp_forward *fwd = p->fwd[worker];
	size_t off = b * p->batch;
	size_t rows = c->rows - off < p->batch ? c->rows - off : p->batch;
	size_t n_layers = p->m->n_layers;
	const float *x = c->x + off * p->inputs, *out = NULL;
	nnp_acc *acc = p->bacc ? p->bacc[b] : NULL;
	if (acc)
		acc_reset(acc);
	/* Each hidden layer's statistics are taken right after it is computed,
	 * while its output is still in cache. */
	for (size_t l = 0; l < n_layers; l++) {
		out = nnp_forward_step(fwd, l, x, rows);
		if (acc && l + 1 < n_layers)
			nnp_acc_add_layer(acc, l, out, rows);
	}
	nnp_metrics *bm = &p->bmetrics[b];
	memset(bm, 0, sizeof *bm);
	nnp_metrics_add(bm, nnp_score_kind(p->m), out, rows, p->outputs, c->y ? c->y + off : NULL,
	                rc->pred ? rc->pred + off : NULL, NULL);
}

/* Labels are checked on the calling thread (by the row source), so the
 * workers never see a label the model has no output for. */
static int next_chunk(nnp_rows *src, run_chunk *c, size_t outputs, nnp_err *err)
{
	(void)outputs;
	return nnp_rows_next(src, &c->c, err);
}

/* Folds a finished chunk's per-batch metrics (in batch order) and, if
 * wanted, its predictions into the confusion matrix. */
static void collect_chunk(run_pool *p, const run_chunk *rc, nnp_metrics *total,
                          uint64_t *confusion)
{
	const nnp_chunk *c = &rc->c;
	size_t n_batches = (c->rows + p->batch - 1) / p->batch;
	for (size_t b = 0; b < n_batches; b++) {
		nnp_metrics_merge(total, &p->bmetrics[b]);
		if (p->acc)
			nnp_acc_merge(p->acc, p->bacc[b]);
	}
	if (confusion && c->y && rc->pred)
		for (size_t i = 0; i < c->rows; i++)
			confusion[(size_t)c->y[i] * p->outputs + (size_t)rc->pred[i]]++;
}

/*
 * Checks the options and sizes the chunks. A chunk holds up to
 * RUN_BATCHES_PER_WORKER batches per worker, fewer when that would take more
 * than RUN_CHUNK_BYTES: the batches stay the same size, so the results do not
 * change.
 */
static int run_plan(const nnp_model *m, size_t features, const nnp_run_opts *opts,
                    unsigned *threads, size_t *batch, size_t *cap, nnp_err *err)
{
	if (!m || m->n_layers == 0)
		return nnp_err_set(err, NNP_EUSAGE, "run: the model has no layers");
	*threads = opts && opts->threads ? opts->threads : nnp_default_threads();
	*batch = opts && opts->batch ? opts->batch : RUN_DEFAULT_BATCH;
	if (*threads > NNP_MAX_THREADS)
		return nnp_err_set(err, NNP_EUSAGE, "%u threads: at most %u are allowed", *threads,
		                   NNP_MAX_THREADS);
	if (*batch > RUN_MAX_BATCH)
		return nnp_err_set(err, NNP_EUSAGE, "batch of %zu rows: at most %zu are allowed",
		                   *batch, RUN_MAX_BATCH);
	if (features != m->input_size)
		return nnp_err_set(err, NNP_EINPUT, "the data has %zu features per row but the model "
		                   "expects %zu inputs", features, m->input_size);
	/* threads <= 2^8 and batch <= 2^20: this product cannot overflow. */
	size_t rows = (size_t)*threads * *batch;
	size_t row_bytes = (m->input_size + 2) * sizeof(float);
	if (rows > SIZE_MAX / RUN_BATCHES_PER_WORKER / row_bytes)
		return nnp_err_set(err, NNP_ETOOBIG, "%zu rows of %zu inputs overflow memory", rows,
		                   m->input_size);
	size_t per = RUN_CHUNK_BYTES / (rows * row_bytes);
	per = per < 1 ? 1 : per > RUN_BATCHES_PER_WORKER ? RUN_BATCHES_PER_WORKER : per;
	*cap = rows * per;
	return NNP_OK;
}

static int pool_init(run_pool *p, unsigned threads, int want_stats, nnp_err *err)
{
	int rc = nnp_pool_create(&p->pool, threads, NNP_POOL_ASYNC, err);
	if (rc)
		return rc;
	p->n_fwd = nnp_pool_size(p->pool);
	p->fwd = calloc(p->n_fwd, sizeof *p->fwd);
	if (!p->fwd)
		return nnp_err_set(err, NNP_ENOMEM, "run: out of memory");
	for (unsigned i = 0; i < p->n_fwd; i++)
		if ((rc = nnp_forward_create(&p->fwd[i], p->m, p->batch, err)))
			return rc;
	if (want_stats) {
		p->bacc = calloc(p->n_bacc, sizeof *p->bacc);
		if (!p->bacc)
			return nnp_err_set(err, NNP_ENOMEM, "statistics accumulator: out of memory");
		rc = nnp_acc_create(&p->acc, p->m, err);
		for (size_t b = 0; !rc && b < p->n_bacc; b++)
			rc = nnp_acc_create(&p->bacc[b], p->m, err);
	}
	return rc;
}

static void pool_fini(run_pool *p)
{
	nnp_pool_free(p->pool);
	if (p->fwd)
		for (unsigned i = 0; i < p->n_fwd; i++)
			nnp_forward_free(p->fwd[i]);
	if (p->bacc)
		for (size_t b = 0; b < p->n_bacc; b++)
			nnp_acc_free(p->bacc[b]);
	free(p->bacc);
	nnp_acc_free(p->acc);
	free(p->fwd);
	free(p->bmetrics);
}

/* Processes chunks until the input ends; the next chunk is read while the
 * workers run the current one. */
static int run_loop(run_pool *p, nnp_rows *src, run_chunk ch[2], const nnp_run_opts *opts,
                    nnp_metrics *total, uint64_t *confusion, nnp_err *err)
{
	int cur = 0;
	uint64_t rows = 0;
	int rc = next_chunk(src, &ch[cur], p->outputs, err);
	if (rc)
		return rc;
	if (ch[cur].c.rows == 0)  /* readers report this themselves, with the path */
		return nnp_err_set(err, NNP_EINPUT, "%s: no data rows",
		                   nnp_rows_streaming(src) ? "input" : "data set");
	nnp_pfor_job job = { run_batch, NULL, p };
	while (ch[cur].c.rows) {
		p->job = &ch[cur];
		nnp_pool_start(p->pool, (ch[cur].c.rows + p->batch - 1) / p->batch, &job);
		rc = next_chunk(src, &ch[!cur], p->outputs, err);
		nnp_pool_wait(p->pool);
		collect_chunk(p, &ch[cur], total, confusion);
		rows += ch[cur].c.rows;
		if (opts && opts->progress)
			opts->progress(opts->progress_ctx, rows, nnp_rows_offset(src));
		if (rc)
			return rc;
		cur = !cur;
	}
	return NNP_OK;
}

/* Everything nnp_run and nnp_run_dataset share once the source is known. */
static int run_source_all(const nnp_model *m, nnp_rows_spec *spec, size_t features,
                          const nnp_run_opts *opts, nnp_stats **stats, nnp_metrics *metrics,
                          uint64_t *confusion, nnp_err *err)
{
	if (stats)
		*stats = NULL;
	unsigned threads = 1;
	size_t batch = RUN_DEFAULT_BATCH, cap = 0;
	int rc = run_plan(m, features, opts, &threads, &batch, &cap, err);
	if (rc)
		return rc;
	run_chunk ch[2];
	run_pool p;
	nnp_metrics total;
	memset(ch, 0, sizeof ch);
	memset(&p, 0, sizeof p);
	memset(&total, 0, sizeof total);
	nnp_stats *st = NULL;
	nnp_rows *src = NULL;
	int want_pred = spec->labels && confusion;

	p.m = m;
	p.batch = batch;
	p.inputs = m->input_size;
	p.outputs = nnp_model_outputs(m);
	p.bmetrics = calloc(cap / batch, sizeof *p.bmetrics);
	p.n_bacc = cap / batch;
	spec->chunk_rows = cap;
	spec->buffers = 2;
	spec->outputs = p.outputs;
	for (int i = 0; want_pred && i < 2; i++)
		ch[i].pred = malloc(cap * sizeof(int32_t));
	if (!p.bmetrics || (want_pred && (!ch[0].pred || !ch[1].pred))) {
		rc = nnp_err_set(err, NNP_ENOMEM, "run: out of memory for %zu rows of %zu inputs",
		                 cap, p.inputs);
		goto done;
	}
	if ((rc = nnp_rows_open(&src, spec, err)))
		goto done;
	if (stats && (rc = nnp_stats_create(&st, m, err)))
		goto done;
	nnp_blas_single_thread();
	rc = pool_init(&p, threads, stats != NULL, err);
	if (!rc)
		rc = run_loop(&p, src, ch, opts, &total, confusion, err);
	if (rc)
		goto done;
	if (st) {
		nnp_acc_finish(p.acc, st);
		st->rows = total.rows;
		st->metrics = total;
		*stats = st;
		st = NULL;
	}
	if (metrics)
		*metrics = total;
done:
	pool_fini(&p);
	nnp_rows_free(src);
	free(ch[0].pred);
	free(ch[1].pred);
	nnp_stats_free(st);
	return rc;
}

int nnp_run(const nnp_model *m, nnp_reader *r, const nnp_run_opts *opts,
            nnp_stats **stats, nnp_metrics *metrics, uint64_t *confusion, nnp_err *err)
{
	nnp_rows_spec s = { 0 };
	s.reader = r;
	s.labels = nnp_reader_has_labels(r) && !(opts && opts->no_labels);
	return run_source_all(m, &s, nnp_reader_features(r), opts, stats, metrics, confusion, err);
}

int nnp_run_dataset(const nnp_model *m, const nnp_dataset *d, const nnp_run_opts *opts,
                    nnp_stats **stats, nnp_metrics *metrics, uint64_t *confusion, nnp_err *err)
{
	if (stats)
		*stats = NULL;
	if (!d || (d->rows && !d->x))
		return nnp_err_set(err, NNP_EUSAGE, "run: no data set given");
	nnp_rows_spec s = { 0 };
	s.data = d;
	s.labels = d->y != NULL;
	return run_source_all(m, &s, d->features, opts, stats, metrics, confusion, err);
}
