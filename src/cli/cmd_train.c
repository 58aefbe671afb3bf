/* nnprune train and nnprune finetune: fit a dense network on labelled data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cJSON.h>

#include "cli.h"
#include "cli_model.h"
#include "finetune.h"
#include "train_common.h"
#include "nnprune/gradual.h"
#include "nnprune/io.h"
#include "nnprune/model.h"
#include "nnprune/train.h"

static const char *const fashion_classes[] = { "T-shirt/top", "Trouser", "Pullover", "Dress",
	                                        "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
	                                        "Ankle boot" };


/* Checks the output, loads the data and trains *m in place: what train and
 * finetune share once the model is ready. With finetune --sparsity, *m is
 * replaced by its magnitude-pruned copy fine-tuned on the cubic schedule. */
static int fit_sets(train_cfg *c, nnp_model **m, const nnp_dataset *train,
                    const nnp_dataset *val, nnp_train_report *rep, nnp_err *err);

static int fit(train_cfg *c, nnp_model **m, const char *train_path, const char *const *inputs,
               size_t n_inputs, nnp_train_report *rep, nnp_err *err)
{
	nnp_dataset *train = NULL, *val = NULL;
	int rc = cli_check_output(c->out, err);
	if (!rc)
		rc = cli_train_check_not_input(c->out, inputs, n_inputs, err);
	if (!rc)
		rc = cli_train_load_sets(c, *m, train_path, &train, &val, err);
	if (!rc)
		rc = fit_sets(c, m, train, val, rep, err);
	nnp_dataset_free(train);
	nnp_dataset_free(val);
	return rc;
}

static int fit_sets(train_cfg *c, nnp_model **m, const nnp_dataset *train,
                    const nnp_dataset *val, nnp_train_report *rep, nnp_err *err)
{
	int rc;
	c->t.on_epoch = cli_train_on_epoch;
	c->t.on_progress = cli_train_on_progress;
	c->t.ctx = c;
	if (!(c->sparsity > 0))
		return nnp_train(*m, train, val, &c->t, rep, err);
	nnp_gradual_opts g;
	memset(&g, 0, sizeof g);
	g.train = c->t;
	g.train.model_takes_raw = 0;
	g.steps = c->steps;
	g.scope = c->scope;
	size_t W = nnp_model_macs(*m);
	g.target = W - (size_t)llround(c->sparsity * (double)W);
	nnp_model *out = NULL;
	nnp_gradual_report gr;
	if ((rc = nnp_gradual_run(&out, *m, train, val, &g, &gr, err)) != 0)
		return rc;
	for (size_t s = 0; s < gr.n && !c->quiet; s++) {
		printf("step %zu/%zu: %zu of %zu weights kept (%.2f%%)", gr.s[s].step, gr.n,
		       gr.s[s].weights, W, 100.0 * (double)gr.s[s].weights / (double)W);
		if (val)
			printf(", val accuracy %.2f%%", 100.0 * gr.s[s].accuracy);
		printf("\n");
	}
	*rep = gr.last;
	free(gr.s);
	nnp_model_free(*m);
	*m = out;
	return NNP_OK;
}

/* --lr's default (lr, unless given), the threads, then the training options'
 * checks; -1 after a usage error. */
static int settle_train_opts(const cli_parser *p, train_cfg *c, float lr, nnp_err *err)
{
	if (!c->lr_set)
		c->t.lr = lr;
	c->t.threads = c->data.threads;
	if (nnp_train_check_opts(&c->t, err))
		return cli_usage_error(p, "%s", err->msg), -1;
	return 0;
}

/* Writes m with provenance prov (freed here) to -o and, unless --quiet, says so. */
static int save_written(const train_cfg *c, nnp_model *m, cJSON *prov, const char *const *inputs,
                        size_t n_inputs, const nnp_train_report *rep, nnp_err *err)
{
	int rc = cli_train_save(m, prov, c->out, inputs, n_inputs, err);
	cJSON_Delete(prov);
	if (rc)
		return -1;
	if (!c->quiet)
		printf("model written to %s (%zu parameters, %.1f s)\n", c->out,
		       nnp_model_params(m), rep->seconds);
	return 0;
}

/* train's model written with its provenance: the layers, the activation
 * and the training (inputs: the 4 input files). */
static int save_trained(const train_cfg *c, nnp_model *m, const char *data,
                        const char *const *inputs, const nnp_train_report *rep, nnp_err *err)
{
	cJSON *prov = cli_train_prov("train");
	cJSON_AddStringToObject(prov, "layers", c->layers);
	cJSON_AddStringToObject(prov, "activation", nnp_act_name(c->act));
	cli_train_add_fields(prov, c, data, rep);
	return save_written(c, m, prov, inputs, 4, rep, err);
}

/* finetune's model written with its provenance: the source MODEL (ops[0],
 * its CRC-32 crc), the training on ops[1], and MODEL's own provenance as
 * "previous" (inputs: the 6 input files). */
static int save_finetuned(const train_cfg *c, nnp_model *m, const char *const *ops,
                          uint32_t crc, const char *const *inputs, const nnp_train_report *rep,
                          nnp_err *err)
{
	char hex[9];
	snprintf(hex, sizeof hex, "%08x", (unsigned)crc);
	cJSON *prov = cli_train_prov("finetune");
	cJSON *source = cJSON_AddObjectToObject(prov, "source");
	cJSON_AddStringToObject(source, "path", ops[0]);
	cJSON_AddStringToObject(source, "crc32", hex);
	cli_train_add_fields(prov, c, ops[1], rep);
	if (m->provenance) {
		cJSON *prev = cJSON_Parse(m->provenance);
		if (prev)
			cJSON_AddItemToObject(prov, "previous", prev);
	}
	return save_written(c, m, prov, inputs, 6, rep, err);
}

/* Writes the initial model with the input preprocessing the trained model
 * records, so that it maps raw inputs like the trained model it is paired with. */
static int save_init(const train_cfg *c, const nnp_model *m, const char *const *inputs,
                     size_t n_inputs, nnp_err *err)
{
	if (nnp_same_file(c->save_init, c->out) || !strcmp(c->save_init, c->out))
		return nnp_err_set(err, NNP_EUSAGE, "--save-init %s: the same file as -o",
		                   c->save_init);
	nnp_model *init = NULL;
	int rc = cli_check_output(c->save_init, err);
	if (!rc)
		rc = nnp_model_clone(&init, m, err);
	if (rc)
		return rc;
	cJSON *prov = cli_train_prov("init");
	cJSON_AddStringToObject(prov, "layers", c->layers);
	cJSON_AddNumberToObject(prov, "seed", (double)c->t.seed);
	rc = cli_train_save(init, prov, c->save_init, inputs, n_inputs, err);
	cJSON_Delete(prov);
	nnp_model_free(init);
	return rc;
}

static const char train_usage[] =
	"nnprune train TRAIN_DATA -o MODEL --layers 784,300,150,10 [options]";

static void train_help(void)
{
	printf("usage: %s\n\nTrains a dense network: hidden layers with --activation, the\n"
	       "output softmax with cross-entropy (or linear with mean squared error\n"
	       "against the one-hot label). He/Xavier initialisation, minibatch Adam or\n"
	       "SGD. The same seed and thread count give a bit-identical model.\n\n"
	       "  -l, --layers LIST     sizes from input to output, e.g. 784,300,150,10\n"
	       "  -a, --activation A    hidden activation: relu, leaky_relu, sigmoid, tanh,\n"
	       "                        linear (default relu)\n"
	       "  --output-act A        softmax or linear (default softmax)\n"
	       "  --name NAME           the model's name in its metadata\n"
	       "  --classes LIST        class names, comma-separated, or fashion-mnist\n"
	       "  -e, --epochs N        passes over the data (default 10)\n"
	       "  --lr X                learning rate (default 0.001 for adam, 0.01 for sgd)\n"
	       "  --seed N              initialisation and shuffling seed (default 0)\n"
	       "  --save-init FILE      also write the initial (random) model, before\n"
	       "                        training, with the trained model's input\n"
	       "                        preprocessing: what a lottery ticket rewinds to\n"
	       TRAIN_COMMON_HELP "\n%s", train_usage, CLI_DATA_HELP_LABELLED);
}

static int train_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	train_cfg *c = ctx;
	switch (id) {
	case T_LAYERS: c->layers = arg; break;
	case T_ACT:
		if (nnp_act_parse(arg, &c->act) || c->act == NNP_ACT_SOFTMAX)
			return cli_usage_error(p, "--activation: '%s' is not a hidden activation", arg), -1;
		break;
	case T_OUTPUT:
		if (nnp_act_parse(arg, &c->out_act) ||
		    (c->out_act != NNP_ACT_SOFTMAX && c->out_act != NNP_ACT_LINEAR))
			return cli_usage_error(p, "--output-act: '%s' is not softmax or linear", arg), -1;
		break;
	case T_NAME: c->name = arg; break;
	case T_CLASSES: c->classes = arg; break;
	case T_SAVE_INIT: c->save_init = arg; break;
	default: return cli_train_option(p, c, id, arg);
	}
	return 0;
}

int cmd_train(int argc, char **argv, cli_probe *probe)
{
	static const cli_opt opts[] = { TRAIN_COMMON_OPTIONS, { "layers", 'l', 1, T_LAYERS },
		                        { "activation", 'a', 1, T_ACT }, { "output-act", 0, 1, T_OUTPUT },
		                        { "name", 0, 1, T_NAME }, { "classes", 0, 1, T_CLASSES },
		                        { "save-init", 0, 1, T_SAVE_INIT }, { NULL, 0, 0, 0 } };
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "train", train_usage, probe))
		return NNP_EXIT_INPUT;
	train_cfg c;
	cli_train_cfg_init(&c, NULL);
	c.act = NNP_ACT_RELU;
	c.out_act = NNP_ACT_SOFTMAX;
	int rc = NNP_EXIT_OK;
	nnp_err err;
	nnp_err_clear(&err);
	nnp_model *m = NULL;
	if (cli_parse_cmd(&p, T_HELP, train_help, train_opt, &c, 1, "one TRAIN_DATA", &rc))
		goto done;
	if (!c.out || !c.layers) {
		rc = cli_usage_error(&p, "%s is required", !c.out ? "-o MODEL" : "--layers");
		goto done;
	}
	size_t sizes[NNP_MAX_LAYERS + 1], n_sizes;
	nnp_act acts[NNP_MAX_LAYERS];
	if (cli_train_parse_layers(&p, c.layers, sizes, &n_sizes)) {
		rc = NNP_EXIT_USAGE;
		goto done;
	}
	if (settle_train_opts(&p, &c, nnp_train_default_lr(c.t.optimizer), &err)) {
		rc = NNP_EXIT_USAGE;
		goto done;
	}
	for (size_t l = 0; l + 1 < n_sizes; l++)
		acts[l] = l + 2 == n_sizes ? c.out_act : c.act;
	if (nnp_model_create(&m, sizes[0], n_sizes - 1, sizes + 1, acts, &err))
		goto fail;
	if (c.name && nnp_model_set_name(m, c.name, &err))
		goto fail;
	if (c.classes) {
		size_t k = nnp_model_outputs(m);
		if (!strcmp(c.classes, "fashion-mnist")) {
			if (k != 10) {
				rc = cli_usage_error(&p, "--classes fashion-mnist needs 10 outputs, not %zu", k);
				goto done;
			}
			if (nnp_model_set_classes(m, fashion_classes, 10, &err))
				goto fail;
		} else {
			char *copy = strdup(c.classes);
			const char **names = calloc(k + 1, sizeof *names);
			size_t n = 0;
			for (char *tok = copy ? strtok(copy, ",") : NULL; tok && n <= k; tok = strtok(NULL, ","))
				names[n++] = tok;
			int bad = !copy || !names || n != k;
			int set_rc = bad ? 0 : nnp_model_set_classes(m, names, n, &err);
			free(names);
			free(copy);
			if (bad) {
				rc = cli_usage_error(&p, "--classes: needs %zu comma-separated names", k);
				goto done;
			}
			if (set_rc)
				goto fail;
		}
	}
	nnp_model_init_random(m, c.t.seed);
	/* The scale becomes the model's input preprocessing, applied by every command. */
	if (c.scale_set) {
		float s = c.t.input_scale;
		if (nnp_model_set_prep(m, NULL, 0, &s, 1, &err))
			goto fail;
		c.t.input_scale = 1.0f;
	}
	const char *inputs[] = { p.operands[0], c.data.opts.labels_path, c.val, c.val_labels };
	if (c.save_init && save_init(&c, m, inputs, 4, &err))
		goto fail;
	nnp_train_report rep;
	if (fit(&c, &m, p.operands[0], inputs, 4, &rep, &err) ||
	    save_trained(&c, m, p.operands[0], inputs, &rep, &err))
		goto fail;
	goto done;
fail:
	rc = cli_fail(&err);
done:
	nnp_model_free(m);
	cli_done(&p);
	return rc;
}

static const char finetune_usage[] = "nnprune finetune MODEL TRAIN_DATA -o OUT [options]";

static void finetune_help(void)
{
	printf("usage: %s\n\nContinues training MODEL (typically a slimmed one from 'sweep')\n"
	       "with the same machinery, keeping its shape. Without --input-scale, the\n"
	       "scale recorded when the model was trained is used. The defaults are the\n"
	       "recipe that retrained pruned models best (README, Results): Adam at\n"
	       "0.001 decayed to 0 by a cosine over the run; 'prune --finetune' and\n"
	       "'sweep --finetune' train with the same.\n\n"
	       "  -e, --epochs N        passes over the data (default 1)\n"
	       "  --lr X                learning rate (default 0.001 for adam, 0.01 for sgd)\n"
	       "  --seed N              shuffling seed (default 0)\n"
	       "  --distill T,ALPHA     train against --teacher's outputs: the loss is\n"
	       "                        ALPHA*T^2*KL(teacher_T || model_T) + (1-ALPHA)*CE\n"
	       "                        with the labels, softmax at temperature T > 0,\n"
	       "                        ALPHA in [0,1] (Hinton et al.)\n"
	       "  --teacher MODEL       the model to distil from (needed by --distill)\n"
	       "  --sparsity X          zero the share X in [0, 1) of the weights by\n"
	       "                        magnitude while fine-tuning (they stay 0)\n"
	       "  --steps N             reach --sparsity in N steps on the cubic schedule\n"
	       "                        of Zhu & Gupta, step t fine-tuning on the t-th of\n"
	       "                        N parts of the rows (default 1: prune, then tune)\n"
	       "  --scope layer|global|hidden\n"
	       "                        magnitude ranked per layer (each layer keeps its\n"
	       "                        share), over the whole model, or hidden: the\n"
	       "                        output layer dense and every other layer at the\n"
	       "                        same share, --sparsity being that of all the\n"
	       "                        weights (default layer)\n"
	       "  --regrow              train the model's zero weights too (by default\n"
	       "                        they stay zero: a sparse model stays sparse)\n"
	       TRAIN_COMMON_HELP_BASE TRAIN_LR_SCHEDULE_HELP("cosine") TRAIN_QUIET_HELP
	       "\n%s\n%s", finetune_usage, CLI_DATA_HELP_LABELLED,
	       CLI_MODEL_HELP);
}

/* What finetune's options fill: the training setup and MODEL's import options. */
typedef struct ft_args {
	train_cfg *c;
	cli_model *mo;
	int regrow;                /* --regrow: train the model's zero weights too */
} ft_args;

enum { F_REGROW = T_TRAIN_LAST };

static int finetune_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	ft_args *a = ctx;
	train_cfg *c = a->c;
	double x;
	uint64_t v;
	switch (id) {
	case T_TEACHER: c->teacher = arg; break;
	case F_REGROW: a->regrow = 1; break;
	case T_SCOPE:
		if (nnp_mag_scope_parse(arg, &c->scope))
			return cli_usage_error(p, "--scope: '%s' is not layer, global or hidden", arg), -1;
		break;
	case T_STEPS:
		if (cli_size(p, "--steps", arg, 1, NNP_GRADUAL_MAX_STEPS, &v))
			return -1;
		c->steps = (size_t)v;
		break;
	case T_SPARSITY:
		if (cli_double(p, "--sparsity", arg, 0, 0.999999, &x))
			return -1;
		c->sparsity = x;
		break;
	case T_DISTILL:
		if (cli_parse_distill(p, arg, &c->t.distill_t, &c->t.distill_alpha))
			return -1;
		c->distill = 1;
		break;
	default:
		return cli_model_is_option(id) ? cli_model_option(p, a->mo, id, arg)
		                               : cli_train_option(p, c, id, arg);
	}
	return 0;
}

int cmd_finetune(int argc, char **argv, cli_probe *probe)
{
	static const cli_opt opts[] = { TRAIN_COMMON_OPTIONS, { "distill", 0, 1, T_DISTILL },
		                        { "teacher", 0, 1, T_TEACHER }, { "sparsity", 0, 1, T_SPARSITY },
		                        { "steps", 0, 1, T_STEPS }, { "scope", 0, 1, T_SCOPE },
		                        { "regrow", 0, 0, F_REGROW },
		                        CLI_MODEL_OPTIONS_BASE, { NULL, 0, 0, 0 } };
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "finetune", finetune_usage, probe))
		return NNP_EXIT_INPUT;
	cli_model mo;  /* MODEL's import options (--output-kind: -o is OUT) */
	cli_model_init(&mo);
	train_cfg c;
	cli_train_cfg_init(&c, NULL);
	c.t.epochs = CLI_FT_DEFAULT_EPOCHS;
	c.t.seed = CLI_FT_DEFAULT_SEED;
	c.t.lr_schedule = NNP_FINETUNE_LR_SCHEDULE;
	c.steps = 1;
	int rc = NNP_EXIT_OK;
	nnp_err err;
	nnp_err_clear(&err);
	nnp_model *m = NULL, *teacher = NULL;
	uint8_t **mask = NULL;
	ft_args a = { &c, &mo, 0 };
	int prc = cli_parse_opts(&p, NULL, T_HELP, finetune_help, finetune_opt, &a);
	if (prc) {
		rc = prc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
		goto done;
	}
	if (!(c.sparsity > 0) && (c.steps != 1 || c.scope != NNP_MAG_PER_LAYER)) {
		rc = cli_usage_error(&p, "--steps and --scope apply to --sparsity X");
		goto done;
	}
	if (a.regrow && c.sparsity > 0) {
		rc = cli_usage_error(&p, "--regrow: --sparsity keeps its zeros by design");
		goto done;
	}
	if (c.distill != (c.teacher != NULL)) {
		rc = cli_usage_error(&p, c.distill ? "--distill needs --teacher MODEL"
		                                   : "--teacher is only used with --distill T,ALPHA");
		goto done;
	}
	if (p.n_operands != 2) {
		rc = cli_usage_error(&p, "expected MODEL and TRAIN_DATA, got %d arguments",
		                     p.n_operands);
		goto done;
	}
	if (!c.out) {
		rc = cli_usage_error(&p, "-o OUT is required");
		goto done;
	}
	if (settle_train_opts(&p, &c, cli_finetune_default_lr(c.t.optimizer), &err)) {
		rc = NNP_EXIT_USAGE;
		goto done;
	}
	nnp_file_info fi;
	if (cli_model_load(&m, p.operands[0], &mo, &fi, &err))
		goto fail;
	if (c.scale_set && nnp_model_has_prep(m)) {
		rc = cli_usage_error(&p, "--input-scale: %s carries its input preprocessing already "
		                     "(the option is for models without it)", p.operands[0]);
		goto done;
	}
	if (!c.scale_set)
		c.t.input_scale = cli_provenance_scale(m);
	/* Refused before the data are read: more than the layers before the
	 * output can give (the share prune --scope hidden gives each of them). */
	double hidden_share;
	if (c.scope == NNP_MAG_HIDDEN && nnp_mag_hidden_share(m, c.sparsity, &hidden_share, &err)) {
		rc = cli_usage_error(&p, "%s", err.msg);
		goto done;
	}
	c.t.model_takes_raw = 1;
	/* A sparse model (magnitude) stays sparse, as in 'prune/sweep --finetune'. */
	size_t zeros = 0;
	if (!a.regrow && !(c.sparsity > 0)) {
		if (!(mask = nnp_mask_of_zeros(m, &zeros))) {
			nnp_err_set(&err, NNP_ENOMEM, "out of memory");
			goto fail;
		}
		if (!zeros) {   /* dense: the unmasked path, as before */
			nnp_mask_free(mask, m->n_layers);
			mask = NULL;
		}
		c.t.mask = (const uint8_t *const *)mask;
		if (zeros && !c.quiet)
			fprintf(stderr, "nnprune: note: %s: its %zu zero weights (%.2f%% of %zu) stay "
			        "zero (--regrow trains them)\n", p.operands[0], zeros,
			        100.0 * (double)zeros / (double)nnp_model_macs(m), nnp_model_macs(m));
	}
	if (c.teacher) {
		if (nnp_model_load(&teacher, c.teacher, NULL, &err))
			goto fail;
		c.t.teacher = teacher;
	}
	const char *inputs[] = { p.operands[0], p.operands[1], c.data.opts.labels_path, c.val,
		                 c.val_labels, c.teacher };
	nnp_train_report rep;
	if (fit(&c, &m, p.operands[1], inputs, 6, &rep, &err) ||
	    save_finetuned(&c, m, (const char *const *)p.operands, fi.crc32, inputs, &rep, &err))
		goto fail;
	goto done;
fail:
	rc = cli_fail(&err);
done:
	nnp_mask_free(mask, m ? m->n_layers : 0);
	nnp_model_free(teacher);
	nnp_model_free(m);
	cli_model_free(&mo);
	cli_done(&p);
	return rc;
}
