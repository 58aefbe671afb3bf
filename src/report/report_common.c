/*
 * What every renderer of the report shares (report_priv.h): XML escaping,
 * titles, kept widths, budgets and the marks. Kept apart from report.c so the
 * SVG and HTML renderers (report_svg.c, report_html.c) and the table, CSV and
 * JSON ones (report.c) all stand on it and none calls back into another.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nnprune/report.h"
#include "nnprune/criteria.h"
#include "report_priv.h"

size_t nnp_utf8_seq(const unsigned char *s)
{
	unsigned c = s[0];
	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		/* Overlong forms and UTF-16 surrogates are not valid UTF-8. */
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

void nnp_rb_xml(nnp_tbuf *b, const char *s)
{
	if (!s)
		s = "-";
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = nnp_utf8_seq(p);
		if (n == 0 || (*p < 0x20) || *p == 0x7F) {
			/* XML 1.0 cannot hold most control characters even as
			 * references, and a file must be valid UTF-8. */
			nnp_tb_puts(b, UTF8_REPLACEMENT);
			p++;
			continue;
		}
		switch (*p) {
		case '&': nnp_tb_puts(b, "&amp;"); break;
		case '<': nnp_tb_puts(b, "&lt;"); break;
		case '>': nnp_tb_puts(b, "&gt;"); break;
		case '"': nnp_tb_puts(b, "&quot;"); break;
		case '\'': nnp_tb_puts(b, "&apos;"); break;
		default: nnp_tb_putn(b, (const char *)p, n); break;
		}
		p += n;
	}
}

int nnp_report_is_budget(const nnp_report_info *info)
{
	return !nnp_criterion_by_thresholds(info->method);
}

const char *nnp_report_comp(const nnp_report_info *info)
{
	return info->compensate ? info->compensate : info->fold ? "fold" : "none";
}

int nnp_report_is_plain(const nnp_report_info *info)
{
	const char *c = nnp_report_comp(info);
	return !nnp_report_is_budget(info) && !info->calib_path &&
	       (!strcmp(c, "fold") || !strcmp(c, "none"));
}

void nnp_report_budget(nnp_tbuf *b, const nnp_candidate *c)
{
	if (c->budget.target_params)
		nnp_tb_printf(b, "target %zu (step %zu)", c->budget.target_params, c->budget.alloc_step);
	else if (c->budget.alloc_step)
		nnp_tb_printf(b, "step %zu", c->budget.alloc_step);
	else if (c->budget.keep_frac > 0)
		nnp_tb_printf(b, "keep %g", c->budget.keep_frac);
	else if (c->budget.widths)
		nnp_tb_puts(b, "widths");
	else if (c->kind == NNP_CAND_SPARSE) {
		char sh[NNP_SHARES_TEXT_MAX];
		nnp_candidate_shares_text(sh, sizeof sh, c, '/');
		nnp_tb_printf(b, "sparsity %s%s%s", sh, c->sparse.scope ? " " : "",
		              c->sparse.scope ? nnp_mag_scope_name(c->sparse.scope) : "");
	} else
		nnp_tb_printf(b, "mean %g, std %g", c->thr.mean, c->thr.std);
}

const char *nnp_report_title_name(const nnp_report_info *info)
{
	if (info->model_name && *info->model_name)
		return info->model_name;
	if (!info->model_path)
		return "model";
	const char *slash = strrchr(info->model_path, '/');
	return slash && slash[1] ? slash + 1 : info->model_path;
}

void nnp_report_kept(nnp_tbuf *b, const nnp_candidate *c, const nnp_stats *s, const char *sep)
{
	for (size_t l = 0; l < s->n_layers; l++) {
		if (l)
			nnp_tb_puts(b, sep);
		nnp_tb_printf(b, "%zu", c->keep ? c->keep->count[l] : s->layers[l].neurons);
	}
}

void nnp_report_effective(const nnp_report_info *info, nnp_report_info *eff)
{
	*eff = *info;
	if (!info->gates)
		return;
	/* With gates, the accuracy gate every renderer draws is theirs; --max-drop
	 * alone reads as it always did. */
	nnp_gates g = *info->gates;
	eff->max_drop = g.max_drop;
	g.max_drop = NAN;
	if (!nnp_gates_any(&g))
		eff->gates = NULL;
}

int nnp_report_pareto(const nnp_candidate *c)
{
	/* A duplicate repeats its first, which carries the mark. */
	return c->pareto && c->same_as == NNP_NO_DUP;
}

size_t nnp_report_index(const nnp_report_info *info, size_t i)
{
	return info->index_map && i != NNP_NO_DUP ? info->index_map[i] : i;
}

int nnp_report_has_sparse(const nnp_sweep *sw)
{
	for (size_t i = 0; i < sw->n; i++)
		if (sw->c[i].kind == NNP_CAND_SPARSE)
			return 1;
	return 0;
}

int nnp_report_has_ft(const nnp_sweep *sw)
{
	if (sw->original.ft.done)
		return 1;
	for (size_t i = 0; i < sw->n; i++)
		if (sw->c[i].ft.done)
			return 1;
	return 0;
}
