/*
 * nnprune command line: fine-tuning shared by `finetune` and `sweep --finetune`.
 */
#ifndef NNP_CLI_FINETUNE_H
#define NNP_CLI_FINETUNE_H

#include <stddef.h>
#include "nnprune/nnp.h"
#include "nnprune/data.h"
#include "nnprune/forward.h"
#include "nnprune/model.h"
#include "nnprune/train.h"

/* The input scale a model was trained with: the first positive "input_scale"
 * along its provenance chain (each object's "previous"), 1 if none. */
float cli_provenance_scale(const nnp_model *m);

/* The learning rate fine-tuning uses when none is given: a tenth of the
 * optimizer's training rate. Fine-tuning starts from trained weights, and at
 * the full rate Adam's first steps undo part of that training (one epoch at
 * 1e-3 lowered the bundled 512-256-128 model from 89.30% to 88.56%). */
float cli_finetune_default_lr(nnp_optimizer o);

/* One model to fine-tune, and what came of it. */
typedef struct cli_ft_job {
	const nnp_model *src;     /* borrowed, left untouched */
	const char *label;        /* names the model in an error message */
	nnp_model *model;         /* the fine-tuned copy; owned, free with nnp_model_free */
	float input_scale;        /* the scale it was trained in (cli_provenance_scale) */
	nnp_train_report rep;
	nnp_metrics mt;           /* the fine-tuned copy on the evaluation data */
} cli_ft_job;

/* What every job shares. Everything is borrowed and read only. */
typedef struct cli_ft_plan {
	nnp_train_opts train;       /* as `nnprune finetune` would use them; the callbacks,
	                               input_scale, model_takes_raw and threads are set per job */
	const nnp_dataset *train_data;
	const nnp_dataset *eval;    /* the evaluation rows in memory, or NULL to stream: */
	const char *eval_path;      /*   read from here */
	const nnp_data_opts *eval_opts;
	unsigned threads;           /* jobs run at once; 0 = all cores */
	int progress;               /* 1: "fine-tuning k/n" on stderr as jobs finish */
} cli_ft_plan;

/*
 * Fine-tunes a copy of every job's model (in the space of its provenance's
 * input scale, as `nnprune finetune` does) and scores the copy on the
 * evaluation data. Each job trains and scores on one thread, and jobs run in
 * parallel, so every result is the same whatever p->threads is, and equal to
 * `nnprune finetune -j 1` with the same options.
 * Errors: those of nnp_train and nnp_run, from the first failed job in job
 * order, prefixed "LABEL: fine-tuning: ". Finished copies stay in the jobs
 * (the caller frees them) on success and failure alike.
 */
int cli_ft_run(cli_ft_job *jobs, size_t n, const cli_ft_plan *p, nnp_err *err);

#endif
