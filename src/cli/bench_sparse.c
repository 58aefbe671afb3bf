/* nnprune bench: the sparse kernel against the dense one, per layer and for
 * whole models (bench.h). */
#define _DEFAULT_SOURCE 1 /* wait4 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cJSON.h>

#include "bench.h"
#include "cli.h"
#include "nnprune/forward.h"
#include "nnprune/io.h"
#include "nnprune/stats.h"

/* ---- sparse layers: nnp_sparse against nnp_dense ---- */

#define SPARSE_BATCH 256   /* rows: the forward engine's default batch */

/* Zeroes each weight of L with probability `sparsity` (a fixed generator). */
static void sparse_mask(nnp_layer *L, double sparsity, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < L->in * L->out; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		if ((double)(s >> 11) * 0x1p-53 < sparsity)
			L->w[i] = 0.0f;
	}
}

/* Best time of one batch through L, dense (c NULL) or sparse: repeated until
 * each of the BENCH_REPS + 1 measurements takes 5 ms, the first discarded;
 * a first batch over 50 ms (a debug or sanitizer build) is taken as it is. */
static double time_layer(const nnp_layer *L, const nnp_csr *c, const float *x, float *y,
                         float *scratch)
{
	double best = INFINITY;
	size_t iters = 1;
	for (int rep = 0; rep < BENCH_REPS + 1; rep++) {
		double t0 = bench_now(), t;
		for (size_t i = 0; i < iters; i++) {
			if (c)
				nnp_sparse(c, x, SPARSE_BATCH, y, scratch);
			else
				nnp_dense(L, x, SPARSE_BATCH, y);
		}
		t = (bench_now() - t0) / (double)iters;
		if (rep == 0 && t > 0.05)
			return t;
		while (rep == 0 && (double)iters * t < 0.005)
			iters *= 2;
		if (rep > 0 && t < best)
			best = t;
	}
	return best;
}

/* Sparse time over dense time for L masked at `sparsity`; NAN out of memory. */
static double sparse_ratio(const nnp_layer *L, double sparsity, const float *x, float *y,
                           float *scratch, double t_dense, double *t_sparse, nnp_err *err)
{
	nnp_layer M = *L;
	nnp_csr *c = NULL;
	M.w = malloc(L->in * L->out * sizeof *M.w);
	if (!M.w) {
		nnp_err_set(err, NNP_ENOMEM, "out of memory");
		return NAN;
	}
	memcpy(M.w, L->w, L->in * L->out * sizeof *M.w);
	sparse_mask(&M, sparsity, (uint64_t)(sparsity * 1e6) + L->in);
	double ratio = NAN;
	if (nnp_csr_from_layer(&c, &M, err) == 0) {
		*t_sparse = time_layer(&M, c, x, y, scratch);
		ratio = *t_sparse / t_dense;
	}
	nnp_csr_free(c);
	free(M.w);
	return ratio;
}

/*
 * Per layer of m: the dense time of a 256-row batch (as GFLOP/s, beside the
 * same-run sgemm), the sparse kernel's time at 50/80/90/95/99% of the
 * weights zero (random masks), and the crossover: the sparsity above which
 * the sparse kernel is faster, found by bisection on the density's log.
 */
int bench_sparse_layers(bench_out *o, const nnp_model *m, double gemm, unsigned threads,
                               nnp_err *err)
{
	static const double levels[] = { 0.5, 0.8, 0.9, 0.95, 0.99 };
	size_t in = nnp_model_max_width(m), out = in;
	float *x = malloc(SPARSE_BATCH * in * sizeof *x), *y = malloc(SPARSE_BATCH * out * sizeof *y);
	float *scratch = malloc(nnp_sparse_scratch(in) * sizeof *scratch);
	char key[64], label[96], note[128];
	int rc = NNP_OK;
	if (!x || !y || !scratch) {
		rc = nnp_err_set(err, NNP_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < SPARSE_BATCH * in; i++)
		x[i] = (float)((i * 7) % 13) * 0.1f - 0.6f;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		double t_dense = time_layer(L, NULL, x, y, scratch), t_sparse = 0;
		snprintf(key, sizeof key, "sparse_layer%zu_dense_ms", l);
		snprintf(label, sizeof label, "layer %zu (%zux%zu) dense, 256 rows, 1 thread", l,
		         L->out, L->in);
		double gf = 2.0 * (double)(L->in * L->out) * SPARSE_BATCH / t_dense / 1e9;
		snprintf(note, sizeof note, "(%.1f GFLOP/s, %.0f%% of sgemm per thread)", gf,
		         100 * gf / (gemm / threads));
		bench_figure(o, key, label, 1e3 * t_dense, "ms", note);
		for (size_t k = 0; k < sizeof levels / sizeof *levels; k++) {
			double ratio = sparse_ratio(L, levels[k], x, y, scratch, t_dense, &t_sparse, err);
			if (isnan(ratio)) {
				rc = err->status;
				goto done;
			}
			snprintf(key, sizeof key, "sparse_layer%zu_s%.0f_vs_dense", l, 100 * levels[k]);
			snprintf(label, sizeof label, "  %.0f%% zero: sparse time / dense time",
			         100 * levels[k]);
			snprintf(note, sizeof note, "(%.3f ms)", 1e3 * t_sparse);
			bench_figure(o, key, label, ratio, "", note);
		}
		/* Bisection between 0.1% and 100% dense, in log density: 6 steps
		 * bracket the crossover within a factor of 1.12. */
		double lo = log(0.001), hi = 0.0;
		for (int it = 0; it < 6; it++) {
			double mid = 0.5 * (lo + hi);
			double ratio = sparse_ratio(L, 1.0 - exp(mid), x, y, scratch, t_dense, &t_sparse, err);
			if (isnan(ratio)) {
				rc = err->status;
				goto done;
			}
			if (ratio < 1.0)
				lo = mid;
			else
				hi = mid;
		}
		snprintf(key, sizeof key, "sparse_layer%zu_crossover_density", l);
		snprintf(label, sizeof label, "  crossover: sparse wins below this density");
		snprintf(note, sizeof note, "(NNP_SPARSE_MAX_DENSITY is %.2f)", NNP_SPARSE_MAX_DENSITY);
		bench_figure(o, key, label, exp(0.5 * (lo + hi)), "", note);
	}
done:
	free(x);
	free(y);
	free(scratch);
	return rc;
}

/* Whole-model evaluation with every layer masked at 90/95/99%, which the
 * forward engine runs sparse where the density is under its threshold,
 * against the dense model's evaluation time t_eval. */
int bench_sparse_eval(bench_out *o, const nnp_model *m, const nnp_dataset *d,
                             unsigned threads, double t_eval, nnp_err *err)
{
	static const double levels[] = { 0.9, 0.95, 0.99 };
	char key[64], label[96], note[128];
	nnp_run_opts ro = NNP_RUN_OPTS_INIT;
	ro.threads = threads;
	for (size_t k = 0; k < sizeof levels / sizeof *levels; k++) {
		nnp_model *s = NULL;
		if (nnp_model_clone(&s, m, err))
			return err->status;
		for (size_t l = 0; l < s->n_layers; l++)
			sparse_mask(&s->layers[l], levels[k], l + 1);
		double t = INFINITY;
		for (int rep = 0; rep < BENCH_REPS; rep++) {
			nnp_metrics mt;
			double t0 = bench_now();
			if (nnp_run_dataset(s, d, &ro, NULL, &mt, NULL, err)) {
				nnp_model_free(s);
				return err->status;
			}
			t = fmin(t, bench_now() - t0);
		}
		uint64_t bin = 0, dense = 0;
		nnp_model_file_size(s, NNP_FMT_BIN, &bin, err);
		nnp_model_file_size(m, NNP_FMT_BIN, &dense, err);
		snprintf(key, sizeof key, "sparse_eval_s%.0f_vs_dense", 100 * levels[k]);
		snprintf(label, sizeof label, "evaluation, %.0f%% of weights zero / dense", 100 * levels[k]);
		snprintf(note, sizeof note, "(%.3f s; binary file %.2f of dense)", t,
		         (double)bin / (double)dense);
		bench_figure(o, key, label, t / t_eval, "", note);
		nnp_model_free(s);
	}
	return NNP_OK;
}

