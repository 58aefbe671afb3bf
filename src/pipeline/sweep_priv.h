/*
 * nnprune (private): a test hook into the sweep engine, and the pieces the
 * sweep (sweep.c) and the evaluation of built models (sweep_models.c) share.
 */
#ifndef NNPRUNE_SWEEP_PRIV_H
#define NNPRUNE_SWEEP_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/forward.h"
#include "nnprune/model.h"
#include "nnprune/sweep.h"

/*
 * nnp_sweep_run with at most max_chunk_blocks blocks of rows per chunk (0:
 * the engine's own choice). Results must not depend on it; tests use small
 * chunks to cover the merging across chunks on small data.
 */
int nnp_sweep_run_chunked(nnp_sweep **out, const nnp_model *m, const nnp_stats *s,
                          const nnp_dataset *d, const nnp_sweep_opts *o,
                          size_t max_chunk_blocks, nnp_err *err);

/* What one block scored for one model: its metrics and the rows whose
 * prediction equals the original's. */
typedef struct nnp_sweep_slot {
	nnp_metrics mt;
	uint64_t agree;
} nnp_sweep_slot;

/* The chunk of rows an evaluation engine is working on, cut in blocks of
 * block rows (block set once by the engine; the rest by nnp_sweep_chunk_set). */
typedef struct nnp_sweep_chunk {
	const float *x;       /* [rows][input_size] */
	const int32_t *y;     /* [rows] labels, or NULL */
	size_t rows, block, nblocks;
} nnp_sweep_chunk;

/* Points ch at rows x (labels y, or NULL) and counts its blocks. */
void nnp_sweep_chunk_set(nnp_sweep_chunk *ch, const float *x, const int32_t *y, size_t rows);

/* The rows of block b of ch: block, or fewer for the last. */
size_t nnp_sweep_chunk_rows(const nnp_sweep_chunk *ch, size_t b);

/* *out = a * b; 0 (and *out untouched) if that overflows, else 1. */
int nnp_sweep_mul_ok(size_t a, size_t b, size_t *out);

/*
 * Calls chunk(ctx, x, y, rows) for every chunk of chunk_rows rows (the last
 * may hold fewer) of d, or, when d is NULL, of the file at path read with
 * dopts: whole chunks, so that blocks fall where they would in memory.
 * Labels are checked against m's outputs first. Errors: the reader's,
 * NNP_EINPUT (a label out of range, no rows), NNP_ENOMEM.
 */
int nnp_sweep_each_chunk(const nnp_model *m, const nnp_dataset *d, const char *path,
                         const nnp_data_opts *dopts, size_t chunk_rows,
                         void (*chunk)(void *ctx, const float *x, const int32_t *y, size_t rows),
                         void *ctx, nnp_err *err);

/*
 * Sets c[i].same_as to the first earlier candidate with an equal kept set,
 * NNP_NO_DUP for the first of each; *n_unique (may be NULL) receives the
 * count of the latter. Every c[i].keep must be set. Returns NNP_OK or
 * NNP_ENOMEM, recording no message: the caller names itself in it.
 */
int nnp_sweep_find_dups(nnp_candidate *c, size_t n, size_t *n_unique);

/* Adds slots[u][0..nblocks) (rows of chunk_blocks) into tot[u] for u in
 * [0, n_models), in block order so that sums never depend on the threads. */
void nnp_sweep_merge_slots(nnp_sweep_slot *tot, const nnp_sweep_slot *slots, size_t n_models,
                           size_t chunk_blocks, size_t nblocks);

/* c's params, macs and bytes (params as float32) from model p. */
void nnp_sweep_set_sizes(nnp_candidate *c, const nnp_model *p);

/* c's accuracy, loss, agreement from its totals t, accuracy_drop against the
 * original's metrics orig and reduction against its params0 (c->params set). */
void nnp_sweep_set_scores(nnp_candidate *c, const nnp_sweep_slot *t, const nnp_metrics *orig,
                          size_t params0);

#endif
