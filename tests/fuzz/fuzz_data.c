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
#include <string.h>

#include "data_priv.h"
#include "fuzz_util.h"

typedef struct result {
	int rc;
	char msg[NNP_ERRMSG_MAX];
	size_t rows, features;
	int labelled;
	int differ;  /* a row or label differed from the reference's */
} result;

/* The rows and labels of the first reading (the reference), and the batch
 * buffers: kept from one execution to the next (fuzz_util.h). */
static fz_arena ref_x, ref_y, batch_x, batch_y;

/* Opens (memory when mem, else the scratch files) and reads every row in
 * batches of `batch`. Without ref, keeps the rows in ref_x/ref_y; with it,
 * compares each batch with the reference's rows as it comes. */
static void run(result *res, const result *ref, const nnp_bytes *data, const nnp_bytes *labels,
                int mem, const nnp_data_opts *o, size_t bufsize, size_t batch)
{
	memset(res, 0, sizeof *res);
	nnp_err err;
	nnp_reader *r = NULL;
	const char *path = fz_path(0);
	int rc = mem ? nnp_reader_open_mem(&r, path, data, labels, o, bufsize, &err)
	             : nnp_reader_open_buf(&r, path, o, bufsize, &err);
	float *xb = NULL;
	int32_t *yb = NULL;
	size_t nf = 0;
	if (!rc) {
		nf = res->features = nnp_reader_features(r);
		res->labelled = nnp_reader_has_labels(r);
		FZ_CHECK(nf >= 1 && nf <= NNP_MAX_COLUMNS);
		/* Wide rows: fewer per batch, so a batch stays at most 1 MiB. */
		if (batch > ((size_t)1 << 18) / nf)
			batch = ((size_t)1 << 18) / nf ? ((size_t)1 << 18) / nf : 1;
		xb = fz_arena_get(&batch_x, batch * nf * sizeof *xb, 0);
		yb = fz_arena_get(&batch_y, batch * sizeof *yb, 0);
	}
	const int same_shape = ref && !ref->rc && ref->features == nf && ref->labelled == res->labelled;
	while (!rc) {
		size_t got;
		rc = nnp_reader_read(r, xb, yb, batch, &got, &err);
		if (rc || got == 0)
			break;
		FZ_CHECK(got <= batch);
		if (!ref) {
			size_t n = res->rows * nf * sizeof *xb;
			float *x = fz_arena_get(&ref_x, n + got * nf * sizeof *xb, n);
			memcpy(x + res->rows * nf, xb, got * nf * sizeof *xb);
			if (res->labelled) {
				int32_t *y = fz_arena_get(&ref_y, (res->rows + got) * sizeof *y,
				                          res->rows * sizeof *y);
				memcpy(y + res->rows, yb, got * sizeof *yb);
			}
		} else if (same_shape && res->rows + got <= ref->rows && !res->differ) {
			const float *x = (const float *)ref_x.p + res->rows * nf;
			res->differ = memcmp(x, xb, got * nf * sizeof *xb) != 0;
			if (res->labelled && !res->differ)
				res->differ =
				    memcmp((const int32_t *)ref_y.p + res->rows, yb, got * sizeof *yb) != 0;
		}
		res->rows += got;
	}
	res->rc = rc;
	if (rc)
		memcpy(res->msg, err.msg, sizeof res->msg);
	fz_arena_done(&batch_x);
	fz_arena_done(&batch_y);
	nnp_reader_close(r);
}

/* b against the reference a: the same status and message and, when both
 * read to the end, the same rows and labels. */
static void same(const result *a, const result *b)
{
	FZ_CHECK(a->rc == b->rc);
	FZ_CHECK(strcmp(a->msg, b->msg) == 0);
	if (a->rc)
		return;  /* rows before an error depend on the batch sizes */
	FZ_CHECK(a->rows == b->rows && a->features == b->features && a->labelled == b->labelled);
	FZ_CHECK(!b->differ);
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
	run(&a, NULL, &d, lp, 1, &o, NNP_DATA_BUF_MIN, 64);
	run(&b, &a, &d, lp, 1, &o, NNP_DATA_BUF, 7);
	same(&a, &b);
	run(&c, &a, &d, lp, 0, &o, NNP_DATA_BUF, 1000);
	same(&a, &c);
	fz_arena_done(&ref_x);
	fz_arena_done(&ref_y);
	return 0;
}
