/*
 * The data readers, CSV (fuzz_csv) and IDX (fuzz_idx). Oracles: the same
 * bytes read from memory with the smallest buffer and with the default one,
 * and from a file, in batches of different sizes, give the same rows, the
 * same labels, the same status and the same message.
 *
 * fuzz_csv: the first byte chooses the options (header mode, label column,
 * delimiter), the rest is the file. fuzz_idx: the first byte says whether
 * there is a labels file; if so the next two bytes say where the images end
 * and the labels file begins.
 */
#include <stdlib.h>
#include <string.h>

#include "data_priv.h"
#include "fuzz_util.h"

typedef struct result {
	int rc;
	char msg[NNP_ERRMSG_MAX];
	size_t rows, features;
	int labelled;
	float *x;
	int32_t *y;
} result;

static void result_free(result *r)
{
	free(r->x);
	free(r->y);
}

/* Opens (memory when mem, else the scratch files) and reads every row in
 * batches of `batch`. */
static void run(result *res, const nnp_bytes *data, const nnp_bytes *labels, int mem,
                const nnp_data_opts *o, size_t bufsize, size_t batch)
{
	memset(res, 0, sizeof *res);
	nnp_err err;
	nnp_reader *r = NULL;
	const char *path = fz_path(0);
	int rc = mem ? nnp_reader_open_mem(&r, path, data, labels, o, bufsize, &err)
	             : nnp_reader_open_buf(&r, path, o, bufsize, &err);
	size_t cap = 0;
	float *xb = NULL;
	int32_t *yb = NULL;
	if (!rc) {
		res->features = nnp_reader_features(r);
		res->labelled = nnp_reader_has_labels(r);
		FZ_CHECK(res->features >= 1 && res->features <= NNP_MAX_COLUMNS);
		/* Wide rows: fewer per batch, so a batch stays at most 1 MiB. */
		if (batch > ((size_t)1 << 18) / res->features)
			batch = ((size_t)1 << 18) / res->features ? ((size_t)1 << 18) / res->features : 1;
		xb = malloc(batch * res->features * sizeof *xb);
		yb = malloc(batch * sizeof *yb);
		FZ_CHECK(xb && yb);
	}
	while (!rc) {
		size_t got;
		rc = nnp_reader_read(r, xb, yb, batch, &got, &err);
		if (rc || got == 0)
			break;
		FZ_CHECK(got <= batch);
		if (res->rows + got > cap) {
			cap = (res->rows + got) * 2;
			res->x = realloc(res->x, cap * res->features * sizeof *res->x);
			res->y = realloc(res->y, cap * sizeof *res->y);
			FZ_CHECK(res->x && res->y);
		}
		memcpy(res->x + res->rows * res->features, xb, got * res->features * sizeof *xb);
		if (res->labelled)
			memcpy(res->y + res->rows, yb, got * sizeof *yb);
		res->rows += got;
	}
	res->rc = rc;
	if (rc)
		memcpy(res->msg, err.msg, sizeof res->msg);
	free(xb);
	free(yb);
	nnp_reader_close(r);
}

static void same(const result *a, const result *b)
{
	FZ_CHECK(a->rc == b->rc);
	FZ_CHECK(strcmp(a->msg, b->msg) == 0);
	if (a->rc)
		return;  /* rows before an error depend on the batch sizes */
	FZ_CHECK(a->rows == b->rows && a->features == b->features && a->labelled == b->labelled);
	FZ_CHECK(a->rows == 0 ||
	         memcmp(a->x, b->x, a->rows * a->features * sizeof *a->x) == 0);
	FZ_CHECK(!a->labelled || a->rows == 0 ||
	         memcmp(a->y, b->y, a->rows * sizeof *a->y) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	nnp_bytes d, *lp = NULL;
	if (size < 1)
		return 0;
	unsigned sel = data[0];
	data++;
	size--;
#ifdef FUZZ_IDX
	nnp_bytes l;
	if (sel & 1) {
		if (size < 2)
			return 0;
		size_t split = ((size_t)data[0] << 8 | data[1]) % (size - 1);
		data += 2;
		size -= 2;
		d.data = data;
		d.len = split;
		l.data = data + split;
		l.len = size - split;
		lp = &l;
		o.labels_path = fz_path(1);
		fz_write(1, l.data, l.len);
	} else {
		d.data = data;
		d.len = size;
		o.label = NNP_LABEL_NONE;
	}
	o.n_classes = sel & 2 ? 10 : 0;
#else
	static const char delims[8] = { ',', ';', '\t', ' ', '|', ',', ':', 'x' };
	o.header = (nnp_header_mode)(sel & 3) == 3 ? NNP_HEADER_AUTO : (nnp_header_mode)(sel & 3);
	o.label = (nnp_label_mode)((sel >> 2) & 7) > NNP_LABEL_NONE ? NNP_LABEL_FIRST
	                                                           : (nnp_label_mode)((sel >> 2) & 7);
	o.label_index = 1;
	o.label_name = "y";
	o.delimiter = delims[(sel >> 5) & 7];
	if (o.label == NNP_LABEL_NAME && o.header == NNP_HEADER_NO)
		o.header = NNP_HEADER_AUTO;
	d.data = data;
	d.len = size;
#endif
	fz_write(0, d.data, d.len);
	result a, b, c;
	run(&a, &d, lp, 1, &o, NNP_DATA_BUF_MIN, 64);
	run(&b, &d, lp, 1, &o, NNP_DATA_BUF, 7);
	same(&a, &b);
	result_free(&b);
	run(&c, &d, lp, 0, &o, NNP_DATA_BUF, 1000);
	same(&a, &c);
	result_free(&a);
	result_free(&c);
	return 0;
}
