/* nnprune (private): what the rule (prune.c) and the ranking criteria
 * (method.c) share when they build a slimmed model. */
#ifndef NNPRUNE_PRUNE_PRIV_H
#define NNPRUNE_PRUNE_PRIV_H

#include <stddef.h>
#include "nnprune/model.h"

/* Fold compensation, written once: b plus, for every removed input j in the
 * order given (ascending), mean[j] * row[j], summed in double. The removed
 * neurons' average output keeps flowing into this neuron through its bias. */
double nnp_fold_bias(double b, const float *row, const double *mean, const size_t *removed,
                     size_t n_removed);

/* A model shaped like m with hidden layer l cut to counts[l] neurons: m's
 * activations, alphas and metadata, weights zero. Errors: NNP_ENOMEM, those
 * of the metadata setters. */
int nnp_prune_shell(nnp_model **out, const nnp_model *m, const size_t *counts, nnp_err *err);

#endif
