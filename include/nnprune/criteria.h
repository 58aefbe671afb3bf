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
#include "nnprune/model.h"
#include "nnprune/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a criterion needs, per hidden layer, over the calibration rows. */
enum {
	NNP_NEEDS_STATS = 1,   /* means, variances and shares of zeros of the activations */
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
	/* Always set by the method context: */
	size_t in;                    /* the layer's inputs */
	const float *w_in;            /* [n][in] its incoming weights, as the network now is
	                               * (over the inputs earlier layers kept, compensated) */
	nnp_act act;                  /* its activation */
	const double *zero;           /* [n] share of calibration rows where the activation is
	                               * exactly 0 (NEEDS_STATS) */
	const double *taylor;         /* [n] mean over labelled rows of |a_j * dL/da_j| (NEEDS_GRAD) */
} nnp_crit_layer;

/* Writes the removal order of the layer's neurons into order[n]: order[0]
 * goes first, the last stays longest. Errors: NNP_EINPUT naming the layer. */
typedef int (*nnp_order_fn)(const nnp_crit_layer *L, size_t *order, nnp_err *err);

typedef struct nnp_criterion {
	const char *name;
	unsigned needs;               /* NNP_NEEDS_* */
	nnp_crit_kind kind;
	nnp_order_fn order;           /* NULL: structured, selects by thresholds on the
	                               * statistics (the rule); unstructured, selects single
	                               * weights (magnitude: nnp_prune_magnitude) */
	const char *help;             /* one line: which neurons (or weights) go */
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
/* 1 if the row ranks neurons (structured, with an ordering function): what
 * the method context, the allocation and the iterative loop take. */
int nnp_criterion_ranks(const nnp_criterion *c);
/* The names joined for a message: "rule, score, obs, random, l2, ...". */
const char *nnp_criteria_names(void);

/* ---- criteria computed outside the method context ---------------------- */

typedef enum nnp_mag_scope {
	NNP_MAG_PER_LAYER = 0,   /* each layer loses round(s_l * its weights) */
	NNP_MAG_GLOBAL = 1,      /* round(s * all weights), ranked across layers */
	NNP_MAG_HIDDEN = 2       /* the output layer dense, the others per layer at
	                          * nnp_mag_hidden_share (s of all the weights) */
} nnp_mag_scope;

/* "layer", "global" or "hidden" (NULL for any other value). */
const char *nnp_mag_scope_name(int scope);
/* The scope of that name into *out: 0, or -1 for any other name (or NULL). */
int nnp_mag_scope_parse(const char *name, nnp_mag_scope *out);

/*
 * The hidden scope's rule (Gale et al.'s "uniform+" without its dense first
 * layer): the output layer keeps every weight and every other layer loses
 * the same share of its own weights, *share = s * W / (W - W_out) (W all the
 * weights, W_out the output layer's), so that about s of all the weights go
 * (each layer rounds its own count as the per-layer scope does).
 * Errors: NNP_EUSAGE (s outside [0, 1]; *share above 1: s more than the
 * weights outside the output layer; a model without hidden layer).
 */
int nnp_mag_hidden_share(const nnp_model *m, double s, double *share, nnp_err *err);

/*
 * Unstructured magnitude pruning (the `magnitude` row): a copy of m with the
 * smallest |w| set to +0.0. sparsity[0..n_sparsity): one share in [0, 1]
 * (every layer, the whole model with NNP_MAG_GLOBAL, all the weights but
 * the output layer's with NNP_MAG_HIDDEN) or, per layer only,
 * one per layer (m->n_layers). round(share * weights) are removed, halves to
 * even (as torch.nn.utils.prune rounds its amount); ties in |w| go in the
 * order (layer, row, column). Biases are never pruned. The output layer is
 * pruned like any other (in the global scope it competes with the hidden
 * layers' weights, as in torch's global_unstructured): nothing is removed
 * structurally, every class keeps its bias; to spare it, give per-layer
 * shares with 0 last. Weights already zero count as removed first: the
 * share is that of zeros afterwards. The copy is a sparse model: saved, each
 * layer is written in CSR where that is smaller (bin v2, JSON weights_csr),
 * and the forward engine runs its sparse layers through nnp_sparse. *removed
 * (may be NULL) receives the weights selected. The caller owns *out.
 * Errors: NNP_EUSAGE (a share outside [0, 1], n_sparsity neither 1 nor the
 * layer count, per-layer shares with the global or hidden scope, a hidden
 * share above nnp_mag_hidden_share's limit), NNP_ENOMEM.
 */
int nnp_prune_magnitude(const nnp_model *m, const double *sparsity, size_t n_sparsity,
                        nnp_mag_scope scope, nnp_model **out, size_t *removed, nnp_err *err);

/*
 * The first-order Taylor importance of every hidden neuron (the `taylor`
 * row; Molchanov et al. 2017): scores[h][j] = mean over the labelled rows of
 * |a_j * dloss/da_j|, a_j neuron j's output in hidden layer h and the loss
 * that row's own (cross-entropy for softmax or logits outputs, else the mean
 * squared error against the one-hot label: nnp_backprop_loss). One
 * forward/backward pass through the shared engine (nnprune/backprop.h) over
 * blocks of `batch` rows (0: 256) on `threads` threads (0: all cores), the
 * blocks' sums added in block order: the same bits for any thread count.
 * scores[h] has m->layers[h].out doubles, h < m->n_layers - 1.
 * Errors: NNP_EINPUT (no rows, no labels, a label out of range, a feature
 * count not the model's, non-finite scores), NNP_EUSAGE (no hidden layer,
 * options), NNP_ENOMEM.
 */
int nnp_taylor_scores(const nnp_model *m, const nnp_dataset *d, unsigned threads,
                      size_t batch, double *const *scores, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
