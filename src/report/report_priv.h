/* Private to the report's files: the pieces every renderer shares
 * (report_common.c) and the two chart renderers (report_svg.c), used by the
 * text renderers (report.c) and the HTML page (report_html.c). The text
 * buffer is src/util/textbuf.h. */
#ifndef NNPRUNE_REPORT_PRIV_H
#define NNPRUNE_REPORT_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/report.h"
#include "textbuf.h"

/* Appends s escaped as XML character data or attribute text: &<>"' as
 * entities, control characters and invalid UTF-8 as U+FFFD. NULL as "-". */
void nnp_rb_xml(nnp_tbuf *b, const char *s);
/* What an invalid UTF-8 byte becomes in every escaped output: U+FFFD. */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid or NUL. */
size_t nnp_utf8_seq(const unsigned char *s);

/* A name for titles: info->model_name, else the model path's base name. */
const char *nnp_report_title_name(const nnp_report_info *info);
/* Hidden widths "512-256-128" of a candidate (keep NULL: the original's, from s). */
void nnp_report_kept(nnp_tbuf *b, const nnp_candidate *c, const nnp_stats *s, const char *sep);

/* 1 if the sweep is of a method other than the rule: budgets, not thresholds. */
int nnp_report_is_budget(const nnp_report_info *info);
/* The compensation's name: info->compensate, else "fold" or "none" from info->fold. */
const char *nnp_report_comp(const nnp_report_info *info);
/* 1 for the plain threshold sweep (rule, fold or none, calibrated on the
 * evaluation data): the outputs say what they always said. */
int nnp_report_is_plain(const nnp_report_info *info);
/* A candidate's budget: "keep 0.5", "step 12", "target 283717 (step 12)", or
 * for a threshold candidate "mean 0.1, std 0.4". */
void nnp_report_budget(nnp_tbuf *b, const nnp_candidate *c);

/* The info every renderer reads: the gates' --max-drop as max_drop, and
 * gates NULL when --max-drop is the only one (the outputs read as before). */
void nnp_report_effective(const nnp_report_info *info, nnp_report_info *eff);
/* The Pareto mark as reported: never on a duplicate (its first carries it). */
int nnp_report_pareto(const nnp_candidate *c);
/* Candidate i's index in the whole sweep (info->index_map of a shard). */
size_t nnp_report_index(const nnp_report_info *info, size_t i);

/* 1 if any candidate is unstructured (judged by its nonzero weights). */
int nnp_report_has_sparse(const nnp_sweep *sw);
/* 1 if the original or any candidate carries fine-tuned figures. */
int nnp_report_has_ft(const nnp_sweep *sw);

/* The charts. Inputs are already checked; failures show only as b->oom. */
void nnp_report_svg_plot(nnp_tbuf *b, const nnp_sweep *sw, const nnp_report_info *info);
void nnp_report_svg_stats(nnp_tbuf *b, const nnp_sweep *sw, const nnp_stats *s,
                          const nnp_report_info *info);

#endif
