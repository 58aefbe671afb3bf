/*
 * nnprune: output-aware pruning with reconstruction and per-layer allocation.
 *
 * Hidden layers are pruned one at a time, front to back. For hidden layer l
 * (width n, next layer width m) one streaming pass over the calibration rows
 * runs the network pruned so far and accumulates, in double: the mean and
 * covariance C (n x n) of layer l's activations h', the mean of the ORIGINAL
 * network's next pre-activations z = W_{l+1} h + b_{l+1}, and the cross-
 * covariance X = Cov(h', z) (n x m). Memory is O(n^2 + n m): it does not grow
 * with the number of calibration rows. From these:
 *
 *   selection (which k of the n neurons stay)
 *     rule   the kept sets are given (nnp_keep_rule's thresholds);
 *     score  s_j = std_j * ||W_{l+1}[:, j]||_2, the k largest stay
 *            (ties: the lower index stays);
 *     obs    greedy backward elimination: with P = (C + lambda I)^-1 and the
 *            refit B = P X, removing input j raises the refit's squared error
 *            (ridge term included) by ||B_j||^2 / P_jj; the cheapest goes, P
 *            and B get a rank-one update (Optimal Brain Surgeon), repeat. One
 *            run orders the whole layer, so every budget reuses it.
 *   compensation (what layer l+1 becomes over the kept inputs K)
 *     none   W_{l+1}[:, K], b_{l+1} unchanged;
 *     fold   b_{l+1} += sum over removed j of mean_j W_{l+1}[:, j], with the
 *            means measured in the network pruned so far;
 *     ls     ridge refit so that W' h'_K + b' matches the original z:
 *            W'^T = (C_KK + lambda I)^-1 X_K, b' = mean(z) - W' mean(h'_K),
 *            lambda = lambda_rel * trace(C) / n, C being the covariance of
 *            all n activations of layer l in the network pruned so far (the
 *            same lambda the obs selection uses, so its estimates are exact
 *            for the refit). Solved by our Cholesky in double; should the
 *            factorisation fail on round-off, lambda is raised tenfold and
 *            tried again (at most 12 times).
 *   A layer that keeps all its neurons is left exactly as it was.
 *   For an unstructured method (magnitude, single weights zeroed), ls refits
 *   each neuron's surviving incoming weights the same way (nnp_method_ctx_refit).
 *
 * Allocation: for each hidden layer alone and each fraction of a grid, the
 * layer is pruned (same method and compensation) and the mean KL divergence
 * KL(p_original || p_pruned) of the softmax outputs over the calibration
 * rows is measured (mean squared difference of the outputs for a model whose
 * last layer is not softmax). A greedy path then starts with every layer
 * whole and repeatedly lowers the layer whose next grid step costs the least
 * sensitivity per parameter saved; each step is one candidate.
 *
 * Results do not depend on the thread count: rows are cut into fixed batches
 * whose partial sums are added in batch order.
 */
#ifndef NNPRUNE_METHOD_H
#define NNPRUNE_METHOD_H

#include <stddef.h>
#include "nnprune/nnp.h"
#include "nnprune/model.h"
#include "nnprune/data.h"
#include "nnprune/io.h"
#include "nnprune/parallel.h"
#include "nnprune/prune.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A method is a row of the criteria table (include/nnprune/criteria.h); these
 * are its first rows. */
typedef enum nnp_method { NNP_METHOD_RULE = 0, NNP_METHOD_SCORE = 1, NNP_METHOD_OBS = 2 } nnp_method;

typedef struct nnp_method_opts nnp_method_opts;

typedef enum nnp_compensate {
	NNP_COMP_NONE = 0,
	NNP_COMP_FOLD = 1,
	NNP_COMP_LS = 2
} nnp_compensate;

/* The criterion's name ("rule", "score", ...); NULL for an unknown value. */
const char *nnp_method_name(nnp_method m);
/* Parses a criterion's name; 0 on success, -1 if unknown. */
int nnp_method_parse(const char *name, nnp_method *out);
/* 1 if the method selects by thresholds on the statistics (the rule), not by
 * an order over a budget. */
int nnp_method_by_thresholds(nnp_method m);
/* 1 if the method or the compensation solves a ridge (lambda applies, and
 * the context gathers covariances). */
int nnp_method_uses_ridge(const nnp_method_opts *o);
/* "none", "fold", "ls"; NULL for an unknown value. */
const char *nnp_compensate_name(nnp_compensate c);
/* Parses a compensation name; 0 on success, -1 if unknown. */
int nnp_compensate_parse(const char *name, nnp_compensate *out);

#define NNP_METHOD_LAMBDA_REL 1e-3
#define NNP_METHOD_BATCH 256u
#define NNP_METHOD_GRID_STEP 0.05
/* Caps checked by nnp_method_check_opts and the context. */
#define NNP_METHOD_MAX_THREADS NNP_MAX_THREADS
#define NNP_METHOD_MAX_BATCH (1u << 16)
/* Widest layer the method handles: its covariance is width^2 doubles. */
#define NNP_METHOD_MAX_WIDTH 8192u

struct nnp_method_opts {
	nnp_method method;          /* default score */
	nnp_compensate compensate;  /* default ls */
	double lambda_rel;          /* ridge strength relative to trace(C)/n; finite, > 0 */
	unsigned threads;           /* 0 = all cores */
	size_t batch;               /* rows per batch, 0 = NNP_METHOD_BATCH; fixes the sums' order */
	double grid_step;           /* allocation fractions step, 2*step, ..., 1; in (0, 0.5] */
};

#define NNP_METHOD_OPTS_INIT \
	{ NNP_METHOD_SCORE, NNP_COMP_LS, NNP_METHOD_LAMBDA_REL, 0, 0, NNP_METHOD_GRID_STEP }

/* Checks the options. Errors: NNP_EUSAGE naming the option, its value and the range. */
int nnp_method_check_opts(const nnp_method_opts *o, nnp_err *err);

/*
 * Per-hidden-layer counts for keeping the fraction `keep` (in (0, 1]) of each
 * hidden layer: round(keep * width), at least 1. counts has one entry per
 * hidden layer (m->n_layers - 1). Errors: NNP_EUSAGE for keep outside (0, 1].
 */
int nnp_method_counts(const nnp_model *m, double keep, size_t *counts, nnp_err *err);

/* Parameters (weights + biases) of m with hidden layer l cut to counts[l]. */
size_t nnp_method_params(const nnp_model *m, const size_t *counts);

/*
 * A pruning context: the model and calibration rows (both borrowed; they must
 * outlive it), the options, the per-thread workspaces, and per-layer caches of
 * statistics and elimination orders, so that the candidates of a sweep share
 * work (the first hidden layer's statistics and order are computed once; a
 * candidate that changes only later layers reuses the earlier ones). Not to be
 * used from two threads at once. Makes BLAS single-threaded (our threads run
 * fixed batches). The caller owns *out (nnp_method_ctx_free).
 * Errors: NNP_EUSAGE (options, no hidden layer, a layer wider than
 * NNP_METHOD_MAX_WIDTH), NNP_EINPUT (empty calibration set, feature count not
 * the model's input size), NNP_ENOMEM.
 */
typedef struct nnp_method_ctx nnp_method_ctx;

int nnp_method_ctx_create(nnp_method_ctx **out, const nnp_model *m, const nnp_dataset *calib,
                          const nnp_method_opts *o, nnp_err *err);

/* Calibration rows read from a file at every pass. */
typedef struct nnp_calib_stream {
	const char *path;
	const nnp_data_opts *opts;    /* reader options; max_rows limits the rows */
	uint64_t rows;                /* the rows, if the caller counted them; 0: count here */
	const nnp_file_stamp *stamp;  /* the file's version they were counted on; NULL: now */
} nnp_calib_stream;

/* Rows a streamed pass holds at most, in bytes (whole batches, at least one). */
#define NNP_METHOD_CHUNK_BYTES ((size_t)16 << 20)

/*
 * The same over calibration rows streamed from a file instead of held in
 * memory (s and what it points to are borrowed: they must outlive the
 * context): every pass reads the file again, whole batches at a time (at most
 * NNP_METHOD_CHUNK_BYTES of rows), so the memory does not depend on the number
 * of rows, and the results are the same bits as with the rows in memory.
 * Without s->rows the file is read through once here (a bad row is an error
 * before any work). The file must not change afterwards: every pass checks
 * its stamp and its row count. Errors: as nnp_method_ctx_create, the
 * reader's, NNP_EINPUT for a file that changed.
 */
int nnp_method_ctx_create_stream(nnp_method_ctx **out, const nnp_model *m,
                                 const nnp_calib_stream *s, const nnp_method_opts *o,
                                 nnp_err *err);

/* Calibration rows the context computes on. */
size_t nnp_method_ctx_rows(const nnp_method_ctx *c);
void nnp_method_ctx_free(nnp_method_ctx *c);

/*
 * Prunes hidden layer l to counts[l] neurons (1..width; one entry per hidden
 * layer) with the context's method (score or obs) and compensation. *out is a
 * physically smaller model with m's metadata (caller owns). kept, if not NULL,
 * receives the original indices that stay (caller owns: nnp_keep_free).
 * Errors: NNP_EUSAGE (method rule, a count out of range), NNP_EINPUT
 * (non-finite activations on the calibration rows), NNP_ENOMEM.
 */
int nnp_method_ctx_prune(nnp_method_ctx *c, const size_t *counts, nnp_model **out,
                         nnp_keep **kept, nnp_err *err);

/*
 * Same with the kept sets given (e.g. by nnp_keep_rule: the rule method); only
 * the context's compensation applies. Errors as nnp_method_ctx_prune.
 */
int nnp_method_ctx_prune_keep(nnp_method_ctx *c, const nnp_keep *k, nnp_model **out,
                              nnp_err *err);

/*
 * Unstructured compensation: a context created with an unstructured method
 * (magnitude) and compensation ls refits the surviving weights of a sparse
 * copy of its model (same layers, the removed weights exactly zero). Layer
 * by layer, front to back, with h' the inputs of layer l in the network
 * refit so far (the rows themselves, after layer 0's preprocessing, for
 * layer 0) and z_i the ORIGINAL pre-activation of its output i, every
 * output i that lost weights gets, over its nonzero weights K_i:
 *   w_i = (C_KK + lambda I)^-1 Cov(h'_K, z_i),  b_i = mean(z_i) - w_i mean(h'_K),
 * C and lambda as the structured ls computes them for that layer's inputs.
 * Zeros stay zero. An output keeps its weights if the refit would not lower
 * its calibration error (which the ridge term can cause, barely), or if it
 * lost none. The rows' statistics are computed once per context, each
 * later layer's by one pass per call. *out (caller owns) is pruned with the
 * refit weights. Errors: NNP_EUSAGE (a structured context, a model of
 * another shape), NNP_EINPUT (no factorisation, non-finite results), the
 * reader's (streamed rows), NNP_ENOMEM.
 */
int nnp_method_ctx_refit(nnp_method_ctx *c, const nnp_model *pruned, nnp_model **out,
                         nnp_err *err);

/* The allocation: sensitivity curves and the greedy path over them. */
typedef struct nnp_alloc {
	size_t n_layers;      /* hidden layers */
	size_t n_grid;        /* fractions per curve */
	double *fraction;     /* [n_grid] ascending, the last is 1 */
	size_t *grid_count;   /* [n_layers][n_grid] neurons kept at each fraction */
	double *sens;         /* [n_layers][n_grid] mean KL (or MSE) with only that layer pruned */
	size_t n;             /* steps of the path (the whole model is not one of them) */
	size_t *counts;       /* [n][n_layers] each step's kept counts, never increasing */
	size_t *params;       /* [n] parameters, strictly decreasing */
	double *cost;         /* [n] sum of the layers' sensitivities at that step */
} nnp_alloc;

/*
 * Measures the sensitivity curves on the calibration rows with the context's
 * method (score or obs) and compensation, and builds the path. The caller owns
 * *out (nnp_alloc_free). Errors: NNP_EUSAGE (method rule), NNP_EINPUT, NNP_ENOMEM.
 */
int nnp_method_ctx_allocate(nnp_method_ctx *c, nnp_alloc **out, nnp_err *err);
void nnp_alloc_free(nnp_alloc *a);

#define NNP_ALLOC_NONE ((size_t)-1)

/* Index of the first path step with params <= max_params, or NNP_ALLOC_NONE. */
size_t nnp_alloc_pick(const nnp_alloc *a, size_t max_params);

/*
 * One-shot forms: a context for one call. keep_counts as in
 * nnp_method_ctx_prune; kept may be NULL.
 */
int nnp_method_prune(nnp_model **out, const nnp_model *m, const nnp_dataset *calib,
                     const nnp_method_opts *o, const size_t *keep_counts, nnp_keep **kept,
                     nnp_err *err);
int nnp_method_allocate(nnp_alloc **out, const nnp_model *m, const nnp_dataset *calib,
                        const nnp_method_opts *o, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
