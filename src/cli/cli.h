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
#include "nnprune/gates.h"
#include "nnprune/io.h"
#include "nnprune/method.h"
#include "nnprune/model.h"
#include "nnprune/pipeline.h"
#include "nnprune/prune.h"
#include "nnprune/stats.h"

/* One option a command accepts. */
typedef struct cli_opt {
	const char *name;  /* long name without "--" */
	char short_name;   /* 0 if none */
	int has_arg;       /* 1 if it takes a value */
	int id;            /* returned by cli_next */
} cli_opt;

/* Given by the documentation generator (doc.c) to a command instead of NULL:
 * the command's first cli_next records its option table and usage there and
 * returns CLI_ERROR at once, so the command prints nothing and does no work. */
typedef struct cli_probe {
	const cli_opt *opts;
	const char *usage;
} cli_probe;

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
	cli_probe *probe;      /* NULL, or where to record the tables (doc.c) */
} cli_parser;

enum { CLI_END = -1, CLI_ERROR = -2 };

/* Prepares a parser over argv[1..argc-1] (argv[0] is the command name);
 * probe: the command's own, NULL when it runs. */
int cli_init(cli_parser *p, int argc, char **argv, const cli_opt *opts,
             const char *cmd, const char *usage, cli_probe *probe);
void cli_done(cli_parser *p);
/* Next option id, CLI_END when all are read, CLI_ERROR after printing why. */
int cli_next(cli_parser *p, const char **arg);

/* Reads all of p's options (table opts; NULL: the one given to cli_init):
 * help_id prints help() and stops; any other goes to on(p, ctx, id, arg),
 * which returns 0, or -1 after a usage error. 1 after --help, 0 when all were
 * read, -1 after a usage error. */
int cli_parse_opts(cli_parser *p, const cli_opt *opts, int help_id, void (*help)(void),
                   int (*on)(cli_parser *p, void *ctx, int id, const char *arg), void *ctx);

/* cli_parse_opts (table from cli_init), then exactly n operands, what naming
 * them in the message ("expected WHAT, got K arguments"). 1 when the command
 * stops there with exit code *rc (0 after --help, else a usage error), 0 to
 * go on. */
int cli_parse_cmd(cli_parser *p, int help_id, void (*help)(void),
                  int (*on)(cli_parser *p, void *ctx, int id, const char *arg), void *ctx,
                  int n, const char *what, int *rc);

/* The closest of n names to word (edit distance, '_' taken as '-'), or NULL
 * when none is close enough to be a likely typo. */
const char *cli_suggest(const char *word, size_t len, const char *const *names, size_t n);

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
/* A comma list of sizes in [1, NNP_MAX_WIDTH] ("784,300,10"), at most max
 * of them, into sizes[*n]; example shows the form in the message. */
int cli_size_list(const cli_parser *p, const char *opt, const char *text, const char *example,
                  size_t max, size_t *sizes, size_t *n);
/* "--mem-limit"-style sizes: N, NK, NM or NG bytes. -1 after a usage error. */
int cli_parse_bytes(const cli_parser *p, const char *opt, const char *text, uint64_t *out);

/* Checks, before any work, that a file can be written at path: a non-empty
 * name, not a directory, in an existing writable directory. NNP_EOUTPUT. */
int cli_check_output(const char *path, nnp_err *err);

/* A --json object's head: {"format": "nnprune.KIND", "version": N}, N the
 * kind's schema version (json_out.c; schemas in schema/). NULL when out of
 * memory or KIND is unknown. */
struct cJSON *cli_json_begin(const char *kind);
/* Prints o on stdout and frees it; NNP_EXIT_OK, or an exit code after a message. */
int cli_json_print(struct cJSON *o);

/* Prints "nnprune: <msg>" for a core error and returns its exit code. */
int cli_fail(const nnp_err *err);

/* nnp_dir_lock_take's on_wait for the commands with --no-wait: says on
 * stderr which run holds the output directory and that this one waits. */
void cli_lock_wait(const char *dir, long pid, void *ctx);
/* nnp_pipeline_run for sweep and prune, with its progress on stderr
 * ("building candidates 3/40", "fine-tuning 2/5 models") when that is a
 * terminal and quiet is 0. NNP_EXIT_OK, or an exit code after the message:
 * an unreachable budget (NNP_EUSAGE) is the caller's number, said once with
 * usage; any other error as cli_fail says it. */
int cli_pipeline_run(const cli_parser *p, nnp_pipeline **pl, const nnp_model *m,
                     nnp_pipeline_opts *po, int quiet, nnp_err *err);

/* Data reader options shared by stats, eval, sweep, train, finetune. */
typedef struct cli_data {
	nnp_data_opts opts;
	unsigned threads;
	uint64_t batch;
} cli_data;

/* Option groups shared by commands take their ids by hundreds, so that one
 * command's table can hold several: 1000 data, 1100 model (cli_model.h),
 * 1200 method, 1300 output, 1400 fine-tuning (finetune.h), 1500 sparsity,
 * 1600 iterative pruning (prune_iter.h).
 * A command's own options count from 1. */
enum {
	CLI_DATA_LABELS = 1000, CLI_DATA_HEADER, CLI_DATA_LABEL_COL, CLI_DATA_NO_LABEL,
	CLI_DATA_DELIM, CLI_DATA_THREADS
};

/* The data options of commands that need labels, and of those that take
 * unlabelled data too (--no-label); the help lists exactly the table's. */
#define CLI_DATA_OPTIONS_LABELLED \
	{ "labels", 0, 1, CLI_DATA_LABELS }, { "header", 0, 1, CLI_DATA_HEADER }, \
	{ "label-col", 0, 1, CLI_DATA_LABEL_COL }, \
	{ "delimiter", 0, 1, CLI_DATA_DELIM }, { "threads", 'j', 1, CLI_DATA_THREADS }
#define CLI_DATA_OPTIONS CLI_DATA_OPTIONS_LABELLED, { "no-label", 0, 0, CLI_DATA_NO_LABEL }

#define CLI_DATA_HELP_HEAD \
	"Data options (CSV or IDX, plain or .gz, recognised by content):\n" \
	"  --labels FILE        IDX labels file for IDX images\n" \
	"  --header auto|yes|no  CSV header line (default auto)\n" \
	"  --label-col first|last|N|NAME  label column; N counts from 0 (default: a\n" \
	"                       header column named label, target, class or y, else\n" \
	"                       the first)\n"
#define CLI_DATA_HELP_TAIL \
	"  --delimiter C        CSV field separator (default ',')\n" \
	"  -j, --threads N      worker threads (default: all cores)\n"
#define CLI_DATA_HELP_LABELLED CLI_DATA_HELP_HEAD CLI_DATA_HELP_TAIL
#define CLI_DATA_HELP CLI_DATA_HELP_HEAD \
	"  --no-label           the data has no label column\n" CLI_DATA_HELP_TAIL

void cli_data_init(cli_data *d);
/* Handles a CLI_DATA_* option; returns 0, or -1 after a usage error. */
int cli_data_option(cli_parser *p, cli_data *d, int id, const char *arg);
/* After opening path: a label column the reader took by its header name
 * (NNP_LABEL_AUTO) is said on stderr unless quiet, and recorded in o as
 * NNP_LABEL_NAME (the name borrowed from r) so the statistics file names it. */
void cli_label_note(const nnp_reader *r, const char *path, nnp_data_opts *o, int quiet);

/* ---- shared by stats and eval (cmd_stats.c, cmd_stats_summary.c) ---- */
struct cli_model;
/* Loads MODEL and opens DATA checked against it. */
int cli_open_model_data(const char *model_path, const char *data_path, cli_data *d,
                        nnp_model **m, nnp_file_info *fi, nnp_reader **r, nnp_err *err,
                        const struct cli_model *mo);
/* nnp_run with a progress line on stderr (only when it is a terminal); rows
 * giving non-finite outputs are an error naming paths[0] (model) and paths[1]. */
int cli_run_shown(const nnp_model *m, nnp_reader *r, const cli_data *d, const char *what,
                  int quiet, nnp_stats **stats, nnp_metrics *mt, uint64_t *cm,
                  const char *const paths[2], nnp_err *err);
/* The statistics' summary after stats: JSON on stdout, or text unless quiet
 * (cmd_stats_summary.c); an exit code. */
int cli_stats_summary(const nnp_stats *s, const char *out, int json, int quiet);
/* "accuracy A%, LOSS L on N labelled rows" (or "no labels") on stdout
 * (cmd_stats_summary.c). */
void cli_print_metrics_line(const nnp_metrics *mt);

/* Progress on stderr, only when stderr is a terminal and not quiet. */
typedef struct cli_progress {
	int enabled;
	const char *what;
	uint64_t total_rows;  /* 0 if unknown */
} cli_progress;
void cli_progress_init(cli_progress *pr, const char *what, int quiet);
void cli_progress_cb(void *ctx, uint64_t rows, uint64_t bytes);
void cli_progress_end(cli_progress *pr);

/* ---- shared by prune and sweep (opt_budget.c, opt.c) ---- */

/* Kept counts per hidden layer, given: one or more sets of n_per sizes
 * ("160,160,96" or "160,160,96/192,128,96"), v[set * n_per + layer]. */
typedef struct cli_widths {
	const char *text;          /* as given; NULL: none */
	size_t *v;                 /* malloc'd */
	size_t n_sets, n_per;
} cli_widths;

/* Parses opt's LIST into w (w->text = text); at most max_sets sets, all of
 * one length. -1 after a usage error. Free with cli_widths_free. */
int cli_parse_widths(const cli_parser *p, const char *opt, const char *text, size_t max_sets,
                     cli_widths *w);
void cli_widths_free(cli_widths *w);
/* Each set against m: one count per hidden layer, none wider than its layer.
 * NNP_EUSAGE naming opt and the set. */
int cli_check_widths(const char *opt, const cli_widths *w, const nnp_model *m, nnp_err *err);


/* A parameter budget: "N" (at most N parameters) or "P%" (at most P percent
 * of the original's). */
typedef struct cli_target {
	char text[32];       /* as given ("" when not given) */
	size_t params;       /* N, or 0 for a percentage */
	double percent;      /* P in (0, 100], or 0 */
} cli_target;

/* Parses a budget for option opt; -1 after a usage error. */
int cli_parse_target(const cli_parser *p, const char *opt, const char *text, cli_target *t);

/* The --method lines of a help text, one per row of the criteria table;
 * dflt is marked as the default. */
void cli_print_methods(nnp_method dflt);

/* The options prune and sweep share about the method and its calibration
 * rows, declared once: each command places the entries in its table (so its
 * help and completion keep their order) and hands their ids to cli_method_arg. */
enum {
	CLI_M_METHOD = 1200, CLI_M_COMP, CLI_M_LAMBDA, CLI_M_ALLOC_STEP, CLI_M_CALIB,
	CLI_M_CALIB_LABELS, CLI_M_CALIB_ROWS
};
#define CLI_OPT_METHOD { "method", 0, 1, CLI_M_METHOD }
#define CLI_OPT_COMPENSATE { "compensate", 0, 1, CLI_M_COMP }
#define CLI_OPT_LAMBDA { "lambda", 0, 1, CLI_M_LAMBDA }
#define CLI_OPT_ALLOC_STEP { "allocate-step", 0, 1, CLI_M_ALLOC_STEP }
#define CLI_OPT_CALIB { "calib", 0, 1, CLI_M_CALIB }
#define CLI_OPT_CALIB_LABELS { "calib-labels", 0, 1, CLI_M_CALIB_LABELS }
#define CLI_OPT_CALIB_ROWS { "calib-rows", 0, 1, CLI_M_CALIB_ROWS }

typedef struct cli_method {
	nnp_method_opts mo;
	int method_set, comp_set, lambda_set, alloc_step_set;
	const char *calib, *calib_labels;   /* NULL: not given */
	uint64_t calib_rows;                /* 0: not given */
} cli_method;

void cli_method_init(cli_method *m, nnp_method dflt);
/* 1 if id is one of the CLI_M_* options. */
int cli_method_is_option(int id);
/* Handles a CLI_M_* option; 0, or -1 after a usage error. */
int cli_method_arg(const cli_parser *p, cli_method *m, int id, const char *arg);
/* The cross-checks both commands make (--lambda needs a ridge); -1 after a usage error. */
int cli_method_check(const cli_parser *p, const cli_method *m);
/* A comma list of budgets; *t is malloc'd (caller frees). -1 after a usage error. */
int cli_parse_targets(const cli_parser *p, const char *opt, const char *text, cli_target **t,
                      size_t *n);

#define CLI_MAX_BUDGETS 10000u

/* A list of fractions in (0, 1]: "0.5", "0.9,0.5", or ranges start:stop:step in
 * either direction, ends included ("0.9:0.1:0.1" is 0.9, 0.8, ..., 0.1), each
 * value start +- i*step rounded to 12 significant digits. *vals is malloc'd
 * (caller frees). -1 after a usage error naming opt. */
int cli_parse_fractions(const cli_parser *p, const char *opt, const char *text, double **vals,
                        size_t *n);
/* The budget in parameters for a model of params0 (a percentage rounds down). */
size_t cli_target_params(const cli_target *t, size_t params0);

/* The options prune and sweep share about what judges and what is kept
 * (opt_output.c): held-out evaluation, the gates, --write, --best, --shard;
 * declared once like cli_method, placed in each command's table. */
enum {
	CLI_O_EVAL = 1300, CLI_O_EVAL_LABELS, CLI_O_MAX_DROP, CLI_O_MIN_ACC, CLI_O_MAX_PARAMS,
	CLI_O_MAX_BYTES, CLI_O_WRITE, CLI_O_BEST, CLI_O_SHARD
};
#define CLI_OPT_EVAL { "eval", 0, 1, CLI_O_EVAL }, { "eval-labels", 0, 1, CLI_O_EVAL_LABELS }
#define CLI_OPT_GATES \
	{ "max-drop", 0, 1, CLI_O_MAX_DROP }, { "min-accuracy", 0, 1, CLI_O_MIN_ACC }, \
	{ "max-params", 0, 1, CLI_O_MAX_PARAMS }, { "max-bytes", 0, 1, CLI_O_MAX_BYTES }
#define CLI_OPT_BEST { "best", 0, 1, CLI_O_BEST }
#define CLI_OPT_WRITE { "write", 0, 1, CLI_O_WRITE }
#define CLI_OPT_SHARD { "shard", 0, 1, CLI_O_SHARD }

typedef struct cli_output {
	const char *eval, *eval_labels;    /* NULL: not given */
	nnp_gates gates;
	nnp_write_mode write;
	int write_set;
	const char *best;                  /* NULL: not given */
	uint64_t shard_i, shard_n;         /* shard_n 0: not a shard */
} cli_output;

/* The help lines of the group (sweep: with --write and --shard). */
void cli_output_help(int sweep);
void cli_output_init(cli_output *o);
int cli_output_is_option(int id);
/* Handles a CLI_O_* option; 0, or -1 after a usage error. */
int cli_output_arg(const cli_parser *p, cli_output *o, int id, const char *arg);
/* --best and --write best need a gate, --eval-labels needs --eval; -1 after a usage error. */
int cli_output_check(const cli_parser *p, const cli_output *o);
/* Says on stderr (unless quiet) which column of DATA at path is the label when
 * the reader finds it by its header name (cli_label_note), o left as is. */
int cli_note_label(const char *path, const nnp_data_opts *o, int quiet, nnp_err *err);
/* "I/N": shard I of N (0 <= I < N). -1 after a usage error naming opt. */
int cli_parse_shard(const cli_parser *p, const char *opt, const char *text, uint64_t *i,
                    uint64_t *n);
/* Before any work: --best PATH is free or an earlier --best (else exit 4). */
int cli_best_check(const cli_output *o, nnp_err *err);
/* After the judgment: the best written to --best PATH and marked (write(ctx)
 * writes it), or, when the gates failed, an earlier --best removed and said. */
int cli_best_finish(const cli_output *o, const nnp_gate_result *v, int quiet,
                    int (*write)(void *ctx, const char *path, nnp_err *err), void *ctx,
                    nnp_err *err);
/* Unstructured pruning (opt_sparse.c): --sparsity LIST, --scope layer|global|hidden
 * for --method magnitude; each command places the entries in its table. */
enum { CLI_S_SPARSITY = 1500, CLI_S_SCOPE };
#define CLI_OPT_SPARSITY { "sparsity", 0, 1, CLI_S_SPARSITY }, { "scope", 0, 1, CLI_S_SCOPE }
#define CLI_SPARSE_HELP \
	"  --sparsity LIST    --method magnitude: shares of the weights set to zero, one\n" \
	"                     candidate each (0.9 | 0.5,0.8,0.9 | 0.5:0.9:0.1); the\n" \
	"                     smallest |w| go, round(share x weights) of them (halves to\n" \
	"                     even), ties in the order layer, row, column; biases are\n" \
	"                     kept; the output layer is pruned like the others (every\n" \
	"                     class keeps its bias); no neuron is removed; written as\n" \
	"                     sparse files (CSR per layer where smaller)\n" \
	"                     an item with slashes is one candidate with a share per\n" \
	"                     weight layer, the output layer last, each in [0, 1]\n" \
	"                     (0.9/0.8/0.5/0 spares the output layer of a 3-hidden-layer\n" \
	"                     model; mixes with the others: 0.5,0.9/0.8/0.5/0); only\n" \
	"                     with --scope layer\n" \
	"  --scope layer|global|hidden  the share per layer (default); of all the\n" \
	"                     weights ranked across layers; or hidden: the share of all\n" \
	"                     the weights, the output layer kept dense and every other\n" \
	"                     layer losing the same share of its own (s x all / all but\n" \
	"                     the output layer's: 0.85 on 784-512-256-128-10 is\n" \
	"                     0.852/0.852/0.852/0)\n" \
	"  --compensate ls    (magnitude) refit each neuron's surviving weights and bias\n" \
	"                     by ridge least squares on the calibration rows, layer by\n" \
	"                     layer, to reproduce the original's pre-activations; zeros\n" \
	"                     stay zero (default none: the weights as they were)\n"

typedef struct cli_sparse {
	const char *text;          /* --sparsity as given; NULL: not given */
	double *v;                 /* malloc'd, n candidates: a share in (0, 1], or NAN
	                              when given per layer: */
	double **layers;           /*   [n] malloc'd: NULL, or n_layers[k] shares */
	size_t *n_layers;          /*   [n] */
	char **labels;             /*   [n] "--sparsity 0.9/0.8/0.5" of those, or NULL */
	size_t n;
	int scope, scope_set;      /* nnp_mag_scope */
} cli_sparse;

void cli_sparse_init(cli_sparse *s);
int cli_sparse_is_option(int id);
/* Handles a CLI_S_* option; 0, or -1 after a usage error. */
int cli_sparse_arg(const cli_parser *p, cli_sparse *s, int id, const char *arg);
/* With --method magnitude: --sparsity given (at most max_values), no neuron
 * budget (budget: the first given, or NULL), compensation none (set), shares
 * per layer only in the layer scope; with another method, no --sparsity or
 * --scope. -1 after a usage error. */
int cli_sparse_check(const cli_parser *p, cli_sparse *s, cli_method *me, const char *budget,
                     size_t max_values);
/* Candidate k as a SPARSITY specification (its shares and label borrowed
 * from s; label NULL for a single share). */
void cli_sparse_spec(const cli_sparse *s, size_t k, nnp_spec *spec);
void cli_sparse_free(cli_sparse *s);

/* The command table (doc.c), ended by a NULL name. */
typedef struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv, cli_probe *probe);
	const char *summary;
} cli_command;
extern const cli_command cli_commands[];
/* The top-level usage text. */
void cli_main_usage(FILE *fp);

/* The man page nnprune(1) in roff, from the command table and each
 * command's --help (doc.c); 0, or -1 when a help text could not be read. */
int cli_write_man(FILE *fp);

/* The subcommands. argv[0] is the command name. Each returns an exit code. */
int cmd_info(int argc, char **argv, cli_probe *probe);
int cmd_convert(int argc, char **argv, cli_probe *probe);
int cmd_stats(int argc, char **argv, cli_probe *probe);
int cmd_eval(int argc, char **argv, cli_probe *probe);
int cmd_sweep(int argc, char **argv, cli_probe *probe);
int cmd_prune(int argc, char **argv, cli_probe *probe);
int cmd_train(int argc, char **argv, cli_probe *probe);
int cmd_finetune(int argc, char **argv, cli_probe *probe);
int cmd_lottery(int argc, char **argv, cli_probe *probe);
int cmd_bench(int argc, char **argv, cli_probe *probe);
int cmd_completion(int argc, char **argv, cli_probe *probe);
int cmd_report(int argc, char **argv, cli_probe *probe);

#endif
