/* Statistics of consecutive row ranges combined into those of all the rows. */
#include <math.h>
#include <stdlib.h>

#include "nnprune/stats.h"
#include "stats_priv.h"

int nnp_stats_merge(nnp_stats **out, const nnp_stats *const *parts, size_t n, nnp_err *err)
{
	*out = NULL;
	if (n == 0)
		return nnp_err_set(err, NNP_EUSAGE, "no statistics to merge");
	const nnp_stats *p0 = parts[0];
	for (size_t k = 1; k < n; k++) {
		if (parts[k]->n_layers != p0->n_layers)
			return nnp_err_set(err, NNP_EINPUT, "part %zu has %zu hidden layers, part 0 %zu",
			                   k, parts[k]->n_layers, p0->n_layers);
		for (size_t l = 0; l < p0->n_layers; l++)
			if (parts[k]->layers[l].neurons != p0->layers[l].neurons ||
			    parts[k]->layers[l].act != p0->layers[l].act)
				return nnp_err_set(err, NNP_EINPUT, "part %zu: layer %zu differs from part 0's "
				                   "(neurons or activation)", k, l);
		if (parts[k]->metrics.labelled && p0->metrics.labelled &&
		    parts[k]->metrics.mse != p0->metrics.mse)
			return nnp_err_set(err, NNP_EINPUT, "part %zu measures a different loss", k);
	}
	nnp_stats *s = NULL;
	int rc = nnp_stats_alloc_like(&s, p0, err);
	if (rc)
		return rc;
	for (size_t l = 0; l < s->n_layers; l++) {
		nnp_layer_stats *L = &s->layers[l];
		for (size_t j = 0; j < L->neurons; j++) {
			/* Chan et al.: counts add; the mean moves by delta * nb / n; the
			 * summed squared deviations gain delta^2 * na * nb / n. */
			double na = 0, mean = 0, m2 = 0, zeros = 0, lo = INFINITY, hi = -INFINITY;
			for (size_t k = 0; k < n; k++) {
				const nnp_layer_stats *P = &parts[k]->layers[l];
				double nb = (double)parts[k]->rows;
				if (nb == 0)
					continue;
				double mb = P->mean[j], m2b = P->std[j] * P->std[j] * nb;
				double tot = na + nb, delta = mb - mean;
				mean += delta * nb / tot;
				m2 += m2b + delta * delta * na * nb / tot;
				na = tot;
				/* A share of zeros times the rows is a whole count. */
				zeros += nearbyint(P->zero_fraction[j] * nb);
				if (P->min[j] < lo)
					lo = P->min[j];
				if (P->max[j] > hi)
					hi = P->max[j];
			}
			L->mean[j] = mean;
			L->std[j] = na > 0 ? sqrt(m2 / na) : 0;
			L->zero_fraction[j] = na > 0 ? zeros / na : 0;
			L->min[j] = na > 0 ? lo : 0;
			L->max[j] = na > 0 ? hi : 0;
		}
	}
	for (size_t k = 0; k < n; k++) {
		const nnp_metrics *m = &parts[k]->metrics;
		s->rows += parts[k]->rows;
		s->metrics.rows += m->rows;
		s->metrics.labelled += m->labelled;
		s->metrics.correct += m->correct;
		s->metrics.loss_sum += m->loss_sum;
		s->metrics.nonfinite += m->nonfinite;
		if (m->labelled)
			s->metrics.mse = m->mse;
	}
	*out = s;
	return NNP_OK;
}
