/* nnprune prune: the command's settings, and what it prints and judges after
 * the pipeline ran (cmd_prune_report.c). */
#ifndef NNP_CMD_PRUNE_H
#define NNP_CMD_PRUNE_H

#include "cli.h"
#include "cli_model.h"
#include "finetune.h"
#include "prune_iter.h"
#include "nnprune/pipeline.h"

typedef struct prune_cfg {
	const char *out;
	cli_method me;             /* --method, --compensate, --lambda, --calib... */
	double keep;               /* NAN: not given */
	const char *widths_text;   /* --widths as given; NULL: not given */
	cli_widths widths;         /* parsed by check_args */
	cli_target target;         /* text NULL: not given */
	double mean_thr, std_thr;  /* NAN: not given */
	uint64_t min_keep, mem_limit;
	int min_keep_set, quiet;
	nnp_format format;         /* 0: from OUT's extension */
	cli_output oo;             /* --eval, the gates, --best */
	int json;
	cli_data data;
	cli_model model;           /* import options (--output-kind: -o is OUT) */
	cli_finetune ft;           /* --finetune DATA: OUT is the slimmed model fine-tuned */
	cli_sparse sp;             /* --sparsity, --scope (magnitude) */
	prune_iter it;             /* --iterative and its conditions */
} prune_cfg;

/* The one-line summary on stdout: method, budget, widths and sizes. */
void prune_summary(const prune_cfg *c, const nnp_model *m, const char *model_path,
                   const nnp_pipeline *pl);
/* After --finetune: the model against the original fine-tuned the same way. */
void prune_ft_summary(const prune_cfg *c, const nnp_pipeline *pl, const char *model_path);
/* The gates judged on the model written at OUT, --best, --json; an exit code,
 * or -1 after an error in *err. */
int prune_judge(const prune_cfg *c, nnp_pipeline *pl, const nnp_model *m, const char *model_path,
                nnp_format fmt, nnp_err *err);

#endif
