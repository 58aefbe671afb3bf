/* The model import options shared by the commands that take a model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_model.h"

void cli_model_init(cli_model *c)
{
	memset(c, 0, sizeof *c);
}

void cli_model_free(cli_model *c)
{
	free(c->offset);
	free(c->scale);
	memset(c, 0, sizeof *c);
}

int cli_model_is_option(int id)
{
	return id >= CLI_MODEL_ACTS && id <= CLI_MODEL_INT8;
}

void cli_model_data_init(cli_model *mo, cli_data *d)
{
	cli_model_init(mo);
	cli_data_init(d);
}

int cli_model_data_option(cli_parser *p, cli_model *mo, cli_data *d, int id, const char *arg)
{
	if (cli_model_is_option(id))
		return cli_model_option(p, mo, id, arg);
	return d ? cli_data_option(p, d, id, arg) : 0;
}

/* A number, "a/b", or a file (.npy or text) of one value per input. */
static int parse_values(cli_parser *p, const char *opt, const char *text, float **out,
                        size_t *n)
{
	char *end, *e2;
	double a = strtod(text, &end), v;
	free(*out);
	*out = NULL;
	if (end != text && (*end == '\0' || *end == '/')) {
		v = a;
		if (*end == '/') {
			double b = strtod(end + 1, &e2);
			if (e2 == end + 1 || *e2 || b == 0.0)
				return cli_usage_error(p, "%s: '%s' is not a number or a/b", opt, text), -1;
			v = a / b;
		}
		if (!isfinite(v) || fabs(v) > 3.4e38)
			return cli_usage_error(p, "%s: '%s' is not a finite float", opt, text), -1;
		*out = malloc(sizeof **out);
		if (!*out)
			return cli_usage_error(p, "%s: out of memory", opt), -1;
		**out = (float)v;
		*n = 1;
		return 0;
	}
	nnp_err err;
	nnp_err_clear(&err);
	if (nnp_read_vector(text, out, n, &err))
		return cli_usage_error(p, "%s: '%s' is not a number, a/b, or a readable .npy or "
		                       "text file (%s)", opt, text, err.msg), -1;
	return 0;
}

int cli_model_option(cli_parser *p, cli_model *c, int id, const char *arg)
{
	switch (id) {
	case CLI_MODEL_ACTS: c->io.activations = arg; return 0;
	case CLI_MODEL_HIDDEN: c->io.hidden = arg; return 0;
	case CLI_MODEL_OUTPUT: c->io.output = arg; return 0;
	case CLI_MODEL_INT8: c->io.int8 = 1; return 0;
	case CLI_MODEL_LAYOUT:
		if (!strcmp(arg, "out-in"))
			c->io.layout = NNP_LAYOUT_OUT_IN;
		else if (!strcmp(arg, "in-out"))
			c->io.layout = NNP_LAYOUT_IN_OUT;
		else
			return cli_usage_error(p, "--layout: '%s' is not out-in or in-out", arg), -1;
		return 0;
	case CLI_MODEL_SCALE:
		if (parse_values(p, "--input-scale", arg, &c->scale, &c->io.n_input_scale))
			return -1;
		c->io.input_scale = c->scale;
		return 0;
	case CLI_MODEL_OFFSET:
		if (parse_values(p, "--input-offset", arg, &c->offset, &c->io.n_input_offset))
			return -1;
		c->io.input_offset = c->offset;
		return 0;
	default:
		return cli_usage_error(p, "unknown model option"), -1;
	}
}

int cli_model_load(nnp_model **m, const char *path, const cli_model *c, nnp_file_info *fi,
                   nnp_err *err)
{
	nnp_file_info local;
	if (!fi)
		fi = &local;
	int rc = nnp_model_load_opts(m, path, c ? &c->io : NULL, fi, err);
	if (!rc && fi->acts_assumed)
		fprintf(stderr, "nnprune: %s: the file does not say its activations: assumed %s "
		        "hidden layers and %s outputs (set them with --activations, or --hidden "
		        "and --output-kind)\n", path, c && c->io.hidden ? c->io.hidden : "relu",
		        c && c->io.output ? c->io.output : "logits");
	return rc;
}

int cli_format_option(cli_parser *p, const char *arg, nnp_format *fmt)
{
	nnp_format f = nnp_format_parse(arg);
	if (!f || !nnp_format_writable(f))
		return cli_usage_error(p, "--format: '%s' is not one of %s", arg,
		                       nnp_format_list_writable()), -1;
	*fmt = f;
	return 0;
}

nnp_format cli_format_pick(nnp_format forced, nnp_format fallback)
{
	if (forced)
		return forced;
	return fallback && nnp_format_writable(fallback) ? fallback : NNP_FMT_BIN;
}
