/* The inputs a pipeline starts from: are they the ones the statistics describe? */
#include <stdlib.h>
#include <sys/stat.h>

#include "nnprune/parallel.h"
#include "nnprune/pipeline.h"
#include "nnprune/rows.h"

/* Checks that a file is the one the statistics were taken on. */
static int check_same(const char *path, uint64_t b, uint32_t c, uint64_t bytes, uint32_t crc,
                      const char *stats_path, nnp_err *err)
{
	if (b != bytes || c != crc)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: changed since %s was written (now %llu bytes, CRC-32 %08x; "
		                   "then %llu bytes, CRC-32 %08x): run 'nnprune stats' again",
		                   path, stats_path, (unsigned long long)b, (unsigned)c,
		                   (unsigned long long)bytes, (unsigned)crc);
	return NNP_OK;
}

static int check_identity(const char *path, uint64_t bytes, uint32_t crc, const char *stats_path,
                          nnp_err *err)
{
	uint64_t b;
	uint32_t c;
	int rc = nnp_file_identity(path, &b, &c, err);
	return rc ? rc : check_same(path, b, c, bytes, crc, stats_path, err);
}

int nnp_stats_check_shape(const nnp_model *m, const nnp_stats *s, const char *model_path,
                       const char *stats_path, nnp_err *err)
{
	if (s->n_layers + 1 != m->n_layers)
		return nnp_err_set(err, NNP_EINPUT, "%s: has %zu hidden layers but %s describes %zu",
		                   model_path, m->n_layers - 1, stats_path, s->n_layers);
	for (size_t l = 0; l < s->n_layers; l++)
		if (s->layers[l].neurons != m->layers[l].out)
			return nnp_err_set(err, NNP_EINPUT,
			                   "%s: layer %zu has %zu neurons but %s describes %zu", model_path,
			                   l, m->layers[l].out, stats_path, s->layers[l].neurons);
	return NNP_OK;
}

int nnp_stats_check_files(const nnp_stats_source *src, const char *stats_path,
                          const char *model_path, const nnp_file_info *model,
                          const char *data_path, const nnp_file_info *data,
                          const char *labels_path, nnp_err *err)
{
	int rc = check_same(model_path, model->bytes, model->crc32, src->model_bytes,
	                    src->model_crc32, stats_path, err);
	if (!rc)
		rc = data ? check_same(data_path, data->bytes, data->crc32, src->data_bytes,
		                       src->data_crc32, stats_path, err)
		          : check_identity(data_path, src->data_bytes, src->data_crc32, stats_path,
		                           err);
	if (!rc && labels_path)
		rc = check_identity(labels_path, src->labels_bytes, src->labels_crc32, stats_path,
		                    err);
	return rc;
}

/* Read before the model is known, so without its feature and class counts:
 * they are checked in nnp_rows_preload_finish. */
struct nnp_rows_preload {
	const char *path;
	nnp_data_opts opts;
	uint64_t mem_limit;
	nnp_dataset *d;
	nnp_file_info id;     /* bytes, crc32 as the bytes passed */
	int whole, rc;
	nnp_err err;
	nnp_pool *pool;
};

static void preload_task(void *ctx, size_t task, unsigned worker)
{
	(void)task;
	(void)worker;
	nnp_rows_preload *pl = ctx;
	pl->rc = nnp_dataset_load_id(&pl->d, pl->path, &pl->opts, pl->mem_limit, &pl->id.bytes,
	                             &pl->id.crc32, &pl->whole, &pl->err);
}

nnp_rows_preload *nnp_rows_preload_start(const char *path, const nnp_data_opts *opts,
                                         uint64_t mem_limit)
{
	static const nnp_pfor_job none = { NULL, NULL, NULL };
	nnp_pfor_job job = none;
	struct stat st;
	/* A pipe or device is refused later, by the read that checks it. */
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return NULL;
	nnp_rows_preload *pl = calloc(1, sizeof *pl);
	if (!pl)
		return NULL;
	if (nnp_pool_create(&pl->pool, 1, NNP_POOL_ASYNC, NULL)) {
		free(pl);
		return NULL;
	}
	pl->path = path;
	pl->opts = *opts;
	pl->opts.expect_features = 0;
	pl->opts.n_classes = 0;
	pl->mem_limit = mem_limit;
	nnp_err_clear(&pl->err);
	job.run = preload_task;
	job.ctx = pl;
	nnp_pool_start(pl->pool, 1, &job);
	return pl;
}

nnp_dataset *nnp_rows_preload_finish(nnp_rows_preload *pl, const nnp_model *m,
                                     nnp_file_info *id, int *too_big)
{
	*too_big = 0;
	if (!pl)
		return NULL;
	nnp_pool_wait(pl->pool);
	nnp_pool_free(pl->pool);
	nnp_dataset *d = pl->d;
	nnp_err e;
	*too_big = pl->rc == NNP_ETOOBIG;
	if (pl->rc || !pl->whole || !m || d->features != m->input_size ||
	    nnp_labels_check(d->y, d->rows, nnp_model_outputs(m), 0, &e)) {
		nnp_dataset_free(d);
		d = NULL;
	} else {
		*id = pl->id;
	}
	free(pl);
	return d;
}
