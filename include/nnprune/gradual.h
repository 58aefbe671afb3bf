/*
 * nnprune: gradual pruning during fine-tuning, following the cubic sparsity
 * schedule of Zhu & Gupta ("To prune, or not to prune", 2017):
 *
 *     s_t = s_f + (s_i - s_f) (1 - t/T)^3,  t = 0..T,
 *
 * written here for the budget that stays (weights or parameters), which the
 * same formula moves from b_0 = the model's to b_T = the target: large cuts
 * early while the network can still recover, small ones at the end.
 *
 * nnp_gradual_run cuts the training rows into T contiguous parts; step t
 * (1..T) prunes the model to budget b_t and fine-tunes it for
 * train.epochs epochs on part t with the mask fixed (so the whole run trains
 * train.epochs passes over the data). Unstructured steps zero weights by
 * magnitude (a mask: pruned weights exactly 0 through the rest of the run);
 * structured steps remove neurons with any criterion of the table that
 * orders neurons (score, obs, ...), through a pruning context
 * (include/nnprune/method.h) on the calibration rows and the context's
 * compensation, each hidden layer keeping the same share of its neurons
 * (or, given final widths, the same share of the neurons it is to lose).
 * The last step's budget is the target itself.
 */
#ifndef NNPRUNE_GRADUAL_H
#define NNPRUNE_GRADUAL_H

#include <stddef.h>
#include "nnprune/nnp.h"
#include "nnprune/criteria.h"
#include "nnprune/data.h"
#include "nnprune/method.h"
#include "nnprune/model.h"
#include "nnprune/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NNP_GRADUAL_MAX_STEPS 1000u
#define NNP_GRADUAL_STEPS 4u

/*
 * The budget after step t of T (0 <= t <= T, T >= 1) going from b0 to bT
 * (bT <= b0): bT + (b0 - bT) (1 - t/T)^3 rounded to the nearest integer
 * (halves up), so b(0) = b0 and b(T) = bT exactly, never increasing in t.
 * t > T gives bT.
 */
size_t nnp_gradual_budget(size_t b0, size_t bT, size_t t, size_t T);

typedef struct nnp_gradual_opts {
	nnp_train_opts train;       /* the fine-tuning of every step (epochs per step, over
	                               its part of the rows); mask must be NULL */
	size_t steps;               /* T in 1..NNP_GRADUAL_MAX_STEPS */
	size_t target;              /* unstructured: weights kept; structured: parameters */
	int structured;             /* 0: magnitude; 1: neurons by method.method */
	nnp_mag_scope scope;        /* magnitude: per layer, one ranking over all layers, or
	                               the output layer dense (criteria.h) */
	nnp_method_opts method;     /* structured: criterion (not the rule), compensation */
	const nnp_dataset *calib;   /* structured: calibration rows (labels unused) */
	const size_t *widths;       /* structured, may be NULL: the hidden widths to end at
	                               (one per hidden layer, none above m's); the target is
	                               then their parameter count and every step removes the
	                               same share of each layer's neurons still to go */
} nnp_gradual_opts;

/* What each step did. */
typedef struct nnp_gradual_step {
	size_t step;                /* 1..T */
	size_t budget;              /* b_t */
	size_t weights;             /* nonzero weights after the step's pruning */
	size_t params;              /* parameters after it */
	double accuracy;            /* on val after the step's fine-tuning; NAN without val */
} nnp_gradual_step;

typedef struct nnp_gradual_report {
	size_t n;
	nnp_gradual_step *s;        /* [n], owned: free() */
	nnp_train_report last;      /* the last step's fine-tuning */
} nnp_gradual_report;

/*
 * Prunes a copy of m (borrowed) to o->target in o->steps steps while
 * fine-tuning on train (val, may be NULL, scores each step). *out is the
 * result (caller owns): unstructured, m's shape with exactly o->target
 * nonzero-able weights (the others exactly 0); structured, a smaller model
 * with at most o->target parameters. rep (may be NULL) receives the steps
 * (free rep->s). The fine-tuning reads m as a saved model (model_takes_raw
 * is set; input_scale as given).
 * Errors: NNP_EUSAGE (options, a target above the model's budget or
 * unreachable, fewer training rows than steps), nnp_train's, the pruning
 * context's, NNP_ENOMEM.
 */
int nnp_gradual_run(nnp_model **out, const nnp_model *m, const nnp_dataset *train,
                    const nnp_dataset *val, const nnp_gradual_opts *o, nnp_gradual_report *rep,
                    nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
