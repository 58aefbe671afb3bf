/*
 * Fine-tuning options `prune` and `sweep` share (src/cli/finetune.h), and
 * --distill's parsing, shared with `finetune`.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "finetune.h"
#include "nnprune/criteria.h"
#include "nnprune/gradual.h"
#include "nnprune/method.h"
#include "nnprune/model.h"

int cli_parse_distill(const cli_parser *p, const char *text, float *t, float *alpha)
{
	const char *comma = strchr(text, ',');
	char num[64];
	double T, a;
	size_t n = comma ? (size_t)(comma - text) : 0;
	if (!comma || n == 0 || n >= sizeof num || strchr(comma + 1, ','))
		return cli_usage_error(p, "--distill: '%s' is not T,ALPHA (e.g. 2,0.5)", text), -1;
	memcpy(num, text, n);
	num[n] = '\0';
	if (cli_double(p, "--distill T", num, 0, 1e6, &T) ||
	    cli_double(p, "--distill ALPHA", comma + 1, 0, 1, &a))
		return -1;
	if (!(T > 0))
		return cli_usage_error(p, "--distill: the temperature must be > 0 (got %s)", num), -1;
	*t = (float)T;
	*alpha = (float)a;
	return 0;
}

void cli_finetune_init(cli_finetune *f)
{
	memset(f, 0, sizeof *f);
	f->epochs = CLI_FT_DEFAULT_EPOCHS;
	f->seed = CLI_FT_DEFAULT_SEED;
	f->lr = NAN;
	const nnp_train_opts t0 = NNP_TRAIN_OPTS_INIT;
	f->batch = t0.batch;
	f->optimizer = NNP_OPT_ADAM;
	f->lr_schedule = NNP_FINETUNE_LR_SCHEDULE;
}

int cli_finetune_is_option(int id)
{
	return id >= CLI_FT_DATA && id <= CLI_FT_SCHEDULE;
}

int cli_finetune_arg(const cli_parser *p, cli_finetune *f, int id, const char *arg)
{
	static const char *const names[] = { "--finetune", "--finetune-labels", "--finetune-epochs",
		                             "--finetune-lr", "--finetune-seed", "--optimizer",
		                             "--lr-schedule", "--distill", "--teacher",
		                             "--finetune-batch", "--schedule" };
	const char *name = names[id - CLI_FT_DATA];
	if (id != CLI_FT_DATA && !f->option)
		f->option = name;
	switch (id) {
	case CLI_FT_DATA: f->data = arg; return 0;
	case CLI_FT_LABELS: f->labels = arg; return 0;
	case CLI_FT_EPOCHS: return cli_size(p, name, arg, 1, NNP_TRAIN_MAX_EPOCHS, &f->epochs);
	case CLI_FT_LR: return cli_double(p, name, arg, 1e-12, 1e3, &f->lr);
	case CLI_FT_SEED: return cli_size(p, name, arg, 0, UINT64_MAX, &f->seed);
	case CLI_FT_OPT:
		if (nnp_optimizer_parse(arg, &f->optimizer))
			return cli_usage_error(p, "--optimizer: '%s' is not adam or sgd", arg), -1;
		return 0;
	case CLI_FT_LR_SCHEDULE:
		if (nnp_lr_schedule_parse(arg, &f->lr_schedule))
			return cli_usage_error(p, "--lr-schedule: '%s' is not constant or cosine", arg),
			       -1;
		return 0;
	case CLI_FT_DISTILL:
		f->distill = 1;
		return cli_parse_distill(p, arg, &f->distill_t, &f->distill_alpha);
	case CLI_FT_TEACHER: f->teacher = arg; return 0;
	case CLI_FT_BATCH: return cli_size(p, name, arg, 1, NNP_TRAIN_MAX_BATCH, &f->batch);
	default:
		if (strcmp(arg, "oneshot") && strcmp(arg, "gradual"))
			return cli_usage_error(p, "--schedule: '%s' is not oneshot or gradual", arg), -1;
		f->gradual = !strcmp(arg, "gradual");
		if (!f->gradual && f->option == name)
			f->option = NULL;   /* the default, asked for: needs nothing */
		return 0;
	}
}

int cli_finetune_check(const cli_parser *p, const cli_finetune *f, nnp_method method)
{
	if (f->option && !f->data)
		return cli_usage_error(p, "%s needs --finetune TRAIN_DATA", f->option), -1;
	if (f->teacher && !f->distill)
		return cli_usage_error(p, "--teacher is only used with --distill T,ALPHA"), -1;
	if (f->gradual && !nnp_criterion_ranks(nnp_criterion_at((size_t)method)))
		return cli_usage_error(p, "--schedule gradual needs a method that prunes to a budget "
		                          "(not %s)", nnp_method_name(method)), -1;
	return 0;
}

int cli_finetune_train_opts(const cli_finetune *f, const nnp_model *teacher, nnp_train_opts *t,
                            nnp_err *err)
{
	const nnp_train_opts t0 = NNP_TRAIN_OPTS_INIT;
	*t = t0;
	t->optimizer = f->optimizer;
	t->epochs = (size_t)f->epochs;
	t->seed = f->seed;
	t->batch = (size_t)f->batch;
	t->lr = isnan(f->lr) ? nnp_finetune_default_lr(t->optimizer) : (float)f->lr;
	t->lr_schedule = f->lr_schedule;
	t->threads = 1;
	if (f->distill) {
		t->teacher = teacher;
		t->distill_t = f->distill_t;
		t->distill_alpha = f->distill_alpha;
	}
	return nnp_train_check_opts(t, err);
}

int cli_finetune_teacher(const cli_finetune *f, const nnp_model *original, nnp_model **owned,
                         const nnp_model **teacher, nnp_err *err)
{
	*owned = NULL;
	*teacher = original;
	if (!f->distill || !f->teacher)
		return NNP_OK;
	int rc = nnp_model_load(owned, f->teacher, NULL, err);
	if (!rc)
		*teacher = *owned;
	return rc;
}

void cli_finetune_help(void)
{
	const nnp_train_opts t0 = NNP_TRAIN_OPTS_INIT;
	printf("  --finetune DATA    fine-tune the slimmed model(s) and a copy of the original\n"
	       "                     on labelled DATA, each as 'nnprune finetune -j 1' would\n"
	       "                     (in the input scale its provenance records)\n"
	       "  --finetune-labels FILE  IDX labels for --finetune\n"
	       "  --finetune-epochs N     passes over DATA (default %d)\n"
	       "  --finetune-lr X         learning rate (default %g for adam, %g for sgd)\n"
	       "  --finetune-seed N       shuffling seed (default %d)\n"
	       "  --finetune-batch N      rows per step (default %zu)\n"
	       "  --optimizer adam|sgd    (default adam)\n"
	       "  --lr-schedule S         constant, or cosine: decayed every step towards 0 over\n"
	       "                          the run (default %s)\n"
	       "  --distill T,ALPHA       train against the teacher's outputs: ALPHA*T^2*KL at\n"
	       "                          temperature T plus (1-ALPHA)*cross-entropy\n"
	       "  --teacher MODEL         the model to distil from (default: the original)\n"
	       "  --schedule oneshot|gradual  oneshot: prune, then fine-tune (default);\n"
	       "                          gradual: prune the original to the same widths in %u\n"
	       "                          steps of the cubic schedule while fine-tuning, step t\n"
	       "                          --finetune-epochs passes over the t-th of %u parts of\n"
	       "                          DATA (as many passes as oneshot in all)\n",
	       CLI_FT_DEFAULT_EPOCHS, (double)nnp_finetune_default_lr(NNP_OPT_ADAM),
	       (double)nnp_finetune_default_lr(NNP_OPT_SGD), CLI_FT_DEFAULT_SEED, t0.batch,
	       nnp_lr_schedule_name(NNP_FINETUNE_LR_SCHEDULE), NNP_GRADUAL_STEPS,
	       NNP_GRADUAL_STEPS);
}
