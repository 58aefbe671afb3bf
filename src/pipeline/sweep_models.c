/*
 * Evaluating already-built models against the original (evaluate.h).
 *
 * The rows are taken in chunks (all of them when in memory; read from the
 * file a chunk at a time otherwise) and every chunk in fixed-size blocks. A
 * task is one block: the original runs on it first (its predictions are what
 * agreement compares with), then every distinct candidate, each scoring into
 * its own (model, block) slot. Slots are added in block order, so neither the
 * thread count nor the chunking changes a single bit of the results.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/evaluate.h"
#include "nnprune/forward.h"
#include "nnprune/parallel.h"
#include "nnprune/prune.h"
#include "nnprune/rows.h"
#include "sweep_priv.h"
#include "mem.h"

#define EV_ALIGN 64
#define EV_CHUNK_BYTES ((size_t)32 << 20)   /* streamed rows held at once */
#define EV_MAX_CHUNK_BLOCKS 64u
#define EV_MEM_CHUNK_BLOCKS 1024u           /* bounds the slots for data in memory */

typedef nnp_sweep_slot ev_slot;

/* One thread's scratch: two [block][maxw] buffers and two [block] predictions. */
typedef struct ev_ws {
	float *a, *b;
	int32_t *opred, *pred;
} ev_ws;

typedef struct ev_run {
	const nnp_model *const *mod;  /* [nm]: 0 the original, then the distinct candidates */
	size_t *cand;                 /* [nm] candidate index of model u >= 1 */
	size_t nm;
	size_t chunk_blocks, maxw, n_threads;
	nnp_sweep_chunk ch;           /* the chunk being evaluated */
	ev_slot *slots;               /* [nm][chunk_blocks] */
	ev_slot *tot;                 /* [nm] running totals */
	ev_ws *ws;                    /* [n_threads], one per worker of the pool */
	nnp_pool *pool;
} ev_run;

/* ---- checks ----------------------------------------------------------- */

static int check_opts(const nnp_eval_opts *o, nnp_err *err)
{
	if (o->threads > NNP_EVAL_MAX_THREADS)
		return nnp_err_set(err, NNP_EUSAGE, "evaluation: %u threads, at most %u are allowed",
		                   o->threads, NNP_EVAL_MAX_THREADS);
	if (o->block > NNP_EVAL_MAX_BLOCK)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "evaluation: blocks of %zu rows, at most %u are allowed", o->block,
		                   NNP_EVAL_MAX_BLOCK);
	return NNP_OK;
}

/* Every candidate takes m's inputs and gives m's outputs; duplicates point back. */
static int check_models(const nnp_model *m, const nnp_model *const *models,
                        const nnp_candidate *c, size_t n, nnp_err *err)
{
	if (!m || m->n_layers == 0)
		return nnp_err_set(err, NNP_EUSAGE, "evaluation: no original model");
	if (n && (!models || !c))
		return nnp_err_set(err, NNP_EUSAGE, "evaluation: %zu candidates but no array", n);
	size_t outs = nnp_model_outputs(m);
	for (size_t i = 0; i < n; i++) {
		size_t s = c[i].same_as;
		if (s != NNP_NO_DUP) {
			if (s >= i || c[s].same_as != NNP_NO_DUP)
				return nnp_err_set(err, NNP_EUSAGE,
				                   "evaluation: candidate %zu: same_as %zu is not an earlier "
				                   "distinct candidate", i, s);
			continue;
		}
		const nnp_model *p = models[i];
		if (!p || p->n_layers == 0)
			return nnp_err_set(err, NNP_EUSAGE, "evaluation: candidate %zu has no model", i);
		if (p->input_size != m->input_size)
			return nnp_err_set(err, NNP_EINPUT,
			                   "evaluation: candidate %zu takes %zu inputs, the original %zu",
			                   i, p->input_size, m->input_size);
		if (nnp_model_outputs(p) != outs ||
		    p->layers[p->n_layers - 1].act != m->layers[m->n_layers - 1].act)
			return nnp_err_set(err, NNP_EINPUT,
			                   "evaluation: candidate %zu has %zu %s outputs, the original "
			                   "%zu %s", i, nnp_model_outputs(p),
			                   nnp_act_name(p->layers[p->n_layers - 1].act), outs,
			                   nnp_act_name(m->layers[m->n_layers - 1].act));
	}
	return NNP_OK;
}

/* ---- setup ------------------------------------------------------------ */

static float *fbuf(size_t rows, size_t width)
{
	size_t n, bytes;
	if (!nnp_sweep_mul_ok(rows, width, &n) || !nnp_sweep_mul_ok(n, sizeof(float), &bytes) ||
	    bytes > SIZE_MAX - EV_ALIGN)
		return NULL;
	/* aligned_alloc wants a multiple of the alignment, and never 0. */
	bytes = (bytes + EV_ALIGN - 1) / EV_ALIGN * EV_ALIGN;
	return aligned_alloc(EV_ALIGN, bytes ? bytes : EV_ALIGN);
}

static void run_free(ev_run *R)
{
	if (R->ws)
		for (size_t t = 0; t < R->n_threads; t++)
			NNP_FREE_ALL(R->ws[t].a, R->ws[t].b, R->ws[t].opred, R->ws[t].pred);
	free(R->ws);
	nnp_pool_free(R->pool);
	NNP_FREE_ALL(R->slots, R->tot, (void *)R->mod, R->cand);
}

/* The models to run and the buffers; chunk_rows_hint: rows a chunk may hold
 * (the whole data set in memory), or 0 to size chunks for streaming. */
static int run_alloc(ev_run *R, const nnp_model *m, const nnp_model *const *models,
                     const nnp_candidate *c, size_t n, const nnp_eval_opts *o,
                     size_t chunk_rows_hint, nnp_err *err)
{
	const nnp_model **mod = calloc(n + 1, sizeof *mod);
	R->mod = mod;
	R->cand = calloc(n + 1, sizeof *R->cand);
	if (!mod || !R->cand)
		goto nomem;
	mod[0] = m;
	R->nm = 1;
	R->maxw = nnp_model_max_width(m);
	for (size_t i = 0; i < n; i++) {
		if (c[i].same_as != NNP_NO_DUP)
			continue;
		mod[R->nm] = models[i];
		R->cand[R->nm++] = i;
		size_t w = nnp_model_max_width(models[i]);
		R->maxw = w > R->maxw ? w : R->maxw;
	}
	R->ch.block = o->block ? o->block : NNP_EVAL_BLOCK;
	if (chunk_rows_hint) {
		size_t nb = (chunk_rows_hint - 1) / R->ch.block + 1;
		R->chunk_blocks = nb < EV_MEM_CHUNK_BLOCKS ? nb : EV_MEM_CHUNK_BLOCKS;
	} else {
		/* Streaming holds a chunk's inputs: keep that near EV_CHUNK_BYTES. */
		size_t row = m->input_size * sizeof(float) + sizeof(int32_t);
		size_t cb = EV_CHUNK_BYTES / row / R->ch.block;
		R->chunk_blocks = cb < 1 ? 1 : (cb > EV_MAX_CHUNK_BLOCKS ? EV_MAX_CHUNK_BLOCKS : cb);
	}
	size_t ns;
	if (!nnp_sweep_mul_ok(R->nm, R->chunk_blocks, &ns) || ns > SIZE_MAX / sizeof(ev_slot))
		goto nomem;
	R->slots = calloc(ns, sizeof *R->slots);
	R->tot = calloc(R->nm, sizeof *R->tot);
	unsigned t = nnp_threads_resolve(o->threads);
	/* More threads than blocks in a chunk would never get a task. */
	if (t > R->chunk_blocks)
		t = (unsigned)R->chunk_blocks;
	if (!R->slots || !R->tot || nnp_pool_create(&R->pool, t, 0, NULL))
		goto nomem;
	R->n_threads = nnp_pool_size(R->pool);
	R->ws = calloc(R->n_threads, sizeof *R->ws);
	if (!R->ws)
		goto nomem;
	for (size_t k = 0; k < R->n_threads; k++) {
		ev_ws *w = &R->ws[k];
		w->a = fbuf(R->ch.block, R->maxw);
		w->b = fbuf(R->ch.block, R->maxw);
		w->opred = malloc(R->ch.block * sizeof *w->opred);
		w->pred = malloc(R->ch.block * sizeof *w->pred);
		if (!w->a || !w->b || !w->opred || !w->pred)
			goto nomem;
	}
	return NNP_OK;
nomem:
	return nnp_err_set(err, NNP_ENOMEM, "evaluation: out of memory for %zu models", n + 1);
}

/* ---- the work --------------------------------------------------------- */

/* Runs model p on n rows of x; returns the buffer holding its outputs. */
static const float *forward(const nnp_model *p, const float *x, size_t n, ev_ws *ws)
{
	const float *in = x;
	float *cur = ws->a, *other = ws->b;
	for (size_t l = 0; l < p->n_layers; l++) {
		const nnp_layer *L = &p->layers[l];
		nnp_dense(L, in, n, cur);
		nnp_activate(L->act, L->alpha, cur, n, L->out);
		in = cur;
		float *t = cur;
		cur = other;
		other = t;
	}
	return in;
}

static void eval_block(ev_run *R, ev_ws *ws, size_t b)
{
	size_t r0 = b * R->ch.block;
	size_t n = nnp_sweep_chunk_rows(&R->ch, b);
	const float *x = R->ch.x + r0 * R->mod[0]->input_size;
	const int32_t *y = R->ch.y ? R->ch.y + r0 : NULL;
	for (size_t u = 0; u < R->nm; u++) {
		const nnp_model *p = R->mod[u];
		const float *out = forward(p, x, n, ws);
		const nnp_layer *last = &p->layers[p->n_layers - 1];
		ev_slot *sl = &R->slots[u * R->chunk_blocks + b];
		memset(sl, 0, sizeof *sl);
		int32_t *pred = u ? ws->pred : ws->opred;
		nnp_metrics_add(&sl->mt, nnp_score_kind(p), out, n, last->out, y, pred, NULL);
		if (u == 0) {
			sl->agree = n;
			continue;
		}
		for (size_t r = 0; r < n; r++)
			sl->agree += pred[r] == ws->opred[r];
	}
}

static void block_task(void *ctx, size_t b, unsigned worker)
{
	ev_run *R = ctx;
	eval_block(R, &R->ws[worker], b);
}

/* Evaluates every model on rows [0, rows) of x/y, then adds the slots in
 * block order. */
static void run_chunk(void *ctx, const float *x, const int32_t *y, size_t rows)
{
	ev_run *R = ctx;
	nnp_sweep_chunk_set(&R->ch, x, y, rows);
	nnp_pfor_job job = { block_task, NULL, R };
	nnp_pool_for(R->pool, R->ch.nblocks, &job);
	nnp_sweep_merge_slots(R->tot, R->slots, R->nm, R->chunk_blocks, R->ch.nblocks);
}

/* ---- results ---------------------------------------------------------- */

static int finish(const ev_run *R, nnp_candidate *c, size_t n, nnp_candidate *orig,
                  uint64_t *rows, nnp_err *err)
{
	const nnp_metrics *om = &R->tot[0].mt;
	nnp_sweep_set_sizes(orig, R->mod[0]);
	nnp_sweep_set_scores(orig, &R->tot[0], om, orig->params);
	for (size_t u = 1; u < R->nm; u++) {
		nnp_candidate *ci = &c[R->cand[u]];
		nnp_sweep_set_sizes(ci, R->mod[u]);
		nnp_sweep_set_scores(ci, &R->tot[u], om, orig->params);
	}
	int rc = nnp_sweep_mark_pareto(orig, c, n, "evaluation", err);
	nnp_sweep_copy_dups(c, n);
	if (rows)
		*rows = om->rows;
	return rc;
}

/* d or (path, dopts): the rows; everything else as nnp_evaluate_models. */
static int evaluate(const nnp_model *m, const nnp_model *const *models, nnp_candidate *c,
                    size_t n, const nnp_dataset *d, const char *path,
                    const nnp_data_opts *dopts, const nnp_eval_opts *o, nnp_candidate *orig,
                    uint64_t *rows, nnp_err *err)
{
	nnp_eval_opts o0 = NNP_EVAL_OPTS_INIT;
	if (!o)
		o = &o0;
	if (!orig)
		return nnp_err_set(err, NNP_EUSAGE, "evaluation: nowhere to put the original's figures");
	int rc = check_opts(o, err);
	if (!rc)
		rc = check_models(m, models, c, n, err);
	if (rc)
		return rc;
	if (d) {
		if (d->rows == 0 || !d->x)
			return nnp_err_set(err, NNP_EINPUT, "evaluation: the data has no rows");
		if (d->features != m->input_size)
			return nnp_err_set(err, NNP_EINPUT,
			                   "evaluation: the data has %zu features, the model takes %zu",
			                   d->features, m->input_size);
		if ((rc = nnp_labels_check(d->y, d->rows, nnp_model_outputs(m), 0, err)))
			return rc;
	} else if (!path) {
		return nnp_err_set(err, NNP_EUSAGE, "evaluation: no data and no data path");
	}
	/* Our threads run fixed blocks; BLAS threads inside them would oversubscribe. */
	nnp_blas_single_thread();
	ev_run R;
	memset(&R, 0, sizeof R);
	rc = run_alloc(&R, m, models, c, n, o, d ? d->rows : 0, err);
	if (!rc)
		rc = nnp_sweep_each_chunk(m, d, path, dopts, R.chunk_blocks * R.ch.block, run_chunk,
		                          &R, err);
	if (!rc)
		rc = finish(&R, c, n, orig, rows, err);
	run_free(&R);
	return rc;
}

/* ---- public ----------------------------------------------------------- */

int nnp_evaluate_models(const nnp_model *m, const nnp_model *const *models, nnp_candidate *c,
                        size_t n, const nnp_dataset *d, const nnp_eval_opts *o,
                        nnp_candidate *orig, uint64_t *rows, nnp_err *err)
{
	if (!d)
		return nnp_err_set(err, NNP_EUSAGE, "evaluation: no data");
	return evaluate(m, models, c, n, d, NULL, NULL, o, orig, rows, err);
}

int nnp_evaluate_models_file(const nnp_model *m, const nnp_model *const *models,
                             nnp_candidate *c, size_t n, const char *path,
                             const nnp_data_opts *dopts, const nnp_eval_opts *o,
                             nnp_candidate *orig, uint64_t *rows, nnp_err *err)
{
	if (!path)
		return nnp_err_set(err, NNP_EUSAGE, "evaluation: no data path");
	return evaluate(m, models, c, n, NULL, path, dopts, o, orig, rows, err);
}

int nnp_candidates_dedupe(nnp_candidate *c, size_t n, size_t *n_unique, nnp_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (!c[i].keep)
			return nnp_err_set(err, NNP_EUSAGE, "candidate %zu has no kept set", i);
	if (nnp_sweep_find_dups(c, n, n_unique))
		return nnp_err_set(err, NNP_ENOMEM, "%zu candidates: out of memory", n);
	return NNP_OK;
}

int nnp_sweep_evaluate(nnp_sweep *sw, const nnp_model *m, const nnp_dataset *d,
                       const char *path, const nnp_data_opts *dopts, const nnp_eval_opts *o,
                       nnp_err *err)
{
	if (!sw || (sw->n && (!sw->c || !sw->models)))
		return nnp_err_set(err, NNP_EUSAGE, "evaluation: no sweep");
	int rc = evaluate(m, (const nnp_model *const *)sw->models, sw->c, sw->n, d, path, dopts, o,
	                  &sw->original, &sw->rows, err);
	if (rc)
		return rc;
	sw->n_unique = 0;
	for (size_t i = 0; i < sw->n; i++)
		sw->n_unique += sw->c[i].same_as == NNP_NO_DUP;
	return NNP_OK;
}
