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

/* Gives p m's name, class names and provenance. Errors: those of the setters. */
int nnp_copy_metadata(nnp_model *p, const nnp_model *m, nnp_err *err);

#endif
