/*
 * nnprune: the one row source. Every pass over data rows (statistics,
 * evaluation, the sweep, the methods' calibration passes) takes them from
 * here, a chunk at a time: pointed at in memory, or read from the file in
 * whole chunks. Chunks are a whole number of the caller's blocks, so block b
 * of a streamed file holds the same rows as block b of the data in memory,
 * and results do not depend on which one was used.
 */
#ifndef NNPRUNE_ROWS_H
#define NNPRUNE_ROWS_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/nnp.h"
#include "nnprune/data.h"
#include "nnprune/io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nnp_rows_spec {
	const nnp_dataset *data;      /* the rows in memory, or NULL to stream them from: */
	nnp_reader *reader;           /*   an open reader (borrowed), or */
	const char *path;             /*   a file opened here with `opts` */
	const nnp_data_opts *opts;
	size_t chunk_rows;            /* rows per chunk (> 0; the last may hold fewer) */
	int labels;                   /* 1: hand out labels where the source has them */
	int buffers;                  /* streaming: 2 keeps a chunk valid while the next is read */
	/* Streaming a file the caller counted beforehand: it must still match
	 * `stamp` when opened and at the end, and hold `expect_rows` rows
	 * (`what` names them in the message, e.g. "calibration rows"). */
	const nnp_file_stamp *stamp;
	uint64_t expect_rows;
	const char *what;
	size_t outputs;               /* > 0: a label outside [0, outputs) is an error */
} nnp_rows_spec;

typedef struct nnp_chunk {
	const float *x;               /* [rows][features] */
	const int32_t *y;             /* [rows], NULL when unlabelled */
	size_t rows;                  /* 0: no rows left */
	uint64_t first;               /* index of the chunk's first row */
} nnp_chunk;

typedef struct nnp_rows nnp_rows;

/* Errors: those of nnp_reader_open, NNP_ENOMEM, NNP_EUSAGE (bad spec),
 * NNP_EINPUT (the file changed since it was stamped). */
int nnp_rows_open(nnp_rows **out, const nnp_rows_spec *spec, nnp_err *err);
/* The next chunk; c->rows == 0 at the end, where a stamped file is checked
 * again for its count and stamp. Errors: the reader's, NNP_EINPUT. */
int nnp_rows_next(nnp_rows *r, nnp_chunk *c, nnp_err *err);
size_t nnp_rows_features(const nnp_rows *r);
int nnp_rows_labelled(const nnp_rows *r);
int nnp_rows_streaming(const nnp_rows *r);
/* Bytes of the file read so far (0 in memory): for progress. */
uint64_t nnp_rows_offset(const nnp_rows *r);
void nnp_rows_free(nnp_rows *r);

/* NNP_EINPUT naming the row (first_row + i + 1) if a label of y[0..rows) is
 * outside [0, outputs); NNP_OK otherwise, or when y is NULL (unlabelled). */
int nnp_labels_check(const int32_t *y, size_t rows, size_t outputs, uint64_t first_row,
                     nnp_err *err);

#ifdef __cplusplus
}
#endif
#endif
