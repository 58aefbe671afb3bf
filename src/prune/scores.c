/* Neuron scores read straight off the weights or the statistics: unit L2
 * norm and APoZ; and the ranking every score shares. */
#include <math.h>
#include <stdlib.h>

#include "scores_priv.h"

void nnp_unit_l2(const nnp_layer *L, double *score)
{
	for (size_t o = 0; o < L->out; o++) {
		const float *w = L->w + o * L->in;
		double s = 0.0;
		for (size_t j = 0; j < L->in; j++)
			s += (double)w[j] * w[j];
		score[o] = sqrt(s);
	}
}

int nnp_apoz_scores(const nnp_stats *st, size_t h, double *score, nnp_err *err)
{
	if (h >= st->n_layers)
		return nnp_err_set(err, NNP_EUSAGE, "APoZ: hidden layer %zu does not exist (%zu)", h,
		                   st->n_layers);
	const nnp_layer_stats *S = &st->layers[h];
	if (S->act != NNP_ACT_RELU)
		return nnp_err_set(err, NNP_EUSAGE, "APoZ: layer %zu is %s; the share of zero "
		                   "outputs ranks ReLU neurons only", S->layer, nnp_act_name(S->act));
	for (size_t j = 0; j < S->neurons; j++)
		score[j] = 1.0 - S->zero_fraction[j];
	return NNP_OK;
}

/* Sorting (score, index) pairs: qsort is not stable, the index makes it so. */
typedef struct ranked {
	double score;
	size_t index;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
	const ranked *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

int nnp_rank_ascending(const double *score, size_t n, size_t *order, nnp_err *err)
{
	ranked *r = malloc((n ? n : 1) * sizeof *r);
	if (!r)
		return nnp_err_set(err, NNP_ENOMEM, "ranking %zu neurons: out of memory", n);
	for (size_t i = 0; i < n; i++)
		r[i] = (ranked){ score[i], i };
	qsort(r, n, sizeof *r, cmp_ranked);
	for (size_t i = 0; i < n; i++)
		order[i] = r[i].index;
	free(r);
	return NNP_OK;
}
