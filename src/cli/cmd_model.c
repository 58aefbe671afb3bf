/* nnprune info and nnprune convert: look at a model, change its format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "cli.h"
#include "nnprune/io.h"
#include "nnprune/model.h"

static const char info_usage[] = "nnprune info MODEL [--json]";

static void print_info_text(const char *path, const nnp_model *m, const nnp_file_info *fi)
{
	size_t params = nnp_model_params(m);
	printf("%s: nnprune %s model, %llu bytes, CRC-32 %08x\n", path,
	       fi->format == NNP_FMT_BIN ? "binary" : "JSON", (unsigned long long)fi->bytes,
	       (unsigned)fi->crc32);
	if (m->name)
		printf("name: %s\n", m->name);
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
			printf("%s %s", i ? "," : "", m->classes[i]);
		printf("\n");
	}
	if (m->provenance) {
		cJSON *p = cJSON_Parse(m->provenance);
		char *s = p ? cJSON_Print(p) : NULL;
		printf("provenance: %s\n", s ? s : m->provenance);
		free(s);
		cJSON_Delete(p);
	}
}

static char *info_json(const char *path, const nnp_model *m, const nnp_file_info *fi)
{
	char crc[9];
	snprintf(crc, sizeof crc, "%08x", (unsigned)fi->crc32);
	cJSON *root = cli_json_begin("info");
	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "path", path);
	cJSON_AddStringToObject(root, "model_format", nnp_format_name(fi->format));
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
		else
			rc = cli_json_print(NULL);
		free(s);
	} else {
		print_info_text(path, m, &fi);
	}
	nnp_model_free(m);
done:
	cli_done(&p);
	return rc;
}

static const char convert_usage[] = "nnprune convert IN OUT [--format json|bin] [--json]";

int cmd_convert(int argc, char **argv)
{
	enum { O_FORMAT = 1, O_JSON, O_HELP };
	static const cli_opt opts[] = { { "format", 'f', 1, O_FORMAT }, { "json", 0, 0, O_JSON },
		                        { "help", 'h', 0, O_HELP }, { NULL, 0, 0, 0 } };
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "convert", convert_usage))
		return NNP_EXIT_INPUT;
	int rc = NNP_EXIT_OK, id, json = 0;
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
			       "writes it to OUT, atomically. OUT may not be IN.\n\n"
			       "  -f, --format json|bin  OUT's format (default: OUT's extension, .json\n"
			       "                         is JSON, anything else binary)\n"
			       "  --json                 print what was written as JSON\n",
			       convert_usage);
			goto done;
		}
		if (id == O_JSON)
			json = 1;
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
	if (json) {
		nnp_file_info fo;
		if (nnp_model_identity(out, &fo, &err)) {
			rc = cli_fail(&err);
			goto done;
		}
		char crc[9];
		snprintf(crc, sizeof crc, "%08x", (unsigned)fo.crc32);
		cJSON *o = cli_json_begin("convert");
		if (o) {
			cJSON_AddStringToObject(o, "input", in);
			cJSON_AddStringToObject(o, "output", out);
			cJSON_AddStringToObject(o, "model_format", nnp_format_name(fo.format));
			cJSON_AddNumberToObject(o, "bytes", (double)fo.bytes);
			cJSON_AddStringToObject(o, "crc32", crc);
			cJSON_AddNumberToObject(o, "params", (double)nnp_model_params(m));
		}
		rc = cli_json_print(o);
	}
done:
	nnp_model_free(m);
	cli_done(&p);
	return rc;
}
