/* nnprune info and nnprune convert: look at a model, change its format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "cli.h"
#include "nnprune/io.h"
#include "nnprune/model.h"
#include "nnprune/text.h"

static const char info_usage[] = "nnprune info MODEL [--json]";

/* Text from the model file, with bytes outside printable ASCII as \xNN. */
static void print_safe(const char *before, const char *text, const char *after, int layout)
{
	char *safe = nnp_text_escape_dup(text, layout);
	printf("%s%s%s", before, safe ? safe : "?", after);
	free(safe);
}

static void print_info_text(const char *path, const nnp_model *m, const nnp_file_info *fi)
{
	size_t params = nnp_model_params(m);
	printf("%s: nnprune %s model, %llu bytes, CRC-32 %08x\n", path,
	       fi->format == NNP_FMT_BIN ? "binary" : "JSON", (unsigned long long)fi->bytes,
	       (unsigned)fi->crc32);
	if (m->name)
		print_safe("name: ", m->name, "\n", 0);
	printf("input size: %zu\n\n", m->input_size);
	printf("%5s %9s %9s  %-11s %12s\n", "layer", "in", "out", "activation", "parameters");
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		char act[32];
		if (L->act == NNP_ACT_LEAKY_RELU)
			snprintf(act, sizeof act, "leaky_relu(%g)", (double)L->alpha);
		else
			snprintf(act, sizeof act, "%s", nnp_act_name(L->act));
		printf("%5zu %9zu %9zu  %-11s %12zu\n", l, L->in, L->out, act,
		       L->in * L->out + L->out);
	}
	printf("\nparameters: %zu (%.2f KiB as float32)\n", params, (double)params * 4.0 / 1024.0);
	printf("multiply-adds per sample: %zu\n", nnp_model_macs(m));
	if (m->n_classes) {
		printf("classes:");
		for (size_t i = 0; i < m->n_classes; i++)
			print_safe(i ? ", " : " ", m->classes[i], "", 0);
		printf("\n");
	}
	if (m->provenance) {
		cJSON *p = cJSON_Parse(m->provenance);
		char *s = p ? cJSON_Print(p) : NULL;
		print_safe("provenance: ", s ? s : m->provenance, "\n", 1);
		free(s);
		cJSON_Delete(p);
	}
}

static char *info_json(const char *path, const nnp_model *m, const nnp_file_info *fi)
{
	char crc[9];
	snprintf(crc, sizeof crc, "%08x", (unsigned)fi->crc32);
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "path", path);
	cJSON_AddStringToObject(root, "format", nnp_format_name(fi->format));
	cJSON_AddNumberToObject(root, "bytes", (double)fi->bytes);
	cJSON_AddStringToObject(root, "crc32", crc);
	if (m->name)
		cJSON_AddStringToObject(root, "name", m->name);
	cJSON_AddNumberToObject(root, "input_size", (double)m->input_size);
	cJSON *layers = cJSON_AddArrayToObject(root, "layers");
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "in", (double)L->in);
		cJSON_AddNumberToObject(o, "out", (double)L->out);
		cJSON_AddStringToObject(o, "activation", nnp_act_name(L->act));
		if (L->act == NNP_ACT_LEAKY_RELU)
			cJSON_AddNumberToObject(o, "alpha", (double)L->alpha);
		cJSON_AddNumberToObject(o, "params", (double)(L->in * L->out + L->out));
		cJSON_AddItemToArray(layers, o);
	}
	cJSON_AddNumberToObject(root, "params", (double)nnp_model_params(m));
	cJSON_AddNumberToObject(root, "float32_bytes", (double)nnp_model_params(m) * 4.0);
	cJSON_AddNumberToObject(root, "macs", (double)nnp_model_macs(m));
	if (m->n_classes)
		cJSON_AddItemToObject(root, "classes",
		                      cJSON_CreateStringArray((const char *const *)m->classes,
		                                              (int)m->n_classes));
	if (m->provenance) {
		cJSON *p = cJSON_Parse(m->provenance);
		if (p)
			cJSON_AddItemToObject(root, "provenance", p);
	}
	char *s = cJSON_Print(root);
	cJSON_Delete(root);
	return s;
}

int cmd_info(int argc, char **argv)
{
	enum { O_JSON = 1, O_HELP };
	static const cli_opt opts[] = { { "json", 0, 0, O_JSON }, { "help", 'h', 0, O_HELP },
		                        { NULL, 0, 0, 0 } };
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "info", info_usage))
		return NNP_EXIT_INPUT;
	int json = 0, rc = NNP_EXIT_OK, id;
	const char *arg;
	while ((id = cli_next(&p, &arg)) != CLI_END) {
		if (id == CLI_ERROR) {
			rc = NNP_EXIT_USAGE;
			goto done;
		}
		if (id == O_HELP) {
			printf("usage: %s\n\nShows each layer's sizes, activation and parameters, the totals\n"
			       "(parameters, float32 bytes, multiply-adds per sample), the file's\n"
			       "format and CRC-32, and the model's metadata and provenance.\n\n"
			       "  --json   print the same as JSON\n", info_usage);
			goto done;
		}
		if (id == O_JSON)
			json = 1;
	}
	if (p.n_operands != 1) {
		rc = cli_usage_error(&p, "expected one MODEL, got %d arguments", p.n_operands);
		goto done;
	}
	nnp_err err;
	nnp_err_clear(&err);
	nnp_model *m = NULL;
	nnp_file_info fi;
	const char *path = p.operands[0];
	if (nnp_model_load(&m, path, &fi, &err)) {
		rc = cli_fail(&err);
		goto done;
	}
	if (json) {
		char *s = info_json(path, m, &fi);
		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		print_info_text(path, m, &fi);
	}
	nnp_model_free(m);
done:
	cli_done(&p);
	return rc;
}

static const char convert_usage[] = "nnprune convert IN OUT [--format json|bin]";

int cmd_convert(int argc, char **argv)
{
	enum { O_FORMAT = 1, O_HELP };
	static const cli_opt opts[] = { { "format", 'f', 1, O_FORMAT }, { "help", 'h', 0, O_HELP },
		                        { NULL, 0, 0, 0 } };
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "convert", convert_usage))
		return NNP_EXIT_INPUT;
	int rc = NNP_EXIT_OK, id;
	nnp_format fmt = 0;
	const char *arg;
	nnp_model *m = NULL;
	while ((id = cli_next(&p, &arg)) != CLI_END) {
		if (id == CLI_ERROR) {
			rc = NNP_EXIT_USAGE;
			goto done;
		}
		if (id == O_HELP) {
			printf("usage: %s\n\nReads a model in either format (recognised by content) and\n"
			       "writes it to OUT, atomically. The format is --format, else OUT's\n"
			       "extension (.json is JSON, anything else binary). OUT may not be IN.\n",
			       convert_usage);
			goto done;
		}
		if (id == O_FORMAT) {
			if (!strcmp(arg, "json"))
				fmt = NNP_FMT_JSON;
			else if (!strcmp(arg, "bin"))
				fmt = NNP_FMT_BIN;
			else {
				rc = cli_usage_error(&p, "--format: '%s' is not json or bin", arg);
				goto done;
			}
		}
	}
	if (p.n_operands != 2) {
		rc = cli_usage_error(&p, "expected IN and OUT, got %d arguments", p.n_operands);
		goto done;
	}
	const char *in = p.operands[0], *out = p.operands[1];
	if (!fmt) {
		size_t n = strlen(out);
		fmt = (n >= 5 && !strcmp(out + n - 5, ".json")) ? NNP_FMT_JSON : NNP_FMT_BIN;
	}
	nnp_err err;
	nnp_err_clear(&err);
	if (nnp_model_load(&m, in, NULL, &err)) {
		rc = cli_fail(&err);
		goto done;
	}
	if (nnp_same_file(in, out)) {
		fprintf(stderr, "nnprune: %s: refusing to write over the input file\n", out);
		rc = NNP_EXIT_OUTPUT;
		goto done;
	}
	if (nnp_model_save(m, out, fmt, &err)) {
		rc = cli_fail(&err);
		goto done;
	}
done:
	nnp_model_free(m);
	cli_done(&p);
	return rc;
}
