/*
 * nnprune (private): a test hook into the sweep engine.
 */
#ifndef NNPRUNE_SWEEP_PRIV_H
#define NNPRUNE_SWEEP_PRIV_H

#include <stddef.h>
#include "nnprune/sweep.h"

/*
 * nnp_sweep_run with at most max_chunk_blocks blocks of rows per chunk (0:
 * the engine's own choice). Results must not depend on it; tests use small
 * chunks to cover the merging across chunks on small data.
 */
int nnp_sweep_run_chunked(nnp_sweep **out, const nnp_model *m, const nnp_stats *s,
                          const nnp_dataset *d, const nnp_sweep_opts *o,
                          size_t max_chunk_blocks, nnp_err *err);

#endif
