/*
 * nnprune: streaming readers for validation and training data.
 *
 * Two formats, recognised by content: CSV (RFC 4180, optionally gzip'd) and
 * IDX (MNIST / Fashion-MNIST image files, with labels in a second IDX file).
 * Every file is read through zlib's gzopen, so plain and .gz files behave the
 * same. Rows come in batches: memory does not grow with the number of rows.
 *
 * CSV details: LF or CRLF line ends, RFC 4180 quotes, a leading UTF-8 BOM is
 * skipped, empty lines are ignored. Every field must be a whole decimal
 * number ([+-]digits[.digits][e[+-]digits]; no spaces, hex, inf, nan or
 * empty fields), read as (float) of the correctly rounded double, the same as
 * numpy's float32(float(s)); |x| > FLT_MAX is an error. Labels must be whole
 * numbers in 0..NNP_MAX_LABEL (and < n_classes when set). NNP_HEADER_AUTO
 * takes the first record for a header when one of its fields is text (not a
 * number, an empty field or a missing-value token such as NA), and always
 * when the label column is given by name. Columns in messages are 1-based
 * byte columns of the field's start, counted after a BOM.
 * IDX details: a file starting with two zero bytes is IDX (no CSV may hold
 * a NUL). Values of every IDX type become float; NaN, Inf and doubles beyond
 * float are errors. Labels come from an IDX u8 file with one dimension.
 */
#ifndef NNPRUNE_DATA_H
#define NNPRUNE_DATA_H

#include <stdint.h>
#include <stddef.h>
#include "nnprune/nnp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nnp_header_mode { NNP_HEADER_AUTO = 0, NNP_HEADER_YES, NNP_HEADER_NO } nnp_header_mode;
/* "auto", "yes" or "no" (NULL for any other value). */
const char *nnp_header_name(nnp_header_mode h);
/* The mode of that name into *out: 0, or -1 for any other name (or NULL). */
int nnp_header_parse(const char *name, nnp_header_mode *out);

typedef enum nnp_label_mode {
	NNP_LABEL_FIRST = 0,  /* label is the first column (Kaggle MNIST) */
	NNP_LABEL_LAST,       /* label is the last column (UCI) */
	NNP_LABEL_INDEX,      /* label is column label_index (0-based) */
	NNP_LABEL_NAME,       /* label is the header column named label_name */
	NNP_LABEL_NONE,       /* unlabelled data: statistics only */
	NNP_LABEL_AUTO        /* the default: a CSV header's column named label, target,
	                         class or y (any case; two such columns are an error, a
	                         header with none is an error); without a header, and for
	                         IDX, the first column */
} nnp_label_mode;

/* Caps on what a reader accepts, checked with overflow-safe arithmetic. */
#define NNP_MAX_COLUMNS 1000000u
#define NNP_MAX_FIELD_BYTES 4096u     /* one CSV field */
#define NNP_MAX_LABEL 1000000

typedef struct nnp_data_opts {
	nnp_header_mode header;
	nnp_label_mode label;
	size_t label_index;       /* NNP_LABEL_INDEX: 0-based column */
	const char *label_name;   /* NNP_LABEL_NAME: header text, borrowed */
	char delimiter;           /* CSV field separator, ',' by default */
	const char *labels_path;  /* IDX: the labels file, borrowed; NULL otherwise */
	size_t expect_features;   /* if > 0, a different feature count is an error */
	size_t n_classes;         /* if > 0, labels must be < n_classes */
	const char *labels_option; /* how the user gives labels_path ("--labels FILE"), for
	                             the message when it is missing */
	uint64_t max_rows;        /* if > 0, the reader ends after this many rows (the rest of
	                             the file is neither read nor checked) */
} nnp_data_opts;

#define NNP_DATA_OPTS_INIT { NNP_HEADER_AUTO, NNP_LABEL_AUTO, 0, NULL, ',', NULL, 0, 0, NULL, 0 }

/*
 * Checks options for consistency (modes, a usable delimiter, a label name
 * with a header...) as nnp_reader_open does first. NNP_OK or NNP_EUSAGE
 * with the reason (no file name: callers add where the options came from).
 */
int nnp_data_opts_check(const nnp_data_opts *o, nnp_err *err);

typedef struct nnp_reader nnp_reader;

/*
 * Opens a data file (and opts->labels_path for IDX), reads as much as needed
 * to know the feature count (CSV: header and first record; IDX: headers), and
 * checks it against opts. The caller owns *out: nnp_reader_close.
 * Errors: NNP_EINPUT with "path:line:col: reason" (CSV) or
 * "path: byte N: reason" (IDX), NNP_EUSAGE for inconsistent options.
 */
int nnp_reader_open(nnp_reader **out, const char *path, const nnp_data_opts *opts, nnp_err *err);

/* Features per row (label column excluded). */
size_t nnp_reader_features(const nnp_reader *r);
/* 1 if rows carry a label. */
int nnp_reader_has_labels(const nnp_reader *r);
/* "csv" or "idx". */
const char *nnp_reader_format(const nnp_reader *r);
/* Rows returned so far. */
uint64_t nnp_reader_rows(const nnp_reader *r);
/* Bytes of the (decompressed) input consumed so far, for progress display
 * (IDX: of the images file). */
uint64_t nnp_reader_offset(const nnp_reader *r);
/*
 * The data file's size and CRC-32 (as nnp_file_identity gives them), taken
 * as its raw bytes were read (gzip or not): 1 once the reader has read the
 * whole file, else 0 (then nnp_file_identity reads the file again).
 */
int nnp_reader_identity(const nnp_reader *r, uint64_t *bytes, uint32_t *crc);
/* With NNP_LABEL_AUTO, the header name of the column taken as the label
 * (borrowed, valid until the reader is closed) and its 0-based index in *col;
 * NULL when no column was taken by its name. */
const char *nnp_reader_label_by_name(const nnp_reader *r, size_t *col);
/* Total number of rows if the format says (IDX), else 0. */
uint64_t nnp_reader_total_rows(const nnp_reader *r);

/*
 * Reads up to max_rows rows: features into x [rows][features] and, if the data
 * is labelled and labels != NULL, labels into labels[rows]. *got receives the
 * number read; 0 means the end of the input was reached cleanly. A truncated
 * or corrupt file is an error here, never a silent short read. A file with no
 * data rows at all is an error at its end ("no data rows").
 */
int nnp_reader_read(nnp_reader *r, float *x, int32_t *labels, size_t max_rows,
                    size_t *got, nnp_err *err);

/*
 * nnp_reader_read until max_rows rows are read or the input ends: *got <
 * max_rows only at the end. Callers that cut the rows into fixed batches get
 * whole buffers, whatever sizes the format reads in. Errors: the reader's.
 */
int nnp_reader_fill(nnp_reader *r, float *x, int32_t *labels, size_t max_rows, size_t *got,
                    nnp_err *err);

/* Closes the files and frees the reader. NULL is allowed. */
void nnp_reader_close(nnp_reader *r);

/* A whole data set held in memory (row-major float32). */
typedef struct nnp_dataset {
	size_t rows, features;
	float *x;        /* [rows][features] */
	int32_t *y;      /* [rows], NULL if unlabelled */
} nnp_dataset;

/*
 * Reads every row of a file into memory. If the rows would need more than
 * max_bytes (0 = no cap), stops and returns NNP_ETOOBIG with *out == NULL, so
 * the caller can fall back to streaming. The caller owns *out.
 */
int nnp_dataset_load(nnp_dataset **out, const char *path, const nnp_data_opts *opts,
                     size_t max_bytes, nnp_err *err);

/*
 * nnp_dataset_load that also gives the file's size and CRC-32 (as
 * nnp_file_identity would), taken from the raw bytes as they were read, so
 * the file is read once: *whole = 1 when every byte of it passed (bytes and
 * crc then set), else 0.
 */
int nnp_dataset_load_id(nnp_dataset **out, const char *path, const nnp_data_opts *opts,
                        size_t max_bytes, uint64_t *bytes, uint32_t *crc, int *whole,
                        nnp_err *err);

/* Frees a dataset. NULL is allowed. */
void nnp_dataset_free(nnp_dataset *d);

/*
 * Reads a file through (checking every row, as reading it would) and counts
 * its rows (at most opts->max_rows when set), holding a few rows at a time.
 * Errors: the reader's.
 */
int nnp_data_count_rows(const char *path, const nnp_data_opts *opts, uint64_t *rows,
                        nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
