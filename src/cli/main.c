/* nnprune: a thin main that looks the subcommand up in a table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nnprune/forward.h"

const cli_command cli_commands[] = {
	{ "info", cmd_info, "show a model's layers, sizes, costs and provenance" },
	{ "convert", cmd_convert, "convert a model between the JSON and binary formats" },
	{ "stats", cmd_stats, "measure every hidden neuron's activation statistics on data" },
	{ "eval", cmd_eval, "accuracy, loss and confusion matrix of a model on data" },
	{ "sweep", cmd_sweep, "prune by (mean, std) thresholds and report accuracy against size" },
	{ "prune", cmd_prune, "prune one model to a budget (score, obs or rule) and write it" },
	{ "train", cmd_train, "train a dense network on labelled data" },
	{ "finetune", cmd_finetune, "continue training a (slimmed) model, keeping its shape" },
	{ "lottery", cmd_lottery, "find lottery tickets: prune, rewind, retrain, against a control" },
	{ "report", cmd_report, "merge the partial reports of a sharded sweep into one" },
	{ "bench", cmd_bench, "measure parsing, forward, statistics and sweep speed" },
	{ "completion", cmd_completion, "print a bash or zsh completion script" },
	{ NULL, NULL, NULL }
};

void cli_main_usage(FILE *fp)
{
	fprintf(fp, "usage: nnprune COMMAND [options] [args]\n\n"
	            "Makes trained dense networks smaller by removing hidden neurons whose\n"
	            "activations barely vary, and reports accuracy against size.\n\n"
	            "Commands:\n");
	for (const cli_command *c = cli_commands; c->name; c++)
		fprintf(fp, "  %-10s %s\n", c->name, c->summary);
	fprintf(fp, "\nTypical use:\n"
	            "  nnprune stats model.bin val.csv      # writes nnprune.stats.json\n"
	            "  nnprune sweep --mean 0.1 --std 0.4   # slimmed models + report in pruned/\n\n"
	            "'nnprune COMMAND --help' describes a command; 'nnprune --man' prints\n"
	            "the manual page nnprune(1) made of them all.\n"
	            "Exit codes: 0 success, 1 quality gate failed, 2 usage error,\n"
	            "            3 invalid or unreadable input, 4 output could not be written.\n");
}

/* A report cut short on stdout (full disk, closed pipe) must not pass a CI gate. */
static int finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "nnprune: stdout: write failed\n");
		return rc == NNP_EXIT_OK || rc == NNP_EXIT_GATE ? NNP_EXIT_OUTPUT : rc;
	}
	return rc;
}

int main(int argc, char **argv)
{
	nnp_blas_single_thread();   /* before OpenBLAS's idle threads spin for long */
	/* SIGINT/SIGTERM remove the temporary files of outputs being written. */
	nnp_cleanup_on_signals();
	if (argc < 2) {
		cli_main_usage(stderr);
		return NNP_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		cli_main_usage(stdout);
		return NNP_EXIT_OK;
	}
	if (!strcmp(name, "--man"))
		return finish(cli_write_man(stdout) ? NNP_EXIT_OUTPUT : NNP_EXIT_OK);
	if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
		printf("nnprune %s\n", NNP_VERSION);
		return NNP_EXIT_OK;
	}
	const char *names[32];
	size_t n = 0;
	for (const cli_command *c = cli_commands; c->name; c++) {
		if (!strcmp(c->name, name))
			return finish(c->fn(argc - 1, argv + 1));
		if (n < sizeof names / sizeof names[0])
			names[n++] = c->name;
	}
	const char *near = cli_suggest(name, strlen(name), names, n);
	if (near) {
		fprintf(stderr, "nnprune: '%s' is not a command; did you mean '%s'?\n"
		        "Try 'nnprune --help' for more.\n", name, near);
		return NNP_EXIT_USAGE;
	}
	fprintf(stderr, "nnprune: '%s' is not a command (", name);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", names[i]);
	fprintf(stderr, ")\nTry 'nnprune --help' for more.\n");
	return NNP_EXIT_USAGE;
}
