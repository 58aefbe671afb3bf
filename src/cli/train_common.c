/* The options and helpers train, finetune and lottery share (train_common.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train_common.h"
#include "nnprune/criteria.h"
#include "nnprune/io.h"

/* "1/255", "0.00392", "1e-3". */
int cli_train_parse_scale(const cli_parser *p, const char *text, float *out)
{
	double a, b = 1.0;
	const char *slash = strchr(text, '/');
	if (slash) {
		char num[64];
		size_t n = (size_t)(slash - text);
		if (n == 0 || n >= sizeof num)
			return cli_usage_error(p, "--input-scale: '%s' is not a number or a/b", text), -1;
		memcpy(num, text, n);
		num[n] = '\0';
		if (cli_double(p, "--input-scale", num, 1e-30, 1e30, &a) ||
		    cli_double(p, "--input-scale", slash + 1, 1e-30, 1e30, &b))
			return -1;
	} else if (cli_double(p, "--input-scale", text, 1e-30, 1e30, &a)) {
		return -1;
	}
	*out = (float)(a / b);
	return 0;
}

int cli_train_option(cli_parser *p, train_cfg *c, int id, const char *arg)
{
	uint64_t v;
	double x;
	switch (id) {
	case T_OUT: c->out = arg; return 0;
	case T_OPT:
		if (nnp_optimizer_parse(arg, &c->t.optimizer))
			return cli_usage_error(p, "--optimizer: '%s' is not adam or sgd", arg), -1;
		return 0;
	case T_EPOCHS:
		if (cli_size(p, "--epochs", arg, 1, NNP_TRAIN_MAX_EPOCHS, &v))
			return -1;
		c->t.epochs = (size_t)v;
		return 0;
	case T_BATCH:
		if (cli_size(p, "--batch", arg, 1, NNP_TRAIN_MAX_BATCH, &v))
			return -1;
		c->t.batch = (size_t)v;
		return 0;
	case T_LR:
		if (cli_double(p, "--lr", arg, 1e-12, 1e3, &x))
			return -1;
		c->t.lr = (float)x;
		c->lr_set = 1;
		return 0;
	case T_MOMENTUM:
		if (cli_double(p, "--momentum", arg, 0, 0.999999, &x))
			return -1;
		c->t.momentum = (float)x;
		return 0;
	case T_WD:
		if (cli_double(p, "--weight-decay", arg, 0, 1, &x))
			return -1;
		c->t.weight_decay = (float)x;
		return 0;
	case T_SEED:
		if (cli_size(p, "--seed", arg, 0, UINT64_MAX, &v))
			return -1;
		c->t.seed = v;
		return 0;
	case T_VAL: c->val = arg; return 0;
	case T_VAL_LABELS: c->val_labels = arg; return 0;
	case T_SCALE:
		if (cli_train_parse_scale(p, arg, &c->t.input_scale))
			return -1;
		c->scale_set = 1;
		return 0;
	case T_QUIET: c->quiet = 1; return 0;
	case T_NO_SHUFFLE: c->t.shuffle = 0; return 0;
	case T_LR_SCHEDULE:
		if (nnp_lr_schedule_parse(arg, &c->t.lr_schedule))
			return cli_usage_error(p, "--lr-schedule: '%s' is not constant or cosine", arg), -1;
		return 0;
	default:
		return cli_data_option(p, &c->data, id, arg);
	}
}


int cli_train_on_epoch(const nnp_epoch_info *e, void *ctx)
{
	const train_cfg *c = ctx;
	if (c->quiet)
		return 0;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K");
	printf("epoch %zu/%zu: loss %.4f, accuracy %.2f%%", e->epoch, e->epochs, e->train_loss,
	       100.0 * e->train_accuracy);
	if (e->val)
		printf(", val loss %.4f, val accuracy %.2f%%", nnp_metrics_loss(e->val),
		       100.0 * nnp_metrics_accuracy(e->val));
	printf(", %.1f s\n", e->seconds);
	fflush(stdout);
	return 0;
}

void cli_train_on_progress(size_t epoch, uint64_t done, uint64_t total, void *ctx)
{
	const train_cfg *c = ctx;
	/* Redraw about a hundred times an epoch: enough to see it move, cheap. */
	uint64_t step = total / 100 ? total / 100 : 1;
	if (c->quiet || !isatty(STDERR_FILENO) || (done % step >= c->t.batch && done != total))
		return;
	fprintf(stderr, "\repoch %zu: %3.0f%%", epoch, 100.0 * (double)done / (double)total);
}


int cli_train_load_sets(train_cfg *c, const nnp_model *m, const char *train_path,
                     nnp_dataset **train, nnp_dataset **val, nnp_err *err)
{
	c->data.opts.expect_features = m->input_size;
	c->data.opts.n_classes = nnp_model_outputs(m);
	int rc = nnp_dataset_load(train, train_path, &c->data.opts, 0, err);
	if (rc || !c->val)
		return rc;
	nnp_data_opts vo = c->data.opts;
	vo.labels_path = c->val_labels;
	vo.labels_option = "--val-labels FILE";
	return nnp_dataset_load(val, c->val, &vo, 0, err);
}


void cli_train_cfg_init(train_cfg *c, const nnp_train_opts *t)
{
	nnp_train_opts t0 = NNP_TRAIN_OPTS_INIT;
	memset(c, 0, sizeof *c);
	cli_data_init(&c->data);
	c->t = t ? *t : t0;
}

cJSON *cli_train_prov(const char *operation)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "tool", "nnprune " NNP_VERSION);
	cJSON_AddStringToObject(o, "operation", operation);
	return o;
}

void cli_train_add_fields(cJSON *o, const train_cfg *c, const char *data, const nnp_train_report *rep)
{
	cJSON_AddStringToObject(o, "data", data);
	cJSON_AddStringToObject(o, "optimizer", nnp_optimizer_name(c->t.optimizer));
	cJSON_AddNumberToObject(o, "lr", (double)c->t.lr);
	if (c->t.lr_schedule != NNP_LR_CONSTANT)
		cJSON_AddStringToObject(o, "lr_schedule", nnp_lr_schedule_name(c->t.lr_schedule));
	if (c->t.teacher) {
		cJSON_AddStringToObject(o, "teacher", c->teacher);
		cJSON_AddNumberToObject(o, "distill_t", (double)c->t.distill_t);
		cJSON_AddNumberToObject(o, "distill_alpha", (double)c->t.distill_alpha);
	}
	if (c->sparsity > 0) {
		cJSON_AddNumberToObject(o, "sparsity", c->sparsity);
		cJSON_AddNumberToObject(o, "steps", (double)c->steps);
		cJSON_AddStringToObject(o, "scope", nnp_mag_scope_name(c->scope));
	}
	cJSON_AddNumberToObject(o, "epochs", (double)rep->epochs_run);
	cJSON_AddNumberToObject(o, "batch", (double)c->t.batch);
	cJSON_AddNumberToObject(o, "seed", (double)c->t.seed);
	cJSON_AddNumberToObject(o, "threads", (double)rep->threads);
	/* A scale the engine folds into layer 0 (finetuning a model without
	 * recorded preprocessing); models with preprocessing carry it themselves. */
	if (c->t.input_scale != 1.0f)
		cJSON_AddNumberToObject(o, "input_scale", (double)c->t.input_scale);
	cJSON_AddNumberToObject(o, "train_accuracy", rep->train_accuracy);
	if (rep->has_val) {
		cJSON_AddStringToObject(o, "val_data", c->val);
		cJSON_AddNumberToObject(o, "val_accuracy", nnp_metrics_accuracy(&rep->val));
	}
}


/* Refuses an output that names one of the inputs; checked before training, so
 * a typo does not cost a whole run, and again when saving. */
int cli_train_check_not_input(const char *out, const char *const *inputs, size_t n_inputs,
                        nnp_err *err)
{
	for (size_t k = 0; k < n_inputs; k++)
		if (inputs[k] && nnp_same_file(out, inputs[k]))
			return nnp_err_set(err, NNP_EOUTPUT, "%s: refusing to write over an input file", out);
	return NNP_OK;
}

int cli_train_save(nnp_model *m, cJSON *prov, const char *out, const char *const *inputs,
                                size_t n_inputs, nnp_err *err)
{
	if (cli_train_check_not_input(out, inputs, n_inputs, err))
		return err->status;
	char *txt = cJSON_PrintUnformatted(prov);
	int rc = txt ? nnp_model_set_provenance(m, txt, err)
	             : nnp_err_set(err, NNP_ENOMEM, "out of memory");
	free(txt);
	if (rc)
		return rc;
	size_t n = strlen(out);
	nnp_format fmt = (n >= 5 && !strcmp(out + n - 5, ".json")) ? NNP_FMT_JSON : NNP_FMT_BIN;
	return nnp_model_save(m, out, fmt, err);
}


int cli_train_parse_layers(const cli_parser *p, const char *text, size_t *sizes, size_t *n)
{
	if (cli_size_list(p, "--layers", text, "784,300,10", NNP_MAX_LAYERS + 1, sizes, n))
		return -1;
	if (*n < 2)
		return cli_usage_error(p, "--layers: needs at least the input and output sizes"), -1;
	return 0;
}

