/*
 * The report's files in a directory: every rendering of report.c, and the
 * HTML page of report_html.c, which embeds two of them. Above both, so that
 * neither calls back into the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/io.h"
#include "nnprune/report.h"

int nnp_report_write(const char *dir, const nnp_sweep *sw, const nnp_stats *s,
                     const nnp_report_info *info, nnp_err *err)
{
	static const nnp_report_kind kinds[] = { NNP_REPORT_MD, NNP_REPORT_CSV, NNP_REPORT_JSON,
	                                         NNP_REPORT_SVG, NNP_REPORT_STATS_SVG };
	enum { NK = sizeof kinds / sizeof kinds[0] };
	char *text[NK] = { 0 };
	size_t len[NK] = { 0 };
	char *path = NULL;
	int rc = NNP_OK;
	char *html = NULL;
	size_t html_len = 0;
	for (int k = 0; k < NK && !rc; k++)
		rc = nnp_report_render(&text[k], &len[k], kinds[k], sw, s, info, err);
	if (!rc)
		rc = nnp_report_render_html(&html, &html_len, sw, s, info, err);
	if (rc)
		goto done;
	size_t dlen = strlen(dir);
	path = malloc(dlen + 32);
	if (!path) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", dir);
		goto done;
	}
	for (int k = 0; k < NK && !rc; k++) {
		const char *name = nnp_report_file_name(kinds[k]);
		snprintf(path, dlen + 32, "%s%s%s", dir,
		         dlen && dir[dlen - 1] == '/' ? "" : "/", name);
		rc = nnp_write_file_atomic(path, text[k], len[k], err);
	}
	if (!rc) {
		snprintf(path, dlen + 32, "%s%sreport.html", dir, dlen && dir[dlen - 1] == '/' ? "" : "/");
		rc = nnp_write_file_atomic(path, html, html_len, err);
	}
done:
	free(html);
	for (int k = 0; k < NK; k++)
		free(text[k]);
	free(path);
	return rc;
}
