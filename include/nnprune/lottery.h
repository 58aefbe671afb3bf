/*
 * nnprune: the lottery ticket procedure (Frankle & Carbin 2019) with its
 * random re-initialisation control, and the report of its rounds.
 *
 * Round 0 trains the dense network from the recorded initial weights. Each
 * round r >= 1 then
 *   1. prunes `rate` of the weights that remain (round(rate * remaining),
 *      per layer or over the whole model) by magnitude, from the weights the
 *      previous round trained, the output layer by itself at `output_rate`
 *      (Frankle & Carbin prune it at half the rate); or, with `structured`, round(rate * remaining)
 *      of each hidden layer's remaining neurons by the L2 norm of their
 *      incoming weights (the neuron's row and its column in the next layer
 *      go);
 *   2. rewinds the survivors to their initial values (or, with rewind_epoch
 *      K > 0, to their values after epoch K of round 0: late rewinding), the
 *      biases with them;
 *   3. retrains with the mask fixed (pruned weights exactly 0 throughout):
 *      the ticket of round r;
 *   4. trains the same mask from a fresh random initialisation with the
 *      same options: the control the ticket is judged against. The fresh
 *      weights come from nnp_model_init_random (seed
 *      nnp_lottery_control_seed(seed, r)), the initialiser of a run from
 *      --layers; or, with control_shuffle, each layer's initial weights (and
 *      biases) in a random order, the same values and so the same
 *      distribution whatever initialiser wrote them (an --init file).
 * Every training uses the same options (and shuffling seed), so a run is
 * bit-for-bit reproducible for a seed and thread count.
 */
#ifndef NNPRUNE_LOTTERY_H
#define NNPRUNE_LOTTERY_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/nnp.h"
#include "nnprune/criteria.h"
#include "nnprune/data.h"
#include "nnprune/model.h"
#include "nnprune/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NNP_LOTTERY_MAX_ROUNDS 1000u

/* What one round gave. Accuracies are fractions on the validation rows. */
typedef struct nnp_lottery_round {
	size_t round;              /* 0 = the dense network */
	size_t weights;            /* all weights of the model (biases not counted) */
	size_t kept;               /* weights the mask keeps */
	double remaining;          /* kept / weights */
	size_t params;             /* parameters once pruned weights (and, structured,
	                              removed neurons' biases) are dropped */
	double accuracy, loss;     /* the ticket (round 0: the dense network) */
	double control_accuracy, control_loss; /* NAN in round 0 or without the control */
	double train_accuracy;     /* the ticket's, last epoch */
	double seconds;            /* the round's wall time, control included */
} nnp_lottery_round;

/*
 * Called after each round on the caller's thread with the round's figures,
 * its trained ticket, its trained control (NULL in round 0 or without the
 * control) and the mask (one [out][in] byte array per layer, 0 = pruned;
 * NULL in round 0), all borrowed for the call. Return NNP_OK to go
 * on, or a negative status (with err set) to stop the run with it.
 */
typedef int (*nnp_lottery_round_fn)(const nnp_lottery_round *r, const nnp_model *ticket,
                                    const nnp_model *control, const uint8_t *const *mask,
                                    void *ctx, nnp_err *err);

typedef struct nnp_lottery_opts {
	nnp_train_opts train;      /* every training's options; mask, teacher and
	                              model_takes_raw must be unset (0/NULL); on_epoch and
	                              on_progress are called for every training */
	size_t rounds;             /* pruning rounds after round 0, 0..NNP_LOTTERY_MAX_ROUNDS */
	double rate;               /* share of the remaining weights (neurons) pruned per
	                              round, in (0, 1) */
	double output_rate;        /* share of the output layer's remaining weights pruned
	                              per round, in [0, 1), ranked alone; negative: the
	                              output layer is pruned like the others (at rate, in
	                              the global ranking with global). Not structured */
	int global;                /* 1: one magnitude ranking over all layers (but the
	                              output layer when output_rate >= 0) */
	int structured;            /* 1: whole hidden neurons by L2 norm (global ignored) */
	size_t rewind_epoch;       /* 0: rewind to the initial weights; K in 1..epochs:
	                              to the weights after epoch K of round 0 */
	int control;               /* 1: train the random re-initialisation control */
	int control_shuffle;       /* 1: the control shuffles each layer's initial values */
	nnp_lottery_round_fn on_round; /* may be NULL */
	void *ctx;
	/* May be NULL: called in each round r >= 1 with the model just rewound
	 * (masked, about to be retrained) and its mask, borrowed; return as
	 * on_round. */
	int (*on_rewind)(size_t round, const nnp_model *m, const uint8_t *const *mask, void *ctx,
	                 nnp_err *err);
} nnp_lottery_opts;

#define NNP_LOTTERY_OPTS_INIT { NNP_TRAIN_OPTS_INIT, 5, 0.2, -1.0, 0, 0, 0, 1, 0, NULL, NULL, NULL }

/* Every round's figures: rounds + 1 of them (fewer if the run stopped). */
typedef struct nnp_lottery {
	size_t n;
	nnp_lottery_round *r;      /* [n], r[0] the dense network */
} nnp_lottery;

void nnp_lottery_free(nnp_lottery *lt);

/* Checks the options alone. NNP_EUSAGE naming the option as on the command line. */
int nnp_lottery_check_opts(const nnp_lottery_opts *o, nnp_err *err);

/* The seed of round r's control re-initialisation (r >= 1) for a run seeded `seed`. */
uint64_t nnp_lottery_control_seed(uint64_t seed, size_t r);

/*
 * Runs the procedure from `init` (borrowed, unchanged: the recorded initial
 * weights, with the input preprocessing the network trains through) on
 * train, scoring every ticket and control on val (required). The caller owns
 * *out (nnp_lottery_free); on a failure *out holds the rounds finished.
 * Errors: NNP_EUSAGE (options, no val), nnp_train's, the callback's, NNP_ENOMEM.
 */
int nnp_lottery_run(nnp_lottery **out, const nnp_model *init, const nnp_dataset *train,
                    const nnp_dataset *val, const nnp_lottery_opts *o, nnp_err *err);

/*
 * New mask: prunes round(rate * kept) more of the weights mask (NULL: all
 * kept) keeps, the smallest |w| of m (per layer, or with global over the
 * whole model; ties by position), into next (one [in*out] array per layer,
 * allocated by the caller). With output_rate >= 0 the output layer is ranked
 * alone and loses round(output_rate * its kept) instead. Weights mask prunes
 * stay pruned.
 * Errors: NNP_EUSAGE (rate outside [0, 1], output_rate above 1), NNP_ENOMEM.
 */
int nnp_lottery_prune_magnitude(const nnp_model *m, const uint8_t *const *mask, double rate,
                                double output_rate, int global, uint8_t **next, nnp_err *err);

/*
 * New mask keeping exactly `keep` (at most the weights mask keeps) of the
 * weights mask keeps, the largest |w| of m: with NNP_MAG_GLOBAL one ranking
 * over the model; per layer, layer l keeps its share keep * (its weights /
 * all weights), rounded by largest remainders so that the shares add up to
 * keep; with NNP_MAG_HIDDEN the output layer keeps what mask keeps of it and
 * the other layers share the rest per layer in the same way.
 * Errors: NNP_EUSAGE (keep more than mask keeps; hidden: keep less than the
 * output layer keeps, or no hidden layer), NNP_ENOMEM.
 */
int nnp_mask_magnitude_to(const nnp_model *m, const uint8_t *const *mask, size_t keep,
                          nnp_mag_scope scope, uint8_t **next, nnp_err *err);

/*
 * New mask: in each hidden layer, round(rate * alive) of the alive neurons
 * (at least one stays) with the smallest L2 norm of their incoming weights
 * in m (ties: the lower index goes first) lose their row and their column in
 * the next layer. Output neurons are never removed. Errors: NNP_ENOMEM.
 */
int nnp_lottery_prune_neurons(const nnp_model *m, const uint8_t *const *mask, double rate,
                              uint8_t **next, nnp_err *err);

/* What the report says about the run (strings borrowed; NULL: left out). */
typedef struct nnp_lottery_info {
	const char *layers;        /* "784,300,150,10" */
	const char *data_path, *val_path;
	const char *criterion;     /* "magnitude (per layer)", ... */
	double rate;
	size_t epochs;
	const char *const *files;  /* [n] each round's model file name, or NULL */
} nnp_lottery_info;

/* report.md: a Markdown table of the rounds. malloc'd text (caller frees);
 * NULL when out of memory. */
char *nnp_lottery_markdown(const nnp_lottery *lt, const nnp_lottery_info *info);

/* report.svg: accuracy against the remaining weights (log x axis), ticket and
 * control, and the dense network's accuracy as a line. malloc'd; NULL on OOM. */
char *nnp_lottery_svg(const nnp_lottery *lt, const nnp_lottery_info *info);

#ifdef __cplusplus
}
#endif
#endif
