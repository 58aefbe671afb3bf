/*
 * nnprune (private): pure scoring and selection functions for the pruning
 * criteria that do not need calibration passes of their own: weight
 * magnitude (unstructured), unit L2 norm and APoZ (structured). Each takes a
 * model (and statistics) and returns scores or a selection; none changes the
 * model except nnp_mag_apply. Ready to become rows of the criteria table.
 */
#ifndef NNPRUNE_SCORES_PRIV_H
#define NNPRUNE_SCORES_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/model.h"
#include "nnprune/stats.h"
#include "nnprune/criteria.h"

/* ---- weight magnitude (magnitude.c) ---- */

/* nnp_mag_scope: include/nnprune/criteria.h */

/*
 * What magnitude pruning removes from one layer: every weight whose |w| (as
 * IEEE bits, sign cleared: the same order as the values) is below `bits`,
 * and the first `ties` weights in row-major order whose |w| is exactly
 * `bits`. `count` is how many that makes.
 */
typedef struct nnp_mag_cut {
	uint32_t bits;
	size_t ties;
	size_t count;
} nnp_mag_cut;

/* round(sparsity * n), halves to even like Python's round (which
 * torch.nn.utils.prune uses for its amount); sparsity in [0, 1]. */
size_t nnp_mag_count(double sparsity, size_t n);

/*
 * Selects the weights magnitude pruning at `sparsity` removes: the
 * smallest |w|, ties broken by (layer, row, column), i.e. the order of the
 * key (|w|, layer, row, col). Scope per layer: round(s * in * out) from each
 * layer; global: round(s * all weights) over the whole model; hidden: the
 * output layer none, the others per layer at nnp_mag_hidden_share. Biases are
 * never pruned. The output layer is pruned like the others in the first two
 * (its rows are the class scores' weights; nothing is removed structurally,
 * so every class keeps its bias). Weights already zero are the smallest and
 * are selected first: sparsity is the share of zeros afterwards.
 * cuts is [m->n_layers]. Linear time: two 16-bit radix passes find the
 * threshold. Errors: NNP_EUSAGE (sparsity outside [0, 1], a hidden share
 * above 1), NNP_ENOMEM.
 */
int nnp_mag_select(const nnp_model *m, double sparsity, nnp_mag_scope scope,
                   nnp_mag_cut *cuts, nnp_err *err);

/* Marks (1) the weights of layer l that cuts[l] selects in mask [in*out]. */
void nnp_mag_mark(const nnp_layer *L, const nnp_mag_cut *cut, unsigned char *mask);

/* Sets the selected weights to +0.0; returns how many were selected. */
size_t nnp_mag_apply(nnp_model *m, const nnp_mag_cut *cuts);

/* ---- neuron scores (scores.c): higher = more important ---- */

/*
 * Unit L2 norm: score[o] = ||W_l[o][:]||_2, the norm of neuron o's incoming
 * weight row (in double). The incoming row, not the outgoing column: it is
 * what the neuron reads from its inputs, fixed whatever follows, while the
 * outgoing column is what compensation (fold, ls) refits after the neuron
 * is removed, so its size says little about the loss.
 */
void nnp_unit_l2(const nnp_layer *L, double *score);

/*
 * APoZ (average percentage of zeros, Hu et al. 2016) of the hidden layer
 * whose statistics are st->layers[h]: score[j] = 1 - zero_fraction[j], the
 * share of rows where neuron j is active, so that, as for every score here,
 * the lowest goes first. Only for ReLU layers, where an output of exactly 0
 * means "inactive"; other activations are refused (NNP_EUSAGE) since their
 * outputs are almost never exactly 0 and every score would tie.
 */
int nnp_apoz_scores(const nnp_stats *st, size_t h, double *score, nnp_err *err);

/* order[0..n) = indices sorted by (score, index) ascending: least important
 * first, ties broken by position. NaN scores are not allowed. NNP_ENOMEM. */
int nnp_rank_ascending(const double *score, size_t n, size_t *order, nnp_err *err);

#endif
