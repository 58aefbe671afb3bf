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

/*
 * Reads a binary model from an open file of `size` bytes positioned at 0
 * (streamed: weights are read straight into the model's arrays). *crc gets
 * the CRC-32 of all the bytes read (the whole file on success).
 */
int nnpm_read_bin_file(nnp_model **out, FILE *fp, uint64_t size, const char *label,
                       uint32_t *crc, nnp_err *err);

#endif
