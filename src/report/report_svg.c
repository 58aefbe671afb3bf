/* The report's two charts as self-contained SVG: no fonts, scripts or style
 * sheets to fetch, every style an inline attribute, coordinates printed with
 * one decimal so the bytes are the same from run to run. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/model.h"
#include "nnprune/criteria.h"
#include "report_priv.h"

#define C_CAND "#4c78a8"
#define C_PARETO "#f58518"
#define C_ORIG "#222222"
#define C_BEST "#2ca02c"
#define C_GATE "#d62728"
#define C_REMOVED "#d62728"
#define C_GRID "#e6e6e6"
#define C_AXIS "#444444"
#define C_BOX "#f3c99b"
#define C_FT "#9467bd"
#define C_LINK "#bbbbbb"
#define C_TRACE "#17becf"
#define FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

/* A stats panel draws at most this many neurons (every k-th beyond), so a
 * 16M-neuron layer cannot make a gigabyte-sized picture. */
#define MAX_POINTS 20000
#define MAX_TICKS 64

enum { AX_LIN, AX_LOG, AX_SQRT };

typedef struct axis {
	int kind;
	double lo, hi;        /* data values at the two ends */
	double p0, p1;        /* their pixel positions */
	double tick[MAX_TICKS];
	size_t nt;
} axis;

static double ax_t(const axis *a, double v)
{
	switch (a->kind) {
	case AX_LOG: return log10(v);
	case AX_SQRT: return copysign(sqrt(fabs(v)), v);
	default: return v;
	}
}

static double ax_px(const axis *a, double v)
{
	double t0 = ax_t(a, a->lo), t1 = ax_t(a, a->hi);
	double f = t1 > t0 ? (ax_t(a, v) - t0) / (t1 - t0) : 0.5;
	return a->p0 + f * (a->p1 - a->p0);
}

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The smallest 1, 2 or 5 times a power of ten that is >= raw (raw > 0). */
static double nice_up(double raw)
{
	double p = pow(10, floor(log10(raw)));
	double f = raw / p;
	double m = f <= 1.0000001 ? 1 : f <= 2.0000001 ? 2 : f <= 5.0000001 ? 5 : 10;
	return m * p;
}

/* The largest 1, 2 or 5 times a power of ten that is <= raw (raw > 0). */
static double nice_down(double raw)
{
	double p = pow(10, floor(log10(raw)));
	double f = raw / p;
	double m = f >= 4.9999999 ? 5 : f >= 1.9999999 ? 2 : 1;
	return m * p;
}

static void add_tick(axis *a, double v)
{
	if (a->nt < MAX_TICKS)
		a->tick[a->nt++] = v;
}

/* Linear axis over [lo, hi] widened to whole steps of a 1-2-5 step. */
static void lin_axis(axis *a, double lo, double hi, int target)
{
	a->kind = AX_LIN;
	if (!(hi > lo))
		hi = lo + 1;
	double step = nice_up((hi - lo) / target);
	double k0 = floor(lo / step + 1e-9), k1 = ceil(hi / step - 1e-9);
	a->lo = k0 * step;
	a->hi = k1 * step;
	a->nt = 0;
	for (double k = k0; k <= k1 + 0.5; k++)
		add_tick(a, k * step);
}

/* Log axis from the 1-2-5 value below lo to the one above hi; ticks at
 * 1-2-5 values, or only at decades when the range spans many. */
static void log_axis(axis *a, double lo, double hi)
{
	a->kind = AX_LOG;
	a->lo = nice_down(lo);
	a->hi = nice_up(hi);
	int decades_only = log10(a->hi / a->lo) > 3.5;
	a->nt = 0;
	static const double mant[3] = { 1, 2, 5 };
	for (int e = (int)floor(log10(a->lo)) - 1; e <= (int)ceil(log10(a->hi)); e++)
		for (int k = 0; k < (decades_only ? 1 : 3); k++) {
			double v = mant[k] * pow(10, e);
			if (v >= a->lo * 0.999999 && v <= a->hi * 1.000001)
				add_tick(a, v);
		}
}

/*
 * Signed square-root axis: values near 0 (small thresholds, dead neurons)
 * get room. Ticks are 1-2-5 values, chosen outward from 0 and skipped while
 * closer than gap pixels to the previous one.
 */
static void sqrt_axis(axis *a, double lo, double hi, double gap)
{
	a->kind = AX_SQRT;
	lo = fmin(lo, 0);
	hi = fmax(hi, 0);
	if (!(hi > lo))
		hi = 1;
	/* 5% margin in display space, so extreme points sit off the frame. */
	double tl = ax_t(a, lo), th = ax_t(a, hi), pad = 0.05 * (th - tl);
	a->lo = tl < 0 ? -(tl - pad) * (tl - pad) : 0;
	a->hi = th > 0 ? (th + pad) * (th + pad) : 0;
	a->nt = 0;
	add_tick(a, 0);
	double m = fmax(fabs(a->lo), fabs(a->hi));
	int e1 = (int)ceil(log10(m)), e0 = e1 - 9;
	static const double mant[3] = { 1, 2, 5 };
	for (int dir = 1; dir >= -1; dir -= 2) {
		double last = ax_px(a, 0);
		for (int e = e0; e <= e1; e++)
			for (int k = 0; k < 3; k++) {
				double v = dir * mant[k] * pow(10, e);
				if (v < a->lo || v > a->hi)
					continue;
				double p = ax_px(a, v);
				if (fabs(p - last) >= gap) {
					add_tick(a, v);
					last = p;
				}
			}
	}
}

/* Tick label: "%g", or with k/M suffixes for parameter counts. */
static void tick_label(nnp_tbuf *b, double v, int si)
{
	if (v == 0)
		v = 0;
	if (si && fabs(v) >= 1e6)
		nnp_tb_printf(b, "%gM", v / 1e6);
	else if (si && fabs(v) >= 1e3)
		nnp_tb_printf(b, "%gk", v / 1e3);
	else
		nnp_tb_printf(b, "%g", v);
}

/* Text, cut to about max characters keeping the end (a path's file name). */
static void rb_xml_clip(nnp_tbuf *b, const char *s, size_t max)
{
	if (!s)
		s = "-";
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		chars += (*p & 0xC0) != 0x80;
	if (chars <= max) {
		nnp_rb_xml(b, s);
		return;
	}
	size_t skip = chars - (max - 3);
	const unsigned char *p = (const unsigned char *)s;
	for (; *p; p++)
		if ((*p & 0xC0) != 0x80 && skip-- == 0)
			break;
	nnp_tb_puts(b, "...");
	nnp_rb_xml(b, (const char *)p);
}

static void svg_open(nnp_tbuf *b, int w, int h)
{
	nnp_tb_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	              "viewBox=\"0 0 %d %d\" " FONT ">\n"
	              "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
	              w, h, w, h, w, h);
}

static void text_open(nnp_tbuf *b, double x, double y, double size, const char *anchor,
                      const char *fill)
{
	nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%g\" fill=\"%s\"", x, y, size,
	              fill);
	if (anchor)
		nnp_tb_printf(b, " text-anchor=\"%s\"", anchor);
	nnp_tb_putc(b, '>');
}

/* A label over lines and points: drawn first as a thick white outline, then
 * plainly on top (paint-order would do it in one, but not in every viewer). */
static void halo_text(nnp_tbuf *b, double x, double y, double size, const char *anchor,
                      const char *fill, const char *text)
{
	nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%g\" text-anchor=\"%s\" "
	              "fill=\"#ffffff\" stroke=\"#ffffff\" stroke-width=\"3\" "
	              "stroke-linejoin=\"round\">", x, y, size, anchor);
	nnp_rb_xml(b, text);
	nnp_tb_puts(b, "</text>\n");
	text_open(b, x, y, size, anchor, fill);
	nnp_rb_xml(b, text);
	nnp_tb_puts(b, "</text>\n");
}

/* Grid lines, axis lines, ticks and tick labels of one plot area. */
static void draw_axes(nnp_tbuf *b, const axis *x, const axis *y, int x_si, double font)
{
	double top = y->p1, bottom = y->p0, left = x->p0, right = x->p1;
	nnp_tb_puts(b, "<g stroke=\"" C_GRID "\" stroke-width=\"1\">\n");
	for (size_t i = 0; i < x->nt; i++) {
		double p = ax_px(x, x->tick[i]);
		nnp_tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p, top,
		              p, bottom);
	}
	for (size_t i = 0; i < y->nt; i++) {
		double p = ax_px(y, y->tick[i]);
		nnp_tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", left, p,
		              right, p);
	}
	nnp_tb_puts(b, "</g>\n");
	nnp_tb_printf(b, "<path d=\"M %.1f %.1f V %.1f H %.1f\" fill=\"none\" stroke=\"" C_AXIS
	              "\" stroke-width=\"1\"/>\n", left, top, bottom, right);
	nnp_tb_printf(b, "<g font-size=\"%g\" fill=\"" C_AXIS "\">\n", font);
	for (size_t i = 0; i < x->nt; i++) {
		double p = ax_px(x, x->tick[i]);
		nnp_tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
		              C_AXIS "\"/>", p, bottom, p, bottom + 4);
		nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", p,
		              bottom + 6 + font);
		tick_label(b, x->tick[i], x_si);
		nnp_tb_puts(b, "</text>\n");
	}
	for (size_t i = 0; i < y->nt; i++) {
		double p = ax_px(y, y->tick[i]);
		nnp_tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
		              C_AXIS "\"/>", left - 4, p, left, p);
		nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 7,
		              p + font * 0.35);
		tick_label(b, y->tick[i], 0);
		nnp_tb_puts(b, "</text>\n");
	}
	nnp_tb_puts(b, "</g>\n");
}

static void axis_titles(nnp_tbuf *b, const axis *x, const axis *y, const char *xt,
                        const char *yt, double font, double x_off, double y_off)
{
	text_open(b, (x->p0 + x->p1) / 2, y->p0 + x_off, font, "middle", C_AXIS);
	nnp_rb_xml(b, xt);
	nnp_tb_puts(b, "</text>\n");
	double cx = x->p0 - y_off, cy = (y->p0 + y->p1) / 2;
	nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%g\" fill=\"" C_AXIS
	              "\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">", cx, cy,
	              font, cx, cy);
	nnp_rb_xml(b, yt);
	nnp_tb_puts(b, "</text>\n");
}

/* ---- report.svg: accuracy against parameters ---- */

typedef struct pt {
	double x, y;
} pt;

static int pt_cmp(const void *pa, const void *pb)
{
	const pt *a = pa, *b = pb;
	if (a->x != b->x)
		return a->x < b->x ? -1 : 1;
	return (a->y > b->y) - (a->y < b->y);
}

static void diamond(nnp_tbuf *b, double x, double y, double r, const char *fill)
{
	nnp_tb_printf(b, "<path d=\"M %.1f %.1f L %.1f %.1f L %.1f %.1f L %.1f %.1f Z\" "
	              "fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"1\"", x, y - r, x + r, y, x,
	              y + r, x - r, y, fill);
}

/* Opens a point's tooltip with what it is: "original" or "#i: budget". */
static void title_start(nnp_tbuf *b, const nnp_candidate *c, size_t i, int orig)
{
	nnp_tb_puts(b, "<title>");
	if (orig) {
		nnp_tb_puts(b, "original");
	} else {
		nnp_tb_printf(b, "#%zu: ", i);
		nnp_report_budget(b, c);
	}
}

static void cand_title(nnp_tbuf *b, const nnp_candidate *c, size_t i, int orig)
{
	title_start(b, c, i, orig);
	nnp_tb_printf(b, ": %zu params", c->params);
	if (nnp_candidate_size(c) != c->params)
		nnp_tb_printf(b, " (%zu less the zero weights)", nnp_candidate_size(c));
	nnp_tb_printf(b, ", accuracy %.2f%%", 100.0 * c->accuracy);
	if (!orig)
		nnp_tb_printf(b, ", drop %.2f", c->accuracy_drop);
	nnp_tb_puts(b, "</title>");
}

static void ft_title(nnp_tbuf *b, const nnp_candidate *c, size_t i, int orig,
                     const nnp_report_info *info)
{
	title_start(b, c, i, orig);
	nnp_tb_printf(b, " after %zu epoch%s of fine-tuning: accuracy %.2f%%, drop %.2f",
	              info->ft_epochs, info->ft_epochs == 1 ? "" : "s", 100.0 * c->ft.accuracy,
	              c->ft.drop);
	if (!orig)
		nnp_tb_printf(b, ", %.2f against the fine-tuned original", c->ft.drop_vs_ft);
	nnp_tb_puts(b, "</title>");
}

/* Where the best candidate is drawn: its fine-tuned point when it has one,
 * since the gate judged that. */
static double best_acc(const nnp_candidate *c)
{
	return c->ft.done ? c->ft.accuracy : c->accuracy;
}

static void plot_ranges(axis *x, axis *y, const nnp_sweep *sw, const nnp_report_info *info)
{
	double pmin = (double)sw->original.params, pmax = pmin;
	double amin = 100.0 * sw->original.accuracy, amax = amin;
	for (size_t i = 0; i <= sw->n; i++) {
		const nnp_candidate *c = i == sw->n ? &sw->original : &sw->c[i];
		pmin = fmin(pmin, (double)nnp_candidate_size(c));
		pmax = fmax(pmax, (double)nnp_candidate_size(c));
		if (isfinite(c->accuracy)) {
			amin = fmin(amin, 100.0 * c->accuracy);
			amax = fmax(amax, 100.0 * c->accuracy);
		}
		if (c->ft.done && isfinite(c->ft.accuracy)) {
			amin = fmin(amin, 100.0 * c->ft.accuracy);
			amax = fmax(amax, 100.0 * c->ft.accuracy);
		}
	}
	const nnp_report_trace *t = info->trace;
	for (size_t k = 0; t && k < t->n; k++) {
		pmin = fmin(pmin, (double)t->params[k]);
		pmax = fmax(pmax, (double)t->params[k]);
		if (isfinite(t->accuracy[k])) {
			amin = fmin(amin, 100.0 * t->accuracy[k]);
			amax = fmax(amax, 100.0 * t->accuracy[k]);
		}
	}
	if (!isnan(info->max_drop) && isfinite(info->max_drop))
		amin = fmin(amin, 100.0 * sw->original.accuracy - info->max_drop);
	/* Sizes spanning orders of magnitude (min_keep 1 gives tiny models)
	 * would all crowd at 0 on a linear axis. */
	if (pmin > 0 && pmax / pmin > 50)
		log_axis(x, pmin, pmax);
	else
		lin_axis(x, 0, fmax(pmax * 1.04, 1), 6);
	double pad = fmax(0.05 * (amax - amin), 0.25);
	lin_axis(y, clampd(amin - pad, 0, 100), clampd(amax + pad, 0, 100), 6);
}

static void plot_points(nnp_tbuf *b, const nnp_sweep *sw, const nnp_report_info *info,
                        const axis *x, const axis *y)
{
	/* Pareto points last, so the front is never hidden under the others. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < sw->n; i++) {
			const nnp_candidate *c = &sw->c[i];
			if (nnp_report_pareto(c) != pass || !isfinite(c->accuracy))
				continue;
			nnp_tb_printf(b, "<circle class=\"cand\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" "
			              "fill=\"%s\" fill-opacity=\"%s\">",
			              ax_px(x, (double)nnp_candidate_size(c)), ax_px(y, 100.0 * c->accuracy),
			              pass ? "4.5" : "4", pass ? C_PARETO : C_CAND, pass ? "1" : "0.6");
			cand_title(b, c, nnp_report_index(info, i), 0);
			nnp_tb_puts(b, "</circle>\n");
		}
}

/* A faint line from each fine-tuned candidate's one-shot point to its
 * fine-tuned one, so the pair reads as before and after. Drawn under both. */
static void plot_ft_links(nnp_tbuf *b, const nnp_sweep *sw, const axis *x, const axis *y)
{
	nnp_tb_puts(b, "<g stroke=\"" C_LINK "\" stroke-width=\"1\">\n");
	for (size_t i = 0; i < sw->n; i++) {
		const nnp_candidate *c = &sw->c[i];
		if (!c->ft.done || c->same_as != NNP_NO_DUP || !isfinite(c->accuracy) ||
		    !isfinite(c->ft.accuracy))
			continue;
		double px = ax_px(x, (double)nnp_candidate_size(c));
		nnp_tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px,
		              ax_px(y, 100.0 * c->accuracy), px, ax_px(y, 100.0 * c->ft.accuracy));
	}
	nnp_tb_puts(b, "</g>\n");
}

/* Fine-tuned candidates: a hollow point each. */
static void plot_ft_points(nnp_tbuf *b, const nnp_sweep *sw, const nnp_report_info *info,
                           const axis *x, const axis *y)
{
	for (size_t i = 0; i < sw->n; i++) {
		const nnp_candidate *c = &sw->c[i];
		if (!c->ft.done || !isfinite(c->ft.accuracy))
			continue;
		nnp_tb_printf(b, "<circle class=\"ft\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
		              "fill=\"none\" stroke=\"" C_FT "\" stroke-width=\"1.5\">",
		              ax_px(x, (double)nnp_candidate_size(c)), ax_px(y, 100.0 * c->ft.accuracy));
		ft_title(b, c, nnp_report_index(info, i), 0, info);
		nnp_tb_puts(b, "</circle>\n");
	}
}

/* The front as a staircase: the best accuracy reachable with at most x parameters. */
static void plot_front(nnp_tbuf *b, const nnp_sweep *sw, const axis *x, const axis *y)
{
	pt *p = sw->n < SIZE_MAX / sizeof *p ? malloc((sw->n + 1) * sizeof *p) : NULL;
	if (!p) {
		b->oom = 1;
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i <= sw->n; i++) {
		const nnp_candidate *c = i == sw->n ? &sw->original : &sw->c[i];
		if (nnp_report_pareto(c) && isfinite(c->accuracy))
			p[k++] = (pt){ (double)nnp_candidate_size(c), 100.0 * c->accuracy };
	}
	qsort(p, k, sizeof *p, pt_cmp);
	if (k > 1) {
		nnp_tb_printf(b, "<path d=\"M %.1f %.1f", ax_px(x, p[0].x), ax_px(y, p[0].y));
		for (size_t i = 1; i < k; i++)
			nnp_tb_printf(b, " H %.1f V %.1f", ax_px(x, p[i].x), ax_px(y, p[i].y));
		nnp_tb_puts(b, "\" fill=\"none\" stroke=\"" C_PARETO "\" stroke-width=\"1.5\"/>\n");
	}
	free(p);
}

/* The trace: a line through its measured points, each a small dot (hollow
 * where marked), the model written ringed; a tooltip per point. */
static void plot_trace(nnp_tbuf *b, const nnp_report_trace *t, const axis *x, const axis *y)
{
	if (!t || !t->n)
		return;
	const char *cmd = "M";
	nnp_tb_puts(b, "<path class=\"trace\" d=\"");
	for (size_t k = 0; k < t->n; k++) {
		if (!isfinite(t->accuracy[k]))
			continue;
		nnp_tb_printf(b, "%s%s %.1f %.1f", *cmd == 'M' ? "" : " ", cmd,
		              ax_px(x, (double)t->params[k]), ax_px(y, 100.0 * t->accuracy[k]));
		cmd = "L";
	}
	nnp_tb_puts(b, "\" fill=\"none\" stroke=\"" C_TRACE "\" stroke-width=\"2\" "
	               "stroke-linejoin=\"round\"/>\n");
	for (size_t k = 0; k < t->n; k++) {
		if (!isfinite(t->accuracy[k]))
			continue;
		int hollow = t->marked && t->marked[k];
		double px = ax_px(x, (double)t->params[k]), py = ax_px(y, 100.0 * t->accuracy[k]);
		nnp_tb_printf(b, "<circle class=\"trace\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
		              "fill=\"%s\" stroke=\"" C_TRACE "\" stroke-width=\"1.2\"><title>step "
		              "%zu: %zu params, accuracy %.2f%%%s</title></circle>\n", px, py,
		              hollow ? "#ffffff" : C_TRACE, k, t->params[k], 100.0 * t->accuracy[k],
		              hollow ? ", fine-tuned" : "");
		if (k == t->kept)
			nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"none\" "
			              "stroke=\"" C_TRACE "\" stroke-width=\"2\"/>\n", px, py);
	}
}

static void hline(nnp_tbuf *b, const axis *x, double py, const char *color, const char *dash)
{
	nnp_tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
	              "stroke-width=\"1.2\" stroke-dasharray=\"%s\"/>\n", x->p0, py, x->p1, py,
	              color, dash);
}

static void plot_legend(nnp_tbuf *b, const nnp_sweep *sw, const nnp_report_info *info,
                        double lx, double ly)
{
	double y = ly;
	nnp_tb_printf(b, "<g font-size=\"12\" fill=\"#222222\">\n");
	nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"" C_CAND
	              "\" fill-opacity=\"0.6\"/>", lx + 12, y - 4);
	text_open(b, lx + 28, y, 12, NULL, "#222222");
	nnp_tb_puts(b, "candidate</text>\n");
	y += 22;
	nnp_tb_printf(b, "<path d=\"M %.1f %.1f H %.1f V %.1f H %.1f\" fill=\"none\" stroke=\""
	              C_PARETO "\" stroke-width=\"1.5\"/>", lx, y, lx + 12, y - 8, lx + 22);
	nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"" C_PARETO "\"/>",
	              lx + 12, y - 4);
	text_open(b, lx + 28, y, 12, NULL, "#222222");
	nnp_tb_puts(b, "Pareto front</text>\n");
	y += 22;
	diamond(b, lx + 12, y - 4, 6, C_ORIG);
	nnp_tb_puts(b, "/>");
	text_open(b, lx + 28, y, 12, NULL, "#222222");
	nnp_tb_puts(b, "original</text>\n");
	y += 22;
	nnp_tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555555\""
	              " stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>", lx, y - 4, lx + 22, y - 4);
	text_open(b, lx + 28, y, 12, NULL, "#222222");
	nnp_tb_puts(b, "original accuracy</text>\n");
	if (info->trace && info->trace->n) {
		y += 22;
		nnp_tb_printf(b, "<path d=\"M %.1f %.1f L %.1f %.1f L %.1f %.1f\" fill=\"none\" "
		              "stroke=\"" C_TRACE "\" stroke-width=\"2\"/>", lx, y - 2, lx + 11,
		              y - 8, lx + 22, y - 5);
		nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"none\" stroke=\""
		              C_TRACE "\" stroke-width=\"2\"/>", lx + 11, y - 8);
		text_open(b, lx + 28, y, 12, NULL, "#222222");
		rb_xml_clip(b, info->trace->label ? info->trace->label : "path", 26);
		nnp_tb_puts(b, "</text>\n");
	}
	if (nnp_report_has_ft(sw)) {
		y += 22;
		nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"none\" stroke=\""
		              C_FT "\" stroke-width=\"1.5\"/>", lx + 12, y - 4);
		text_open(b, lx + 28, y, 12, NULL, "#222222");
		nnp_tb_printf(b, "fine-tuned (%zu epoch%s)</text>\n", info->ft_epochs,
		              info->ft_epochs == 1 ? "" : "s");
	}
	if (sw->original.ft.done) {
		y += 22;
		nnp_tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
		              C_FT "\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>", lx, y - 4,
		              lx + 22, y - 4);
		text_open(b, lx + 28, y, 12, NULL, "#222222");
		nnp_tb_puts(b, "fine-tuned original</text>\n");
	}
	if (!isnan(info->max_drop)) {
		y += 22;
		nnp_tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
		              C_GATE "\" stroke-width=\"1.2\" stroke-dasharray=\"2 3\"/>", lx, y - 4,
		              lx + 22, y - 4);
		text_open(b, lx + 28, y, 12, NULL, "#222222");
		nnp_tb_printf(b, "max drop %g point%s</text>\n", info->max_drop,
		              info->max_drop == 1 ? "" : "s");
	}
	if (info->best != NNP_NO_DUP) {
		y += 22;
		nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"7\" fill=\"none\" stroke=\""
		              C_BEST "\" stroke-width=\"2\"/>", lx + 12, y - 4);
		text_open(b, lx + 28, y, 12, NULL, "#222222");
		nnp_tb_printf(b, "best (#%zu)</text>\n", nnp_report_index(info, info->best));
	}
	/* A few figures under the key, in a lighter grey. */
	y += 34;
	const nnp_candidate *o = &sw->original;
	nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555555\">"
	              "%zu candidates, %zu distinct</text>\n", lx, y, sw->n, sw->n_unique);
	y += 16;
	nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555555\">"
	              "original: %zu params</text>\n", lx, y, o->params);
	y += 16;
	nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555555\">"
	              "accuracy %.2f%%</text>\n", lx, y, 100.0 * o->accuracy);
	if (o->ft.done) {
		y += 16;
		nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555555\">"
		              "fine-tuned %.2f%%</text>\n", lx, y, 100.0 * o->ft.accuracy);
	}
	if (info->best == NNP_NO_DUP && !isnan(info->max_drop)) {
		y += 22;
		nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555555\">"
		              "no candidate within the gate</text>\n", lx, y);
	}
	if (info->best != NNP_NO_DUP) {
		const nnp_candidate *c = &sw->c[info->best];
		y += 22;
		nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555555\">"
		              "best: %zu params (-%.1f%%)</text>\n", lx, y, nnp_candidate_size(c),
		              c->reduction);
		y += 16;
		nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555555\">"
		              "accuracy %.2f%% (drop %.2f)</text>\n", lx, y, 100.0 * c->accuracy,
		              c->accuracy_drop);
		if (c->ft.done) {
			y += 16;
			nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
			              "fill=\"#555555\">fine-tuned %.2f%% (drop %.2f)</text>\n", lx, y,
			              100.0 * c->ft.accuracy, c->ft.drop);
		}
	}
	nnp_tb_puts(b, "</g>\n");
}

static void plot_heading(nnp_tbuf *b, const nnp_sweep *sw, const nnp_report_info *info,
                         double x)
{
	text_open(b, x, 28, 16, NULL, "#111111");
	nnp_tb_puts(b, "<tspan font-weight=\"bold\">Accuracy against size:</tspan> ");
	rb_xml_clip(b, nnp_report_title_name(info), 48);
	nnp_tb_puts(b, "</text>\n");
	text_open(b, x, 48, 12, NULL, "#555555");
	nnp_tb_puts(b, "data ");
	rb_xml_clip(b, info->data_path, 44);
	nnp_tb_printf(b, ", %llu rows; ", (unsigned long long)(info->rows ? info->rows : sw->rows));
	if (nnp_report_is_plain(info)) {
		nnp_tb_printf(b, "folding %s; min_keep %zu</text>\n", info->fold ? "on" : "off",
		              info->min_keep);
		return;
	}
	nnp_rb_xml(b, nnp_criterion_display(info->method));
	nnp_tb_puts(b, " + ");
	nnp_rb_xml(b, nnp_report_comp(info));
	if (!nnp_report_is_budget(info))
		nnp_tb_printf(b, "; min_keep %zu", info->min_keep);
	nnp_tb_puts(b, "; calibration ");
	if (info->calib_path)
		rb_xml_clip(b, info->calib_path, 30);
	else if (nnp_report_has_sparse(sw))
		nnp_tb_puts(b, "none (magnitudes alone)");
	else
		nnp_tb_puts(b, "= evaluation data");
	nnp_tb_puts(b, "</text>\n");
}

/* A candidate's thresholds or budget in a few characters, for a label. */
static void short_budget(char *buf, size_t n, const nnp_candidate *c)
{
	if (c->budget.target_params)
		snprintf(buf, n, "target %zu", c->budget.target_params);
	else if (c->budget.alloc_step)
		snprintf(buf, n, "step %zu", c->budget.alloc_step);
	else if (c->budget.keep_frac > 0)
		snprintf(buf, n, "keep %g", c->budget.keep_frac);
	else if (c->budget.widths)
		snprintf(buf, n, "widths");
	else if (c->kind == NNP_CAND_SPARSE && n > 9) {
		memcpy(buf, "sparsity ", 10);
		nnp_candidate_shares_text(buf + 9, n - 9, c, '/');
	}
	else
		snprintf(buf, n, "%g, %g", c->thr.mean, c->thr.std);
}

/* The lower panel: the same sizes, accuracy only within a few points of the
 * original (the region a gate decides in), Pareto points labelled with their
 * thresholds or budget. Points outside are clipped and counted. */
#define ZOOM_POINTS 3.0
static void plot_zoom(nnp_tbuf *b, const nnp_sweep *sw, const nnp_report_info *info,
                      const axis *x, double top, double bottom)
{
	const nnp_candidate *o = &sw->original;
	double oa = 100.0 * o->accuracy, span = ZOOM_POINTS;
	if (!isnan(info->max_drop) && isfinite(info->max_drop) && info->max_drop + 0.5 > span)
		span = info->max_drop + 0.5;
	double hi = oa;
	for (size_t i = 0; i < sw->n; i++) {
		if (isfinite(sw->c[i].accuracy))
			hi = fmax(hi, 100.0 * sw->c[i].accuracy);
		if (sw->c[i].ft.done && isfinite(sw->c[i].ft.accuracy))
			hi = fmax(hi, 100.0 * sw->c[i].ft.accuracy);
	}
	for (size_t k = 0; info->trace && k < info->trace->n; k++)
		if (isfinite(info->trace->accuracy[k]))
			hi = fmax(hi, 100.0 * info->trace->accuracy[k]);
	axis y = { 0 };
	y.p0 = bottom;
	y.p1 = top;
	lin_axis(&y, clampd(oa - span, 0, 100), clampd(fmin(hi, oa + span) + 0.25, 0, 100), 5);
	text_open(b, x->p0, top - 12, 13, NULL, "#111111");
	nnp_tb_printf(b, "<tspan font-weight=\"bold\">Within %g points of the original</tspan>"
	              " (Pareto points labelled: ", span);
	nnp_tb_puts(b, nnp_report_is_budget(info) ? "budget)" : "|mean|, std thresholds)");
	nnp_tb_puts(b, "</text>\n");
	draw_axes(b, x, &y, 1, 11);
	axis_titles(b, x, &y, "parameters", "accuracy (%)", 12, 38, 50);
	hline(b, x, ax_px(&y, oa), "#555555", "6 4");
	if (!isnan(info->max_drop))
		hline(b, x, ax_px(&y, oa - info->max_drop), C_GATE, "2 3");
	nnp_tb_printf(b, "<clipPath id=\"zoom\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
	              "height=\"%.1f\"/></clipPath>\n<g clip-path=\"url(#zoom)\">\n", x->p0 - 8,
	              y.p1 - 8, x->p1 - x->p0 + 16, y.p0 - y.p1 + 8);
	int ft = nnp_report_has_ft(sw);
	if (ft)
		plot_ft_links(b, sw, x, &y);
	plot_front(b, sw, x, &y);
	plot_trace(b, info->trace, x, &y);
	plot_points(b, sw, info, x, &y);
	if (ft)
		plot_ft_points(b, sw, info, x, &y);
	double ox = ax_px(x, (double)o->params), oy = ax_px(&y, oa);
	diamond(b, ox, oy, 7, C_ORIG);
	nnp_tb_putc(b, '>');
	cand_title(b, o, 0, 1);
	nnp_tb_puts(b, "</path>\n");
	/* Labels alternate above and below their points, so neighbours on the
	 * staircase do not overwrite each other. */
	size_t below = 0, k = 0;
	for (size_t i = 0; i < sw->n; i++) {
		const nnp_candidate *c = &sw->c[i];
		if (!isfinite(c->accuracy))
			continue;
		double a = 100.0 * c->accuracy;
		if (a < y.lo) {
			below += c->same_as == NNP_NO_DUP;
			continue;
		}
		if (!c->pareto || c->same_as != NNP_NO_DUP)
			continue;
		char label[64];
		short_budget(label, sizeof label, c);
		double px = ax_px(x, (double)nnp_candidate_size(c)), py = ax_px(&y, a);
		halo_text(b, px + 6, k++ % 2 ? py + 14 : py - 7, 9, "start", "#8a4a00", label);
	}
	if (info->best != NNP_NO_DUP) {
		const nnp_candidate *c = &sw->c[info->best];
		nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"8\" fill=\"none\" stroke=\""
		              C_BEST "\" stroke-width=\"2\"/>\n", ax_px(x, (double)nnp_candidate_size(c)),
		              ax_px(&y, 100.0 * best_acc(c)));
	}
	nnp_tb_puts(b, "</g>\n");
	if (below) {
		char note[64];
		snprintf(note, sizeof note, "%zu candidate%s below %g%%", below, below == 1 ? "" : "s",
		         y.lo);
		halo_text(b, x->p0 + 6, y.p0 - 6, 10, "start", "#555555", note);
	}
}

void nnp_report_svg_plot(nnp_tbuf *b, const nnp_sweep *sw, const nnp_report_info *info)
{
	const int W = 800, H = 860;
	axis x = { 0 }, y = { 0 };
	x.p0 = 78;
	x.p1 = 590;
	y.p0 = 440;
	y.p1 = 68;
	plot_ranges(&x, &y, sw, info);
	svg_open(b, W, H);
	plot_heading(b, sw, info, x.p0);
	draw_axes(b, &x, &y, 1, 11);
	int sparse = nnp_report_has_sparse(sw);
	/* Unstructured candidates stand where their nonzero weights put them. */
	const char *xt = sparse ? "parameters (nonzero weights + biases)"
	                        : "parameters (weights + biases)";
	const char *xt_log = sparse ? "parameters (nonzero weights + biases, log scale)"
	                            : "parameters (weights + biases, log scale)";
	axis_titles(b, &x, &y, x.kind == AX_LOG ? xt_log : xt, "accuracy (%)", 12, 38, 50);
	const nnp_candidate *o = &sw->original;
	double oy = ax_px(&y, 100.0 * o->accuracy);
	hline(b, &x, oy, "#555555", "6 4");
	int oft = o->ft.done && isfinite(o->ft.accuracy);
	double fy = oft ? ax_px(&y, 100.0 * o->ft.accuracy) : 0;
	if (oft)
		hline(b, &x, fy, C_FT, "6 4");
	if (!isnan(info->max_drop))
		hline(b, &x, ax_px(&y, 100.0 * o->accuracy - info->max_drop), C_GATE, "2 3");
	int ft = nnp_report_has_ft(sw);
	if (ft)
		plot_ft_links(b, sw, &x, &y);
	plot_front(b, sw, &x, &y);
	plot_trace(b, info->trace, &x, &y);
	plot_points(b, sw, info, &x, &y);
	if (ft)
		plot_ft_points(b, sw, info, &x, &y);
	double ox = ax_px(&x, (double)o->params);
	if (oft) {
		/* Hollow, like the other fine-tuned points. */
		nnp_tb_printf(b, "<path class=\"ft\" d=\"M %.1f %.1f L %.1f %.1f L %.1f %.1f L %.1f "
		              "%.1f Z\" fill=\"none\" stroke=\"" C_FT "\" stroke-width=\"1.5\">", ox,
		              fy - 7, ox + 7, fy, ox, fy + 7, ox - 7, fy);
		ft_title(b, o, 0, 1, info);
		nnp_tb_puts(b, "</path>\n");
	}
	diamond(b, ox, oy, 7, C_ORIG);
	nnp_tb_putc(b, '>');
	cand_title(b, o, 0, 1);
	nnp_tb_puts(b, "</path>\n");
	halo_text(b, ox - 10, oy - 10, 12, "end", C_ORIG, "original");
	if (info->best != NNP_NO_DUP) {
		const nnp_candidate *c = &sw->c[info->best];
		double bx = ax_px(&x, (double)nnp_candidate_size(c)), by = ax_px(&y, 100.0 * best_acc(c));
		nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"8\" fill=\"none\" stroke=\""
		              C_BEST "\" stroke-width=\"2\"/>\n", bx, by);
		char label[48];
		snprintf(label, sizeof label, "best #%zu", nnp_report_index(info, info->best));
		halo_text(b, bx, by + 22, 12, "middle", C_BEST, label);
	}
	plot_legend(b, sw, info, x.p1 + 24, y.p1 + 10);
	plot_zoom(b, sw, info, &x, 540, 800);
	nnp_tb_puts(b, "</svg>\n");
}

/* ---- stats.svg: every hidden neuron's (mean, std) ---- */

/* A threshold pair (|mean|, std) as the point (x, y). */
typedef pt thr;

/* The distinct (mean, std) threshold pairs of the sweep, sorted. */
static thr *distinct_thresholds(const nnp_sweep *sw, size_t *n)
{
	*n = 0;
	thr *t = sw->n < SIZE_MAX / sizeof *t ? malloc((sw->n ? sw->n : 1) * sizeof *t) : NULL;
	if (!t)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < sw->n; i++)
		if (sw->c[i].kind == NNP_CAND_THRESHOLDS)
			t[k++] = (thr){ fabs(sw->c[i].thr.mean), sw->c[i].thr.std };
	qsort(t, k, sizeof *t, pt_cmp);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || pt_cmp(&t[u - 1], &t[i]) != 0)
			t[u++] = t[i];
	*n = u;
	return t;
}

/*
 * The region |mean| <= m, std <= s as an open box on the axes. A side beyond
 * the plotted range is left out rather than drawn along the frame.
 */
static void threshold_box(nnp_tbuf *b, const axis *x, const axis *y, double m, double s,
                          const char *color, double width)
{
	int right_in = m <= x->hi, top_in = s <= y->hi;
	if (!right_in && !top_in)
		return;
	double x1 = ax_px(x, fmin(m, x->hi)), x0 = x->lo < 0 ? ax_px(x, fmax(-m, x->lo)) : x->p0;
	double yt = ax_px(y, fmin(s, y->hi)), yb = y->p0;
	int left_in = x->lo < 0 && -m >= x->lo;
	nnp_tb_puts(b, "<path d=\"");
	if (left_in)
		nnp_tb_printf(b, "M %.1f %.1f V %.1f ", x0, yb, yt);
	else
		nnp_tb_printf(b, "M %.1f %.1f ", x0, yt);
	if (top_in)
		nnp_tb_printf(b, "H %.1f ", x1);
	else
		nnp_tb_printf(b, "M %.1f %.1f ", x1, yt);
	if (right_in)
		nnp_tb_printf(b, "V %.1f", yb);
	nnp_tb_printf(b, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%g\"/>\n", color, width);
}

typedef struct panel_geom {
	double ox, oy, w, h;
} panel_geom;

static void stats_panel(nnp_tbuf *b, const nnp_layer_stats *L, size_t li, const nnp_sweep *sw,
                        const nnp_report_info *info, const thr *t, size_t nt, panel_geom g)
{
	double mlo = 0, mhi = 0, shi = 0;
	for (size_t j = 0; j < L->neurons; j++) {
		if (!isfinite(L->mean[j]) || !isfinite(L->std[j]))
			continue;
		mlo = fmin(mlo, L->mean[j]);
		mhi = fmax(mhi, L->mean[j]);
		shi = fmax(shi, L->std[j]);
	}
	axis x = { 0 }, y = { 0 };
	x.p0 = g.ox + 62;
	x.p1 = g.ox + g.w - 18;
	y.p0 = g.oy + g.h - 48;
	y.p1 = g.oy + 34;
	sqrt_axis(&x, mlo, mhi, 34);
	sqrt_axis(&y, 0, shi, 20);
	size_t step = L->neurons > MAX_POINTS ? (L->neurons + MAX_POINTS - 1) / MAX_POINTS : 1;

	const char *act = nnp_act_name(L->act);
	text_open(b, x.p0, g.oy + 20, 13, NULL, "#111111");
	nnp_tb_printf(b, "<tspan font-weight=\"bold\">layer %zu</tspan> (%s, %zu neurons", L->layer,
	              act ? act : "?", L->neurons);
	if (step > 1)
		nnp_tb_printf(b, ", 1 in %zu shown", step);
	nnp_tb_puts(b, ")</text>\n");
	draw_axes(b, &x, &y, 0, 10);
	axis_titles(b, &x, &y, "mean activation", "standard deviation", 11, 34, 44);

	nnp_tb_puts(b, "<g stroke=\"" C_BOX "\">\n");
	for (size_t i = 0; i < nt; i++)
		threshold_box(b, &x, &y, t[i].x, t[i].y, C_BOX, 0.8);
	nnp_tb_puts(b, "</g>\n");
	/* Each box numbered at its corner, as in the key under the heading. */
	nnp_tb_puts(b, "<g font-size=\"8\" fill=\"#a0522d\">\n");
	for (size_t i = 0; i < nt; i++)
		if (t[i].x <= x.hi && t[i].y <= y.hi)
			nnp_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%zu</text>\n",
			              ax_px(&x, t[i].x) + 1.5, ax_px(&y, t[i].y) - 1.5, i + 1);
	nnp_tb_puts(b, "</g>\n");

	/* Colour by the selected candidate when it names its neurons; its
	 * indices ascend, so one cursor walks them alongside j. */
	const nnp_keep *k = info->best != NNP_NO_DUP ? sw->c[info->best].keep : NULL;
	const size_t *idx = k && k->idx ? k->idx[li] : NULL;
	size_t kn = idx ? k->count[li] : 0, cur = 0;
	double r = L->neurons > 2000 ? 1.3 : L->neurons > 300 ? 1.8 : 2.5;
	nnp_tb_printf(b, "<g fill-opacity=\"%s\">\n", L->neurons > 2000 ? "0.35" : "0.6");
	for (size_t j = 0; j < L->neurons; j += step) {
		if (!isfinite(L->mean[j]) || !isfinite(L->std[j]))
			continue;
		while (cur < kn && idx[cur] < j)
			cur++;
		int removed = idx && !(cur < kn && idx[cur] == j);
		nnp_tb_printf(b, "<circle class=\"n\" cx=\"%.1f\" cy=\"%.1f\" r=\"%g\" fill=\"%s\"/>\n",
		              ax_px(&x, L->mean[j]), ax_px(&y, L->std[j]), r,
		              removed ? C_REMOVED : C_CAND);
	}
	nnp_tb_puts(b, "</g>\n");
	if (k && sw->c[info->best].kind == NNP_CAND_THRESHOLDS) {
		const nnp_candidate *c = &sw->c[info->best];
		threshold_box(b, &x, &y, fabs(c->thr.mean), c->thr.std, C_PARETO, 1.8);
	}
	/* Dead neurons all sit on one point; say how many. */
	size_t dead = 0;
	for (size_t j = 0; j < L->neurons; j++)
		dead += L->mean[j] == 0 && L->std[j] == 0;
	if (dead > 1) {
		char label[64];
		snprintf(label, sizeof label, "%zu at (0, 0)", dead);
		halo_text(b, ax_px(&x, 0) + 7, y.p0 - 7, 10, "start", "#333333", label);
	}
}

static void stats_legend(nnp_tbuf *b, const nnp_sweep *sw, const nnp_report_info *info,
                         size_t nt, double x, double y)
{
	const nnp_keep *k = info->best != NNP_NO_DUP ? sw->c[info->best].keep : NULL;
	int coloured = k && k->idx;
	nnp_tb_puts(b, "<g font-size=\"12\" fill=\"#222222\">\n");
	nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"" C_CAND "\"/>", x + 5,
	              y - 4);
	text_open(b, x + 14, y, 12, NULL, "#222222");
	if (coloured)
		nnp_tb_printf(b, "kept by best #%zu</text>\n", nnp_report_index(info, info->best));
	else
		nnp_tb_puts(b, "neuron</text>\n");
	x += coloured ? 140 : 80;
	if (coloured) {
		nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"" C_REMOVED "\"/>",
		              x + 5, y - 4);
		text_open(b, x + 14, y, 12, NULL, "#222222");
		nnp_tb_puts(b, "removed</text>\n");
		x += 90;
	}
	if (nnp_report_is_budget(info)) {
		/* No thresholds: name the selected candidate's budget instead. */
		if (k) {
			text_open(b, x, y, 12, NULL, "#222222");
			nnp_tb_printf(b, "best #%zu: ", nnp_report_index(info, info->best));
			nnp_report_budget(b, &sw->c[info->best]);
			nnp_tb_puts(b, "</text>\n");
		}
		nnp_tb_puts(b, "</g>\n");
		return;
	}
	nnp_tb_printf(b, "<path d=\"M %.1f %.1f V %.1f H %.1f V %.1f\" fill=\"none\" stroke=\""
	              C_BOX "\"/>", x, y + 1, y - 10, x + 14, y + 1);
	text_open(b, x + 20, y, 12, NULL, "#222222");
	nnp_tb_printf(b, "threshold boxes (%zu)</text>\n", nt);
	x += 160;
	if (k) {
		const nnp_candidate *c = &sw->c[info->best];
		nnp_tb_printf(b, "<path d=\"M %.1f %.1f V %.1f H %.1f V %.1f\" fill=\"none\" "
		              "stroke=\"" C_PARETO "\" stroke-width=\"1.8\"/>", x, y + 1, y - 10,
		              x + 14, y + 1);
		text_open(b, x + 20, y, 12, NULL, "#222222");
		nnp_tb_printf(b, "best: |mean| &lt;= %g, std &lt;= %g</text>\n", c->thr.mean,
		              c->thr.std);
	}
	nnp_tb_puts(b, "</g>\n");
}

void nnp_report_svg_stats(nnp_tbuf *b, const nnp_sweep *sw, const nnp_stats *s,
                          const nnp_report_info *info)
{
	const double PW = 400, PH = 350, MARGIN = 10, KEY_PER_LINE = 6;
	size_t ncol = s->n_layers < 3 ? (s->n_layers ? s->n_layers : 1) : 3;
	size_t nrow = s->n_layers ? (s->n_layers + ncol - 1) / ncol : 1;
	int W = (int)(2 * MARGIN + (double)ncol * PW);
	/* The heading and legend need about 700 pixels whatever the panel count. */
	if (W < 720)
		W = 720;
	size_t nt = 0;
	thr *t = distinct_thresholds(sw, &nt);
	if (!t) {
		b->oom = 1;
		return;
	}
	/* The key of the numbered boxes: a few (|mean|, std) pairs a line. */
	size_t key_lines = nnp_report_is_budget(info) ? 0 : (size_t)ceil((double)nt / KEY_PER_LINE);
	const double HEAD = 84 + 15 * (double)key_lines;
	int H = (int)(HEAD + (double)nrow * PH + MARGIN);
	svg_open(b, W, H);
	text_open(b, MARGIN + 8, 28, 16, NULL, "#111111");
	nnp_tb_puts(b, "<tspan font-weight=\"bold\">Activation statistics:</tspan> ");
	rb_xml_clip(b, nnp_report_title_name(info), 48);
	nnp_tb_puts(b, "</text>\n");
	text_open(b, MARGIN + 8, 48, 12, NULL, "#555555");
	nnp_tb_printf(b, "each point a hidden neuron: mean and std of its activation over "
	              "%llu rows; square-root scales</text>\n",
	              (unsigned long long)(s->rows ? s->rows : sw->rows));
	stats_legend(b, sw, info, nt, MARGIN + 8, 72);
	for (size_t line = 0; line < key_lines; line++) {
		text_open(b, MARGIN + 8, 90 + 15 * (double)line, 11, NULL, "#a0522d");
		nnp_tb_puts(b, line ? "" : "boxes (|mean|, std): ");
		for (size_t i = line * (size_t)KEY_PER_LINE;
		     i < nt && i < (line + 1) * (size_t)KEY_PER_LINE; i++)
			nnp_tb_printf(b, "%s%zu (%g, %g)", i % (size_t)KEY_PER_LINE ? " \xc2\xb7 " : "",
			              i + 1, t[i].x, t[i].y);
		nnp_tb_puts(b, "</text>\n");
	}
	if (!s->n_layers) {
		text_open(b, W / 2.0, HEAD + PH / 2, 14, "middle", "#555555");
		nnp_tb_puts(b, "the model has no hidden layers</text>\n");
	}
	for (size_t l = 0; l < s->n_layers; l++) {
		/* Centred when the heading makes the picture wider than the panels. */
		double x0 = (W - (double)ncol * PW) / 2;
		panel_geom g = { x0 + (double)(l % ncol) * PW, HEAD + (double)(l / ncol) * PH, PW, PH };
		stats_panel(b, &s->layers[l], l, sw, info, t, nt, g);
	}
	nnp_tb_puts(b, "</svg>\n");
	free(t);
}
