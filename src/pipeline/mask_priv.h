/* nnprune (private): weight masks as the lottery and gradual pruning keep
 * them: one [out][in] byte array per layer, 0 = pruned. */
#ifndef NNPRUNE_MASK_PRIV_H
#define NNPRUNE_MASK_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/model.h"

/* One array per layer of m, contents undefined; NULL when out of memory. */
uint8_t **nnp_masks_alloc(const nnp_model *m);
/* Frees n layers' arrays and the table; NULL is allowed. */
void nnp_masks_free(uint8_t **mk, size_t n);
/* Weights of L that mk keeps (all of them for mk NULL). */
size_t nnp_mask_kept(const nnp_layer *L, const uint8_t *mk);

#endif
