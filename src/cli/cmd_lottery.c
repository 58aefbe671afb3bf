/* nnprune lottery: iterative magnitude pruning with rewinding (lottery
 * tickets) and the random re-initialisation control; the loop is
 * nnp_lottery_run (src/pipeline/lottery.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "cli.h"
#include "train_common.h"
#include "nnprune/io.h"
#include "nnprune/lottery.h"

enum {
	L_ROUNDS = T_TRAIN_LAST, L_RATE, L_SCOPE, L_STRUCTURED, L_REWIND, L_NO_CONTROL, L_JSON,
	L_INIT, L_NO_WAIT, L_OUTPUT_RATE
};

#define LOT_DEFAULT_ROUNDS 5
#define LOT_DEFAULT_RATE 0.2
#define LOT_DEFAULT_EPOCHS 10

typedef struct lot_cfg {
	train_cfg tc;
	nnp_lottery_opts lo;
	int json, no_wait;
	int output_rate_set;       /* --output-rate given (else half of --rate) */
	const char *init_path;
	/* while running */
	const char *data_path;
	const char *const *inputs;
	size_t n_inputs;
	char **files;              /* [rounds + 1] each round's model, as written */
	float scale;               /* the input scale the models record; 1: none */
} lot_cfg;

static const char lottery_usage[] =
	"nnprune lottery TRAIN_DATA --layers 784,300,150,10 --val VAL_DATA -o DIR [options]";

static void print_help(void)
{
	printf("usage: %s\n\n"
	       "Finds lottery tickets (Frankle & Carbin): trains the network from a recorded\n"
	       "random initialisation, prunes --rate of the remaining weights by magnitude,\n"
	       "rewinds the survivors to their initial values and retrains with the mask\n"
	       "fixed, for --rounds rounds. Each round also trains the same mask from a fresh\n"
	       "random initialisation: the control the ticket is judged against. Writes\n"
	       "every round's (sparse) model and report.json, report.md and report.svg into\n"
	       "DIR. The same seed and thread count give the same models bit for bit.\n\n"
	       "  -o, --output DIR      where the models and reports go (created if missing)\n"
	       "  -l, --layers LIST     sizes from input to output, e.g. 784,300,150,10 (relu\n"
	       "                        hidden layers, softmax output)\n"
	       "  --init MODEL          start from these initial weights (e.g. written by\n"
	       "                        train --save-init) instead of --layers and --seed\n"
	       "  --rounds N            pruning rounds after the dense round 0 (default %d)\n"
	       "  --rate X              share of the remaining weights pruned per round, in\n"
	       "                        (0, 1) (default %g)\n"
	       "  --output-rate X       share of the output layer's remaining weights pruned\n"
	       "                        per round, ranked apart from the other layers, in\n"
	       "                        [0, 1), or 'same': pruned like the others (default:\n"
	       "                        half of --rate, as Frankle & Carbin)\n"
	       "  --scope layer|global  rank weights within each layer or over the whole\n"
	       "                        model, the output layer apart unless --output-rate\n"
	       "                        same (default layer)\n"
	       "  --structured          remove whole hidden neurons (--rate of those left,\n"
	       "                        smallest L2 norm of the incoming weights) instead\n"
	       "  --rewind-epoch K      rewind to the weights after epoch K of round 0 (late\n"
	       "                        rewinding) instead of the initial ones (default 0)\n"
	       "  --no-control          skip the control (its fresh weights: drawn as the\n"
	       "                        --seed's initial ones were; from --init, each\n"
	       "                        layer's initial values shuffled)\n"
	       "  --json                print the report (report.json) on stdout\n"
	       "  --no-wait             fail at once when another run is writing into DIR\n"
	       "  --val DATA            the data every ticket is scored on (required)\n"
	       "  --val-labels FILE     IDX labels for --val\n"
	       "  --optimizer adam|sgd  Adam, or SGD with momentum (default adam)\n"
	       "  -e, --epochs N        epochs of every training (default %d)\n"
	       "  -b, --batch N         rows per step (default 64)\n"
	       "  --lr X                learning rate (default 0.001 for adam, 0.01 for sgd)\n"
	       "  --momentum X          SGD momentum (default 0.9)\n"
	       "  --weight-decay X      L2 penalty on the weights (default 0)\n"
	       "  --lr-schedule S       constant or cosine (default constant)\n"
	       "  --seed N              initialisation and shuffling seed (default 0)\n"
	       "  --input-scale X       train on input * X, recorded as the models' input\n"
	       "                        preprocessing. Default: 1/255 when the training\n"
	       "                        data are whole numbers in 0..255 (pixels), said on\n"
	       "                        stderr; else 1\n"
	       "  --no-shuffle          keep the file's row order\n"
	       "  -q, --quiet           no per-round lines\n\n%s",
	       lottery_usage, LOT_DEFAULT_ROUNDS, LOT_DEFAULT_RATE, LOT_DEFAULT_EPOCHS,
	       CLI_DATA_HELP_LABELLED);
}

static int lot_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	lot_cfg *c = ctx;
	uint64_t v;
	double x;
	switch (id) {
	case T_LAYERS: c->tc.layers = arg; break;
	case L_INIT: c->init_path = arg; break;
	case L_ROUNDS:
		if (cli_size(p, "--rounds", arg, 0, NNP_LOTTERY_MAX_ROUNDS, &v))
			return -1;
		c->lo.rounds = (size_t)v;
		break;
	case L_RATE:
		if (cli_double(p, "--rate", arg, 0, 1, &x))
			return -1;
		if (!(x > 0 && x < 1))
			return cli_usage_error(p, "--rate must be in (0, 1) (got %s)", arg), -1;
		c->lo.rate = x;
		break;
	case L_OUTPUT_RATE:
		c->output_rate_set = 1;
		if (!strcmp(arg, "same")) {
			c->lo.output_rate = -1.0;
			break;
		}
		if (cli_double(p, "--output-rate", arg, 0, 1, &x))
			return -1;
		if (!(x >= 0 && x < 1))
			return cli_usage_error(p, "--output-rate must be in [0, 1) or 'same' "
			                       "(got %s)", arg), -1;
		c->lo.output_rate = x;
		break;
	case L_SCOPE:
		if (strcmp(arg, "layer") && strcmp(arg, "global"))
			return cli_usage_error(p, "--scope: '%s' is not layer or global", arg), -1;
		c->lo.global = !strcmp(arg, "global");
		break;
	case L_STRUCTURED: c->lo.structured = 1; break;
	case L_REWIND:
		if (cli_size(p, "--rewind-epoch", arg, 0, NNP_TRAIN_MAX_EPOCHS, &v))
			return -1;
		c->lo.rewind_epoch = (size_t)v;
		break;
	case L_NO_CONTROL: c->lo.control = 0; break;
	case L_JSON: c->json = 1; break;
	case L_NO_WAIT: c->no_wait = 1; break;
	default:
		return cli_train_option(p, &c->tc, id, arg);
	}
	return 0;
}

/* 1 after --help, 0 to run, -1 after a usage error. */
static int parse_args(cli_parser *p, lot_cfg *c)
{
	int rc = cli_parse_opts(p, NULL, T_HELP, print_help, lot_opt, c);
	if (rc)
		return rc;
	if (p->n_operands != 1)
		return cli_usage_error(p, "expected one TRAIN_DATA, got %d arguments", p->n_operands), -1;
	if (!c->tc.out || !c->tc.val)
		return cli_usage_error(p, "%s is required", !c->tc.out ? "-o DIR" : "--val DATA"), -1;
	if (!c->tc.layers == !c->init_path)
		return cli_usage_error(p, c->init_path ? "--init and --layers exclude each other"
		                                       : "--layers (or --init MODEL) is required"), -1;
	if (c->lo.structured && c->output_rate_set)
		return cli_usage_error(p, "--structured keeps every output neuron: --output-rate "
		                       "does not apply"), -1;
	if (!c->output_rate_set)
		c->lo.output_rate = c->lo.structured ? -1.0 : c->lo.rate / 2.0;
	if (c->lo.structured && c->lo.global)
		return cli_usage_error(p, "--structured removes neurons per layer: --scope global "
		                       "does not apply"), -1;
	if (!c->tc.lr_set)
		c->tc.t.lr = nnp_train_default_lr(c->tc.t.optimizer);
	c->tc.t.threads = c->tc.data.threads;
	return 0;
}

/* The recorded initialisation: --init's file, or --layers initialised from --seed. */
static int make_init(nnp_model **out, const lot_cfg *c, const cli_parser *p, nnp_err *err)
{
	if (c->init_path)
		return nnp_model_load(out, c->init_path, NULL, err);
	size_t sizes[NNP_MAX_LAYERS + 1], n;
	nnp_act acts[NNP_MAX_LAYERS];
	if (cli_train_parse_layers(p, c->tc.layers, sizes, &n))
		return NNP_EUSAGE;
	for (size_t l = 0; l + 1 < n; l++)
		acts[l] = l + 2 == n ? NNP_ACT_SOFTMAX : NNP_ACT_RELU;
	int rc = nnp_model_create(out, sizes[0], n - 1, sizes + 1, acts, err);
	if (!rc)
		nnp_model_init_random(*out, c->tc.t.seed);
	return rc;
}

/* The input scale: --input-scale, else 1/255 for data that look like pixels
 * (whole numbers in 0..255, some above 1), else none. */
static int set_scale(lot_cfg *c, nnp_model *m, const nnp_dataset *d, nnp_err *err)
{
	float s = c->tc.t.input_scale;
	c->tc.t.input_scale = 1.0f;
	if (!c->tc.scale_set) {
		if (nnp_model_has_prep(m))
			return NNP_OK;
		float mx = 0.0f;
		for (size_t i = 0; i < d->rows * d->features; i++) {
			float v = d->x[i];
			if (!(v >= 0.0f && v <= 255.0f && v == floorf(v)))
				return NNP_OK;
			mx = v > mx ? v : mx;
		}
		if (!(mx > 1.0f))
			return NNP_OK;
		s = 1.0f / 255.0f;
		fprintf(stderr, "nnprune: lottery: %s holds whole numbers 0..%g: training on them "
		        "times 1/255 (--input-scale 1 keeps them as they are)\n", c->data_path,
		        (double)mx);
	} else if (nnp_model_has_prep(m)) {
		return nnp_err_set(err, NNP_EUSAGE, "--input-scale: %s carries its input "
		                   "preprocessing already", c->init_path);
	}
	c->scale = s;
	return s == 1.0f ? NNP_OK : nnp_model_set_prep(m, NULL, 0, &s, 1, err);
}

static cJSON *round_json(const nnp_lottery_round *r, const char *file)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "round", (double)r->round);
	cJSON_AddNumberToObject(o, "remaining", r->remaining);
	cJSON_AddNumberToObject(o, "weights", (double)r->kept);
	cJSON_AddNumberToObject(o, "params", (double)r->params);
	cJSON_AddNumberToObject(o, "accuracy", r->accuracy);
	cJSON_AddNumberToObject(o, "loss", r->loss);
	if (isnan(r->control_accuracy)) {
		cJSON_AddNullToObject(o, "control_accuracy");
	} else {
		cJSON_AddNumberToObject(o, "control_accuracy", r->control_accuracy);
		cJSON_AddNumberToObject(o, "control_loss", r->control_loss);
	}
	cJSON_AddNumberToObject(o, "train_accuracy", r->train_accuracy);
	cJSON_AddNumberToObject(o, "seconds", r->seconds);
	if (file)
		cJSON_AddStringToObject(o, "file", file);
	else
		cJSON_AddNullToObject(o, "file");
	return o;
}

static const char *scope_name(const nnp_lottery_opts *o)
{
	return o->structured ? "neurons" : o->global ? "global" : "layer";
}

static cJSON *report_json(const lot_cfg *c, const nnp_lottery *lt, const nnp_model *init)
{
	cJSON *o = cli_json_begin("lottery");
	if (!o)
		return NULL;
	char layers[256];
	size_t len = (size_t)snprintf(layers, sizeof layers, "%zu", init->input_size);
	for (size_t l = 0; l < init->n_layers && len < sizeof layers; l++)
		len += (size_t)snprintf(layers + len, sizeof layers - len, ",%zu", init->layers[l].out);
	cJSON_AddStringToObject(o, "layers", layers);
	cJSON_AddStringToObject(o, "data", c->data_path);
	cJSON_AddStringToObject(o, "val_data", c->tc.val);
	if (c->init_path)
		cJSON_AddStringToObject(o, "init", c->init_path);
	cJSON_AddStringToObject(o, "scope", scope_name(&c->lo));
	cJSON_AddNumberToObject(o, "rate", c->lo.rate);
	if (c->lo.output_rate >= 0)
		cJSON_AddNumberToObject(o, "output_rate", c->lo.output_rate);
	else
		cJSON_AddNullToObject(o, "output_rate");
	cJSON_AddNumberToObject(o, "rewind_epoch", (double)c->lo.rewind_epoch);
	if (c->lo.control)
		cJSON_AddStringToObject(o, "control_init", c->lo.control_shuffle ? "shuffled" : "random");
	cJSON_AddStringToObject(o, "optimizer", nnp_optimizer_name(c->lo.train.optimizer));
	cJSON_AddNumberToObject(o, "lr", (double)c->lo.train.lr);
	cJSON_AddStringToObject(o, "lr_schedule", nnp_lr_schedule_name(c->lo.train.lr_schedule));
	cJSON_AddNumberToObject(o, "epochs", (double)c->lo.train.epochs);
	cJSON_AddNumberToObject(o, "batch", (double)c->lo.train.batch);
	cJSON_AddNumberToObject(o, "seed", (double)c->lo.train.seed);
	cJSON_AddNumberToObject(o, "threads", (double)c->lo.train.threads);
	cJSON_AddNumberToObject(o, "input_scale", (double)c->scale);
	cJSON_AddNumberToObject(o, "dense_accuracy", lt->n ? lt->r[0].accuracy : 0.0);
	cJSON *arr = cJSON_AddArrayToObject(o, "rounds");
	for (size_t i = 0; i < lt->n; i++)
		cJSON_AddItemToArray(arr, round_json(&lt->r[i], c->files[i]));
	return o;
}

static int on_round(const nnp_lottery_round *r, const nnp_model *ticket,
                    const nnp_model *control, const uint8_t *const *mask, void *ctx,
                    nnp_err *err)
{
	(void)control;
	(void)mask;
	lot_cfg *c = ctx;
	char name[64];
	snprintf(name, sizeof name, "/round-%02zu.bin", r->round);
	size_t n = strlen(c->tc.out) + strlen(name) + 1;
	char *path = malloc(n);
	nnp_model *m = NULL;
	cJSON *prov = cli_train_prov("lottery");
	int rc = path && prov ? nnp_model_clone(&m, ticket, err)
	                      : nnp_err_set(err, NNP_ENOMEM, "out of memory");
	if (!rc) {
		snprintf(path, n, "%s%s", c->tc.out, name);
		cJSON_AddNumberToObject(prov, "round", (double)r->round);
		cJSON_AddNumberToObject(prov, "remaining", r->remaining);
		cJSON_AddStringToObject(prov, "scope", scope_name(&c->lo));
		cJSON_AddNumberToObject(prov, "rate", c->lo.rate);
		if (c->lo.output_rate >= 0)
			cJSON_AddNumberToObject(prov, "output_rate", c->lo.output_rate);
		cJSON_AddNumberToObject(prov, "rewind_epoch", (double)c->lo.rewind_epoch);
		cJSON_AddStringToObject(prov, "data", c->data_path);
		cJSON_AddStringToObject(prov, "optimizer", nnp_optimizer_name(c->lo.train.optimizer));
		cJSON_AddNumberToObject(prov, "lr", (double)c->lo.train.lr);
		cJSON_AddNumberToObject(prov, "epochs", (double)c->lo.train.epochs);
		cJSON_AddNumberToObject(prov, "seed", (double)c->lo.train.seed);
		cJSON_AddNumberToObject(prov, "val_accuracy", r->accuracy);
		rc = cli_train_save(m, prov, path, c->inputs, c->n_inputs, err);
	}
	cJSON_Delete(prov);
	nnp_model_free(m);
	if (rc) {
		free(path);
		return rc;
	}
	c->files[r->round] = path;
	if (!c->tc.quiet) {
		FILE *fp = c->json ? stderr : stdout;
		fprintf(fp, "round %zu: %6.2f%% of the weights, accuracy %.2f%%", r->round,
		        100.0 * r->remaining, 100.0 * r->accuracy);
		if (!isnan(r->control_accuracy))
			fprintf(fp, ", control %.2f%%", 100.0 * r->control_accuracy);
		fprintf(fp, " (%.1f s) -> %s\n", r->seconds, path);
		fflush(fp);
	}
	return NNP_OK;
}

/* Writes report.json, report.md and report.svg into DIR. */
static int write_reports(const lot_cfg *c, const nnp_lottery *lt, const cJSON *json,
                         const nnp_model *init, nnp_err *err)
{
	char layers[256];
	size_t len = (size_t)snprintf(layers, sizeof layers, "%zu", init->input_size);
	for (size_t l = 0; l < init->n_layers && len < sizeof layers; l++)
		len += (size_t)snprintf(layers + len, sizeof layers - len, ",%zu", init->layers[l].out);
	const char *crit = c->lo.structured ? "neuron L2 norm"
	                   : c->lo.global  ? "weight magnitude (global)"
	                                   : "weight magnitude (per layer)";
	nnp_lottery_info info = { layers, c->data_path, c->tc.val, crit, c->lo.rate,
		                  c->lo.train.epochs, (const char *const *)c->files };
	char *text[3] = { cJSON_Print(json), nnp_lottery_markdown(lt, &info),
		          nnp_lottery_svg(lt, &info) };
	static const char *const names[3] = { "report.json", "report.md", "report.svg" };
	int rc = NNP_OK;
	for (int k = 0; k < 3 && !rc; k++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", c->tc.out, names[k]);
		if (!text[k])
			rc = nnp_err_set(err, NNP_ENOMEM, "out of memory for %s", names[k]);
		if (!rc)
			rc = cli_train_check_not_input(path, c->inputs, c->n_inputs, err);
		if (!rc && k == 0) {
			/* the JSON file ends with a new line like the stdout copy */
			size_t n = strlen(text[0]);
			char *t = realloc(text[0], n + 2);
			if (t) {
				text[0] = t;
				memcpy(t + n, "\n", 2);
			}
		}
		if (!rc)
			rc = nnp_write_file_atomic(path, text[k], strlen(text[k]), err);
	}
	for (int k = 0; k < 3; k++)
		free(text[k]);
	return rc;
}

/* Loads the rows, takes -o DIR (*lock) and runs the rounds from init into
 * *lt, each round's ticket written by on_round; the rows are freed after. */
static int run(lot_cfg *c, nnp_model *init, nnp_dir_lock **lock, nnp_lottery **lt,
               nnp_err *err)
{
	nnp_dataset *train = NULL, *val = NULL;
	/* The inputs first: a bad file leaves no directory behind. */
	int rc = cli_train_load_sets(&c->tc, init, c->data_path, &train, &val, err);
	if (!rc)
		rc = set_scale(c, init, train, err);
	if (!rc)
		rc = nnp_mkdir(c->tc.out, err);
	if (!rc)
		rc = nnp_dir_lock_take(lock, c->tc.out, !c->no_wait, cli_lock_wait, NULL, err);
	if (!rc && !(c->files = calloc(c->lo.rounds + 1, sizeof *c->files)))
		rc = nnp_err_set(err, NNP_ENOMEM, "out of memory");
	if (!rc) {
		c->lo.train = c->tc.t;
		c->lo.train.on_epoch = NULL;
		c->lo.train.on_progress = cli_train_on_progress;
		c->lo.train.ctx = &c->tc;
		c->lo.on_round = on_round;
		c->lo.ctx = c;
		rc = nnp_lottery_run(lt, init, train, val, &c->lo, err);
	}
	nnp_dataset_free(train);
	nnp_dataset_free(val);
	return rc;
}

int cmd_lottery(int argc, char **argv, cli_probe *probe)
{
	static const cli_opt opts[] = {
		TRAIN_COMMON_OPTIONS, { "layers", 'l', 1, T_LAYERS }, { "init", 0, 1, L_INIT },
		{ "rounds", 0, 1, L_ROUNDS }, { "rate", 0, 1, L_RATE },
		{ "output-rate", 0, 1, L_OUTPUT_RATE }, { "scope", 0, 1, L_SCOPE },
		{ "structured", 0, 0, L_STRUCTURED }, { "rewind-epoch", 0, 1, L_REWIND },
		{ "no-control", 0, 0, L_NO_CONTROL }, { "json", 0, 0, L_JSON },
		{ "no-wait", 0, 0, L_NO_WAIT }, { NULL, 0, 0, 0 }
	};
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "lottery", lottery_usage, probe))
		return NNP_EXIT_INPUT;
	lot_cfg c;
	memset(&c, 0, sizeof c);
	nnp_lottery_opts lo0 = NNP_LOTTERY_OPTS_INIT;
	cli_train_cfg_init(&c.tc, &lo0.train);
	c.lo = lo0;
	c.lo.rounds = LOT_DEFAULT_ROUNDS;
	c.lo.rate = LOT_DEFAULT_RATE;
	c.tc.t.epochs = LOT_DEFAULT_EPOCHS;
	c.scale = 1.0f;
	int rc = NNP_EXIT_OK;
	nnp_err err;
	nnp_err_clear(&err);
	nnp_model *init = NULL;
	nnp_lottery *lt = NULL;
	nnp_dir_lock *lock = NULL;
	cJSON *json = NULL;

	int prc = parse_args(&p, &c);
	if (prc) {
		rc = prc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
		goto done;
	}
	c.data_path = p.operands[0];
	if (make_init(&init, &c, &p, &err)) {
		rc = err.status == NNP_EUSAGE && !c.init_path ? NNP_EXIT_USAGE : cli_fail(&err);
		goto done;
	}
	c.lo.train = c.tc.t;
	c.lo.train.input_scale = 1.0f;
	/* An --init file's initialiser is unknown: its own values, shuffled,
	 * have its distribution. */
	c.lo.control_shuffle = c.init_path != NULL;
	if (nnp_lottery_check_opts(&c.lo, &err)) {
		rc = cli_usage_error(&p, "%s", err.msg);
		goto done;
	}
	const char *inputs[] = { c.data_path, c.tc.data.opts.labels_path, c.tc.val,
		                 c.tc.val_labels, c.init_path };
	c.inputs = inputs;
	c.n_inputs = sizeof inputs / sizeof inputs[0];
	if (run(&c, init, &lock, &lt, &err))
		goto fail;
	json = report_json(&c, lt, init);
	if (!json) {
		nnp_err_set(&err, NNP_ENOMEM, "out of memory");
		goto fail;
	}
	if (write_reports(&c, lt, json, init, &err))
		goto fail;
	if (c.json) {
		rc = cli_json_print(json);
		json = NULL;
	} else if (!c.tc.quiet) {
		printf("report written to %s/report.md, report.json and report.svg\n", c.tc.out);
	}
	goto done;
fail:
	rc = cli_fail(&err);
done:
	cJSON_Delete(json);
	if (c.files)
		for (size_t i = 0; i <= c.lo.rounds; i++)
			free(c.files[i]);
	free(c.files);
	nnp_lottery_free(lt);
	nnp_dir_unlock(lock);
	nnp_model_free(init);
	cli_done(&p);
	return rc;
}
