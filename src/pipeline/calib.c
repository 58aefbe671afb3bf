/* Calibration rows: what the pruning methods' statistics and refits are
 * computed on, held in memory when they fit, else read again at every pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nnprune/criteria.h"
#include "nnprune/pipeline.h"

/* 1 if the (possibly gzip'd) file starts with two zero bytes: IDX, as the
 * readers recognise it (no CSV may hold a NUL). */
static int is_idx(const char *path)
{
	unsigned char b[2];
	if (!strcmp(path, "-"))
		return 0;
	gzFile f = gzopen(path, "rb");
	if (!f)
		return 0;
	int n = gzread(f, b, 2);
	gzclose(f);
	return n == 2 && b[0] == 0 && b[1] == 0;
}

int nnp_calib_load(nnp_calib *c, const char *path, const nnp_data_opts *opts, size_t features,
                   uint64_t max_rows, uint64_t mem_limit, nnp_err *err)
{
	memset(c, 0, sizeof *c);
	c->path = path;
	c->labels_path = opts->labels_path;
	c->max_rows = max_rows;
	nnp_data_opts o = *opts;
	/* Labels are read if the file has them but never used: only the
	 * features calibrate, so their range is not checked. */
	o.expect_features = features;
	o.n_classes = 0;
	o.max_rows = max_rows;
	/* IDX images without their labels file are read unlabelled. */
	if (!o.labels_path && o.label != NNP_LABEL_NONE && is_idx(path))
		o.label = NNP_LABEL_NONE;
	c->opts = o;
	/* The identity and the rows must describe one version of the file. */
	int rc = nnp_file_stamp_get(path, &c->stamp, err);
	if (!rc)
		rc = nnp_file_identity(path, &c->bytes, &c->crc32, err);
	if (rc)
		return rc;
	/* Counted first (reading every row, holding a few): a bad row is an error
	 * before any work, and the count decides, without a trial load, whether
	 * the rows are held or read again at every pass. */
	uint64_t rows;
	if ((rc = nnp_data_count_rows(path, &o, &rows, err)))
		return rc;
	if (rows > SIZE_MAX / 2)
		return nnp_err_set(err, NNP_EINPUT, "%s: %llu rows: too many", path,
		                   (unsigned long long)rows);
	c->rows = (size_t)rows;
	/* Labels included: they are read when present. */
	uint64_t row_bytes = (uint64_t)features * sizeof(float) + sizeof(int32_t);
	c->streamed = rows > mem_limit / row_bytes;
	if (!c->streamed) {
		if ((rc = nnp_dataset_load(&c->d, path, &o, 0, err)))
			return rc;
		/* The methods never look at labels; statistics runs must not check them. */
		c->view = *c->d;
		c->view.y = NULL;
		c->labelled = *c->d;
		if (c->d->rows != c->rows)
			return nnp_err_set(err, NNP_EINPUT, "%s: changed while being read", path);
	}
	return nnp_calib_unchanged(c, err);
}

int nnp_calib_unchanged(const nnp_calib *c, nnp_err *err)
{
	nnp_file_stamp now;
	int rc = nnp_file_stamp_get(c->path, &now, err);
	if (!rc && !nnp_file_stamp_same(&now, &c->stamp))
		rc = nnp_err_set(err, NNP_EINPUT, "%s: changed while being read", c->path);
	return rc;
}

void nnp_calib_borrow(nnp_calib *c, const char *path, const nnp_data_opts *opts,
                      const nnp_dataset *d, uint64_t bytes, uint32_t crc32)
{
	memset(c, 0, sizeof *c);
	c->path = path;
	c->labels_path = opts->labels_path;
	c->opts = *opts;
	c->bytes = bytes;
	c->crc32 = crc32;
	c->view = *d;
	c->view.y = NULL;
	c->labelled = *d;
	c->rows = d->rows;
}

void nnp_calib_free(nnp_calib *c)
{
	nnp_dataset_free(c->d);
	c->d = NULL;
}

int nnp_calib_method_ctx(nnp_method_ctx **out, const nnp_model *m, const nnp_calib *c,
                         const nnp_method_opts *mo, nnp_err *err)
{
	nnp_calib_stream s = { c->path, &c->opts, c->rows, &c->stamp };
	const nnp_criterion *cr = nnp_criterion_at((size_t)mo->method);
	if (cr && (cr->needs & NNP_NEEDS_LABELS)) {
		if (c->streamed ? c->opts.label == NNP_LABEL_NONE : !c->labelled.y)
			return nnp_err_set(err, NNP_EINPUT, "%s: the calibration rows have no labels, "
			                   "and method %s needs them (a label column in CSV; for IDX "
			                   "images, give %s)", c->path, cr->name,
			                   c->opts.labels_option ? c->opts.labels_option
			                                         : "their labels file");
		if (!c->streamed)
			return nnp_method_ctx_create(out, m, &c->labelled, mo, err);
	}
	return c->streamed ? nnp_method_ctx_create_stream(out, m, &s, mo, err)
	                   : nnp_method_ctx_create(out, m, &c->view, mo, err);
}

int nnp_calib_stats(nnp_stats **out, const nnp_model *m, const nnp_calib *c,
                    const nnp_run_opts *ro, nnp_err *err)
{
	if (!c->streamed)
		return nnp_run_dataset(m, &c->view, ro, out, NULL, NULL, err);
	/* The statistics do not need the labels, and a run that reads them
	 * would check their range. */
	nnp_run_opts o = *ro;
	o.no_labels = 1;
	nnp_reader *r = NULL;
	int rc = nnp_calib_unchanged(c, err);
	if (!rc)
		rc = nnp_reader_open(&r, c->path, &c->opts, err);
	if (!rc)
		rc = nnp_run(m, r, &o, out, NULL, NULL, err);
	nnp_reader_close(r);
	/* The statistics must be of the rows the refits will read. */
	if (!rc && (rc = nnp_calib_unchanged(c, err))) {
		nnp_stats_free(*out);
		*out = NULL;
	}
	return rc;
}

