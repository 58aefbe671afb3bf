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
#include "nnprune/gates.h"
#include "nnprune/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A path drawn as a line in report.svg beside the candidates: the models an
 * iterative run went through (prune --iterative's trace), step by step.
 * Arrays borrowed. */
typedef struct nnp_report_trace {
	size_t n;                  /* points, in step order */
	const size_t *params;      /* [n] */
	const double *accuracy;    /* [n] fractions in [0, 1]; NaN: not measured */
	const unsigned char *marked; /* [n] or NULL: points drawn hollow (fine-tuned) */
	size_t kept;               /* the point of the model written, ringed */
	const char *label;         /* its legend entry; NULL: "path" */
} nnp_report_trace;

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
	/* Fine-tuning. When the original or any candidate has `ft.done` set,
	 * every output gains the fine-tuned figures (table, Markdown and CSV
	 * columns, a "finetune" object per model in JSON, hollow points in
	 * report.svg), and `best` and `max_drop` are taken to judge the
	 * fine-tuned accuracy against the original's. Otherwise these are unused
	 * and the outputs are exactly those of a sweep without fine-tuning. */
	size_t ft_epochs;         /* epochs every model was fine-tuned; >= 1 when any was */
	const char *ft_data_path; /* the training data; NULL prints as "-" */
	double ft_lr;             /* learning rate, for the record */
	uint64_t ft_seed;         /* shuffling seed, for the record */
	/* The recipe, for the record (JSON's "finetune" object, Markdown's
	 * fine-tuning line); ft_schedule NULL: not recorded (then none of these
	 * is written, as in reports made before they were). */
	const char *ft_schedule;  /* "oneshot" or "gradual" */
	const char *ft_optimizer; /* "adam", "sgd" */
	const char *ft_lr_schedule; /* "constant", "cosine" */
	double ft_distill_t;      /* the distillation's temperature; NAN: none */
	double ft_distill_alpha;  /* its weight on the teacher's soft outputs */
	const char *ft_teacher;   /* the teacher's path; NULL: the original */
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
	/* Where the statistics came from. With held-out evaluation (--eval DATA),
	 * data_path and rows are the rows that judged and stats_data_path the
	 * rows the statistics were taken on; NULL: data_path itself. */
	const char *stats_path;      /* the statistics file; NULL prints as null */
	const char *stats_data_path; /* NULL: the evaluation data */
	uint64_t stats_rows;         /* 0: s->rows */
	/* The gates (NULL: max_drop alone, as before) and their verdict (NULL:
	 * none stated; best above stays the selected candidate either way). */
	const nnp_gates *gates;
	const nnp_gate_result *verdict;
	const char *write_mode;      /* "distinct", "all", ...; NULL prints as null */
	/* The files the run wrote in its directory (report.json "manifest"); NULL: null. */
	const nnp_manifest *manifest;
	/* A shard's partial report (sweep --shard I/N): its candidates are some
	 * of the whole sweep's, candidate i being index_map[i] there. */
	size_t shard_index, shard_count;  /* count 0: not a shard */
	const size_t *index_map;          /* [sw->n]; NULL: candidate i is i */
	size_t n_total;                   /* candidates of the whole sweep; 0: sw->n */
	/* [sw->n] each candidate's kept_crc32 when its kept set holds counts
	 * only (a report read back); NULL: computed from the kept indices. */
	const uint32_t *kept_crc;
	/* A path drawn in report.svg (both panels, with a legend entry); NULL:
	 * none, and the plot is exactly as without it. */
	const nnp_report_trace *trace;
} nnp_report_info;

/* Fills *info with the defaults: no paths, fold on, min_keep 1, no best, no
 * gate, no fine-tuning, the rule calibrated on the evaluation data. */
void nnp_report_info_init(nnp_report_info *info);

/* report.json's "version" (schema/nnprune.report.vN.json). 2: units in the
 * names (accuracy_drop_points, reduction_percent, param_bytes), nonzeros,
 * file_bytes, kept_crc32, duplicates never Pareto, gates, verdict,
 * statistics, shard, write and manifest. */
#define NNP_REPORT_JSON_VERSION 2

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
 * Writes report.md, report.csv, report.json, report.svg, stats.svg and
 * report.html into the existing directory dir, each atomically (temporary
 * file + rename).
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

/*
 * `prune --json`: one object, format "nnprune.prune" version 1
 * (schema/nnprune.prune.v1.json): the model, the output (out_path,
 * out_format), the method, the calibration, the evaluation (null unless
 * info->data_path is set, the held-out rows that judged: then the accuracy
 * figures are given, else null), the layers, the original and the pruned
 * model as report.json's models (sw has exactly one candidate, the pruned
 * model), the gates and the verdict (best 0 when the pruned model passes).
 * *out (malloc'd) belongs to the caller. Errors: as nnp_report_render;
 * NNP_EUSAGE when sw->n is not 1.
 */
int nnp_report_render_prune(char **out, size_t *len, const nnp_sweep *sw, const nnp_stats *s,
                            const nnp_report_info *info, const char *out_path,
                            const char *out_format, nnp_err *err);

/* report.json's kept_crc32: CRC-32 (zlib) of a kept set, every layer's kept
 * indices as u32 little-endian, each layer ended by 0xFFFFFFFF: equal kept
 * sets give equal values (and different ones, almost surely, different). */
uint32_t nnp_report_kept_crc(const nnp_keep *k);

#ifdef __cplusplus
}
#endif
#endif
