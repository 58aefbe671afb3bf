/*
 * nnprune (private): layer-at-a-time access to a forward workspace, for core
 * modules that want to look at each layer's output while it is in cache.
 */
#ifndef NNPRUNE_FORWARD_PRIV_H
#define NNPRUNE_FORWARD_PRIV_H

#include <stddef.h>
#include "nnprune/forward.h"

/*
 * Hot loops marked NNP_VEC_CLONES are compiled twice, for AVX2 and for the
 * baseline, and the loader picks the one the CPU runs (GCC's ifunc-based
 * function multiversioning). The build targets plain x86-64, whose vectors
 * hold 4 floats or 2 doubles; AVX2 doubles that. AVX2 does not bring FMA, so
 * both clones do the same roundings in the same order: identical results.
 */
#ifndef NNP_VEC_CLONES
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
	!defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define NNP_VEC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NNP_VEC_CLONES
#endif
#endif

/*
 * Runs layer l alone: its input is x when l == 0, else layer l-1's output
 * from the previous step (x is then ignored). Returns layer l's output
 * [rows][out_l], borrowed as with nnp_forward_layer; NULL if l is out of
 * range. nnp_forward_run is this for every layer in turn.
 */
const float *nnp_forward_step(nnp_forward *f, size_t l, const float *x, size_t rows);

/* Index of the first maximum of o[0..n). */
size_t nnp_argmax(const float *o, size_t n);

#endif
