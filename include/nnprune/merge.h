/*
 * nnprune: combining the partial reports of a sharded sweep (`sweep --shard
 * I/N` writes one report.json per shard, each holding some of the sweep's
 * candidates) into the report one run would have written.
 */
#ifndef NNPRUNE_MERGE_H
#define NNPRUNE_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/nnp.h"
#include "nnprune/gates.h"
#include "nnprune/report.h"
#include "nnprune/stats.h"
#include "nnprune/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A merged sweep and what its report states; everything owned by it. */
typedef struct nnp_report_merged {
	nnp_sweep *sw;            /* every candidate of the sweep, in index order */
	nnp_report_info info;     /* strings and arrays point into this object */
	nnp_gates gates;          /* the parts' gates (info.gates points here) */
	nnp_gate_result verdict;  /* filled by nnp_report_merge_judge */
	uint32_t *kept_crc;       /* [sw->n] (info.kept_crc) */
	void *doc;                /* the first part, parsed: info's strings point into it */
	size_t n_parts;
	int rule;                 /* 1: a rule sweep on the evaluation data's statistics,
	                             whose kept sets were rebuilt from the statistics */
} nnp_report_merged;

/*
 * Reads the parts (report.json files, format "nnprune-report" version 2,
 * each a shard's or one whole run's) and combines them: every candidate
 * index of the sweep (0 .. candidates_total - 1) must come from exactly one
 * part. All parts must agree on everything but their candidates, shard index
 * and manifest: the model, the data and its rows, the statistics, the
 * method and its options, the layers, the original's figures, the gates,
 * the fine-tuning and the write mode; the first that differs is refused,
 * naming the part and the field ("b/report.json: \"data\" differs from
 * a/report.json's").
 *
 * s must be the statistics the sweep used (its layers must match the
 * parts'). For a rule sweep on the evaluation data's statistics each kept
 * set is rebuilt from s and its CRC checked against the part's
 * kept_crc32 (so the statistics are the same), which gives stats.svg the
 * best's neurons; otherwise kept sets hold their counts only.
 *
 * Duplicates are found again across parts by kept set (equal counts and
 * kept_crc32): a later one becomes same_as the first, with its figures, and
 * with --write distinct, pareto or best its file too (so the report reads as
 * one run's; the file the later shard wrote stays, unlisted). With --write
 * all (or none recorded) each keeps its own file. The Pareto marks are computed
 * again. The best is not chosen here: nnp_report_merge_judge.
 * Caller owns *out (nnp_report_merged_free).
 * Errors: NNP_EINPUT naming the part (unreadable, not a version 2 report,
 * disagreeing, missing or repeated candidates), NNP_ENOMEM.
 */
int nnp_report_merge(nnp_report_merged **out, const char *const *parts, size_t n_parts,
                     const nnp_stats *s, nnp_err *err);

/* Judges the merged sweep by g (NULL: the parts' gates), setting info.best,
 * info.gates and info.verdict. Errors: nnp_gates_judge's. */
int nnp_report_merge_judge(nnp_report_merged *m, const nnp_gates *g, nnp_err *err);

void nnp_report_merged_free(nnp_report_merged *m);

/* The statistics path the parts recorded (borrowed; NULL when none). */
const char *nnp_report_merged_stats_path(const nnp_report_merged *m);

/*
 * The statistics file a report.json records ("statistics"."path"), as a
 * malloc'd string in *path (NULL when it records none). Errors: NNP_EINPUT
 * (unreadable, not a report), NNP_ENOMEM.
 */
int nnp_report_stats_path(const char *report_path, char **path, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
