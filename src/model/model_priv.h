/*
 * Private to the model module (model.c, model_json.c, model_bin.c): the
 * allocator behind nnp_model_create, an output sink shared by the two writers,
 * the metadata printer/parser shared by the two formats, and small helpers.
 */
#ifndef NNPRUNE_MODEL_PRIV_H
#define NNPRUNE_MODEL_PRIV_H

#include <stdint.h>
#include <stdio.h>
#include <cJSON.h>

#include "nnprune/model.h"
#include "textbuf.h"

/* JSON model files are read whole into memory; this caps what we accept. */
#define NNPM_MAX_JSON_BYTES ((uint64_t)4 << 30)

/* Binary format constants (see model_bin.c for the byte-by-byte layout). */
#define NNPM_BIN_MAGIC "\x89NNP\r\n\x1a\n"
#define NNPM_BIN_VERSION 1u
#define NNPM_BIN_HEADER 32u
#define NNPM_BIN_LAYER 16u

/*
 * Allocates a model with zeroed weights for the given shape, without the
 * semantic checks of nnp_model_create (loaders validate afterwards and want
 * their own messages). The caller has checked the limits; sizes and
 * products are still overflow-checked. Returns NNP_OK, NNP_EUSAGE (sizes
 * overflow) or NNP_ENOMEM, recording nothing: callers word the message.
 */
int nnpm_alloc(nnp_model **out, size_t input_size, size_t n_layers, const size_t *sizes,
               const nnp_act *acts);

/* Model invariants; errors carry `status` and start with `label`. */
int nnpm_check(const nnp_model *m, const char *label, int status, nnp_err *err);

/* The end of a loader: gives m to *out when rc is 0, else frees it; returns rc. */
int nnpm_hand_over(nnp_model *m, int rc, nnp_model **out);

/*
 * Where a writer puts its bytes: a FILE, a growing memory buffer, or nowhere
 * (count_only: just measure). Errors are sticky: after the first failure the
 * writes are skipped and `failed` stays set, so writers check once at the end.
 */
typedef struct nnpm_sink {
	FILE *fp;
	nnp_tbuf mem;         /* memory writes; mem.p owned by whoever takes it */
	size_t len;           /* bytes written */
	int count_only;
	int failed;           /* 0, NNP_EOUTPUT (write error) or NNP_ENOMEM */
	int err_no;           /* errno of the first failed write */
	int crc_on;           /* keep a running CRC-32 of what is written */
	unsigned long crc;
} nnpm_sink;

void nnpm_sink_put(nnpm_sink *s, const void *p, size_t n);
/* Formatted text of any length (never cut). */
void nnpm_sink_printf(nnpm_sink *s, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
void nnpm_sink_puts(nnpm_sink *s, const char *str);

/* zlib CRC-32 continued over n bytes (any size). */
unsigned long nnpm_crc(unsigned long crc, const void *p, size_t n);

/* Writes a JSON string literal (quotes and escapes included). */
void nnpm_sink_json_string(nnpm_sink *s, const char *str);

/*
 * Prints the metadata object ({"name": ..., "classes": [...], "provenance": {...}},
 * keys present only when set). pretty: the indented layout of the JSON format,
 * its lines prefixed by `indent`; otherwise compact (the binary format's blob).
 * Prints nothing if the model has no metadata.
 */
void nnpm_meta_print(nnpm_sink *s, const nnp_model *m, int pretty, const char *indent);

/* 1 if the model carries any metadata. */
int nnpm_has_meta(const nnp_model *m);

/* Bytes of the compact metadata blob (0 without metadata). */
size_t nnpm_meta_size(const nnp_model *m);

/*
 * Reads a metadata object into m (which must have its layers). Messages are
 * "<label>: <place>metadata: ...", place being e.g. "byte 96: " or "".
 */
int nnpm_meta_from_cjson(nnp_model *m, const cJSON *meta, const char *label,
                         const char *place, nnp_err *err);

/*
 * Rejects duplicate keys in a JSON object (cJSON keeps both silently).
 * Messages are "<label>: <where>duplicate key \"k\"". NNP_ENOMEM possible.
 */
int nnpm_no_dup_keys(const cJSON *obj, const char *label, const char *where, nnp_err *err);

/* "a string", "a number", ... for messages. */
const char *nnpm_json_type(const cJSON *item);

/* 1 if the n bytes are valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int nnpm_utf8_ok(const char *s, size_t n);

/*
 * Input preprocessing and output kind (model_prep.c), stored in the metadata
 * object as "preprocessing": {"offset": x | [..], "scale": x | [..]} and
 * "output": "logits". nnpm_io_print prints the keys (each led by `sep` and,
 * pretty, a new line and `indent`) and returns whether it printed any;
 * nnpm_io_from_cjson reads them from a metadata object into m.
 */
void nnpm_io_print(nnpm_sink *s, const nnp_model *m, int pretty, const char *indent,
                   const char *sep);
int nnpm_io_from_cjson(nnp_model *m, const cJSON *meta, const char *label, const char *place,
                       nnp_err *err);
/* Copies src's preprocessing into dst (same input size); NNP_ENOMEM. */
int nnpm_copy_prep(nnp_model *dst, const nnp_model *src);
/* Preprocessing values finite, output kind consistent with the last layer. */
int nnpm_check_io(const nnp_model *m, const char *label, int status, nnp_err *err);

/* ---- interchange formats (model_formats.c and one file per format) ---- */

/* A named tensor read from a weights file, converted to float32, row-major. */
typedef struct nnpm_tensor {
	char *name;
	size_t ndim;
	uint64_t shape[8];
	uint64_t count;
	float *data;
} nnpm_tensor;
void nnpm_tensors_free(nnpm_tensor *t, size_t n);

/* Activations as a file or an option lists them. */
#define NNPM_MAX_ACTS NNP_MAX_LAYERS
typedef struct nnpm_acts {
	size_t n;
	int given;     /* 1 if this list is set */
	int logits;    /* the last entry was "logits" */
	nnp_act act[NNPM_MAX_ACTS];
	float alpha[NNPM_MAX_ACTS];
} nnpm_acts;
/* "relu,leaky_relu=0.2,logits" into out; -1 if malformed. */
int nnpm_parse_acts(const char *list, nnpm_acts *out);
/* The activations to use: the option's, else the file's, else the defaults
 * (*assumed = 1). NNP_EUSAGE/NNP_EINPUT with a message. */
int nnpm_resolve_acts(const nnpm_acts *file, const nnp_import_opts *o, size_t L, nnp_act *acts,
                      float *alphas, int *logits, int *assumed, const char *label,
                      nnp_err *err);
/* Builds a model from a state dict's tensors (see model_tensors.c). */
int nnpm_model_from_tensors(nnp_model **out, const nnpm_tensor *t, size_t n,
                            const nnpm_acts *acts, const nnp_import_opts *o, int *assumed,
                            const char *label, nnp_err *err);

/* One row of the format table: a reader gets the whole file in memory. */
typedef struct nnpm_format_row {
	nnp_format fmt;
	const char *name;
	const char *exts;   /* space-separated, with the dot */
	const char *what;   /* for messages: "safetensors file" */
	/* 1 if the first n bytes (n >= 16 unless the file is shorter) are this format's. */
	int (*detect)(const unsigned char *head, size_t n);
	int (*read)(nnp_model **out, const unsigned char *buf, size_t len, const char *label,
	            const nnp_import_opts *o, int *assumed, nnp_err *err);
	/* Writes the model (valid) to the sink; NNP_EUSAGE if it cannot be expressed. */
	int (*write)(nnpm_sink *s, const nnp_model *m, const nnp_export_opts *o, nnp_err *err);
} nnpm_format_row;
const nnpm_format_row *nnpm_format_find(nnp_format f);
/* nnp_model_load's way into the interchange formats: *out stays NULL if the
 * file is none of them; a file that does not say its activations is refused
 * (only nnp_model_load_opts may assume defaults, and it reports that it did). */
int nnpm_load_foreign(nnp_model **out, const char *path, nnp_file_info *fi, nnp_err *err);
/* The same for bytes in memory named `label` (its extension counts as a
 * file's would), so that bytes and files get one verdict; *fmt is set. */
int nnpm_load_foreign_bytes(nnp_model **out, const unsigned char *buf, size_t len,
                            const char *label, nnp_format *fmt, nnp_err *err);

int nnpm_safetensors_detect(const unsigned char *head, size_t n);
int nnpm_safetensors_read(nnp_model **out, const unsigned char *buf, size_t len,
                          const char *label, const nnp_import_opts *o, int *assumed,
                          nnp_err *err);
int nnpm_safetensors_write(nnpm_sink *s, const nnp_model *m, const nnp_export_opts *o,
                           nnp_err *err);
int nnpm_npy_detect(const unsigned char *head, size_t n);
int nnpm_npy_read(nnp_model **out, const unsigned char *buf, size_t len, const char *label,
                  const nnp_import_opts *o, int *assumed, nnp_err *err);
/* One .npy array into t (name copied); place prefixes messages ("x.npz: w.npy: "). */
int nnpm_npy_parse(const unsigned char *buf, size_t len, const char *name, nnpm_tensor *t,
                   const char *label, nnp_err *err);
/* A float32 array as .npy bytes ('<f4', C order). */
void nnpm_npy_put(nnpm_sink *s, const float *v, size_t rows, size_t cols, int two_d);
int nnpm_npz_detect(const unsigned char *head, size_t n);
int nnpm_npz_read(nnp_model **out, const unsigned char *buf, size_t len, const char *label,
                  const nnp_import_opts *o, int *assumed, nnp_err *err);
int nnpm_npz_write(nnpm_sink *s, const nnp_model *m, const nnp_export_opts *o, nnp_err *err);
int nnpm_onnx_read(nnp_model **out, const unsigned char *buf, size_t len, const char *label,
                   const nnp_import_opts *o, int *assumed, nnp_err *err);
int nnpm_onnx_write(nnpm_sink *s, const nnp_model *m, const nnp_export_opts *o, nnp_err *err);
int nnpm_c_write(nnpm_sink *s, const nnp_model *m, const nnp_export_opts *o, nnp_err *err);

/* The metadata a weights file carries as strings (safetensors' __metadata__):
 * key -> JSON text. nnpm_meta_strings_put calls put(ctx, key, json) for each
 * (owned by the caller of put only during the call); nnpm_meta_strings_get
 * rebuilds activations and the model's metadata from a cJSON object of strings. */
void nnpm_meta_strings(const nnp_model *m, void (*put)(void *ctx, const char *key,
                       const char *json), void *ctx);
int nnpm_meta_strings_acts(const cJSON *meta, nnpm_acts *acts, const char *label,
                           nnp_err *err);
int nnpm_meta_strings_apply(nnp_model *m, const cJSON *meta, const char *label,
                            nnp_err *err);

/* Writers: the whole file's bytes in the given format. The model is valid. */
void nnpm_write_json(nnpm_sink *s, const nnp_model *m);
void nnpm_write_bin(nnpm_sink *s, const nnp_model *m);

/* ---- sparse layer encoding (model_sparse.c) ---- */

/* Binary format version 2: written only when some layer is sparse; its layer
 * table entries are 24 bytes (encoding and entry count added). */
#define NNPM_BIN_VERSION_SPARSE 2u
#define NNPM_BIN_LAYER_V2 24u

/* How a layer's weights are stored in a file. */
typedef enum nnpm_enc {
	NNPM_ENC_DENSE = 0,
	NNPM_ENC_CSR16 = 1,   /* CSR, u16 column indices (layers with in <= 65536) */
	NNPM_ENC_CSR32 = 2    /* CSR, u32 column indices */
} nnpm_enc;

/* Weights whose bits are not +0.0: the entries a CSR encoding stores. */
size_t nnpm_layer_stored(const nnp_layer *L);

/* Bytes a layer's weights and biases take in the binary format. */
uint64_t nnpm_bin_layer_bytes(size_t in, size_t out, nnpm_enc enc, uint64_t nnz);

/* The binary format's choice for a layer with nnz stored entries: CSR (16-bit
 * columns when in <= 65536) when strictly smaller than dense, else dense. */
nnpm_enc nnpm_bin_pick(const nnp_layer *L, size_t nnz);

/* Row pointers of rows r0 .. r0+n-1 (their ends: ptr[i] = entries up to the
 * end of row r0+i), counting from `first`. */
void nnpm_csr_row_ptr(const nnp_layer *L, size_t r0, size_t n, uint32_t first, uint32_t *ptr);

/* The next up to `max` stored entries from flat position *pos on (row-major);
 * columns and/or values (either may be NULL). Returns how many. */
size_t nnpm_csr_next(const nnp_layer *L, size_t *pos, size_t max, uint32_t *cols, float *vals);

/* Where a CSR index array is wrong: array 0 = row_ptr, 1 = cols, the index in
 * it, and what is wrong. */
typedef struct nnpm_csr_fault {
	int array;
	size_t index;
	char what[160];
} nnpm_csr_fault;

/*
 * Checks CSR index arrays of a layer with `in` inputs and `out` rows storing
 * nnz entries: row_ptr[0] = 0, row pointers that never decrease, at most `in`
 * entries per row, row_ptr[out] = nnz, columns < in and strictly increasing
 * in each row. 0 if valid, else -1 with *f filled in.
 */
int nnpm_csr_check(size_t in, size_t out, uint64_t nnz, const uint32_t *row_ptr,
                   const uint32_t *cols, nnpm_csr_fault *f);

/* Writes checked CSR arrays into the layer's dense weights (zeros elsewhere). */
void nnpm_csr_scatter(nnp_layer *L, const uint32_t *row_ptr, const uint32_t *cols,
                      const float *vals);

/*
 * Reads a binary model from an open file of `size` bytes positioned at 0
 * (streamed: weights are read straight into the model's arrays). *crc gets
 * the CRC-32 of all the bytes read (the whole file on success).
 */
int nnpm_read_bin_file(nnp_model **out, FILE *fp, uint64_t size, const char *label,
                       uint32_t *crc, nnp_err *err);

#endif
