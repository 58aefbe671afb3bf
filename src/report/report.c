/* The sweep report as text: terminal table, Markdown, CSV and JSON (the files
 * are written by report_files.c). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nnprune/model.h"
#include "nnprune/report.h"
#include "nnprune/criteria.h"
#include "report_priv.h"

/* ---- text escaping ---- */

static void rb_json_str(nnp_tbuf *b, const char *s)
{
	if (!s) {
		nnp_tb_puts(b, "null");
		return;
	}
	nnp_tb_putc(b, '"');
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = nnp_utf8_seq(p);
		if (n == 0) {
			/* JSON text is Unicode: a path's stray byte cannot be kept. */
			nnp_tb_puts(b, "\\ufffd");
			p++;
			continue;
		}
		switch (*p) {
		case '"': nnp_tb_puts(b, "\\\""); break;
		case '\\': nnp_tb_puts(b, "\\\\"); break;
		case '\n': nnp_tb_puts(b, "\\n"); break;
		case '\r': nnp_tb_puts(b, "\\r"); break;
		case '\t': nnp_tb_puts(b, "\\t"); break;
		default:
			if (*p < 0x20)
				nnp_tb_printf(b, "\\u%04x", (unsigned)*p);
			else
				nnp_tb_putn(b, (const char *)p, n);
			break;
		}
		p += n;
	}
	nnp_tb_putc(b, '"');
}

/* Markdown text: backslash-escapes what could start emphasis, code, links,
 * HTML, entities or break a table cell. */
static void rb_md(nnp_tbuf *b, const char *s)
{
	if (!s) {
		nnp_tb_putc(b, '-');
		return;
	}
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = nnp_utf8_seq(p);
		if (n == 0 || *p < 0x20 || *p == 0x7F) {
			nnp_tb_puts(b, UTF8_REPLACEMENT);
			p++;
			continue;
		}
		if (strchr("\\`*_[]<>|#&!", *p))
			nnp_tb_putc(b, '\\');
		nnp_tb_putn(b, (const char *)p, n);
		p += n;
	}
}

/* RFC 4180: a field holding a comma, quote, CR or LF is quoted, quotes doubled.
 * Leading or trailing spaces are quoted too, as some readers trim them. */
static void rb_csv(nnp_tbuf *b, const char *s)
{
	if (!s)
		return;
	size_t n = strlen(s);
	int quote = strpbrk(s, ",\"\r\n") != NULL || (n && (s[0] == ' ' || s[n - 1] == ' '));
	if (!quote) {
		nnp_tb_putn(b, s, n);
		return;
	}
	nnp_tb_putc(b, '"');
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			nnp_tb_putc(b, '"');
		nnp_tb_putc(b, *p);
	}
	nnp_tb_putc(b, '"');
}

/* A double for JSON/CSV: "%.12g", -0 as 0; non-finite as `nonfinite`. */
static void rb_num(nnp_tbuf *b, double x, const char *nonfinite)
{
	if (!isfinite(x)) {
		nnp_tb_puts(b, nonfinite);
		return;
	}
	if (x == 0)
		x = 0; /* -0 prints as "-0" */
	nnp_tb_printf(b, "%.12g", x);
}

/* `, "key": x` in a JSON object, x as rb_num writes it (null when not finite). */
static void rb_member(nnp_tbuf *b, const char *key, double x)
{
	nnp_tb_printf(b, ", \"%s\": ", key);
	rb_num(b, x, "null");
}

/* ---- shared pieces ---- */

void nnp_report_info_init(nnp_report_info *info)
{
	memset(info, 0, sizeof *info);
	info->fold = 1;
	info->min_keep = 1;
	info->best = NNP_NO_DUP;
	info->max_drop = NAN;
	info->lambda_rel = NAN;
	info->ft_distill_t = info->ft_distill_alpha = NAN;
}

static const char *version_of(const nnp_report_info *info)
{
	return info->version ? info->version : NNP_VERSION;
}

static uint64_t rows_of(const nnp_sweep *sw, const nnp_report_info *info)
{
	return info->rows ? info->rows : sw->rows;
}

uint32_t nnp_report_kept_crc(const nnp_keep *k)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	for (size_t l = 0; k && l < k->n_layers; l++) {
		unsigned char b[4];
		for (size_t j = 0; j < k->count[l]; j++) {
			uint32_t v = (uint32_t)k->idx[l][j];
			for (int q = 0; q < 4; q++)
				b[q] = (unsigned char)(v >> (8 * q));
			crc = crc32(crc, b, 4);
		}
		/* A layer's end: so {0,1}{} and {0}{1} differ. */
		b[0] = b[1] = b[2] = b[3] = 0xFF;
		crc = crc32(crc, b, 4);
	}
	return (uint32_t)crc;
}

/*
 * The sweep engine and the statistics come from different places (a stats
 * file may be stale), so everything the renderers index is checked here once.
 */
static int check_inputs(const nnp_sweep *sw, const nnp_stats *s, const nnp_report_info *info,
                        nnp_err *err)
{
	if (!sw || !s || !info)
		return nnp_err_set(err, NNP_EUSAGE, "report: missing %s",
		                   !sw ? "sweep" : !s ? "statistics" : "report info");
	if (sw->n && !sw->c)
		return nnp_err_set(err, NNP_EUSAGE, "report: %zu candidates but no array", sw->n);
	if (s->n_layers && !s->layers)
		return nnp_err_set(err, NNP_EUSAGE, "report: statistics without layers");
	for (size_t l = 0; l < s->n_layers; l++) {
		const nnp_layer_stats *L = &s->layers[l];
		if (L->neurons && (!L->mean || !L->std))
			return nnp_err_set(err, NNP_EUSAGE, "report: statistics layer %zu: no mean/std", l);
	}
	if (sw->original.keep)
		return nnp_err_set(err, NNP_EUSAGE, "report: the original has a kept set");
	for (size_t i = 0; i < sw->n; i++) {
		const nnp_candidate *c = &sw->c[i];
		if (c->same_as != NNP_NO_DUP && c->same_as >= i)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "report: candidate %zu: same_as %zu is not an earlier candidate",
			                   i, c->same_as);
		const nnp_keep *k = c->keep;
		if (!k)
			return nnp_err_set(err, NNP_EUSAGE, "report: candidate %zu: no kept set", i);
		if (k->n_layers != s->n_layers)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "report: candidate %zu: kept set has %zu hidden layers, "
			                   "statistics %zu", i, k->n_layers, s->n_layers);
		if (k->n_layers && !k->count)
			return nnp_err_set(err, NNP_EUSAGE, "report: candidate %zu: no kept counts", i);
		for (size_t l = 0; l < k->n_layers; l++)
			if (k->count[l] > s->layers[l].neurons)
				return nnp_err_set(err, NNP_EUSAGE,
				                   "report: candidate %zu: layer %zu keeps %zu neurons, "
				                   "statistics have %zu", i, l, k->count[l],
				                   s->layers[l].neurons);
	}
	if (info->best != NNP_NO_DUP && info->best >= sw->n)
		return nnp_err_set(err, NNP_EUSAGE, "report: best candidate %zu out of range (%zu)",
		                   info->best, sw->n);
	if (info->shard_count && info->shard_index >= info->shard_count)
		return nnp_err_set(err, NNP_EUSAGE, "report: shard %zu of %zu", info->shard_index,
		                   info->shard_count);
	if (info->n_total && info->n_total < sw->n)
		return nnp_err_set(err, NNP_EUSAGE, "report: %zu candidates of %zu in all", sw->n,
		                   info->n_total);
	for (size_t i = 0; info->index_map && i < sw->n; i++)
		if (info->index_map[i] >= (info->n_total ? info->n_total : sw->n) ||
		    (i && info->index_map[i] <= info->index_map[i - 1]))
			return nnp_err_set(err, NNP_EUSAGE, "report: candidate %zu: index %zu out of order "
			                   "or range", i, info->index_map[i]);
	if (info->ft_epochs == 0 && nnp_report_has_ft(sw))
		return nnp_err_set(err, NNP_EUSAGE, "report: fine-tuned results but no epoch count "
		                   "(ft_epochs 0)");
	return NNP_OK;
}

/* ---- the table (terminal and Markdown) ---- */

/* The fine-tuning columns exist only when some model was fine-tuned; the file
 * column stays last, as the terminal table leaves it out. */
enum { COL_IDX, COL_MEAN, COL_STD, COL_BUDGET, COL_KEPT, COL_PARAMS, COL_NZ, COL_FBYTES,
       COL_RED, COL_ACC,
       COL_DROP, COL_LOSS, COL_AGREE, COL_FTACC, COL_FTDROP, COL_FTVS, COL_PARETO, COL_FLOOR,
       COL_NOTE, COL_FILE, NCOLS };

static const struct {
	const char *head;
	char align;  /* 'l', 'r' or 'c' */
} cols[NCOLS] = {
	{ "#", 'r' }, { "mean", 'r' }, { "std", 'r' }, { "budget", 'l' }, { "kept", 'l' },
	{ "params", 'r' }, { "nonzeros", 'r' }, { "file bytes", 'r' },
	{ "reduction", 'r' }, { "accuracy", 'r' }, { "drop", 'r' }, { "loss", 'r' },
	{ "agreement", 'r' }, { "ft accuracy", 'r' }, { "ft drop", 'r' }, { "vs ft orig", 'r' },
	{ "pareto", 'c' }, { "floor", 'c' }, { "note", 'l' }, { "file", 'l' }
};

/* Every cell's text, NUL-separated in one buffer; off[row * ncols + k] for the
 * k-th shown column, whose id is col[k]. */
typedef struct cells {
	nnp_tbuf txt;
	size_t *off;
	size_t rows;
	int col[NCOLS];
	int ncols;
} cells;

static void cells_free(cells *t)
{
	nnp_tb_free(&t->txt);
	free(t->off);
}

static const char *cell(const cells *t, size_t r, size_t k)
{
	return t->txt.p + t->off[r * (size_t)t->ncols + k];
}

static void fmt_signed(nnp_tbuf *b, double x)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%+.2f", x);
	/* A drop that rounds to zero is shown as no change, not "-0.00". */
	if (!strcmp(tmp, "-0.00"))
		tmp[0] = '+';
	nnp_tb_puts(b, tmp);
}

static void cell_text(cells *t, const nnp_candidate *c, int col, size_t i,
                      const nnp_sweep *sw, const nnp_stats *s, const nnp_report_info *info,
                      int md)
{
	nnp_tbuf *b = &t->txt;
	int orig = c == &sw->original;
	switch (col) {
	case COL_IDX:
		if (orig)
			nnp_tb_puts(b, "orig");
		else
			nnp_tb_printf(b, "%zu", nnp_report_index(info, i));
		break;
	case COL_MEAN:
	case COL_STD: {
		double v = col == COL_MEAN ? c->thr.mean : c->thr.std;
		if (orig || !isfinite(v))
			nnp_tb_putc(b, '-');
		else
			nnp_tb_printf(b, "%g", v);
		break;
	}
	case COL_BUDGET:
		if (orig)
			nnp_tb_putc(b, '-');
		else
			nnp_report_budget(b, c);
		break;
	case COL_KEPT:
		if (s->n_layers)
			nnp_report_kept(b, c, s, "-");
		else
			nnp_tb_putc(b, '-');
		break;
	case COL_PARAMS: nnp_tb_printf(b, "%zu", c->params); break;
	case COL_NZ:
		if (c->nonzeros)
			nnp_tb_printf(b, "%zu", c->nonzeros);
		else
			nnp_tb_putc(b, '-');
		break;
	case COL_FBYTES:
		if (c->file_bytes)
			nnp_tb_printf(b, "%llu", (unsigned long long)c->file_bytes);
		else
			nnp_tb_putc(b, '-');
		break;
	case COL_RED:
		if (orig)
			nnp_tb_putc(b, '-');
		else
			nnp_tb_printf(b, "%.1f%%", c->reduction);
		break;
	case COL_ACC: nnp_tb_printf(b, "%.2f%%", 100.0 * c->accuracy); break;
	case COL_DROP:
		if (orig)
			nnp_tb_putc(b, '-');
		else
			fmt_signed(b, c->accuracy_drop);
		break;
	case COL_LOSS:
		nnp_tb_printf(b, fabs(c->loss) < 1e5 ? "%.4f" : "%.4g", c->loss);
		break;
	case COL_AGREE: nnp_tb_printf(b, "%.2f%%", 100.0 * c->agreement); break;
	case COL_FTACC:
		if (c->ft.done)
			nnp_tb_printf(b, "%.2f%%", 100.0 * c->ft.accuracy);
		else
			nnp_tb_putc(b, '-');
		break;
	case COL_FTDROP:
		/* The original's own figure is what fine-tuning alone did to it. */
		if (c->ft.done)
			fmt_signed(b, c->ft.drop);
		else
			nnp_tb_putc(b, '-');
		break;
	case COL_FTVS:
		if (c->ft.done && !orig)
			fmt_signed(b, c->ft.drop_vs_ft);
		else
			nnp_tb_putc(b, '-');
		break;
	case COL_PARETO:
	case COL_FLOOR:
		if (col == COL_PARETO ? nnp_report_pareto(c) : c->floor_hit)
			nnp_tb_puts(b, md ? "\\*" : "*");
		break;
	case COL_NOTE: {
		const char *sep = "";
		if (orig) {
			nnp_tb_puts(b, "original");
			sep = ", ";
		}
		if (!orig && info->best == i) {
			nnp_tb_puts(b, "best");
			sep = ", ";
		}
		if (!orig && c->same_as != NNP_NO_DUP)
			nnp_tb_printf(b, "%s= #%zu", sep, nnp_report_index(info, c->same_as));
		break;
	}
	case COL_FILE:
		if (md)
			rb_md(b, c->file);
		else
			nnp_tb_puts(b, c->file ? c->file : "-");
		break;
	default: break;
	}
	nnp_tb_putc(b, '\0');
}

static int cells_build(cells *t, const nnp_sweep *sw, const nnp_stats *s,
                       const nnp_report_info *info, int md, nnp_err *err)
{
	memset(t, 0, sizeof *t);
	int ft = nnp_report_has_ft(sw), budget = nnp_report_is_budget(info);
	for (int col = 0; col < NCOLS; col++) {
		if (!ft && (col == COL_FTACC || col == COL_FTDROP || col == COL_FTVS))
			continue;
		/* A budget replaces the thresholds, and there is no rule's floor. */
		if (budget ? (col == COL_MEAN || col == COL_STD || col == COL_FLOOR)
		           : col == COL_BUDGET)
			continue;
		t->col[t->ncols++] = col;
	}
	size_t nc = (size_t)t->ncols;
	t->rows = sw->n + 2; /* header + original + candidates */
	if (sw->n > SIZE_MAX / NCOLS / sizeof(size_t) - 2)
		return nnp_err_set(err, NNP_ENOMEM, "report: %zu candidates: too many", sw->n);
	t->off = malloc(t->rows * nc * sizeof *t->off);
	if (!t->off)
		return nnp_err_set(err, NNP_ENOMEM, "report: out of memory");
	int sparse = nnp_report_has_sparse(sw);
	for (size_t k = 0; k < nc; k++) {
		t->off[k] = t->txt.len;
		/* Unstructured candidates are reduced by their zero weights. */
		nnp_tb_puts(&t->txt, sparse && t->col[k] == COL_RED ? "nonzero reduction"
		                                                    : cols[t->col[k]].head);
		nnp_tb_putc(&t->txt, '\0');
	}
	for (size_t r = 1; r < t->rows; r++) {
		size_t i = r - 2;
		const nnp_candidate *c = r == 1 ? &sw->original : &sw->c[i];
		for (size_t k = 0; k < nc; k++) {
			t->off[r * nc + k] = t->txt.len;
			cell_text(t, c, t->col[k], i, sw, s, info, md);
		}
	}
	if (t->txt.oom)
		return nnp_err_set(err, NNP_ENOMEM, "report: out of memory");
	return NNP_OK;
}

static void pad(nnp_tbuf *b, char ch, size_t n)
{
	for (size_t i = 0; i < n; i++)
		nnp_tb_putc(b, ch);
}

/* Display width: UTF-8 lead bytes only, so a non-ASCII path still lines up. */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		w += (*p & 0xC0) != 0x80;
	return w;
}

static void put_aligned(nnp_tbuf *b, const char *s, size_t w, char align)
{
	size_t n = text_width(s), room = w > n ? w - n : 0;
	size_t left = align == 'r' ? room : align == 'c' ? room / 2 : 0;
	pad(b, ' ', left);
	nnp_tb_puts(b, s);
	pad(b, ' ', room - left);
}

static void col_widths(const cells *t, size_t ncols, size_t *w)
{
	for (size_t k = 0; k < ncols; k++) {
		w[k] = 0;
		for (size_t r = 0; r < t->rows; r++) {
			size_t n = text_width(cell(t, r, k));
			if (n > w[k])
				w[k] = n;
		}
	}
}

static void render_table(nnp_tbuf *b, const cells *t)
{
	size_t w[NCOLS];
	/* Every column but the file, which is last and too wide for a terminal. */
	const size_t ncols = (size_t)t->ncols - 1;
	col_widths(t, ncols, w);
	for (size_t r = 0; r < t->rows; r++) {
		for (size_t k = 0; k < ncols; k++) {
			if (k)
				nnp_tb_puts(b, "  ");
			put_aligned(b, cell(t, r, k), w[k], cols[t->col[k]].align);
		}
		nnp_tb_putc(b, '\n');
		if (r == 0) {
			for (size_t k = 0; k < ncols; k++) {
				if (k)
					nnp_tb_puts(b, "  ");
				pad(b, '-', w[k]);
			}
			nnp_tb_putc(b, '\n');
		}
	}
}

static void render_md_table(nnp_tbuf *b, const cells *t)
{
	size_t w[NCOLS];
	const size_t ncols = (size_t)t->ncols;
	col_widths(t, ncols, w);
	for (size_t k = 0; k < ncols; k++)
		if (w[k] < 3)
			w[k] = 3; /* room for the ":-:" alignment marks */
	for (size_t r = 0; r < t->rows; r++) {
		nnp_tb_putc(b, '|');
		for (size_t k = 0; k < ncols; k++) {
			nnp_tb_putc(b, ' ');
			put_aligned(b, cell(t, r, k), w[k], cols[t->col[k]].align);
			nnp_tb_puts(b, " |");
		}
		nnp_tb_putc(b, '\n');
		if (r == 0) {
			nnp_tb_putc(b, '|');
			for (size_t k = 0; k < ncols; k++) {
				char a = cols[t->col[k]].align;
				nnp_tb_putc(b, ' ');
				nnp_tb_putc(b, a == 'c' ? ':' : '-');
				pad(b, '-', w[k] - 2);
				nnp_tb_putc(b, a == 'l' ? '-' : ':');
				nnp_tb_puts(b, " |");
			}
			nnp_tb_putc(b, '\n');
		}
	}
}

static void md_best(nnp_tbuf *b, const nnp_sweep *sw, const nnp_report_info *info)
{
	if (info->best == NNP_NO_DUP) {
		int gated = info->gates ? nnp_gates_any(info->gates) : !isnan(info->max_drop);
		nnp_tb_puts(b, !gated ? "none selected" : "none within the gate");
		if (info->verdict && info->verdict->failed != NNP_GATE_NONE)
			nnp_tb_printf(b, " (%s failed)", nnp_gate_option(info->verdict->failed));
		return;
	}
	const nnp_candidate *c = &sw->c[info->best];
	nnp_tb_printf(b, "\\#%zu", nnp_report_index(info, info->best));
	if (nnp_report_is_budget(info)) {
		nnp_tb_puts(b, " (");
		nnp_report_budget(b, c);
		nnp_tb_putc(b, ')');
	}
	nnp_tb_printf(b, ": %zu %sparameters (%.1f%% fewer), accuracy %.2f%% (drop ",
	              nnp_candidate_size(c), c->kind == NNP_CAND_SPARSE ? "nonzero " : "", c->reduction,
	              100.0 * c->accuracy);
	fmt_signed(b, c->accuracy_drop);
	nnp_tb_puts(b, " points)");
	if (c->ft.done) {
		nnp_tb_printf(b, ", fine-tuned %.2f%% (drop ", 100.0 * c->ft.accuracy);
		fmt_signed(b, c->ft.drop);
		nnp_tb_puts(b, " points)");
	}
}

/* "N epoch(s) on DATA (lr X, seed S)", Markdown-escaped; with the recipe
 * recorded "(lr X, seed S; adam, cosine, oneshot; distilled at T 2, alpha
 * 0.5 from the original)". */
static void md_ft(nnp_tbuf *b, const nnp_report_info *info)
{
	nnp_tb_printf(b, "%zu epoch%s on ", info->ft_epochs, info->ft_epochs == 1 ? "" : "s");
	rb_md(b, info->ft_data_path);
	nnp_tb_printf(b, " (lr %.7g, seed %llu", info->ft_lr, (unsigned long long)info->ft_seed);
	const char *recipe[] = { info->ft_optimizer, info->ft_lr_schedule, info->ft_schedule };
	for (size_t i = 0; info->ft_schedule && i < 3; i++) {
		nnp_tb_puts(b, i ? ", " : "; ");
		rb_md(b, recipe[i]);
	}
	if (info->ft_schedule && isfinite(info->ft_distill_t)) {
		nnp_tb_printf(b, "; distilled at T %.7g, alpha %.7g from ", info->ft_distill_t,
		              info->ft_distill_alpha);
		if (info->ft_teacher)
			rb_md(b, info->ft_teacher);
		else
			nnp_tb_puts(b, "the original");
	}
	nnp_tb_putc(b, ')');
}

/* What was pruned how, and on which rows the method computed its choices. */
static void md_method(nnp_tbuf *b, const nnp_report_info *info)
{
	const char *comp = nnp_report_comp(info);
	if (!nnp_report_is_budget(info) && strcmp(comp, "ls") != 0) {
		nnp_tb_printf(b, "- folding: %s\n", !strcmp(comp, "fold") ? "on" : "off");
	} else {
		nnp_tb_puts(b, "- method: ");
		rb_md(b, nnp_criterion_display(info->method));
		nnp_tb_puts(b, ", compensation ");
		rb_md(b, comp);
		if (isfinite(info->lambda_rel))
			nnp_tb_printf(b, " (ridge lambda %g x trace(C)/n)", info->lambda_rel);
		nnp_tb_putc(b, '\n');
	}
	if (!nnp_report_is_budget(info))
		nnp_tb_printf(b, "- min\\_keep: %zu\n", info->min_keep);
	nnp_tb_puts(b, "- calibration: ");
	if (info->calib_path) {
		rb_md(b, info->calib_path);
		nnp_tb_printf(b, " (%llu rows), not the evaluation data\n",
		              (unsigned long long)info->calib_rows);
	} else if (info->method && nnp_criterion_find(info->method) &&
	           nnp_criterion_find(info->method)->kind == NNP_CRIT_UNSTRUCTURED) {
		nnp_tb_puts(b, "none (the weights' magnitudes alone choose)\n");
	} else {
		nnp_tb_puts(b, "the evaluation data itself (what the method chose from is what it is "
		               "judged on: use --calib for separate rows)\n");
	}
}

static void render_md(nnp_tbuf *b, const cells *t, const nnp_sweep *sw, const nnp_stats *s,
                      const nnp_report_info *info)
{
	nnp_tb_puts(b, "# nnprune report: ");
	rb_md(b, nnp_report_title_name(info));
	nnp_tb_puts(b, "\n\n- model: ");
	rb_md(b, info->model_path);
	nnp_tb_puts(b, " (hidden layers ");
	if (s->n_layers)
		nnp_report_kept(b, &sw->original, s, "-");
	else
		nnp_tb_puts(b, "none");
	nnp_tb_printf(b, ", %zu parameters)\n- data: ", sw->original.params);
	rb_md(b, info->data_path);
	nnp_tb_printf(b, " (%llu rows)%s\n", (unsigned long long)rows_of(sw, info),
	              info->stats_data_path ? ", held out" : "");
	if (info->stats_data_path) {
		nnp_tb_puts(b, "- statistics: ");
		rb_md(b, info->stats_data_path);
		nnp_tb_printf(b, " (%llu rows)\n",
		              (unsigned long long)(info->stats_rows ? info->stats_rows : s->rows));
	}
	if (info->shard_count)
		nnp_tb_printf(b, "- shard: %zu of %zu (%zu of the sweep's %zu candidates)\n",
		              info->shard_index, info->shard_count, sw->n,
		              info->n_total ? info->n_total : sw->n);
	md_method(b, info);
	nnp_tb_printf(b, "- candidates: %zu (%zu distinct kept sets)\n", sw->n, sw->n_unique);
	int ft = nnp_report_has_ft(sw);
	if (info->gates && nnp_gates_any(info->gates)) {
		char g[256];
		nnp_gates_describe(info->gates, g, sizeof g);
		nnp_tb_puts(b, "- gates: ");
		rb_md(b, g);
		nnp_tb_puts(b, ft ? " (after fine-tuning)\n" : "\n");
	} else if (info->gates || isnan(info->max_drop))
		nnp_tb_puts(b, "- max drop: none\n");
	else
		nnp_tb_printf(b, "- max drop: %g point%s%s\n", info->max_drop,
		              info->max_drop == 1 ? "" : "s", ft ? " (after fine-tuning)" : "");
	if (ft) {
		nnp_tb_puts(b, "- fine-tuning: ");
		md_ft(b, info);
		nnp_tb_puts(b, "\n");
	}
	nnp_tb_puts(b, "- best: ");
	md_best(b, sw, info);
	nnp_tb_puts(b, "\n- tool: nnprune ");
	rb_md(b, version_of(info));
	nnp_tb_puts(b, "\n\n");
	render_md_table(b, t);
	if (nnp_report_has_sparse(sw))
		nnp_tb_puts(b, "\nbudget: sparsity S sets the share S of the smallest weights to "
		               "zero, in every layer (global: ranked across the layers); S1/S2/...: "
		               "a share per weight layer, the output layer last.");
	else if (nnp_report_is_budget(info))
		nnp_tb_puts(b, "\nbudget: keep F keeps round(F x width) neurons of every hidden layer; "
		               "step N is step N of the sensitivity allocation path; target P is the "
		               "first step of that path within P parameters; widths: the kept "
		               "counts as given.");
	else
		nnp_tb_puts(b, "\nmean, std: thresholds (a neuron goes when \\|mean\\| \\<= mean "
		               "and std \\<= std).");
	nnp_tb_puts(b, " kept: neurons per hidden layer. nonzeros: weights that are not zero. "
	               "file bytes: the model file's size. drop: accuracy points lost. "
	               "agreement: rows whose prediction matches the original's. "
	               "pareto \\*: no other model is smaller and at least as accurate "
	               "(duplicates are not marked).");
	if (nnp_report_has_sparse(sw))
		nnp_tb_puts(b, " nonzero reduction: parameters removed, percent of the original's, "
		               "the weights set to zero counting as removed (magnitude candidates "
		               "keep every neuron): the nonzero weights plus the biases are the size "
		               "that the Pareto front, best and --max-params judge; --max-bytes "
		               "judges the file's real size.");
	if (!nnp_report_is_budget(info))
		nnp_tb_puts(b, " floor \\*: min\\_keep kept more than the rule in some layer.");
	nnp_tb_puts(b, " = \\#N: the same neurons as candidate N.");
	if (ft)
		nnp_tb_puts(b, " ft accuracy: after fine-tuning (\\- where a model was not "
		               "fine-tuned). ft drop: accuracy points the fine-tuned model lost against "
		               "the original (negative: gained). vs ft orig: points lost against the "
		               "original fine-tuned the same way. With fine-tuning, max drop and best "
		               "judge the fine-tuned accuracy.");
	nnp_tb_puts(b, "\n\n");
	nnp_tb_puts(b, "![accuracy against parameters](report.svg)\n\n"
	               "![activation mean and std per neuron](stats.svg)\n");
}

/* ---- CSV ---- */

/* The fine-tuning fields of one CSV row, after the others; empty when the
 * model was not fine-tuned. */
static void csv_ft(nnp_tbuf *b, const nnp_candidate *c, int orig)
{
	if (!c->ft.done) {
		nnp_tb_puts(b, ",,,,,");
		return;
	}
	const double v[4] = { c->ft.accuracy, c->ft.drop, orig ? 0 : c->ft.drop_vs_ft, c->ft.loss };
	for (int k = 0; k < 4; k++) {
		nnp_tb_putc(b, ',');
		rb_num(b, v[k], "");
	}
	nnp_tb_putc(b, ',');
	rb_csv(b, c->ft.file);
}

/* The budget fields of one CSV row (methods other than the rule). */
static void csv_budget(nnp_tbuf *b, const nnp_candidate *c, int orig)
{
	nnp_tb_putc(b, ',');
	if (!orig && c->budget.keep_frac > 0)
		rb_num(b, c->budget.keep_frac, "");
	nnp_tb_putc(b, ',');
	if (!orig && c->budget.alloc_step)
		nnp_tb_printf(b, "%zu", c->budget.alloc_step);
	nnp_tb_putc(b, ',');
	if (!orig && c->budget.target_params)
		nnp_tb_printf(b, "%zu", c->budget.target_params);
}

static void render_csv(nnp_tbuf *b, const nnp_sweep *sw, const nnp_stats *s,
                       const nnp_report_info *info)
{
	int ft = nnp_report_has_ft(sw), budget = nnp_report_is_budget(info);
	nnp_tb_puts(b, "candidate,mean,std,kept,params,bytes,macs,accuracy,accuracy_drop,loss,"
	               "agreement,reduction,pareto,floor_hit,same_as,file");
	/* New columns go last, so scripts reading the others by position still work. */
	if (ft)
		nnp_tb_puts(b, ",ft_accuracy,ft_accuracy_drop,ft_accuracy_drop_vs_finetuned_original,"
		               "ft_loss,ft_file");
	if (budget)
		nnp_tb_puts(b, ",keep,allocation_step,target_params");
	nnp_tb_puts(b, ",nonzeros,file_bytes");
	nnp_tb_putc(b, '\n');
	for (size_t r = 0; r <= sw->n; r++) {
		const nnp_candidate *c = r == 0 ? &sw->original : &sw->c[r - 1];
		if (r == 0)
			nnp_tb_puts(b, "original,,,");
		else {
			nnp_tb_printf(b, "%zu,", nnp_report_index(info, r - 1));
			rb_num(b, c->thr.mean, "");
			nnp_tb_putc(b, ',');
			rb_num(b, c->thr.std, "");
			nnp_tb_putc(b, ',');
		}
		nnp_report_kept(b, c, s, "-");
		nnp_tb_printf(b, ",%zu,%zu,%zu,", c->params, c->bytes, c->macs);
		const double v[5] = { c->accuracy, c->accuracy_drop, c->loss, c->agreement,
		                      c->reduction };
		for (int k = 0; k < 5; k++) {
			rb_num(b, v[k], "");
			nnp_tb_putc(b, ',');
		}
		nnp_tb_printf(b, "%d,%d,", nnp_report_pareto(c), c->floor_hit ? 1 : 0);
		if (c->same_as != NNP_NO_DUP && r > 0)
			nnp_tb_printf(b, "%zu", nnp_report_index(info, c->same_as));
		nnp_tb_putc(b, ',');
		rb_csv(b, c->file);
		if (ft)
			csv_ft(b, c, r == 0);
		if (budget)
			csv_budget(b, c, r == 0);
		nnp_tb_putc(b, ',');
		if (c->nonzeros)
			nnp_tb_printf(b, "%zu", c->nonzeros);
		nnp_tb_putc(b, ',');
		if (c->file_bytes)
			nnp_tb_printf(b, "%llu", (unsigned long long)c->file_bytes);
		nnp_tb_putc(b, '\n');
	}
}

/* ---- JSON ---- */

/* A model's "finetune" member: its fine-tuned figures, or null. */
static void json_ft(nnp_tbuf *b, const nnp_candidate *c, int orig, const nnp_report_info *info)
{
	nnp_tb_puts(b, ", \"finetune\": ");
	if (!c->ft.done) {
		nnp_tb_puts(b, "null");
		return;
	}
	nnp_tb_printf(b, "{\"epochs\": %zu, \"accuracy\": ", info->ft_epochs);
	rb_num(b, c->ft.accuracy, "null");
	rb_member(b, "loss", c->ft.loss);
	rb_member(b, "accuracy_drop_points", c->ft.drop);
	rb_member(b, "accuracy_drop_vs_finetuned_original_points", orig ? 0 : c->ft.drop_vs_ft);
	nnp_tb_puts(b, ", \"file\": ");
	rb_json_str(b, c->ft.file);
	nnp_tb_putc(b, '}');
}

/* A candidate's "budget" member (methods other than the rule). */
static void json_budget(nnp_tbuf *b, const nnp_candidate *c, int orig)
{
	nnp_tb_puts(b, ", \"budget\": ");
	if (orig) {
		nnp_tb_puts(b, "null");
		return;
	}
	const char *sep = "";
	nnp_tb_putc(b, '{');
	if (c->budget.keep_frac > 0) {
		nnp_tb_puts(b, "\"keep\": ");
		rb_num(b, c->budget.keep_frac, "null");
		sep = ", ";
	}
	if (c->kind == NNP_CAND_SPARSE) {
		nnp_tb_puts(b, "\"sparsity\": ");
		rb_num(b, c->sparse.share, "null");
		nnp_tb_printf(b, ", \"scope\": \"%s\"", nnp_mag_scope_name(c->sparse.scope));
		if (c->sparse.layers) {
			nnp_tb_puts(b, ", \"layer_sparsity\": [");
			for (size_t l = 0; l < c->sparse.n_layers; l++) {
				nnp_tb_puts(b, l ? ", " : "");
				rb_num(b, c->sparse.layers[l], "null");
			}
			nnp_tb_putc(b, ']');
		}
		sep = ", ";
	}
	if (c->budget.target_params) {
		nnp_tb_printf(b, "%s\"target_params\": %zu", sep, c->budget.target_params);
		sep = ", ";
	}
	if (c->budget.alloc_step) {
		nnp_tb_printf(b, "%s\"allocation_step\": %zu", sep, c->budget.alloc_step);
		sep = ", ";
	}
	if (c->budget.widths && c->keep) {
		nnp_tb_printf(b, "%s\"widths\": [", sep);
		for (size_t l = 0; l < c->keep->n_layers; l++)
			nnp_tb_printf(b, "%s%zu", l ? ", " : "", c->keep->count[l]);
		nnp_tb_putc(b, ']');
	}
	nnp_tb_putc(b, '}');
}

/* A count, null when 0 (unknown). */
static void rb_count(nnp_tbuf *b, uint64_t v)
{
	if (v)
		nnp_tb_printf(b, "%llu", (unsigned long long)v);
	else
		nnp_tb_puts(b, "null");
}

static void rb_index(nnp_tbuf *b, const nnp_report_info *info, size_t i)
{
	if (i == NNP_NO_DUP)
		nnp_tb_puts(b, "null");
	else
		nnp_tb_printf(b, "%zu", nnp_report_index(info, i));
}

static void json_model(nnp_tbuf *b, const nnp_candidate *c, size_t i, int orig,
                       const nnp_stats *s, const nnp_report_info *info, int ft)
{
	nnp_tb_putc(b, '{');
	if (!orig)
		nnp_tb_printf(b, "\"index\": %zu, ", nnp_report_index(info, i));
	nnp_tb_puts(b, "\"mean\": ");
	rb_num(b, orig ? NAN : c->thr.mean, "null");
	rb_member(b, "std", orig ? NAN : c->thr.std);
	if (nnp_report_is_budget(info))
		json_budget(b, c, orig);
	nnp_tb_puts(b, ", \"kept\": [");
	nnp_report_kept(b, c, s, ", ");
	nnp_tb_puts(b, "], \"kept_crc32\": ");
	if (orig)
		nnp_tb_puts(b, "null");
	else
		nnp_tb_printf(b, "\"%08x\"", (unsigned)(info->kept_crc ? info->kept_crc[i]
		                                                       : nnp_report_kept_crc(c->keep)));
	nnp_tb_printf(b, ", \"params\": %zu, \"nonzeros\": ", c->params);
	rb_count(b, c->nonzeros);
	nnp_tb_printf(b, ", \"param_bytes\": %zu, \"file_bytes\": ", c->bytes);
	rb_count(b, c->file_bytes);
	nnp_tb_printf(b, ", \"macs\": %zu, \"accuracy\": ", c->macs);
	rb_num(b, c->accuracy, "null");
	rb_member(b, "accuracy_drop_points", c->accuracy_drop);
	rb_member(b, "loss", c->loss);
	rb_member(b, "agreement", c->agreement);
	rb_member(b, "reduction_percent", c->reduction);
	nnp_tb_printf(b, ", \"pareto\": %s, \"floor_hit\": %s, \"same_as\": ",
	              nnp_report_pareto(c) ? "true" : "false", c->floor_hit ? "true" : "false");
	rb_index(b, info, orig ? NNP_NO_DUP : c->same_as);
	nnp_tb_puts(b, ", \"file\": ");
	rb_json_str(b, c->file);
	if (ft)
		json_ft(b, c, orig, info);
	nnp_tb_putc(b, '}');
}

/* The "gates" object: every gate, null where not given. */
static void json_gates(nnp_tbuf *b, const nnp_report_info *info)
{
	nnp_gates g;
	nnp_gates_init(&g);
	if (info->gates)
		g = *info->gates;
	else
		g.max_drop = info->max_drop;
	nnp_tb_puts(b, "{\"max_drop_points\": ");
	rb_num(b, g.max_drop, "null");
	rb_member(b, "min_accuracy", g.min_accuracy);
	nnp_tb_puts(b, ", \"max_params\": ");
	if (g.max_params != NNP_GATE_UNSET_COUNT)
		nnp_tb_printf(b, "%zu", g.max_params);
	else
		nnp_tb_puts(b, "null");
	rb_member(b, "max_params_percent", g.max_params_pct);
	nnp_tb_puts(b, ", \"max_bytes\": ");
	if (g.max_bytes != NNP_GATE_UNSET_BYTES)
		nnp_tb_printf(b, "%llu", (unsigned long long)g.max_bytes);
	else
		nnp_tb_puts(b, "null");
	nnp_tb_puts(b, "}");
}

/* "verdict": null when no gate was given; else whether one passed, and when
 * none did the gate that failed and the closest candidate. */
static void json_verdict(nnp_tbuf *b, const nnp_sweep *sw, const nnp_report_info *info)
{
	int gated = info->gates ? nnp_gates_any(info->gates) : !isnan(info->max_drop);
	if (!gated) {
		nnp_tb_puts(b, "null");
		return;
	}
	nnp_tb_printf(b, "{\"passed\": %s, \"judged\": \"%s\", \"failed_gate\": ",
	              info->best != NNP_NO_DUP ? "true" : "false",
	              nnp_report_has_ft(sw) ? "finetuned" : "pruned");
	const nnp_gate_result *v = info->verdict;
	if (info->best == NNP_NO_DUP && v && v->failed != NNP_GATE_NONE)
		rb_json_str(b, nnp_gate_option(v->failed));
	else
		nnp_tb_puts(b, "null");
	nnp_tb_puts(b, ", \"closest\": ");
	rb_index(b, info, info->best == NNP_NO_DUP && v ? v->closest : NNP_NO_DUP);
	nnp_tb_putc(b, '}');
}

static void json_manifest(nnp_tbuf *b, const nnp_manifest *m)
{
	if (!m) {
		nnp_tb_puts(b, "null");
		return;
	}
	nnp_tb_putc(b, '[');
	for (size_t i = 0; i < m->n; i++) {
		nnp_tb_puts(b, i ? ",\n    {\"file\": " : "\n    {\"file\": ");
		rb_json_str(b, m->e[i].name);
		nnp_tb_puts(b, ", \"bytes\": ");
		if (m->e[i].bytes == NNP_MANIFEST_ANY_SIZE)
			nnp_tb_puts(b, "null");
		else
			nnp_tb_printf(b, "%llu", (unsigned long long)m->e[i].bytes);
		nnp_tb_putc(b, '}');
	}
	nnp_tb_puts(b, m->n ? "\n  ]" : "]");
}

/* "nnprune VERSION" as a JSON string. */
/* The top "finetune" object's recipe members, when recorded: schedule,
 * optimizer, lr_schedule, distill (null, or its T, alpha and teacher). */
static void json_ft_recipe(nnp_tbuf *b, const nnp_report_info *info)
{
	if (!info->ft_schedule)
		return;
	static const char *const key[] = { "schedule", "optimizer", "lr_schedule" };
	const char *val[] = { info->ft_schedule, info->ft_optimizer, info->ft_lr_schedule };
	for (size_t i = 0; i < 3; i++) {
		nnp_tb_printf(b, ", \"%s\": ", key[i]);
		rb_json_str(b, val[i]);
	}
	nnp_tb_puts(b, ", \"distill\": ");
	if (!isfinite(info->ft_distill_t)) {
		nnp_tb_puts(b, "null");
		return;
	}
	/* T and alpha are floats in training: 7 digits say all they hold. */
	nnp_tb_printf(b, "{\"t\": %.7g, \"alpha\": %.7g, \"teacher\": ", info->ft_distill_t,
	              info->ft_distill_alpha);
	rb_json_str(b, info->ft_teacher);
	nnp_tb_putc(b, '}');
}

static void json_tool(nnp_tbuf *b, const nnp_report_info *info)
{
	nnp_tbuf tool = { 0 };
	nnp_tb_puts(&tool, "nnprune ");
	nnp_tb_puts(&tool, version_of(info));
	if (tool.oom)
		b->oom = 1;
	else
		rb_json_str(b, tool.p);
	nnp_tb_free(&tool);
}

static void render_json(nnp_tbuf *b, const nnp_sweep *sw, const nnp_stats *s,
                        const nnp_report_info *info)
{
	nnp_tb_printf(b, "{\n  \"format\": \"nnprune-report\",\n  \"version\": %d,\n  \"tool\": ",
	              NNP_REPORT_JSON_VERSION);
	json_tool(b, info);
	nnp_tb_puts(b, ",\n  \"model\": {\"path\": ");
	rb_json_str(b, info->model_path);
	nnp_tb_puts(b, ", \"name\": ");
	rb_json_str(b, info->model_name);
	nnp_tb_puts(b, "},\n  \"data\": {\"path\": ");
	rb_json_str(b, info->data_path);
	nnp_tb_printf(b, ", \"rows\": %llu, \"held_out\": %s},\n",
	              (unsigned long long)rows_of(sw, info), info->stats_data_path ? "true" : "false");
	nnp_tb_puts(b, "  \"statistics\": {\"path\": ");
	rb_json_str(b, info->stats_path);
	nnp_tb_puts(b, ", \"data\": ");
	rb_json_str(b, info->stats_data_path ? info->stats_data_path : info->data_path);
	nnp_tb_printf(b, ", \"rows\": %llu},\n",
	              (unsigned long long)(info->stats_rows ? info->stats_rows : s->rows));
	const char *comp = nnp_report_comp(info);
	nnp_tb_printf(b, "  \"fold\": %s,\n  \"min_keep\": ", !strcmp(comp, "fold") ? "true" : "false");
	if (nnp_report_is_budget(info))
		nnp_tb_puts(b, "null");
	else
		nnp_tb_printf(b, "%zu", info->min_keep);
	nnp_tb_puts(b, ",\n  \"method\": ");
	rb_json_str(b, nnp_criterion_display(info->method));
	nnp_tb_puts(b, ",\n  \"compensate\": ");
	rb_json_str(b, comp);
	nnp_tb_puts(b, ",\n  \"lambda_rel\": ");
	rb_num(b, info->lambda_rel, "null");
	nnp_tb_puts(b, ",\n  \"calibration\": {\"path\": ");
	rb_json_str(b, info->calib_path ? info->calib_path : info->data_path);
	nnp_tb_printf(b, ", \"rows\": %llu, \"evaluation_data\": %s},\n",
	              (unsigned long long)(info->calib_path ? info->calib_rows : rows_of(sw, info)),
	              info->calib_path ? "false" : "true");
	nnp_tb_puts(b, "  \"layers\": [");
	for (size_t l = 0; l < s->n_layers; l++) {
		const char *act = nnp_act_name(s->layers[l].act);
		nnp_tb_printf(b, "%s{\"layer\": %zu, \"activation\": ", l ? ", " : "",
		              s->layers[l].layer);
		rb_json_str(b, act);
		nnp_tb_printf(b, ", \"neurons\": %zu}", s->layers[l].neurons);
	}
	nnp_tb_puts(b, "],\n  \"shard\": ");
	if (info->shard_count)
		nnp_tb_printf(b, "{\"index\": %zu, \"count\": %zu}", info->shard_index,
		              info->shard_count);
	else
		nnp_tb_puts(b, "null");
	nnp_tb_printf(b, ",\n  \"candidates_total\": %zu,\n  \"distinct\": %zu",
	              info->n_total ? info->n_total : sw->n, sw->n_unique);
	int ft = nnp_report_has_ft(sw);
	nnp_tb_puts(b, ",\n  \"original\": ");
	json_model(b, &sw->original, 0, 1, s, info, ft);
	nnp_tb_puts(b, ",\n  \"candidates\": [");
	for (size_t i = 0; i < sw->n; i++) {
		nnp_tb_puts(b, i ? ",\n    " : "\n    ");
		json_model(b, &sw->c[i], i, 0, s, info, ft);
	}
	nnp_tb_puts(b, sw->n ? "\n  ],\n  \"gates\": " : "],\n  \"gates\": ");
	json_gates(b, info);
	nnp_tb_puts(b, ",\n  \"best\": ");
	rb_index(b, info, info->best);
	nnp_tb_puts(b, ",\n  \"verdict\": ");
	json_verdict(b, sw, info);
	if (ft) {
		/* lr is a float in training: 7 digits say all it holds. */
		nnp_tb_puts(b, ",\n  \"finetune\": {\"data\": ");
		rb_json_str(b, info->ft_data_path);
		nnp_tb_printf(b, ", \"epochs\": %zu, \"lr\": ", info->ft_epochs);
		if (isfinite(info->ft_lr))
			nnp_tb_printf(b, "%.7g", info->ft_lr);
		else
			nnp_tb_puts(b, "null");
		nnp_tb_printf(b, ", \"seed\": %llu", (unsigned long long)info->ft_seed);
		json_ft_recipe(b, info);
		nnp_tb_putc(b, '}');
	}
	nnp_tb_puts(b, ",\n  \"write\": ");
	rb_json_str(b, info->write_mode);
	nnp_tb_puts(b, ",\n  \"manifest\": ");
	json_manifest(b, info->manifest);
	nnp_tb_puts(b, "\n}\n");
}

/* ---- entry points ---- */

/* What every renderer does first: no output yet, the inputs checked, and
 * *eff the info the renderers read (nnp_report_effective). */
static int render_begin(char **out, size_t *len, const nnp_sweep *sw, const nnp_stats *s,
                        const nnp_report_info *info, nnp_report_info *eff, nnp_err *err)
{
	*out = NULL;
	if (len)
		*len = 0;
	int rc = check_inputs(sw, s, info, err);
	if (!rc)
		nnp_report_effective(info, eff);
	return rc;
}

int nnp_report_render(char **out, size_t *len, nnp_report_kind kind, const nnp_sweep *sw,
                      const nnp_stats *s, const nnp_report_info *info, nnp_err *err)
{
	nnp_report_info eff;
	int rc = render_begin(out, len, sw, s, info, &eff, err);
	if (rc)
		return rc;
	info = &eff;
	nnp_tbuf b = { 0 };
	cells t = { 0 };
	switch (kind) {
	case NNP_REPORT_TABLE:
	case NNP_REPORT_MD:
		rc = cells_build(&t, sw, s, info, kind == NNP_REPORT_MD, err);
		if (rc)
			goto done;
		if (kind == NNP_REPORT_TABLE)
			render_table(&b, &t);
		else
			render_md(&b, &t, sw, s, info);
		break;
	case NNP_REPORT_CSV: render_csv(&b, sw, s, info); break;
	case NNP_REPORT_JSON: render_json(&b, sw, s, info); break;
	case NNP_REPORT_SVG: nnp_report_svg_plot(&b, sw, info); break;
	case NNP_REPORT_STATS_SVG: nnp_report_svg_stats(&b, sw, s, info); break;
	default:
		rc = nnp_err_set(err, NNP_EUSAGE, "report: unknown output kind %d", (int)kind);
		goto done;
	}
	/* An empty render still returns a string the caller can free. */
	nnp_tb_putn(&b, "", 0);
	if (b.oom) {
		rc = nnp_err_set(err, NNP_ENOMEM, "report: out of memory");
		goto done;
	}
	*out = b.p;
	if (len)
		*len = b.len;
	b.p = NULL;
done:
	cells_free(&t);
	nnp_tb_free(&b);
	return rc;
}

/* ---- prune --json ---- */

int nnp_report_render_prune(char **out, size_t *len, const nnp_sweep *sw, const nnp_stats *s,
                            const nnp_report_info *info, const char *out_path,
                            const char *out_format, nnp_err *err)
{
	nnp_report_info eff;
	int rc = render_begin(out, len, sw, s, info, &eff, err);
	if (rc)
		return rc;
	if (sw->n != 1)
		return nnp_err_set(err, NNP_EUSAGE, "prune report: %zu models, not one", sw->n);
	info = &eff;
	nnp_tbuf b = { 0 };
	nnp_tb_puts(&b, "{\n  \"format\": \"nnprune.prune\",\n  \"version\": 1,\n  \"tool\": ");
	json_tool(&b, info);
	nnp_tb_puts(&b, ",\n  \"model\": {\"path\": ");
	rb_json_str(&b, info->model_path);
	nnp_tb_puts(&b, ", \"name\": ");
	rb_json_str(&b, info->model_name);
	nnp_tb_puts(&b, "},\n  \"output\": {\"path\": ");
	rb_json_str(&b, out_path);
	nnp_tb_puts(&b, ", \"format\": ");
	rb_json_str(&b, out_format);
	nnp_tb_puts(&b, "},\n  \"method\": ");
	rb_json_str(&b, nnp_criterion_display(info->method));
	nnp_tb_puts(&b, ",\n  \"compensate\": ");
	rb_json_str(&b, nnp_report_comp(info));
	nnp_tb_puts(&b, ",\n  \"lambda_rel\": ");
	rb_num(&b, info->lambda_rel, "null");
	nnp_tb_puts(&b, ",\n  \"calibration\": {\"path\": ");
	rb_json_str(&b, info->calib_path);
	nnp_tb_printf(&b, ", \"rows\": %llu},\n  \"evaluation\": ",
	              (unsigned long long)info->calib_rows);
	int evaluated = info->data_path != NULL;
	if (evaluated) {
		nnp_tb_puts(&b, "{\"path\": ");
		rb_json_str(&b, info->data_path);
		nnp_tb_printf(&b, ", \"rows\": %llu}", (unsigned long long)rows_of(sw, info));
	} else {
		nnp_tb_puts(&b, "null");
	}
	nnp_tb_puts(&b, ",\n  \"layers\": [");
	for (size_t l = 0; l < s->n_layers; l++) {
		nnp_tb_printf(&b, "%s{\"layer\": %zu, \"activation\": ", l ? ", " : "",
		              s->layers[l].layer);
		rb_json_str(&b, nnp_act_name(s->layers[l].act));
		nnp_tb_printf(&b, ", \"neurons\": %zu}", s->layers[l].neurons);
	}
	/* Not evaluated: the accuracy figures are unknown, printed as null. */
	nnp_sweep view = *sw;
	nnp_candidate c[2] = { sw->original, sw->c[0] };
	for (int k = 0; k < 2 && !evaluated; k++)
		c[k].accuracy = c[k].accuracy_drop = c[k].loss = c[k].agreement = NAN;
	view.original = c[0];
	view.c = &c[1];
	int ft = nnp_report_has_ft(&view);
	nnp_tb_puts(&b, "],\n  \"original\": ");
	json_model(&b, &view.original, 0, 1, s, info, ft);
	nnp_tb_puts(&b, ",\n  \"pruned\": ");
	json_model(&b, &view.c[0], 0, 0, s, info, ft);
	nnp_tb_puts(&b, ",\n  \"gates\": ");
	json_gates(&b, info);
	nnp_tb_puts(&b, ",\n  \"verdict\": ");
	json_verdict(&b, &view, info);
	nnp_tb_puts(&b, "\n}\n");
	if (b.oom) {
		nnp_tb_free(&b);
		return nnp_err_set(err, NNP_ENOMEM, "prune report: out of memory");
	}
	*out = b.p;
	if (len)
		*len = b.len;
	return NNP_OK;
}

int nnp_report_table(FILE *fp, const nnp_sweep *sw, const nnp_stats *s,
                     const nnp_report_info *info, nnp_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = nnp_report_render(&text, &len, NNP_REPORT_TABLE, sw, s, info, err);
	if (rc)
		return rc;
	if (fwrite(text, 1, len, fp) != len || fflush(fp) != 0)
		rc = nnp_err_set(err, NNP_EOUTPUT, "report table: write failed: %s", strerror(errno));
	free(text);
	return rc;
}

