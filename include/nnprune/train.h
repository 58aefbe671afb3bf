/*
 * nnprune: the training engine behind `nnprune train` and `nnprune finetune`.
 *
 * Minibatch gradient descent (Adam, or SGD with momentum) of a dense model in
 * place, on a data set held in memory. Loss: softmax cross-entropy when the
 * last layer is softmax, otherwise the mean squared error between the output
 * and the one-hot label, averaged over the outputs and the rows of a batch.
 *
 * Threads are our own: each minibatch is cut into T contiguous parts, each
 * thread computes its part's gradient with single-threaded BLAS, the parts are
 * summed in thread order and the optimizer steps. So a run is bit-for-bit
 * reproducible for the same seed, data, options and thread count (a different
 * thread count sums in a different order and gives a slightly different model;
 * threads = 0 means the machine's core count, so scripts wanting the same
 * model everywhere should name a count).
 *
 * Adam follows PyTorch's formulation (bias-corrected moments, eps added to
 * the corrected root); SGD is PyTorch's with momentum, no dampening.
 */
#ifndef NNPRUNE_TRAIN_H
#define NNPRUNE_TRAIN_H

#include <stdint.h>
#include <stddef.h>
#include "nnprune/nnp.h"
#include "nnprune/model.h"
#include "nnprune/data.h"
#include "nnprune/forward.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nnp_optimizer { NNP_OPT_ADAM = 0, NNP_OPT_SGD = 1 } nnp_optimizer;

/* "adam" or "sgd"; NULL for an unknown value. */
const char *nnp_optimizer_name(nnp_optimizer o);
/* Parses an optimizer name; 0 on success, -1 if unknown. */
int nnp_optimizer_parse(const char *name, nnp_optimizer *out);

#define NNP_TRAIN_ADAM_LR 1e-3f
#define NNP_TRAIN_SGD_LR 0.01f
/* The learning rate an optimizer starts from when the user gives none. */
float nnp_train_default_lr(nnp_optimizer o);

/* Caps checked by nnp_train_check_opts. */
#define NNP_TRAIN_MAX_THREADS NNP_MAX_THREADS
#define NNP_TRAIN_MAX_BATCH (1u << 20)
#define NNP_TRAIN_MAX_EPOCHS 1000000u

/* What the epoch callback is told after each epoch. */
typedef struct nnp_epoch_info {
	size_t epoch;             /* 1-based */
	size_t epochs;            /* the number asked for */
	double train_loss;        /* mean over the epoch's rows, as the weights moved */
	double train_accuracy;    /* fraction in [0,1], same rows */
	const nnp_metrics *val;   /* the validation set after the epoch; NULL without one */
	double seconds;           /* wall time of the epoch, validation included */
} nnp_epoch_info;

/* Called on the caller's thread after each epoch; non-zero stops training
 * (the model is then finished exactly as after the last epoch). */
typedef int (*nnp_epoch_fn)(const nnp_epoch_info *info, void *ctx);

/* Called on the caller's thread after each minibatch: rows of this epoch done
 * so far out of rows_total. Keep it cheap; throttle display in the callback. */
typedef void (*nnp_train_progress_fn)(size_t epoch, uint64_t rows_done, uint64_t rows_total,
                                      void *ctx);

/* How the learning rate moves over a run: constant, or cosine-decayed per
 * step from lr towards 0 (lr_t = lr * (1 + cos(pi * (t - 1) / S)) / 2 for
 * step t = 1..S of S, so the first step uses lr and the last a small
 * positive rate). */
typedef enum nnp_lr_schedule { NNP_LR_CONSTANT = 0, NNP_LR_COSINE = 1 } nnp_lr_schedule;

/* "constant" or "cosine"; NULL for an unknown value. */
const char *nnp_lr_schedule_name(nnp_lr_schedule s);
/* Parses a schedule name; 0 on success, -1 if unknown. */
int nnp_lr_schedule_parse(const char *name, nnp_lr_schedule *out);
/* The learning rate of step t (1-based) of S steps under schedule s. */
double nnp_lr_at(nnp_lr_schedule s, double lr, uint64_t t, uint64_t S);

typedef struct nnp_train_opts {
	nnp_optimizer optimizer;
	float lr;                 /* > 0; the _INIT value is Adam's: when choosing SGD, set
	                             lr = nnp_train_default_lr(NNP_OPT_SGD) unless given */
	float momentum;           /* SGD: in [0,1) */
	float beta1, beta2, eps;  /* Adam: beta in [0,1), eps > 0 */
	float weight_decay;       /* >= 0: wd * w added to weight (not bias) gradients */
	size_t epochs;            /* >= 1 */
	size_t batch;             /* rows per step, >= 1; the last step of an epoch may be shorter */
	uint64_t seed;            /* shuffling order */
	unsigned threads;         /* 0 = all cores */
	float input_scale;        /* > 0: training sees input * input_scale */
	int model_takes_raw;      /* 1: m already maps raw inputs (finetuning a saved
	                             model); 0: m is fresh, e.g. from nnp_model_init_random */
	int shuffle;              /* 1: a new seeded permutation each epoch; 0: file order */
	nnp_epoch_fn on_epoch;    /* may be NULL */
	nnp_train_progress_fn on_progress; /* may be NULL */
	void *ctx;                /* passed to both callbacks */
	/* Masked training: NULL, or one entry per layer, each NULL (layer not
	 * masked) or [out][in] bytes laid out like the weights, 0 = pruned.
	 * Owned by the caller, read during nnp_train. Pruned weights are set to
	 * 0 before the first step and are exactly 0 (+0.0f) after every step;
	 * their gradients and optimizer state are kept at 0. Biases are never
	 * masked. */
	const uint8_t *const *mask;
	nnp_lr_schedule lr_schedule;
	/* Distillation: with a teacher (NULL = none; borrowed), the loss of a
	 * row is alpha * T^2 * KL(p_teacher,T || p_student,T)
	 *      + (1 - alpha) * CE(softmax(z_student), label)
	 * (Hinton et al.), p_x,T = softmax(z_x / T) of the logits z; see
	 * nnp_distill_loss. Both models end in softmax and have the same inputs
	 * and outputs; the teacher is given the data's raw values (a saved model
	 * takes raw inputs), whatever input_scale. */
	const nnp_model *teacher;
	float distill_t;          /* T > 0 */
	float distill_alpha;      /* in [0, 1] */
} nnp_train_opts;

#define NNP_TRAIN_OPTS_INIT                                                              \
	{ NNP_OPT_ADAM, NNP_TRAIN_ADAM_LR, 0.9f, 0.9f, 0.999f, 1e-8f, 0.0f, 10, 64, 0, 0, 1.0f, \
	  0, 1, NULL, NULL, NULL, NULL, NNP_LR_CONSTANT, NULL, 1.0f, 0.5f }

/* What a finished (or stopped) run did. */
typedef struct nnp_train_report {
	size_t epochs_run;
	uint64_t steps;           /* optimizer steps taken */
	double train_loss;        /* last epoch's, as in nnp_epoch_info */
	double train_accuracy;
	int has_val;              /* 1 if val below is filled */
	nnp_metrics val;          /* validation metrics after the last epoch */
	double seconds;           /* whole run */
	unsigned threads;         /* threads used: fewer than asked when a batch has
	                             fewer than 8 rows per thread (not worth sharing) */
	int stopped_early;        /* the epoch callback asked to stop */
} nnp_train_report;

/*
 * Checks options alone (before any data is read). Errors: NNP_EUSAGE naming
 * the option and the accepted range, e.g. "--lr must be a finite number > 0
 * (got 0)". Option names are those of the command line.
 */
int nnp_train_check_opts(const nnp_train_opts *o, nnp_err *err);

/*
 * Fills every layer's weights from a seeded normal distribution and zeroes
 * the biases: He (std sqrt(2/in)) before relu and leaky_relu, Glorot/Xavier
 * (std sqrt(2/(in+out))) before the other activations. Same seed, same
 * weights, on every platform with IEEE floats.
 */
void nnp_model_init_random(nnp_model *m, uint64_t seed);

/*
 * Trains m in place (shapes and metadata unchanged) on train, whose labels
 * must lie in [0, outputs). val (may be NULL) is scored after every epoch.
 * rep (may be NULL) receives what happened.
 *
 * Input scale: the network trains on input * s (s = input_scale; raw 0..255
 * pixels train poorly), and on return s is folded into layer 0 (W0 *= s) so
 * the model takes raw inputs. With model_takes_raw = 1 (finetuning a saved
 * model) W0 is first divided by s, so a model saved by `train --input-scale s`
 * is finetuned in the space it was trained in; with s = 1 nothing changes.
 *
 * Errors: NNP_EUSAGE (options, see nnp_train_check_opts; train NULL),
 * NNP_EINPUT (data without labels or rows, feature count != model inputs,
 * label out of range, NaN/Inf in the data, invalid model, or divergence:
 * "training diverged at epoch E, batch B (loss is NaN); try a smaller --lr",
 * or "loss is infinite", after which m holds the weights from before that
 * batch), NNP_ENOMEM (also: a thread could not be started). Once training
 * has started, the scale is folded back on every return, failure included;
 * errors found before leave m untouched.
 */
int nnp_train(nnp_model *m, const nnp_dataset *train, const nnp_dataset *val,
              const nnp_train_opts *o, nnp_train_report *rep, nnp_err *err);

/*
 * Loss and gradient of the training loss over `rows` rows of x [rows][inputs]
 * (taken as they are, no input scale) labelled y, at m's current weights.
 * grad receives nnp_model_params(m) floats, layer by layer: weights [out][in]
 * then biases [out]. *loss (may be NULL) receives the mean loss. One thread;
 * allocates its own scratch: for tests and diagnostics, not for loops.
 * Errors: NNP_EUSAGE (rows 0), NNP_EINPUT (label out of range), NNP_ENOMEM.
 */
int nnp_train_grad(const nnp_model *m, const float *x, const int32_t *y, size_t rows,
                   float *grad, double *loss, nnp_err *err);

/*
 * Distillation loss of one row, in double: student logits zs[K], teacher
 * logits zt[K], the row's label, temperature T > 0 and alpha in [0, 1]:
 *     alpha * T^2 * KL(softmax(zt/T) || softmax(zs/T))
 *   + (1 - alpha) * (logsumexp(zs) - zs[label]).
 * dz (may be NULL) receives the gradient w.r.t. zs:
 *     alpha * T * (softmax(zs/T) - softmax(zt/T)) + (1 - alpha) * (softmax(zs) - onehot).
 */
double nnp_distill_loss(const double *zs, const double *zt, size_t K, size_t label, double T,
                        double alpha, double *dz);

/* Zeroes the weights a mask (as in nnp_train_opts) prunes. */
void nnp_mask_apply(nnp_model *m, const uint8_t *const *mask);

/*
 * A mask (as in nnp_train_opts) keeping m's zero weights at zero: one byte
 * per weight, 1 where the weight is not zero (trained). *n_zero (may be NULL)
 * receives the weights it holds at zero. NULL when out of memory. Free with
 * nnp_mask_free(mask, m->n_layers).
 */
uint8_t **nnp_mask_of_zeros(const nnp_model *m, size_t *n_zero);
void nnp_mask_free(uint8_t **mask, size_t n_layers);

/*
 * Rewinds a trained model to recorded initial weights: every weight the mask
 * keeps (all of them with mask NULL) and every bias is copied from init bit
 * for bit; pruned weights are set to 0. init must have m's shape.
 * Errors: NNP_EINPUT naming the first layer whose shape differs.
 */
int nnp_model_rewind(nnp_model *m, const nnp_model *init, const uint8_t *const *mask,
                     nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
