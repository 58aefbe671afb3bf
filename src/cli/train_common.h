/*
 * nnprune command line: the options and helpers `train`, `finetune` and
 * `lottery` share (cmd_train.c, cmd_lottery.c).
 */
#ifndef NNP_CLI_TRAIN_COMMON_H
#define NNP_CLI_TRAIN_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>
#include "cli.h"
#include "nnprune/criteria.h"
#include "nnprune/train.h"

enum {
	T_OUT = 1, T_LAYERS, T_ACT, T_OUTPUT, T_OPT, T_EPOCHS, T_BATCH, T_LR, T_MOMENTUM, T_WD,
	T_SEED, T_VAL, T_VAL_LABELS, T_SCALE, T_NAME, T_CLASSES, T_QUIET, T_NO_SHUFFLE, T_HELP,
	T_LR_SCHEDULE, T_SAVE_INIT, T_DISTILL, T_TEACHER, T_SPARSITY, T_STEPS, T_SCOPE,
	T_TRAIN_LAST  /* commands number their own options from here */
};

typedef struct train_cfg {
	cli_data data;
	const char *out, *layers, *val, *val_labels, *name, *classes;
	const char *save_init, *teacher; /* train --save-init; finetune --teacher */
	int distill;                     /* finetune --distill given */
	nnp_act act, out_act;
	nnp_train_opts t;
	int lr_set, scale_set, quiet;
	double sparsity;                 /* finetune --sparsity: 0 = none */
	size_t steps;                    /* finetune --steps (gradual schedule) */
	nnp_mag_scope scope;             /* finetune --scope */
} train_cfg;

#define TRAIN_COMMON_OPTIONS                                                                   \
	{ "output", 'o', 1, T_OUT }, { "optimizer", 0, 1, T_OPT }, { "epochs", 'e', 1, T_EPOCHS }, \
	{ "batch", 'b', 1, T_BATCH }, { "lr", 0, 1, T_LR }, { "momentum", 0, 1, T_MOMENTUM },     \
	{ "weight-decay", 0, 1, T_WD }, { "seed", 0, 1, T_SEED }, { "val", 0, 1, T_VAL },         \
	{ "val-labels", 0, 1, T_VAL_LABELS }, { "input-scale", 0, 1, T_SCALE },                 \
	{ "quiet", 'q', 0, T_QUIET }, { "no-shuffle", 0, 0, T_NO_SHUFFLE },                     \
	{ "lr-schedule", 0, 1, T_LR_SCHEDULE },                                                   \
	{ "help", 'h', 0, T_HELP }, CLI_DATA_OPTIONS_LABELLED

#define TRAIN_COMMON_HELP_BASE                                                                 \
	"  -o, --output FILE     where the model goes (format from the extension: .json or\n"  \
	"                        binary)\n"                                                    \
	"  --optimizer adam|sgd  Adam, or SGD with momentum (default adam)\n"                  \
	"  -b, --batch N         rows per step (default 64)\n"                                 \
	"  --momentum X          SGD momentum (default 0.9)\n"                                 \
	"  --weight-decay X      L2 penalty on the weights (default 0)\n"                      \
	"  --val DATA            report validation accuracy and loss after each epoch\n"       \
	"  --val-labels FILE     IDX labels for --val\n"                                       \
	"  --input-scale X       train on input * X (e.g. 1/255). train records it as the\n"   \
	"                        model's input preprocessing; finetune folds it into layer 0\n" \
	"                        of a model without preprocessing. Either way the model\n"   \
	"                        takes the data's raw values\n"                               \
	"  --no-shuffle          keep the file's row order\n"
#define TRAIN_LR_SCHEDULE_HELP(dflt)                                                           \
	"  --lr-schedule S       constant, or cosine: decayed every step from --lr towards 0\n" \
	"                        over the run (default " dflt ")\n"
#define TRAIN_QUIET_HELP "  -q, --quiet           no per-epoch lines\n"
#define TRAIN_COMMON_HELP \
	TRAIN_COMMON_HELP_BASE TRAIN_LR_SCHEDULE_HELP("constant") TRAIN_QUIET_HELP

/* c zeroed, the data options' defaults, the training options *t (NULL:
 * NNP_TRAIN_OPTS_INIT). */
void cli_train_cfg_init(train_cfg *c, const nnp_train_opts *t);
/* "1/255", "0.00392", "1e-3" for --input-scale. -1 after a usage error. */
int cli_train_parse_scale(const cli_parser *p, const char *text, float *out);
/* One of TRAIN_COMMON_OPTIONS (or the data options). -1 after a usage error. */
int cli_train_option(cli_parser *p, train_cfg *c, int id, const char *arg);
/* Per-epoch line on stdout and progress on a terminal's stderr; ctx is the train_cfg. */
int cli_train_on_epoch(const nnp_epoch_info *e, void *ctx);
void cli_train_on_progress(size_t epoch, uint64_t done, uint64_t total, void *ctx);
/* Loads the training data and (with --val) the validation data for model m. */
int cli_train_load_sets(train_cfg *c, const nnp_model *m, const char *train_path,
                        nnp_dataset **train, nnp_dataset **val, nnp_err *err);
/* A provenance object naming this tool and the operation; NULL when out of memory. */
cJSON *cli_train_prov(const char *operation);
/* The training options and figures a provenance records. */
void cli_train_add_fields(cJSON *o, const train_cfg *c, const char *data,
                          const nnp_train_report *rep);
/* NNP_EOUTPUT when out names one of the inputs (NULL entries skipped). */
int cli_train_check_not_input(const char *out, const char *const *inputs, size_t n_inputs,
                              nnp_err *err);
/* Sets prov as m's provenance and writes m to out (.json: JSON, else binary). */
int cli_train_save(nnp_model *m, cJSON *prov, const char *out, const char *const *inputs,
                   size_t n_inputs, nnp_err *err);
/* --layers "784,300,10" into sizes[*n] (at least two). -1 after a usage error. */
int cli_train_parse_layers(const cli_parser *p, const char *text, size_t *sizes, size_t *n);

#endif
