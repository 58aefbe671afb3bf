/* Pruning by an importance ranking with a stopping condition: remove the
 * least important neurons, re-score the network as it now is, check the
 * conditions, go on or stop (include/nnprune/iterative.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/criteria.h"
#include "nnprune/iterative.h"
#include "nnprune/stats.h"
#include "grow.h"
#include "names.h"
#include "mem.h"

static const char *const stop_names[] = { "running", "drop", "target", "min-neurons",
                                          "max-steps" };
static const nnp_names stops = NNP_NAMES(stop_names);

const char *nnp_iter_stop_name(nnp_iter_stop s)
{
	return nnp_names_of(&stops, (int)s);
}

void nnp_iter_trace_free(nnp_iter_trace *t)
{
	if (!t)
		return;
	NNP_FREE_ALL(t->neurons, t->params, t->accuracy, t->correct, t->finetuned, t);
}

static int trace_grow(nnp_iter_trace *t)
{
	if (t->n < t->cap)
		return 0;
	size_t cap = t->cap ? 2 * t->cap : 16, H = t->n_hidden ? t->n_hidden : 1;
	int failed = 0;
	t->neurons = nnp_regrow(t->neurons, cap * H, sizeof *t->neurons, &failed);
	t->params = nnp_regrow(t->params, cap, sizeof *t->params, &failed);
	t->accuracy = nnp_regrow(t->accuracy, cap, sizeof *t->accuracy, &failed);
	t->correct = nnp_regrow(t->correct, cap, sizeof *t->correct, &failed);
	t->finetuned = nnp_regrow(t->finetuned, cap, sizeof *t->finetuned, &failed);
	if (failed)
		return -1;
	t->cap = cap;
	return 0;
}

static int trace_add(nnp_iter_trace *t, const nnp_model *m, const nnp_metrics *mt)
{
	if (trace_grow(t))
		return -1;
	for (size_t l = 0; l < t->n_hidden; l++)
		t->neurons[t->n * t->n_hidden + l] = m->layers[l].out;
	t->params[t->n] = nnp_model_params(m);
	t->accuracy[t->n] = mt ? nnp_metrics_accuracy(mt) : NAN;
	t->correct[t->n] = mt ? mt->correct : 0;
	t->finetuned[t->n] = 0;
	t->n++;
	return 0;
}

static int check_opts(const nnp_model *m, const nnp_dataset *held, const nnp_iter_opts *o,
                      nnp_err *err)
{
	int rc = nnp_method_check_opts(&o->method, err);
	if (rc)
		return rc;
	const nnp_criterion *c = nnp_criterion_at((size_t)o->method.method);
	if (!nnp_criterion_ranks(c))
		return nnp_err_set(err, NNP_EUSAGE, "iterative pruning: method %s does not rank "
		                   "neurons (it takes a criterion with an order: score, obs, l2, ...)",
		                   c->name);
	if (!(o->step_percent >= 0.0 && o->step_percent <= 100.0))
		return nnp_err_set(err, NNP_EUSAGE, "iterative pruning: step of %g%%: must be 0 to 100",
		                   o->step_percent);
	if (!(o->target_percent >= 0.0 && o->target_percent <= 100.0))
		return nnp_err_set(err, NNP_EUSAGE, "iterative pruning: target of %g%% of the "
		                   "parameters: must be 0 to 100", o->target_percent);
	if (o->finetune_every && !o->finetune)
		return nnp_err_set(err, NNP_EUSAGE, "iterative pruning: fine-tuning every %zu steps "
		                   "without a fine-tuning function", o->finetune_every);
	if (!m || m->n_layers < 2)
		return nnp_err_set(err, NNP_EUSAGE, "iterative pruning: the model has no hidden layer");
	if (o->until_drop >= 0.0 && (!held || !held->y || held->rows == 0))
		return nnp_err_set(err, NNP_EUSAGE, "iterative pruning: an accuracy budget of %g "
		                   "points needs labelled held-out rows", o->until_drop);
	return NNP_OK;
}

static int evaluate(const nnp_model *m, const nnp_dataset *held, unsigned threads,
                    nnp_metrics *mt, nnp_err *err)
{
	nnp_run_opts ro = NNP_RUN_OPTS_INIT;
	ro.threads = threads;
	memset(mt, 0, sizeof *mt);
	return nnp_run_dataset(m, held, &ro, NULL, mt, NULL, err);
}

/* Shares k removals among the layers in proportion to spare[] (largest
 * remainders, ties to the lower layer); k <= sum of spare. */
static void share_out(const size_t *spare, size_t H, size_t k, size_t *take)
{
	size_t total = 0, given = 0;
	for (size_t l = 0; l < H; l++)
		total += spare[l];
	for (size_t l = 0; l < H; l++) {
		/* floor(k * spare / total) without overflow for the sizes at hand */
		take[l] = (size_t)((double)k * (double)spare[l] / (double)total);
		if (take[l] > spare[l])
			take[l] = spare[l];
		given += take[l];
	}
	while (given < k) {
		size_t best = H;
		double br = -1.0;
		for (size_t l = 0; l < H; l++) {
			if (take[l] >= spare[l])
				continue;
			double rem = (double)k * (double)spare[l] / (double)total - (double)take[l];
			if (rem > br) {
				br = rem;
				best = l;
			}
		}
		take[best]++;
		given++;
	}
}

/* Neurons removed by the next step, from the widths now. */
static size_t step_size(const nnp_iter_opts *o, size_t remaining)
{
	if (o->step)
		return o->step;
	if (o->step_percent > 0.0) {
		size_t k = (size_t)floor(o->step_percent / 100.0 * (double)remaining + 1e-9);
		return k ? k : 1;
	}
	return 1;
}

/* One step: the current model with take[l] fewer neurons in layer l. */
static int prune_step(const nnp_model *cur, const nnp_dataset *calib, const nnp_iter_opts *o,
                      const size_t *take, nnp_model **next, nnp_err *err)
{
	size_t H = cur->n_layers - 1;
	size_t *counts = malloc(H * sizeof *counts);
	if (!counts)
		return nnp_err_set(err, NNP_ENOMEM, "iterative pruning: out of memory");
	for (size_t l = 0; l < H; l++)
		counts[l] = cur->layers[l].out - take[l];
	int rc = nnp_method_prune(next, cur, calib, &o->method, counts, NULL, err);
	free(counts);
	return rc;
}

int nnp_prune_iterative(const nnp_model *m, const nnp_dataset *calib, const nnp_dataset *held,
                        const nnp_iter_opts *o, nnp_model **out, nnp_iter_trace **trace,
                        nnp_err *err)
{
	*out = NULL;
	if (trace)
		*trace = NULL;
	int rc = check_opts(m, held, o, err);
	if (rc)
		return rc;
	size_t H = m->n_layers - 1, min = o->min_neurons ? o->min_neurons : 1;
	size_t target = o->target_params;
	if (o->target_percent > 0.0) {
		size_t t = (size_t)floor(o->target_percent / 100.0 * (double)nnp_model_params(m) + 1e-9);
		target = target && target < t ? target : t;
	}
	int budget = o->until_drop >= 0.0, acc = held && held->y;
	nnp_iter_trace *t = calloc(1, sizeof *t);
	size_t *spare = calloc(H, sizeof *spare), *take = calloc(H, sizeof *take);
	nnp_model *cur = NULL, *next = NULL;
	nnp_metrics mt, mt0;
	if (!t || !spare || !take) {
		rc = nnp_err_set(err, NNP_ENOMEM, "iterative pruning: out of memory");
		goto done;
	}
	t->n_hidden = H;
	t->finetune_every = o->finetune_every;
	if ((rc = nnp_model_clone(&cur, m, err)))
		goto done;
	if (acc && (rc = evaluate(cur, held, o->method.threads, &mt0, err)))
		goto done;
	t->rows = acc ? mt0.labelled : 0;
	if (trace_add(t, cur, acc ? &mt0 : NULL))
		goto nomem;
	for (size_t s = 1; t->stop == NNP_ITER_RUNNING; s++) {
		if (target && nnp_model_params(cur) <= target) {
			t->stop = NNP_ITER_TARGET;
			break;
		}
		if (o->max_steps && s > o->max_steps) {
			t->stop = NNP_ITER_MAX_STEPS;
			break;
		}
		size_t avail = 0, remaining = 0;
		for (size_t l = 0; l < H; l++) {
			size_t w = cur->layers[l].out;
			spare[l] = w > min ? w - min : 0;
			avail += spare[l];
			remaining += w;
		}
		if (avail == 0) {
			t->stop = NNP_ITER_MIN_NEURONS;
			break;
		}
		size_t k = step_size(o, remaining);
		share_out(spare, H, k < avail ? k : avail, take);
		if ((rc = prune_step(cur, calib, o, take, &next, err)))
			goto done;
		int ft = o->finetune_every && s % o->finetune_every == 0;
		if (ft && (rc = o->finetune(o->finetune_ctx, &next, s, err)))
			goto done;
		if (acc && (rc = evaluate(next, held, o->method.threads, &mt, err)))
			goto done;
		if (trace_add(t, next, acc ? &mt : NULL))
			goto nomem;
		t->finetuned[t->n - 1] = (unsigned char)ft;
		if (budget) {
			double drop = 100.0 * ((double)mt0.correct - (double)mt.correct) /
			              (double)mt0.labelled;
			if (drop > o->until_drop) {
				/* The model before this step is the last that met it. */
				t->stop = NNP_ITER_DROP;
				nnp_model_free(next);
				next = NULL;
			}
		}
		if (next) {
			nnp_model_free(cur);
			cur = next;
			next = NULL;
			t->kept = t->n - 1;
		}
		if (o->progress)
			o->progress(o->progress_ctx, t);
	}
	*out = cur;
	cur = NULL;
	if (trace) {
		*trace = t;
		t = NULL;
	}
	rc = NNP_OK;
	goto done;
nomem:
	rc = nnp_err_set(err, NNP_ENOMEM, "iterative pruning: out of memory");
done:
	nnp_model_free(cur);
	nnp_model_free(next);
	nnp_iter_trace_free(t);
	free(spare);
	free(take);
	return rc;
}

int nnp_iter_trace_csv(const nnp_iter_trace *t, char **text, size_t *len, nnp_err *err)
{
	/* Each field is at most 24 characters with its comma. */
	size_t cap = (t->n + 1) * (4 + t->n_hidden) * 24 + 64;
	char *b = malloc(cap);
	if (!b)
		return nnp_err_set(err, NNP_ENOMEM, "trace: out of memory");
	size_t n = (size_t)snprintf(b, cap, "step,params,accuracy");
	for (size_t l = 0; l < t->n_hidden; l++)
		n += (size_t)snprintf(b + n, cap - n, ",neurons_%zu", l);
	if (t->finetune_every)
		n += (size_t)snprintf(b + n, cap - n, ",finetuned");
	n += (size_t)snprintf(b + n, cap - n, "\n");
	for (size_t s = 0; s < t->n; s++) {
		n += (size_t)snprintf(b + n, cap - n, "%zu,%zu,", s, t->params[s]);
		if (!isnan(t->accuracy[s]))
			n += (size_t)snprintf(b + n, cap - n, "%.6f", t->accuracy[s]);
		for (size_t l = 0; l < t->n_hidden; l++)
			n += (size_t)snprintf(b + n, cap - n, ",%zu", t->neurons[s * t->n_hidden + l]);
		if (t->finetune_every)
			n += (size_t)snprintf(b + n, cap - n, ",%d", t->finetuned[s]);
		n += (size_t)snprintf(b + n, cap - n, "\n");
	}
	*text = b;
	*len = n;
	return NNP_OK;
}
