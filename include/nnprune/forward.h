/*
 * nnprune: the batched forward engine.
 *
 * Dense products go through CBLAS sgemm; activations are plain loops over
 * contiguous memory. A workspace (nnp_forward) holds every buffer one thread
 * needs for batches of up to max_rows rows; it is created once and reused, so
 * nothing is allocated inside the loop.
 */
#ifndef NNPRUNE_FORWARD_H
#define NNPRUNE_FORWARD_H

#include <stdint.h>
#include <stddef.h>
#include "nnprune/nnp.h"
#include "nnprune/model.h"
#include "nnprune/parallel.h"  /* nnp_default_threads */

#ifdef __cplusplus
extern "C" {
#endif

/* y[rows][L->out] = x[rows][L->in] * W^T + b (no activation). */
void nnp_dense(const nnp_layer *L, const float *x, size_t rows, float *y);

/* Applies an activation in place to z[rows][n]; softmax is taken row by row. */
void nnp_activate(nnp_act act, float alpha, float *z, size_t rows, size_t n);

typedef struct nnp_forward nnp_forward;

/*
 * Workspace for one thread running `m` on batches of at most max_rows rows.
 * The model is borrowed and must outlive the workspace. The caller owns *out.
 */
int nnp_forward_create(nnp_forward **out, const nnp_model *m, size_t max_rows, nnp_err *err);
void nnp_forward_free(nnp_forward *f);

/*
 * Runs rows (<= max_rows) of x [rows][input_size] through the model. Returns
 * the last layer's output [rows][outputs], borrowed from the workspace and
 * valid until the next run.
 */
const float *nnp_forward_run(nnp_forward *f, const float *x, size_t rows);

/* Layer l's post-activation output [rows][out_l] of the last run (borrowed). */
const float *nnp_forward_layer(const nnp_forward *f, size_t l);

/* What a model scores on labelled rows. loss: mean cross-entropy for softmax
 * outputs, mean squared error against the one-hot label otherwise. */
typedef struct nnp_metrics {
	uint64_t rows;       /* rows seen */
	uint64_t labelled;   /* rows with a label */
	uint64_t correct;    /* argmax == label */
	double loss_sum;     /* summed over labelled rows */
	int mse;             /* 1 if loss is MSE, 0 if cross-entropy */
	uint64_t nonfinite;  /* rows with a NaN or infinite output (activations overflowed):
	                      * their scores mean nothing, and the CLI refuses them */
} nnp_metrics;

/* Fraction in [0,1]; 0 when nothing is labelled. */
double nnp_metrics_accuracy(const nnp_metrics *mt);
/* Mean loss per labelled row; 0 when nothing is labelled. */
double nnp_metrics_loss(const nnp_metrics *mt);
/* Adds b into a. */
void nnp_metrics_merge(nnp_metrics *a, const nnp_metrics *b);

/*
 * Scores one batch of outputs out[rows][n_out] (after the output activation).
 * labels may be NULL (rows counted, nothing scored); a negative label marks
 * an unlabelled row. Cross-entropy is -ln max(p_label, 1e-12); MSE is the
 * mean over the outputs of the squared error. pred, if not NULL,
 * receives each row's argmax (first maximum wins). confusion, if not NULL, is
 * [n_out][n_out] counts indexed [label][pred].
 */
void nnp_metrics_add(nnp_metrics *mt, nnp_act out_act, const float *out, size_t rows,
                     size_t n_out, const int32_t *labels, int32_t *pred, uint64_t *confusion);

/*
 * Makes the BLAS library single-threaded: nnprune runs its own threads over
 * fixed-size batches, so results do not depend on the thread count.
 */
void nnp_blas_single_thread(void);

#ifdef __cplusplus
}
#endif
#endif
