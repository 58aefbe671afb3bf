/* Physical neuron pruning: the (mean, std) rule with its min_keep floor, and
 * building the slimmed model, optionally folding removed means into biases. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/prune.h"
#include "prune_priv.h"
#include "mem.h"

/* A neuron the rule removed, ranked for the min_keep floor. */
typedef struct rm_rank {
	double std;
	size_t j;
} rm_rank;

/* Largest std first; equal std: lower index first. */
static int rank_cmp(const void *pa, const void *pb)
{
	const rm_rank *a = pa, *b = pb;
	if (a->std > b->std)
		return -1;
	if (a->std < b->std)
		return 1;
	return (a->j > b->j) - (a->j < b->j);
}

void nnp_keep_free(nnp_keep *k)
{
	if (!k)
		return;
	if (k->idx)
		for (size_t l = 0; l < k->n_layers; l++)
			free(k->idx[l]);
	NNP_FREE_ALL(k->idx, k->count, k->floor_hit, k);
}

nnp_keep *nnp_keep_alloc(size_t n_layers)
{
	nnp_keep *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	k->n_layers = n_layers;
	/* A model without hidden layers still gets non-NULL (empty) arrays. */
	size_t n = n_layers ? n_layers : 1;
	k->count = calloc(n, sizeof *k->count);
	k->idx = calloc(n, sizeof *k->idx);
	k->floor_hit = calloc(n, sizeof *k->floor_hit);
	if (!k->count || !k->idx || !k->floor_hit) {
		nnp_keep_free(k);
		return NULL;
	}
	return k;
}

static int check_stats_layer(const nnp_layer_stats *ls, size_t l, nnp_err *err)
{
	if (ls->neurons == 0 || ls->neurons > NNP_MAX_WIDTH)
		return nnp_err_set(err, NNP_EUSAGE, "statistics: hidden layer %zu: %zu neurons", l,
		                   ls->neurons);
	if (!ls->mean || !ls->std)
		return nnp_err_set(err, NNP_EUSAGE, "statistics: hidden layer %zu: no mean or std", l);
	return NNP_OK;
}

/*
 * One layer of the rule. stay[] is scratch of the layer's width; rank[] too.
 * Writes k->count[l], k->idx[l] (ascending) and k->floor_hit[l].
 */
static int keep_layer(nnp_keep *k, size_t l, const nnp_layer_stats *ls, double mean_thr,
                      double std_thr, size_t min_keep, unsigned char *stay, rm_rank *rank)
{
	size_t w = ls->neurons, kept = 0, n_rm = 0;
	for (size_t j = 0; j < w; j++) {
		/* NaN figures fail both comparisons: such a neuron is never removed. */
		int removed = fabs(ls->mean[j]) <= mean_thr && ls->std[j] <= std_thr;
		stay[j] = (unsigned char)!removed;
		if (removed)
			rank[n_rm++] = (rm_rank){ ls->std[j], j };
		else
			kept++;
	}
	size_t lo = min_keep < w ? min_keep : w;
	if (kept < lo) {
		size_t need = lo - kept;
		qsort(rank, n_rm, sizeof *rank, rank_cmp);
		for (size_t i = 0; i < need; i++)
			stay[rank[i].j] = 1;
		kept = lo;
		k->floor_hit[l] = 1;
	}
	k->idx[l] = malloc(kept * sizeof **k->idx);
	if (!k->idx[l])
		return NNP_ENOMEM;
	size_t c = 0;
	for (size_t j = 0; j < w; j++)
		if (stay[j])
			k->idx[l][c++] = j;
	k->count[l] = kept;
	return NNP_OK;
}

int nnp_keep_rule(nnp_keep **out, const nnp_stats *s, double mean_thr, double std_thr,
                  size_t min_keep, nnp_err *err)
{
	*out = NULL;
	if (isnan(mean_thr) || isnan(std_thr))
		return nnp_err_set(err, NNP_EUSAGE, "prune: thresholds must be numbers (mean %g, std %g)",
		                   mean_thr, std_thr);
	/* A hidden layer of width 0 would not be a network any more. */
	if (min_keep == 0)
		return nnp_err_set(err, NNP_EUSAGE, "prune: min_keep must be at least 1, found 0");
	size_t maxw = 1;
	for (size_t l = 0; l < s->n_layers; l++) {
		int rc = check_stats_layer(&s->layers[l], l, err);
		if (rc)
			return rc;
		if (s->layers[l].neurons > maxw)
			maxw = s->layers[l].neurons;
	}
	int rc = NNP_OK;
	unsigned char *stay = malloc(maxw);
	rm_rank *rank = malloc(maxw * sizeof *rank);
	nnp_keep *k = nnp_keep_alloc(s->n_layers);
	if (!stay || !rank || !k) {
		rc = nnp_err_set(err, NNP_ENOMEM, "prune: out of memory");
		goto done;
	}
	for (size_t l = 0; l < s->n_layers; l++) {
		if (keep_layer(k, l, &s->layers[l], mean_thr, std_thr, min_keep, stay, rank)) {
			rc = nnp_err_set(err, NNP_ENOMEM, "prune: out of memory");
			goto done;
		}
	}
	*out = k;
	k = NULL;
done:
	nnp_keep_free(k);
	free(stay);
	free(rank);
	return rc;
}

int nnp_keep_equal(const nnp_keep *a, const nnp_keep *b)
{
	if (a->n_layers != b->n_layers)
		return 0;
	for (size_t l = 0; l < a->n_layers; l++) {
		if (a->count[l] != b->count[l])
			return 0;
		if (memcmp(a->idx[l], b->idx[l], a->count[l] * sizeof *a->idx[l]) != 0)
			return 0;
	}
	return 1;
}

int nnp_keep_any_floor(const nnp_keep *k)
{
	for (size_t l = 0; l < k->n_layers; l++)
		if (k->floor_hit[l])
			return 1;
	return 0;
}

/* The kept set must fit m: one entry per hidden layer, 1..width indices, ascending. */
static int check_keep(const nnp_model *m, const nnp_keep *k, nnp_err *err)
{
	if (m->n_layers == 0 || k->n_layers != m->n_layers - 1)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "prune: kept set has %zu hidden layers, the model %zu", k->n_layers,
		                   m->n_layers ? m->n_layers - 1 : 0);
	for (size_t l = 0; l < k->n_layers; l++) {
		size_t w = m->layers[l].out;
		if (k->count[l] == 0 || k->count[l] > w)
			return nnp_err_set(err, NNP_EUSAGE, "prune: layer %zu: keeps %zu of %zu neurons",
			                   l, k->count[l], w);
		for (size_t i = 0; i < k->count[l]; i++) {
			size_t j = k->idx[l][i];
			if (j >= w || (i > 0 && j <= k->idx[l][i - 1]))
				return nnp_err_set(err, NNP_EUSAGE,
				                   "prune: layer %zu: kept index %zu is out of order or range",
				                   l, j);
		}
	}
	return NNP_OK;
}

static int check_fold_stats(const nnp_model *m, const nnp_stats *s, nnp_err *err)
{
	if (!s)
		return nnp_err_set(err, NNP_EUSAGE, "prune: folding needs the statistics");
	if (s->n_layers != m->n_layers - 1)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "prune: statistics have %zu hidden layers, the model %zu",
		                   s->n_layers, m->n_layers - 1);
	for (size_t l = 0; l < s->n_layers; l++) {
		if (s->layers[l].neurons != m->layers[l].out || !s->layers[l].mean)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "prune: statistics: layer %zu has %zu neurons, the model %zu",
			                   l, s->layers[l].neurons, m->layers[l].out);
	}
	return NNP_OK;
}

/*
 * Writes the removed indices of hidden layer l (the complement of its kept
 * set, ascending) into rm; returns their number.
 */
static size_t removed_of(const nnp_keep *k, size_t l, size_t width, size_t *rm)
{
	size_t n = 0, c = 0;
	for (size_t j = 0; j < width; j++) {
		if (c < k->count[l] && k->idx[l][c] == j)
			c++;
		else
			rm[n++] = j;
	}
	return n;
}

/*
 * Fills layer l of the pruned model p from layer l of m. rows: kept outputs
 * (NULL: all), cols: kept inputs (NULL: all); rm/n_rm/mean: the previous
 * hidden layer's removed neurons and their means when folding (n_rm 0 else).
 */
static int fill_layer(nnp_layer *P, const nnp_layer *L, size_t l, const size_t *rows,
                      const size_t *cols, const size_t *rm, size_t n_rm, const double *mean,
                      nnp_err *err)
{
	P->alpha = L->alpha;
	for (size_t i = 0; i < P->out; i++) {
		size_t r = rows ? rows[i] : i;
		const float *src = L->w + r * L->in;
		float *dst = P->w + i * P->in;
		if (cols)
			for (size_t c = 0; c < P->in; c++)
				dst[c] = src[cols[c]];
		else
			memcpy(dst, src, P->in * sizeof *dst);
		/* Rounded once, after the sum in double. */
		double acc = nnp_fold_bias(L->b[r], src, mean, rm, n_rm);
		P->b[i] = (float)acc;
		if (!isfinite(P->b[i]))
			return nnp_err_set(err, NNP_EINPUT,
			                   "prune: layer %zu: folded bias[%zu] is not finite (%g)", l, r,
			                   acc);
	}
	return NNP_OK;
}

double nnp_fold_bias(double b, const float *row, const double *mean, const size_t *removed,
                     size_t n_removed)
{
	for (size_t t = 0; t < n_removed; t++)
		b += mean[removed[t]] * (double)row[removed[t]];
	return b;
}

int nnp_prune_shell(nnp_model **out, const nnp_model *m, const size_t *counts, nnp_err *err)
{
	*out = NULL;
	size_t L = m->n_layers;
	size_t *sizes = calloc(L, sizeof *sizes);
	nnp_act *acts = calloc(L, sizeof *acts);
	int rc = NNP_OK;
	if (!sizes || !acts) {
		rc = nnp_err_set(err, NNP_ENOMEM, "prune: out of memory");
	} else {
		for (size_t l = 0; l < L; l++) {
			sizes[l] = l + 1 < L ? counts[l] : m->layers[l].out;
			acts[l] = m->layers[l].act;
		}
		rc = nnp_model_create(out, m->input_size, L, sizes, acts, err);
		for (size_t l = 0; !rc && l < L; l++)
			(*out)->layers[l].alpha = m->layers[l].alpha;
		/* Metadata, input preprocessing and output kind: pruning keeps the inputs. */
		if (!rc && (rc = nnp_model_copy_io(*out, m, err))) {
			nnp_model_free(*out);
			*out = NULL;
		}
	}
	free(sizes);
	free(acts);
	return rc;
}

/*
 * Folding uses the statistics measured on the original network. Once hidden
 * layer l loses neurons, the activations of layer l+1 shift (not at all when
 * the removed neurons had std 0, slightly otherwise), so the recorded means
 * of layer l+1 are no longer exactly its means in the pruned model; those
 * recorded means are still the ones folded. That is the method: statistics
 * are taken once, from the original, and every candidate is pruned against
 * them, which keeps a sweep's candidates comparable and the folding exact
 * for constant neurons.
 */
int nnp_prune_apply(nnp_model **out, const nnp_model *m, const nnp_keep *k,
                    const nnp_stats *s, int fold, nnp_err *err)
{
	*out = NULL;
	int rc = check_keep(m, k, err);
	if (!rc && fold)
		rc = check_fold_stats(m, s, err);
	if (rc)
		return rc;
	size_t L = m->n_layers;
	size_t *rm = malloc((nnp_model_max_width(m) + 1) * sizeof *rm);
	nnp_model *p = NULL;
	if (!rm)
		return nnp_err_set(err, NNP_ENOMEM, "prune: out of memory");
	if ((rc = nnp_prune_shell(&p, m, k->count, err)))
		goto done;
	for (size_t l = 0; l < L; l++) {
		const size_t *rows = l + 1 < L ? k->idx[l] : NULL;
		const size_t *cols = l > 0 ? k->idx[l - 1] : NULL;
		size_t n_rm = 0;
		const double *mean = NULL;
		if (fold && l > 0) {
			n_rm = removed_of(k, l - 1, m->layers[l - 1].out, rm);
			mean = s->layers[l - 1].mean;
		}
		rc = fill_layer(&p->layers[l], &m->layers[l], l, rows, cols, rm, n_rm, mean, err);
		if (rc)
			goto done;
	}
	*out = p;
	p = NULL;
done:
	nnp_model_free(p);
	free(rm);
	return rc;
}
