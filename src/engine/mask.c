/* Weight masks for training with pruned weights held at zero, and rewinding
 * survivors to recorded initial values (include/nnprune/train.h). */
#include <stdlib.h>
#include <string.h>

#include "nnprune/train.h"

uint8_t **nnp_mask_of_zeros(const nnp_model *m, size_t *n_zero)
{
	size_t zeros = 0;
	uint8_t **mask = calloc(m->n_layers ? m->n_layers : 1, sizeof *mask);
	for (size_t l = 0; mask && l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		size_t n = L->in * L->out;
		if (!(mask[l] = malloc(n ? n : 1))) {
			nnp_mask_free(mask, l);
			return NULL;
		}
		for (size_t i = 0; i < n; i++) {
			mask[l][i] = L->w[i] != 0.0f;
			zeros += !mask[l][i];
		}
	}
	if (mask && n_zero)
		*n_zero = zeros;
	return mask;
}

void nnp_mask_free(uint8_t **mask, size_t n_layers)
{
	for (size_t l = 0; mask && l < n_layers; l++)
		free(mask[l]);
	free(mask);
}

void nnp_mask_apply(nnp_model *m, const uint8_t *const *mask)
{
	if (!mask)
		return;
	for (size_t l = 0; l < m->n_layers; l++) {
		const uint8_t *mk = mask[l];
		nnp_layer *L = &m->layers[l];
		size_t n = L->in * L->out;
		if (!mk)
			continue;
		for (size_t i = 0; i < n; i++)
			if (!mk[i])
				L->w[i] = 0.0f;
	}
}

int nnp_model_rewind(nnp_model *m, const nnp_model *init, const uint8_t *const *mask,
                     nnp_err *err)
{
	if (m->n_layers != init->n_layers || m->input_size != init->input_size)
		return nnp_err_set(err, NNP_EINPUT,
		                   "rewind: the model has %zu layers and %zu inputs but the initial "
		                   "weights have %zu layers and %zu inputs",
		                   m->n_layers, m->input_size, init->n_layers, init->input_size);
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *A = &m->layers[l], *B = &init->layers[l];
		if (A->in != B->in || A->out != B->out)
			return nnp_err_set(err, NNP_EINPUT,
			                   "rewind: layer %zu is %zux%zu in the model but %zux%zu in the "
			                   "initial weights",
			                   l + 1, A->out, A->in, B->out, B->in);
	}
	for (size_t l = 0; l < m->n_layers; l++) {
		nnp_layer *L = &m->layers[l];
		const nnp_layer *I = &init->layers[l];
		size_t n = L->in * L->out;
		memcpy(L->w, I->w, n * sizeof *L->w);
		memcpy(L->b, I->b, L->out * sizeof *L->b);
	}
	nnp_mask_apply(m, mask);
	return NNP_OK;
}
