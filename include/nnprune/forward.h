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

/* y[rows][L->out] = x'[rows][L->in] * W^T + b (no activation), x' being x
 * through the layer's input preprocessing when it has one (layer 0). */
void nnp_dense(const nnp_layer *L, const float *x, size_t rows, float *y);

/* Applies an activation in place to z[rows][n]; softmax is taken row by row. */
void nnp_activate(nnp_act act, float alpha, float *z, size_t rows, size_t n);

/*
 * A layer's weights in compressed sparse rows: row o's entries are
 * row_ptr[o] .. row_ptr[o+1]-1, with increasing columns. The forward engine
 * keeps such a copy of every layer with at least NNP_SPARSE_MIN_OUTPUTS
 * outputs whose share of nonzero weights is at most NNP_SPARSE_MAX_DENSITY,
 * and runs it through nnp_sparse instead of sgemm. `nnprune bench` measures
 * the crossover; on the 2-core AMD EPYC these were set on, 256-row batches,
 * sparse won below a density of 0.27 to 0.43 on layers of 128 to 512
 * outputs, and never on a 10-output layer (the batch's transposition costs
 * more than the small product).
 */
typedef struct nnp_csr {
	size_t in, out, nnz;
	uint32_t *row_ptr;   /* [out + 1] */
	uint32_t *cols;      /* [nnz] */
	float *vals;         /* [nnz] */
	const float *b;      /* [out] the layer's bias, borrowed */
} nnp_csr;

#define NNP_SPARSE_MAX_DENSITY 0.25
#define NNP_SPARSE_MIN_OUTPUTS 64

/* Builds the CSR copy of a layer's nonzero weights (the layer must outlive
 * it: the bias is borrowed). The caller owns *out. Errors: NNP_ENOMEM. */
int nnp_csr_from_layer(nnp_csr **out, const nnp_layer *L, nnp_err *err);
void nnp_csr_free(nnp_csr *c);

/* Floats of scratch nnp_sparse needs for a layer with `in` inputs (any rows). */
size_t nnp_sparse_scratch(size_t in);

/*
 * y[rows][c->out] = x[rows][c->in] * W^T + b, W sparse, like nnp_dense. Each
 * output is the bias plus the products in the row's column order, whatever
 * the rows and their count: deterministic, and within rounding of nnp_dense.
 */
void nnp_sparse(const nnp_csr *c, const float *x, size_t rows, float *y, float *scratch);

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

/* How many of the model's layers the workspace runs through nnp_sparse. */
size_t nnp_forward_sparse_layers(const nnp_forward *f);

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
/* out_act of nnp_metrics_add for outputs read as logits (nnp_model_logits):
 * scored with softmax cross-entropy computed from them, and argmax. */
#define NNP_SCORE_LOGITS ((nnp_act)NNP_ACT_COUNT)
/* How a model's outputs are scored: NNP_SCORE_LOGITS or its last activation. */
nnp_act nnp_score_kind(const nnp_model *m);

void nnp_metrics_add(nnp_metrics *mt, nnp_act out_act, const float *out, size_t rows,
                     size_t n_out, const int32_t *labels, int32_t *pred, uint64_t *confusion);

/*
 * Makes the BLAS library single-threaded: nnprune runs its own threads over
 * fixed-size batches, so results do not depend on the thread count. With
 * OpenBLAS it also stops OpenBLAS's own thread pool, whose idle threads
 * would otherwise spin beside ours (the CLI calls this first thing).
 */
void nnp_blas_single_thread(void);

#ifdef __cplusplus
}
#endif
#endif
