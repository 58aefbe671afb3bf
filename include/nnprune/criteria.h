/*
 * nnprune: the pruning criteria, one row each. A criterion says which
 * neurons go; its row gives its name, what it needs computed on the
 * calibration rows, its kind, how it orders a layer's neurons, and one line
 * of help. Names, parsing, option checks, help text and the report's wording
 * all come from this table; a new criterion is one ordering function and one
 * row in src/prune/criteria.c.
 */
#ifndef NNPRUNE_CRITERIA_H
#define NNPRUNE_CRITERIA_H

#include <stddef.h>
#include "nnprune/nnp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a criterion needs, per hidden layer, over the calibration rows. */
enum {
	NNP_NEEDS_STATS = 1,   /* means and variances of the activations */
	NNP_NEEDS_COV = 2,     /* their covariance */
	NNP_NEEDS_CROSS = 4,   /* their cross-covariance with the next pre-activations */
	NNP_NEEDS_GRAD = 8,    /* gradients of the loss (include/nnprune/backprop.h) */
	NNP_NEEDS_LABELS = 16  /* labelled rows */
};

typedef enum nnp_crit_kind {
	NNP_CRIT_STRUCTURED = 0,   /* removes whole neurons: a smaller model */
	NNP_CRIT_UNSTRUCTURED = 1  /* zeroes single weights: a sparse model */
} nnp_crit_kind;

/* What an ordering function sees of hidden layer `layer` (n neurons, the
 * next layer m outputs). Only what the row's needs ask for is set. */
typedef struct nnp_crit_layer {
	size_t layer, n, m;
	const double *mean, *var;     /* [n] */
	const double *cov, *cross;    /* [n][n], [n][m] */
	double lambda;                /* the ridge strength for refits */
	const float *w_next;          /* [m][n] the next layer's weights */
	void *rank;                   /* scratch: n (double, size_t) pairs */
	double *work;                 /* scratch for criteria that need COV */
} nnp_crit_layer;

/* Writes the removal order of the layer's neurons into order[n]: order[0]
 * goes first, the last stays longest. Errors: NNP_EINPUT naming the layer. */
typedef int (*nnp_order_fn)(const nnp_crit_layer *L, size_t *order, nnp_err *err);

typedef struct nnp_criterion {
	const char *name;
	unsigned needs;               /* NNP_NEEDS_* */
	nnp_crit_kind kind;
	nnp_order_fn order;           /* NULL: selects by thresholds on the statistics */
	const char *help;             /* one line: which neurons go */
} nnp_criterion;

/* Rows 0, 1, 2, ...; NULL past the last. Row i is nnp_method i. */
const nnp_criterion *nnp_criterion_at(size_t i);
size_t nnp_criteria_count(void);
/* The row named `name`, or NULL. */
const nnp_criterion *nnp_criterion_find(const char *name);
/* The index of the row named `name`; -1 if none. */
int nnp_criterion_index(const char *name);
/* How the report names a method given by name (NULL: the thresholds rule). */
const char *nnp_criterion_display(const char *name);
/* 1 if the method given by name (NULL: the default) selects by thresholds. */
int nnp_criterion_by_thresholds(const char *name);
/* The names joined for a message: "rule, score, obs or random". */
const char *nnp_criteria_names(void);

#ifdef __cplusplus
}
#endif
#endif
