/*
 * nnprune prune --iterative (prune_iter.c): its options and the run. The
 * held-out rows are a slice of the calibration rows, never the rows a
 * report judges.
 */
#ifndef NNP_CLI_PRUNE_ITER_H
#define NNP_CLI_PRUNE_ITER_H

#include "cli.h"
#include "finetune.h"
#include "nnprune/model.h"

enum { CLI_I_ITERATIVE = 1600, CLI_I_STEP, CLI_I_UNTIL_DROP, CLI_I_MIN_NEURONS, CLI_I_HOLDOUT,
       CLI_I_TRACE, CLI_I_FT_EVERY };
#define CLI_OPT_ITERATIVE \
	{ "iterative", 0, 0, CLI_I_ITERATIVE }, { "step", 0, 1, CLI_I_STEP }, \
	{ "until-drop", 0, 1, CLI_I_UNTIL_DROP }, { "min-neurons", 0, 1, CLI_I_MIN_NEURONS }, \
	{ "holdout", 0, 1, CLI_I_HOLDOUT }, { "trace", 0, 1, CLI_I_TRACE }, \
	{ "finetune-every", 0, 1, CLI_I_FT_EVERY }
#define PRUNE_ITER_DEFAULT_HOLDOUT 10.0

typedef struct prune_iter {
	int on;                    /* --iterative */
	const char *first;         /* the first iterative option given, for a usage error */
	size_t step;               /* --step N (0: see step_percent) */
	double step_percent;       /* --step P% */
	double until_drop;         /* NAN: not given */
	uint64_t min_neurons;      /* 0: not given (1) */
	double holdout;            /* percent of the calibration rows, the last ones */
	int holdout_set;
	const char *trace;         /* NULL: OUT.trace.csv */
	uint64_t finetune_every;   /* 0: no fine-tuning between steps */
} prune_iter;

void prune_iter_init(prune_iter *it);
int prune_iter_is_option(int id);
/* Handles a CLI_I_* option; 0, or -1 after a usage error. */
int prune_iter_arg(const cli_parser *p, prune_iter *it, int id, const char *arg);
/* The help lines of the iterative options. */
void prune_iter_help(void);
/* With --iterative: --finetune DATA and --finetune-every K go together, the
 * other fine-tuning options need them, no gradual schedule. -1 after a
 * usage error. */
int prune_iter_check_ft(const cli_parser *p, const prune_iter *it, const cli_finetune *ft,
                        nnp_method method);

/* What prune hands over once its options are checked. */
typedef struct prune_iter_run {
	const char *model_path, *out;
	uint32_t model_crc;
	const cli_method *me;
	const nnp_data_opts *data;  /* the calibration rows' reader options */
	uint64_t mem_limit;
	const char *target_text;    /* --target-params as given, or NULL */
	size_t target_params;       /* 0: none */
	double target_percent;      /* 0: none */
	nnp_format format;
	int quiet;
	const char *eval, *eval_labels; /* --eval DATA: the held-out rows; NULL: --holdout */
	const cli_finetune *ft;     /* --finetune DATA and its settings (with --finetune-every) */
} prune_iter_run;

/* "512-256-128": m's hidden widths (cmd_prune.c). */
void prune_widths_text(const nnp_model *m, char *buf, size_t size);

/* Runs the loop on m and writes OUT, the trace CSV and its SVG; an exit code. */
int prune_iterative(const prune_iter *it, const prune_iter_run *r, const nnp_model *m);

#endif
