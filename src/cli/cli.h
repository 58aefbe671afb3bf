/*
 * nnprune command-line front end: shared option parsing and reporting. Only
 * this layer prints and chooses exit codes; the core returns statuses.
 */
#ifndef NNP_CLI_H
#define NNP_CLI_H

#include <stdint.h>
#include <stdio.h>
#include "nnprune/nnp.h"
#include "nnprune/data.h"

/* One option a command accepts. */
typedef struct cli_opt {
	const char *name;  /* long name without "--" */
	char short_name;   /* 0 if none */
	int has_arg;       /* 1 if it takes a value */
	int id;            /* returned by cli_next */
} cli_opt;

/* Walks argv: options anywhere, "--" ends them, the rest are operands. */
typedef struct cli_parser {
	int argc;
	char **argv;
	int i;                 /* next argv index */
	const cli_opt *opts;
	const char *cmd;       /* for messages */
	const char *usage;     /* one-line usage, printed after a usage error */
	char **operands;       /* collected operands (points into argv) */
	int n_operands;
	int no_more_opts;
} cli_parser;

enum { CLI_END = -1, CLI_ERROR = -2 };

/* Prepares a parser over argv[1..argc-1] (argv[0] is the command name). */
int cli_init(cli_parser *p, int argc, char **argv, const cli_opt *opts,
             const char *cmd, const char *usage);
void cli_done(cli_parser *p);
/* Next option id, CLI_END when all are read, CLI_ERROR after printing why. */
int cli_next(cli_parser *p, const char **arg);

/* Prints "nnprune: CMD: message" and the usage line on stderr; returns NNP_EXIT_USAGE. */
int cli_usage_error(const cli_parser *p, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* Strict number parsing: the whole text must be consumed, in range, finite.
 * On failure prints a usage error naming the option and returns -1. */
int cli_double(const cli_parser *p, const char *opt, const char *text, double lo,
               double hi, double *out);
int cli_size(const cli_parser *p, const char *opt, const char *text, uint64_t lo,
             uint64_t hi, uint64_t *out);

/* Prints "nnprune: <msg>" for a core error and returns its exit code. */
int cli_fail(const nnp_err *err);

/* Data reader options shared by stats, eval, sweep, train, finetune. */
typedef struct cli_data {
	nnp_data_opts opts;
	unsigned threads;
	uint64_t batch;
} cli_data;

enum {
	CLI_DATA_LABELS = 1000, CLI_DATA_HEADER, CLI_DATA_LABEL_COL, CLI_DATA_NO_LABEL,
	CLI_DATA_DELIM, CLI_DATA_THREADS
};

#define CLI_DATA_OPTIONS \
	{ "labels", 0, 1, CLI_DATA_LABELS }, { "header", 0, 1, CLI_DATA_HEADER }, \
	{ "label-col", 0, 1, CLI_DATA_LABEL_COL }, { "no-label", 0, 0, CLI_DATA_NO_LABEL }, \
	{ "delimiter", 0, 1, CLI_DATA_DELIM }, { "threads", 'j', 1, CLI_DATA_THREADS }

#define CLI_DATA_HELP \
	"Data options (CSV or IDX, plain or .gz, recognised by content):\n" \
	"  --labels FILE        IDX labels file for IDX images\n" \
	"  --header auto|yes|no CSV header line (default auto)\n" \
	"  --label-col first|last|N|NAME  label column; N counts from 0 (default first)\n" \
	"  --no-label           the data has no label column (statistics only)\n" \
	"  --delimiter C        CSV field separator (default ',')\n" \
	"  -j, --threads N      worker threads (default: all cores)\n"

void cli_data_init(cli_data *d);
/* Handles a CLI_DATA_* option; returns 0, or -1 after a usage error. */
int cli_data_option(cli_parser *p, cli_data *d, int id, const char *arg);
/* Writes the options as in the statistics file ("first", "last", "3", "name:x"). */
const char *cli_header_name(nnp_header_mode h);

/* Progress on stderr, only when stderr is a terminal and not quiet. */
typedef struct cli_progress {
	int enabled;
	const char *what;
	uint64_t total_rows;  /* 0 if unknown */
} cli_progress;
void cli_progress_init(cli_progress *pr, const char *what, int quiet);
void cli_progress_cb(void *ctx, uint64_t rows, uint64_t bytes);
void cli_progress_end(cli_progress *pr);

/* The subcommands. argv[0] is the command name. Each returns an exit code. */
int cmd_info(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
