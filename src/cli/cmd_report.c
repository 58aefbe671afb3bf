/* nnprune report --merge: a sharded sweep's partial reports combined into one run's report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nnprune/gates.h"
#include "nnprune/io.h"
#include "nnprune/merge.h"
#include "nnprune/report.h"
#include "nnprune/stats.h"

static const char report_usage[] =
	"nnprune report --merge PART... -o DIR [--stats FILE] [gates] [--json] [-q]";

static void report_help(void)
{
	printf("usage: %s\n\n"
	       "Combines the partial reports of a sharded sweep ('nnprune sweep --shard I/N'\n"
	       "writes one report.json per shard, each with some of the candidates) into the\n"
	       "report one run would have written: every candidate once, duplicates across\n"
	       "shards found again by their kept neurons, the Pareto front and the best\n"
	       "chosen again, and report.md, report.csv, report.json, report.svg, stats.svg\n"
	       "and report.html written to DIR. The parts must come from one sweep (same\n"
	       "model, data, statistics, options and original): a part that differs is\n"
	       "refused, naming the part and the field. The model files stay where the\n"
	       "shards wrote them; the report names them.\n\n"
	       "  --merge            the operands are partial reports (report.json files)\n"
	       "  -o, --out DIR      where the merged report goes (not a part's directory)\n"
	       "  --stats FILE       the statistics the sweep used (default: the path the\n"
	       "                     parts record)\n"
	       "  --max-drop PTS     gates, as for 'nnprune sweep' (default: the parts' own);\n"
	       "  --min-accuracy X   all given must hold; exit 1 when no candidate passes\n"
	       "  --max-params N|P%%\n"
	       "  --max-bytes N\n"
	       "  --no-wait          fail (exit 4) instead of waiting for another run in DIR\n"
	       "  --json             print the merged report.json on stdout and nothing else\n"
	       "  -q, --quiet        no table on stdout\n",
	       report_usage);
}

enum { O_MERGE = 1, O_OUT, O_STATS, O_NOWAIT, O_JSON, O_QUIET, O_HELP };

typedef struct report_cfg {
	int merge, json, quiet, no_wait;
	const char *out, *stats_path;
	cli_output oo;  /* the gates */
} report_cfg;

static int report_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	report_cfg *c = ctx;
	switch (id) {
	case O_MERGE: c->merge = 1; break;
	case O_OUT: c->out = arg; break;
	case O_STATS: c->stats_path = arg; break;
	case O_NOWAIT: c->no_wait = 1; break;
	case O_JSON: c->json = 1; break;
	case O_QUIET: c->quiet = 1; break;
	default: return cli_output_is_option(id) ? cli_output_arg(p, &c->oo, id, arg) : 0;
	}
	return 0;
}

int cmd_report(int argc, char **argv, cli_probe *probe)
{
	static const cli_opt opts[] = {
		{ "merge", 0, 0, O_MERGE }, { "out", 'o', 1, O_OUT }, { "stats", 0, 1, O_STATS },
		CLI_OPT_GATES,
		{ "no-wait", 0, 0, O_NOWAIT }, { "json", 0, 0, O_JSON }, { "quiet", 'q', 0, O_QUIET },
		{ "help", 'h', 0, O_HELP }, { NULL, 0, 0, 0 }
	};
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "report", report_usage, probe))
		return NNP_EXIT_INPUT;
	report_cfg c;
	memset(&c, 0, sizeof c);
	cli_output_init(&c.oo);
	int rc = cli_parse_opts(&p, NULL, O_HELP, report_help, report_opt, &c);
	const char *stats_path = c.stats_path, *out = c.out;
	char *recorded = NULL, *text = NULL;
	nnp_err err;
	nnp_err_clear(&err);
	nnp_stats *s = NULL;
	nnp_stats_source src = { 0 };
	nnp_report_merged *m = NULL;
	nnp_dir_lock *lock = NULL;
	nnp_manifest man = { 0 };
	if (rc) {
		rc = rc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
		goto done;
	}
	if (!c.merge) {
		rc = cli_usage_error(&p, "say what to do: --merge PART...");
		goto done;
	}
	if (p.n_operands < 1 || !out) {
		rc = cli_usage_error(&p, "%s", !out ? "--merge needs -o DIR" : "--merge: expected the "
		                     "partial reports");
		goto done;
	}
	const char *const *parts = (const char *const *)p.operands;
	size_t n_parts = (size_t)p.n_operands;
	if (!stats_path) {
		if (nnp_report_stats_path(parts[0], &recorded, &err))
			goto fail;
		if (!recorded) {
			rc = cli_usage_error(&p, "%s records no statistics file: give --stats FILE",
			                     parts[0]);
			goto done;
		}
		stats_path = recorded;
	}
	if (nnp_stats_load(&s, &src, stats_path, &err) ||
	    nnp_report_merge(&m, parts, n_parts, s, &err) ||
	    nnp_report_merge_judge(m, nnp_gates_any(&c.oo.gates) ? &c.oo.gates : NULL, &err))
		goto fail;
	if (nnp_mkdir(out, &err) ||
	    nnp_dir_lock_take(&lock, out, !c.no_wait, cli_lock_wait, NULL, &err))
		goto fail;
	/* Never over a part (or the statistics): check before anything is removed. */
	char merged_path[4096];
	snprintf(merged_path, sizeof merged_path, "%s/report.json", out);
	for (size_t i = 0; i < n_parts; i++)
		if (nnp_same_file(merged_path, parts[i])) {
			nnp_err_set(&err, NNP_EOUTPUT, "%s: is one of the parts: write the merged "
			            "report to another directory", merged_path);
			goto fail;
		}
	/* The previous run's files in DIR go; the merge writes only reports (the
	 * models stay the shards'), so that is all its manifest lists. */
	if (nnp_manifest_clean(out, NULL, NULL, &err))
		goto fail;
	static const char *const reports[] = { "report.md", "report.csv", "report.svg", "stats.svg",
		                               "report.html", "report.json" };
	for (size_t k = 0; k < sizeof reports / sizeof reports[0]; k++)
		if (nnp_manifest_add(&man, reports[k], NNP_MANIFEST_ANY_SIZE, &err))
			goto fail;
	m->info.manifest = &man;
	if (nnp_report_write(out, m->sw, s, &m->info, &err))
		goto fail;
	if (c.json) {
		if (nnp_report_render(&text, NULL, NNP_REPORT_JSON, m->sw, s, &m->info, &err))
			goto fail;
		fputs(text, stdout);
	} else if (!c.quiet) {
		if (nnp_report_table(stdout, m->sw, s, &m->info, &err))
			goto fail;
		printf("\n%zu candidates (%zu distinct) from %zu part%s; report in %s/\n", m->sw->n,
		       m->sw->n_unique, n_parts, n_parts == 1 ? "" : "s", out);
	}
	fflush(stdout);
	if (m->verdict.gated) {
		if (!c.json || m->verdict.best == NNP_NO_DUP)
			fprintf(stderr, "nnprune: report: %s\n", m->verdict.message);
		if (m->verdict.best == NNP_NO_DUP)
			rc = NNP_EXIT_GATE;
	}
	goto done;
fail:
	rc = cli_fail(&err);
done:
	nnp_dir_unlock(lock);
	nnp_manifest_free(&man);
	free(text);
	free(recorded);
	nnp_report_merged_free(m);
	nnp_stats_free(s);
	nnp_stats_source_free(&src);
	cli_done(&p);
	return rc;
}
