/* First-order Taylor importance: mean over labelled rows of |a_j * dL/da_j|
 * per hidden neuron, through the shared forward/backward engine, blocks of
 * rows on the one parallel-for, their sums added in block order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/backprop.h"
#include "nnprune/criteria.h"
#include "nnprune/forward.h"
#include "nnprune/rows.h"
#include "method_priv.h"
#include "mem.h"

typedef struct tay_job {
	const nnp_model *m;
	const float *x;       /* the chunk at hand */
	const int32_t *y;
	size_t rows;
	size_t batch, l0, l1;
	size_t *off;          /* [hidden layers] offset of layer l's sums (l0 <= l < l1) */
	size_t len;           /* doubles of sums */
	nnp_backprop *ws;     /* [workers] */
	double *part;         /* [workers][len] */
	double *acc;          /* [len] */
} tay_job;

typedef struct tay_cb {
	const tay_job *J;
	double *part;
} tay_cb;

static void on_dact(void *ctx, size_t layer, const float *a, const float *da, size_t rows,
                    size_t width)
{
	tay_cb *cb = ctx;
	if (layer < cb->J->l0 || layer >= cb->J->l1)
		return;
	double *s = cb->part + cb->J->off[layer];
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < width; j++)
			s[j] += fabs((double)a[r * width + j] * (double)da[r * width + j]);
}

static void tay_task(void *ctx, size_t b, unsigned worker)
{
	tay_job *J = ctx;
	const nnp_model *m = J->m;
	nnp_backprop *w = &J->ws[worker];
	size_t F = m->input_size, r0 = b * J->batch;
	size_t n = J->rows - r0 < J->batch ? J->rows - r0 : J->batch;
	for (size_t r = 0; r < n; r++)
		nnp_backprop_input(&m->layers[0], J->x + (r0 + r) * F, w->x + r * F, 1.0f);
	memcpy(w->y, J->y + r0, n * sizeof *w->y);
	nnp_backprop_forward(w, m, n);
	double loss;
	uint64_t hits;
	/* inv_n 1: each row's gradient is that of its own loss. */
	nnp_backprop_loss(w, m, n, 1.0f, &loss, &hits);
	tay_cb cb = { J, J->part + (size_t)worker * J->len };
	memset(cb.part, 0, J->len * sizeof *cb.part);
	nnp_backprop_backward(w, m, n, NULL, on_dact, &cb);
}

static void tay_merge(void *ctx, size_t b, unsigned worker)
{
	(void)b;
	tay_job *J = ctx;
	const double *p = J->part + (size_t)worker * J->len;
	for (size_t i = 0; i < J->len; i++)
		J->acc[i] += p[i];
}

static const char no_labels[] = "taylor: calibration set: the rows have no labels (the "
                                "gradient of the loss needs them)";

/* The chunks of the source through the pool; *seen the rows. Chunks are
 * whole blocks, so the blocks and their order are those of the rows in one
 * piece. */
static int run_chunks(tay_job *J, const nnp_rows_spec *src, nnp_pool *pool, uint64_t *seen,
                      nnp_err *err)
{
	nnp_rows_spec sp = *src;
	sp.labels = 1;
	sp.outputs = nnp_model_outputs(J->m);
	nnp_rows *rs = NULL;
	int rc = nnp_rows_open(&rs, &sp, err);
	if (!rc && !nnp_rows_labelled(rs))
		rc = nnp_err_set(err, NNP_EINPUT, no_labels);
	while (!rc) {
		nnp_chunk ch;
		if ((rc = nnp_rows_next(rs, &ch, err)) || ch.rows == 0)
			break;
		if (!ch.y) {
			rc = nnp_err_set(err, NNP_EINPUT, no_labels);
			break;
		}
		J->x = ch.x;
		J->y = ch.y;
		J->rows = ch.rows;
		*seen += ch.rows;
		nnp_pfor_job job = { tay_task, tay_merge, J };
		nnp_pool_for(pool, (ch.rows - 1) / J->batch + 1, &job);
	}
	nnp_rows_free(rs);
	return rc;
}

int nnp_mth_taylor(const nnp_model *m, const nnp_rows_spec *src, nnp_pool *pool, size_t batch,
                   size_t l0, size_t l1, double *const *scores, nnp_err *err)
{
	if (batch > nnp_backprop_max_rows(m))
		batch = nnp_backprop_max_rows(m);
	unsigned W = nnp_pool_size(pool);
	tay_job J = { .m = m, .batch = batch, .l0 = l0, .l1 = l1 };
	J.off = calloc(m->n_layers, sizeof *J.off);
	J.ws = calloc(W, sizeof *J.ws);
	int rc = NNP_ENOMEM;
	if (!J.off || !J.ws)
		goto done;
	for (size_t l = l0; l < l1; l++) {
		J.off[l] = J.len;
		J.len += m->layers[l].out;
	}
	J.part = calloc((size_t)W * J.len + 1, sizeof *J.part);
	J.acc = calloc(J.len + 1, sizeof *J.acc);
	if (!J.part || !J.acc)
		goto done;
	for (unsigned t = 0; t < W; t++)
		if ((rc = nnp_backprop_init(&J.ws[t], m, batch, 0)) != NNP_OK)
			goto done;
	uint64_t seen = 0;
	if ((rc = run_chunks(&J, src, pool, &seen, err)))
		goto out;
	if (seen == 0) {
		rc = nnp_err_set(err, NNP_EINPUT, "taylor: calibration set: no rows");
		goto out;
	}
	for (size_t l = l0; l < l1 && !rc; l++)
		for (size_t j = 0; j < m->layers[l].out; j++) {
			double v = J.acc[J.off[l] + j] / (double)seen;
			if (!isfinite(v)) {
				rc = nnp_err_set(err, NNP_EINPUT, "taylor: hidden layer %zu: neuron %zu: the "
				                 "score is not finite (activations or gradients overflowed)",
				                 l, j);
				break;
			}
			scores[l][j] = v;
		}
	goto out;
done:
	if (rc == NNP_ENOMEM || rc == NNP_EUSAGE)
		rc = nnp_err_set(err, rc, "taylor: cannot allocate buffers for %zu-row blocks", batch);
out:
	if (J.ws)
		for (unsigned t = 0; t < W; t++)
			nnp_backprop_free(&J.ws[t]);
	NNP_FREE_ALL(J.ws, J.off, J.part, J.acc);
	return rc;
}

int nnp_taylor_scores(const nnp_model *m, const nnp_dataset *d, unsigned threads, size_t batch,
                      double *const *scores, nnp_err *err)
{
	if (!m || m->n_layers < 2)
		return nnp_err_set(err, NNP_EUSAGE, "taylor: the model has no hidden layer");
	if (threads > NNP_MAX_THREADS)
		return nnp_err_set(err, NNP_EUSAGE, "taylor: threads %u: at most %u are allowed",
		                   threads, NNP_MAX_THREADS);
	if (batch > NNP_METHOD_MAX_BATCH)
		return nnp_err_set(err, NNP_EUSAGE, "taylor: batch of %zu rows: at most %u are allowed",
		                   batch, NNP_METHOD_MAX_BATCH);
	int rc = nnp_mth_check_rows(m, d, "taylor: ", err);
	if (rc)
		return rc;
	if (!d->y)
		return nnp_err_set(err, NNP_EINPUT, no_labels);
	batch = batch ? batch : NNP_METHOD_BATCH;
	size_t blocks = (d->rows - 1) / batch + 1;
	unsigned t = nnp_threads_resolve(threads);
	if (t > blocks)
		t = (unsigned)blocks;
	nnp_pool *pool = NULL;
	if (nnp_pool_create(&pool, t, 0, err))
		return nnp_err_set(err, NNP_ENOMEM, "taylor: cannot start %u threads", t);
	nnp_blas_single_thread();
	nnp_rows_spec sp = { 0 };
	sp.data = d;
	sp.chunk_rows = d->rows;
	rc = nnp_mth_taylor(m, &sp, pool, batch, 0, m->n_layers - 1, scores, err);
	nnp_pool_free(pool);
	return rc;
}
