/*
 * nnprune command line: fine-tuning after pruning. The options `prune` and
 * `sweep` share (--finetune DATA and what goes with it), declared once, and
 * the defaults `finetune` shares with them (the work itself is the library's:
 * nnprune/pipeline.h, nnprune/gradual.h).
 */
#ifndef NNP_CLI_FINETUNE_H
#define NNP_CLI_FINETUNE_H

#include "cli.h"
#include "nnprune/pipeline.h"
#include "nnprune/train.h"

#define CLI_FT_DEFAULT_EPOCHS 1
#define CLI_FT_DEFAULT_SEED 0

/* The input scale a model was trained with (nnp_provenance_scale). */
static inline float cli_provenance_scale(const nnp_model *m)
{
	return nnp_provenance_scale(m);
}

/* Fine-tuning's default learning rate (nnp_finetune_default_lr). */
static inline float cli_finetune_default_lr(nnp_optimizer o)
{
	return nnp_finetune_default_lr(o);
}

/* "T,ALPHA" (--distill): T > 0, ALPHA in [0, 1]. -1 after a usage error. */
int cli_parse_distill(const cli_parser *p, const char *text, float *t, float *alpha);

enum {
	CLI_FT_DATA = 1400, CLI_FT_LABELS, CLI_FT_EPOCHS, CLI_FT_LR, CLI_FT_SEED, CLI_FT_OPT,
	CLI_FT_LR_SCHEDULE, CLI_FT_DISTILL, CLI_FT_TEACHER, CLI_FT_BATCH, CLI_FT_SCHEDULE
};
/* The entries, placed in each command's option table. */
#define CLI_FINETUNE_OPTIONS                                                                \
	{ "finetune", 0, 1, CLI_FT_DATA }, { "finetune-labels", 0, 1, CLI_FT_LABELS },         \
	{ "finetune-epochs", 0, 1, CLI_FT_EPOCHS }, { "finetune-lr", 0, 1, CLI_FT_LR },         \
	{ "finetune-seed", 0, 1, CLI_FT_SEED }, { "optimizer", 0, 1, CLI_FT_OPT },              \
	{ "lr-schedule", 0, 1, CLI_FT_LR_SCHEDULE }, { "distill", 0, 1, CLI_FT_DISTILL },      \
	{ "teacher", 0, 1, CLI_FT_TEACHER }, { "finetune-batch", 0, 1, CLI_FT_BATCH },            \
	{ "schedule", 0, 1, CLI_FT_SCHEDULE }

typedef struct cli_finetune {
	const char *data, *labels;  /* --finetune DATA (NULL: no fine-tuning), its labels */
	const char *option;         /* the first other option given, for a usage error */
	uint64_t epochs, seed;
	uint64_t batch;             /* rows per step */
	double lr;                  /* NAN: nnp_finetune_default_lr */
	nnp_optimizer optimizer;
	nnp_lr_schedule lr_schedule;
	int distill;                /* --distill T,ALPHA given */
	float distill_t, distill_alpha;
	const char *teacher;        /* NULL: the original model */
	int gradual;                /* --schedule gradual */
} cli_finetune;

void cli_finetune_init(cli_finetune *f);
/* 1 if id is one of the CLI_FT_* options. */
int cli_finetune_is_option(int id);
/* Handles a CLI_FT_* option; 0, or -1 after a usage error. */
int cli_finetune_arg(const cli_parser *p, cli_finetune *f, int id, const char *arg);
/* The cross-checks (every option needs --finetune, --teacher needs --distill,
 * the gradual schedule a budget method); -1 after a usage error. */
int cli_finetune_check(const cli_parser *p, const cli_finetune *f, nnp_method method);
/* The training options: one thread per model (results do not depend on -j),
 * the teacher (borrowed) when distilling. NNP_EUSAGE in err when invalid. */
int cli_finetune_train_opts(const cli_finetune *f, const nnp_model *teacher, nnp_train_opts *t,
                            nnp_err *err);
/* The model to distil from: --teacher's (loaded into *owned), else the original. */
int cli_finetune_teacher(const cli_finetune *f, const nnp_model *original, nnp_model **owned,
                         const nnp_model **teacher, nnp_err *err);
/* The options' help lines (the heading is the command's). */
void cli_finetune_help(void);

#endif
