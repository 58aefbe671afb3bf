/*
 * The threshold sweep and the LIST parser.
 *
 * Cost model. A candidate differs from the original only after its first
 * hidden layer p that lost neurons: hidden layers 0..p keep the original's
 * activations on their kept neurons (inputs are never pruned, and nothing
 * upstream of p changed). So the original is run once per row, keeping the
 * outputs H_p and pre-activations Z_{p+1} that some candidate needs, and each
 * distinct candidate starts from there:
 *   - direct:     Z'_{p+1} = H_p[:, K_p] W'^T + b'   (the pruned layer p+1)
 *   - correction: Z'_{p+1} = Z_{p+1}[:, K_{p+1}]
 *                            - (H_p[:, R_p] - mean[R_p]) W_{p+1}[K_{p+1}, R_p]^T
 * (mean only when folding), whichever multiplies fewer columns: the cost of
 * layer p+1 is min(|K_p|, |R_p|) per output instead of the full width, and the
 * first layer, the widest in a typical MLP, is never recomputed. The layers
 * after p+1 run on the pruned model.
 *
 * Rows are taken in chunks (all the data in memory, or read from the file
 * once) and each chunk in fixed-size blocks. Per chunk: the original runs on
 * every block (threads take blocks), then threads take (candidate, block)
 * tasks. Each task scores its block into its own slot; slots are merged in
 * block order, so sums, hence results, do not depend on the thread count or
 * on whether the data was streamed. Every row's H_p is still computed once
 * for the whole sweep; holding it per chunk rather than for all rows keeps
 * memory near SW_CHUNK_BYTES whatever the size of the data.
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/forward.h"
#include "nnprune/parallel.h"
#include "nnprune/sweep.h"
#include "nnprune/rows.h"
#include "mem.h"
#include "sweep_priv.h"

#define SW_BLOCK 256u                  /* rows per block, the unit of determinism */
#define SW_BLOCK_FLOATS (1u << 20)     /* smaller blocks for very wide layers */
#define SW_CHUNK_BYTES ((size_t)32 << 20)
#define SW_MAX_CHUNK_BLOCKS 64u
#define SW_MAX_CANDIDATES 1000000u
#define SW_LIST_MAX 10000u
#define SW_NONE ((size_t)-1)

/* How one distinct candidate is evaluated from the original's buffers. */
typedef struct sw_plan {
	size_t cand;            /* index in sw->c */
	const nnp_model *pm;    /* the pruned model, borrowed from sw->models */
	size_t p;               /* first hidden layer that lost neurons */
	int corr;               /* 1: correction formula, 0: direct */
	const size_t *kp;       /* kept neurons of layer p (borrowed from the keep) */
	size_t nkp;
	size_t *rp;             /* removed neurons of layer p, owned */
	size_t nrp;
	const size_t *kq;       /* kept outputs of layer p+1; NULL: all (output layer) */
	size_t nkq;
	float *wc;              /* correction: W_{p+1}[kq, rp], [nkq][nrp], owned */
	float *mf;              /* correction: folded means [nrp] (0 without folding), owned */
} sw_plan;

/* What one block scored for one model. */
typedef nnp_sweep_slot sw_slot;

/* One thread's scratch, [block][maxw] each. */
typedef struct sw_ws {
	float *a, *b, *g;
	int32_t *pred;
} sw_ws;

typedef struct sw_run {
	const nnp_model *m;
	size_t L, maxw, chunk_blocks, n_threads;
	nnp_sweep_chunk ch;     /* the chunk being evaluated */
	float **H;              /* [L] hidden outputs of the chunk, NULL where unused */
	float **Z;              /* [L] pre-activations of the chunk, NULL where unused */
	int32_t *opred;         /* [chunk] the original's argmax */
	sw_plan *plans;
	size_t n_plans;
	sw_slot *slots;         /* [n_plans + 1][chunk_blocks], row 0 the original */
	sw_slot *tot;           /* [n_plans + 1] running totals */
	sw_ws *ws;              /* [n_threads], one per worker of the pool */
	nnp_pool *pool;
} sw_run;

/* ---- small helpers ---------------------------------------------------- */

static float *falloc(size_t n)
{
	size_t bytes;
	if (!nnp_sweep_mul_ok(n ? n : 1, sizeof(float), &bytes))
		return NULL;
	return nnp_malloc_huge(bytes);
}

/* ---- candidates: kept sets, duplicates, pruned models ----------------- */

static int check_inputs(const nnp_model *m, const nnp_stats *s, const nnp_dataset *d,
                        const nnp_sweep_opts *o, nnp_err *err)
{
	if (!m || !s || !o || m->n_layers == 0)
		return nnp_err_set(err, NNP_EUSAGE, "sweep: missing model, statistics or options");
	if (!o->means || !o->stds || o->n_means == 0 || o->n_stds == 0)
		return nnp_err_set(err, NNP_EUSAGE, "sweep: the mean and std lists must not be empty");
	size_t n;
	if (!nnp_sweep_mul_ok(o->n_means, o->n_stds, &n) || n > SW_MAX_CANDIDATES)
		return nnp_err_set(err, NNP_EUSAGE, "sweep: %zu x %zu candidates, the limit is %u",
		                   o->n_means, o->n_stds, SW_MAX_CANDIDATES);
	if (s->n_layers != m->n_layers - 1)
		return nnp_err_set(err, NNP_EINPUT,
		                   "sweep: statistics have %zu hidden layers, the model %zu",
		                   s->n_layers, m->n_layers - 1);
	for (size_t l = 0; l < s->n_layers; l++)
		if (s->layers[l].neurons != m->layers[l].out)
			return nnp_err_set(err, NNP_EINPUT,
			                   "sweep: statistics: layer %zu has %zu neurons, the model %zu",
			                   l, s->layers[l].neurons, m->layers[l].out);
	if (d) {
		if (d->features != m->input_size)
			return nnp_err_set(err, NNP_EINPUT,
			                   "sweep: the data has %zu features, the model expects %zu",
			                   d->features, m->input_size);
		if (d->rows == 0)
			return nnp_err_set(err, NNP_EINPUT, "sweep: the data has no rows");
		return nnp_labels_check(d->y, d->rows, nnp_model_outputs(m), 0, err);
	} else if (!o->data_path) {
		return nnp_err_set(err, NNP_EUSAGE, "sweep: no data and no data path");
	}
	return NNP_OK;
}

/* Marks each candidate whose kept set an earlier one has (same_as). */
static int find_duplicates(nnp_sweep *sw, nnp_err *err)
{
	if (nnp_sweep_find_dups(sw->c, sw->n, &sw->n_unique))
		return nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory");
	return NNP_OK;
}

/* Building the distinct candidates' models on the pool. */
typedef struct sw_build {
	nnp_sweep *sw;
	const nnp_model *m;
	const nnp_stats *s;
	int fold;
	nnp_err *errs;          /* [workers] */
	size_t *failed;         /* [workers] the first candidate each failed on, SW_NONE */
} sw_build;

static void build_task(void *ctx, size_t i, unsigned worker)
{
	sw_build *b = ctx;
	nnp_sweep *sw = b->sw;
	if (sw->c[i].same_as != NNP_NO_DUP || b->failed[worker] != SW_NONE)
		return;
	if (nnp_prune_apply(&sw->models[i], b->m, sw->c[i].keep, b->s, b->fold,
	                    &b->errs[worker]))
		b->failed[worker] = i;
	else
		nnp_sweep_set_sizes(&sw->c[i], sw->models[i]);
}

static int build_candidates(nnp_sweep *sw, const nnp_model *m, const nnp_stats *s,
                            const nnp_sweep_opts *o, nnp_pool *pool, nnp_err *err)
{
	sw->n = o->n_means * o->n_stds;
	sw->c = calloc(sw->n, sizeof *sw->c);
	sw->models = calloc(sw->n, sizeof *sw->models);
	if (!sw->c || !sw->models)
		return nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory for %zu candidates", sw->n);
	for (size_t i = 0; i < sw->n; i++) {
		nnp_candidate *c = &sw->c[i];
		c->kind = NNP_CAND_THRESHOLDS;
		c->thr.mean = o->means[i / o->n_stds];
		c->thr.std = o->stds[i % o->n_stds];
		c->same_as = NNP_NO_DUP;
		int rc = nnp_keep_rule(&c->keep, s, c->thr.mean, c->thr.std, o->min_keep, err);
		if (rc)
			return rc;
		c->floor_hit = nnp_keep_any_floor(c->keep);
	}
	int rc = find_duplicates(sw, err);
	if (rc)
		return rc;
	/* The distinct models, built on the pool's workers: each worker keeps
	 * the message of the first candidate it failed on, and the lowest such
	 * candidate speaks, as it would one after the other. */
	sw_build b = { sw, m, s, o->fold, NULL, NULL };
	size_t workers = nnp_pool_size(pool);
	b.errs = calloc(workers, sizeof *b.errs);
	b.failed = malloc(workers * sizeof *b.failed);
	if (!b.errs || !b.failed) {
		free(b.errs);
		free(b.failed);
		return nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory");
	}
	for (size_t w = 0; w < workers; w++)
		b.failed[w] = SW_NONE;
	nnp_pfor_job job = { build_task, NULL, &b };
	nnp_pool_for(pool, sw->n, &job);
	size_t first = SW_NONE, at = 0;
	for (size_t w = 0; w < workers; w++)
		if (b.failed[w] < first) {
			first = b.failed[w];
			at = w;
		}
	if (first != SW_NONE) {
		*err = b.errs[at];
		rc = err->status ? err->status : NNP_ENOMEM;
	}
	free(b.errs);
	free(b.failed);
	return rc;
}

/* ---- evaluation plans ------------------------------------------------- */

static void plan_free(sw_plan *p)
{
	free(p->rp);
	free(p->wc);
	free(p->mf);
}

/* The weights and means the correction formula multiplies. */
static int plan_correction(sw_plan *P, const nnp_model *m, const nnp_stats *s, int fold)
{
	const nnp_layer *Lq = &m->layers[P->p + 1];
	size_t n;
	if (!nnp_sweep_mul_ok(P->nkq, P->nrp, &n))
		return NNP_ENOMEM;
	P->wc = falloc(n);
	P->mf = falloc(P->nrp);
	if (!P->wc || !P->mf)
		return NNP_ENOMEM;
	for (size_t i = 0; i < P->nkq; i++) {
		const float *src = Lq->w + (P->kq ? P->kq[i] : i) * Lq->in;
		for (size_t t = 0; t < P->nrp; t++)
			P->wc[i * P->nrp + t] = src[P->rp[t]];
	}
	/* The pruned model folds mean_j * W[:, j] into its bias; subtracting
	 * (H_j - mean_j) W[:, j] from the original's Z gives the same sum. */
	for (size_t t = 0; t < P->nrp; t++)
		P->mf[t] = fold ? (float)s->layers[P->p].mean[P->rp[t]] : 0.0f;
	return NNP_OK;
}

/* Fills the plan of distinct candidate ci, or sets P->p = SW_NONE if it
 * removed nothing (then it scores exactly as the original). */
static int plan_one(sw_plan *P, const nnp_sweep *sw, size_t ci, const nnp_model *m,
                    const nnp_stats *s, int fold)
{
	const nnp_keep *k = sw->c[ci].keep;
	memset(P, 0, sizeof *P);
	P->cand = ci;
	P->pm = sw->models[ci];
	P->p = SW_NONE;
	for (size_t l = 0; l < k->n_layers && P->p == SW_NONE; l++)
		if (k->count[l] < m->layers[l].out)
			P->p = l;
	if (P->p == SW_NONE)
		return NNP_OK;
	size_t p = P->p, wp = m->layers[p].out;
	P->kp = k->idx[p];
	P->nkp = k->count[p];
	P->nrp = wp - P->nkp;
	P->rp = malloc(P->nrp * sizeof *P->rp);
	if (!P->rp)
		return NNP_ENOMEM;
	for (size_t j = 0, c = 0, r = 0; j < wp; j++) {
		if (c < P->nkp && P->kp[c] == j)
			c++;
		else
			P->rp[r++] = j;
	}
	P->kq = p + 1 < k->n_layers ? k->idx[p + 1] : NULL;
	P->nkq = P->kq ? k->count[p + 1] : m->layers[p + 1].out;
	/* Both formulas also gather; what differs is the inner dimension. */
	P->corr = P->nrp < P->nkp;
	return P->corr ? plan_correction(P, m, s, fold) : NNP_OK;
}

static int make_plans(sw_run *R, const nnp_sweep *sw, const nnp_model *m, const nnp_stats *s,
                      int fold, nnp_err *err)
{
	R->plans = calloc(sw->n_unique, sizeof *R->plans);
	if (!R->plans)
		return nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory");
	for (size_t i = 0; i < sw->n; i++) {
		if (sw->c[i].same_as != NNP_NO_DUP)
			continue;
		sw_plan *P = &R->plans[R->n_plans];
		int rc = plan_one(P, sw, i, m, s, fold);
		if (rc) {
			plan_free(P);
			return nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory");
		}
		/* A candidate that removed nothing needs no evaluation of its own. */
		if (P->p == SW_NONE)
			continue;
		R->n_plans++;
	}
	return NNP_OK;
}

/* ---- buffers ---------------------------------------------------------- */

/* Chunk buffers: the H_p and Z_{p+1} some plan reads, predictions, slots. */
static int chunk_alloc(sw_run *R, int streaming, size_t max_chunk_blocks)
{
	const nnp_model *m = R->m;
	int rc = NNP_ENOMEM;
	int *need_h = calloc(R->L, sizeof *need_h), *need_z = calloc(R->L, sizeof *need_z);
	R->H = calloc(R->L, sizeof *R->H);
	R->Z = calloc(R->L, sizeof *R->Z);
	if (!need_h || !need_z || !R->H || !R->Z)
		goto done;
	for (size_t u = 0; u < R->n_plans; u++) {
		need_h[R->plans[u].p] = 1;
		if (R->plans[u].corr)
			need_z[R->plans[u].p + 1] = 1;
	}
	/* Chunk rows: what the shared buffers need per row, within a budget. */
	size_t per_row = sizeof(int32_t) * 2 + (streaming ? m->input_size * sizeof(float) : 0);
	for (size_t l = 0; l < R->L; l++)
		per_row += (size_t)(need_h[l] + need_z[l]) * m->layers[l].out * sizeof(float);
	size_t cb = SW_CHUNK_BYTES / per_row / R->ch.block;
	R->chunk_blocks = cb < 1 ? 1 : (cb > SW_MAX_CHUNK_BLOCKS ? SW_MAX_CHUNK_BLOCKS : cb);
	if (max_chunk_blocks && R->chunk_blocks > max_chunk_blocks)
		R->chunk_blocks = max_chunk_blocks;
	size_t chunk = R->chunk_blocks * R->ch.block, n;
	for (size_t l = 0; l < R->L; l++) {
		if (!nnp_sweep_mul_ok(chunk, m->layers[l].out, &n))
			goto done;
		if (need_h[l] && !(R->H[l] = falloc(n)))
			goto done;
		if (need_z[l] && !(R->Z[l] = falloc(n)))
			goto done;
	}
	R->opred = malloc(chunk * sizeof *R->opred);
	R->slots = calloc((R->n_plans + 1) * R->chunk_blocks, sizeof *R->slots);
	R->tot = calloc(R->n_plans + 1, sizeof *R->tot);
	if (R->opred && R->slots && R->tot)
		rc = NNP_OK;
done:
	free(need_h);
	free(need_z);
	return rc;
}

/* The pool, and one scratch workspace per worker, [block][maxw] floats each. */
static int threads_alloc(sw_run *R, unsigned threads)
{
	size_t n;
	if (!R->pool && nnp_pool_create(&R->pool, nnp_threads_resolve(threads), 0, NULL))
		return NNP_ENOMEM;
	R->n_threads = nnp_pool_size(R->pool);
	R->ws = calloc(R->n_threads, sizeof *R->ws);
	if (!R->ws || !nnp_sweep_mul_ok(R->ch.block, R->maxw, &n))
		return NNP_ENOMEM;
	for (size_t t = 0; t < R->n_threads; t++) {
		sw_ws *w = &R->ws[t];
		w->a = falloc(n);
		w->b = falloc(n);
		w->g = falloc(n);
		w->pred = malloc(R->ch.block * sizeof *w->pred);
		if (!w->a || !w->b || !w->g || !w->pred)
			return NNP_ENOMEM;
	}
	return NNP_OK;
}

static int run_alloc(sw_run *R, const nnp_model *m, unsigned threads, int streaming,
                     size_t max_chunk_blocks, nnp_err *err)
{
	R->m = m;
	R->L = m->n_layers;
	R->maxw = 1;
	for (size_t l = 0; l < R->L; l++)
		if (m->layers[l].out > R->maxw)
			R->maxw = m->layers[l].out;
	/* The block size depends only on the model, never on the thread count. */
	size_t widest = nnp_model_max_width(m);
	R->ch.block = SW_BLOCK_FLOATS / (widest ? widest : 1);
	R->ch.block = R->ch.block > SW_BLOCK ? SW_BLOCK : (R->ch.block ? R->ch.block : 1);
	if (chunk_alloc(R, streaming, max_chunk_blocks) || threads_alloc(R, threads))
		return nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory for the evaluation buffers");
	return NNP_OK;
}

static void run_free(sw_run *R)
{
	if (R->H)
		for (size_t l = 0; l < R->L; l++)
			free(R->H[l]);
	if (R->Z)
		for (size_t l = 0; l < R->L; l++)
			free(R->Z[l]);
	free(R->H);
	free(R->Z);
	if (R->plans)
		for (size_t u = 0; u < R->n_plans; u++)
			plan_free(&R->plans[u]);
	free(R->plans);
	if (R->ws)
		for (size_t t = 0; t < R->n_threads; t++)
			NNP_FREE_ALL(R->ws[t].a, R->ws[t].b, R->ws[t].g, R->ws[t].pred);
	free(R->ws);
	nnp_pool_free(R->pool);
	free(R->opred);
	free(R->slots);
	free(R->tot);
}

/* ---- the work of one task --------------------------------------------- */

/* The original on block b: scores it and keeps what the candidates need. */
static void orig_block(sw_run *R, sw_ws *ws, size_t b)
{
	const nnp_model *m = R->m;
	size_t r0 = b * R->ch.block, n = nnp_sweep_chunk_rows(&R->ch, b);
	const float *in = R->ch.x + r0 * m->input_size;
	for (size_t l = 0; l < R->L; l++) {
		const nnp_layer *L = &m->layers[l];
		float *dst = R->H[l] ? R->H[l] + r0 * L->out : (l % 2 ? ws->b : ws->a);
		nnp_dense(L, in, n, dst);
		if (R->Z[l])
			memcpy(R->Z[l] + r0 * L->out, dst, n * L->out * sizeof *dst);
		nnp_activate(L->act, L->alpha, dst, n, L->out);
		in = dst;
	}
	sw_slot *sl = &R->slots[b];
	memset(sl, 0, sizeof *sl);
	const nnp_layer *last = &m->layers[R->L - 1];
	nnp_metrics_add(&sl->mt, nnp_score_kind(m), in, n, last->out, R->ch.y ? R->ch.y + r0 : NULL,
	                R->opred + r0, NULL);
	sl->agree = n;
}

/* dst[r][i] = src[r][idx[i]] - (sub ? sub[i] : 0) for n rows of k columns. */
static void gather(float *restrict dst, const float *restrict src, size_t n, size_t stride,
                   const size_t *restrict idx, size_t k, const float *restrict sub)
{
	for (size_t r = 0; r < n; r++) {
		const float *restrict s = src + r * stride;
		float *restrict d = dst + r * k;
		if (sub)
			for (size_t i = 0; i < k; i++)
				d[i] = s[idx[i]] - sub[i];
		else
			for (size_t i = 0; i < k; i++)
				d[i] = s[idx[i]];
	}
}

/* Pre-activation of layer p+1 of a candidate, for n rows from r0, into ws->a. */
static void cand_first(const sw_run *R, const sw_plan *P, sw_ws *ws, size_t r0, size_t n)
{
	size_t wp = R->m->layers[P->p].out;
	const float *hp = R->H[P->p] + r0 * wp;
	if (!P->corr) {
		gather(ws->g, hp, n, wp, P->kp, P->nkp, NULL);
		nnp_dense(&P->pm->layers[P->p + 1], ws->g, n, ws->a);
		return;
	}
	size_t wq = R->m->layers[P->p + 1].out, nq = P->nkq;
	const float *zq = R->Z[P->p + 1] + r0 * wq;
	if (P->kq)
		gather(ws->a, zq, n, wq, P->kq, nq, NULL);
	else
		memcpy(ws->a, zq, n * nq * sizeof *ws->a);
	gather(ws->g, hp, n, wp, P->rp, P->nrp, P->mf);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)nq, (int)P->nrp, -1.0f,
	            ws->g, (int)P->nrp, P->wc, (int)P->nrp, 1.0f, ws->a, (int)nq);
}

/* Candidate u on block b. */
static void cand_block(sw_run *R, sw_ws *ws, size_t u, size_t b)
{
	const sw_plan *P = &R->plans[u];
	const nnp_model *pm = P->pm;
	size_t r0 = b * R->ch.block, n = nnp_sweep_chunk_rows(&R->ch, b);
	cand_first(R, P, ws, r0, n);
	float *cur = ws->a, *nxt = ws->b;
	for (size_t l = P->p + 1; l < R->L; l++) {
		const nnp_layer *L = &pm->layers[l];
		if (l > P->p + 1) {
			nnp_dense(L, cur, n, nxt);
			float *t = cur;
			cur = nxt;
			nxt = t;
		}
		nnp_activate(L->act, L->alpha, cur, n, L->out);
	}
	sw_slot *sl = &R->slots[(u + 1) * R->chunk_blocks + b];
	memset(sl, 0, sizeof *sl);
	const nnp_layer *last = &pm->layers[R->L - 1];
	nnp_metrics_add(&sl->mt, nnp_score_kind(pm), cur, n, last->out, R->ch.y ? R->ch.y + r0 : NULL,
	                ws->pred, NULL);
	for (size_t r = 0; r < n; r++)
		sl->agree += ws->pred[r] == R->opred[r0 + r];
}

/* ---- tasks: blocks of the original, then (candidate, block) pairs ------ */

static void orig_task(void *ctx, size_t t, unsigned worker)
{
	sw_run *R = ctx;
	orig_block(R, &R->ws[worker], t);
}

static void cand_task(void *ctx, size_t t, unsigned worker)
{
	sw_run *R = ctx;
	cand_block(R, &R->ws[worker], t / R->ch.nblocks, t % R->ch.nblocks);
}

/* Evaluates every model on rows [0, rows) of x/y, then merges in block order. */
static void run_chunk(void *ctx, const float *x, const int32_t *y, size_t rows)
{
	sw_run *R = ctx;
	nnp_sweep_chunk_set(&R->ch, x, y, rows);
	nnp_pfor_job orig = { orig_task, NULL, R }, cand = { cand_task, NULL, R };
	nnp_pool_for(R->pool, R->ch.nblocks, &orig);
	if (R->n_plans)
		nnp_pool_for(R->pool, R->n_plans * R->ch.nblocks, &cand);
	nnp_sweep_merge_slots(R->tot, R->slots, R->n_plans + 1, R->chunk_blocks, R->ch.nblocks);
}

/* ---- results ---------------------------------------------------------- */

static int finish(nnp_sweep *sw, const sw_run *R, nnp_err *err)
{
	nnp_candidate *o = &sw->original;
	const nnp_metrics *om = &R->tot[0].mt;
	sw->rows = om->rows;
	nnp_sweep_set_scores(o, &R->tot[0], om, o->params);
	/* Candidates that removed nothing are the original itself. */
	for (size_t i = 0; i < sw->n; i++)
		if (sw->c[i].same_as == NNP_NO_DUP)
			nnp_sweep_set_scores(&sw->c[i], &R->tot[0], om, o->params);
	for (size_t u = 0; u < R->n_plans; u++)
		nnp_sweep_set_scores(&sw->c[R->plans[u].cand], &R->tot[u + 1], om, o->params);
	int rc = nnp_sweep_mark_pareto(o, sw->c, sw->n, "sweep", err);
	nnp_sweep_copy_dups(sw->c, sw->n);
	return rc;
}

/* ---- public ----------------------------------------------------------- */

int nnp_sweep_run(nnp_sweep **out, const nnp_model *m, const nnp_stats *s,
                  const nnp_dataset *d, const nnp_sweep_opts *o, nnp_err *err)
{
	return nnp_sweep_run_chunked(out, m, s, d, o, 0, err);
}

int nnp_sweep_run_chunked(nnp_sweep **out, const nnp_model *m, const nnp_stats *s,
                          const nnp_dataset *d, const nnp_sweep_opts *o,
                          size_t max_chunk_blocks, nnp_err *err)
{
	*out = NULL;
	int rc = check_inputs(m, s, d, o, err);
	if (rc)
		return rc;
	/* Our threads run fixed blocks; BLAS threads inside them would oversubscribe. */
	nnp_blas_single_thread();
	sw_run R;
	memset(&R, 0, sizeof R);
	nnp_sweep *sw = calloc(1, sizeof *sw);
	if (!sw)
		return nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory");
	sw->original.kind = NNP_CAND_ORIGINAL;
	sw->original.thr.mean = NAN;
	sw->original.thr.std = NAN;
	sw->original.same_as = NNP_NO_DUP;
	nnp_sweep_set_sizes(&sw->original, m);
	if (nnp_pool_create(&R.pool, nnp_threads_resolve(o->threads), 0, NULL)) {
		free(sw);
		return nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory");
	}
	rc = build_candidates(sw, m, s, o, R.pool, err);
	if (!rc)
		rc = make_plans(&R, sw, m, s, o->fold, err);
	if (!rc)
		rc = run_alloc(&R, m, o->threads, d == NULL, max_chunk_blocks, err);
	if (!rc)
		rc = nnp_sweep_each_chunk(m, d, o->data_path, o->data_opts,
		                          R.chunk_blocks * R.ch.block, run_chunk, &R, err);
	if (!rc)
		rc = finish(sw, &R, err);
	run_free(&R);
	if (rc) {
		nnp_sweep_free(sw);
		return rc;
	}
	*out = sw;
	return NNP_OK;
}

void nnp_sweep_free(nnp_sweep *sw)
{
	if (!sw)
		return;
	if (sw->c)
		for (size_t i = 0; i < sw->n; i++) {
			nnp_keep_free(sw->c[i].keep);
			free(sw->c[i].file);
			free(sw->c[i].ft.file);
		}
	if (sw->models)
		for (size_t i = 0; i < sw->n; i++)
			nnp_model_free(sw->models[i]);
	nnp_keep_free(sw->original.keep);
	NNP_FREE_ALL(sw->original.file, sw->original.ft.file, sw->c, sw->models, sw);
}

size_t nnp_sweep_select(const nnp_sweep *sw, double max_drop_pts, size_t *closest)
{
	size_t best = NNP_NO_DUP, near = NNP_NO_DUP;
	for (size_t i = 0; i < sw->n; i++) {
		const nnp_candidate *c = &sw->c[i];
		size_t size = nnp_candidate_size(c);
		if (near == NNP_NO_DUP || c->accuracy_drop < sw->c[near].accuracy_drop ||
		    (c->accuracy_drop == sw->c[near].accuracy_drop &&
		     size < nnp_candidate_size(&sw->c[near])))
			near = i;
		if (!(c->accuracy_drop <= max_drop_pts))
			continue;
		if (best == NNP_NO_DUP || size < nnp_candidate_size(&sw->c[best]) ||
		    (size == nnp_candidate_size(&sw->c[best]) && c->accuracy > sw->c[best].accuracy))
			best = i;
	}
	if (closest)
		*closest = near;
	return best;
}

/* ---- LIST parsing ----------------------------------------------------- */

static int num_char(char ch)
{
	return (ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' || ch == '+' ||
	       ch == '-';
}

/* One value, text[0..len): a plain decimal number, finite and >= 0. */
static int parse_value(const char *list, const char *p, size_t len, double *v, nnp_err *err)
{
	int len_i = len > 64 ? 64 : (int)len;
	for (size_t i = 0; i < len; i++)
		if (!num_char(p[i]))
			goto bad;
	/* Only number characters: strtod cannot run past the item, and words
	 * like "inf", "nan" or hexadecimal "0x1p3" never reach it. */
	char *end = NULL;
	double x = len ? strtod(p, &end) : 0.0;
	if (len == 0 || end != p + len)
		goto bad;
	if (!isfinite(x))
		return nnp_err_set(err, NNP_EUSAGE, "list \"%.200s\": \"%.*s\" is out of range", list,
		                   len_i, p);
	if (x < 0)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "list \"%.200s\": \"%.*s\" is negative (values must be >= 0)", list,
		                   len_i, p);
	*v = x == 0 ? 0.0 : x;  /* "-0" reads as 0 */
	return NNP_OK;
bad:
	return nnp_err_set(err, NNP_EUSAGE, "list \"%.200s\": \"%.*s\" is not a number", list, len_i,
	                   p);
}

/* start:stop:step, appended to vals (room for SW_LIST_MAX). */
static int parse_range(const char *list, const char *p, size_t len, double *vals, size_t *n,
                       nnp_err *err)
{
	const char *c1 = memchr(p, ':', len);
	const char *c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - p));
	double a, b, step;
	int rc = parse_value(list, p, (size_t)(c1 - p), &a, err);
	if (!rc)
		rc = parse_value(list, c1 + 1, (size_t)(c2 - c1 - 1), &b, err);
	if (!rc)
		rc = parse_value(list, c2 + 1, len - (size_t)(c2 + 1 - p), &step, err);
	if (rc)
		return rc;
	int len_i = len > 64 ? 64 : (int)len;
	if (step <= 0)
		return nnp_err_set(err, NNP_EUSAGE, "list \"%.200s\": range \"%.*s\": step must be > 0",
		                   list, len_i, p);
	if (b < a)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "list \"%.200s\": range \"%.*s\": stop is below start", list, len_i,
		                   p);
	/* The 1e-9 absorbs binary noise: 0:0.3:0.1 has 4 values, not 3. */
	double span = (b - a) / step + 1e-9;
	if (!(span < SW_LIST_MAX) || *n + (size_t)span + 1 > SW_LIST_MAX)
		return nnp_err_set(err, NNP_EUSAGE, "list \"%.200s\": more than %u values", list,
		                   SW_LIST_MAX);
	size_t count = (size_t)floor(span) + 1;
	for (size_t i = 0; i < count; i++) {
		/* 12 significant digits turn 0.30000000000000004 back into 0.3,
		 * the double the literal "0.3" gives. */
		char buf[40];
		snprintf(buf, sizeof buf, "%.12g", a + (double)i * step);
		vals[(*n)++] = strtod(buf, NULL);
	}
	return NNP_OK;
}

int nnp_parse_list(const char *text, double **vals, size_t *n, nnp_err *err)
{
	*vals = NULL;
	*n = 0;
	if (!text || !*text)
		return nnp_err_set(err, NNP_EUSAGE, "list \"\": no values");
	double *v = malloc(SW_LIST_MAX * sizeof *v);
	if (!v)
		return nnp_err_set(err, NNP_ENOMEM, "list: out of memory");
	size_t count = 0, item = 0;
	const char *p = text;
	int rc = NNP_OK;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		item++;
		size_t colons = 0;
		for (size_t i = 0; i < len; i++)
			colons += p[i] == ':';
		if (len == 0) {
			rc = nnp_err_set(err, NNP_EUSAGE, "list \"%.200s\": item %zu is empty", text, item);
		} else if (colons == 2) {
			rc = parse_range(text, p, len, v, &count, err);
		} else if (colons) {
			rc = nnp_err_set(err, NNP_EUSAGE,
			                 "list \"%.200s\": item %zu: a range is start:stop:step", text,
			                 item);
		} else if (count >= SW_LIST_MAX) {
			rc = nnp_err_set(err, NNP_EUSAGE, "list \"%.200s\": more than %u values", text,
			                 SW_LIST_MAX);
		} else {
			rc = parse_value(text, p, len, &v[count], err);
			count += !rc;
		}
		if (rc || !e)
			break;
		p = e + 1;
	}
	if (rc) {
		free(v);
		return rc;
	}
	double *shrunk = realloc(v, count * sizeof *v);
	*vals = shrunk ? shrunk : v;
	*n = count;
	return NNP_OK;
}
