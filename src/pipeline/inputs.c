/* The inputs a pipeline starts from: are they the ones the statistics describe? */
#include "nnprune/pipeline.h"

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
