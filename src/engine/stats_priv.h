/*
 * nnprune (private): the per-neuron activation accumulator behind nnp_run,
 * for core modules that drive nnp_forward themselves.
 *
 * An accumulator keeps, for every hidden neuron, the running count, mean and
 * sum of squared deviations (M2) in double, plus min, max and the number of
 * exact zeros. Batches are added with a two-pass computation (batch mean,
 * then squared deviations from it) and folded in with Chan et al.'s pairwise
 * update, which stays accurate over millions of rows where a running
 * sum of squares would cancel catastrophically.
 */
#ifndef NNPRUNE_STATS_PRIV_H
#define NNPRUNE_STATS_PRIV_H

#include <stddef.h>
#include "nnprune/stats.h"
#include "forward_priv.h"   /* NNP_VEC_CLONES */

typedef struct nnp_acc nnp_acc;

/* Creates an empty accumulator for m's hidden layers (all but the last).
 * The model is borrowed. The caller owns *out. Errors: NNP_ENOMEM. */
int nnp_acc_create(nnp_acc **out, const nnp_model *m, nnp_err *err);
void nnp_acc_free(nnp_acc *a);

/* Adds the hidden-layer outputs of f's last run over `rows` rows. f must run
 * the accumulator's model. Never allocates. */
void nnp_acc_add(nnp_acc *a, const nnp_forward *f, size_t rows);

/* Adds one layer's activations z[rows][neurons of hidden layer l]. */
void nnp_acc_add_layer(nnp_acc *a, size_t l, const float *z, size_t rows);

/* Folds b into a (same model). The order of merges changes only rounding. */
void nnp_acc_merge(nnp_acc *a, const nnp_acc *b);

/* Rows added so far. */
uint64_t nnp_acc_rows(const nnp_acc *a);

/* Writes mean, population std, min, max and zero fraction into s, which must
 * be shaped like the accumulator (nnp_stats_create on the same model), and
 * sets s->rows. s->metrics is left alone. */
void nnp_acc_finish(const nnp_acc *a, nnp_stats *s);

/*
 * Allocates zeroed statistics for n_layers hidden layers of neurons[l]
 * neurons with activations acts[l]; layer indices are 0..n_layers-1.
 * The caller owns *out (nnp_stats_free). Errors: NNP_ENOMEM, NNP_EUSAGE.
 */
int nnp_stats_alloc(nnp_stats **out, size_t n_layers, const size_t *neurons,
                    const nnp_act *acts, nnp_err *err);

/* Zeroed statistics with the layers (indices, widths, activations) of shape. */
int nnp_stats_alloc_like(nnp_stats **out, const nnp_stats *shape, nnp_err *err);

#endif
