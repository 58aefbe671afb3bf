/*
 * nnprune: a run's output directory. The names of the report files, the
 * manifest of the files a run wrote there (report.json's "manifest"), the
 * removal of the previous run's files by that manifest, and the guard of
 * --best PATH. The pipeline takes the directory and cleans it; the report
 * layer (include/nnprune/report.h) writes the manifest into report.json.
 */
#ifndef NNPRUNE_MANIFEST_H
#define NNPRUNE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/nnp.h"
#include "nnprune/sweep.h"

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

/* "report.md", "report.csv", ...; NULL for NNP_REPORT_TABLE or an unknown kind. */
const char *nnp_report_file_name(nnp_report_kind kind);

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
 * model file of sw (file and ft.file of the original and of each candidate,
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
