/*
 * nnprune: the threshold sweep. For every (mean, std) pair it derives the kept
 * neurons, builds the slimmed model once per distinct kept set, and evaluates
 * it against the original on the same data.
 */
#ifndef NNPRUNE_SWEEP_H
#define NNPRUNE_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/nnp.h"
#include "nnprune/model.h"
#include "nnprune/data.h"
#include "nnprune/stats.h"
#include "nnprune/prune.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NNP_NO_DUP ((size_t)-1)

/* What a candidate is: which of its thr, budget and sparse members hold it.
 * A zeroed candidate is the original. */
typedef enum nnp_candidate_kind {
	NNP_CAND_ORIGINAL,         /* the model as given: nothing removed */
	NNP_CAND_THRESHOLDS,       /* the rule's pair (thr): nnp_sweep_run, the rule's methods */
	NNP_CAND_BUDGET,           /* a neuron budget (budget): --method score|obs, and the
	                            * widths `prune --iterative` reached */
	NNP_CAND_SPARSE            /* a share of weights zeroed (sparse): --method magnitude */
} nnp_candidate_kind;

/* One point of the sweep (or the original model): what it is (kind and the
 * member it names; the members of the other kinds stay as their comments
 * say and are ignored), what it measured, and what fine-tuning made of it. */
typedef struct nnp_candidate {
	nnp_candidate_kind kind;
	/* THRESHOLDS: |mean| <= thr.mean and std <= thr.std. NAN for every other
	 * kind. */
	struct {
		double mean, std;
	} thr;
	/* BUDGET (built outside nnp_sweep_run). All zero for every other kind; a
	 * budget candidate has one of them set (target_params with the step it
	 * picked, if any). */
	struct {
		double keep_frac;      /* > 0: round(keep_frac * width) neurons kept per hidden layer */
		size_t alloc_step;     /* > 0: the 1-based step of the allocation path */
		size_t target_params;  /* > 0: the parameter budget that step was picked for */
		int widths;            /* 1: the kept counts per hidden layer were given */
	} budget;
	/* SPARSE (unstructured): every neuron kept. All zero and NULL for every
	 * other kind. */
	struct {
		double share;          /* > 0: this share of the weights set to zero */
		int scope;             /* nnp_mag_scope: per layer, global or hidden */
		const double *layers;  /* NULL, or one share per weight layer (borrowed from
		                        * the specification; share is then the share of all
		                        * the weights zeroed) */
		size_t n_layers;
	} sparse;

	/* What it measured. */
	nnp_keep *keep;            /* owned; NULL for the original */
	size_t params, bytes, macs;  /* bytes: params as float32 */
	size_t nonzeros;           /* weights that are not zero (nnp_model_nonzeros); 0: unknown */
	size_t live_params;        /* SPARSE: params less the weights that are zero (set with
	                            * the sizes; 0: not known): what it is judged by */
	uint64_t file_bytes;       /* size of the model file (written, or as it would be); 0: unknown */
	double accuracy;           /* fraction in [0,1] */
	double loss;
	double agreement;          /* fraction of rows whose argmax matches the original's */
	double accuracy_drop;      /* (original - this) accuracy, in points */
	double reduction;          /* parameters removed, percent of the original */
	int pareto;                /* 1: no other is both smaller and at least as accurate */
	int floor_hit;             /* 1: min_keep overrode the rule somewhere */
	size_t same_as;            /* index of an earlier candidate with the same kept set, or NNP_NO_DUP */
	char *file;                /* where the slimmed model was written, owned; NULL if not yet */

	/* After fine-tuning (`sweep|prune --finetune`: set by the pipeline's
	 * nnp_pipeline_ft_run, or read back by a report merge). All zero and NULL
	 * otherwise (done 0), and then ignored by every reader. */
	struct {
		int done;              /* 1: the members below are set */
		double accuracy;       /* the fine-tuned model's accuracy, fraction in [0,1] */
		double loss;
		double drop;           /* (original - fine-tuned this) accuracy, in points */
		double drop_vs_ft;     /* (fine-tuned original - fine-tuned this), in points */
		char *file;            /* where the fine-tuned model was written, owned; or NULL */
	} ft;
} nnp_candidate;

/* The size a candidate is judged by (reduction, Pareto front, --best, the
 * parameter gate): its params; for an unstructured candidate (NNP_CAND_SPARSE)
 * its live_params, the weights set to zero counting as removed, when known. */
size_t nnp_candidate_size(const nnp_candidate *c);
/* Sets an unstructured candidate's nonzeros and live_params from its model
 * p and its reduction against params0 (nothing for any other candidate). */
void nnp_candidate_set_live(nnp_candidate *c, const nnp_model *p, size_t params0);
/* An unstructured candidate's shares: "0.9" (sparsity), or one per weight
 * layer joined by sep ("0.9/0.8/0.5"); "" for any other candidate. */
#define NNP_SHARES_TEXT_MAX 512
void nnp_candidate_shares_text(char *buf, size_t size, const nnp_candidate *c, char sep);

typedef struct nnp_sweep_opts {
	const double *means; size_t n_means;
	const double *stds; size_t n_stds;
	size_t min_keep;           /* default 1 */
	int fold;                  /* default 1 */
	unsigned threads;          /* 0 = all cores */
	const char *data_path;     /* streamed from here when d == NULL */
	const nnp_data_opts *data_opts;
} nnp_sweep_opts;

typedef struct nnp_sweep {
	nnp_candidate original;
	size_t n;                  /* n_means * n_stds, means outer, stds inner */
	nnp_candidate *c;          /* [n] */
	nnp_model **models;        /* [n] slimmed models, owned; NULL where same_as != NNP_NO_DUP */
	size_t n_unique;           /* distinct kept sets evaluated */
	uint64_t rows;             /* rows evaluated */
} nnp_sweep;

/*
 * Runs the sweep of m with statistics s on the in-memory data d (or, if d is
 * NULL, streaming o->data_path). The caller owns *out (nnp_sweep_free).
 * Results are identical whatever the thread count.
 */
int nnp_sweep_run(nnp_sweep **out, const nnp_model *m, const nnp_stats *s,
                  const nnp_dataset *d, const nnp_sweep_opts *o, nnp_err *err);

void nnp_sweep_free(nnp_sweep *sw);

/*
 * Sets the pareto flag of orig and of every distinct candidate of c[0..n).
 * Errors: NNP_ENOMEM, the message prefixed by who ("sweep", "evaluation").
 */
int nnp_sweep_mark_pareto(nnp_candidate *orig, nnp_candidate *c, size_t n, const char *who,
                          nnp_err *err);

/* Gives every duplicate in c[0..n) the figures of the candidate it repeats. */
void nnp_sweep_copy_dups(nnp_candidate *c, size_t n);

/* Index of the smallest candidate (fewest params (nnp_candidate_size); ties: higher accuracy, then
 * lower index) whose accuracy_drop <= max_drop_pts, or NNP_NO_DUP if none.
 * *closest receives the candidate with the smallest drop when none qualifies. */
size_t nnp_sweep_select(const nnp_sweep *sw, double max_drop_pts, size_t *closest);

/*
 * Parses a LIST: one value "0.1", a comma list "0,0.1,0.5" or a range
 * "0:1:0.1" (start:stop:step, both ends included, each value computed as
 * start + i*step and rounded to 12 significant digits, so no drift). Values
 * must be finite and >= 0. *vals is malloc'd (caller frees).
 * Errors: NNP_EUSAGE with the reason.
 */
int nnp_parse_list(const char *text, double **vals, size_t *n, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
