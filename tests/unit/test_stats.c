/* Statistics: the accumulator against a two-pass double reference, nnp_run
 * over a CSV file (batch size and thread count invariance, metrics,
 * confusion, errors), and the statistics file. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "nnprune/stats.h"
#include "stats_priv.h"
#include "testutil.h"

/* ---------------------------------------------------------- reference */

/* Two-pass double-precision figures of one layer's activations a[rows][n]. */
typedef struct ref_layer {
	size_t n;
	double *mean, *std, *min, *max, *zf;
} ref_layer;

static void ref_compute(ref_layer *R, const float *a, size_t rows, size_t n)
{
	R->n = n;
	R->mean = calloc(n, sizeof(double));
	R->std = calloc(n, sizeof(double));
	R->min = calloc(n, sizeof(double));
	R->max = calloc(n, sizeof(double));
	R->zf = calloc(n, sizeof(double));
	assert_true(R->mean && R->std && R->min && R->max && R->zf);
	for (size_t j = 0; j < n; j++) {
		double s = 0, lo = INFINITY, hi = -INFINITY, z = 0;
		for (size_t r = 0; r < rows; r++) {
			double v = a[r * n + j];
			s += v;
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
			z += v == 0;
		}
		double mu = s / (double)rows, q = 0;
		for (size_t r = 0; r < rows; r++) {
			double d = a[r * n + j] - mu;
			q += d * d;
		}
		R->mean[j] = mu;
		R->std[j] = sqrt(q / (double)rows);
		R->min[j] = lo;
		R->max[j] = hi;
		R->zf[j] = z / (double)rows;
	}
}

static void ref_free(ref_layer *R)
{
	free(R->mean);
	free(R->std);
	free(R->min);
	free(R->max);
	free(R->zf);
}

/* Compares statistics to the reference: mean to tol_mean relative to the
 * spread (|mean| + std), std to tol_std relative, min/max to tol_std
 * relative, zero fractions to within zf_slack. */
static void compare_layer(const nnp_layer_stats *S, const ref_layer *R, double tol_mean,
                          double tol_std, double zf_slack)
{
	assert_int_equal(S->neurons, R->n);
	for (size_t j = 0; j < R->n; j++) {
		double scale = fabs(R->mean[j]) + R->std[j];
		if (fabs(S->mean[j] - R->mean[j]) > tol_mean * scale)
			fail_msg("layer %zu neuron %zu: mean %.17g, want %.17g", S->layer, j, S->mean[j],
			         R->mean[j]);
		if (fabs(S->std[j] - R->std[j]) > tol_std * R->std[j] + 1e-300)
			fail_msg("layer %zu neuron %zu: std %.17g, want %.17g", S->layer, j, S->std[j],
			         R->std[j]);
		if (fabs(S->min[j] - R->min[j]) > tol_std * fabs(R->min[j]) ||
		    fabs(S->max[j] - R->max[j]) > tol_std * fabs(R->max[j]))
			fail_msg("layer %zu neuron %zu: min/max %g %g, want %g %g", S->layer, j,
			         S->min[j], S->max[j], R->min[j], R->max[j]);
		if (fabs(S->zero_fraction[j] - R->zf[j]) > zf_slack)
			fail_msg("layer %zu neuron %zu: zero fraction %.17g, want %.17g", S->layer, j,
			         S->zero_fraction[j], R->zf[j]);
	}
}

static float *random_rows(tu_rng *rng, size_t rows, size_t n, double lo, double hi)
{
	float *x = malloc(rows * n * sizeof *x);
	assert_non_null(x);
	for (size_t i = 0; i < rows * n; i++)
		x[i] = (float)tu_uniform(rng, lo, hi);
	return x;
}

/* Forward of all rows in one batch; acts[l] is a copy of hidden layer l. */
static float **forward_all(const nnp_model *m, const float *x, size_t rows, float **last)
{
	nnp_err err;
	nnp_forward *f = NULL;
	assert_int_equal(nnp_forward_create(&f, m, rows, &err), 0);
	const float *y = nnp_forward_run(f, x, rows);
	float **acts = calloc(m->n_layers, sizeof *acts);
	assert_non_null(acts);
	for (size_t l = 0; l < m->n_layers; l++) {
		size_t bytes = rows * m->layers[l].out * sizeof(float);
		acts[l] = malloc(bytes);
		assert_non_null(acts[l]);
		memcpy(acts[l], nnp_forward_layer(f, l), bytes);
	}
	if (last)
		*last = acts[m->n_layers - 1];
	(void)y;
	nnp_forward_free(f);
	return acts;
}

static void free_acts(float **acts, size_t n)
{
	for (size_t l = 0; l < n; l++)
		free(acts[l]);
	free(acts);
}

/* -------------------------------------------------------- accumulator */

static const size_t net_sizes[] = {10, 300, 16, 12, 5};
static const nnp_act net_acts[] = {NNP_ACT_RELU, NNP_ACT_TANH, NNP_ACT_LEAKY_RELU,
                                   NNP_ACT_SOFTMAX};

static void test_acc_matches_two_pass(void **state)
{
	(void)state;
	nnp_err err;
	tu_case *c = tu_case_seed(7);
	c->m = tu_random_model(&c->rng, 4, net_sizes, net_acts, 0.5);
	size_t rows = 1000;
	float *x = random_rows(&c->rng, rows, 10, -1, 2);
	float **acts = forward_all(c->m, x, rows, NULL);
	ref_layer ref[3];
	for (size_t l = 0; l < 3; l++)
		ref_compute(&ref[l], acts[l], rows, c->m->layers[l].out);

	static const size_t batches[] = {1, 7, 256, 1000};
	for (size_t bi = 0; bi < 4; bi++) {
		/* Batches go round-robin to three accumulators, merged in order,
		 * as nnp_run's workers do. */
		nnp_acc *a[3] = {NULL, NULL, NULL};
		for (int k = 0; k < 3; k++)
			assert_int_equal(nnp_acc_create(&a[k], c->m, &err), 0);
		size_t b = batches[bi], k = 0;
		for (size_t off = 0; off < rows; off += b, k++) {
			size_t n = rows - off < b ? rows - off : b;
			for (size_t l = 0; l < 3; l++)
				nnp_acc_add_layer(a[k % 3], l, acts[l] + off * c->m->layers[l].out, n);
		}
		nnp_acc_merge(a[0], a[1]);
		nnp_acc_merge(a[0], a[2]);
		assert_int_equal(nnp_acc_rows(a[0]), rows);
		nnp_stats *s = NULL;
		assert_int_equal(nnp_stats_create(&s, c->m, &err), 0);
		assert_int_equal(s->n_layers, 3);
		nnp_acc_finish(a[0], s);
		assert_int_equal(s->rows, rows);
		for (size_t l = 0; l < 3; l++) {
			assert_int_equal(s->layers[l].layer, l);
			assert_int_equal(s->layers[l].act, net_acts[l]);
			compare_layer(&s->layers[l], &ref[l], 1e-9, 1e-6, 0);
		}
		nnp_stats_free(s);
		for (int j = 0; j < 3; j++)
			nnp_acc_free(a[j]);
	}
	/* Whole-model adds from a forward workspace: one batch of all rows
	 * gives the very activations the reference saw. */
	nnp_forward *f = NULL;
	nnp_acc *acc = NULL;
	nnp_stats *s = NULL;
	assert_int_equal(nnp_forward_create(&f, c->m, rows, &err), 0);
	assert_int_equal(nnp_acc_create(&acc, c->m, &err), 0);
	assert_int_equal(nnp_stats_create(&s, c->m, &err), 0);
	nnp_forward_run(f, x, rows);
	nnp_acc_add(acc, f, rows);
	nnp_acc_finish(acc, s);
	for (size_t l = 0; l < 3; l++)
		compare_layer(&s->layers[l], &ref[l], 1e-9, 1e-6, 0);
	nnp_stats_free(s);
	nnp_acc_free(acc);
	nnp_forward_free(f);
	/* The relu layer has exact zeros, so the zero fraction was tested. */
	double zsum = 0;
	for (size_t j = 0; j < ref[0].n; j++)
		zsum += ref[0].zf[j];
	assert_true(zsum > 1);
	for (size_t l = 0; l < 3; l++)
		ref_free(&ref[l]);
	free_acts(acts, c->m->n_layers);
	free(x);
	tu_case_free(c);
}

/* A large mean with a tiny spread: a sum of squares would cancel, the
 * two-pass + Chan update must not. */
static void test_acc_large_offset(void **state)
{
	(void)state;
	nnp_err err;
	tu_case *c = tu_case_net(99, "1 4:linear 2:linear", 1);
	size_t rows = 5000;
	float *a = malloc(rows * 4 * sizeof *a);
	assert_non_null(a);
	for (size_t r = 0; r < rows; r++) {
		a[r * 4 + 0] = (float)(10000.0 + tu_uniform(&c->rng, -0.1, 0.1));
		a[r * 4 + 1] = (float)(-3e5 + tu_uniform(&c->rng, -2, 2));
		a[r * 4 + 2] = r % 4 == 0 ? 0.0f : 1.5f;  /* 1/4 zeros, known std */
		a[r * 4 + 3] = 2.25f;                     /* constant: std exactly 0 */
	}
	ref_layer ref;
	ref_compute(&ref, a, rows, 4);
	nnp_acc *acc = NULL;
	assert_int_equal(nnp_acc_create(&acc, c->m, &err), 0);
	for (size_t off = 0; off < rows; off += 333)
		nnp_acc_add_layer(acc, 0, a + off * 4, rows - off < 333 ? rows - off : 333);
	nnp_stats *s = NULL;
	assert_int_equal(nnp_stats_create(&s, c->m, &err), 0);
	nnp_acc_finish(acc, s);
	compare_layer(&s->layers[0], &ref, 1e-9, 1e-6, 0);
	const nnp_layer_stats *L = &s->layers[0];
	assert_true(L->zero_fraction[2] == 0.25);
	assert_true(fabs(L->mean[2] - 1.125) < 1e-15);
	assert_true(fabs(L->std[2] - sqrt(0.25 * 0.75) * 1.5) < 1e-14);
	assert_true(L->mean[3] == 2.25 && L->std[3] == 0 && L->min[3] == 2.25 && L->max[3] == 2.25);
	assert_true(ref.std[0] > 0.05 && ref.std[0] < 0.06);
	nnp_stats_free(s);
	nnp_acc_free(acc);
	ref_free(&ref);
	free(a);
	tu_case_free(c);
}

/* ---------------------------------------------------------------- run */

typedef tu_fixture fixture;

static void write_csv(const char *path, const float *x, const int32_t *y, size_t rows,
                      size_t feats, const char *header)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	if (header)
		fprintf(fp, "%s\n", header);
	for (size_t r = 0; r < rows; r++) {
		if (y)
			fprintf(fp, "%d,", (int)y[r]);
		for (size_t j = 0; j < feats; j++)
			fprintf(fp, "%.9g%s", x[r * feats + j], j + 1 < feats ? "," : "\n");
	}
	assert_int_equal(fclose(fp), 0);
}

static int setup_run(void **state)
{
	fixture *fx = tu_fixture_new();
	tu_rng rng = {2024};
	fx->m = tu_net(&rng, "6 24:relu 12:sigmoid 4:softmax", 0.7);
	fx->d = tu_random_dataset(&rng, 1500, 6, -1, 1, 4);
	fx->csv = tu_path(fx->dir, "val.csv");
	write_csv(fx->csv, fx->d->x, fx->d->y, fx->d->rows, fx->d->features, NULL);
	*state = fx;
	return 0;
}

/* nnp_reader_open on a CSV without header, labels as given. */
static int try_open_csv(const char *path, nnp_label_mode label, nnp_reader **r, nnp_err *err)
{
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.header = NNP_HEADER_NO;
	o.label = label;
	*r = NULL;
	nnp_err_clear(err);
	return nnp_reader_open(r, path, &o, err);
}

static nnp_reader *open_csv(const char *path, nnp_label_mode label)
{
	nnp_reader *r;
	nnp_err err;
	if (try_open_csv(path, label, &r, &err))
		fail_msg("nnp_reader_open: %s", err.msg);
	return r;
}

typedef struct progress_log {
	size_t calls;
	uint64_t last_rows, last_bytes;
	int backwards;
} progress_log;

static void on_progress(void *ctx, uint64_t rows, uint64_t bytes)
{
	progress_log *p = ctx;
	if (rows < p->last_rows || bytes < p->last_bytes)
		p->backwards = 1;
	p->calls++;
	p->last_rows = rows;
	p->last_bytes = bytes;
}

static void run_once(fixture *fx, size_t batch, unsigned threads, nnp_stats **s,
                     nnp_metrics *mt, uint64_t *conf, progress_log *log)
{
	nnp_reader *r = open_csv(fx->csv, NNP_LABEL_FIRST);
	nnp_err err;
	nnp_err_clear(&err);
	nnp_run_opts o = NNP_RUN_OPTS_INIT;
	o.batch = batch;
	o.threads = threads;
	o.progress = on_progress;
	o.progress_ctx = log;
	int rc = nnp_run(fx->m, r, &o, s, mt, conf, &err);
	if (rc)
		fail_msg("nnp_run(batch %zu, threads %u): %s", batch, threads, err.msg);
	nnp_reader_close(r);
}

static void test_run_invariance(void **state)
{
	fixture *fx = *state;
	const nnp_model *m = fx->m;
	float *out = NULL;
	float **acts = forward_all(m, fx->d->x, fx->d->rows, &out);
	ref_layer ref[2];
	for (size_t l = 0; l < 2; l++)
		ref_compute(&ref[l], acts[l], fx->d->rows, m->layers[l].out);
	nnp_metrics want;
	memset(&want, 0, sizeof want);
	uint64_t want_conf[16] = {0};
	nnp_metrics_add(&want, NNP_ACT_SOFTMAX, out, fx->d->rows, 4, fx->d->y, NULL, want_conf);

	static const size_t batch[] = {1, 7, 7, 7, 256, 256, 0};
	static const unsigned threads[] = {1, 1, 2, 3, 1, 3, 2};
	nnp_stats *first = NULL;
	nnp_metrics first_mt;
	memset(&first_mt, 0, sizeof first_mt);
	for (size_t k = 0; k < 7; k++) {
		nnp_stats *s = NULL;
		nnp_metrics mt;
		uint64_t conf[16] = {0};
		progress_log log = {0, 0, 0, 0};
		run_once(fx, batch[k], threads[k], &s, &mt, conf, &log);
		assert_non_null(s);
		assert_int_equal(s->rows, fx->d->rows);
		assert_int_equal(mt.rows, fx->d->rows);
		assert_int_equal(mt.labelled, fx->d->rows);
		assert_int_equal(s->metrics.correct, mt.correct);
		assert_true(s->metrics.loss_sum == mt.loss_sum);
		assert_int_equal(mt.correct, want.correct);
		assert_true(fabs(mt.loss_sum - want.loss_sum) <= 1e-9 * want.loss_sum);
		for (int i = 0; i < 16; i++)
			assert_int_equal(conf[i], want_conf[i]);
		assert_true(log.calls >= 1);
		assert_int_equal(log.last_rows, fx->d->rows);
		assert_true(log.last_bytes > 0);
		assert_false(log.backwards);
		for (size_t l = 0; l < 2; l++)
			compare_layer(&s->layers[l], &ref[l], 1e-6, 1e-6, 1.0 / (double)fx->d->rows);
		if (k == 1) {
			first = s;
			first_mt = mt;
			continue;
		}
		if (batch[k] == 7) {
			/* Same batches, other thread counts: metrics bit-identical,
			 * statistics equal up to the rounding of the final merge. */
			assert_true(mt.loss_sum == first_mt.loss_sum);
			assert_int_equal(mt.correct, first_mt.correct);
			for (size_t l = 0; l < 2; l++) {
				const nnp_layer_stats *A = &s->layers[l], *B = &first->layers[l];
				for (size_t j = 0; j < A->neurons; j++) {
					assert_true(fabs(A->mean[j] - B->mean[j]) <=
					            1e-12 * (fabs(B->mean[j]) + B->std[j]));
					assert_true(fabs(A->std[j] - B->std[j]) <= 1e-10 * B->std[j]);
					assert_true(A->min[j] == B->min[j] && A->max[j] == B->max[j]);
					assert_true(A->zero_fraction[j] == B->zero_fraction[j]);
				}
			}
		}
		nnp_stats_free(s);
	}
	nnp_stats_free(first);
	for (size_t l = 0; l < 2; l++)
		ref_free(&ref[l]);
	free_acts(acts, m->n_layers);
}

static void stats_identical(const nnp_stats *a, const nnp_stats *b)
{
	assert_int_equal(a->rows, b->rows);
	assert_int_equal(a->n_layers, b->n_layers);
	for (size_t l = 0; l < a->n_layers; l++) {
		const nnp_layer_stats *A = &a->layers[l], *B = &b->layers[l];
		size_t bytes = A->neurons * sizeof(double);
		assert_int_equal(A->neurons, B->neurons);
		assert_memory_equal(A->mean, B->mean, bytes);
		assert_memory_equal(A->std, B->std, bytes);
		assert_memory_equal(A->min, B->min, bytes);
		assert_memory_equal(A->max, B->max, bytes);
		assert_memory_equal(A->zero_fraction, B->zero_fraction, bytes);
	}
}

/* The in-memory path gives bit for bit what streaming the same rows gives. */
static void test_run_dataset(void **state)
{
	fixture *fx = *state;
	nnp_dataset d = *fx->d;
	nnp_run_opts o = NNP_RUN_OPTS_INIT;
	o.threads = 3;
	o.batch = 13;
	nnp_stats *a = NULL, *b = NULL;
	nnp_metrics ma, mb;
	uint64_t ca[16] = {0}, cb[16] = {0};
	nnp_err err;
	nnp_err_clear(&err);
	progress_log log = {0, 0, 0, 0};
	o.progress = on_progress;
	o.progress_ctx = &log;
	if (nnp_run_dataset(fx->m, &d, &o, &a, &ma, ca, &err))
		fail_msg("nnp_run_dataset: %s", err.msg);
	assert_int_equal(log.last_rows, fx->d->rows);
	nnp_reader *r = open_csv(fx->csv, NNP_LABEL_FIRST);
	assert_int_equal(nnp_run(fx->m, r, &o, &b, &mb, cb, &err), 0);
	nnp_reader_close(r);
	stats_identical(a, b);
	assert_int_equal(ma.correct, mb.correct);
	assert_true(ma.loss_sum == mb.loss_sum);
	assert_memory_equal(ca, cb, sizeof ca);
	nnp_stats_free(a);
	nnp_stats_free(b);

	/* Unlabelled, and the errors. */
	d.y = NULL;
	assert_int_equal(nnp_run_dataset(fx->m, &d, &o, NULL, &ma, NULL, &err), 0);
	assert_int_equal(ma.labelled, 0);
	assert_int_equal(ma.rows, fx->d->rows);
	nnp_dataset empty = {0, fx->d->features, NULL, NULL};
	a = (nnp_stats *)fx;
	assert_int_equal(nnp_run_dataset(fx->m, &empty, &o, &a, &ma, NULL, &err), NNP_EINPUT);
	assert_null(a);
	tu_expect_msg(&err, "no data rows");
	int32_t *y = malloc(fx->d->rows * sizeof *y);
	assert_non_null(y);
	memcpy(y, fx->d->y, fx->d->rows * sizeof *y);
	y[fx->d->rows - 1] = -3;
	nnp_dataset bad = {fx->d->rows, fx->d->features, fx->d->x, y};
	assert_int_equal(nnp_run_dataset(fx->m, &bad, &o, NULL, &ma, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "data row 1500: label -3 is out of range");
	free(y);
	nnp_dataset narrow = {fx->d->rows, 5, fx->d->x, NULL};
	assert_int_equal(nnp_run_dataset(fx->m, &narrow, &o, NULL, &ma, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "5 features");
	o.threads = 5000;
	assert_int_equal(nnp_run_dataset(fx->m, &d, &o, NULL, &ma, NULL, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "5000 threads");
}

static void test_run_metrics_only(void **state)
{
	fixture *fx = *state;
	nnp_reader *r = open_csv(fx->csv, NNP_LABEL_FIRST);
	nnp_metrics mt;
	nnp_err err;
	nnp_run_opts o = NNP_RUN_OPTS_INIT;
	o.threads = 2;
	o.batch = 100;
	assert_int_equal(nnp_run(fx->m, r, &o, NULL, &mt, NULL, &err), 0);
	assert_int_equal(mt.rows, fx->d->rows);
	assert_true(mt.correct > 0 && mt.correct < fx->d->rows);
	nnp_reader_close(r);
}

static void test_run_unlabelled(void **state)
{
	fixture *fx = *state;
	char *path = tu_path(fx->dir, "nolabel.csv");
	write_csv(path, fx->d->x, NULL, 300, fx->d->features, NULL);
	nnp_reader *r = open_csv(path, NNP_LABEL_NONE);
	nnp_stats *s = NULL;
	nnp_metrics mt;
	uint64_t conf[16] = {0};
	nnp_err err;
	nnp_run_opts o = NNP_RUN_OPTS_INIT;
	o.threads = 2;
	o.batch = 64;
	assert_int_equal(nnp_run(fx->m, r, &o, &s, &mt, conf, &err), 0);
	assert_int_equal(mt.rows, 300);
	assert_int_equal(mt.labelled, 0);
	assert_true(nnp_metrics_accuracy(&mt) == 0);
	assert_int_equal(s->rows, 300);
	for (int i = 0; i < 16; i++)
		assert_int_equal(conf[i], 0);
	float **acts = forward_all(fx->m, fx->d->x, 300, NULL);
	ref_layer ref;
	ref_compute(&ref, acts[0], 300, fx->m->layers[0].out);
	compare_layer(&s->layers[0], &ref, 1e-6, 1e-6, 1.0 / 300);
	ref_free(&ref);
	free_acts(acts, fx->m->n_layers);
	nnp_stats_free(s);
	nnp_reader_close(r);
	free(path);
}

static void expect_run_error(fixture *fx, const char *path, nnp_label_mode label,
                             const nnp_model *m, int status, const char *msg)
{
	nnp_reader *r;
	nnp_err err;
	int rc = try_open_csv(path, label, &r, &err);
	if (rc == 0) {
		nnp_stats *s = (nnp_stats *)fx;
		nnp_metrics mt;
		rc = nnp_run(m, r, NULL, &s, &mt, NULL, &err);
		assert_null(s);
		nnp_reader_close(r);
	}
	assert_int_equal(rc, status);
	tu_expect_msg(&err, msg);
}

static void test_run_errors(void **state)
{
	fixture *fx = *state;
	/* 5 features against a model that expects 6. */
	char *p1 = tu_path(fx->dir, "five.csv");
	write_csv(p1, fx->d->x, fx->d->y, 20, 5, NULL);
	expect_run_error(fx, p1, NNP_LABEL_FIRST, fx->m, NNP_EINPUT,
	                 "the data has 5 features per row but the model expects 6 inputs");
	/* A label the 4-output model has no class for, in the second chunk. */
	char *p2 = tu_path(fx->dir, "badlabel.csv");
	int32_t *y = malloc(fx->d->rows * sizeof *y);
	assert_non_null(y);
	memcpy(y, fx->d->y, fx->d->rows * sizeof *y);
	y[1234] = 9;
	write_csv(p2, fx->d->x, y, fx->d->rows, fx->d->features, NULL);
	expect_run_error(fx, p2, NNP_LABEL_FIRST, fx->m, NNP_EINPUT,
	                 "data row 1235: label 9 is out of range for a model with 4 outputs");
	/* No data rows at all (the reader or nnp_run says so, once). */
	char *p3 = tu_path(fx->dir, "empty.csv");
	tu_write(p3, "", 0);
	expect_run_error(fx, p3, NNP_LABEL_FIRST, fx->m, NNP_EINPUT, "no data rows");
	free(y);
	free(p1);
	free(p2);
	free(p3);
}

/* --------------------------------------------------------- stats file */

/* Statistics with awkward doubles: thirds, tiny and huge magnitudes, -0. */
static nnp_stats *sample_stats(tu_rng *rng)
{
	static const size_t neurons[] = {3, 5};
	static const nnp_act acts[] = {NNP_ACT_RELU, NNP_ACT_LEAKY_RELU};
	nnp_stats *s = NULL;
	nnp_err err;
	assert_int_equal(nnp_stats_alloc(&s, 2, neurons, acts, &err), 0);
	s->rows = 1000;
	s->metrics.rows = 1000;
	s->metrics.labelled = 1000;
	s->metrics.correct = 887;
	s->metrics.loss_sum = 250;   /* loss 0.25: exact both ways */
	s->metrics.mse = 0;
	for (size_t l = 0; l < 2; l++) {
		nnp_layer_stats *L = &s->layers[l];
		for (size_t j = 0; j < L->neurons; j++) {
			L->mean[j] = tu_uniform(rng, -1, 1) / 3;
			L->std[j] = j == 0 ? 0.5 * (double)l : tu_uniform(rng, 0, 1) * 1e-7;
			L->min[j] = j == 1 ? -0.0 : -tu_uniform(rng, 0, 1e30);
			L->max[j] = tu_uniform(rng, 0, 1e30);
			L->zero_fraction[j] = (double)j / 7;
		}
	}
	return s;
}

static void sample_source(nnp_stats_source *src)
{
	static const nnp_data_opts d0 = NNP_DATA_OPTS_INIT;
	memset(src, 0, sizeof *src);
	src->model_path = "dir/mo\"del\\1.bin";
	src->model_bytes = 2269736;
	src->model_crc32 = 0x89abcdefu;
	src->data_path = "tab\there.csv";
	src->data_bytes = 1ull << 40;
	src->data_crc32 = 0x0000000fu;
	src->data_opts = d0;
	src->data_opts.header = NNP_HEADER_YES;
	src->data_opts.label = NNP_LABEL_NAME;
	src->data_opts.label_name = "class \"y\"";
	src->data_opts.delimiter = ';';
}

static void test_stats_file_round_trip(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	tu_rng rng = {5};
	nnp_err err;
	nnp_err_clear(&err);
	/* In the working directory, relative paths read back as written. */
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(dir), 0);
	char *path = strdup("nnprune.stats.json");
	nnp_stats *s = sample_stats(&rng);
	nnp_stats_source src;
	sample_source(&src);
	assert_int_equal(nnp_stats_save(s, &src, path, &err), 0);

	nnp_stats *t = NULL;
	nnp_stats_source got;
	if (nnp_stats_load(&t, &got, path, &err))
		fail_msg("load: %s", err.msg);
	assert_int_equal(t->rows, 1000);
	assert_int_equal(t->n_layers, 2);
	assert_int_equal(t->metrics.correct, 887);
	assert_int_equal(t->metrics.labelled, 1000);
	assert_int_equal(t->metrics.rows, 1000);
	assert_int_equal(t->metrics.mse, 0);
	assert_true(t->metrics.loss_sum == 250);
	for (size_t l = 0; l < 2; l++) {
		const nnp_layer_stats *A = &s->layers[l], *B = &t->layers[l];
		assert_int_equal(B->layer, l);
		assert_int_equal(B->neurons, A->neurons);
		assert_int_equal(B->act, A->act);
		/* %.17g reads back bit-identical. */
		assert_memory_equal(A->mean, B->mean, A->neurons * sizeof(double));
		assert_memory_equal(A->std, B->std, A->neurons * sizeof(double));
		assert_memory_equal(A->min, B->min, A->neurons * sizeof(double));
		assert_memory_equal(A->max, B->max, A->neurons * sizeof(double));
		assert_memory_equal(A->zero_fraction, B->zero_fraction, A->neurons * sizeof(double));
	}
	assert_string_equal(got.model_path, src.model_path);
	assert_int_equal(got.model_bytes, src.model_bytes);
	assert_int_equal(got.model_crc32, src.model_crc32);
	assert_string_equal(got.data_path, src.data_path);
	assert_int_equal(got.data_bytes, src.data_bytes);
	assert_int_equal(got.data_crc32, src.data_crc32);
	assert_null(got.labels_path);
	assert_int_equal(got.data_opts.header, NNP_HEADER_YES);
	assert_int_equal(got.data_opts.label, NNP_LABEL_NAME);
	assert_string_equal(got.data_opts.label_name, "class \"y\"");
	assert_ptr_equal(got.data_opts.label_name, got.label_name_buf);
	assert_int_equal(got.data_opts.delimiter, ';');
	assert_null(got.data_opts.labels_path);

	/* Writing what was read gives the same bytes. */
	char *a = nnp_stats_to_json(s, &src);
	char *b = nnp_stats_to_json(t, &got);
	assert_non_null(a);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "\"crc32\": \"89abcdef\""));
	assert_non_null(strstr(a, "\"crc32\": \"0000000f\""));
	assert_non_null(strstr(a, "\"format\": \"nnprune-stats\""));
	assert_non_null(strstr(a, "\"tool\": \"nnprune " NNP_VERSION "\""));
	free(a);
	free(b);
	nnp_stats_free(t);
	nnp_stats_source_free(&got);
	nnp_stats_source_free(&got);  /* a second free is harmless */

	/* IDX-style source with a labels file, a column-index label, MSE loss. */
	src.labels_path = "train-labels-idx1-ubyte.gz";
	src.labels_bytes = 60008;
	src.labels_crc32 = 0xdeadbeefu;
	src.data_opts.label = NNP_LABEL_INDEX;
	src.data_opts.label_index = 17;
	src.data_opts.header = NNP_HEADER_NO;
	s->metrics.mse = 1;
	assert_int_equal(nnp_stats_save(s, &src, path, &err), 0);
	assert_int_equal(nnp_stats_load(&t, &got, path, &err), 0);
	assert_string_equal(got.labels_path, src.labels_path);
	assert_ptr_equal(got.data_opts.labels_path, got.labels_path);
	assert_int_equal(got.labels_bytes, 60008);
	assert_int_equal(got.labels_crc32, 0xdeadbeefu);
	assert_int_equal(got.data_opts.label, NNP_LABEL_INDEX);
	assert_int_equal(got.data_opts.label_index, 17);
	assert_int_equal(got.data_opts.header, NNP_HEADER_NO);
	assert_null(got.data_opts.label_name);
	assert_int_equal(t->metrics.mse, 1);
	nnp_stats_free(t);
	nnp_stats_source_free(&got);

	/* Values JSON cannot hold are refused, naming the layer. */
	s->layers[1].std[2] = NAN;
	assert_null(nnp_stats_to_json(s, &src));
	assert_int_equal(nnp_stats_save(s, &src, path, &err), NNP_EINPUT);
	tu_expect_msg(&err, "layer 1: a \"std\" value is not finite");
	s->layers[1].std[2] = 1;
	/* An unwritable place is an output error. */
	char *bad = tu_file(*state, "missing/dir/x.json");
	assert_int_equal(nnp_stats_save(s, &src, bad, &err), NNP_EOUTPUT);

	nnp_stats_free(s);

	/* A model without hidden layers has an empty "layers" list. */
	assert_int_equal(nnp_stats_alloc(&s, 0, NULL, NULL, &err), 0);
	s->rows = 3;
	s->metrics.rows = 3;
	assert_int_equal(nnp_stats_save(s, &src, path, &err), 0);
	assert_int_equal(nnp_stats_load(&t, &got, path, &err), 0);
	assert_int_equal(t->n_layers, 0);
	assert_int_equal(t->rows, 3);
	nnp_stats_free(t);
	nnp_stats_source_free(&got);
	nnp_stats_free(s);
	assert_int_equal(chdir(cwd), 0);
	free(path);
}

/* Relative paths in a statistics file are relative to its directory; an
 * error about one of them can say where it came from. */
static void test_stats_file_paths(void **state)
{
	tu_rng rng = {6};
	nnp_err err;
	nnp_err_clear(&err);
	char *sub = tu_file(*state, "sub");
	assert_int_equal(mkdir(sub, 0755), 0);
	char *path = tu_path(sub, "x.stats.json");
	nnp_stats *s = sample_stats(&rng), *t = NULL;
	nnp_stats_source src, got;
	sample_source(&src);
	src.model_path = "m.bin";
	src.data_path = "../d.csv";
	src.labels_path = "/abs/labels.gz";
	assert_int_equal(nnp_stats_save(s, &src, path, &err), 0);
	assert_int_equal(nnp_stats_load(&t, &got, path, &err), 0);
	char *want_m = tu_path(sub, "m.bin"), *want_d = tu_path(sub, "../d.csv");
	assert_string_equal(got.model_path, want_m);
	assert_string_equal(got.data_path, want_d);
	assert_string_equal(got.labels_path, "/abs/labels.gz");
	assert_ptr_equal(got.data_opts.labels_path, got.labels_path);

	nnp_err_set(&err, NNP_EINPUT, "%s: cannot open: No such file or directory", want_d);
	assert_int_equal(nnp_stats_note_origin(&err, &got, path), 1);
	char want[4096];
	snprintf(want, sizeof want, "%s: cannot open: No such file or directory (from %s)", want_d,
	         path);
	assert_string_equal(err.msg, want);
	nnp_err_set(&err, NNP_EINPUT, "other.bin: cannot open");
	assert_int_equal(nnp_stats_note_origin(&err, &got, path), 0);
	assert_string_equal(err.msg, "other.bin: cannot open");
	/* A path that only starts like one of them is not it. */
	nnp_err_set(&err, NNP_EINPUT, "%s.gz: cannot open", want_m);
	assert_int_equal(nnp_stats_note_origin(&err, &got, path), 0);

	free(want_m);
	free(want_d);
	nnp_stats_free(t);
	nnp_stats_source_free(&got);
	nnp_stats_free(s);
	free(path);
}

/* Replaces the first occurrence of `from` in text (malloc'd result). */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	if (!at)
		fail_msg("fixture lacks \"%s\"", from);
	size_t a = (size_t)(at - text), lf = strlen(from), lt = strlen(to), n = strlen(text);
	char *out = malloc(n - lf + lt + 1);
	assert_non_null(out);
	memcpy(out, text, a);
	memcpy(out + a, to, lt);
	memcpy(out + a + lt, at + lf, n - a - lf + 1);
	return out;
}

static void expect_load_error(const char *path, const char *text, const char *msg)
{
	tu_write(path, text, strlen(text));
	nnp_stats *s = (nnp_stats *)(uintptr_t)1;
	nnp_stats_source src;
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_stats_load(&s, &src, path, &err), NNP_EINPUT);
	assert_null(s);
	assert_null(src.model_path);
	assert_null(src.data_path);
	tu_expect_msg(&err, msg);
	assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
}

static void test_stats_file_errors(void **state)
{
	tu_rng rng = {11};
	char *path = tu_file(*state, "stats.json");
	nnp_stats *s = sample_stats(&rng);
	nnp_stats_source src;
	sample_source(&src);
	src.data_opts.label = NNP_LABEL_FIRST;
	char *good = nnp_stats_to_json(s, &src);
	assert_non_null(good);
	/* The fixture itself loads. */
	tu_write(path, good, strlen(good));
	nnp_stats *t = NULL;
	nnp_stats_source got;
	nnp_err err;
	assert_int_equal(nnp_stats_load(&t, &got, path, &err), 0);
	nnp_stats_free(t);
	nnp_stats_source_free(&got);

	static const struct {
		const char *from, *to, *msg;
	} cases[] = {
		{ "\"std\": [0.5, ", "\"std\": [",
		  "layers[1]: \"std\" must be an array of 5 numbers" },
		{ "\"std\": [0, ", "\"std\": [\"0\", ",
		  "layers[0]: \"std\" must be an array of 3 numbers" },
		{ "\"std\": [0, ", "\"std\": [-1, ",
		  "layers[0]: neuron 0: \"std\" is negative" },
		{ "\"std\": [0, ", "\"sd\": [0, ",
		  "layers[0]: \"std\" must be an array of 3 numbers" },
		{ "\"model\": {", "\"modle\": {",
		  "\"model\" is missing" },
		{ "\"crc32\": \"89abcdef\"", "\"crc32\": \"89abcdeg\"",
		  "model: \"crc32\" must be 8 hex digits" },
		{ "\"crc32\": \"89abcdef\"", "\"crc32\": \"89abcde\"",
		  "model: \"crc32\" must be 8 hex digits" },
		{ "\"crc32\": \"89abcdef\"", "\"crc32\": 12345678",
		  "model: \"crc32\" must be a string" },
		{ "\"rows\": 1000", "\"rows\": \"1000\"",
		  "data: \"rows\" must be a number" },
		{ "\"rows\": 1000", "\"rows\": 0",
		  "data: \"rows\" must be at least 1" },
		{ "\"rows\": 1000", "\"rows\": 1.5",
		  "data: \"rows\" must be a whole number" },
		{ "\"format\": \"nnprune-stats\"", "\"format\": \"other\"",
		  "\"format\" must be" },
		{ "\"version\": 1", "\"version\": 2",
		  "version 2 is not supported" },
		{ "\"layer\": 1,", "\"layer\": 2,",
		  "layers[1]: \"layer\" is 2, expected 1" },
		{ "\"activation\": \"relu\"", "\"activation\": \"softmax\"",
		  "layers[0]: \"activation\" \"softmax\" is not a hidden layer activation" },
		{ "\"neurons\": 3", "\"neurons\": 4",
		  "layers[0]: \"mean\" must be an array of 4 numbers" },
		{ "\"labelled\": 1000", "\"labelled\": 1001",
		  "metrics: \"labelled\" must be a whole" },
		{ "\"loss_kind\": \"cross_entropy\"", "\"loss_kind\": \"l1\"",
		  "metrics: \"loss_kind\" must be" },
		{ "\"header\": \"yes\"", "\"header\": \"maybe\"",
		  "data: options: \"header\" must be" },
		{ "\"label\": \"first\"", "\"label\": \"12x\"",
		  "data: options: \"label\" must be" },
		{ "\"label\": \"first\"", "\"label\": \"name\"",
		  "data: options: \"label_name\" is missing" },
		{ "\"delimiter\": \";\"", "\"delimiter\": \";;\"",
		  "\"delimiter\" must be one character" },
		{ "\"format\"", "\"layers\": 5, \"format\"",
		  "duplicate key \"layers\"" },
		{ "\"layers\": [", "\"layers\": {",
		  "invalid JSON" },
		{ "\n}\n", "\n}\n}",
		  "invalid JSON" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = replace(good, cases[i].from, cases[i].to);
		expect_load_error(path, text, cases[i].msg);
		free(text);
	}
	/* The line:column of a syntax error. */
	expect_load_error(path, "{\n  \"format\": ,\n}", ":2:13: invalid JSON");
	expect_load_error(path, "[1, 2]", "the document must be a JSON object");
	expect_load_error(path, "", "invalid JSON");
	/* Objects with absurdly many keys are refused before any pairwise work. */
	char *many = malloc(1100 * 16 + 8);
	assert_non_null(many);
	size_t len = 0;
	many[len++] = '{';
	for (int i = 0; i < 1100; i++)
		len += (size_t)sprintf(many + len, "%s\"k%d\": 0", i ? ", " : "", i);
	strcpy(many + len, "}");
	expect_load_error(path, many, "more than 1024 keys in an object");
	free(many);
	/* A label index written as a JSON number is accepted. */
	char *num = replace(good, "\"label\": \"first\"", "\"label\": 4");
	tu_write(path, num, strlen(num));
	assert_int_equal(nnp_stats_load(&t, &got, path, &err), 0);
	assert_int_equal(got.data_opts.label, NNP_LABEL_INDEX);
	assert_int_equal(got.data_opts.label_index, 4);
	nnp_stats_free(t);
	nnp_stats_source_free(&got);
	free(num);

	char *missing = tu_file(*state, "nope.json");
	t = NULL;
	assert_int_equal(nnp_stats_load(&t, &got, missing, &err), NNP_EINPUT);
	tu_expect_msg(&err, "nope.json: cannot open");

	free(good);
	nnp_stats_free(s);
}

static void test_stats_create_shape(void **state)
{
	(void)state;
	tu_case *c = tu_case_seed(3);
	nnp_err err;
	c->m = tu_random_model(&c->rng, 4, net_sizes, net_acts, 1);
	nnp_stats *s = NULL;
	assert_int_equal(nnp_stats_create(&s, c->m, &err), 0);
	assert_int_equal(s->n_layers, 3);
	assert_int_equal(s->layers[0].neurons, 300);
	assert_int_equal(s->layers[1].neurons, 16);
	assert_int_equal(s->layers[2].neurons, 12);
	assert_true(s->layers[2].mean[11] == 0 && s->layers[2].zero_fraction[11] == 0);
	nnp_stats_free(s);
	nnp_stats_free(NULL);
	static const size_t bad[] = {0};
	static const nnp_act ba[] = {NNP_ACT_RELU};
	assert_int_equal(nnp_stats_alloc(&s, 1, bad, ba, &err), NNP_EUSAGE);
	assert_null(s);
	tu_case_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acc_matches_two_pass),
		cmocka_unit_test(test_acc_large_offset),
		cmocka_unit_test(test_stats_create_shape),
		TU_DIR_TEST(test_stats_file_round_trip),
		TU_DIR_TEST(test_stats_file_errors),
		cmocka_unit_test_setup_teardown(test_run_invariance, setup_run, tu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_run_dataset, setup_run, tu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_run_metrics_only, setup_run, tu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_run_unlabelled, setup_run, tu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_run_errors, setup_run, tu_fixture_teardown),
		TU_DIR_TEST(test_stats_file_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
