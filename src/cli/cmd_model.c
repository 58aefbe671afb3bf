/* nnprune info and nnprune convert: look at a model, change its format. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "cli.h"
#include "cli_model.h"
#include "nnprune/io.h"
#include "nnprune/model.h"
#include "nnprune/text.h"

static const char info_usage[] = "nnprune info MODEL [--json] [model options]";

/* How `eval` and the other commands read the outputs. */
static const char *outputs_kind(const nnp_model *m)
{
	if (nnp_model_logits(m))
		return "logits";
	switch (m->layers[m->n_layers - 1].act) {
	case NNP_ACT_SOFTMAX: return "probabilities";
	default: return "values";
	}
}

static const char *outputs_text(const nnp_model *m)
{
	if (nnp_model_logits(m))
		return "logits: class = argmax, loss = softmax cross-entropy";
	if (m->layers[m->n_layers - 1].act == NNP_ACT_SOFTMAX)
		return "probabilities (softmax): class = argmax, loss = cross-entropy";
	return "values: class = argmax, loss = mean squared error against the one-hot label";
}

/* "x * 0.5", "(x - 127.5) * 0.0078125", "(x - offset[784]) * scale[784]". */
static void print_prep(const nnp_model *m)
{
	const nnp_layer *L = &m->layers[0];
	size_t n = m->input_size;
	int same_o = 1, same_s = 1;
	for (size_t i = 1; i < n; i++) {
		same_o &= !L->pre_offset || L->pre_offset[i] == L->pre_offset[0];
		same_s &= !L->pre_scale || L->pre_scale[i] == L->pre_scale[0];
	}
	printf("preprocessing: ");
	if (L->pre_offset && same_o)
		printf("(x - %.9g)", (double)L->pre_offset[0]);
	else if (L->pre_offset)
		printf("(x - offset[%zu])", n);
	else
		printf("x");
	if (L->pre_scale && same_s)
		printf(" * %.9g", (double)L->pre_scale[0]);
	else if (L->pre_scale)
		printf(" * scale[%zu]", n);
	printf("\n");
}

static cJSON *prep_json(const nnp_model *m)
{
	const nnp_layer *L = &m->layers[0];
	cJSON *o = cJSON_CreateObject();
	const float *v[2] = { L->pre_offset, L->pre_scale };
	const char *k[2] = { "offset", "scale" };
	for (int j = 0; j < 2; j++) {
		if (!v[j])
			continue;
		int same = 1;
		for (size_t i = 1; i < m->input_size; i++)
			same &= v[j][i] == v[j][0];
		if (same) {
			cJSON_AddNumberToObject(o, k[j], (double)v[j][0]);
			continue;
		}
		cJSON *a = cJSON_AddArrayToObject(o, k[j]);
		for (size_t i = 0; i < m->input_size; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[j][i]));
	}
	return o;
}

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
	if (fi->format == NNP_FMT_BIN || fi->format == NNP_FMT_JSON)
		printf("%s: nnprune %s model, %llu bytes, CRC-32 %08x\n", path,
		       fi->format == NNP_FMT_BIN ? "binary" : "JSON", (unsigned long long)fi->bytes,
		       (unsigned)fi->crc32);
	else
		printf("%s: %s file, %llu bytes, CRC-32 %08x\n", path, nnp_format_name(fi->format),
		       (unsigned long long)fi->bytes, (unsigned)fi->crc32);
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
	if (nnp_model_has_prep(m))
		print_prep(m);
	printf("outputs: %s\n", outputs_text(m));
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
	if (nnp_model_has_prep(m))
		cJSON_AddItemToObject(root, "preprocessing", prep_json(m));
	cJSON_AddStringToObject(root, "outputs", outputs_kind(m));
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

enum { I_JSON = 1, I_HELP };

typedef struct info_cfg {
	cli_model mo;
	int json;
} info_cfg;

static int info_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	info_cfg *c = ctx;
	if (id == I_JSON)
		return c->json = 1, 0;
	return cli_model_data_option(p, &c->mo, NULL, id, arg);
}

static void info_help(void)
{
	printf("usage: %s\n\nShows each layer's sizes, activation and parameters, the totals\n"
	       "(parameters, float32 bytes, multiply-adds per sample), the file's\n"
	       "format and CRC-32, how the outputs are read, the input preprocessing,\n"
	       "and the model's metadata and provenance.\n\n"
	       "  --json   print the same as JSON\n\n%s", info_usage, CLI_MODEL_HELP);
}

int cmd_info(int argc, char **argv, cli_probe *probe)
{
	static const cli_opt opts[] = { { "json", 0, 0, I_JSON }, { "help", 'h', 0, I_HELP },
		                        CLI_MODEL_OPTIONS, { NULL, 0, 0, 0 } };
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "info", info_usage, probe))
		return NNP_EXIT_INPUT;
	info_cfg c = { .json = 0 };
	cli_model_init(&c.mo);
	int rc = NNP_EXIT_OK;
	if (cli_parse_cmd(&p, I_HELP, info_help, info_opt, &c, 1, "one MODEL", &rc))
		goto done;
	nnp_err err;
	nnp_err_clear(&err);
	nnp_model *m = NULL;
	nnp_file_info fi;
	const char *path = p.operands[0];
	if (cli_model_load(&m, path, &c.mo, &fi, &err)) {
		rc = cli_fail(&err);
		goto done;
	}
	if (c.json) {
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
	cli_model_free(&c.mo);
	cli_done(&p);
	return rc;
}

static const char convert_usage[] =
	"nnprune convert IN OUT [--to FORMAT] [--int8 [--data DATA]] [--prefix NAME] "
	"[--json] [model options]";

/* Accuracy and loss of m on DATA; -1 on error (printed). */
static int score(const nnp_model *m, const char *data, cli_data *d, nnp_metrics *mt)
{
	nnp_err err;
	nnp_err_clear(&err);
	nnp_reader *r = NULL;
	d->opts.expect_features = m->input_size;
	d->opts.n_classes = nnp_model_outputs(m);
	nnp_run_opts ro = NNP_RUN_OPTS_INIT;
	ro.threads = d->threads;
	memset(mt, 0, sizeof *mt);
	int rc = nnp_reader_open(&r, data, &d->opts, &err);
	if (!rc)
		rc = nnp_run(m, r, &ro, NULL, mt, NULL, &err);
	nnp_reader_close(r);
	return rc ? cli_fail(&err) : 0;
}

/* convert --int8 --data: what the int8 weights cost in accuracy. */
static int report_int8(const nnp_model *m, const char *data, cli_data *d)
{
	nnp_model *q = NULL;
	nnp_metrics f, i8;
	nnp_err err;
	int rc = nnp_model_clone(&q, m, &err);
	if (rc)
		return cli_fail(&err);
	nnp_model_quantize_int8(q);
	rc = score(m, data, d, &f);
	if (!rc)
		rc = score(q, data, d, &i8);
	if (!rc)
		printf("%s: float32 accuracy %.4f, int8 accuracy %.4f (%+.4f) on %llu rows\n", data,
		       nnp_metrics_accuracy(&f), nnp_metrics_accuracy(&i8),
		       nnp_metrics_accuracy(&i8) - nnp_metrics_accuracy(&f),
		       (unsigned long long)f.labelled);
	nnp_model_free(q);
	return rc;
}

/* A C identifier from OUT's base name ("models/best-1.h" -> "best_1"). */
static void default_prefix(const char *out, char *buf, size_t cap)
{
	const char *b = strrchr(out, '/');
	b = b ? b + 1 : out;
	size_t n = 0;
	for (; *b && *b != '.' && n + 1 < cap; b++)
		buf[n++] = (isalnum((unsigned char)*b) ? *b : '_');
	buf[n] = '\0';
	if (!n || isdigit((unsigned char)buf[0]))
		snprintf(buf, cap, "nnp_model");
}

enum { C_FORMAT = 1, C_HELP, C_PREFIX, C_DATA, C_JSON };

typedef struct convert_cfg {
	cli_data d;
	cli_model mo;
	const char *data, *prefix;
	nnp_format fmt;
	int json;
} convert_cfg;

static void convert_help(void)
{
	printf("usage: %s\n\nReads a model (nnprune JSON or binary, safetensors, .npz, .npy,\n"
	       "ONNX) and writes it to OUT, atomically, in the format --to names or\n"
	       "else OUT's extension: .json, .bin (or .nnp), .safetensors, .npz, .onnx,\n"
	       ".h (a C99 header for microcontrollers). Any other extension is an\n"
	       "error. OUT may not be IN.\n\n"
	       "  --to FORMAT     json, bin, safetensors, npz, onnx or h (also --format)\n"
	       "  --int8          with .h: per-row int8 weights and float scales\n"
	       "  --data DATA     with --int8: print the float and int8 accuracy on DATA\n"
	       "                  (as 'nnprune eval IN DATA' and 'nnprune eval IN DATA --int8')\n"
	       "  --prefix NAME   with .h: the C identifiers' prefix (default: OUT's name)\n"
	       "  --json          print what was written as JSON\n\n"
	       "%s\n%s", convert_usage, CLI_MODEL_HELP, CLI_DATA_HELP);
}

static int convert_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	convert_cfg *c = ctx;
	switch (id) {
	case C_FORMAT:
		if (!(c->fmt = nnp_format_parse(arg)))
			return cli_usage_error(p, "--to: '%s' is not one of %s", arg,
			                       nnp_format_list_writable()), -1;
		break;
	case C_PREFIX: c->prefix = arg; break;
	case C_JSON: c->json = 1; break;
	case C_DATA: c->data = arg; break;
	default: return cli_model_data_option(p, &c->mo, &c->d, id, arg);
	}
	return 0;
}

int cmd_convert(int argc, char **argv, cli_probe *probe)
{
	static const cli_opt opts[] = { { "format", 'f', 1, C_FORMAT }, { "to", 0, 1, C_FORMAT },
		                        { "prefix", 0, 1, C_PREFIX }, { "help", 'h', 0, C_HELP },
		                        { "data", 0, 1, C_DATA }, { "json", 0, 0, C_JSON },
		                        CLI_MODEL_OPTIONS, CLI_DATA_OPTIONS,
		                        { NULL, 0, 0, 0 } };
	convert_cfg c;
	memset(&c, 0, sizeof c);
	cli_model_data_init(&c.mo, &c.d);
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "convert", convert_usage, probe))
		return NNP_EXIT_INPUT;
	nnp_model *m = NULL;
	int rc = NNP_EXIT_OK;
	if (cli_parse_cmd(&p, C_HELP, convert_help, convert_opt, &c, 2, "IN and OUT", &rc))
		goto done;
	nnp_format fmt = c.fmt;
	const char *data = c.data, *prefix = c.prefix;
	const char *in = p.operands[0], *out = p.operands[1];
	if (!fmt && !(fmt = nnp_format_of_path(out))) {
		rc = cli_usage_error(&p, "%s: cannot tell the format from the extension: use .json, "
		                     ".bin, .safetensors, .npz, .onnx or .h, or --to FORMAT", out);
		goto done;
	}
	if (fmt == NNP_FMT_NPY) {
		rc = cli_usage_error(&p, "%s: .npy holds one array: write .npz for a model", out);
		goto done;
	}
	/* --int8 on convert means: write int8 into the header (not: quantise first). */
	nnp_export_opts eo = { c.mo.io.int8, prefix };
	char pbuf[72];
	if (!prefix) {
		default_prefix(out, pbuf, sizeof pbuf);
		eo.prefix = pbuf;
	}
	if (data && !c.mo.io.int8) {
		rc = cli_usage_error(&p, "--data is for --int8 (use 'nnprune eval' otherwise)");
		goto done;
	}
	if (c.mo.io.int8 && fmt != NNP_FMT_C) {
		rc = cli_usage_error(&p, "--int8 is for the C header (.h); to evaluate the int8 "
		                     "weights use 'nnprune eval MODEL DATA --int8'");
		goto done;
	}
	c.mo.io.int8 = 0;
	nnp_err err;
	nnp_err_clear(&err);
	if (cli_model_load(&m, in, &c.mo, NULL, &err)) {
		rc = cli_fail(&err);
		goto done;
	}
	if (nnp_same_file(in, out)) {
		fprintf(stderr, "nnprune: %s: refusing to write over the input file\n", out);
		rc = NNP_EXIT_OUTPUT;
		goto done;
	}
	if (nnp_model_save_opts(m, out, fmt, &eo, &err)) {
		rc = cli_fail(&err);
		goto done;
	}
	if (data && eo.int8)
		rc = report_int8(m, data, &c.d);
	if (!rc && c.json) {
		uint64_t bytes = 0;
		uint32_t crc32v = 0;
		if (nnp_file_identity(out, &bytes, &crc32v, &err)) {
			rc = cli_fail(&err);
			goto done;
		}
		char crc[9];
		snprintf(crc, sizeof crc, "%08x", (unsigned)crc32v);
		cJSON *o = cli_json_begin("convert");
		if (o) {
			cJSON_AddStringToObject(o, "input", in);
			cJSON_AddStringToObject(o, "output", out);
			cJSON_AddStringToObject(o, "model_format", nnp_format_name(fmt));
			cJSON_AddNumberToObject(o, "bytes", (double)bytes);
			cJSON_AddStringToObject(o, "crc32", crc);
			cJSON_AddNumberToObject(o, "params", (double)nnp_model_params(m));
		}
		rc = cli_json_print(o);
	}
done:
	nnp_model_free(m);
	cli_model_free(&c.mo);
	cli_done(&p);
	return rc;
}
