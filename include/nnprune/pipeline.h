/*
 * nnprune: the pruning pipeline as one library call.
 *
 * nnp_pipeline_run takes a model, its data sources (the statistics' rows,
 * the evaluation rows, the calibration rows, the fine-tuning rows), a list of
 * candidate specifications and options, and returns the candidates built,
 * evaluated, fine-tuned and written as asked. It never prints: progress goes
 * to a callback, errors to nnp_err ("file: place: what"), and a message about
 * a specification is prefixed with the caller's label for it.
 *
 * Pieces it is made of are public too: the calibration rows (nnp_calib_*),
 * the provenance a pruned model records (nnp_provenance_prune), and the
 * fine-tuning of several models at once (nnp_finetune_run).
 */
#ifndef NNPRUNE_PIPELINE_H
#define NNPRUNE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/nnp.h"
#include "nnprune/data.h"
#include "nnprune/forward.h"
#include "nnprune/io.h"
#include "nnprune/method.h"
#include "nnprune/model.h"
#include "nnprune/gates.h"
#include "nnprune/manifest.h"
#include "nnprune/stats.h"
#include "nnprune/sweep.h"
#include "nnprune/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data sources ------------------------------------------------------ */

/* Rows the pipeline reads: a file (path, reader options, at most max_rows
 * rows, held in memory up to mem_limit bytes, else streamed) or rows already
 * in memory (rows set; path then only names them, bytes/crc32 identify them). */
typedef struct nnp_source {
	const char *path;          /* NULL and rows NULL: no such source */
	nnp_data_opts opts;
	uint64_t max_rows;         /* 0: every row */
	uint64_t mem_limit;        /* 0: never held, always streamed */
	const nnp_dataset *rows;   /* borrowed; NULL: read from path */
	uint64_t bytes;            /* the file's identity, when rows are given */
	uint32_t crc32;
} nnp_source;

/* ---- the statistics' inputs (inputs.c) --------------------------------- */

/* NNP_EINPUT unless the model (as loaded: model), the data and the labels
 * (labels_path may be NULL) are the files the statistics were taken on (their
 * sizes and CRC-32s), the message saying to run the statistics again. The
 * data's size and CRC-32 are data's bytes and crc32 when given (taken as its
 * rows were read: nnp_dataset_load_id), else read from the file. */
int nnp_stats_check_files(const nnp_stats_source *src, const char *stats_path,
                          const char *model_path, const nnp_file_info *model,
                          const char *data_path, const nnp_file_info *data,
                          const char *labels_path, nnp_err *err);
/* NNP_EINPUT unless the statistics describe m's hidden layers. */
int nnp_stats_check_shape(const nnp_model *m, const nnp_stats *s, const char *model_path,
                          const char *stats_path, nnp_err *err);

/* The statistics' rows read on a worker thread while the caller loads the
 * model, so that the file is read once: the rows and the data's identity (its
 * size and CRC-32, taken as the bytes pass) for nnp_stats_check_files. NULL
 * when path is not a regular file or no thread could start: the caller reads
 * the usual way. */
typedef struct nnp_rows_preload nnp_rows_preload;
nnp_rows_preload *nnp_rows_preload_start(const char *path, const nnp_data_opts *opts,
                                         uint64_t mem_limit);
/* Waits for the read and frees pl (NULL: nothing). The rows (the caller's to
 * free), with their identity in *id, if they were read whole and fit model m
 * (NULL: the model did not load); else NULL, and the caller reads the data
 * the usual way, so its messages are the usual ones. *too_big: the rows were
 * over mem_limit (stream them rather than try again). */
nnp_dataset *nnp_rows_preload_finish(nnp_rows_preload *pl, const nnp_model *m,
                                     nnp_file_info *id, int *too_big);

/* ---- calibration rows (calib.c) ---------------------------------------- */

#define NNP_CALIB_MEM_LIMIT ((uint64_t)64 << 20)  /* a sensible default: 64 MiB */

/* What the pruning methods' statistics and refits are computed on. */
typedef struct nnp_calib {
	const char *path;          /* borrowed */
	const char *labels_path;   /* borrowed; NULL if none */
	uint64_t bytes;            /* the file's size and CRC-32, for the provenance */
	uint32_t crc32;
	uint64_t max_rows;         /* 0: every row was read */
	size_t rows;
	int streamed;              /* 1: not in memory, read from path with opts */
	nnp_file_stamp stamp;      /* the version that bytes, crc32 and rows describe */
	nnp_data_opts opts;        /* the reader's options (strings borrowed) */
	nnp_dataset *d;            /* owned; NULL when view borrows rows held elsewhere */
	nnp_dataset view;          /* in memory: the rows without their labels (borrowed) */
	nnp_dataset labelled;      /* in memory: the rows with their labels (y NULL: none) */
} nnp_calib;

/* Takes the first max_rows rows (0: all) of path, checking the feature count;
 * labels are read when present but never used. Counted first (a bad row is an
 * error before any work); held in memory when they need at most mem_limit
 * bytes, else streamed. Free with nnp_calib_free (also after a failure). */
int nnp_calib_load(nnp_calib *c, const char *path, const nnp_data_opts *opts, size_t features,
                   uint64_t max_rows, uint64_t mem_limit, nnp_err *err);
/* Calibration on rows already in memory (d's labels are not used). */
void nnp_calib_borrow(nnp_calib *c, const char *path, const nnp_data_opts *opts,
                      const nnp_dataset *d, uint64_t bytes, uint32_t crc32);
void nnp_calib_free(nnp_calib *c);
/* NNP_EINPUT if the calibration file is no longer the version loaded. */
int nnp_calib_unchanged(const nnp_calib *c, nnp_err *err);
/* A pruning context over the calibration rows, held or streamed; with their
 * labels for a criterion that needs them (NNP_EINPUT when there are none,
 * naming opts.labels_option when set). */
int nnp_calib_method_ctx(nnp_method_ctx **out, const nnp_model *m, const nnp_calib *c,
                         const nnp_method_opts *mo, nnp_err *err);
/* The per-neuron statistics of m over the calibration rows (labels unused). */
int nnp_calib_stats(nnp_stats **out, const nnp_model *m, const nnp_calib *c,
                    const nnp_run_opts *ro, nnp_err *err);

/* ---- provenance (provenance.c) ----------------------------------------- */

#define NNP_PROV_NONE ((size_t)-1)

/* What a pruned model's provenance records; nnp_prov_init leaves every
 * optional item out. Strings and pointers are borrowed. */
typedef struct nnp_prov {
	const nnp_model *src;      /* its provenance becomes "previous"; may be NULL */
	const char *src_path;
	uint32_t src_crc;
	const char *method;
	const char *compensate;    /* NULL: not recorded */
	double lambda_rel;         /* NAN: not recorded */
	const nnp_calib *calib;    /* NULL: not recorded */
	double mean_thr, std_thr;  /* NAN: none */
	double keep_frac;          /* NAN: none */
	const size_t *widths;      /* NULL: none */
	size_t n_widths;
	size_t target_params;      /* NNP_PROV_NONE: none */
	const char *target_text;   /*   and as given (NULL: not recorded) */
	size_t alloc_step;         /* 0-based; NNP_PROV_NONE: none */
	double grid_step;
	int fold;                  /* < 0: not recorded */
	size_t min_keep;           /* NNP_PROV_NONE: not recorded */
	const nnp_keep *kept;
	double sparsity;           /* NAN: none (magnitude: the share of weights zeroed) */
	const char *sparse_scope;  /*   "layer", "global" or "hidden" */
	const double *sparse_layers; /* NULL, or the share of each weight layer */
	size_t n_sparse_layers;
} nnp_prov;

void nnp_prov_init(nnp_prov *p);
/* The budget items a candidate carries whatever the command: its allocation
 * step (with the method's grid step) and its sparsity. Borrowed from c. */
void nnp_prov_candidate(nnp_prov *p, const nnp_candidate *c, double grid_step);
/* The provenance JSON (compact, malloc'd; NULL when out of memory). Keys in
 * order: tool, operation "prune", method, compensate, lambda_rel, source,
 * calibration, thresholds, budget, fold, min_keep, kept, previous. */
char *nnp_provenance_prune(const nnp_prov *p);

/* ---- fine-tuning (finetune.c) ------------------------------------------ */

/* The input scale a model was trained with: the first positive "input_scale"
 * along its provenance chain, 1 if none (or if the model has preprocessing). */
float nnp_provenance_scale(const nnp_model *m);
/* Fine-tuning's defaults, the recipe that retrained pruned models best
 * (README, Results): the optimizer's training rate, decayed to 0 over the
 * run by a cosine. */
float nnp_finetune_default_lr(nnp_optimizer o);
#define NNP_FINETUNE_LR_SCHEDULE NNP_LR_COSINE

struct nnp_gradual_opts;

typedef struct nnp_ft_job {
	const nnp_model *src;      /* borrowed, left untouched */
	/* NULL: src fine-tuned as it is; else src pruned gradually while being
	 * fine-tuned (nnp_gradual_run with these options, their train replaced
	 * by the plan's) */
	const struct nnp_gradual_opts *gradual;
	const char *label;         /* names the model in an error message */
	nnp_model *model;          /* the fine-tuned copy; owned */
	float input_scale;
	nnp_train_report rep;
	nnp_metrics mt;            /* the copy on the evaluation rows (zero without them) */
	int keep_zeros;            /* 1: src's zero weights stay zero (masked training) */
} nnp_ft_job;

typedef struct nnp_ft_plan {
	nnp_train_opts train;       /* callbacks, input_scale, model_takes_raw, threads per job */
	const nnp_dataset *train_data;
	const nnp_dataset *eval;    /* evaluation rows in memory, or NULL to stream: */
	const char *eval_path;      /*   (both NULL: the models are not scored) */
	const nnp_data_opts *eval_opts;
	unsigned threads;           /* jobs at once; 0 = all cores */
	void (*progress)(void *ctx, size_t done, size_t total); /* from worker threads; may be NULL */
	void *progress_ctx;
} nnp_ft_plan;

/* Fine-tunes a copy of every job's model (one thread each, jobs in parallel
 * on the parallel-for: results do not depend on p->threads) and scores it on
 * the evaluation rows. Errors of the first failed job, "LABEL: fine-tuning: ". */
int nnp_finetune_run(nnp_ft_job *jobs, size_t n, const nnp_ft_plan *p, nnp_err *err);

/* ---- the pipeline (pipeline.c) ----------------------------------------- */

/* What one candidate is asked to be. */
typedef enum nnp_spec_kind {
	NNP_SPEC_THRESHOLDS,   /* the rule: |mean| <= mean and std <= std */
	NNP_SPEC_KEEP,         /* round(keep * width) neurons of every hidden layer */
	NNP_SPEC_ALLOC_STEP,   /* step (1-based) of the sensitivity allocation path */
	NNP_SPEC_TARGET,       /* the first allocation step within target_params */
	NNP_SPEC_WIDTHS,       /* widths[l] neurons kept in hidden layer l */
	NNP_SPEC_SPARSITY      /* a share of weights zeroed (unstructured: --method magnitude) */
} nnp_spec_kind;

typedef struct nnp_spec {
	nnp_spec_kind kind;
	double mean, std;          /* THRESHOLDS */
	double keep;               /* KEEP */
	size_t step;               /* ALLOC_STEP */
	size_t target_params;      /* TARGET */
	const size_t *widths;      /* WIDTHS: one per hidden layer, borrowed */
	double sparsity;           /* SPARSITY: in [0, 1] (nnp_prune_magnitude) */
	const double *sparse_layers; /* SPARSITY: NULL, or one share per weight layer
	                              * (borrowed; sparsity is then not used) */
	size_t n_sparse_layers;
	const char *label;         /* how the caller names it in messages; may be NULL */
} nnp_spec;

/* Where written models go. Files are DIR/STEM<budget>.FMT, STEM from model_path. */
typedef struct nnp_pipeline_output {
	const char *dir;           /* NULL: nothing written */
	const char *model_path;    /* the original's path: the stem and the provenance's source */
	uint32_t model_crc;
	nnp_format format;
	const char *const *inputs; /* files never written over (NULL entries skipped) */
	size_t n_inputs;
	int wait;                  /* 1: wait for another run holding dir */
	nnp_lock_wait_fn on_wait;
	void *wait_ctx;
} nnp_pipeline_output;

typedef enum nnp_pipeline_stage { NNP_STAGE_BUILD, NNP_STAGE_FINETUNE } nnp_pipeline_stage;
#define NNP_PROGRESS_END ((size_t)-1)   /* done: the stage is over */

typedef struct nnp_pipeline_opts {
	nnp_method_opts mo;        /* method, compensate (fold for the rule means fold), lambda */
	size_t min_keep;           /* the rule's floor per hidden layer */
	unsigned threads;          /* 0 = all cores; results do not depend on it */
	const nnp_stats *stats;    /* the statistics taken on the statistics source */
	nnp_source stats_src;      /* their rows: calibration when calib.path is NULL */
	nnp_source eval;           /* evaluation rows; none: candidates not evaluated */
	nnp_source calib;          /* calibration rows; none: the statistics source */
	nnp_source finetune;       /* labelled training rows; none: no fine-tuning */
	nnp_train_opts ft_train;   /* fine-tuning's training options (a teacher is
	                              borrowed: every model distils from it) */
	int ft_pareto;             /* 1: fine-tune only the Pareto candidates */
	size_t ft_gradual;         /* 0: each candidate fine-tuned as built (one-shot);
	                              N: each pruned from the original to its widths in N
	                              steps of the gradual schedule while fine-tuning
	                              (nnprune/gradual.h; a budget method, calibration
	                              rows in memory) */
	const nnp_spec *specs;
	size_t n_specs;
	nnp_pipeline_output out;
	const nnp_gates *gates;    /* NULL or none given: no judgment (best NNP_NO_DUP) */
	nnp_write_mode write;      /* which candidates get files in out.dir (default distinct) */
	int mag_scope;             /* SPARSITY: nnp_mag_scope (layer, global, hidden) */
	void (*progress)(void *ctx, nnp_pipeline_stage st, size_t done, size_t total);
	void *progress_ctx;
} nnp_pipeline_opts;

void nnp_pipeline_opts_init(nnp_pipeline_opts *o);

typedef struct nnp_pipeline {
	nnp_sweep *sw;             /* the original and the candidates, evaluated */
	nnp_spec *specs;           /* [sw->n] what each candidate was asked (labels borrowed) */
	const nnp_stats *stats;    /* the statistics the thresholds applied to */
	int calibrated;            /* 0: the rule on the statistics source, as always */
	nnp_calib calib;           /* when calibrated */
	int calib_separate;        /* 1: calibration rows are not the statistics' file */
	nnp_dataset *eval_rows;    /* owned; NULL when streamed or given */
	nnp_ft_job *ft_jobs;       /* [n_ft_jobs]: job 0 the original */
	size_t n_ft_jobs;
	size_t *ft_job_of;         /* [sw->n]: a candidate's job, or NNP_NO_DUP */
	size_t best, closest;      /* the verdict's (NNP_NO_DUP: none) */
	nnp_gate_result verdict;   /* the gates' judgment (gated 0: no gate given) */
	size_t cleaned;            /* files of the directory's previous run removed */
	nnp_manifest left;         /* its files left because they changed since */
	/* private */
	nnp_stats *calib_stats;
	nnp_dataset *ft_rows;
	const nnp_dataset *ft_train;
	struct nnp_gradual_opts *ft_gradual_opts; /* [n_ft_jobs] with a gradual schedule */
	const nnp_model *model;    /* the original, borrowed */
	nnp_dir_lock *lock;
	int evaluated;             /* 1: the threshold engine evaluated them */
	nnp_pipeline_opts o;
} nnp_pipeline;

/*
 * Runs the pipeline: reads the fine-tuning and evaluation rows, the
 * calibration rows (unless the rule applies to the statistics as they are),
 * builds every specification's candidate, evaluates them (eval.path set),
 * takes out.dir (holding its lock until nnp_pipeline_free) and removes the
 * files its previous run listed in report.json's manifest (nnp_manifest_clean),
 * fine-tunes the original and the candidates (finetune.path set; scored when
 * there are evaluation rows), measures
 * the candidates (nnp_sweep_measure in out.format), judges them by the gates
 * (the fine-tuned figures when fine-tuned) and writes the models the write
 * mode asks for with their provenance: a duplicate without a file of its own
 * gets its first's file name (c->file, c->ft.file).
 * Results do not depend on the thread count. Errors: the sources', NNP_EUSAGE
 * for a specification that cannot be met (its label first), NNP_EOUTPUT.
 */
int nnp_pipeline_run(nnp_pipeline **out, const nnp_model *m, const nnp_pipeline_opts *o,
                     nnp_err *err);

/* Candidate i's model (the first of its duplicates'), or NULL. */
const nnp_model *nnp_pipeline_model(const nnp_pipeline *p, size_t i);

/* The provenance JSON candidate i records when written (malloc'd). */
char *nnp_pipeline_provenance(const nnp_pipeline *p, size_t i);

/* Writes candidate i (fine-tuned if it was) to path with its provenance. */
int nnp_pipeline_write(nnp_pipeline *p, size_t i, int finetuned, const char *path, nnp_err *err);

/* "mean 0.1, std 0.4", "keep 0.5", ...: how messages name candidate c. */
void nnp_candidate_budget_text(char *buf, size_t size, const nnp_candidate *c);

void nnp_pipeline_free(nnp_pipeline *p);

#ifdef __cplusplus
}
#endif
#endif
