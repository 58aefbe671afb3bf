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
	/* Layer 0 only: the model's input preprocessing x' = (x - offset) * scale,
	 * applied by nnp_dense before the product. Each NULL (offset 0, scale 1)
	 * or [in] floats owned by the model. Set through nnp_model_set_prep; they
	 * sit on layer 0 so that every pass that starts from raw rows applies them,
	 * and pruning (which never removes inputs) leaves them as they are. */
	float *pre_offset;
	float *pre_scale;
} nnp_layer;

typedef struct nnp_model {
	size_t input_size;
	size_t n_layers;
	nnp_layer *layers;
	char *name;         /* optional, NULL if absent; owned */
	char **classes;     /* optional: n_classes names (= output size), owned */
	size_t n_classes;
	char *provenance;   /* optional JSON text of an object, NULL if absent; owned */
	int logits;         /* 1: the last layer is linear and its outputs are class
	                     * logits, scored with softmax cross-entropy and argmax
	                     * (PyTorch's CrossEntropyLoss); see nnp_model_logits */
} nnp_model;

/* File formats: nnprune's own two, and the interchange formats (one row each
 * in the format table, src/model/model_formats.c). */
typedef enum nnp_format {
	NNP_FMT_JSON = 1,
	NNP_FMT_BIN = 2,
	NNP_FMT_SAFETENSORS = 3,  /* read and write */
	NNP_FMT_NPZ = 4,          /* read and write (NumPy .npz: a zip of .npy arrays) */
	NNP_FMT_NPY = 5,          /* read only: one .npy array (a one-layer model) */
	NNP_FMT_ONNX = 6,         /* read and write */
	NNP_FMT_C = 7             /* write only: a C99 header for microcontrollers */
} nnp_format;
#define NNP_FMT_MAX 7

/* "json", "bin", "safetensors", "npz", "npy", "onnx", "h"; NULL if unknown. */
const char *nnp_format_name(nnp_format f);
/* The format of a name ("onnx") or of a path's extension ("x.onnx"); 0 if none. */
nnp_format nnp_format_parse(const char *name);
nnp_format nnp_format_of_path(const char *path);
/* "json, bin, safetensors, npz, onnx, h": the formats that can be written. */
const char *nnp_format_list_writable(void);
/* 1 if nnp_model_save can write format f (a row of the table with a writer). */
int nnp_format_writable(nnp_format f);

/* How to read a weights-only file (safetensors, npz, npy, ONNX) into a model. */
typedef enum nnp_layout { NNP_LAYOUT_AUTO = 0, NNP_LAYOUT_OUT_IN, NNP_LAYOUT_IN_OUT } nnp_layout;
typedef struct nnp_import_opts {
	/* Activations, one per layer ("relu,relu,softmax"; "leaky_relu=0.2" sets
	 * the slope; "logits" = a linear last layer read as class logits), or
	 * NULL. Without them: the file's own (nnprune metadata, the ONNX graph),
	 * else `hidden` for hidden layers (NULL: relu) and `output` for the last
	 * one (NULL: logits), and info->acts_assumed is set. */
	const char *activations;
	const char *hidden;
	const char *output;        /* logits, softmax, sigmoid, linear */
	nnp_layout layout;         /* weight layout: [out][in] (PyTorch) or [in][out] (Keras) */
	/* Input preprocessing to set (overrides the file's): 0, 1 or input-size values. */
	const float *input_offset;
	size_t n_input_offset;
	const float *input_scale;
	size_t n_input_scale;
	int int8;                  /* 1: replace weights by their per-row int8 quantisation
	                            * (what a C header written with int8 computes) */
} nnp_import_opts;

/* Export options for nnp_model_save_opts. */
typedef struct nnp_export_opts {
	int int8;              /* C header: per-row symmetric int8 weights, float scales */
	const char *prefix;    /* C header: identifier prefix (NULL: "nnp_model") */
} nnp_export_opts;

/* What nnp_model_load learnt about the file it read. */
typedef struct nnp_file_info {
	nnp_format format;
	uint64_t bytes;
	uint32_t crc32;   /* zlib CRC-32: of the whole file for JSON; for a binary model
	                   * the CRC stored in its last 4 bytes, i.e. of all bytes before it
	                   * (the CRC of a whole binary file would be the same constant for
	                   * every file, since it ends with its own CRC) */
	int acts_assumed; /* the activations were neither in the file nor given:
	                   * defaults used (see nnp_import_opts) */
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
 * Sets the input preprocessing x' = (x - offset) * scale. offset and scale are
 * each NULL (none), one value (n = 1, every feature) or input_size values
 * (n = input_size); values must be finite. NNP_EUSAGE with a message otherwise.
 */
int nnp_model_set_prep(nnp_model *m, const float *offset, size_t n_offset,
                       const float *scale, size_t n_scale, nnp_err *err);
/* 1 if the model has input preprocessing. */
int nnp_model_has_prep(const nnp_model *m);

/*
 * 1 if the outputs are read as class logits: the last layer is linear and
 * either m->logits is set or the model has class names. Such outputs are
 * scored with softmax cross-entropy and argmax.
 */
int nnp_model_logits(const nnp_model *m);

/*
 * Copies everything that is not a layer's weights from src to dst (whose
 * input size and output count must match): name, classes, provenance,
 * input preprocessing and the output kind. Used when a pruned or converted
 * model is built from another one.
 */
int nnp_model_copy_io(nnp_model *dst, const nnp_model *src, nnp_err *err);

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
 * nnp_model_load with import options for weight files (o may be NULL). The
 * interchange formats are recognised by content (safetensors' header, the npy
 * magic, a zip) and ONNX by the .onnx extension. Errors as nnp_model_load;
 * NNP_EUSAGE for options that do not fit the file (with what would fix it).
 */
int nnp_model_load_opts(nnp_model **out, const char *path, const nnp_import_opts *o,
                        nnp_file_info *info, nnp_err *err);

/*
 * Reads a vector of floats (preprocessing values) from a .npy file (any
 * shape, flattened) or a text file of numbers separated by commas,
 * whitespace or new lines. The caller owns *out (free).
 * Errors: NNP_EINPUT "path: place: what", NNP_ENOMEM.
 */
int nnp_read_vector(const char *path, float **out, size_t *n, nnp_err *err);

/*
 * Replaces every layer's weights by their per-row symmetric int8
 * quantisation: scale_o = max|w_o,i| / 127, w = round(w / scale_o) * scale_o.
 */
void nnp_model_quantize_int8(nnp_model *m);

/*
 * nnp_model_save for any writable format, with export options (o may be NULL).
 * Errors: NNP_EUSAGE (a format that cannot hold the model: e.g. NaN-free C
 * identifiers, read-only formats), NNP_EOUTPUT, NNP_ENOMEM.
 */
int nnp_model_save_opts(const nnp_model *m, const char *path, nnp_format fmt,
                        const nnp_export_opts *o, nnp_err *err);

/*
 * The identity nnp_model_load would report for a model file (format, size and
 * CRC-32 as nnp_file_info documents) without parsing it: a binary model's
 * stored CRC is read from its last 4 bytes, a JSON file's is computed.
 * Errors: NNP_EINPUT (unreadable, or neither format's first bytes).
 */
int nnp_model_identity(const char *path, nnp_file_info *info, nnp_err *err);

/* A model read from a pipe or device (not a regular file) is read once, up
 * to this many bytes; bigger models must be regular files. */
#define NNP_MAX_STREAM_MODEL (256u << 20)

/*
 * Parses a model from bytes in memory, recognising the format by content
 * exactly as nnp_model_load does for a file (the binary magic, or a JSON
 * object after an optional BOM and JSON white space): the same bytes give
 * the same model or the same refusal from a file, a pipe or memory. *fmt
 * (may be NULL) receives the format. The caller owns *out.
 */
int nnp_model_from_bytes(nnp_model **out, const unsigned char *buf, size_t len,
                         const char *label, nnp_format *fmt, nnp_err *err);

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
