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

#ifdef __cplusplus
extern "C" {
#endif

/* The files one run wrote in its output directory: report.json's "manifest",
 * read back by the next run to remove exactly those (nnp_manifest_clean). */
#define NNP_MANIFEST_ANY_SIZE UINT64_MAX

typedef struct nnp_manifest_entry {
	char *name;      /* relative to the directory, '/'-separated, owned */
	uint64_t bytes;  /* its size as written; NNP_MANIFEST_ANY_SIZE for the report
	                    files, which every run rewrites */
} nnp_manifest_entry;

typedef struct nnp_manifest {
	size_t n, cap;
	nnp_manifest_entry *e;
} nnp_manifest;

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
} nnp_report_info;

/* Fills *info with the defaults: no paths, fold on, min_keep 1, no best, no
 * gate, no fine-tuning, the rule calibrated on the evaluation data. */
void nnp_report_info_init(nnp_report_info *info);

/* What nnp_report_render produces. */
typedef enum nnp_report_kind {
	NNP_REPORT_TABLE = 0,    /* aligned text table for a terminal */
	NNP_REPORT_MD = 1,       /* report.md: header list + table */
	NNP_REPORT_CSV = 2,      /* report.csv: one row per model, the original first */
	NNP_REPORT_JSON = 3,     /* report.json: format "nnprune-report", version 2 */
	NNP_REPORT_SVG = 4,      /* report.svg: accuracy against parameters */
	NNP_REPORT_STATS_SVG = 5 /* stats.svg: (mean, std) of every hidden neuron */
} nnp_report_kind;

#define NNP_REPORT_KINDS 6

/* report.json's "version" (schema/nnprune.report.vN.json). 2: units in the
 * names (accuracy_drop_points, reduction_percent, param_bytes), nonzeros,
 * file_bytes, kept_crc32, duplicates never Pareto, gates, verdict,
 * statistics, shard, write and manifest. */
#define NNP_REPORT_JSON_VERSION 2

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

/* ---- the run's files: manifest, previous run, --best ---- */

/* Frees the entries (m itself is the caller's); NULL is allowed. */
void nnp_manifest_free(nnp_manifest *m);

/* 1 if name can be a manifest entry: relative, '/'-separated, no empty, "."
 * or ".." component (so it never leaves the directory by its text). */
int nnp_manifest_name_ok(const char *name);

/* Adds (or updates) one entry. Errors: NNP_EUSAGE (a name nnp_manifest_name_ok
 * refuses), NNP_ENOMEM. */
int nnp_manifest_add(nnp_manifest *m, const char *name, uint64_t bytes, nnp_err *err);

/*
 * The manifest of a run that wrote its models and reports into dir: every
 * model file of sw (file and ft_file of the original and of each candidate,
 * each once) whose path lies inside dir (by its text: "dir/x.bin"), with its
 * size on disk now, then the six report files (report.md, report.csv,
 * report.svg, stats.svg, report.html, report.json) with NNP_MANIFEST_ANY_SIZE.
 * Files outside dir (a --best PATH elsewhere) are not listed. Call it after
 * the models are written and before nnp_report_write, and give it to the
 * report through info->manifest. Errors: NNP_EINPUT (a file cannot be
 * stat'ed), NNP_ENOMEM. Entries are appended to m (start from {0}).
 */
int nnp_manifest_of_run(nnp_manifest *m, const char *dir, const nnp_sweep *sw, nnp_err *err);

/*
 * Reads dir/report.json's manifest into *m (caller frees with
 * nnp_manifest_free). No report.json, one that is not "nnprune-report", or
 * one without a manifest (version 1): an empty manifest and NNP_OK.
 * Errors: NNP_EINPUT naming the file and the entry when the manifest is
 * malformed or names a path outside dir ("/x", "../x", "a/../b"), before
 * anything is removed; NNP_ENOMEM.
 */
int nnp_manifest_read(nnp_manifest *m, const char *dir, nnp_err *err);

/*
 * Before a new run writes into dir (holding its lock): removes exactly the
 * files dir/report.json's manifest lists, report.json last. A file is removed
 * only while it is still the run's: a regular file (not a link, directory or
 * device), reached through real directories, of the size listed (the report
 * files, listed without a size, whatever their size). Missing files are
 * skipped; files that are no longer the run's are left and listed in *left
 * (may be NULL; caller frees) for the front end to mention. *removed (may be
 * NULL) counts the files removed. Nothing outside the manifest is touched.
 * Errors: nnp_manifest_read's (nothing removed then); NNP_EOUTPUT naming a
 * file that could not be removed.
 */
int nnp_manifest_clean(const char *dir, size_t *removed, nnp_manifest *left, nnp_err *err);

/*
 * --best PATH. A model nnprune writes at PATH is marked by a sidecar
 * PATH.nnprune.json ({"format": "nnprune-best", "version": 1, "file",
 * "bytes", "crc32"}), which recognises it later in any model format.
 *
 * nnp_best_check, before any work: NNP_OK when nothing is at PATH (*ours 0)
 * or when PATH is a regular file whose size and CRC-32 its sidecar records
 * (*ours 1: an earlier --best, replaced or removed by this run); otherwise
 * NNP_EOUTPUT "PATH: exists and is not a model an earlier --best wrote ...".
 *
 * nnp_best_mark, after the model is written at PATH: writes the sidecar
 * (atomically). Errors: NNP_EINPUT (PATH unreadable), NNP_EOUTPUT.
 *
 * nnp_best_remove, when the gate failed: removes PATH and its sidecar if
 * they are an earlier --best (*removed 1); nothing else. Errors:
 * nnp_best_check's, NNP_EOUTPUT.
 */
int nnp_best_check(const char *path, int *ours, nnp_err *err);
int nnp_best_mark(const char *path, nnp_err *err);
int nnp_best_remove(const char *path, int *removed, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
