/*
 * report.html: one self-contained page for people: the heading facts, both
 * charts inline (report.svg and stats.svg as rendered), and every model in a
 * table sortable by any column (a few lines of inline script; nothing is
 * fetched from anywhere).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/io.h"
#include "nnprune/report.h"
#include "report_priv.h"

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>nnprune report: ";

static const char html_style[] =
	"</title>\n<style>\n"
	"body { font-family: sans-serif; margin: 1.5em; color: #222; }\n"
	"table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }\n"
	"th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; white-space: nowrap; }\n"
	"th { background: #f2f2f2; cursor: pointer; user-select: none; }\n"
	"th:hover { background: #e2e2e2; }\n"
	"td.t { text-align: left; }\n"
	"tr.orig td { font-weight: bold; background: #f7f7f7; }\n"
	"tr.best td { background: #e6f4e6; }\n"
	"tr.dup td { color: #888; }\n"
	".charts svg { max-width: 100%; height: auto; display: block; margin: 1em 0; }\n"
	"</style>\n</head>\n<body>\n";

/* Sorting: a header click orders the rows by that column's data-v (numbers)
 * or text, again to reverse. */
static const char html_script[] =
	"<script>\n"
	"document.querySelectorAll('table.sortable').forEach(function (t) {\n"
	"  t.querySelectorAll('th').forEach(function (th, col) {\n"
	"    th.addEventListener('click', function () {\n"
	"      var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows);\n"
	"      var dir = th.getAttribute('data-dir') === 'up' ? -1 : 1;\n"
	"      t.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-dir'); });\n"
	"      th.setAttribute('data-dir', dir === 1 ? 'up' : 'down');\n"
	"      function key(r) { var c = r.cells[col], v = c.getAttribute('data-v');\n"
	"        return v === null ? c.textContent : parseFloat(v); }\n"
	"      rows.sort(function (a, b) { var x = key(a), y = key(b);\n"
	"        if (typeof x === 'number' && typeof y === 'number') return dir * (x - y);\n"
	"        return dir * String(x).localeCompare(String(y)); });\n"
	"      rows.forEach(function (r) { body.appendChild(r); });\n"
	"    });\n"
	"  });\n"
	"});\n"
	"</script>\n</body>\n</html>\n";

/* A numeric cell: shown with `decimals` decimals, sorted by v (NaN sorts
 * first), v with report.json's 12 digits so a report merged from shards'
 * report.json files is the same page. */
static void num_cell(nnp_tbuf *b, double v, int decimals)
{
	nnp_tb_printf(b, "<td data-v=\"%.12g\">", isfinite(v) ? v : -1e308);
	if (isfinite(v))
		nnp_tb_printf(b, "%.*f", decimals, v);
	else
		nnp_tb_puts(b, "-");
	nnp_tb_puts(b, "</td>");
}

static void row(nnp_tbuf *b, const nnp_sweep *sw, const nnp_stats *s,
                const nnp_report_info *info, const nnp_candidate *c, size_t i, int orig, int ft)
{
	const char *cls = orig ? "orig" : !orig && info->best == i ? "best"
	                  : c->same_as != NNP_NO_DUP ? "dup" : NULL;
	nnp_tb_puts(b, cls ? "<tr class=\"" : "<tr");
	if (cls) {
		nnp_tb_puts(b, cls);
		nnp_tb_putc(b, '"');
	}
	nnp_tb_putc(b, '>');
	if (orig)
		nnp_tb_puts(b, "<td data-v=\"-1\" class=\"t\">original</td><td class=\"t\">-</td>");
	else {
		size_t g = nnp_report_index(info, i);
		nnp_tb_printf(b, "<td data-v=\"%zu\">%zu</td><td class=\"t\">", g, g);
		nnp_tbuf t = { NULL, 0, 0, 0 };
		nnp_report_budget(&t, c);
		nnp_rb_xml(b, t.oom ? "?" : t.p ? t.p : "");
		nnp_tb_free(&t);
		nnp_tb_puts(b, "</td>");
	}
	nnp_tb_puts(b, "<td class=\"t\">");
	nnp_report_kept(b, orig ? &sw->original : c, s, "-");
	nnp_tb_puts(b, "</td>");
	num_cell(b, (double)c->params, 0);
	num_cell(b, c->nonzeros ? (double)c->nonzeros : NAN, 0);
	num_cell(b, c->file_bytes ? (double)c->file_bytes : NAN, 0);
	num_cell(b, orig ? 0 : c->reduction, 1);
	num_cell(b, 100.0 * c->accuracy, 2);
	num_cell(b, orig ? 0 : c->accuracy_drop, 2);
	if (ft) {
		num_cell(b, c->ft.done ? 100.0 * c->ft.accuracy : NAN, 2);
		num_cell(b, c->ft.done ? c->ft.drop : NAN, 2);
	}
	num_cell(b, c->loss, 4);
	num_cell(b, orig ? 100 : 100.0 * c->agreement, 2);
	nnp_tb_printf(b, "<td class=\"t\">%s</td>", nnp_report_pareto(c) ? "yes" : "");
	if (!orig && c->same_as != NNP_NO_DUP) {
		size_t g = nnp_report_index(info, c->same_as);
		nnp_tb_printf(b, "<td data-v=\"%zu\">#%zu</td>", g, g);
	}
	else
		nnp_tb_puts(b, "<td data-v=\"-1\"></td>");
	nnp_tb_puts(b, "<td class=\"t\">");
	if (c->file)
		nnp_rb_xml(b, c->file);
	nnp_tb_puts(b, "</td></tr>\n");
}

/* An SVG document without its XML declaration, inline in the page. */
static void inline_svg(nnp_tbuf *b, const char *svg)
{
	const char *start = strstr(svg, "<svg");
	nnp_tb_puts(b, start ? start : svg);
}

int nnp_report_render_html(char **out, size_t *len, const nnp_sweep *sw, const nnp_stats *s,
                           const nnp_report_info *info, nnp_err *err)
{
	*out = NULL;
	char *plot = NULL, *stats = NULL;
	int rc = nnp_report_render(&plot, NULL, NNP_REPORT_SVG, sw, s, info, err);
	if (!rc)
		rc = nnp_report_render(&stats, NULL, NNP_REPORT_STATS_SVG, sw, s, info, err);
	if (rc) {
		free(plot);
		return rc;
	}
	int ft = nnp_report_has_ft(sw);
	nnp_report_info eff;
	nnp_report_effective(info, &eff);
	info = &eff;
	nnp_tbuf b = { NULL, 0, 0, 0 };
	nnp_tb_puts(&b, html_head);
	nnp_rb_xml(&b, nnp_report_title_name(info));
	nnp_tb_puts(&b, html_style);
	nnp_tb_puts(&b, "<h1>");
	nnp_rb_xml(&b, nnp_report_title_name(info));
	nnp_tb_puts(&b, "</h1>\n<p>model <code>");
	nnp_rb_xml(&b, info->model_path);
	nnp_tb_puts(&b, "</code>, evaluated on <code>");
	nnp_rb_xml(&b, info->data_path);
	nnp_tb_printf(&b, "</code> (%llu rows); method ",
	              (unsigned long long)(info->rows ? info->rows : sw->rows));
	nnp_rb_xml(&b, info->method ? info->method : "rule");
	nnp_tb_puts(&b, " + ");
	nnp_rb_xml(&b, nnp_report_comp(info));
	nnp_tb_printf(&b, "; %zu candidates, %zu distinct", sw->n, sw->n_unique);
	if (!info->gates && !isnan(info->max_drop))
		nnp_tb_printf(&b, "; gate: accuracy drop at most %g point%s", info->max_drop,
		              info->max_drop == 1 ? "" : "s");
	if (info->gates && nnp_gates_any(info->gates)) {
		char g[256];
		nnp_gates_describe(info->gates, g, sizeof g);
		nnp_tb_puts(&b, "; gates: ");
		nnp_rb_xml(&b, g);
	}
	if (info->best != NNP_NO_DUP)
		nnp_tb_printf(&b, "; best: #%zu", nnp_report_index(info, info->best));
	nnp_tb_puts(&b, ". Accuracy and agreement in percent, drops in points; click a column "
	                "heading to sort.</p>\n");
	nnp_tb_puts(&b, "<table class=\"sortable\" id=\"models\">\n<thead><tr><th>#</th>"
	                "<th>thresholds / budget</th><th>kept</th><th>params</th><th>nonzeros</th>"
	                "<th>file bytes</th>");
	nnp_tb_puts(&b, nnp_report_has_sparse(sw) ? "<th>nonzero reduction %</th>"
	                                          : "<th>reduction %</th>");
	nnp_tb_puts(&b, "<th>accuracy %</th><th>drop (points)</th>");
	if (ft)
		nnp_tb_puts(&b, "<th>fine-tuned accuracy %</th><th>fine-tuned drop (points)</th>");
	nnp_tb_puts(&b, "<th>loss</th><th>agreement %</th><th>Pareto</th><th>same as</th>"
	                "<th>file</th></tr></thead>\n<tbody>\n");
	row(&b, sw, s, info, &sw->original, 0, 1, ft);
	for (size_t i = 0; i < sw->n; i++)
		row(&b, sw, s, info, &sw->c[i], i, 0, ft);
	nnp_tb_puts(&b, "</tbody>\n</table>\n<div class=\"charts\">\n");
	inline_svg(&b, plot);
	inline_svg(&b, stats);
	nnp_tb_puts(&b, "</div>\n");
	nnp_tb_puts(&b, html_script);
	free(plot);
	free(stats);
	if (b.oom) {
		nnp_tb_free(&b);
		return nnp_err_set(err, NNP_ENOMEM, "out of memory for report.html");
	}
	*out = b.p;
	if (len)
		*len = b.len;
	return NNP_OK;
}

int nnp_report_write_html(const char *dir, const nnp_sweep *sw, const nnp_stats *s,
                          const nnp_report_info *info, nnp_err *err)
{
	char *text = NULL;
	size_t n = 0, dlen = strlen(dir);
	int rc = nnp_report_render_html(&text, &n, sw, s, info, err);
	if (rc)
		return rc;
	char *path = malloc(dlen + 16);
	if (!path) {
		free(text);
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", dir);
	}
	snprintf(path, dlen + 16, "%s%sreport.html", dir, dlen && dir[dlen - 1] == '/' ? "" : "/");
	rc = nnp_write_file_atomic(path, text, n, err);
	free(path);
	free(text);
	return rc;
}
