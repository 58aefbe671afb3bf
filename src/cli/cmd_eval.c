/* nnprune eval: a model's accuracy and loss on labelled data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "cli.h"
#include "cli_model.h"
#include "nnprune/io.h"
#include "nnprune/model.h"
#include "nnprune/stats.h"

static const char eval_usage[] = "nnprune eval MODEL DATA [--json] [--confusion] [data options]";

static void print_confusion(const nnp_model *m, const uint64_t *cm, size_t k)
{
	printf("\nconfusion matrix (rows: label, columns: prediction)\n%6s", "");
	for (size_t j = 0; j < k; j++)
		printf(" %6zu", j);
	printf("\n");
	for (size_t i = 0; i < k; i++) {
		printf("%6zu", i);
		for (size_t j = 0; j < k; j++)
			printf(" %6llu", (unsigned long long)cm[i * k + j]);
		if (m->n_classes == k)
			printf("  %s", m->classes[i]);
		printf("\n");
	}
}

enum { O_JSON = 1, O_CONFUSION, O_HELP };

typedef struct eval_cfg {
	cli_model mo;  /* weights files' activations, preprocessing, --int8 */
	cli_data d;
	int json, confusion;
} eval_cfg;

static void eval_help(void)
{
	printf("usage: %s\n\nRuns labelled DATA through MODEL and prints the rows, accuracy\n"
	       "(argmax against the label) and loss (cross-entropy for softmax outputs\n"
	       "and logits, mean squared error against the one-hot label otherwise).\n\n"
	       "  --json       print the results as JSON\n"
	       "  --confusion  add the confusion matrix\n\n%s\n%s",
	       eval_usage, CLI_DATA_HELP_LABELLED, CLI_MODEL_HELP);
}

static int eval_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	eval_cfg *c = ctx;
	switch (id) {
	case O_JSON: c->json = 1; break;
	case O_CONFUSION: c->confusion = 1; break;
	default: return cli_model_data_option(p, &c->mo, &c->d, id, arg);
	}
	return 0;
}

int cmd_eval(int argc, char **argv, cli_probe *probe)
{
	static const cli_opt opts[] = { { "json", 0, 0, O_JSON }, { "confusion", 0, 0, O_CONFUSION },
		                        { "help", 'h', 0, O_HELP }, CLI_DATA_OPTIONS_LABELLED,
		                        CLI_MODEL_OPTIONS, { NULL, 0, 0, 0 } };
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "eval", eval_usage, probe))
		return NNP_EXIT_INPUT;
	eval_cfg c;
	memset(&c, 0, sizeof c);
	cli_model_data_init(&c.mo, &c.d);
	int rc = NNP_EXIT_OK;
	nnp_model *m = NULL;
	nnp_reader *r = NULL;
	uint64_t *cm = NULL;
	nnp_err err;
	nnp_err_clear(&err);
	if (cli_parse_cmd(&p, O_HELP, eval_help, eval_opt, &c, 2, "MODEL and DATA", &rc))
		goto done;
	nnp_file_info fi;
	if (cli_open_model_data(p.operands[0], p.operands[1], &c.d, &m, &fi, &r, &err, &c.mo))
		goto fail;
	size_t k = nnp_model_outputs(m);
	if (c.confusion && !(cm = calloc(k * k, sizeof *cm))) {
		nnp_err_set(&err, NNP_ENOMEM, "out of memory for a %zu x %zu confusion matrix", k, k);
		goto fail;
	}
	nnp_metrics mt;
	const char *const paths[2] = { p.operands[0], p.operands[1] };
	if (cli_run_shown(m, r, &c.d, "eval", c.json, NULL, &mt, cm, paths, &err))
		goto fail;
	cli_label_note(r, p.operands[1], &c.d.opts, 0);
	if (c.json) {
		cJSON *root = cli_json_begin("eval");
		if (!root) {
			rc = cli_json_print(NULL);
			goto done;
		}
		cJSON_AddStringToObject(root, "model", p.operands[0]);
		cJSON_AddStringToObject(root, "data", p.operands[1]);
		cJSON_AddNumberToObject(root, "rows", (double)mt.rows);
		cJSON_AddNumberToObject(root, "accuracy", nnp_metrics_accuracy(&mt));
		cJSON_AddNumberToObject(root, "loss", nnp_metrics_loss(&mt));
		cJSON_AddStringToObject(root, "loss_kind", mt.mse ? "mse" : "cross_entropy");
		if (c.confusion) {
			cJSON *a = cJSON_AddArrayToObject(root, "confusion");
			for (size_t i = 0; i < k; i++) {
				cJSON *row = cJSON_CreateArray();
				for (size_t j = 0; j < k; j++)
					cJSON_AddItemToArray(row, cJSON_CreateNumber((double)cm[i * k + j]));
				cJSON_AddItemToArray(a, row);
			}
		}
		rc = cli_json_print(root);
	} else {
		printf("%s on %s: %llu rows, ", p.operands[0], p.operands[1],
		       (unsigned long long)mt.rows);
		cli_print_metrics_line(&mt);
		if (c.confusion)
			print_confusion(m, cm, k);
	}
	goto done;
fail:
	rc = cli_fail(&err);
done:
	free(cm);
	nnp_reader_close(r);
	nnp_model_free(m);
	cli_model_free(&c.mo);
	cli_done(&p);
	return rc;
}
