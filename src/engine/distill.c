/* Distillation: the loss against a teacher's softened outputs mixed with the
 * labels' cross-entropy, and its gradient w.r.t. the student's logits
 * (include/nnprune/train.h). */
#include <math.h>

#include "nnprune/train.h"

/* log-sum-exp of z[k] * s. */
static double lse(const double *z, size_t K, double s)
{
	double mx = z[0] * s;
	for (size_t k = 1; k < K; k++)
		mx = z[k] * s > mx ? z[k] * s : mx;
	double sum = 0.0;
	for (size_t k = 0; k < K; k++)
		sum += exp(z[k] * s - mx);
	return mx + log(sum);
}

double nnp_distill_loss(const double *zs, const double *zt, size_t K, size_t label, double T,
                        double alpha, double *dz)
{
	double inv = 1.0 / T;
	double ls_t = lse(zs, K, inv), lt_t = lse(zt, K, inv), ls = lse(zs, K, 1.0);
	double kl = 0.0;
	for (size_t k = 0; k < K; k++) {
		double log_pt = zt[k] * inv - lt_t, log_ps = zs[k] * inv - ls_t;
		double pt = exp(log_pt);
		kl += pt * (log_pt - log_ps);
		if (dz) {
			double p = exp(zs[k] - ls);
			dz[k] = alpha * T * (exp(log_ps) - pt) +
			        (1.0 - alpha) * (p - (k == label ? 1.0 : 0.0));
		}
	}
	return alpha * T * T * kl + (1.0 - alpha) * (ls - zs[label]);
}
