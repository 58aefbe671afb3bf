/*
 * nnprune: physical neuron pruning by (mean, std) thresholds.
 *
 * Hidden neuron j of hidden layer l is removed iff |mean_j| <= m and
 * std_j <= s. Removing it drops row j of W_l and b_l[j] and column j of
 * W_{l+1}: the result is a smaller model, not a mask. With folding, the
 * removed neuron's average contribution mean_j * W_{l+1}[:, j] is added to
 * b_{l+1} first, which is exact for a neuron of std 0.
 */
#ifndef NNPRUNE_PRUNE_H
#define NNPRUNE_PRUNE_H

#include <stddef.h>
#include "nnprune/nnp.h"
#include "nnprune/model.h"
#include "nnprune/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which neurons of each hidden layer stay. */
typedef struct nnp_keep {
	size_t n_layers;   /* hidden layers (model layers - 1) */
	size_t *count;     /* [n_layers] neurons kept */
	size_t **idx;      /* [n_layers][count[l]] original indices, ascending */
	int *floor_hit;    /* [n_layers] 1 if min_keep overrode the rule there */
} nnp_keep;

/*
 * Applies the rule to every hidden layer of s. Each layer keeps at least
 * min_keep neurons (capped at its width): when the rule would remove more,
 * the removed neurons with the largest std stay (ties: lower index).
 * The caller owns *out (nnp_keep_free).
 */
int nnp_keep_rule(nnp_keep **out, const nnp_stats *s, double mean_thr, double std_thr,
                  size_t min_keep, nnp_err *err);

/* A keep of n_layers hidden layers with every count 0 and no indices yet
 * (the arrays non-NULL even for 0 layers); NULL when out of memory. */
nnp_keep *nnp_keep_alloc(size_t n_layers);
void nnp_keep_free(nnp_keep *k);
/* 1 if both keep exactly the same neurons. */
int nnp_keep_equal(const nnp_keep *a, const nnp_keep *b);
/* 1 if any layer hit the floor. */
int nnp_keep_any_floor(const nnp_keep *k);

/*
 * Builds the pruned model (caller owns *out). With fold != 0 the statistics'
 * means of removed neurons are folded into the next layer's bias (s required).
 * Metadata (name, classes, provenance) is copied from m; the caller records
 * its own provenance afterwards.
 */
int nnp_prune_apply(nnp_model **out, const nnp_model *m, const nnp_keep *k,
                    const nnp_stats *s, int fold, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
