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
#include "nnprune/io.h"
#include "nnprune/method.h"
#include "nnprune/model.h"
#include "nnprune/prune.h"
#include "nnprune/stats.h"

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

/* Set by the documentation generator (doc.c): the next cli_next records the
 * command's option table and usage here and returns CLI_ERROR at once, so a
 * command called with it set prints nothing and does no work. */
typedef struct cli_probe {
	const cli_opt *opts;
	const char *usage;
} cli_probe;
extern cli_probe *cli_probing;

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

/* ---- shared by prune and sweep (provenance.c) ---- */

/* Calibration rows: what the pruning methods' statistics and refits are
 * computed on; held in memory when they fit the memory limit, else read from
 * the file again at every pass. */
#define CLI_CALIB_MEM_LIMIT ((uint64_t)64 << 20)  /* the limit's default: 64 MiB */
typedef struct cli_calib {
	const char *path;          /* borrowed */
	const char *labels_path;   /* borrowed; NULL if none */
	uint64_t bytes;            /* the file's size and CRC-32, for the provenance */
	uint32_t crc32;
	uint64_t max_rows;         /* 0: every row was read */
	size_t rows;               /* the calibration rows */
	int streamed;              /* 1: not in memory, read from path with opts */
	nnp_file_stamp stamp;      /* the file's version that bytes, crc32 and rows describe */
	nnp_data_opts opts;        /* the reader's options (strings borrowed) */
	nnp_dataset *d;            /* owned; NULL when view borrows rows held elsewhere */
	nnp_dataset view;          /* in memory: the rows without their labels (borrowed
	                              arrays): what the methods and statistics runs see */
} cli_calib;

/* Takes the first max_rows rows (0: all) of path with opts, checking the
 * feature count against `features`; labels are read when present but never
 * checked or used. The file is read through once to count the rows (a bad row
 * is an error before any work); rows that need at most mem_limit bytes (0:
 * none do) are then held in memory, the others streamed. Errors: the
 * reader's, "no data rows", NNP_ENOMEM, a file that changed meanwhile. Free
 * with cli_calib_free (also after a failure). */
int cli_calib_load(cli_calib *c, const char *path, const nnp_data_opts *opts, size_t features,
                   uint64_t max_rows, uint64_t mem_limit, nnp_err *err);
void cli_calib_free(cli_calib *c);
/* NNP_EINPUT if the calibration file is no longer the version loaded. */
int cli_calib_unchanged(const cli_calib *c, nnp_err *err);
/* A pruning context over the calibration rows, held or streamed. */
int cli_calib_method_ctx(nnp_method_ctx **out, const nnp_model *m, const cli_calib *c,
                         const nnp_method_opts *mo, nnp_err *err);
/* The per-neuron statistics of m over the calibration rows (labels unused). */
int cli_calib_stats(nnp_stats **out, const nnp_model *m, const cli_calib *c,
                    const nnp_run_opts *ro, nnp_err *err);

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

/* The method options prune and sweep share: which is 'm' (--method), 'c'
 * (--compensate) or 'l' (--lambda). Returns 0, or -1 after a usage error. */
int cli_method_option(const cli_parser *p, int which, const char *arg, nnp_method_opts *mo);
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

#define CLI_PROV_NONE ((size_t)-1)

/* What a pruned model's provenance records; cli_prov_init leaves every
 * optional item out. Strings and pointers are borrowed. */
typedef struct cli_prov {
	const nnp_model *src;      /* its provenance becomes "previous"; may be NULL */
	const char *src_path;
	uint32_t src_crc;
	const char *method;        /* "rule", "score", "obs" */
	const char *compensate;    /* NULL: not recorded */
	double lambda_rel;         /* NAN: not recorded */
	const cli_calib *calib;    /* NULL: not recorded */
	double mean_thr, std_thr;  /* the rule's thresholds; NAN: none */
	double keep_frac;          /* budget: fraction kept per layer; NAN: none */
	const size_t *widths;      /* budget: neurons kept per hidden layer; NULL: none */
	size_t n_widths;
	size_t target_params;      /* budget: --target-params in parameters; CLI_PROV_NONE: none */
	const char *target_text;   /*   and as given */
	size_t alloc_step;         /* budget: 0-based step of the allocation path; CLI_PROV_NONE: none */
	double grid_step;          /*   and the allocation grid's step */
	int fold;                  /* the rule's "fold" flag: 0 or 1, < 0: not recorded */
	size_t min_keep;           /* CLI_PROV_NONE: not recorded */
	const nnp_keep *kept;      /* the kept indices per hidden layer */
} cli_prov;

void cli_prov_init(cli_prov *p);

/* The provenance JSON (compact, malloc'd; NULL when out of memory). Keys in
 * order: tool, operation "prune", method, compensate, lambda_rel, source,
 * calibration, thresholds, budget, fold, min_keep, kept, previous; a rule
 * sweep that sets only the rule's items writes exactly what it always did. */
char *cli_provenance_prune(const cli_prov *p);

/* The command table (main.c), ended by a NULL name. */
typedef struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cli_command;
extern const cli_command cli_commands[];
/* The top-level usage text. */
void cli_main_usage(FILE *fp);

/* The man page nnprune(1) in roff, from the command table and each
 * command's --help (doc.c); 0, or -1 when a help text could not be read. */
int cli_write_man(FILE *fp);

/* The subcommands. argv[0] is the command name. Each returns an exit code. */
int cmd_info(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_completion(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
