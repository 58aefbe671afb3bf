/* Output-aware pruning: options, the context and its per-layer caches,
 * selection, compensation, building the slimmed model, and the allocation
 * path over per-layer sensitivity curves. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/criteria.h"
#include "nnprune/forward.h"
#include "nnprune/rows.h"
#include "method_priv.h"
#include "prune_priv.h"
#include "names.h"
#include "mem.h"

/* Variant weights held at once while measuring sensitivities; more variants
 * than fit are measured in further passes. */
#define MTH_EVAL_BYTES ((size_t)64 << 20)

static const char *const comp_names[] = { "none", "fold", "ls" };
static const nnp_names comps = NNP_NAMES(comp_names);

const char *nnp_method_name(nnp_method m)
{
	const nnp_criterion *c = nnp_criterion_at((size_t)m);
	return c ? c->name : NULL;
}

int nnp_method_parse(const char *name, nnp_method *out)
{
	int i = nnp_criterion_index(name);
	if (i < 0)
		return -1;
	*out = (nnp_method)i;
	return 0;
}

int nnp_method_by_thresholds(nnp_method m)
{
	const nnp_criterion *c = nnp_criterion_at((size_t)m);
	return c && !c->order && c->kind == NNP_CRIT_STRUCTURED;
}

int nnp_method_uses_ridge(const nnp_method_opts *o)
{
	const nnp_criterion *c = nnp_criterion_at((size_t)o->method);
	return (c && (c->needs & NNP_NEEDS_COV)) || o->compensate == NNP_COMP_LS;
}

/* The criterion's row; the options are checked, so it exists. */
static const nnp_criterion *crit(const nnp_method_ctx *c)
{
	return nnp_criterion_at((size_t)c->o.method);
}

NNP_NAMES_FUNCS(nnp_compensate, nnp_compensate, comps)  /* nnp_compensate_name, _parse */

int nnp_method_check_opts(const nnp_method_opts *o, nnp_err *err)
{
	if ((unsigned)o->method >= nnp_criteria_count())
		return nnp_err_set(err, NNP_EUSAGE, "method %d: expected %s", (int)o->method,
		                   nnp_criteria_names());
	if ((unsigned)o->compensate > NNP_COMP_LS)
		return nnp_err_set(err, NNP_EUSAGE, "compensation %d: expected none, fold or ls",
		                   (int)o->compensate);
	if (!isfinite(o->lambda_rel) || !(o->lambda_rel > 0.0))
		return nnp_err_set(err, NNP_EUSAGE, "ridge lambda %g: must be a finite number > 0",
		                   o->lambda_rel);
	if (o->threads > NNP_METHOD_MAX_THREADS)
		return nnp_err_set(err, NNP_EUSAGE, "threads %u: at most %u are allowed", o->threads,
		                   NNP_METHOD_MAX_THREADS);
	if (o->batch > NNP_METHOD_MAX_BATCH)
		return nnp_err_set(err, NNP_EUSAGE, "batch of %zu rows: at most %u are allowed", o->batch,
		                   NNP_METHOD_MAX_BATCH);
	if (!(o->grid_step > 0.0 && o->grid_step <= 0.5))
		return nnp_err_set(err, NNP_EUSAGE, "allocation grid step %g: must be in (0, 0.5]",
		                   o->grid_step);
	return NNP_OK;
}

static size_t round_count(double keep, size_t n)
{
	double c = floor(keep * (double)n + 0.5);
	if (c < 1.0)
		return 1;
	return c >= (double)n ? n : (size_t)c;
}

int nnp_method_counts(const nnp_model *m, double keep, size_t *counts, nnp_err *err)
{
	if (!(keep > 0.0 && keep <= 1.0))
		return nnp_err_set(err, NNP_EUSAGE, "keep fraction %g: must be in (0, 1]", keep);
	for (size_t l = 0; l + 1 < m->n_layers; l++)
		counts[l] = round_count(keep, m->layers[l].out);
	return NNP_OK;
}

size_t nnp_method_params(const nnp_model *m, const size_t *counts)
{
	size_t p = 0, in = m->input_size;
	for (size_t l = 0; l < m->n_layers; l++) {
		size_t out = m->layers[l].out;
		if (l + 1 < m->n_layers && counts[l] < out)
			out = counts[l];
		p += in * out + out;
		in = out;
	}
	return p;
}

/* Fractions step, 2 step, ... below 1, then 1 itself. */
static size_t grid_points(double step)
{
	return (size_t)floor((1.0 - 1e-9) / step) + 1;
}

static double grid_fraction(double step, size_t g, size_t G)
{
	return g + 1 == G ? 1.0 : (double)(g + 1) * step;
}

/* ---- the context -------------------------------------------------------- */

static void *alloc3(size_t a, size_t b, size_t size)
{
	if (a && b > SIZE_MAX / a)
		return NULL;
	size_t n = a * b;
	return calloc(n ? n : 1, size);
}

static void entry_free(mth_entry *e)
{
	NNP_FREE_ALL(e->key, e->mean, e->var, e->cov, e->zmean, e->cross, e->zero, e->taylor,
	             e->order);
}

static int entry_alloc(mth_entry *e, size_t layer, size_t n, size_t m, int full, int grad,
                       size_t key_cap)
{
	e->layer = layer;
	e->n = n;
	e->m = m;
	e->key = alloc3(key_cap, 1, sizeof *e->key);
	e->mean = alloc3(n, 1, sizeof *e->mean);
	e->var = alloc3(n, 1, sizeof *e->var);
	e->order = alloc3(n, 1, sizeof *e->order);
	e->zero = alloc3(n, 1, sizeof *e->zero);
	if (!e->key || !e->mean || !e->var || !e->order || !e->zero)
		return -1;
	if (grad && !(e->taylor = alloc3(n, 1, sizeof *e->taylor)))
		return -1;
	if (full) {
		e->cov = alloc3(n, n, sizeof *e->cov);
		e->zmean = alloc3(m, 1, sizeof *e->zmean);
		e->cross = alloc3(n, m, sizeof *e->cross);
		if (!e->cov || !e->zmean || !e->cross)
			return -1;
	}
	return 0;
}

static void ws_free(mth_ws *w, size_t L)
{
	if (w->z)
		for (size_t l = 0; l < L; l++)
			free(w->z[l]);
	if (w->a)
		for (size_t l = 0; l < L; l++)
			free(w->a[l]);
	NNP_FREE_ALL(w->z, w->a, w->g, w->p, w->q, w->hd, w->zd, w->part);
}

static int ws_alloc(mth_ws *w, const nnp_method_ctx *c)
{
	w->z = calloc(c->L, sizeof *w->z);
	w->a = calloc(c->L, sizeof *w->a);
	if (!w->z || !w->a)
		return -1;
	for (size_t l = 0; l < c->L; l++) {
		w->z[l] = alloc3(c->batch, c->m->layers[l].out, sizeof(float));
		w->a[l] = alloc3(c->batch, c->m->layers[l].out, sizeof(float));
		if (!w->z[l] || !w->a[l])
			return -1;
	}
	w->g = alloc3(c->batch, c->maxw, sizeof(float));
	w->p = alloc3(c->batch, c->maxw, sizeof(float));
	w->q = alloc3(c->batch, c->maxw, sizeof(float));
	w->hd = alloc3(c->batch, c->maxw, sizeof(double));
	w->zd = alloc3(c->batch, c->maxw, sizeof(double));
	w->part = alloc3(c->part_len, 1, sizeof(double));
	return w->g && w->p && w->q && w->hd && w->zd && w->part ? 0 : -1;
}

void nnp_method_ctx_free(nnp_method_ctx *c)
{
	if (!c)
		return;
	for (size_t l = 0; l < c->H; l++) {
		if (c->orig)
			entry_free(&c->orig[l]);
		if (c->work)
			entry_free(&c->work[l]);
		if (c->kept)
			free(c->kept[l]);
	}
	entry_free(&c->in0);
	if (c->wl)
		for (size_t l = 0; l < c->L; l++) {
			free(c->wl[l].w);
			free(c->wl[l].b);
		}
	if (c->ws)
		for (unsigned t = 0; t < c->threads; t++)
			ws_free(&c->ws[t], c->L);
	NNP_FREE_ALL(c->orig, c->work, c->off, c->soff, c->count, c->kept, c->wl, c->sa, c->sw,
	             c->obs_work, c->rank, c->removed, c->xcol, c->bias, c->rw, c->acc, c->shift,
	             c->ws);
	nnp_pool_free(c->pool);
	free(c);
}

static int check_model(const nnp_model *m, const nnp_method_opts *o, nnp_err *err)
{
	int rc = nnp_method_check_opts(o, err);
	if (rc)
		return rc;
	const nnp_criterion *cr = nnp_criterion_at((size_t)o->method);
	int sparse = cr->kind != NNP_CRIT_STRUCTURED;
	if (sparse && o->compensate != NNP_COMP_LS)
		return nnp_err_set(err, NNP_EUSAGE, "method %s zeroes single weights and removes no "
		                   "neuron: its one compensation is ls (the refit of the surviving "
		                   "weights), not %s", cr->name, nnp_compensate_name(o->compensate));
	if (!m || m->n_layers < 2)
		return nnp_err_set(err, NNP_EUSAGE, "nothing to prune: the model has no hidden layer");
	if (sparse && (m->input_size == 0 || m->input_size > NNP_METHOD_MAX_WIDTH))
		return nnp_err_set(err, NNP_EUSAGE, "%zu inputs: the refit takes 1 to %u",
		                   m->input_size, NNP_METHOD_MAX_WIDTH);
	for (size_t l = 0; l < m->n_layers; l++)
		if (m->layers[l].out == 0 || m->layers[l].out > NNP_METHOD_MAX_WIDTH)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "layer %zu: %zu neurons: the pruning methods take 1 to %u",
			                   l, m->layers[l].out, NNP_METHOD_MAX_WIDTH);
	return NNP_OK;
}

static int check_inputs(const nnp_model *m, const nnp_dataset *d, const nnp_method_opts *o,
                        nnp_err *err)
{
	int rc = check_model(m, o, err);
	if (rc)
		return rc;
	rc = nnp_mth_check_rows(m, d, "", err);
	if (rc)
		return rc;
	const nnp_criterion *cr = nnp_criterion_at((size_t)o->method);
	if ((cr->needs & NNP_NEEDS_LABELS) && !d->y)
		return nnp_err_set(err, NNP_EINPUT, "calibration set: the rows have no labels, and "
		                   "method %s needs them", cr->name);
	return NNP_OK;
}

/* Offsets of each hidden layer's sums and shifts in an ORIG pass. */
static void set_layout(nnp_method_ctx *c)
{
	size_t off = 0, soff = 0;
	for (size_t l = 0; l < c->H; l++) {
		c->off[l] = off;
		c->soff[l] = soff;
		off += nnp_mth_stat_len(c, l);
		soff += nnp_mth_shift_len(c, l);
	}
	c->orig_len = off;
	c->shift_len = soff;
	c->max_var = c->H * grid_points(c->o.grid_step);
	c->part_len = c->orig_len > c->max_var ? c->orig_len : c->max_var;
	if (c->sparse) {
		/* Passes of one layer (the rows included) hold more than all hidden
		 * layers' when the input is wide. */
		size_t in = nnp_mth_stat_len(c, MTH_INPUT), ish = nnp_mth_shift_len(c, MTH_INPUT);
		c->part_len = in > c->part_len ? in : c->part_len;
		c->shift_len = ish > c->shift_len ? ish : c->shift_len;
	}
}

static int ctx_alloc(nnp_method_ctx *c)
{
	size_t H = c->H, key_cap = H;
	for (size_t l = 0; l < H; l++)
		key_cap += c->m->layers[l].out;
	c->orig = calloc(H, sizeof *c->orig);
	c->work = calloc(H, sizeof *c->work);
	c->off = calloc(H, sizeof *c->off);
	c->soff = calloc(H, sizeof *c->soff);
	c->count = calloc(H, sizeof *c->count);
	c->kept = calloc(H, sizeof *c->kept);
	c->wl = calloc(c->L, sizeof *c->wl);
	if (!c->orig || !c->work || !c->off || !c->soff || !c->count || !c->kept || !c->wl)
		return -1;
	set_layout(c);
	for (size_t l = 0; l < H; l++) {
		size_t n = c->m->layers[l].out, m = c->m->layers[l + 1].out;
		/* Nothing is ever cut before layer 0: its statistics are always the
		 * unpruned network's, so it needs no pruned-prefix entry. */
		int grad = (crit(c)->needs & NNP_NEEDS_GRAD) != 0;
		if (entry_alloc(&c->orig[l], l, n, m, c->full, grad, key_cap) ||
		    ((l > 0 || c->sparse) && entry_alloc(&c->work[l], l, n, m, c->full, grad, key_cap)))
			return -1;
		if (!(c->kept[l] = alloc3(n, 1, sizeof **c->kept)))
			return -1;
	}
	if (c->sparse && entry_alloc(&c->in0, MTH_INPUT, c->m->input_size, c->m->layers[0].out,
	                             c->full, 0, 1))
		return -1;
	for (size_t l = c->sparse ? 0 : 1; l < c->L; l++) {
		const nnp_layer *src = &c->m->layers[l];
		nnp_layer *w = &c->wl[l];
		w->act = src->act;
		w->alpha = src->alpha;
		/* Sparse: layer 0 applies the original's preprocessing (borrowed). */
		w->pre_offset = src->pre_offset;
		w->pre_scale = src->pre_scale;
		w->w = alloc3(src->in, src->out, sizeof(float));
		w->b = alloc3(src->out, 1, sizeof(float));
		if (!w->w || !w->b)
			return -1;
	}
	/* The refit's inputs: hidden neurons, or (sparse) any layer's inputs. */
	size_t maxn = c->sparse ? c->maxw : c->maxh;
	c->sa = alloc3(maxn, maxn, sizeof *c->sa);
	c->sw = alloc3(c->maxh, c->maxw, sizeof *c->sw);
	c->rank = alloc3(c->maxh, 1, sizeof *c->rank);
	c->removed = alloc3(maxn, 1, sizeof *c->removed);
	c->xcol = alloc3(c->maxw, 1, sizeof *c->xcol);
	c->bias = alloc3(c->maxw, 1, sizeof *c->bias);
	c->rw = alloc3(c->maxw, 1, sizeof *c->rw);
	if (!c->xcol || !c->bias || !c->rw)
		return -1;
	c->acc = alloc3(c->part_len, 1, sizeof *c->acc);
	c->shift = alloc3(c->shift_len, 1, sizeof *c->shift);
	if (!c->sa || !c->sw || !c->rank || !c->removed || !c->acc || !c->shift)
		return -1;
	if ((crit(c)->needs & NNP_NEEDS_COV) &&
	    !(c->obs_work = alloc3(nnp_mth_obs_work(c->maxh, c->maxw), 1, sizeof(double))))
		return -1;
	if (nnp_pool_create(&c->pool, c->threads, 0, NULL))
		return -1;
	c->ws = calloc(c->threads, sizeof *c->ws);
	if (!c->ws)
		return -1;
	for (unsigned t = 0; t < c->threads; t++)
		if (ws_alloc(&c->ws[t], c))
			return -1;
	return 0;
}

/* The context over c->rows rows (c->d or c->path set), its buffers allocated. */
static int ctx_setup(nnp_method_ctx *c, const nnp_model *m, const nnp_method_opts *o,
                     nnp_err *err)
{
	c->m = m;
	c->o = *o;
	c->L = m->n_layers;
	c->H = m->n_layers - 1;
	c->batch = o->batch ? o->batch : NNP_METHOD_BATCH;
	c->n_batches = (c->rows - 1) / c->batch + 1;
	c->threads = nnp_threads_resolve(o->threads);
	/* More workspaces than batches would never be used. */
	if (c->threads > c->n_batches)
		c->threads = (unsigned)c->n_batches;
	c->full = nnp_method_uses_ridge(o);
	c->sparse = crit(c)->kind != NNP_CRIT_STRUCTURED;
	/* Sparse: the rows are a layer's inputs like the others. */
	c->maxw = c->sparse ? m->input_size : 1;
	for (size_t l = 0; l < c->L; l++) {
		size_t w = m->layers[l].out;
		c->maxw = w > c->maxw ? w : c->maxw;
		if (l < c->H && w > c->maxh)
			c->maxh = w;
	}
	if (ctx_alloc(c))
		return nnp_err_set(err, NNP_ENOMEM, "pruning methods: out of memory for %zu-row batches",
		                   c->batch);
	if (!c->d) {
		/* Whole batches keep the sums those of the rows in memory; the byte
		 * cap keeps many threads from holding many rows. */
		size_t nb = 2 * (size_t)c->threads;
		nb = nb > MTH_CHUNK_BATCHES ? nb : MTH_CHUNK_BATCHES;
		size_t batch_bytes = c->batch * m->input_size * sizeof(float);
		size_t cap = NNP_METHOD_CHUNK_BYTES / batch_bytes;
		nb = nb < cap ? nb : cap;
		nb = nb < c->n_batches ? nb : c->n_batches;
		nb = nb ? nb : 1;
		c->chunk_rows = nb * c->batch;
	}
	/* Our threads run fixed batches; BLAS threads inside them would only
	 * compete for the same cores. */
	nnp_blas_single_thread();
	return NNP_OK;
}

int nnp_method_ctx_create(nnp_method_ctx **out, const nnp_model *m, const nnp_dataset *calib,
                          const nnp_method_opts *o, nnp_err *err)
{
	*out = NULL;
	int rc = check_inputs(m, calib, o, err);
	if (rc)
		return rc;
	nnp_method_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return nnp_err_set(err, NNP_ENOMEM, "pruning methods: out of memory");
	c->d = calib;
	c->rows = calib->rows;
	if ((rc = ctx_setup(c, m, o, err))) {
		nnp_method_ctx_free(c);
		return rc;
	}
	*out = c;
	return NNP_OK;
}

size_t nnp_method_ctx_rows(const nnp_method_ctx *c)
{
	return c->rows;
}

int nnp_method_ctx_create_stream(nnp_method_ctx **out, const nnp_model *m,
                                 const nnp_calib_stream *s, const nnp_method_opts *o,
                                 nnp_err *err)
{
	*out = NULL;
	int rc = check_model(m, o, err);
	if (rc)
		return rc;
	const char *path = s->path;
	nnp_data_opts so = *s->opts;
	so.expect_features = m->input_size;
	nnp_file_stamp stamp;
	uint64_t rows = s->rows;
	if (s->stamp)
		stamp = *s->stamp;
	else if ((rc = nnp_file_stamp_get(path, &stamp, err)))
		return rc;
	/* Read through once: a bad row is an error now, before any work. */
	if (!rows && (rc = nnp_data_count_rows(path, &so, &rows, err)))
		return rc;
	if (rows == 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: calibration set: no rows", path);
	if (rows > SIZE_MAX / 2)
		return nnp_err_set(err, NNP_EINPUT, "%s: %llu rows: too many", path,
		                   (unsigned long long)rows);
	nnp_method_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return nnp_err_set(err, NNP_ENOMEM, "pruning methods: out of memory");
	c->path = path;
	c->sopts = so;
	c->stamp = stamp;
	c->rows = (size_t)rows;
	if ((rc = ctx_setup(c, m, o, err))) {
		nnp_method_ctx_free(c);
		return rc;
	}
	*out = c;
	return NNP_OK;
}

/* ---- statistics --------------------------------------------------------- */

static int all_finite(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* Turns a pass's sums (acc, shifted by shift) into means, covariances and lambda. */
static int finalize(const nnp_method_ctx *c, mth_entry *e, const double *acc,
                    const double *shift, nnp_err *err)
{
	size_t n = e->n, m = e->m;
	double N = (double)c->rows;
	const double *sum_h = acc;
	for (size_t j = 0; j < n; j++)
		e->mean[j] = shift[j] + sum_h[j] / N;
	if (c->full) {
		const double *sum_z = acc + n, *S = sum_z + m, *X = S + n * n;
		for (size_t i = 0; i < m; i++)
			e->zmean[i] = shift[n + i] + sum_z[i] / N;
		for (size_t i = 0; i < n; i++) {
			double mi = sum_h[i] / N;
			for (size_t j = i; j < n; j++) {
				double v = S[i * n + j] / N - mi * (sum_h[j] / N);
				e->cov[i * n + j] = v;
				e->cov[j * n + i] = v;
			}
			if (e->cov[i * n + i] < 0.0)
				e->cov[i * n + i] = 0.0;
			e->var[i] = e->cov[i * n + i];
			for (size_t k = 0; k < m; k++)
				e->cross[i * m + k] = X[i * m + k] / N - mi * (sum_z[k] / N);
		}
	} else {
		const double *sq = acc + n;
		for (size_t j = 0; j < n; j++) {
			double mj = sum_h[j] / N, v = sq[j] / N - mj * mj;
			e->var[j] = v > 0.0 ? v : 0.0;
		}
	}
	const double *zc = acc + (c->full ? n + m + n * n + n * m : 2 * n);
	for (size_t j = 0; j < n; j++)
		e->zero[j] = zc[j] / N;
	int ok = all_finite(e->mean, n) && all_finite(e->var, n);
	if (ok && c->full)
		ok = all_finite(e->zmean, m) && all_finite(e->cov, n * n) && all_finite(e->cross, n * m);
	if (!ok && e->layer == MTH_INPUT)
		return nnp_err_set(err, NNP_EINPUT, "calibration set: the rows' statistics are not "
		                   "finite");
	if (!ok)
		return nnp_err_set(err, NNP_EINPUT,
		                   "calibration set: hidden layer %zu: activations are not finite",
		                   e->layer);
	double tr = 0.0;
	for (size_t j = 0; j < n; j++)
		tr += e->var[j];
	/* All-constant activations (trace 0) still need a positive ridge. */
	e->lambda = c->o.lambda_rel * tr / (double)n;
	if (!(e->lambda > 0.0) || !isfinite(e->lambda))
		e->lambda = c->o.lambda_rel;
	e->have_order = 0;
	e->valid = 1;
	return NNP_OK;
}

int nnp_mth_finalize(const nnp_method_ctx *c, mth_entry *e, nnp_err *err)
{
	return finalize(c, e, c->acc, c->shift, err);
}

static int ensure_orig(nnp_method_ctx *c, nnp_err *err)
{
	if (c->have_orig)
		return NNP_OK;
	int prc = nnp_mth_pass(c, MTH_PASS_ORIG, 0, NULL, 0, err);
	if (prc)
		return prc;
	for (size_t l = 0; l < c->H; l++) {
		int rc = finalize(c, &c->orig[l], c->acc + c->off[l], c->shift + c->soff[l], err);
		if (rc)
			return rc;
	}
	if (crit(c)->needs & NNP_NEEDS_GRAD) {
		double **sc = calloc(c->H, sizeof *sc);
		if (!sc)
			return nnp_err_set(err, NNP_ENOMEM, "pruning methods: out of memory");
		for (size_t l = 0; l < c->H; l++)
			sc[l] = c->orig[l].taylor;
		nnp_rows_spec sp;
		nnp_mth_rows_spec(c, &sp);
		int rc = nnp_mth_taylor(c->m, &sp, c->pool, c->batch, 0, c->H, sc, err);
		free(sc);
		if (rc)
			return rc;
	}
	c->have_orig = 1;
	return NNP_OK;
}

/* The key of layer l's statistics: the counts and kept sets of the layers before. */
static size_t key_build(const nnp_method_ctx *c, size_t l, size_t *key)
{
	size_t n = 0;
	for (size_t i = 0; i < l; i++)
		key[n++] = c->count[i];
	for (size_t i = 0; i < l; i++)
		for (size_t j = 0; j < c->count[i]; j++)
			key[n++] = c->kept[i][j];
	return n;
}

static int key_matches(const nnp_method_ctx *c, const mth_entry *e, size_t l)
{
	if (!e->valid)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < l; i++)
		if (n >= e->key_len || e->key[n++] != c->count[i])
			return 0;
	for (size_t i = 0; i < l; i++)
		for (size_t j = 0; j < c->count[i]; j++)
			if (n >= e->key_len || e->key[n++] != c->kept[i][j])
				return 0;
	return n == e->key_len;
}

/*
 * Taylor scores of hidden layer l in the network pruned so far: layer 0's
 * kept rows, the work layers 1..l (layer l whole, over the kept inputs),
 * the original layers after it.
 */
static int taylor_work(nnp_method_ctx *c, size_t l, mth_entry *e, nnp_err *err)
{
	const nnp_model *m = c->m;
	const nnp_layer *s0 = &m->layers[0];
	nnp_layer *ly = calloc(c->L, sizeof *ly);
	float *w0 = alloc3(c->count[0], s0->in, sizeof *w0);
	float *b0 = alloc3(c->count[0], 1, sizeof *b0);
	double **sc = calloc(c->H, sizeof *sc);
	int rc;
	if (!ly || !w0 || !b0 || !sc) {
		rc = nnp_err_set(err, NNP_ENOMEM, "pruning methods: out of memory");
		goto done;
	}
	ly[0] = *s0;
	ly[0].out = c->count[0];
	ly[0].w = w0;
	ly[0].b = b0;
	for (size_t r = 0; r < c->count[0]; r++) {
		memcpy(w0 + r * s0->in, s0->w + c->kept[0][r] * s0->in, s0->in * sizeof *w0);
		b0[r] = s0->b[c->kept[0][r]];
	}
	for (size_t i = 1; i < c->L; i++)
		ly[i] = i <= l ? c->wl[i] : m->layers[i];
	nnp_model tm;
	memset(&tm, 0, sizeof tm);
	tm.input_size = m->input_size;
	tm.n_layers = c->L;
	tm.layers = ly;
	tm.logits = nnp_model_logits(m);
	sc[l] = e->taylor;
	nnp_rows_spec sp;
	nnp_mth_rows_spec(c, &sp);
	rc = nnp_mth_taylor(&tm, &sp, c->pool, c->batch, l, l + 1, sc, err);
done:
	NNP_FREE_ALL(ly, w0, b0, sc);
	return rc;
}

/*
 * Layer l's statistics in the network pruned so far (c->count, c->kept,
 * c->wl for the layers before l): the unpruned network's when nothing before
 * was cut, the cached ones when the same cut was seen last, else a new pass.
 */
static int get_entry(nnp_method_ctx *c, size_t l, mth_entry **out, nnp_err *err)
{
	int whole = 1;
	for (size_t i = 0; i < l; i++)
		whole = whole && c->count[i] == c->m->layers[i].out;
	if (whole) {
		int rc = ensure_orig(c, err);
		*out = &c->orig[l];
		return rc;
	}
	mth_entry *e = &c->work[l];
	*out = e;
	if (key_matches(c, e, l))
		return NNP_OK;
	e->valid = 0;
	int rc = nnp_mth_pass(c, MTH_PASS_WORK, l, NULL, 0, err);
	if (rc)
		return rc;
	rc = finalize(c, e, c->acc, c->shift, err);
	if (!rc && (crit(c)->needs & NNP_NEEDS_GRAD))
		rc = taylor_work(c, l, e, err);
	if (rc) {
		e->valid = 0;
		return rc;
	}
	e->key_len = key_build(c, l, e->key);
	return NNP_OK;
}

/* ---- selection and compensation ----------------------------------------- */

/* The k neurons of layer l that stay under the context's method, ascending. */
static int select_kept(nnp_method_ctx *c, size_t l, mth_entry *e, size_t k, size_t *kept,
                       nnp_err *err)
{
	size_t n = e->n;
	if (k >= n) {
		for (size_t j = 0; j < n; j++)
			kept[j] = j;
		return NNP_OK;
	}
	if (!e->have_order) {
		/* The incoming weights as the network now is: the original's for
		 * the unpruned statistics, else the work layer over the kept inputs. */
		const nnp_layer *wi = e == &c->orig[l] || l == 0 ? &c->m->layers[l] : &c->wl[l];
		nnp_crit_layer in = { l, n, e->m, e->mean, e->var, e->cov, e->cross, e->lambda,
		                      c->m->layers[l + 1].w, c->rank, c->obs_work,
		                      wi->in, wi->w, c->m->layers[l].act, e->zero, e->taylor };
		int rc = crit(c)->order(&in, e->order, err);
		if (rc)
			return rc;
		e->have_order = 1;
	}
	nnp_mth_kept_from_order(e->order, n, k, kept);
	return NNP_OK;
}

/*
 * Layer l+1 over the kept inputs of hidden layer l (kept[k], ascending), from
 * the original layer l+1 and layer l's statistics: w [m][k], b [m].
 */
static int compensate(nnp_method_ctx *c, size_t l, const mth_entry *e, const size_t *kept,
                      size_t k, float *w, float *b, nnp_err *err)
{
	const nnp_layer *src = &c->m->layers[l + 1];
	size_t n = src->in, m = src->out;
	if (k == n || c->o.compensate != NNP_COMP_LS) {
		/* Fold: the removed neurons, ascending (the complement of kept). */
		size_t n_rm = 0, *rm = c->o.compensate == NNP_COMP_FOLD ? c->removed : NULL;
		for (size_t j = 0, t = 0; rm && j < n; j++) {
			if (t < k && kept[t] == j)
				t++;
			else
				rm[n_rm++] = j;
		}
		for (size_t i = 0; i < m; i++) {
			const float *row = src->w + i * n;
			for (size_t j = 0; j < k; j++)
				w[i * k + j] = row[kept[j]];
			b[i] = (float)nnp_fold_bias(src->b[i], row, e->mean, rm, n_rm);
		}
	} else {
		int rc = nnp_mth_ls_fit(c, e, kept, k, 0, m, err);
		if (rc)
			return rc;
		for (size_t i = 0; i < m; i++) {
			for (size_t j = 0; j < k; j++)
				w[i * k + j] = (float)c->sw[j * m + i];
			b[i] = (float)c->bias[i];
		}
	}
	return nnp_mth_check_finite(l + 1, w, m * k, b, m, err);
}

int nnp_mth_ls_fit(nnp_method_ctx *c, const mth_entry *e, const size_t *kept, size_t k,
                   size_t i0, size_t mm, nnp_err *err)
{
	size_t n = e->n, m = e->m;
	const double *cross = e->cross;
	if (mm < m) {
		/* The outputs' columns of the cross-covariance, side by side. */
		for (size_t j = 0; j < n; j++)
			for (size_t i = 0; i < mm; i++)
				c->xcol[j * mm + i] = e->cross[j * m + i0 + i];
		cross = c->xcol;
	}
	double lam = e->lambda;
	if (nnp_mth_ridge(e->cov, cross, n, mm, kept, k, &lam, c->sw, c->sa)) {
		if (e->layer == MTH_INPUT)
			return nnp_err_set(err, NNP_EINPUT, "the input rows: their calibration covariance "
			                   "cannot be factorised, even with lambda %g", lam);
		return nnp_err_set(err, NNP_EINPUT,
		                   "hidden layer %zu: the calibration covariance cannot be "
		                   "factorised, even with lambda %g", e->layer, lam);
	}
	for (size_t i = 0; i < mm; i++) {
		double acc = e->zmean[i0 + i];
		for (size_t j = 0; j < k; j++)
			acc -= c->sw[j * mm + i] * e->mean[kept[j]];
		c->bias[i] = acc;
	}
	return NNP_OK;
}

int nnp_mth_check_finite(size_t l, const float *w, size_t nw, const float *b, size_t nb,
                         nnp_err *err)
{
	for (size_t i = 0; i < nw; i++)
		if (!isfinite(w[i]))
			return nnp_err_set(err, NNP_EINPUT, "layer %zu: compensated weight is not finite",
			                   l);
	for (size_t i = 0; i < nb; i++)
		if (!isfinite(b[i]))
			return nnp_err_set(err, NNP_EINPUT,
			                   "layer %zu: compensated bias[%zu] is not finite", l, i);
	return NNP_OK;
}

/* Keeps rows kept[0..k) of a work layer (ascending, so copies move forward). */
static void keep_rows(nnp_layer *w, const size_t *kept, size_t k)
{
	for (size_t r = 0; r < k; r++) {
		if (kept[r] != r)
			memmove(w->w + r * w->in, w->w + kept[r] * w->in, w->in * sizeof *w->w);
		w->b[r] = w->b[kept[r]];
	}
	w->out = k;
}

/*
 * Builds c->wl and c->kept for one candidate, front to back: statistics of
 * layer l, its kept set (given, or selected to counts[l]), then layer l+1
 * compensated over it.
 */
static int run_candidate(nnp_method_ctx *c, const size_t *counts, const nnp_keep *given,
                         nnp_err *err)
{
	for (size_t l = 0; l < c->H; l++) {
		mth_entry *e;
		int rc = get_entry(c, l, &e, err);
		if (rc)
			return rc;
		size_t k = given ? given->count[l] : counts[l];
		if (given)
			memcpy(c->kept[l], given->idx[l], k * sizeof **c->kept);
		else if ((rc = select_kept(c, l, e, k, c->kept[l], err)))
			return rc;
		c->count[l] = k;
		nnp_layer *nx = &c->wl[l + 1];
		nx->in = k;
		nx->out = c->m->layers[l + 1].out;
		rc = compensate(c, l, e, c->kept[l], k, nx->w, nx->b, err);
		if (rc)
			return rc;
		if (l > 0)
			keep_rows(&c->wl[l], c->kept[l], k);
	}
	return NNP_OK;
}

/* A context of an unstructured method refits weights (nnp_method_ctx_refit);
 * it removes no neuron. */
static int sparse_refused(const nnp_method_ctx *c, nnp_err *err)
{
	return nnp_err_set(err, NNP_EUSAGE, "method %s removes no neuron: its context refits "
	                   "surviving weights (nnp_method_ctx_refit)", crit(c)->name);
}

/* The slimmed model of the candidate in c->wl / c->kept. */
static int build_model(const nnp_method_ctx *c, nnp_model **out, nnp_err *err)
{
	const nnp_model *m = c->m;
	size_t L = c->L;
	nnp_model *p = NULL;
	int rc = nnp_prune_shell(&p, m, c->count, err);
	if (rc)
		return rc;
	/* Layer 0 is never refit: its kept rows as they were. */
	const nnp_layer *s0 = &m->layers[0];
	for (size_t r = 0; r < c->count[0]; r++) {
		memcpy(p->layers[0].w + r * s0->in, s0->w + c->kept[0][r] * s0->in,
		       s0->in * sizeof(float));
		p->layers[0].b[r] = s0->b[c->kept[0][r]];
	}
	for (size_t l = 1; l < L; l++) {
		const nnp_layer *w = &c->wl[l];
		memcpy(p->layers[l].w, w->w, w->in * w->out * sizeof(float));
		memcpy(p->layers[l].b, w->b, w->out * sizeof(float));
	}
	*out = p;
	return NNP_OK;
}

static int make_keep(const nnp_method_ctx *c, nnp_keep **out)
{
	size_t H = c->H;
	nnp_keep *k = nnp_keep_alloc(H);
	if (!k)
		return -1;
	for (size_t l = 0; l < H; l++) {
		k->count[l] = c->count[l];
		k->idx[l] = malloc(c->count[l] * sizeof **k->idx);
		if (!k->idx[l]) {
			nnp_keep_free(k);
			return -1;
		}
		memcpy(k->idx[l], c->kept[l], c->count[l] * sizeof **k->idx);
	}
	*out = k;
	return 0;
}

static int check_counts(const nnp_method_ctx *c, const size_t *counts, nnp_err *err)
{
	for (size_t l = 0; l < c->H; l++) {
		size_t n = c->m->layers[l].out;
		if (counts[l] == 0 || counts[l] > n)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "hidden layer %zu: keeping %zu of %zu neurons: must be 1 to %zu",
			                   l, counts[l], n, n);
	}
	return NNP_OK;
}

int nnp_method_ctx_prune(nnp_method_ctx *c, const size_t *counts, nnp_model **out,
                         nnp_keep **kept, nnp_err *err)
{
	*out = NULL;
	if (kept)
		*kept = NULL;
	if (c->sparse)
		return sparse_refused(c, err);
	if (!crit(c)->order)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "method %s selects by thresholds: it takes kept sets, not counts",
		                   crit(c)->name);
	int rc = check_counts(c, counts, err);
	if (!rc)
		rc = run_candidate(c, counts, NULL, err);
	if (!rc)
		rc = build_model(c, out, err);
	if (!rc && kept && make_keep(c, kept)) {
		nnp_model_free(*out);
		*out = NULL;
		rc = nnp_err_set(err, NNP_ENOMEM, "pruning methods: out of memory");
	}
	return rc;
}

static int check_given(const nnp_method_ctx *c, const nnp_keep *k, nnp_err *err)
{
	if (!k || k->n_layers != c->H)
		return nnp_err_set(err, NNP_EUSAGE, "kept sets for %zu hidden layers, the model has %zu",
		                   k ? k->n_layers : 0, c->H);
	int rc = check_counts(c, k->count, err);
	if (rc)
		return rc;
	for (size_t l = 0; l < c->H; l++)
		for (size_t i = 0; i < k->count[l]; i++) {
			size_t j = k->idx[l][i];
			if (j >= c->m->layers[l].out || (i > 0 && j <= k->idx[l][i - 1]))
				return nnp_err_set(err, NNP_EUSAGE,
				                   "hidden layer %zu: kept index %zu is out of order or range",
				                   l, j);
		}
	return NNP_OK;
}

int nnp_method_ctx_prune_keep(nnp_method_ctx *c, const nnp_keep *k, nnp_model **out,
                              nnp_err *err)
{
	*out = NULL;
	if (c->sparse)
		return sparse_refused(c, err);
	int rc = check_given(c, k, err);
	if (!rc)
		rc = run_candidate(c, NULL, k, err);
	if (!rc)
		rc = build_model(c, out, err);
	return rc;
}

/* ---- allocation --------------------------------------------------------- */

void nnp_alloc_free(nnp_alloc *a)
{
	if (!a)
		return;
	NNP_FREE_ALL(a->fraction, a->grid_count, a->sens, a->counts, a->params, a->cost, a);
}

size_t nnp_alloc_pick(const nnp_alloc *a, size_t max_params)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->params[i] <= max_params)
			return i;
	return NNP_ALLOC_NONE;
}

static void variants_free(mth_variant *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].idx);
		free(v[i].w);
		free(v[i].b);
		v[i].idx = NULL;
		v[i].w = v[i].b = NULL;
	}
}

static size_t variant_bytes(const nnp_model *m, size_t l, size_t k)
{
	size_t out = m->layers[l + 1].out;
	return (out * k + out) * sizeof(float) + k * sizeof(size_t);
}

/* Selects and compensates variant v on the unpruned network's statistics. */
static int variant_build(nnp_method_ctx *c, mth_variant *v, nnp_err *err)
{
	size_t out = c->m->layers[v->layer + 1].out;
	v->idx = alloc3(v->k, 1, sizeof *v->idx);
	v->w = alloc3(out, v->k, sizeof *v->w);
	v->b = alloc3(out, 1, sizeof *v->b);
	if (!v->idx || !v->w || !v->b)
		return nnp_err_set(err, NNP_ENOMEM, "allocation: out of memory");
	mth_entry *e = &c->orig[v->layer];
	int rc = select_kept(c, v->layer, e, v->k, v->idx, err);
	if (!rc)
		rc = compensate(c, v->layer, e, v->idx, v->k, v->w, v->b, err);
	return rc;
}

/*
 * Fills a->sens: one variant per distinct count below the width, measured in
 * groups that fit MTH_EVAL_BYTES, one EVAL pass per group.
 */
static int measure_sens(nnp_method_ctx *c, nnp_alloc *a, nnp_err *err)
{
	size_t H = c->H, G = a->n_grid, nv = 0;
	mth_variant *v = calloc(H * G, sizeof *v);
	size_t *slot = calloc(H * G, sizeof *slot);   /* (l, g) -> variant */
	double *sens = calloc(H * G, sizeof *sens);    /* [variant] */
	int rc = NNP_OK;
	if (!v || !slot || !sens) {
		rc = nnp_err_set(err, NNP_ENOMEM, "allocation: out of memory");
		goto done;
	}
	for (size_t l = 0; l < H; l++)
		for (size_t g = 0; g < G; g++) {
			size_t k = a->grid_count[l * G + g];
			slot[l * G + g] = NNP_ALLOC_NONE;
			if (k == c->m->layers[l].out)
				continue;
			if (g > 0 && a->grid_count[l * G + g - 1] == k) {
				slot[l * G + g] = slot[l * G + g - 1];
				continue;
			}
			v[nv] = (mth_variant){ l, k, NULL, NULL, NULL };
			slot[l * G + g] = nv++;
		}
	for (size_t i = 0; i < nv && !rc;) {
		size_t j = i, bytes = 0;
		while (j < nv && (j == i || bytes + variant_bytes(c->m, v[j].layer, v[j].k) <=
		                                MTH_EVAL_BYTES))
			bytes += variant_bytes(c->m, v[j].layer, v[j].k), j++;
		for (size_t t = i; t < j && !rc; t++)
			rc = variant_build(c, &v[t], err);
		if (!rc)
			rc = nnp_mth_pass(c, MTH_PASS_EVAL, 0, v + i, j - i, err);
		if (!rc)
			for (size_t t = i; t < j; t++)
				sens[t] = c->acc[t - i] / (double)c->rows;
		variants_free(v + i, j - i);
		i = j;
	}
	for (size_t s = 0; s < H * G && !rc; s++)
		a->sens[s] = slot[s] == NNP_ALLOC_NONE ? 0.0 : sens[slot[s]];
done:
	free(sens);
	free(v);
	free(slot);
	return rc;
}

/* Each layer's distinct counts from its width down, with their sensitivities. */
typedef struct mth_levels {
	size_t stride;    /* n_grid + 1 */
	size_t *count;    /* [H][stride] descending */
	double *sens;     /* [H][stride] */
	size_t *n;        /* [H] levels of each layer */
	size_t *cur;      /* [H] the path's current level */
} mth_levels;

/* Fills the levels from the curves; returns the number of path steps. */
static size_t levels_fill(mth_levels *v, const nnp_method_ctx *c, const nnp_alloc *a)
{
	size_t G = a->n_grid, total = 0;
	for (size_t l = 0; l < c->H; l++) {
		size_t *lc = v->count + l * v->stride;
		double *ls = v->sens + l * v->stride;
		lc[0] = c->m->layers[l].out;
		ls[0] = 0.0;
		v->n[l] = 1;
		for (size_t g = G; g-- > 0;) {
			size_t k = a->grid_count[l * G + g];
			if (k < lc[v->n[l] - 1]) {
				lc[v->n[l]] = k;
				ls[v->n[l]++] = a->sens[l * G + g];
			}
		}
		total += v->n[l] - 1;
	}
	return total;
}

/*
 * The layer whose next level costs the least sensitivity per parameter
 * saved (ties: the lower layer); cc holds the current counts.
 */
static size_t path_choose(const mth_levels *v, const nnp_model *m, size_t H, size_t *cc)
{
	size_t p0 = nnp_method_params(m, cc), best = H;
	double br = 0.0;
	for (size_t l = 0; l < H; l++) {
		size_t at = l * v->stride + v->cur[l];
		if (v->cur[l] + 1 >= v->n[l])
			continue;
		size_t keep = cc[l];
		cc[l] = v->count[at + 1];
		/* Positive: every neuron carries at least its bias. */
		size_t dp = p0 - nnp_method_params(m, cc);
		cc[l] = keep;
		double r = (v->sens[at + 1] - v->sens[at]) / (double)dp;
		if (isnan(r))
			r = INFINITY;
		if (best == H || r < br) {
			best = l;
			br = r;
		}
	}
	return best;
}

/* The greedy path from every layer whole down to every layer at its lowest count. */
static int build_path(const nnp_method_ctx *c, nnp_alloc *a, nnp_err *err)
{
	size_t H = c->H;
	mth_levels v;
	v.stride = a->n_grid + 1;
	v.count = alloc3(H, v.stride, sizeof *v.count);
	v.sens = alloc3(H, v.stride, sizeof *v.sens);
	v.n = alloc3(H, 1, sizeof *v.n);
	v.cur = alloc3(H, 1, sizeof *v.cur);
	size_t *cc = alloc3(H, 1, sizeof *cc);
	int rc = NNP_OK;
	if (!v.count || !v.sens || !v.n || !v.cur || !cc)
		goto nomem;
	size_t total = levels_fill(&v, c, a);
	a->counts = alloc3(total, H, sizeof *a->counts);
	a->params = alloc3(total, 1, sizeof *a->params);
	a->cost = alloc3(total, 1, sizeof *a->cost);
	if (!a->counts || !a->params || !a->cost)
		goto nomem;
	for (size_t l = 0; l < H; l++)
		cc[l] = c->m->layers[l].out;
	for (size_t s = 0; s < total; s++) {
		size_t l = path_choose(&v, c->m, H, cc);
		v.cur[l]++;
		cc[l] = v.count[l * v.stride + v.cur[l]];
		double cost = 0.0;
		for (size_t i = 0; i < H; i++)
			cost += v.sens[i * v.stride + v.cur[i]];
		memcpy(a->counts + s * H, cc, H * sizeof *cc);
		a->params[s] = nnp_method_params(c->m, cc);
		a->cost[s] = cost;
	}
	a->n = total;
	goto done;
nomem:
	rc = nnp_err_set(err, NNP_ENOMEM, "allocation: out of memory");
done:
	NNP_FREE_ALL(v.count, v.sens, v.n, v.cur, cc);
	return rc;
}

int nnp_method_ctx_allocate(nnp_method_ctx *c, nnp_alloc **out, nnp_err *err)
{
	*out = NULL;
	if (c->sparse)
		return sparse_refused(c, err);
	if (!crit(c)->order)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "allocation needs a ranking method, not %s", crit(c)->name);
	int rc = ensure_orig(c, err);
	if (rc)
		return rc;
	size_t H = c->H, G = grid_points(c->o.grid_step);
	nnp_alloc *a = calloc(1, sizeof *a);
	if (!a)
		return nnp_err_set(err, NNP_ENOMEM, "allocation: out of memory");
	a->n_layers = H;
	a->n_grid = G;
	a->fraction = alloc3(G, 1, sizeof *a->fraction);
	a->grid_count = alloc3(H, G, sizeof *a->grid_count);
	a->sens = alloc3(H, G, sizeof *a->sens);
	if (!a->fraction || !a->grid_count || !a->sens) {
		rc = nnp_err_set(err, NNP_ENOMEM, "allocation: out of memory");
		goto done;
	}
	for (size_t g = 0; g < G; g++)
		a->fraction[g] = grid_fraction(c->o.grid_step, g, G);
	for (size_t l = 0; l < H; l++)
		for (size_t g = 0; g < G; g++)
			a->grid_count[l * G + g] = round_count(a->fraction[g], c->m->layers[l].out);
	rc = measure_sens(c, a, err);
	if (!rc)
		rc = build_path(c, a, err);
	if (!rc) {
		*out = a;
		a = NULL;
	}
done:
	nnp_alloc_free(a);
	return rc;
}

/* ---- one-shot forms ----------------------------------------------------- */

int nnp_method_prune(nnp_model **out, const nnp_model *m, const nnp_dataset *calib,
                     const nnp_method_opts *o, const size_t *keep_counts, nnp_keep **kept,
                     nnp_err *err)
{
	*out = NULL;
	if (kept)
		*kept = NULL;
	nnp_method_ctx *c = NULL;
	int rc = nnp_method_ctx_create(&c, m, calib, o, err);
	if (!rc)
		rc = nnp_method_ctx_prune(c, keep_counts, out, kept, err);
	nnp_method_ctx_free(c);
	return rc;
}

int nnp_method_allocate(nnp_alloc **out, const nnp_model *m, const nnp_dataset *calib,
                        const nnp_method_opts *o, nnp_err *err)
{
	*out = NULL;
	nnp_method_ctx *c = NULL;
	int rc = nnp_method_ctx_create(&c, m, calib, o, err);
	if (!rc)
		rc = nnp_method_ctx_allocate(c, out, err);
	nnp_method_ctx_free(c);
	return rc;
}
