/*
 * nnprune: evaluating models that are already built (by the pruning methods,
 * or any other way) against the original they came from.
 *
 * Every model runs on the same rows: accuracy and loss against the labels,
 * and agreement, the share of rows whose prediction (argmax, first maximum
 * wins) equals the original's. Rows are cut into fixed-size blocks; each
 * (model, block) is scored on its own and the blocks are added in order, so
 * the results are bit-identical for any thread count, and equal those of
 * nnp_forward_run + nnp_metrics_add over the same blocks.
 */
#ifndef NNPRUNE_EVALUATE_H
#define NNPRUNE_EVALUATE_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/nnp.h"
#include "nnprune/model.h"
#include "nnprune/data.h"
#include "nnprune/parallel.h"
#include "nnprune/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NNP_EVAL_BLOCK 256u          /* default rows per block */
#define NNP_EVAL_MAX_BLOCK (1u << 16)
#define NNP_EVAL_MAX_THREADS NNP_MAX_THREADS

typedef struct nnp_eval_opts {
	unsigned threads;    /* 0 = all cores */
	size_t block;        /* rows per block, 0 = NNP_EVAL_BLOCK; fixes the sums' order */
} nnp_eval_opts;

#define NNP_EVAL_OPTS_INIT { 0, 0 }

/*
 * Evaluates the original m and the n candidates models[0..n) on the rows of d
 * (labelled or not; without labels accuracy, loss and drops are 0). For each
 * candidate c[i] with same_as == NNP_NO_DUP, models[i] is run; for the others
 * models[i] is ignored (it may be NULL) and c[i] receives the figures of
 * c[same_as], which must be an earlier distinct candidate.
 * Fills, in *orig and every c[i]: params, bytes (params as float32), macs,
 * accuracy, loss, agreement, accuracy_drop (points, from the correct counts,
 * so 95 against 94 correct of 100 is exactly 1), reduction (% of m's
 * parameters removed) and pareto (among the original and the distinct
 * candidates: 1 iff no other is both smaller and at least as accurate, as in
 * nnp_sweep_run). Every other field is left as it was. *rows (may be NULL)
 * receives the rows evaluated.
 * Errors: NNP_EUSAGE (options, a duplicate pointing forward or to another
 * duplicate, a NULL model), NNP_EINPUT (no rows, a feature count or a model's
 * input or output size not m's, a label outside [0, outputs)), NNP_ENOMEM.
 */
int nnp_evaluate_models(const nnp_model *m, const nnp_model *const *models, nnp_candidate *c,
                        size_t n, const nnp_dataset *d, const nnp_eval_opts *o,
                        nnp_candidate *orig, uint64_t *rows, nnp_err *err);

/*
 * The same with the rows read from a file (never held whole: chunks of
 * blocks, as nnp_sweep_run streams), with the reader options dopts (NULL:
 * defaults; the feature count is checked against m). Results are identical
 * to nnp_evaluate_models on the same rows loaded in memory.
 * Errors: as nnp_evaluate_models, and the reader's.
 */
int nnp_evaluate_models_file(const nnp_model *m, const nnp_model *const *models,
                             nnp_candidate *c, size_t n, const char *path,
                             const nnp_data_opts *dopts, const nnp_eval_opts *o,
                             nnp_candidate *orig, uint64_t *rows, nnp_err *err);

/*
 * Evaluates a sweep whose candidates were built outside nnp_sweep_run:
 * sw->c[0..sw->n) with their same_as set and sw->models[i] for the distinct
 * ones. Fills the figures as above, sw->original, sw->rows and sw->n_unique.
 * d NULL: rows streamed from path with dopts. Errors: as above.
 */
int nnp_sweep_evaluate(nnp_sweep *sw, const nnp_model *m, const nnp_dataset *d,
                       const char *path, const nnp_data_opts *dopts, const nnp_eval_opts *o,
                       nnp_err *err);

/*
 * Marks every candidate whose kept set an earlier one has: c[i].same_as is
 * the first such index, else NNP_NO_DUP. Every c[i].keep must be set.
 * *n_unique (may be NULL) receives the number of distinct kept sets.
 * Errors: NNP_EUSAGE (a candidate without a kept set), NNP_ENOMEM.
 */
int nnp_candidates_dedupe(nnp_candidate *c, size_t n, size_t *n_unique, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
