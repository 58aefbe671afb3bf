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

/*
 * Where a writer puts its bytes: a FILE, a growing memory buffer, or nowhere
 * (count_only: just measure). Errors are sticky: after the first failure the
 * writes are skipped and `failed` stays set, so writers check once at the end.
 */
typedef struct nnpm_sink {
	FILE *fp;
	unsigned char *buf;   /* owned by whoever takes it after a memory write */
	size_t len, cap;
	int count_only;
	int failed;           /* 0, NNP_EOUTPUT (write error) or NNP_ENOMEM */
	int err_no;           /* errno of the first failed write */
	int crc_on;           /* keep a running CRC-32 of what is written */
	unsigned long crc;
} nnpm_sink;

void nnpm_sink_put(nnpm_sink *s, const void *p, size_t n);
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
 * Formats a float so that strtod + a cast to float gives back the same bits:
 * integral values below 1e16 without an exponent, others with "%.9g". Always
 * uses '.' as the decimal point whatever the locale. Returns the length.
 */
size_t nnpm_fmt_float(char buf[40], float v);

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
