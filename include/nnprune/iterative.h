/*
 * nnprune: pruning by an importance ranking with a stopping condition.
 *
 * Starting from the given model, every step removes the least important
 * neurons under a ranking criterion of the table (include/nnprune/criteria.h:
 * score, obs, random, l2, apoz, taylor, ...), with the method's compensation
 * (none, fold, ls), then re-scores the network as it now is: each step is a
 * method context (include/nnprune/method.h) over the current model and the
 * calibration rows. A step removes `step` neurons, or `step_percent` % of the
 * hidden neurons remaining (at least one). Within a layer the criterion's
 * order says which neuron goes; across layers, since most criteria's scores
 * are not on one scale from layer to layer, a step is shared among the layers
 * in proportion to the neurons each has above the minimum (largest
 * remainders, ties to the lower layer): one neuron at a time, it goes from
 * the layer with the most to spare.
 *
 * The loop stops at the first of the conditions given:
 *   until_drop     the accuracy on the held-out rows fell more than this many
 *                  points below the given model's (the held-out rows are the
 *                  caller's: never those a report judges the result on);
 *   target         the parameters are at most target_params (or target_percent
 *                  % of the given model's);
 *   min_neurons    no layer has a neuron above the minimum left to remove;
 *   max_steps      that many steps were taken.
 * It returns the last model that met the conditions (for until_drop, the one
 * before the step that broke it) and the trace of every step taken.
 *
 * Results do not depend on the thread count: the method's passes and the
 * evaluation add fixed blocks of rows in block order.
 */
#ifndef NNPRUNE_ITERATIVE_H
#define NNPRUNE_ITERATIVE_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/nnp.h"
#include "nnprune/model.h"
#include "nnprune/data.h"
#include "nnprune/method.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nnp_iter_stop {
	NNP_ITER_RUNNING = 0,
	NNP_ITER_DROP = 1,         /* the accuracy drop went over until_drop */
	NNP_ITER_TARGET = 2,       /* the parameter target was reached */
	NNP_ITER_MIN_NEURONS = 3,  /* every layer is at its minimum */
	NNP_ITER_MAX_STEPS = 4     /* max_steps were taken */
} nnp_iter_stop;

/* "drop", "target", "min-neurons", "max-steps"; "running"; NULL if unknown. */
const char *nnp_iter_stop_name(nnp_iter_stop s);

typedef struct nnp_iter_trace {
	size_t n_hidden;      /* hidden layers */
	size_t n;             /* rows: row 0 is the given model, row s after step s */
	size_t *neurons;      /* [n][n_hidden] */
	size_t *params;       /* [n] */
	double *accuracy;     /* [n] on the held-out rows in [0, 1]; NaN without them */
	uint64_t *correct;    /* [n] rows right */
	uint64_t rows;        /* held-out rows (0 without them) */
	size_t kept;          /* the row of the model returned */
	nnp_iter_stop stop;   /* why the loop stopped */
	size_t cap;           /* rows allocated */
	size_t finetune_every; /* the option the loop ran with (0: never fine-tuned) */
	unsigned char *finetuned; /* [n] 1: the finetune hook ran after that step's pruning
	                           * (before its accuracy was measured) */
} nnp_iter_trace;

/* May replace *m (freeing the old one) or change it in place; step is the
 * step just taken. Errors stop the loop and are returned as they are. */
typedef int (*nnp_iter_finetune_fn)(void *ctx, nnp_model **m, size_t step, nnp_err *err);
/* Called after every step with the trace so far (its last row the step). */
typedef void (*nnp_iter_progress_fn)(void *ctx, const nnp_iter_trace *t);

typedef struct nnp_iter_opts {
	nnp_method_opts method;       /* a ranking criterion, compensation, threads, batch */
	size_t step;                  /* neurons removed per step (0: see step_percent) */
	double step_percent;          /* or this % of the hidden neurons remaining, at
	                               * least 1 (0 with step 0: one neuron a step) */
	double until_drop;            /* points of accuracy; NaN or < 0: off */
	size_t target_params;         /* 0: off */
	double target_percent;        /* % of the given model's parameters; 0: off */
	size_t min_neurons;           /* per hidden layer; 0 means 1 */
	size_t max_steps;             /* 0: no limit */
	size_t finetune_every;        /* call finetune after every K-th step; 0: never */
	nnp_iter_finetune_fn finetune;
	void *finetune_ctx;
	nnp_iter_progress_fn progress;
	void *progress_ctx;
} nnp_iter_opts;

#define NNP_ITER_OPTS_INIT                                                               \
	{ NNP_METHOD_OPTS_INIT, 0, 0.0, -1.0, 0, 0.0, 1, 0, 0, NULL, NULL, NULL, NULL }

/*
 * Runs the loop on model m: calibration rows calib (labelled for criteria
 * that need labels) for the scores and compensation, held-out rows held
 * (labelled; required with until_drop, else may be NULL) for the accuracy.
 * *out: the last model that met the conditions (the given one if the first
 * step already broke them), with m's metadata; *trace (may be NULL) the
 * trace (nnp_iter_trace_free). The caller owns both.
 * Errors: NNP_EUSAGE (options: a criterion that does not rank neurons, a
 * step percent outside [0, 100], until_drop without held-out rows, ...),
 * NNP_EINPUT (rows: as the method context and the evaluation), the
 * fine-tuning hook's, NNP_ENOMEM.
 */
int nnp_prune_iterative(const nnp_model *m, const nnp_dataset *calib, const nnp_dataset *held,
                        const nnp_iter_opts *o, nnp_model **out, nnp_iter_trace **trace,
                        nnp_err *err);
void nnp_iter_trace_free(nnp_iter_trace *t);

/*
 * The trace as CSV text (caller frees *text): a header
 * "step,params,accuracy,neurons_0,...,neurons_{H-1}" (and ",finetuned" when
 * the loop ran with finetune_every: 1 on the rows fine-tuned, else 0), one
 * line per row (accuracy as %.6f, empty without held-out rows).
 * Errors: NNP_ENOMEM.
 */
int nnp_iter_trace_csv(const nnp_iter_trace *t, char **text, size_t *len, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
