/* Gates, the choice of the best candidate, which models are written, and their sizes. */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nnprune/criteria.h"
#include "nnprune/gates.h"
#include "nnprune/model.h"
#include "sweep_priv.h"
#include "names.h"

/* Tolerances of the comparisons (see gates.h). */
#define DROP_EPS 1e-9
#define ACC_EPS 1e-12

void nnp_gates_init(nnp_gates *g)
{
	g->max_drop = NAN;
	g->min_accuracy = NAN;
	g->max_params = NNP_GATE_UNSET_COUNT;
	g->max_params_pct = NAN;
	g->max_bytes = NNP_GATE_UNSET_BYTES;
}

int nnp_gates_any(const nnp_gates *g)
{
	return !isnan(g->max_drop) || !isnan(g->min_accuracy) ||
	       g->max_params != NNP_GATE_UNSET_COUNT || !isnan(g->max_params_pct) ||
	       g->max_bytes != NNP_GATE_UNSET_BYTES;
}

const char *nnp_gate_option(nnp_gate gate)
{
	switch (gate) {
	case NNP_GATE_MAX_DROP: return "--max-drop";
	case NNP_GATE_MIN_ACCURACY: return "--min-accuracy";
	case NNP_GATE_MAX_PARAMS: return "--max-params";
	case NNP_GATE_MAX_BYTES: return "--max-bytes";
	case NNP_GATE_NONE:
	default: return "";
	}
}

/* ---- parsing ---- */

/* A plain decimal number filling text[0..len): no sign, no words ("inf",
 * "nan"), no hexadecimal. */
static int parse_decimal(const char *text, size_t len, double *out)
{
	char buf[64];
	if (len == 0 || len >= sizeof buf)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789.eE+-", text[i]) || ((text[i] == '+' || text[i] == '-') &&
		    (i == 0 || (text[i - 1] != 'e' && text[i - 1] != 'E'))))
			return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	char *end = NULL;
	errno = 0;
	double x = strtod(buf, &end);
	if (end != buf + len || errno == ERANGE || !isfinite(x))
		return -1;
	*out = x;
	return 0;
}

/* An unsigned integer filling text[0..len). */
static int parse_count(const char *text, size_t len, uint64_t *out)
{
	if (len == 0 || len > 20)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		unsigned d = (unsigned)(text[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

uint64_t nnp_size_suffix(char last)
{
	if (last == 'K' || last == 'k')
		return 1ull << 10;
	if (last == 'M' || last == 'm')
		return 1ull << 20;
	if (last == 'G' || last == 'g')
		return 1ull << 30;
	return 1;
}

int nnp_gates_parse(nnp_gates *g, const char *option, const char *text, nnp_err *err)
{
	const char *o = option;
	while (*o == '-')
		o++;
	size_t n = strlen(text);
	int pct = n > 0 && text[n - 1] == '%';
	double x;
	uint64_t v;
	if (!strcmp(o, "max-drop")) {
		if (parse_decimal(text, n, &x) || x < 0 || x > 100)
			return nnp_err_set(err, NNP_EUSAGE, "--max-drop: '%.64s' is not a number of "
			                   "accuracy points in [0, 100]", text);
		g->max_drop = x;
	} else if (!strcmp(o, "min-accuracy")) {
		if (parse_decimal(text, n - (size_t)pct, &x) || x < 0 || x > (pct ? 100 : 1))
			return nnp_err_set(err, NNP_EUSAGE, "--min-accuracy: '%.64s' is neither a "
			                   "fraction in [0, 1] (0.9) nor a percentage (90%%)", text);
		g->min_accuracy = pct ? x / 100.0 : x;
	} else if (!strcmp(o, "max-params")) {
		if (pct) {
			if (parse_decimal(text, n - 1, &x) || !(x > 0) || x > 100)
				return nnp_err_set(err, NNP_EUSAGE, "--max-params: '%.64s': a percentage "
				                   "of the original's parameters is in (0, 100]", text);
			g->max_params_pct = x;
			g->max_params = NNP_GATE_UNSET_COUNT;
		} else {
			if (parse_count(text, n, &v) || v == 0 || v >= (uint64_t)NNP_GATE_UNSET_COUNT)
				return nnp_err_set(err, NNP_EUSAGE, "--max-params: '%.64s' is neither a "
				                   "number of parameters (>= 1) nor a percentage (20%%)",
				                   text);
			g->max_params = (size_t)v;
			g->max_params_pct = NAN;
		}
	} else if (!strcmp(o, "max-bytes")) {
		uint64_t mult = nnp_size_suffix(n ? text[n - 1] : '\0');
		if (parse_count(text, n - (mult != 1), &v) || v == 0 ||
		    v >= NNP_GATE_UNSET_BYTES / mult)
			return nnp_err_set(err, NNP_EUSAGE, "--max-bytes: '%.64s' is not a size in bytes "
			                   "(>= 1, suffix K, M or G allowed)", text);
		g->max_bytes = v * mult;
	} else {
		return nnp_err_set(err, NNP_EUSAGE, "%s: not a gate (--max-drop, --min-accuracy, "
		                   "--max-params, --max-bytes)", option);
	}
	return NNP_OK;
}

/* Appends to buf at *len (bounded by size). */
static void cat(char *buf, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void cat(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	if (*len >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

/* "--max-drop 0.5" for one gate (g must have it set). */
static void gate_text(char *buf, size_t size, size_t *len, const nnp_gates *g, nnp_gate k)
{
	switch (k) {
	case NNP_GATE_MAX_DROP: cat(buf, size, len, "--max-drop %g", g->max_drop); break;
	case NNP_GATE_MIN_ACCURACY: cat(buf, size, len, "--min-accuracy %g", g->min_accuracy); break;
	case NNP_GATE_MAX_PARAMS:
		if (!isnan(g->max_params_pct))
			cat(buf, size, len, "--max-params %g%%", g->max_params_pct);
		else
			cat(buf, size, len, "--max-params %zu", g->max_params);
		break;
	case NNP_GATE_MAX_BYTES:
		cat(buf, size, len, "--max-bytes %llu", (unsigned long long)g->max_bytes);
		break;
	case NNP_GATE_NONE:
	default: break;
	}
}

static int gate_set(const nnp_gates *g, nnp_gate k)
{
	switch (k) {
	case NNP_GATE_MAX_DROP: return !isnan(g->max_drop);
	case NNP_GATE_MIN_ACCURACY: return !isnan(g->min_accuracy);
	case NNP_GATE_MAX_PARAMS:
		return g->max_params != NNP_GATE_UNSET_COUNT || !isnan(g->max_params_pct);
	case NNP_GATE_MAX_BYTES: return g->max_bytes != NNP_GATE_UNSET_BYTES;
	case NNP_GATE_NONE:
	default: return 0;
	}
}

void nnp_gates_describe(const nnp_gates *g, char *buf, size_t size)
{
	size_t len = 0;
	if (!size)
		return;
	buf[0] = '\0';
	for (int k = NNP_GATE_MAX_DROP; k <= NNP_GATE_MAX_BYTES; k++) {
		if (!gate_set(g, (nnp_gate)k))
			continue;
		if (len)
			cat(buf, size, &len, " and ");
		gate_text(buf, size, &len, g, (nnp_gate)k);
	}
	if (!len)
		cat(buf, size, &len, "none");
}

/* ---- the judgment ---- */

/* The figures a candidate is judged on. ok is 0 when it cannot pass at all
 * (not fine-tuned in a fine-tuned sweep). */
typedef struct judged {
	double acc, drop;
	size_t params;
	uint64_t bytes;
	int ok;
} judged;

static judged figures(const nnp_candidate *c, int ft)
{
	judged j = { c->accuracy, c->accuracy_drop, nnp_candidate_size(c), c->file_bytes, 1 };
	if (ft) {
		j.ok = c->ft.done;
		j.acc = c->ft.done ? c->ft.accuracy : -INFINITY;
		j.drop = c->ft.done ? c->ft.drop : INFINITY;
	}
	return j;
}

/* The parameter limit of the gate, as a double (percent of the original's). */
static double params_limit(const nnp_gates *g, size_t params0)
{
	if (!isnan(g->max_params_pct))
		return g->max_params_pct / 100.0 * (double)params0;
	return g->max_params != NNP_GATE_UNSET_COUNT ? (double)g->max_params : INFINITY;
}

/* How far over gate k a candidate is (<= 0: within); for a candidate that
 * cannot pass, +inf on the accuracy gates. */
static double excess(const nnp_gates *g, nnp_gate k, const judged *j, size_t params0)
{
	switch (k) {
	case NNP_GATE_MAX_DROP: return j->ok ? j->drop - (g->max_drop + DROP_EPS) : INFINITY;
	case NNP_GATE_MIN_ACCURACY:
		return j->ok ? (g->min_accuracy - ACC_EPS) - j->acc : INFINITY;
	case NNP_GATE_MAX_PARAMS: return (double)j->params - params_limit(g, params0);
	case NNP_GATE_MAX_BYTES:
		/* Integers: compared exactly, the excess only orders the closest. */
		return j->bytes > g->max_bytes ? (double)(j->bytes - g->max_bytes) : 0.0;
	case NNP_GATE_NONE:
	default: return 0.0;
	}
}

/* The bit mask of the gates candidate j fails. */
static unsigned fails(const nnp_gates *g, const judged *j, size_t params0)
{
	unsigned m = 0;
	for (int k = NNP_GATE_MAX_DROP; k <= NNP_GATE_MAX_BYTES; k++)
		if (gate_set(g, (nnp_gate)k) && (!j->ok || excess(g, (nnp_gate)k, j, params0) > 0))
			m |= 1u << k;
	return m;
}

static int popcount(unsigned m)
{
	int n = 0;
	for (; m; m &= m - 1)
		n++;
	return n;
}

static nnp_gate first_gate(unsigned m)
{
	for (int k = NNP_GATE_MAX_DROP; k <= NNP_GATE_MAX_BYTES; k++)
		if (m & (1u << k))
			return (nnp_gate)k;
	return NNP_GATE_NONE;
}

/* "mean 0.1, std 0.4", "keep 0.5", ...: how a message names a candidate. */
static void name_candidate(char *buf, size_t size, size_t *len, const nnp_candidate *c)
{
	if (c->budget.target_params)
		cat(buf, size, len, "target %zu (allocation step %zu)", c->budget.target_params,
		    c->budget.alloc_step);
	else if (c->budget.alloc_step)
		cat(buf, size, len, "allocation step %zu", c->budget.alloc_step);
	else if (c->budget.keep_frac > 0)
		cat(buf, size, len, "keep %g", c->budget.keep_frac);
	else if (c->budget.widths && c->keep) {
		cat(buf, size, len, "widths ");
		for (size_t l = 0; l < c->keep->n_layers; l++)
			cat(buf, size, len, "%s%zu", l ? "-" : "", c->keep->count[l]);
	} else if (c->kind == NNP_CAND_SPARSE) {
		char sh[NNP_SHARES_TEXT_MAX];
		nnp_candidate_shares_text(sh, sizeof sh, c, '/');
		cat(buf, size, len, "sparsity %s%s%s", sh, c->sparse.scope ? " " : "",
		    c->sparse.scope ? nnp_mag_scope_name(c->sparse.scope) : "");
	}
	else if (c->kind == NNP_CAND_THRESHOLDS)
		cat(buf, size, len, "mean %g, std %g", c->thr.mean, c->thr.std);
	else
		cat(buf, size, len, "candidate");
}

/* The fine-tuned file when judged fine-tuned, else the slimmed one; a
 * duplicate's own, else its first's. */
static const char *file_of(const nnp_sweep *sw, size_t i, int ft)
{
	const nnp_candidate *c = &sw->c[i];
	const char *f = ft ? c->ft.file : c->file;
	if (!f && c->same_as != NNP_NO_DUP)
		f = ft ? sw->c[c->same_as].ft.file : sw->c[c->same_as].file;
	return f;
}

static void message_best(nnp_gate_result *r, const nnp_sweep *sw, const judged *j)
{
	char *m = r->message;
	size_t size = sizeof r->message, len = 0;
	const nnp_candidate *c = &sw->c[r->best];
	cat(m, size, &len, "selected #%zu (", r->best);
	name_candidate(m, size, &len, c);
	cat(m, size, &len, "): %zu %sparameters (%.1f%% fewer)", nnp_candidate_size(c),
	    c->kind == NNP_CAND_SPARSE ? "nonzero " : "", c->reduction);
	if (c->file_bytes)
		cat(m, size, &len, ", %llu bytes", (unsigned long long)c->file_bytes);
	cat(m, size, &len, ", accuracy %.2f%% (drop %.2f points)%s", 100.0 * j->acc,
	    j->drop == 0 ? 0.0 : j->drop, r->finetuned ? " after fine-tuning" : "");
}

static void message_fail(nnp_gate_result *r, const nnp_sweep *sw, const nnp_gates *g,
                         const judged *jc, size_t params0)
{
	char *m = r->message;
	size_t size = sizeof r->message, len = 0;
	char gates[256];
	nnp_gates_describe(g, gates, sizeof gates);
	cat(m, size, &len, "no candidate passes %s%s", gates,
	    r->finetuned ? " after fine-tuning" : "");
	if (r->closest == NNP_NO_DUP) {
		cat(m, size, &len, sw->n ? " (no candidate was fine-tuned)" : " (no candidates)");
		return;
	}
	const nnp_candidate *c = &sw->c[r->closest];
	cat(m, size, &len, "; closest: #%zu (", r->closest);
	name_candidate(m, size, &len, c);
	cat(m, size, &len, "):");
	const char *sep = " ";
	for (int k = NNP_GATE_MAX_DROP; k <= NNP_GATE_MAX_BYTES; k++) {
		if (!(r->failed_mask & (1u << k)))
			continue;
		cat(m, size, &len, "%s", sep);
		sep = ", ";
		switch ((nnp_gate)k) {
		case NNP_GATE_MAX_DROP:
			if (jc->ok)
				cat(m, size, &len, "drop %.2f points (over %g)", jc->drop, g->max_drop);
			else
				cat(m, size, &len, "not fine-tuned");
			break;
		case NNP_GATE_MIN_ACCURACY:
			if (jc->ok)
				cat(m, size, &len, "accuracy %.2f%% (under %g%%)", 100.0 * jc->acc,
				    100.0 * g->min_accuracy);
			else
				cat(m, size, &len, "not fine-tuned");
			break;
		case NNP_GATE_MAX_PARAMS:
			cat(m, size, &len, "%zu %sparameters (over %.0f)", jc->params,
			    c->kind == NNP_CAND_SPARSE ? "nonzero " : "",
			    floor(params_limit(g, params0)));
			break;
		case NNP_GATE_MAX_BYTES:
			cat(m, size, &len, "%llu bytes (over %llu)", (unsigned long long)jc->bytes,
			    (unsigned long long)g->max_bytes);
			break;
		case NNP_GATE_NONE:
		default: break;
		}
	}
	cat(m, size, &len, " (fails %s)", nnp_gate_option(r->failed));
	const char *f = file_of(sw, r->closest, r->finetuned);
	if (f)
		cat(m, size, &len, "; %s", f);
}

int nnp_gates_judge(const nnp_gates *g, const nnp_sweep *sw, nnp_gate_result *r, nnp_err *err)
{
	memset(r, 0, sizeof *r);
	r->best = r->closest = NNP_NO_DUP;
	int ft = sw->original.ft.done;
	for (size_t i = 0; i < sw->n; i++) {
		const nnp_candidate *c = &sw->c[i];
		if (c->same_as != NNP_NO_DUP && c->same_as >= i)
			return nnp_err_set(err, NNP_EUSAGE, "gates: candidate %zu: same_as %zu is not "
			                   "an earlier candidate", i, c->same_as);
		ft |= c->ft.done;
	}
	r->finetuned = ft;
	if (!nnp_gates_any(g)) {
		snprintf(r->message, sizeof r->message, "no gate given");
		return NNP_OK;
	}
	r->gated = 1;
	if (gate_set(g, NNP_GATE_MAX_BYTES))
		for (size_t i = 0; i < sw->n; i++)
			if (sw->c[i].same_as == NNP_NO_DUP && !sw->c[i].file_bytes)
				return nnp_err_set(err, NNP_EUSAGE, "gates: --max-bytes: candidate %zu: its "
				                   "file size is not known", i);
	const size_t params0 = sw->original.params;
	judged jb = { 0 }, jn = { 0 };
	int nfail_near = 0;
	double ex_near = 0;
	for (size_t i = 0; i < sw->n; i++) {
		if (sw->c[i].same_as != NNP_NO_DUP)
			continue;  /* judged through its first, which comes earlier */
		judged j = figures(&sw->c[i], ft);
		unsigned m = fails(g, &j, params0);
		if (!m) {
			r->passed++;
			if (r->best == NNP_NO_DUP || j.params < jb.params ||
			    (j.params == jb.params && (j.acc > jb.acc ||
			     (j.acc == jb.acc && j.bytes < jb.bytes)))) {
				r->best = i;
				jb = j;
			}
			continue;
		}
		if (!j.ok)
			continue;  /* never fine-tuned: no near miss */
		int nf = popcount(m);
		nnp_gate k = first_gate(m);
		double ex = excess(g, k, &j, params0);
		if (r->closest == NNP_NO_DUP || nf < nfail_near ||
		    (nf == nfail_near && (k < r->failed || (k == r->failed && ex < ex_near)))) {
			r->closest = i;
			r->failed = k;
			r->failed_mask = m;
			nfail_near = nf;
			ex_near = ex;
			jn = j;
		}
	}
	if (r->best != NNP_NO_DUP) {
		r->closest = NNP_NO_DUP;
		r->failed = NNP_GATE_NONE;
		r->failed_mask = 0;
		message_best(r, sw, &jb);
		return NNP_OK;
	}
	if (r->closest == NNP_NO_DUP) {
		r->failed_mask = 0;
		r->failed = first_gate(fails(g, &(judged){ 0, INFINITY, (size_t)-1, UINT64_MAX, 0 },
		                             params0));
	}
	message_fail(r, sw, g, &jn, params0);
	return NNP_OK;
}

/* ---- --write ---- */

static const char *const write_names[] = { "distinct", "all", "pareto", "best" };
static const nnp_names writes = NNP_NAMES(write_names);

int nnp_write_mode_parse(const char *text, nnp_write_mode *mode, nnp_err *err)
{
	int v = nnp_names_find(&writes, text);
	char all[64];
	if (v >= 0) {
		*mode = (nnp_write_mode)v;
		return NNP_OK;
	}
	return nnp_err_set(err, NNP_EUSAGE, "--write: '%.64s' is not one of %s", text,
	                   nnp_names_join(&writes, ", ", all, sizeof all));
}

const char *nnp_write_mode_name(nnp_write_mode mode)
{
	const char *name = nnp_names_of(&writes, (int)mode);
	return name ? name : "?";
}

void nnp_write_plan(const nnp_sweep *sw, nnp_write_mode mode, size_t best, unsigned char *write)
{
	for (size_t i = 0; i < sw->n; i++) {
		const nnp_candidate *c = &sw->c[i];
		int first = c->same_as == NNP_NO_DUP;
		switch (mode) {
		case NNP_WRITE_ALL: write[i] = 1; break;
		case NNP_WRITE_PARETO: write[i] = (unsigned char)(first && (c->pareto || i == best)); break;
		case NNP_WRITE_BEST: write[i] = (unsigned char)(i == best); break;
		case NNP_WRITE_DISTINCT:
		default: write[i] = (unsigned char)first; break;
		}
	}
}

/* ---- sizes ---- */

int nnp_sweep_measure(nnp_sweep *sw, nnp_format fmt, nnp_err *err)
{
	for (size_t i = 0; i < sw->n; i++) {
		nnp_candidate *c = &sw->c[i];
		size_t first = c->same_as == NNP_NO_DUP ? i : c->same_as;
		if (first > i)
			return nnp_err_set(err, NNP_EUSAGE, "sizes: candidate %zu: same_as %zu is not "
			                   "an earlier candidate", i, first);
		const nnp_model *pm = sw->models ? sw->models[first] : NULL;
		if (pm && !c->params) {
			/* Not evaluated: its sizes and reduction are known all the same. */
			nnp_sweep_set_sizes(c, pm);
			c->reduction = sw->original.params
			               ? 100.0 * ((double)sw->original.params -
			                          (double)nnp_candidate_size(c)) /
			                 (double)sw->original.params
			               : 0.0;
		}
		if (pm) {
			c->nonzeros = nnp_model_nonzeros(pm);
			nnp_candidate_set_live(c, pm, sw->original.params);
		} else if (first != i)
			c->nonzeros = sw->c[first].nonzeros;
		const char *f = c->file ? c->file : sw->c[first].file;
		if (f) {
			struct stat st;
			if (stat(f, &st) != 0)
				return nnp_err_set(err, NNP_EINPUT, "%s: cannot read its size: %s", f,
				                   strerror(errno));
			c->file_bytes = (uint64_t)st.st_size;
		} else if (first != i && sw->c[first].file_bytes) {
			c->file_bytes = sw->c[first].file_bytes;
		} else if ((fmt == NNP_FMT_JSON || fmt == NNP_FMT_BIN) && pm) {
			int rc = nnp_model_file_size(pm, fmt, &c->file_bytes, err);
			if (rc)
				return rc;
		}
	}
	return NNP_OK;
}
