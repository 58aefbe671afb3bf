/*
 * nnprune (private): the pipeline's steps after the candidates are built
 * (pipeline_write.c), called by nnp_pipeline_run (pipeline.c).
 */
#ifndef NNPRUNE_PIPELINE_PRIV_H
#define NNPRUNE_PIPELINE_PRIV_H

#include "nnprune/pipeline.h"

/* Reads the fine-tuning rows (labelled), before anything is written. */
int nnp_pipeline_ft_load(nnp_pipeline *p, nnp_err *err);
/* Takes the output directory (made, locked) and removes its previous run's files. */
int nnp_pipeline_take_dir(nnp_pipeline *p, nnp_err *err);
/* Fine-tunes (when asked), measures, judges and writes the planned models. */
int nnp_pipeline_finish(nnp_pipeline *p, const nnp_model *m, const nnp_dataset *d,
                        nnp_err *err);
/* Fine-tunes the original and the chosen candidates, scores and writes them. */
int nnp_pipeline_ft_run(nnp_pipeline *p, const nnp_model *m, const nnp_dataset *d,
                        nnp_err *err);

#endif
