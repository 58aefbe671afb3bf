/*
 * Options `prune` and `sweep` share about what judges the candidates and
 * what is kept: --eval, the gates, --write, --best, --shard.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nnprune/report.h"

void cli_output_help(int sweep)
{
	printf("Judging (held-out rows and gates; all gates given must hold, else exit 1):\n"
	       "  --eval DATA        evaluate the original and the candidates on DATA (read with\n"
	       "                     the same data options) instead of the statistics' rows;\n"
	       "                     the statistics stay where they were taken\n"
	       "  --eval-labels FILE IDX labels for --eval DATA\n"
	       "  --max-drop PTS     at most PTS accuracy points below the original\n"
	       "  --min-accuracy X   accuracy at least X (a fraction, or P%%)\n"
	       "  --max-params N|P%%  at most N parameters (or P%% of the original's)\n"
	       "  --max-bytes N      model file at most N bytes (suffix K, M or G)\n"
	       "  --best PATH        write the %s model to PATH (needs a gate); a failed\n"
	       "                     gate removes the model an earlier --best wrote there, and\n"
	       "                     any other file at PATH is refused before work (exit 4)\n",
	       sweep ? "smallest passing" : "pruned (when it passes)");
	if (sweep)
		printf("  --write distinct|all|pareto|best  which models go to DIR (default distinct:\n"
		       "                     each kept set once; duplicates name their first's file)\n"
		       "  --shard I/N        only shard I of N (0 <= I < N) of the candidates, in DIR\n"
		       "                     of its own; 'nnprune report --merge' joins the shards\n");
}

void cli_output_init(cli_output *o)
{
	memset(o, 0, sizeof *o);
	nnp_gates_init(&o->gates);
	o->write = NNP_WRITE_DISTINCT;
}

int cli_output_is_option(int id)
{
	return id >= CLI_O_EVAL && id <= CLI_O_SHARD;
}

int cli_parse_shard(const cli_parser *p, const char *opt, const char *text, uint64_t *i,
                    uint64_t *n)
{
	const char *slash = strchr(text, '/');
	char a[32];
	if (!slash || (size_t)(slash - text) >= sizeof a || slash == text)
		return cli_usage_error(p, "%s: '%s' is not I/N (shard I of N, from 0)", opt, text), -1;
	snprintf(a, sizeof a, "%.*s", (int)(slash - text), text);
	if (cli_size(p, opt, slash + 1, 1, 1000000, n) || cli_size(p, opt, a, 0, *n - 1, i))
		return -1;
	return 0;
}

int cli_output_arg(const cli_parser *p, cli_output *o, int id, const char *arg)
{
	static const char *const gate[] = { "--max-drop", "--min-accuracy", "--max-params",
		                            "--max-bytes" };
	nnp_err err;
	nnp_err_clear(&err);
	switch (id) {
	case CLI_O_EVAL: o->eval = arg; return 0;
	case CLI_O_EVAL_LABELS: o->eval_labels = arg; return 0;
	case CLI_O_BEST: o->best = arg; return 0;
	case CLI_O_SHARD: return cli_parse_shard(p, "--shard", arg, &o->shard_i, &o->shard_n);
	case CLI_O_WRITE:
		o->write_set = 1;
		if (nnp_write_mode_parse(arg, &o->write, &err))
			return cli_usage_error(p, "%s", err.msg), -1;
		return 0;
	default:
		if (nnp_gates_parse(&o->gates, gate[id - CLI_O_MAX_DROP], arg, &err))
			return cli_usage_error(p, "%s", err.msg), -1;
		return 0;
	}
}

int cli_output_check(const cli_parser *p, const cli_output *o)
{
	if (o->best && !nnp_gates_any(&o->gates))
		return cli_usage_error(p, "--best needs a gate to choose a model (--max-drop, "
		                          "--min-accuracy, --max-params or --max-bytes)"), -1;
	if (o->write == NNP_WRITE_BEST && !nnp_gates_any(&o->gates))
		return cli_usage_error(p, "--write best needs a gate to choose the best"), -1;
	if (o->eval_labels && !o->eval)
		return cli_usage_error(p, "--eval-labels needs --eval DATA"), -1;
	return 0;
}

int cli_best_check(const cli_output *o, nnp_err *err)
{
	int ours = 0;
	return o->best ? nnp_best_check(o->best, &ours, err) : NNP_OK;
}

int cli_best_finish(const cli_output *o, const nnp_gate_result *v, int quiet,
                    int (*write)(void *ctx, const char *path, nnp_err *err), void *ctx,
                    nnp_err *err)
{
	if (!o->best)
		return NNP_OK;
	if (v->best == NNP_NO_DUP) {
		int removed = 0;
		int rc = nnp_best_remove(o->best, &removed, err);
		if (!rc && removed && !quiet)
			fprintf(stderr, "nnprune: %s: removed (the model an earlier run selected; no "
			        "candidate passes now)\n", o->best);
		return rc;
	}
	int rc = write(ctx, o->best, err);
	return rc ? rc : nnp_best_mark(o->best, err);
}

int cli_note_label(const char *path, const nnp_data_opts *o, int quiet, nnp_err *err)
{
	if (!path || quiet || o->label != NNP_LABEL_AUTO)
		return NNP_OK;
	nnp_reader *r = NULL;
	nnp_data_opts scratch = *o;  /* the reader chooses the same again later */
	int rc = nnp_reader_open(&r, path, &scratch, err);
	if (!rc)
		cli_label_note(r, path, &scratch, quiet);
	nnp_reader_close(r);
	return rc;
}
