/* The criteria table: one ordering function and one row per criterion. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nnprune/criteria.h"
#include "method_priv.h"

/* score: lowest std_j * ||W_next[:, j]|| first. */
static int order_score(const nnp_crit_layer *L, size_t *order, nnp_err *err)
{
	(void)err;
	nnp_mth_score_order(L->var, L->w_next, L->n, L->m, order, L->rank);
	return NNP_OK;
}

/* obs: greedy backward elimination under the ridge refit of the next layer. */
static int order_obs(const nnp_crit_layer *L, size_t *order, nnp_err *err)
{
	double lam = L->lambda;
	if (nnp_mth_obs_order(L->cov, L->cross, L->n, L->m, &lam, order, NULL, L->work))
		return nnp_err_set(err, NNP_EINPUT,
		                   "hidden layer %zu: the calibration covariance cannot be "
		                   "factorised, even with lambda %g", L->layer, lam);
	return NNP_OK;
}

/* random: a control. A shuffle seeded by the layer's index and width, so a
 * layer's order is the same on every run. */
static int order_random(const nnp_crit_layer *L, size_t *order, nnp_err *err)
{
	(void)err;
	uint64_t x = 0x6e6e7072756e6521ULL ^ ((uint64_t)L->layer << 32) ^ (uint64_t)L->n;
	for (size_t j = 0; j < L->n; j++)
		order[j] = j;
	for (size_t i = L->n; i > 1; i--) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		size_t j = (size_t)((z ^ (z >> 31)) % i), t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	return NNP_OK;
}

/* Orders by scores (lowest first, ties: the lower index stays). */
static void order_scores(const nnp_crit_layer *L, const double *s, size_t *order)
{
	nnp_mth_rank *r = L->rank;
	for (size_t j = 0; j < L->n; j++)
		r[j] = (nnp_mth_rank){ s ? s[j] : 0.0, j };
	nnp_mth_rank_order(r, L->n, order);
}

/* l2: lowest ||W_l[j, :]|| first, the norm of the neuron's incoming row. */
static int order_l2(const nnp_crit_layer *L, size_t *order, nnp_err *err)
{
	(void)err;
	nnp_mth_rank *r = L->rank;
	for (size_t j = 0; j < L->n; j++) {
		const float *w = L->w_in + j * L->in;
		double s = 0.0;
		for (size_t i = 0; i < L->in; i++)
			s += (double)w[i] * (double)w[i];
		r[j] = (nnp_mth_rank){ sqrt(s), j };
	}
	nnp_mth_rank_order(r, L->n, order);
	return NNP_OK;
}

/* apoz: the highest share of zero outputs first (score 1 - share). ReLU
 * only: other activations are almost never exactly 0, every score would tie. */
static int order_apoz(const nnp_crit_layer *L, size_t *order, nnp_err *err)
{
	if (L->act != NNP_ACT_RELU)
		return nnp_err_set(err, NNP_EINPUT, "hidden layer %zu is %s: APoZ (the share of zero "
		                   "outputs) ranks ReLU neurons only", L->layer, nnp_act_name(L->act));
	nnp_mth_rank *r = L->rank;
	for (size_t j = 0; j < L->n; j++)
		r[j] = (nnp_mth_rank){ 1.0 - L->zero[j], j };
	nnp_mth_rank_order(r, L->n, order);
	return NNP_OK;
}

/* taylor: lowest mean |a_j * dL/da_j| first. */
static int order_taylor(const nnp_crit_layer *L, size_t *order, nnp_err *err)
{
	(void)err;
	order_scores(L, L->taylor, order);
	return NNP_OK;
}

/* Row i is nnp_method i: rule, score and obs keep their enum values. */
static const nnp_criterion table[] = {
	{ "rule", NNP_NEEDS_STATS, NNP_CRIT_STRUCTURED, NULL,
	  "remove j iff |mean_j| <= M and std_j <= S" },
	{ "score", NNP_NEEDS_STATS, NNP_CRIT_STRUCTURED, order_score,
	  "keep the largest std_j * ||W_next[:, j]||" },
	{ "obs", NNP_NEEDS_STATS | NNP_NEEDS_COV | NNP_NEEDS_CROSS, NNP_CRIT_STRUCTURED, order_obs,
	  "greedy backward elimination, ridge refit" },
	{ "random", 0, NNP_CRIT_STRUCTURED, order_random,
	  "a seeded random order (a control)" },
	{ "l2", 0, NNP_CRIT_STRUCTURED, order_l2,
	  "keep the largest ||W_l[j, :]||: incoming (the outgoing is what ls/fold refit)" },
	{ "apoz", NNP_NEEDS_STATS, NNP_CRIT_STRUCTURED, order_apoz,
	  "remove the highest share of zero outputs first (APoZ; ReLU layers)" },
	{ "taylor", NNP_NEEDS_GRAD | NNP_NEEDS_LABELS, NNP_CRIT_STRUCTURED, order_taylor,
	  "keep the largest mean |a_j * dL/da_j| (first-order Taylor; labelled rows)" },
	{ "magnitude", 0, NNP_CRIT_UNSTRUCTURED, NULL,
	  "zero the smallest |w| (unstructured, biases kept): a sparse model" },
};

#define N_CRITERIA (sizeof table / sizeof *table)

const nnp_criterion *nnp_criterion_at(size_t i)
{
	return i < N_CRITERIA ? &table[i] : NULL;
}

size_t nnp_criteria_count(void)
{
	return N_CRITERIA;
}

int nnp_criterion_index(const char *name)
{
	for (size_t i = 0; name && i < N_CRITERIA; i++)
		if (strcmp(name, table[i].name) == 0)
			return (int)i;
	return -1;
}

const nnp_criterion *nnp_criterion_find(const char *name)
{
	int i = nnp_criterion_index(name);
	return i < 0 ? NULL : &table[i];
}

const char *nnp_criterion_display(const char *name)
{
	return name ? name : table[0].name;
}

int nnp_criterion_by_thresholds(const char *name)
{
	const nnp_criterion *c = name ? nnp_criterion_find(name) : &table[0];
	return c && !c->order && c->kind == NNP_CRIT_STRUCTURED;
}

int nnp_criterion_ranks(const nnp_criterion *c)
{
	return c && c->order && c->kind == NNP_CRIT_STRUCTURED;
}

const char *nnp_criteria_names(void)
{
	static char buf[512];
	if (buf[0])
		return buf;
	char tmp[512];
	size_t len = 0;
	for (size_t i = 0; i < N_CRITERIA; i++) {
		const char *sep = i == 0 ? "" : i + 1 == N_CRITERIA ? " or " : ", ";
		int n = snprintf(tmp + len, sizeof tmp - len, "%s%s", sep, table[i].name);
		if (n > 0 && (size_t)n < sizeof tmp - len)
			len += (size_t)n;
	}
	memcpy(buf, tmp, len + 1);
	return buf;
}
