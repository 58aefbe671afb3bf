/*
 * The pruning pipeline: read the rows, build every specification's
 * candidate, evaluate, write, fine-tune, select (include/nnprune/pipeline.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/criteria.h"
#include "nnprune/evaluate.h"
#include "nnprune/pipeline.h"
#include "nnprune/prune.h"
#include "pipeline_priv.h"
#include "mem.h"

#define PIPE_MAX_BUILT 100000u   /* candidates whose models are built one by one */

void nnp_pipeline_opts_init(nnp_pipeline_opts *o)
{
	const nnp_method_opts mo = NNP_METHOD_OPTS_INIT;
	const nnp_train_opts t = NNP_TRAIN_OPTS_INIT;
	memset(o, 0, sizeof *o);
	o->mo = mo;
	o->ft_train = t;
	o->min_keep = 1;
	o->out.wait = 1;
}

/* A sweep of n candidates, none built yet (thresholds NAN, no duplicates). */
static nnp_sweep *sweep_alloc(size_t n)
{
	nnp_sweep *sw = calloc(1, sizeof *sw);
	if (!sw)
		return NULL;
	sw->n = n;
	sw->c = calloc(n ? n : 1, sizeof *sw->c);
	sw->models = calloc(n ? n : 1, sizeof *sw->models);
	if (!sw->c || !sw->models) {
		nnp_sweep_free(sw);
		return NULL;
	}
	sw->original.kind = NNP_CAND_ORIGINAL;
	sw->original.thr.mean = sw->original.thr.std = NAN;
	sw->original.same_as = NNP_NO_DUP;
	for (size_t i = 0; i < n; i++) {
		sw->c[i].thr.mean = sw->c[i].thr.std = NAN;
		sw->c[i].same_as = NNP_NO_DUP;
	}
	return sw;
}

static void progress(const nnp_pipeline_opts *o, size_t done, size_t n)
{
	if (o->progress)
		o->progress(o->progress_ctx, NNP_STAGE_BUILD, done < n ? done : NNP_PROGRESS_END, n);
}

static int spec_error(nnp_err *err, const nnp_spec *s, const char *what)
{
	return nnp_err_set(err, NNP_EUSAGE, "%s%s%s", s->label ? s->label : "",
	                   s->label ? ": " : "", what);
}

/* The specifications as the grid nnp_sweep_run takes (means outer, stds
 * inner); 0 if they are not one. *means and *stds are malloc'd. */
static int as_grid(const nnp_spec *s, size_t n, double **means, size_t *n_means, double **stds,
                   size_t *n_stds)
{
	for (size_t ns = 1; ns <= n; ns++) {
		if (n % ns)
			continue;
		int ok = 1;
		for (size_t i = 0; ok && i < n; i++)
			ok = s[i].mean == s[(i / ns) * ns].mean && s[i].std == s[i % ns].std;
		if (!ok)
			continue;
		*means = malloc((n / ns) * sizeof **means);
		*stds = malloc(ns * sizeof **stds);
		if (!*means || !*stds)
			return 0;
		for (size_t i = 0; i < n / ns; i++)
			(*means)[i] = s[i * ns].mean;
		for (size_t i = 0; i < ns; i++)
			(*stds)[i] = s[i].std;
		*n_means = n / ns;
		*n_stds = ns;
		return 1;
	}
	return 0;
}

/* The rule: the kept set of every pair on the statistics; each distinct one
 * folded (or not), or its next layers refit on the calibration rows. */
static int build_rule(nnp_pipeline *p, const nnp_model *m, nnp_err *err)
{
	const nnp_pipeline_opts *o = &p->o;
	int ls = o->mo.compensate == NNP_COMP_LS;
	nnp_method_ctx *ctx = NULL;
	if (o->n_specs > PIPE_MAX_BUILT)
		return nnp_err_set(err, NNP_EUSAGE, "%zu candidates: more than %u to build one by one",
		                   o->n_specs, PIPE_MAX_BUILT);
	nnp_sweep *sw = p->sw = sweep_alloc(o->n_specs);
	int rc = sw ? NNP_OK : nnp_err_set(err, NNP_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < sw->n; i++) {
		nnp_candidate *c = &sw->c[i];
		c->kind = NNP_CAND_THRESHOLDS;
		c->thr.mean = o->specs[i].mean;
		c->thr.std = o->specs[i].std;
		rc = nnp_keep_rule(&c->keep, p->stats, c->thr.mean, c->thr.std, o->min_keep, err);
		if (!rc)
			c->floor_hit = nnp_keep_any_floor(c->keep);
	}
	if (!rc)
		rc = nnp_candidates_dedupe(sw->c, sw->n, &sw->n_unique, err);
	if (!rc && ls)
		rc = nnp_calib_method_ctx(&ctx, m, &p->calib, &o->mo, err);
	for (size_t i = 0; !rc && i < sw->n; i++) {
		if (ls)
			progress(o, i, sw->n);
		if (sw->c[i].same_as != NNP_NO_DUP)
			continue;
		rc = ls ? nnp_method_ctx_prune_keep(ctx, sw->c[i].keep, &sw->models[i], err)
		        : nnp_prune_apply(&sw->models[i], m, sw->c[i].keep, p->stats,
		                          o->mo.compensate == NNP_COMP_FOLD, err);
	}
	if (ls)
		progress(o, sw ? sw->n : 0, sw ? sw->n : 0);
	nnp_method_ctx_free(ctx);
	return rc;
}

/* How many candidates the specifications expand to (ALLOC_STEP 0: every step). */
static size_t expand_count(const nnp_pipeline_opts *o, const nnp_alloc *a)
{
	size_t n = 0;
	for (size_t k = 0; k < o->n_specs; k++)
		n += o->specs[k].kind == NNP_SPEC_ALLOC_STEP && o->specs[k].step == 0 ? a->n : 1;
	return n;
}

/* A ranking method to budgets: per specification, in order. */
static int build_method(nnp_pipeline *p, const nnp_model *m, nnp_err *err)
{
	const nnp_pipeline_opts *o = &p->o;
	nnp_method_ctx *ctx = NULL;
	nnp_alloc *a = NULL;
	size_t H = m->n_layers - 1, params0 = nnp_model_params(m);
	size_t *counts = calloc(H ? H : 1, sizeof *counts);
	int need_alloc = 0;
	for (size_t k = 0; k < o->n_specs; k++)
		need_alloc |= o->specs[k].kind == NNP_SPEC_ALLOC_STEP ||
		              o->specs[k].kind == NNP_SPEC_TARGET;
	int rc = counts ? nnp_calib_method_ctx(&ctx, m, &p->calib, &o->mo, err)
	                : nnp_err_set(err, NNP_ENOMEM, "out of memory");
	if (!rc && need_alloc)
		rc = nnp_method_ctx_allocate(ctx, &a, err);
	if (rc)
		goto done;
	size_t n = expand_count(o, a);
	nnp_sweep *sw = p->sw = sweep_alloc(n);
	p->specs = calloc(n ? n : 1, sizeof *p->specs);
	if (!sw || !p->specs) {
		rc = nnp_err_set(err, NNP_ENOMEM, "out of memory");
		goto done;
	}
	size_t i = 0;
	for (size_t k = 0; !rc && k < o->n_specs; k++) {
		const nnp_spec *s = &o->specs[k];
		size_t steps = s->kind == NNP_SPEC_ALLOC_STEP && s->step == 0 ? a->n : 1;
		for (size_t j = 0; !rc && j < steps; j++, i++) {
			nnp_candidate *c = &sw->c[i];
			const size_t *use = counts;
			p->specs[i] = *s;
			c->kind = NNP_CAND_BUDGET;
			progress(o, i, n);
			switch (s->kind) {
			case NNP_SPEC_KEEP:
				c->budget.keep_frac = s->keep;
				rc = nnp_method_counts(m, s->keep, counts, err);
				break;
			case NNP_SPEC_ALLOC_STEP: {
				size_t st = s->step ? s->step : j + 1;
				p->specs[i].step = st;
				if (st > a->n) {
					rc = spec_error(err, s, "beyond the allocation path's last step");
					break;
				}
				c->budget.alloc_step = st;
				use = a->counts + (st - 1) * H;
				break;
			}
			case NNP_SPEC_TARGET: {
				size_t target = s->target_params;
				size_t st = target >= params0 ? NNP_ALLOC_NONE : nnp_alloc_pick(a, target);
				c->budget.target_params = target;
				if (target >= params0) {
					/* Within budget already: every layer whole. */
					for (size_t l = 0; l < H; l++)
						counts[l] = m->layers[l].out;
				} else if (st == NNP_ALLOC_NONE) {
					rc = nnp_err_set(err, NNP_EUSAGE,
					                 "%s%s%zu parameters is below the smallest model the "
					                 "allocation reaches (%zu parameters)",
					                 s->label ? s->label : "", s->label ? ": " : "", target,
					                 a->n ? a->params[a->n - 1] : params0);
				} else {
					c->budget.alloc_step = st + 1;
					use = a->counts + st * H;
				}
				break;
			}
			case NNP_SPEC_WIDTHS:
				c->budget.widths = 1;
				use = s->widths;
				break;
			case NNP_SPEC_THRESHOLDS:
				rc = spec_error(err, s, "thresholds belong to the rule");
				break;
			default:
				rc = spec_error(err, s, "a share of weights (sparsity) belongs to "
				                        "--method magnitude");
			}
			if (!rc)
				rc = nnp_method_ctx_prune(ctx, use, &sw->models[i], &c->keep, err);
		}
	}
	progress(o, sw->n, sw->n);
	if (!rc)
		rc = nnp_candidates_dedupe(sw->c, sw->n, &sw->n_unique, err);
	/* A duplicate is evaluated and written through its first. */
	for (size_t k = 0; !rc && k < sw->n; k++)
		if (sw->c[k].same_as != NNP_NO_DUP) {
			nnp_model_free(sw->models[k]);
			sw->models[k] = NULL;
		}
done:
	nnp_alloc_free(a);
	nnp_method_ctx_free(ctx);
	free(counts);
	return rc;
}

/* Every neuron of m's hidden layers kept: what an unstructured candidate keeps. */
static nnp_keep *keep_all(const nnp_model *m)
{
	size_t H = m->n_layers - 1;
	nnp_keep *k = nnp_keep_alloc(H);
	int ok = k != NULL;
	for (size_t l = 0; ok && l < H; l++) {
		k->count[l] = m->layers[l].out;
		ok = (k->idx[l] = malloc(k->count[l] * sizeof **k->idx)) != NULL;
		for (size_t j = 0; ok && j < k->count[l]; j++)
			k->idx[l][j] = j;
	}
	if (!ok) {
		nnp_keep_free(k);
		return NULL;
	}
	return k;
}

static size_t mag_weights(const nnp_model *m)
{
	size_t n = 0;
	for (size_t l = 0; l < m->n_layers; l++)
		n += m->layers[l].in * m->layers[l].out;
	return n;
}

/* An unstructured method (magnitude): per SPARSITY specification, in order,
 * a sparse copy of m with that share of weights zeroed (o->mag_scope), its
 * surviving weights refit on the calibration rows with compensation ls.
 * Every candidate keeps every neuron; none is a duplicate of another. */
static int build_sparse(nnp_pipeline *p, const nnp_model *m, nnp_err *err)
{
	const nnp_pipeline_opts *o = &p->o;
	if (o->n_specs > PIPE_MAX_BUILT)
		return nnp_err_set(err, NNP_EUSAGE, "%zu candidates: more than %u to build one by one",
		                   o->n_specs, PIPE_MAX_BUILT);
	nnp_sweep *sw = p->sw = sweep_alloc(o->n_specs);
	p->specs = calloc(o->n_specs ? o->n_specs : 1, sizeof *p->specs);
	if (!sw || !p->specs)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	nnp_method_ctx *ctx = NULL;
	int rc = o->mo.compensate == NNP_COMP_LS
	         ? nnp_calib_method_ctx(&ctx, m, &p->calib, &o->mo, err) : NNP_OK;
	for (size_t i = 0; !rc && i < sw->n; i++) {
		const nnp_spec *s = &o->specs[i];
		nnp_candidate *c = &sw->c[i];
		p->specs[i] = *s;
		progress(o, i, sw->n);
		if (s->kind != NNP_SPEC_SPARSITY) {
			rc = spec_error(err, s, "an unstructured method takes shares of weights "
			                        "(sparsity), not a neuron budget");
			break;
		}
		const double *share = s->sparse_layers ? s->sparse_layers : &s->sparsity;
		size_t n_share = s->sparse_layers ? s->n_sparse_layers : 1;
		if (s->sparse_layers && n_share != m->n_layers) {
			char what[160];
			snprintf(what, sizeof what, "%zu shares, but the model has %zu weight layers "
			         "(one share each, the output layer's last)", n_share, m->n_layers);
			rc = spec_error(err, s, what);
			break;
		}
		if (s->sparse_layers && o->mag_scope != NNP_MAG_PER_LAYER) {
			rc = spec_error(err, s, "shares per layer do not go with the global or hidden "
			                        "scope");
			break;
		}
		for (size_t l = 0; !rc && l < n_share; l++)
			if (!(share[l] >= 0.0 && share[l] <= 1.0))
				rc = spec_error(err, s, "the sparsity is outside [0, 1]");
		if (rc)
			break;
		c->kind = NNP_CAND_SPARSE;
		c->sparse.scope = o->mag_scope;
		c->sparse.layers = s->sparse_layers;
		c->sparse.n_layers = s->sparse_layers ? n_share : 0;
		if (!(c->keep = keep_all(m)))
			rc = nnp_err_set(err, NNP_ENOMEM, "out of memory");
		size_t removed = 0;
		if (!rc)
			rc = nnp_prune_magnitude(m, share, n_share, (nnp_mag_scope)o->mag_scope,
			                         &sw->models[i], &removed, err);
		if (!rc && ctx) {
			nnp_model *fit = NULL;
			rc = nnp_method_ctx_refit(ctx, sw->models[i], &fit, err);
			nnp_model_free(sw->models[i]);
			sw->models[i] = fit;
		}
		if (rc == NNP_EUSAGE && s->label) {
			char what[sizeof err->msg];
			snprintf(what, sizeof what, "%s", err->msg);
			rc = spec_error(err, s, what);
		}
		/* Per-layer shares: the share of all the weights they zero. */
		c->sparse.share = s->sparse_layers ? (double)removed / (double)mag_weights(m)
		                                   : s->sparsity;
		if (!rc && !(c->sparse.share > 0))
			rc = spec_error(err, s, "the shares zero no weight");
	}
	nnp_method_ctx_free(ctx);
	progress(o, sw->n, sw->n);
	sw->n_unique = sw->n;
	return rc;
}

/* The calibration rows: the calibration source, else the statistics' rows
 * (those of the evaluation when it is the same file and they are held). */
static int load_calib(nnp_pipeline *p, const nnp_model *m, const nnp_dataset *d, nnp_err *err)
{
	const nnp_pipeline_opts *o = &p->o;
	const nnp_source *s = &o->stats_src;
	if (o->calib.rows) {
		nnp_calib_borrow(&p->calib, o->calib.path, &o->calib.opts, o->calib.rows,
		                 o->calib.bytes, o->calib.crc32);
		p->calib_separate = !(s->path && o->calib.bytes == s->bytes &&
		                      o->calib.crc32 == s->crc32);
		return NNP_OK;
	}
	if (o->calib.path) {
		int rc = nnp_calib_load(&p->calib, o->calib.path, &o->calib.opts, m->input_size,
		                        o->calib.max_rows, o->calib.mem_limit, err);
		p->calib_separate = !rc && !(s->path && p->calib.bytes == s->bytes &&
		                             p->calib.crc32 == s->crc32);
		return rc;
	}
	if (s->rows || !(s->path && o->eval.path && !strcmp(s->path, o->eval.path)))
		d = s->rows;
	if (d) {
		nnp_calib_borrow(&p->calib, s->path, &s->opts, d, s->bytes, s->crc32);
		return NNP_OK;
	}
	if (!s->path)
		return nnp_err_set(err, NNP_EUSAGE, "no calibration rows and no statistics' rows");
	return nnp_calib_load(&p->calib, s->path, &s->opts, m->input_size, s->max_rows,
	                      s->mem_limit, err);
}

static int build(nnp_pipeline *p, const nnp_model *m, const nnp_dataset *d, nnp_err *err)
{
	const nnp_pipeline_opts *o = &p->o;
	int rule = nnp_method_by_thresholds(o->mo.method);
	const nnp_criterion *cr = nnp_criterion_at((size_t)o->mo.method);
	if (cr && cr->kind == NNP_CRIT_UNSTRUCTURED)
		return build_sparse(p, m, err);
	for (size_t k = 0; k < o->n_specs; k++)
		if (rule && o->specs[k].kind != NNP_SPEC_THRESHOLDS)
			return spec_error(err, &o->specs[k], "budgets belong to a ranking method, not "
			                                     "the rule");
	if (!rule)
		return build_method(p, m, err);
	p->specs = malloc((o->n_specs ? o->n_specs : 1) * sizeof *p->specs);
	if (!p->specs)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	if (o->n_specs)
		memcpy(p->specs, o->specs, o->n_specs * sizeof *p->specs);
	double *means = NULL, *stds = NULL;
	size_t n_means = 0, n_stds = 0;
	if (o->mo.compensate != NNP_COMP_LS && (o->eval.path || o->eval.rows) &&
	    as_grid(o->specs, o->n_specs, &means, &n_means, &stds, &n_stds)) {
		/* The threshold engine: every candidate built and evaluated in one pass. */
		nnp_sweep_opts so = { means, n_means, stds, n_stds, o->min_keep,
			              o->mo.compensate == NNP_COMP_FOLD, o->threads, o->eval.path,
			              &o->eval.opts };
		int rc = nnp_sweep_run(&p->sw, m, p->stats, d, &so, err);
		p->evaluated = 1;
		free(means);
		free(stds);
		return rc;
	}
	free(means);
	free(stds);
	return build_rule(p, m, err);
}

int nnp_pipeline_run(nnp_pipeline **out, const nnp_model *m, const nnp_pipeline_opts *o,
                     nnp_err *err)
{
	*out = NULL;
	nnp_pipeline *p = calloc(1, sizeof *p);
	if (!p)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	p->o = *o;
	p->model = m;
	p->best = p->closest = NNP_NO_DUP;
	int rc = NNP_OK;
	if ((o->finetune.path || o->finetune.rows) && (rc = nnp_pipeline_ft_load(p, err)))
		goto fail;
	/* The evaluation rows, held in memory when they fit the limit: read once
	 * for all candidates (limit 0: always streamed). */
	const nnp_dataset *d = o->eval.rows;
	if (o->eval.path && !d) {
		rc = o->eval.mem_limit ? nnp_dataset_load(&p->eval_rows, o->eval.path, &o->eval.opts,
		                                          o->eval.mem_limit, err)
		                       : NNP_ETOOBIG;
		if (rc && rc != NNP_ETOOBIG)
			goto fail;
		rc = NNP_OK;
		nnp_err_clear(err);
		d = p->eval_rows;
	}
	/* The rule on the statistics as they are, folding or not, is the sweep as
	 * it always was; everything else computes on calibration rows. */
	int rule = nnp_method_by_thresholds(o->mo.method);
	p->calibrated = !(rule && o->mo.compensate != NNP_COMP_LS && !o->calib.path &&
	                  !o->calib.rows);
	/* An unstructured method reads no rows unless it refits (ls): then
	 * calibration rows as for the others, else only when given. */
	const nnp_criterion *cr = nnp_criterion_at((size_t)o->mo.method);
	int unstructured = cr && cr->kind == NNP_CRIT_UNSTRUCTURED;
	if (p->calibrated &&
	    !(unstructured && o->mo.compensate != NNP_COMP_LS && !o->calib.path && !o->calib.rows) &&
	    (rc = load_calib(p, m, d, err)))
		goto fail;
	p->stats = o->stats;
	if (rule && (o->calib.path || o->calib.rows)) {
		/* The rule's thresholds apply to the calibration rows' statistics. */
		nnp_run_opts ro = NNP_RUN_OPTS_INIT;
		ro.threads = o->threads;
		if ((rc = nnp_calib_stats(&p->calib_stats, m, &p->calib, &ro, err)))
			goto fail;
		p->stats = p->calib_stats;
	}
	if (!p->stats && rule)
		rc = nnp_err_set(err, NNP_EUSAGE, "the rule needs statistics");
	if (rc || (rc = build(p, m, d, err)))
		goto fail;
	if ((o->eval.path || o->eval.rows) && !p->evaluated) {
		nnp_eval_opts eo = NNP_EVAL_OPTS_INIT;
		eo.threads = o->threads;
		if ((rc = nnp_sweep_evaluate(p->sw, m, d, o->eval.path, &o->eval.opts, &eo, err)))
			goto fail;
	}
	if (o->out.dir && (rc = nnp_pipeline_take_dir(p, err)))
		goto fail;
	if ((rc = nnp_pipeline_finish(p, m, d, err)))
		goto fail;
	*out = p;
	return NNP_OK;
fail:
	nnp_pipeline_free(p);
	return rc;
}

const nnp_model *nnp_pipeline_model(const nnp_pipeline *p, size_t i)
{
	if (!p->sw || i >= p->sw->n)
		return NULL;
	size_t s = p->sw->c[i].same_as == NNP_NO_DUP ? i : p->sw->c[i].same_as;
	return p->sw->models[s];
}

void nnp_pipeline_free(nnp_pipeline *p)
{
	if (!p)
		return;
	nnp_dir_unlock(p->lock);
	nnp_manifest_free(&p->left);
	for (size_t i = 0; i < p->n_ft_jobs; i++)
		nnp_model_free(p->ft_jobs[i].model);
	NNP_FREE_ALL(p->ft_jobs, p->ft_job_of, p->ft_gradual_opts);
	nnp_dataset_free(p->ft_rows);
	nnp_sweep_free(p->sw);
	free(p->specs);
	nnp_stats_free(p->calib_stats);
	nnp_calib_free(&p->calib);
	nnp_dataset_free(p->eval_rows);
	free(p);
}
