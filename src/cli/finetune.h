/*
 * nnprune command line: the fine-tuning defaults `finetune` shares with
 * `sweep --finetune` (the work itself is the library's: nnprune/pipeline.h).
 */
#ifndef NNP_CLI_FINETUNE_H
#define NNP_CLI_FINETUNE_H

#include "nnprune/pipeline.h"

/* The input scale a model was trained with (nnp_provenance_scale). */
static inline float cli_provenance_scale(const nnp_model *m)
{
	return nnp_provenance_scale(m);
}

/* Fine-tuning's default learning rate (nnp_finetune_default_lr). */
static inline float cli_finetune_default_lr(nnp_optimizer o)
{
	return nnp_finetune_default_lr(o);
}

#endif
