/* The lottery run's report: a Markdown table and an SVG curve of accuracy
 * against the weights that remain (include/nnprune/lottery.h). */
#include <math.h>
#include <stdlib.h>

#include "nnprune/lottery.h"
#include "textbuf.h"

static char *tb_take(nnp_tbuf *b)
{
	if (b->oom || !b->p) {
		nnp_tb_free(b);
		return NULL;
	}
	return b->p;
}

char *nnp_lottery_markdown(const nnp_lottery *lt, const nnp_lottery_info *info)
{
	nnp_tbuf b = { 0 };
	nnp_tb_puts(&b, "# Lottery ticket rounds\n\n");
	if (info->layers)
		nnp_tb_printf(&b, "Network %s", info->layers);
	if (info->criterion)
		nnp_tb_printf(&b, ", pruned by %s", info->criterion);
	nnp_tb_printf(&b, ", %.4g of the remaining weights per round, %zu epochs per training.\n",
	              info->rate, info->epochs);
	if (info->data_path)
		nnp_tb_printf(&b, "Trained on `%s`", info->data_path);
	if (info->val_path)
		nnp_tb_printf(&b, ", accuracy on `%s`", info->val_path);
	nnp_tb_puts(&b, ". The control trains the same mask from a fresh random "
	                "initialisation.\n\n");
	nnp_tb_puts(&b, "| round | weights remaining | parameters | accuracy | vs dense (points) | "
	                "control | ticket - control (points) | file |\n"
	                "|---:|---:|---:|---:|---:|---:|---:|---|\n");
	double dense = lt->n ? lt->r[0].accuracy : NAN;
	for (size_t i = 0; i < lt->n; i++) {
		const nnp_lottery_round *r = &lt->r[i];
		nnp_tb_printf(&b, "| %zu | %.2f%% (%zu) | %zu | %.2f%% | %+.2f | ", r->round,
		              100.0 * r->remaining, r->kept, r->params, 100.0 * r->accuracy,
		              100.0 * (r->accuracy - dense));
		if (isnan(r->control_accuracy))
			nnp_tb_puts(&b, "- | - | ");
		else
			nnp_tb_printf(&b, "%.2f%% | %+.2f | ", 100.0 * r->control_accuracy,
			              100.0 * (r->accuracy - r->control_accuracy));
		const char *f = info->files ? info->files[i] : NULL;
		nnp_tb_printf(&b, "%s |\n", f ? f : "-");
	}
	return tb_take(&b);
}

/* ---- the SVG ---- */

enum { SVG_W = 720, SVG_H = 440, PL = 70, PR = 170, PT = 40, PB = 56 };

typedef struct plot {
	double x_hi, x_lo;   /* remaining fraction: left edge (largest) and right edge */
	double y_lo, y_hi;   /* accuracy in percent */
} plot;

/* 100% on the left, fewer weights to the right, log scale. */
static double px(const plot *p, double frac)
{
	double t = (log10(p->x_hi) - log10(frac)) / (log10(p->x_hi) - log10(p->x_lo));
	return PL + t * (SVG_W - PL - PR);
}

static double py(const plot *p, double pct)
{
	return SVG_H - PB - (pct - p->y_lo) / (p->y_hi - p->y_lo) * (SVG_H - PT - PB);
}

static double nice_step(double range)
{
	double raw = range / 6.0, e = pow(10.0, floor(log10(raw)));
	double f = raw / e;
	return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * e;
}

static void axes(nnp_tbuf *b, const plot *p)
{
	nnp_tb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
	              "stroke=\"#444\"/>\n", PL, PT, SVG_W - PL - PR, SVG_H - PT - PB);
	/* x: 1-2-5 ticks inside the range */
	for (int e = -6; e <= 0; e++)
		for (int k = 0; k < 3; k++) {
			static const double m[3] = { 1, 2, 5 };
			double v = m[k] * pow(10.0, e);
			if (v > p->x_hi * 1.0001 || v < p->x_lo * 0.9999)
				continue;
			double x = px(p, v);
			nnp_tb_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n"
			              "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g%%</text>\n",
			              x, PT, x, SVG_H - PB, x, SVG_H - PB + 18, 100.0 * v);
		}
	double st = nice_step(p->y_hi - p->y_lo);
	for (double v = ceil(p->y_lo / st) * st; v <= p->y_hi + 1e-9; v += st) {
		double y = py(p, v);
		nnp_tb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
		              "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
		              PL, y, SVG_W - PR, y, PL - 6, y + 4, v);
	}
	nnp_tb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">weights remaining "
	              "(log scale)</text>\n", (PL + SVG_W - PR) / 2, SVG_H - 14);
	nnp_tb_printf(b, "<text transform=\"translate(18,%d) rotate(-90)\" text-anchor=\"middle\">"
	              "accuracy (%%)</text>\n", (PT + SVG_H - PB) / 2);
}

static void series(nnp_tbuf *b, const plot *p, const nnp_lottery *lt, int control,
                   const char *colour, const char *dash)
{
	nnp_tb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
	              colour, dash);
	for (size_t i = 0; i < lt->n; i++) {
		double a = control ? (i ? lt->r[i].control_accuracy : lt->r[0].accuracy)
		                   : lt->r[i].accuracy;
		if (!isnan(a))
			nnp_tb_printf(b, "%.1f,%.1f ", px(p, lt->r[i].remaining), py(p, 100.0 * a));
	}
	nnp_tb_puts(b, "\"/>\n");
	for (size_t i = control ? 1 : 0; i < lt->n; i++) {
		double a = control ? lt->r[i].control_accuracy : lt->r[i].accuracy;
		if (isnan(a))
			continue;
		nnp_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>round "
		              "%zu: %.2f%% of the weights, %s %.2f%%</title></circle>\n",
		              px(p, lt->r[i].remaining), py(p, 100.0 * a), colour, lt->r[i].round,
		              100.0 * lt->r[i].remaining, control ? "control" : "ticket", 100.0 * a);
	}
}

char *nnp_lottery_svg(const nnp_lottery *lt, const nnp_lottery_info *info)
{
	nnp_tbuf b = { 0 };
	plot p = { 1.2, 1.0, 100.0, 0.0 };
	for (size_t i = 0; i < lt->n; i++) {
		const nnp_lottery_round *r = &lt->r[i];
		double a[2] = { r->accuracy, r->control_accuracy };
		for (int k = 0; k < 2; k++)
			if (!isnan(a[k])) {
				p.y_lo = fmin(p.y_lo, 100.0 * a[k]);
				p.y_hi = fmax(p.y_hi, 100.0 * a[k]);
			}
		if (r->remaining > 0)
			p.x_lo = fmin(p.x_lo, r->remaining);
	}
	if (!(p.y_hi >= p.y_lo)) {
		p.y_lo = 0;
		p.y_hi = 100;
	}
	double pad = fmax(0.5, 0.08 * (p.y_hi - p.y_lo));
	p.y_lo = fmax(0.0, p.y_lo - pad);
	p.y_hi = fmin(100.0, p.y_hi + pad);
	if (p.y_hi - p.y_lo < 1.0)
		p.y_hi = p.y_lo + 1.0;
	p.x_lo = p.x_lo < 1.0 ? p.x_lo / 1.25 : 0.5;
	nnp_tb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	              "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
	              "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
	              SVG_W, SVG_H, SVG_W, SVG_H);
	nnp_tb_printf(&b, "<text x=\"%d\" y=\"22\" font-size=\"14\" font-weight=\"bold\">Lottery "
	              "tickets%s%s: accuracy against weights remaining</text>\n", PL,
	              info->layers ? " of " : "", info->layers ? info->layers : "");
	axes(&b, &p);
	if (lt->n) {
		/* The dense accuracy, and the band within 0.3 points of it. */
		double d = 100.0 * lt->r[0].accuracy;
		double y0 = py(&p, fmin(d + 0.3, p.y_hi)), y1 = py(&p, fmax(d - 0.3, p.y_lo));
		nnp_tb_printf(&b, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
		              "fill=\"#2a7\" fill-opacity=\"0.12\"/>\n", PL, y0, SVG_W - PL - PR, y1 - y0);
		nnp_tb_printf(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#2a7\" "
		              "stroke-dasharray=\"6 4\"/>\n", PL, py(&p, d), SVG_W - PR, py(&p, d));
	}
	series(&b, &p, lt, 1, "#d62", " stroke-dasharray=\"5 3\"");
	series(&b, &p, lt, 0, "#15b", "");
	int lx = SVG_W - PR + 14, ly = PT + 10;
	static const struct { const char *colour, *dash, *label; } leg[3] = {
		{ "#15b", "", "winning ticket" },
		{ "#d62", " stroke-dasharray=\"5 3\"", "random re-init" },
		{ "#2a7", " stroke-dasharray=\"6 4\"", "dense \xc2\xb1 0.3 points" }
	};
	for (int k = 0; k < 3; k++, ly += 20)
		nnp_tb_printf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
		              "stroke-width=\"2\"%s/><text x=\"%d\" y=\"%d\">%s</text>\n", lx, ly,
		              lx + 24, ly, leg[k].colour, leg[k].dash, lx + 30, ly + 4, leg[k].label);
	nnp_tb_puts(&b, "</svg>\n");
	return tb_take(&b);
}
