/*
 * The command table, and the documentation made from the program itself: the
 * top-level usage, the man page nnprune(1) and the bash and zsh completion
 * scripts. They come from the command table, each command's option table
 * (read through a cli_probe) and each command's --help text, so there is no
 * second copy of any text to drift. The table lives here, beside what reads
 * it, so that main.c only looks commands up and no file calls back into it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- the command table, and the top-level usage made from it ---- */

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

/* ---- what each command says about itself ---- */

typedef struct doc_cmd {
	const cli_command *c;
	const cli_opt *opts;   /* the command's option table (NULL: none) */
	const char *usage;
	char *help;            /* its --help text, malloc'd */
} doc_cmd;

/* Runs fn with argv {name, flag} with stdout sent to a temporary file, and
 * returns what it printed (malloc'd; NULL on failure). */
static char *capture(const cli_command *c, const char *flag)
{
	char *argv[3] = { (char *)c->name, (char *)flag, NULL };
	FILE *tmp = tmpfile();
	if (!tmp)
		return NULL;
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
		if (saved >= 0)
			close(saved);
		fclose(tmp);
		return NULL;
	}
	c->fn(2, argv, NULL);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	char *buf = NULL;
	long size;
	if (fseek(tmp, 0, SEEK_END) == 0 && (size = ftell(tmp)) >= 0 && fseek(tmp, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)size + 1))) {
		size_t got = fread(buf, 1, (size_t)size, tmp);
		buf[got] = '\0';
	}
	fclose(tmp);
	return buf;
}

static void doc_free(doc_cmd *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i].help);
	free(d);
}

/* Every command's tables and help; NULL when out of memory or a help is empty. */
static doc_cmd *doc_collect(size_t *n_out)
{
	size_t n = 0;
	while (cli_commands[n].name)
		n++;
	doc_cmd *d = calloc(n, sizeof *d);
	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		d[i].c = &cli_commands[i];
		cli_probe probe = { NULL, NULL };
		char *argv[3] = { (char *)d[i].c->name, (char *)"--help", NULL };
		d[i].c->fn(2, argv, &probe);
		d[i].opts = probe.opts;
		d[i].usage = probe.usage;
		d[i].help = capture(d[i].c, "--help");
		if (!d[i].help || !d[i].help[0]) {
			doc_free(d, n);
			return NULL;
		}
	}
	*n_out = n;
	return d;
}

/* The help line that describes --name: its value placeholder (as in
 * "--header auto|yes|no") and description, copied into val and desc. */
static void option_help(const char *help, const cli_opt *o, char *val, size_t vn, char *desc,
                        size_t dn)
{
	val[0] = desc[0] = '\0';
	size_t nl = strlen(o->name);
	for (const char *line = help; *line; ) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *s = line, *e = line + len;
		while (s < e && *s == ' ')
			s++;
		if (s < e - 4 && s[0] == '-' && s[1] != '-' && s[2] == ',' && s[3] == ' ')
			s += 4;  /* "-o, --output" */
		if (s + 2 + nl <= e && !strncmp(s, "--", 2) && !strncmp(s + 2, o->name, nl) &&
		    (s + 2 + nl == e || s[2 + nl] == ' ')) {
			const char *p = s + 2 + nl;
			if (p < e && p[1] != ' ') {  /* one space, then the placeholder */
				const char *q = ++p;
				while (q < e && *q != ' ')
					q++;
				snprintf(val, vn, "%.*s", (int)(q - p), p);
				p = q;
			}
			while (p < e && *p == ' ')
				p++;
			snprintf(desc, dn, "%.*s", (int)(e - p), p);
			return;
		}
		line = end ? end + 1 : line + len;
	}
}

/* ---- the man page ---- */

static void roff_line(FILE *fp, const char *s, size_t len)
{
	if (len && (s[0] == '.' || s[0] == '\''))
		fputs("\\&", fp);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\')
			fputs("\\e", fp);
		else if (s[i] == '-')
			fputs("\\-", fp);
		else
			fputc(s[i], fp);
	}
	fputc('\n', fp);
}

static void roff_block(FILE *fp, const char *text)
{
	fputs(".nf\n", fp);
	for (const char *line = text; *line; ) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		roff_line(fp, line, len);
		line = end ? end + 1 : line + len;
	}
	fputs(".fi\n", fp);
}

int cli_write_man(FILE *fp)
{
	size_t n;
	doc_cmd *d = doc_collect(&n);
	if (!d) {
		fprintf(stderr, "nnprune: --man: a command's help could not be read\n");
		return -1;
	}
	char *main_usage = NULL;
	size_t main_len = 0;
	FILE *mem = open_memstream(&main_usage, &main_len);
	if (!mem) {
		doc_free(d, n);
		return -1;
	}
	cli_main_usage(mem);
	fclose(mem);
	fprintf(fp, ".\\\" Generated by 'nnprune --man' from the program's own help texts.\n"
	            ".TH NNPRUNE 1 \"\" \"nnprune %s\" \"User Commands\"\n"
	            ".SH NAME\nnnprune \\- make trained dense networks smaller\n"
	            ".SH SYNOPSIS\n.B nnprune\n.I COMMAND\n[options] [arguments]\n.br\n"
	            ".B nnprune\n.BR \\-\\-help \" | \" \\-\\-version \" | \" \\-\\-man\n"
	            ".SH DESCRIPTION\n", NNP_VERSION);
	roff_block(fp, main_usage);
	fputs(".SH COMMANDS\n", fp);
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, ".SS \"nnprune %s\"\n", d[i].c->name);
		roff_line(fp, d[i].c->summary, strlen(d[i].c->summary));
		fputs(".PP\n", fp);
		roff_block(fp, d[i].help);
	}
	fputs(".SH EXIT STATUS\n.TP\n0\nsuccess\n.TP\n1\na quality gate failed\n.TP\n2\n"
	      "usage error\n.TP\n3\ninvalid or unreadable input\n.TP\n4\n"
	      "an output could not be written\n"
	      ".SH FILES\n.TP\n.I nnprune.stats.json\nwhere 'nnprune stats' writes the "
	      "statistics and 'nnprune sweep' reads them by default\n"
	      ".SH SEE ALSO\nThe README of the nnprune sources: file formats, JSON outputs and "
	      "their schemas.\n", fp);
	free(main_usage);
	doc_free(d, n);
	return ferror(fp) ? -1 : 0;
}

/* ---- completion scripts ---- */

/* The literal words a placeholder lists ("auto|yes|no" -> "auto yes no";
 * "first|last|N|NAME" -> "first last": capitals stand for a value), else "". */
static void choices(const char *val, char *out, size_t n)
{
	size_t k = 0;
	out[0] = '\0';
	if (!strchr(val, '|'))
		return;
	for (const char *p = val; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '|' || *p == '-' || *p == '_'))
			return;  /* "N|P%" is not a list of words */
	for (const char *w = val; *w; ) {
		size_t len = strcspn(w, "|");
		int literal = 1;
		for (size_t i = 0; i < len; i++)
			literal &= !isupper((unsigned char)w[i]);
		if (literal && k + len + 2 < n) {
			if (k)
				out[k++] = ' ';
			memcpy(out + k, w, len);
			out[k += len] = '\0';
		}
		w += len + (w[len] == '|');
	}
}

/* Per command, in a completion script: its name in the list of commands, and
 * its branch of the case over commands. */
typedef void (*doc_each)(FILE *fp, const doc_cmd *c);

/* Prints the script tmpl with each '\001' replaced by names over the
 * commands and each '\002' by cases over them. */
static void doc_script(FILE *fp, const char *tmpl, const doc_cmd *d, size_t n, doc_each names,
                       doc_each cases)
{
	for (const char *t = tmpl; *t; t++) {
		if (*t != '\001' && *t != '\002') {
			fputc(*t, fp);
			continue;
		}
		for (size_t i = 0; i < n; i++)
			(*t == '\001' ? names : cases)(fp, &d[i]);
	}
}

static void bash_name(FILE *fp, const doc_cmd *c)
{
	fprintf(fp, "%s ", c->c->name);
}

static void bash_case(FILE *fp, const doc_cmd *c)
{
	fprintf(fp, "\t%s)\n\t\topts=\"", c->c->name);
	for (const cli_opt *o = c->opts; o && o->name; o++) {
		if (o->short_name)
			fprintf(fp, "-%c ", o->short_name);
		fprintf(fp, "--%s ", o->name);
	}
	fputs("\"\n\t\tvalopts=\"", fp);
	for (const cli_opt *o = c->opts; o && o->name; o++)
		if (o->has_arg) {
			if (o->short_name)
				fprintf(fp, "-%c ", o->short_name);
			fprintf(fp, "--%s ", o->name);
		}
	fputs("\"\n\t\tcase $prev in\n", fp);
	for (const cli_opt *o = c->opts; o && o->name; o++) {
		char val[128], desc[256], ch[128];
		if (!o->has_arg)
			continue;
		option_help(c->help, o, val, sizeof val, desc, sizeof desc);
		choices(val, ch, sizeof ch);
		if (ch[0] && o->short_name)
			fprintf(fp, "\t\t-%c|--%s) vals=\"%s\" ;;\n", o->short_name, o->name, ch);
		else if (ch[0])
			fprintf(fp, "\t\t--%s) vals=\"%s\" ;;\n", o->name, ch);
	}
	if (!strcmp(c->c->name, "completion"))
		fputs("\t\t*) [ \"$COMP_CWORD\" -eq 2 ] && vals=\"bash zsh\" ;;\n", fp);
	fputs("\t\tesac\n\t\t;;\n", fp);
}

static const char bash_tmpl[] =
	"# bash completion for nnprune; generated by 'nnprune completion bash'.\n"
	"_nnprune()\n{\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	"\tlocal opts= valopts= vals=\n"
	"\tCOMPREPLY=()\n"
	"\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"" "\001" "--help --version --man\" -- \"$cur\"))\n"
	"\t\treturn\n\tfi\n"
	"\tcase ${COMP_WORDS[1]} in\n" "\002"
	"\tesac\n"
	"\tif [ -n \"$vals\" ]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"$vals\" -- \"$cur\"))\n"
	"\telif [[ \" $valopts \" == *\" $prev \"* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\telif [[ $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	"\telse\n"
	"\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\tfi\n"
	"}\n"
	"complete -o filenames -F _nnprune nnprune\n";

/* A description as a zsh _arguments item: no ' (the item is single-quoted),
 * brackets and colons escaped. */
static void zsh_text(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", fp);
		else if (*s == '[' || *s == ']' || *s == ':' || *s == '\\')
			fprintf(fp, "\\%c", *s);
		else
			fputc(*s, fp);
	}
}

static void zsh_name(FILE *fp, const doc_cmd *c)
{
	fprintf(fp, "\t\t'%s:", c->c->name);
	zsh_text(fp, c->c->summary);
	fputs("'\n", fp);
}

static void zsh_case(FILE *fp, const doc_cmd *c)
{
	fprintf(fp, "\t%s)\n\t\t_arguments -s", c->c->name);
	for (const cli_opt *o = c->opts; o && o->name; o++) {
		char val[128], desc[256], ch[128];
		option_help(c->help, o, val, sizeof val, desc, sizeof desc);
		choices(val, ch, sizeof ch);
		for (int form = 0; form < 2; form++) {
			if (form == 1 && !o->short_name)
				break;
			fputs(" \\\n\t\t\t'", fp);
			if (form == 0)
				fprintf(fp, "--%s", o->name);
			else
				fprintf(fp, "-%c", o->short_name);
			fputc('[', fp);
			zsh_text(fp, desc);
			fputc(']', fp);
			if (o->has_arg) {
				fputc(':', fp);
				zsh_text(fp, val[0] ? val : "value");
				if (ch[0])
					fprintf(fp, ":(%s)", ch);
				else
					fputs(":_files", fp);
			}
			fputc('\'', fp);
		}
	}
	if (!strcmp(c->c->name, "completion"))
		fputs(" \\\n\t\t\t'1:shell:(bash zsh)'", fp);
	else
		fputs(" \\\n\t\t\t'*:file:_files'", fp);
	fputs("\n\t\t;;\n", fp);
}

static const char zsh_tmpl[] =
	"#compdef nnprune\n"
	"# zsh completion for nnprune; generated by 'nnprune completion zsh'.\n"
	"_nnprune() {\n"
	"\tlocal -a commands\n"
	"\tcommands=(\n" "\001"
	"\t)\n"
	"\tif (( CURRENT == 2 )); then\n"
	"\t\t_describe -t commands 'nnprune command' commands\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tlocal cmd=${words[2]}\n"
	"\tshift words\n"
	"\t(( CURRENT-- ))\n"
	"\tcase $cmd in\n" "\002"
	"\tesac\n}\n_nnprune \"$@\"\n";

static const char completion_usage[] = "nnprune completion bash|zsh";

static void completion_help(void)
{
	printf("usage: %s\n\n"
	       "Prints a completion script for the shell, made from the commands'\n"
	       "own option tables and help. Installed with nnprune; by hand:\n"
	       "  bash: source <(nnprune completion bash)\n"
	       "  zsh:  nnprune completion zsh > ~/.zfunc/_nnprune  (with ~/.zfunc\n"
	       "        in $fpath before compinit)\n", completion_usage);
}

/* completion has no options but --help. */
static int completion_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	(void)p;
	(void)ctx;
	(void)id;
	(void)arg;
	return 0;
}

int cmd_completion(int argc, char **argv, cli_probe *probe)
{
	enum { O_HELP = 1 };
	static const cli_opt opts[] = { { "help", 'h', 0, O_HELP }, { NULL, 0, 0, 0 } };
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "completion", completion_usage, probe))
		return NNP_EXIT_INPUT;
	int rc = cli_parse_opts(&p, NULL, O_HELP, completion_help, completion_opt, NULL);
	if (rc) {
		rc = rc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
		goto done;
	}
	if (p.n_operands != 1 || (strcmp(p.operands[0], "bash") && strcmp(p.operands[0], "zsh"))) {
		rc = cli_usage_error(&p, "expected one shell, bash or zsh");
		goto done;
	}
	size_t n;
	doc_cmd *d = doc_collect(&n);
	if (!d) {
		fprintf(stderr, "nnprune: completion: a command's help could not be read\n");
		rc = NNP_EXIT_OUTPUT;
		goto done;
	}
	if (!strcmp(p.operands[0], "bash"))
		doc_script(stdout, bash_tmpl, d, n, bash_name, bash_case);
	else
		doc_script(stdout, zsh_tmpl, d, n, zsh_name, zsh_case);
	doc_free(d, n);
done:
	cli_done(&p);
	return rc;
}
