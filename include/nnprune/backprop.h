/*
 * nnprune: the forward/backward engine that training, fine-tuning and
 * gradient-based criteria share.
 *
 * A workspace holds one batch of up to `cap` rows: the inputs (filled by the
 * caller), every layer's output (and pre-activation where the derivative
 * needs it), the gradients w.r.t. pre-activations, and optionally the
 * gradient w.r.t. the parameters. One workspace per thread; nothing here
 * starts threads or keeps state between calls beyond the buffers.
 *
 * The loss is cross-entropy over a softmax output (computed from the logits
 * with a log-sum-exp) and the mean squared error against the one-hot label
 * otherwise. A batch of n rows:
 *
 *     fill b.x[0..n) and b.y[0..n)
 *     nnp_backprop_forward(&b, m, n);
 *     nnp_backprop_loss(&b, m, n, 1.0f / n, &loss_sum, &correct);
 *     nnp_backprop_backward(&b, m, n, off, on_dact, ctx);
 *
 * on_dact sees, for every hidden layer l (from the last to the first), the
 * layer's outputs a[n][width] and dL/da[n][width]: the gradient of the batch
 * loss w.r.t. each hidden neuron's activation, which is what first-order
 * (Taylor) importance |a * dL/da| needs.
 */
#ifndef NNPRUNE_BACKPROP_H
#define NNPRUNE_BACKPROP_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/nnp.h"
#include "nnprune/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nnp_backprop {
	size_t cap;
	float *x;          /* [cap][inputs], filled by the caller */
	int32_t *y;        /* [cap] labels, filled by the caller */
	float **z;         /* [layers] pre-activations [cap][out]; == a[l] when not needed */
	float **a;         /* [layers] post-activations [cap][out] */
	float *d0, *d1;    /* [cap][widest] gradients w.r.t. pre-activations, ping-pong */
	float *grad;       /* [params] the parameter gradient, added to by every backward
	                      pass (the caller zeroes it); NULL without parameters */
	void *mem;
} nnp_backprop;

/* Flat parameter layout: layer l's weights [out][in] at (*off)[l], its biases
 * right after; *P the total. The caller frees *off. Errors: NNP_ENOMEM. */
int nnp_param_layout(const nnp_model *m, size_t **off, size_t *P);

/* Sizes and allocates a workspace, zeroed; params = 0 for no parameter
 * gradient (backward then gives only the activations' gradients). Returns
 * NNP_OK, NNP_EUSAGE (sizes overflow) or NNP_ENOMEM, recording no message. */
int nnp_backprop_init(nnp_backprop *b, const nnp_model *m, size_t cap, size_t params);
void nnp_backprop_free(nnp_backprop *b);

/* The most rows a batch of this model can have (the matrix products take
 * int dimensions). */
size_t nnp_backprop_max_rows(const nnp_model *m);

/* Runs rows b->x[0..n) through m, keeping every layer's output. */
void nnp_backprop_forward(nnp_backprop *b, const nnp_model *m, size_t n);

/* The loss of the n rows (summed into *loss_sum, hits into *correct) and its
 * gradient w.r.t. the last pre-activation, scaled by inv_n (1 / rows of the
 * whole batch, so that parts of one batch add up). After forward. */
void nnp_backprop_loss(nnp_backprop *b, const nnp_model *m, size_t n, float inv_n,
                       double *loss_sum, uint64_t *correct);

/* Called by backward for hidden layer `layer`: a and da are [rows][width]. */
typedef void (*nnp_dact_fn)(void *ctx, size_t layer, const float *a, const float *da,
                            size_t rows, size_t width);

/* Backpropagates the loss gradient: adds dL/dparams into b->grad (when it
 * has one; off from nnp_param_layout) and calls on_dact (may be NULL) for
 * every hidden layer. After loss. */
void nnp_backprop_backward(nnp_backprop *b, const nnp_model *m, size_t n, const size_t *off,
                           nnp_dact_fn on_dact, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
