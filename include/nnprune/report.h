/*
 * nnprune: the sweep report. One sweep (the original plus every candidate)
 * rendered as an aligned terminal table, Markdown, CSV, JSON and two SVG
 * charts (accuracy against parameters; each hidden neuron's mean and std with
 * the threshold boxes of the sweep).
 *
 * Every output is a pure function of its inputs: no clock, no host name, no
 * randomness, so two runs give the same bytes. Numbers are printed with
 * printf in the "C" numeric locale (the front end never changes LC_NUMERIC).
 * JSON and CSV print every double with "%.12g": 12 significant digits keep
 * the thresholds exactly as nnp_parse_list rounded them and any accuracy of
 * a run of fewer than 10^11 rows, without the noise of "%.17g" (the one
 * exception: the fine-tuning learning rate, a float, prints with "%.7g").
 */
#ifndef NNPRUNE_REPORT_H
#define NNPRUNE_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "nnprune/nnp.h"
#include "nnprune/stats.h"
#include "nnprune/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The context a report states besides the sweep itself. Strings are borrowed. */
typedef struct nnp_report_info {
	const char *model_path;   /* as the user gave it; NULL prints as "-" */
	const char *model_name;   /* chart titles; NULL: the model file's base name */
	const char *data_path;    /* NULL prints as "-" */
	uint64_t rows;            /* rows evaluated; 0: sw->rows */
	int fold;                 /* 1 if removed neurons' means were folded into biases */
	size_t min_keep;
	size_t best;              /* selected candidate (index into sw->c) or NNP_NO_DUP */
	double max_drop;          /* the accuracy gate in points, or NAN when none was set */
	const char *version;      /* tool version printed; NULL: NNP_VERSION */
	/* Fine-tuning. When the original or any candidate has `finetuned` set,
	 * every output gains the fine-tuned figures (table, Markdown and CSV
	 * columns, a "finetune" object per model in JSON, hollow points in
	 * report.svg), and `best` and `max_drop` are taken to judge the
	 * fine-tuned accuracy against the original's. Otherwise these are unused
	 * and the outputs are exactly those of a sweep without fine-tuning. */
	size_t ft_epochs;         /* epochs every model was fine-tuned; >= 1 when any was */
	const char *ft_data_path; /* the training data; NULL prints as "-" */
	double ft_lr;             /* learning rate, for the record */
	uint64_t ft_seed;         /* shuffling seed, for the record */
	/* The pruning method and what it was computed on. method NULL (or "rule")
	 * with compensate NULL is the threshold sweep as it always was: folding
	 * from `fold`. A sweep of another method shows each candidate's budget
	 * (keep_frac, alloc_step, target_params) where a rule sweep shows its
	 * thresholds, and leaves out the rule's min_keep and floor. */
	const char *method;       /* "rule", "score" or "obs"; NULL: "rule" */
	const char *compensate;   /* "none", "fold" or "ls"; NULL: from fold */
	double lambda_rel;        /* the ridge strength relative to trace(C)/n; NAN: none used */
	const char *calib_path;   /* the calibration data; NULL: the evaluation data itself */
	uint64_t calib_rows;      /* rows of calib_path used */
} nnp_report_info;

/* Fills *info with the defaults: no paths, fold on, min_keep 1, no best, no
 * gate, no fine-tuning, the rule calibrated on the evaluation data. */
void nnp_report_info_init(nnp_report_info *info);

/* What nnp_report_render produces. */
typedef enum nnp_report_kind {
	NNP_REPORT_TABLE = 0,    /* aligned text table for a terminal */
	NNP_REPORT_MD = 1,       /* report.md: header list + table */
	NNP_REPORT_CSV = 2,      /* report.csv: one row per model, the original first */
	NNP_REPORT_JSON = 3,     /* report.json: format "nnprune-report", version 1 */
	NNP_REPORT_SVG = 4,      /* report.svg: accuracy against parameters */
	NNP_REPORT_STATS_SVG = 5 /* stats.svg: (mean, std) of every hidden neuron */
} nnp_report_kind;

#define NNP_REPORT_KINDS 6

/* "report.md", "report.csv", ...; NULL for NNP_REPORT_TABLE or an unknown kind. */
const char *nnp_report_file_name(nnp_report_kind kind);

/*
 * Renders one output to a malloc'd, NUL-terminated text (*out, owned by the
 * caller; *len, which may be NULL, excludes the NUL). s gives the original's
 * layer widths and the stats chart's points; it must describe the hidden
 * layers the sweep's keeps refer to.
 * Errors: NNP_EUSAGE when the inputs disagree (naming the candidate and what,
 * e.g. fine-tuned results with ft_epochs 0), NNP_ENOMEM. *out is NULL on error.
 */
int nnp_report_render(char **out, size_t *len, nnp_report_kind kind, const nnp_sweep *sw,
                      const nnp_stats *s, const nnp_report_info *info, nnp_err *err);

/*
 * Prints the terminal table to fp: the original first, then every candidate;
 * numbers right-aligned, every line the same width.
 * Errors: as nnp_report_render, and NNP_EOUTPUT if writing to fp fails.
 */
int nnp_report_table(FILE *fp, const nnp_sweep *sw, const nnp_stats *s,
                     const nnp_report_info *info, nnp_err *err);

/*
 * Writes report.md, report.csv, report.json, report.svg and stats.svg into
 * the existing directory dir, each atomically (temporary file + rename).
 * Everything is rendered before the first file is written, so a rendering
 * error leaves the directory untouched.
 * Errors: as nnp_report_render; NNP_EOUTPUT naming the file that failed.
 */
int nnp_report_write(const char *dir, const nnp_sweep *sw, const nnp_stats *s,
                     const nnp_report_info *info, nnp_err *err);

/*
 * report.html: a self-contained page (no network): the run's facts, every
 * model in a table sortable by any column (inline script), report.svg and
 * stats.svg inline. *out (malloc'd, NUL-terminated) belongs to the caller;
 * *len (may be NULL) excludes the NUL. Errors: as nnp_report_render.
 */
int nnp_report_render_html(char **out, size_t *len, const nnp_sweep *sw, const nnp_stats *s,
                           const nnp_report_info *info, nnp_err *err);

/* Writes dir/report.html atomically. Errors: as nnp_report_render_html,
 * NNP_EOUTPUT naming the file. */
int nnp_report_write_html(const char *dir, const nnp_sweep *sw, const nnp_stats *s,
                          const nnp_report_info *info, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
