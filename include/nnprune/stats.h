/*
 * nnprune: activation statistics of every hidden neuron over a data set, and
 * the statistics file (nnprune.stats.json) that `stats` writes and `sweep`
 * reads.
 */
#ifndef NNPRUNE_STATS_H
#define NNPRUNE_STATS_H

#include <stdint.h>
#include <stddef.h>
#include "nnprune/nnp.h"
#include "nnprune/model.h"
#include "nnprune/data.h"
#include "nnprune/forward.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One hidden layer's per-neuron figures, taken after its activation. */
/* The default rows per forward batch. A float product's rounding depends on
 * the batch a row is in, so statistics taken in parts (row ranges) equal one
 * pass's to the last bits only when every part starts at a multiple of it. */
#define NNP_RUN_BATCH 256

typedef struct nnp_layer_stats {
	size_t layer;            /* index of the layer in the model */
	size_t neurons;
	nnp_act act;
	double *mean;            /* [neurons] */
	double *std;             /* population standard deviation */
	double *min, *max;
	double *zero_fraction;   /* share of rows where the activation is exactly 0 */
} nnp_layer_stats;

typedef struct nnp_stats {
	uint64_t rows;
	size_t n_layers;          /* hidden layers: model layers - 1 */
	nnp_layer_stats *layers;  /* [n_layers] */
	nnp_metrics metrics;      /* the full model on the same rows */
} nnp_stats;

/* Allocates zeroed statistics shaped like m's hidden layers. Caller owns *out. */
int nnp_stats_create(nnp_stats **out, const nnp_model *m, nnp_err *err);
void nnp_stats_free(nnp_stats *s);

/* Called from the reading thread after each chunk; may be NULL. */
typedef void (*nnp_progress_fn)(void *ctx, uint64_t rows, uint64_t bytes);

typedef struct nnp_run_opts {
	unsigned threads;         /* 0 = all cores */
	size_t batch;             /* rows per forward batch; 0 = NNP_RUN_BATCH */
	nnp_progress_fn progress;
	void *progress_ctx;
	int no_labels;            /* nnp_run: read past the labels (no checks, no metrics) */
} nnp_run_opts;

#define NNP_RUN_OPTS_INIT { 0, 0, NULL, NULL, 0 }

/*
 * Streams every row of r through m on opts->threads threads. If stats is not
 * NULL, *stats receives the per-neuron statistics (caller owns; accumulated in
 * double: two-pass within a batch, Chan's merge of the batches in batch order, so
 * the result is the same bits for any thread count).
 * metrics (may be NULL) receives accuracy/loss; confusion (may be NULL) is
 * [outputs][outputs] counts [label][pred], zeroed by the caller.
 * Errors: reader errors, NNP_EINPUT for zero rows, a feature count other than
 * the model's inputs or a label >= its outputs, NNP_EUSAGE for more than 1024
 * threads or batches over 2^20 rows, NNP_ENOMEM.
 */
int nnp_run(const nnp_model *m, nnp_reader *r, const nnp_run_opts *opts,
            nnp_stats **stats, nnp_metrics *metrics, uint64_t *confusion, nnp_err *err);

/*
 * nnp_run over a data set already in memory (borrowed, never copied): same
 * batches, threads, results and errors; the progress callback gets bytes 0.
 */
int nnp_run_dataset(const nnp_model *m, const nnp_dataset *d, const nnp_run_opts *opts,
                    nnp_stats **stats, nnp_metrics *metrics, uint64_t *confusion, nnp_err *err);

/* Where the statistics came from, recorded in and checked from the file. */
typedef struct nnp_stats_source {
	char *model_path;
	uint64_t model_bytes;
	uint32_t model_crc32;
	char *data_path;
	uint64_t data_bytes;
	uint32_t data_crc32;
	char *labels_path;        /* IDX labels file or NULL */
	uint64_t labels_bytes;
	uint32_t labels_crc32;
	nnp_data_opts data_opts;  /* its string fields point into this struct */
	char *label_name_buf;     /* owns data_opts.label_name when set */
	int part;                 /* 1: the statistics of rows part_first.. only (a shard) */
	uint64_t part_first;      /*   0-based first row */
	int part_end;             /*   1: the shard's rows reach the end of the data */
} nnp_stats_source;

void nnp_stats_source_free(nnp_stats_source *src);  /* frees the fields, not src */

/*
 * Writes the documented nnprune-stats JSON file atomically (layout: see
 * src/engine/stats_file.c). src may be NULL (empty paths, default options).
 * Errors: NNP_EOUTPUT, NNP_ENOMEM, NNP_EINPUT if a value is NaN or infinite.
 */
int nnp_stats_save(const nnp_stats *s, const nnp_stats_source *src, const char *path, nnp_err *err);

/*
 * Reads a statistics file. *out and *src (fields) belong to the caller. The
 * model, data and labels paths in src are ready to open: a relative path in
 * the file is relative to the file's own directory, and is returned joined to
 * it ("runs/x.stats.json" holding "model.bin" gives "runs/model.bin").
 * Errors: NNP_EINPUT naming the file and the key that is missing or wrong.
 */
int nnp_stats_load(nnp_stats **out, nnp_stats_source *src, const char *path, nnp_err *err);

/* nnp_stats_load on len bytes of text in memory, named `path` in messages
 * (the text need not end in a NUL). */
int nnp_stats_from_json(nnp_stats **out, nnp_stats_source *src, const char *text, size_t len,
                        const char *path, nnp_err *err);

/* As nnp_stats_load, and a partial file (src->part) is accepted too. */
int nnp_stats_load_part(nnp_stats **out, nnp_stats_source *src, const char *path,
                        nnp_err *err);

/*
 * Combines the statistics of consecutive row ranges of the same data into
 * those of all their rows: counts exactly, means and variances by Chan's
 * merge, min, max and the shares of zeros exactly. parts[0..n) in row order,
 * all shaped alike. *out belongs to the caller. Errors: NNP_EINPUT when the
 * shapes or loss kinds differ, NNP_ENOMEM.
 */
int nnp_stats_merge(nnp_stats **out, const nnp_stats *const *parts, size_t n, nnp_err *err);

/*
 * When err's message is about one of src's paths ("PATH: ..."), appends
 * " (from STATS_PATH)" so the user sees where the path came from; returns 1
 * then, else 0 and err is unchanged.
 */
int nnp_stats_note_origin(nnp_err *err, const nnp_stats_source *src, const char *stats_path);

/* Serialises the statistics file's JSON to a malloc'd string (caller frees);
 * NULL if out of memory or a value is NaN or infinite (JSON has neither). */
char *nnp_stats_to_json(const nnp_stats *s, const nnp_stats_source *src);

#ifdef __cplusplus
}
#endif
#endif
