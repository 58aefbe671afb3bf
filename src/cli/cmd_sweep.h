/*
 * nnprune sweep (command line): its options once parsed, shared by the
 * command (cmd_sweep.c: parse, call the pipeline) and its printing
 * (cmd_sweep_report.c: reports, table, verdict).
 */
#ifndef NNP_CLI_CMD_SWEEP_H
#define NNP_CLI_CMD_SWEEP_H

#include "cli.h"
#include "cli_model.h"
#include "finetune.h"
#include "nnprune/pipeline.h"

typedef struct sweep_cfg {
	const char *stats_path, *out_dir, *model_path, *data_path, *labels_path;
	const char *means_text, *stds_text;
	uint64_t min_keep, mem_limit, calib_mem_limit;
	int fold, json, quiet;
	nnp_format format;     /* 0: as the input model */
	unsigned threads;
	cli_finetune ft;       /* --finetune DATA and its options */
	int ft_pareto;
	/* the method */
	cli_method me;         /* --method, --compensate (set by check_method), --calib... */
	int means_set, min_keep_set;
	const char *keep_text, *targets_text, *widths_text;
	int allocate;
	int no_wait;           /* --no-wait: fail (exit 4) if another run holds DIR */
	cli_model model;       /* import options for a weights-only MODEL (as given to stats) */
	cli_output oo;         /* --eval, the gates, --write, --best, --shard */
	cli_sparse sp;         /* --sparsity, --scope (magnitude) */
} sweep_cfg;

/* Writes the reports to cfg->out_dir, prints the table (or JSON) and the
 * --max-drop verdict, writes --best; returns the exit code. */
int sweep_report(const sweep_cfg *cfg, nnp_pipeline *pl, const nnp_model *m,
                 const char *model_path, const char *data_path, const nnp_stats_source *src,
                 const size_t *index_map, size_t n_total, nnp_err *err);

#endif
