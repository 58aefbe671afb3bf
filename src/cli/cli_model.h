/*
 * The model import options shared by every command that takes a model: add
 * CLI_MODEL_OPTIONS to the option table, CLI_MODEL_HELP to the help, pass
 * unknown option ids to cli_model_option, and load with cli_model_load
 * instead of nnp_model_load.
 */
#ifndef NNP_CLI_MODEL_H
#define NNP_CLI_MODEL_H
#include "cli.h"

typedef struct cli_model {
	nnp_import_opts io;
	float *offset, *scale;   /* owned: parsed --input-offset / --input-scale */
} cli_model;

enum {
	CLI_MODEL_ACTS = 1100, CLI_MODEL_HIDDEN, CLI_MODEL_OUTPUT, CLI_MODEL_LAYOUT,
	CLI_MODEL_SCALE, CLI_MODEL_OFFSET, CLI_MODEL_INT8
};

/* --output KIND is also --output-kind: the name on commands whose -o/--output
 * is their output file (stats, prune, finetune), which take
 * CLI_MODEL_OPTIONS_NO_OUTPUT; finetune, whose --input-scale is training's,
 * takes CLI_MODEL_OPTIONS_BASE. */
#define CLI_MODEL_OPTIONS_BASE \
	{ "activations", 0, 1, CLI_MODEL_ACTS }, { "hidden", 0, 1, CLI_MODEL_HIDDEN }, \
	{ "output-kind", 0, 1, CLI_MODEL_OUTPUT }, { "layout", 0, 1, CLI_MODEL_LAYOUT }, \
	{ "input-offset", 0, 1, CLI_MODEL_OFFSET }, { "int8", 0, 0, CLI_MODEL_INT8 }
#define CLI_MODEL_OPTIONS_NO_OUTPUT \
	CLI_MODEL_OPTIONS_BASE, { "input-scale", 0, 1, CLI_MODEL_SCALE }
#define CLI_MODEL_OPTIONS CLI_MODEL_OPTIONS_NO_OUTPUT, { "output", 0, 1, CLI_MODEL_OUTPUT }

#define CLI_MODEL_HELP \
	"Model options (safetensors, .npz/.npy and the header recognised by content, ONNX\n" \
	"by its .onnx extension; the activations of weights-only files):\n" \
	"  --activations LIST   one per layer: linear, relu, leaky_relu[=slope], sigmoid,\n" \
	"                       tanh, softmax, logits (\"relu,relu,logits\")\n" \
	"  --hidden ACT         hidden layers' activation when LIST is not given (default relu)\n" \
	"  --output-kind KIND   logits, softmax, sigmoid or linear (default logits); also\n" \
	"                       --output KIND where -o/--output is not the output file\n" \
	"  --layout out-in|in-out  weight layout: [out][in] as PyTorch (default for\n" \
	"                       names), [in][out] as Keras; required for arr_0, arr_1, ...\n" \
	"  --input-scale X, --input-offset X  preprocessing x' = (x - offset) * scale: a\n" \
	"                       number, a/b, or a .npy or CSV file of one value per input\n" \
	"                       (finetune: --input-scale is training's, see above)\n" \
	"  --int8               use the per-row int8 weights a C header with --int8 holds\n"

void cli_model_init(cli_model *c);
void cli_model_free(cli_model *c);
/* Handles a CLI_MODEL_* option: 0, or -1 after a usage error. */
int cli_model_option(cli_parser *p, cli_model *c, int id, const char *arg);
/* 1 if id is one of the CLI_MODEL_* ids. */
int cli_model_is_option(int id);
/* A CLI_MODEL_* option into mo, any other a data option into d (NULL: other
 * ids are left alone): 0, or -1 after a usage error. */
int cli_model_data_option(cli_parser *p, cli_model *mo, cli_data *d, int id, const char *arg);
/* Both groups' defaults, for the commands that read MODEL and DATA. */
void cli_model_data_init(cli_model *mo, cli_data *d);
/* --format FMT of sweep and prune: a writable format of the table, or a usage
 * error listing them (-1). */
int cli_format_option(cli_parser *p, const char *arg, nnp_format *fmt);
/* The format to write: `forced` if set, else `fallback` if writable, else binary. */
nnp_format cli_format_pick(nnp_format forced, nnp_format fallback);

/* nnp_model_load_opts with these options; prints the defaults it assumed. */
int cli_model_load(nnp_model **m, const char *path, const cli_model *c, nnp_file_info *fi,
                   nnp_err *err);

#endif
