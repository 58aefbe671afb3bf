/* nnprune: a thin main that looks the subcommand up in a table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nnprune/forward.h"

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
			return finish(c->fn(argc - 1, argv + 1, NULL));
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
