/*
 * nnprune: the dense feed-forward network in memory and its two file formats.
 *
 * A model is L >= 1 dense layers. Layer l maps `in` inputs to `out` outputs:
 * y = act(W x + b), W stored row-major [out][in] (PyTorch's order), b [out].
 * Layer 0's `in` is the model's input size; layer l's `in` equals layer l-1's
 * `out`. softmax may only be the last layer's activation.
 */
#ifndef NNPRUNE_MODEL_H
#define NNPRUNE_MODEL_H

#include <stdint.h>
#include <stddef.h>
#include "nnprune/nnp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nnp_act {
	NNP_ACT_LINEAR = 0,
	NNP_ACT_RELU = 1,
	NNP_ACT_LEAKY_RELU = 2,
	NNP_ACT_SIGMOID = 3,
	NNP_ACT_TANH = 4,
	NNP_ACT_SOFTMAX = 5
} nnp_act;

#define NNP_ACT_COUNT 6
#define NNP_LEAKY_DEFAULT_ALPHA 0.01f

/* Limits checked before any allocation, so hostile files cannot exhaust memory. */
#define NNP_MAX_LAYERS 1024u
#define NNP_MAX_WIDTH (1u << 24)            /* inputs or outputs of one layer */
#define NNP_MAX_PARAMS ((size_t)1 << 30)     /* all weights and biases: 4 GiB */
#define NNP_MAX_META_BYTES (16u << 20)       /* metadata JSON blob */

/* "relu", "leaky_relu", ...; NULL for an unknown value. */
const char *nnp_act_name(nnp_act a);
/* Parses an activation name; 0 on success, -1 if unknown. */
int nnp_act_parse(const char *name, nnp_act *out);

typedef struct nnp_layer {
	size_t in, out;
	nnp_act act;
	float alpha;  /* leaky_relu slope; 0 for the other activations */
	float *w;     /* [out][in], owned by the model */
	float *b;     /* [out], owned by the model */
} nnp_layer;

typedef struct nnp_model {
	size_t input_size;
	size_t n_layers;
	nnp_layer *layers;
	char *name;         /* optional, NULL if absent; owned */
	char **classes;     /* optional: n_classes names (= output size), owned */
	size_t n_classes;
	char *provenance;   /* optional JSON text of an object, NULL if absent; owned */
} nnp_model;

typedef enum nnp_format { NNP_FMT_JSON = 1, NNP_FMT_BIN = 2 } nnp_format;

/* "json" or "bin". */
const char *nnp_format_name(nnp_format f);

/* What nnp_model_load learnt about the file it read. */
typedef struct nnp_file_info {
	nnp_format format;
	uint64_t bytes;
	uint32_t crc32;   /* zlib CRC-32: of the whole file for JSON; for a binary model
	                   * the CRC stored in its last 4 bytes, i.e. of all bytes before it
	                   * (the CRC of a whole binary file would be the same constant for
	                   * every file, since it ends with its own CRC) */
} nnp_file_info;

/*
 * Creates a model with zeroed weights and biases. sizes[l] is layer l's output
 * count, acts[l] its activation (leaky_relu gets NNP_LEAKY_DEFAULT_ALPHA).
 * The caller owns *out and frees it with nnp_model_free.
 * Errors: NNP_EUSAGE (limits, chaining, softmax not last), NNP_ENOMEM.
 */
int nnp_model_create(nnp_model **out, size_t input_size, size_t n_layers,
                     const size_t *sizes, const nnp_act *acts, nnp_err *err);

/* Frees a model and everything it owns. NULL is allowed. */
void nnp_model_free(nnp_model *m);

/* Deep copy, metadata included. The caller owns *out. */
int nnp_model_clone(nnp_model **out, const nnp_model *m, nnp_err *err);

/* Replace metadata (copies the strings; NULL clears). provenance must be a JSON object text. */
int nnp_model_set_name(nnp_model *m, const char *name, nnp_err *err);
int nnp_model_set_provenance(nnp_model *m, const char *json_object, nnp_err *err);
int nnp_model_set_classes(nnp_model *m, const char *const *names, size_t n, nnp_err *err);

/*
 * Checks the invariants a loaded model must meet: limits, sizes that chain,
 * softmax only last, finite weights, biases and alpha. `label` (usually the
 * file name) starts the message: "label: layer 2: bias[7] is NaN".
 */
int nnp_model_validate(const nnp_model *m, const char *label, nnp_err *err);

/* Weights + biases of all layers. */
size_t nnp_model_params(const nnp_model *m);
/* Multiply-adds for one input row: sum of in*out. */
size_t nnp_model_macs(const nnp_model *m);
/* Output size of the last layer. */
size_t nnp_model_outputs(const nnp_model *m);
/* Largest layer width (input included): the scratch a forward pass needs per row. */
size_t nnp_model_max_width(const nnp_model *m);

/*
 * Weights that are not zero (either sign), biases not counted: what is left
 * after unstructured pruning, shown beside nnp_model_params.
 */
size_t nnp_model_nonzeros(const nnp_model *m);
size_t nnp_layer_nonzeros(const nnp_layer *L);

/*
 * The exact number of bytes nnp_model_save would write for m in format fmt
 * (each layer dense or sparse, whichever the format picks). m must be valid.
 * Errors: NNP_EUSAGE (unknown format).
 */
int nnp_model_file_size(const nnp_model *m, nnp_format fmt, uint64_t *bytes, nnp_err *err);

/*
 * Loads a model from a file, recognising the format by its content (never by
 * the extension). Validates it fully. info may be NULL. The caller owns *out.
 * Errors: NNP_EINPUT with "path: place: what" (byte offset for binary files,
 * line:column for JSON syntax, layer N for semantic errors), NNP_ENOMEM.
 */
int nnp_model_load(nnp_model **out, const char *path, nnp_file_info *info, nnp_err *err);

/*
 * The identity nnp_model_load would report for a model file (format, size and
 * CRC-32 as nnp_file_info documents) without parsing it: a binary model's
 * stored CRC is read from its last 4 bytes, a JSON file's is computed.
 * Errors: NNP_EINPUT (unreadable, or neither format's first bytes).
 */
int nnp_model_identity(const char *path, nnp_file_info *info, nnp_err *err);

/* Parses a model from a JSON text in memory; `label` names it in messages. */
int nnp_model_from_json(nnp_model **out, const char *text, size_t len,
                        const char *label, nnp_err *err);

/* Parses a model from binary-format bytes in memory; `label` names it in messages. */
int nnp_model_from_bin(nnp_model **out, const unsigned char *buf, size_t len,
                       const char *label, nnp_err *err);

/*
 * Writes a model atomically (temporary file + rename) in the given format.
 * JSON floats are printed with %.9g so they read back bit-identical.
 * Errors: NNP_EOUTPUT (with the path and reason), NNP_ENOMEM.
 */
int nnp_model_save(const nnp_model *m, const char *path, nnp_format fmt, nnp_err *err);

/*
 * Serialises a model to a malloc'd buffer (owned by the caller) in the given
 * format; used by save and by tests that compare bytes.
 */
int nnp_model_to_buffer(const nnp_model *m, nnp_format fmt, unsigned char **buf,
                        size_t *len, nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
