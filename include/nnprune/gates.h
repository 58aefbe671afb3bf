/*
 * nnprune: gates and the choice of the model to keep. A sweep (or a prune,
 * a sweep of one) is judged by the gates given (--max-drop, --min-accuracy,
 * --max-params, --max-bytes: each optional, all given must hold); the best
 * candidate is the smallest that passes. Also: which candidates' models a
 * run writes (--write), and the sizes the reports show beside params.
 */
#ifndef NNPRUNE_GATES_H
#define NNPRUNE_GATES_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/nnp.h"
#include "nnprune/model.h"
#include "nnprune/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What "not given" is for the integer gates. */
#define NNP_GATE_UNSET_COUNT ((size_t)-1)
#define NNP_GATE_UNSET_BYTES UINT64_MAX

/* The gates. Start from nnp_gates_init (nothing given), then set fields or
 * parse option texts with nnp_gates_parse. */
typedef struct nnp_gates {
	double max_drop;        /* accuracy points lost against the original, at most; NAN: none */
	double min_accuracy;    /* accuracy (fraction in [0, 1]) at least; NAN: none */
	size_t max_params;      /* parameters at most; NNP_GATE_UNSET_COUNT: none */
	double max_params_pct;  /* parameters at most this percent of the original's; NAN: none */
	uint64_t max_bytes;     /* model file bytes at most (file_bytes); NNP_GATE_UNSET_BYTES: none */
} nnp_gates;

/* Every gate unset. */
void nnp_gates_init(nnp_gates *g);

/* 1 if any gate is set. */
int nnp_gates_any(const nnp_gates *g);

/*
 * Sets one gate from its option's text, strictly:
 *   "--max-drop"     PTS, a number of points in [0, 100]
 *   "--min-accuracy" X, a fraction in [0, 1], or "P%" with P in [0, 100]
 *                    ("90" is refused: it is neither; write 0.9 or 90%)
 *   "--max-params"   N, a count >= 1, or "P%" with 0 < P <= 100 of the original's
 *   "--max-bytes"    N >= 1, with an optional suffix K, M or G (powers of 1024)
 * `option` may also be given without its dashes. A second --max-params
 * replaces the first (count or percent, not both).
 * Errors: NNP_EUSAGE "--max-params: '12x' is not ..." (option named, reason).
 */
int nnp_gates_parse(nnp_gates *g, const char *option, const char *text, nnp_err *err);

/*
 * The multiplier a size's last character names: K, M or G (either case) as
 * powers of 1024, else 1 (the character is then part of the number).
 */
uint64_t nnp_size_suffix(char last);

/* Each gate, in the order the judgment checks them and messages list them. */
typedef enum nnp_gate {
	NNP_GATE_NONE = 0,
	NNP_GATE_MAX_DROP = 1,
	NNP_GATE_MIN_ACCURACY = 2,
	NNP_GATE_MAX_PARAMS = 3,
	NNP_GATE_MAX_BYTES = 4
} nnp_gate;

/* "--max-drop", ...; "" for NNP_GATE_NONE. */
const char *nnp_gate_option(nnp_gate gate);

/* The judgment of a sweep by the gates. */
typedef struct nnp_gate_result {
	int gated;             /* 1: some gate was given (else best and closest are NNP_NO_DUP) */
	int finetuned;         /* 1: judged on the fine-tuned figures */
	size_t best;           /* the chosen candidate (never a duplicate), or NNP_NO_DUP */
	size_t passed;         /* distinct candidates that pass every gate */
	/* When no candidate passes (best NNP_NO_DUP and gated): */
	size_t closest;        /* the candidate nearest to passing (see nnp_gates_judge); or NNP_NO_DUP */
	nnp_gate failed;       /* the first gate (in enum order) the closest fails; with no
	                          candidate at all, the first gate given */
	unsigned failed_mask;  /* every gate the closest fails: bit (1u << gate) */
	char message[768];     /* one line, no "nnprune: " prefix and no newline: the
	                          verdict the front end prints on stderr */
} nnp_gate_result;

/*
 * Judges every candidate of sw by g and picks the best.
 *
 * Figures judged: when the original or any candidate was fine-tuned
 * (`ft.done` set), the fine-tuned ones: accuracy ft.accuracy and drop
 * ft.drop (against the original before fine-tuning, as the report shows
 * it), and a candidate that was not fine-tuned never passes. Otherwise
 * accuracy and accuracy_drop. Size gates judge params and file_bytes (a
 * --max-bytes gate needs file_bytes of every distinct candidate:
 * nnp_sweep_measure). A duplicate (same_as) is judged through its first and
 * is never chosen itself.
 *
 * A candidate passes when drop <= max_drop + 1e-9 points, accuracy >=
 * min_accuracy - 1e-12, params <= max_params, params <= max_params_pct / 100
 * x the original's params, and file_bytes <= max_bytes (the tolerances only
 * absorb the rounding of 100 x (a - b); a row of 10^10 is 1e-8 points).
 *
 * Best: the passing candidate with the fewest params; ties: the higher
 * judged accuracy, then the smaller file_bytes, then the lower index.
 * Closest (when none passes): of the candidates that could pass (fine-tuned,
 * when judged fine-tuned), the one failing the fewest gates; ties:
 * the one whose first failed gate comes first in enum order, then the
 * smallest excess on that gate (points, accuracy, params or bytes over the
 * limit), then the lower index.
 *
 * r->message: "selected #3 (mean 0.1, std 0.4): 61234 parameters (62.1% fewer),
 * accuracy 97.12% (drop 0.41 points)" or "no candidate passes --max-drop 0.5
 * and --max-params 20%; closest: #2 (keep 0.5): drop 0.73 points (over 0.5)
 * ..." (the candidate's file added when set), or "no gate given".
 * Errors: NNP_EUSAGE (--max-bytes with a distinct candidate whose file_bytes
 * is 0, naming it), NNP_EUSAGE (a same_as that is not earlier).
 */
int nnp_gates_judge(const nnp_gates *g, const nnp_sweep *sw, nnp_gate_result *r, nnp_err *err);

/*
 * Appends, to buf (size bytes, always NUL-terminated), the gates given as
 * "--max-drop 0.5 and --max-params 20%"; "none" when none is.
 */
void nnp_gates_describe(const nnp_gates *g, char *buf, size_t size);

/* ---- which models a run writes (--write) ---- */

typedef enum nnp_write_mode {
	NNP_WRITE_DISTINCT = 0,  /* each distinct kept set once (the default): duplicates
	                            name their first's file */
	NNP_WRITE_ALL = 1,       /* every candidate, duplicates in files of their own */
	NNP_WRITE_PARETO = 2,    /* the distinct Pareto candidates (and the best) */
	NNP_WRITE_BEST = 3       /* only the best (none when no gate passes) */
} nnp_write_mode;

/* "distinct", "all", "pareto", "best" to a mode. Errors: NNP_EUSAGE naming the
 * text and the choices. */
int nnp_write_mode_parse(const char *text, nnp_write_mode *mode, nnp_err *err);
const char *nnp_write_mode_name(nnp_write_mode mode);

/*
 * Which candidates get a model file of their own: write[i] = 1 for those
 * (write has sw->n entries). best may be NNP_NO_DUP. With NNP_WRITE_DISTINCT
 * and NNP_WRITE_PARETO a duplicate never gets a file (the front end gives it
 * its first's file name, when the first was written); with NNP_WRITE_ALL
 * every candidate does; the best is always written except with no best.
 */
void nnp_write_plan(const nnp_sweep *sw, nnp_write_mode mode, size_t best, unsigned char *write);

/*
 * Fills every candidate's nonzeros (from sw->models of its first; left as is
 * where the model is NULL) and file_bytes: the size of c->file when set (a
 * duplicate sharing its first's file, that file's), else, when fmt is json or
 * bin, the exact bytes nnp_model_save would write for the first's model in fmt
 * (nnp_model_file_size, the model's provenance as it stands); else left as is.
 * Errors: NNP_EINPUT naming a c->file that cannot be stat'ed; the sizing's.
 */
int nnp_sweep_measure(nnp_sweep *sw, nnp_format fmt, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
