/* Gradual pruning during fine-tuning on the cubic schedule of Zhu & Gupta
 * (include/nnprune/gradual.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/gradual.h"
#include "nnprune/lottery.h"
#include "mask_priv.h"

size_t nnp_gradual_budget(size_t b0, size_t bT, size_t t, size_t T)
{
	if (T == 0 || t >= T || bT >= b0)
		return bT < b0 || t >= T ? bT : b0;
	if (t == 0)
		return b0;
	double f = 1.0 - (double)t / (double)T;
	double v = (double)bT + (double)(b0 - bT) * f * f * f;
	size_t r = (size_t)floor(v + 0.5);
	return r < bT ? bT : r > b0 ? b0 : r;
}

static int check_opts(const nnp_gradual_opts *o, const nnp_model *m, const nnp_dataset *train,
                      nnp_err *err)
{
	int rc = nnp_train_check_opts(&o->train, err);
	if (rc)
		return rc;
	if (o->train.mask || o->train.model_takes_raw)
		return nnp_err_set(err, NNP_EUSAGE, "gradual pruning: the fine-tuning options must "
		                   "not carry a mask or model_takes_raw");
	if (o->steps < 1 || o->steps > NNP_GRADUAL_MAX_STEPS)
		return nnp_err_set(err, NNP_EUSAGE, "gradual pruning: steps must be between 1 and %u "
		                   "(got %zu)", NNP_GRADUAL_MAX_STEPS, o->steps);
	if (!train || train->rows < o->steps)
		return nnp_err_set(err, NNP_EUSAGE, "gradual pruning: %zu steps need at least as many "
		                   "training rows", o->steps);
	size_t b0 = o->structured ? nnp_model_params(m) : nnp_model_nonzeros(m);
	if (o->structured && o->widths)
		for (size_t l = 0; l + 1 < m->n_layers; l++)
			if (o->widths[l] < 1 || o->widths[l] > m->layers[l].out)
				return nnp_err_set(err, NNP_EUSAGE, "gradual pruning: hidden layer %zu: "
				                   "width %zu is not in 1..%zu", l, o->widths[l],
				                   m->layers[l].out);
	if (!(o->structured && o->widths) && o->target > b0)
		return nnp_err_set(err, NNP_EUSAGE, "gradual pruning: the target (%zu %s) is above "
		                   "the model's %zu", o->target,
		                   o->structured ? "parameters" : "weights", b0);
	if (!o->structured && o->scope == NNP_MAG_HIDDEN) {
		if (m->n_layers < 2)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "gradual pruning: the hidden scope needs a hidden layer");
		size_t out_w = nnp_layer_nonzeros(&m->layers[m->n_layers - 1]);
		if (o->target < out_w)
			return nnp_err_set(err, NNP_EUSAGE, "gradual pruning: the target (%zu weights) "
			                   "is below the output layer's %zu, which the hidden scope "
			                   "keeps", o->target, out_w);
	}
	if (o->structured) {
		if ((rc = nnp_method_check_opts(&o->method, err)) != 0)
			return rc;
		if (nnp_method_by_thresholds(o->method.method))
			return nnp_err_set(err, NNP_EUSAGE, "gradual pruning: method %s selects by "
			                   "thresholds, not by a budget",
			                   nnp_method_name(o->method.method));
		if (!o->calib)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "gradual pruning: structured steps need calibration rows");
	}
	return NNP_OK;
}

/* The hidden-layer counts of the largest uniform share of m's neurons whose
 * model has at most `budget` parameters. NNP_EUSAGE when even one neuron per
 * layer is too many. */
static int counts_for(const nnp_model *m, size_t budget, size_t *counts, nnp_err *err)
{
	int rc = nnp_method_counts(m, 1e-9, counts, err);
	if (rc)
		return rc;
	if (nnp_method_params(m, counts) > budget)
		return nnp_err_set(err, NNP_EUSAGE, "gradual pruning: %zu parameters cannot be "
		                   "reached (one neuron per hidden layer leaves %zu)", budget,
		                   nnp_method_params(m, counts));
	double lo = 1e-9, hi = 1.0;
	for (int i = 0; i < 60; i++) {
		double mid = 0.5 * (lo + hi);
		if ((rc = nnp_method_counts(m, mid, counts, err)) != 0)
			return rc;
		if (nnp_method_params(m, counts) <= budget)
			lo = mid;
		else
			hi = mid;
	}
	return nnp_method_counts(m, lo, counts, err);
}

/* Hidden layer l of m at share f of the way from o->widths to m's widths:
 * widths[l] + floor(f * (width - widths[l])). */
static void counts_between(const nnp_model *m, const size_t *widths, double f, size_t *counts)
{
	for (size_t l = 0; l + 1 < m->n_layers; l++)
		counts[l] = widths[l] + (size_t)floor(f * (double)(m->layers[l].out - widths[l]));
}

/* The counts of the largest share f in [0, 1] whose model has at most
 * `budget` parameters (f = 0, the final widths, when none does). */
static void counts_towards(const nnp_model *m, const size_t *widths, size_t budget,
                           size_t *counts)
{
	double lo = 0.0, hi = 1.0;
	counts_between(m, widths, 1.0, counts);
	if (nnp_model_params(m) <= budget)
		return;
	for (int i = 0; i < 60; i++) {
		double mid = 0.5 * (lo + hi);
		counts_between(m, widths, mid, counts);
		if (nnp_method_params(m, counts) <= budget)
			lo = mid;
		else
			hi = mid;
	}
	counts_between(m, widths, lo, counts);
}

/* One structured step: *cur pruned to at most `budget` parameters (the last
 * step with final widths: to those widths). */
static int structured_step(nnp_model **cur, size_t budget, int last,
                           const nnp_gradual_opts *o, nnp_err *err)
{
	size_t nh = (*cur)->n_layers - 1, same = 1;
	if (!o->widths && nnp_model_params(*cur) <= budget)
		return NNP_OK;
	size_t *counts = malloc((nh ? nh : 1) * sizeof *counts);
	nnp_method_ctx *ctx = NULL;
	nnp_model *next = NULL;
	int rc = counts ? NNP_OK : nnp_err_set(err, NNP_ENOMEM, "gradual pruning: out of memory");
	if (!rc && o->widths) {
		if (last)
			memcpy(counts, o->widths, nh * sizeof *counts);
		else
			counts_towards(*cur, o->widths, budget, counts);
		for (size_t l = 0; l < nh; l++)
			same &= counts[l] == (*cur)->layers[l].out;
		if (same) {
			free(counts);
			return NNP_OK;
		}
	} else if (!rc) {
		rc = counts_for(*cur, budget, counts, err);
	}
	if (!rc)
		rc = nnp_method_ctx_create(&ctx, *cur, o->calib, &o->method, err);
	if (!rc)
		rc = nnp_method_ctx_prune(ctx, counts, &next, NULL, err);
	nnp_method_ctx_free(ctx);
	free(counts);
	if (rc)
		return rc;
	nnp_model_free(*cur);
	*cur = next;
	return NNP_OK;
}

int nnp_gradual_run(nnp_model **out, const nnp_model *m, const nnp_dataset *train,
                    const nnp_dataset *val, const nnp_gradual_opts *o, nnp_gradual_report *rep,
                    nnp_err *err)
{
	*out = NULL;
	if (rep)
		memset(rep, 0, sizeof *rep);
	int rc = check_opts(o, m, train, err);
	if (rc)
		return rc;
	nnp_model *cur = NULL;
	uint8_t **mask = NULL, **next = NULL;
	nnp_gradual_step *steps = calloc(o->steps, sizeof *steps);
	if (!steps)
		return nnp_err_set(err, NNP_ENOMEM, "gradual pruning: out of memory");
	if ((rc = nnp_model_clone(&cur, m, err)) != 0)
		goto done;
	if (!o->structured) {
		mask = nnp_masks_alloc(m);
		next = nnp_masks_alloc(m);
		if (!mask || !next) {
			rc = nnp_err_set(err, NNP_ENOMEM, "gradual pruning: out of memory for the masks");
			goto done;
		}
		/* Weights already 0 count as pruned from the start. */
		for (size_t l = 0; l < m->n_layers; l++) {
			const nnp_layer *L = &m->layers[l];
			for (size_t i = 0; i < L->in * L->out; i++)
				mask[l][i] = L->w[i] != 0.0f;
		}
	}
	size_t b0 = o->structured ? nnp_model_params(m) : nnp_model_nonzeros(m);
	size_t bT = o->structured && o->widths ? nnp_method_params(m, o->widths) : o->target;
	nnp_train_opts t = o->train;
	t.model_takes_raw = 1;
	for (size_t s = 1; s <= o->steps; s++) {
		size_t b = nnp_gradual_budget(b0, bT, s, o->steps);
		if (o->structured) {
			rc = structured_step(&cur, b, s == o->steps, o, err);
		} else {
			rc = nnp_mask_magnitude_to(cur, (const uint8_t *const *)mask, b, o->scope, next,
			                           err);
			uint8_t **sw = mask;
			mask = next;
			next = sw;
			nnp_mask_apply(cur, (const uint8_t *const *)mask);
			t.mask = (const uint8_t *const *)mask;
		}
		if (rc)
			goto done;
		nnp_gradual_step *st = &steps[s - 1];
		st->step = s;
		st->budget = b;
		st->weights = 0;
		for (size_t l = 0; l < cur->n_layers; l++)
			st->weights += o->structured ? nnp_layer_nonzeros(&cur->layers[l])
			                             : nnp_mask_kept(&cur->layers[l], mask[l]);
		st->params = o->structured ? nnp_model_params(cur)
		                           : nnp_model_params(cur) - nnp_model_macs(cur) + st->weights;
		/* This step's share of the rows: contiguous part s of T. */
		size_t lo = (s - 1) * train->rows / o->steps, hi = s * train->rows / o->steps;
		nnp_dataset part = { hi - lo, train->features, train->x + lo * train->features,
			             train->y ? train->y + lo : NULL };
		nnp_train_report tr;
		if ((rc = nnp_train(cur, &part, val, &t, &tr, err)) != 0)
			goto done;
		st->accuracy = val ? nnp_metrics_accuracy(&tr.val) : NAN;
		if (rep)
			rep->last = tr;
	}
	*out = cur;
	cur = NULL;
done:
	if (rep && !rc) {
		rep->n = o->steps;
		rep->s = steps;
		steps = NULL;
	}
	free(steps);
	nnp_masks_free(mask, m->n_layers);
	nnp_masks_free(next, m->n_layers);
	nnp_model_free(cur);
	return rc;
}
