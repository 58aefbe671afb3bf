/*
 * nnprune (private): the pipeline's steps after the candidates are built
 * (pipeline_write.c), called by nnp_pipeline_run (pipeline.c).
 */
#ifndef NNPRUNE_PIPELINE_PRIV_H
#define NNPRUNE_PIPELINE_PRIV_H

#include "nnprune/pipeline.h"

/* Reads the fine-tuning rows (labelled), before anything is written. */
int nnp_pipeline_ft_load(nnp_pipeline *p, nnp_err *err);
/* Takes the output directory and writes every candidate with its provenance. */
int nnp_pipeline_write_all(nnp_pipeline *p, const nnp_model *m, nnp_err *err);
/* Fine-tunes the original and the chosen candidates, scores and writes them. */
int nnp_pipeline_ft_run(nnp_pipeline *p, const nnp_model *m, const nnp_dataset *d,
                        nnp_err *err);
/* The selection under max_drop judged on the fine-tuned accuracies. */
int nnp_pipeline_ft_select(nnp_pipeline *p, nnp_err *err);

#endif
