/*
 * nnprune bench: speed and memory figures, each next to a baseline measured in
 * the same run (a large sgemm, a full-model evaluation), so that numbers from
 * a shared, noisy machine still mean something.
 */
#define _DEFAULT_SOURCE 1 /* wait4 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cblas.h>
#include <cJSON.h>

#include "bench.h"
#include "cli.h"
#include "nnprune/data.h"
#include "nnprune/forward.h"
#include "nnprune/io.h"
#include "nnprune/method.h"
#include "nnprune/model.h"
#include "nnprune/stats.h"
#include "nnprune/sweep.h"
#include "nnprune/train.h"

static const char bench_usage[] =
	"nnprune bench [--rows N] [--big-rows N] [--model FILE] [--data FILE --labels FILE] [-j N]";

typedef struct bench_cfg {
	uint64_t rows, big_rows;
	const char *model_path, *data_path;
	cli_data data;
	int json;
} bench_cfg;

static char *put_uint(char *p, unsigned v)
{
	char tmp[12];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Writes rows of d (cycled) as CSV, label first, integers when they are. */
static int write_csv(const char *path, const nnp_dataset *d, uint64_t rows, nnp_err *err)
{
	nnp_atomic a;
	int rc = nnp_atomic_open(&a, path, err);
	if (rc)
		return rc;
	char *line = malloc(d->features * 24 + 32);
	if (!line) {
		nnp_atomic_abort(&a);
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	}
	for (uint64_t r = 0; r < rows; r++) {
		size_t i = (size_t)(r % d->rows);
		const float *x = d->x + i * d->features;
		char *p = line;
		p += sprintf(p, "%d", d->y ? (int)d->y[i] : 0);
		for (size_t j = 0; j < d->features; j++) {
			float v = x[j];
			*p++ = ',';
			if (v >= 0 && v < 1e6f && v == floorf(v))
				p = put_uint(p, (unsigned)v);  /* pixels: a million rows of them */
			else
				p += sprintf(p, "%.9g", (double)v);
		}
		*p++ = '\n';
		if (fwrite(line, 1, (size_t)(p - line), a.fp) != (size_t)(p - line)) {
			free(line);
			nnp_atomic_abort(&a);
			return nnp_err_set(err, NNP_EOUTPUT, "%s: write failed", path);
		}
	}
	free(line);
	return nnp_atomic_commit(&a, err);
}

/* Fashion-MNIST-like rows: about half the pixels 0, the rest 1..255. */
static int synthetic_data(nnp_dataset **out, size_t rows, size_t features, size_t classes,
                          nnp_err *err)
{
	nnp_dataset *d = calloc(1, sizeof *d);
	if (!d)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	d->rows = rows;
	d->features = features;
	d->x = malloc(rows * features * sizeof *d->x);
	d->y = malloc(rows * sizeof *d->y);
	if (!d->x || !d->y) {
		nnp_dataset_free(d);
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	}
	uint64_t s = 42;
	for (size_t i = 0; i < rows * features; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned v = (unsigned)(s >> 33);
		d->x[i] = (v & 1) ? 0.0f : (float)(1 + (v >> 1) % 255);
	}
	for (size_t i = 0; i < rows; i++)
		d->y[i] = (int32_t)(i % classes);
	*out = d;
	return NNP_OK;
}

static double time_parse(const char *path, size_t features, uint64_t *bytes, nnp_err *err)
{
	double best = INFINITY;
	size_t chunk = 1024;
	float *x = malloc(chunk * features * sizeof *x);
	int32_t *y = malloc(chunk * sizeof *y);
	if (!x || !y) {
		free(x);
		free(y);
		nnp_err_set(err, NNP_ENOMEM, "out of memory");
		return -1;
	}
	if (nnp_file_identity(path, bytes, NULL, err))
		best = -1;
	for (int rep = 0; rep < BENCH_REPS && best > 0; rep++) {
		nnp_data_opts o = NNP_DATA_OPTS_INIT;
		nnp_reader *r = NULL;
		double t0 = bench_now();
		int rc = nnp_reader_open(&r, path, &o, err);
		size_t got = 1;
		while (!rc && got)
			rc = nnp_reader_read(r, x, y, chunk, &got, err);
		double t = bench_now() - t0;
		nnp_reader_close(r);
		if (rc) {
			best = -1;
			break;
		}
		if (t < best)
			best = t;
	}
	free(x);
	free(y);
	return best;
}

static double time_sgemm(unsigned threads, nnp_err *err)
{
	const int M = 4096, N = 1024, K = 1024;
	float *a = malloc((size_t)M * K * sizeof *a), *b = malloc((size_t)K * N * sizeof *b);
	float *c = malloc((size_t)M * N * sizeof *c);
	if (!a || !b || !c) {
		free(a);
		free(b);
		free(c);
		nnp_err_set(err, NNP_ENOMEM, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < (size_t)M * K; i++)
		a[i] = (float)((i * 7) % 13) * 0.01f;
	for (size_t i = 0; i < (size_t)K * N; i++)
		b[i] = (float)((i * 5) % 11) * 0.01f;
	openblas_set_num_threads((int)threads);
	double best = INFINITY;
	for (int rep = 0; rep < BENCH_REPS + 1; rep++) {
		double t0 = bench_now();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f,
		            c, N);
		double t = bench_now() - t0;
		if (rep > 0 && t < best)  /* the first run warms caches and threads */
			best = t;
	}
	nnp_blas_single_thread();
	free(a);
	free(b);
	free(c);
	return 2.0 * M * N * K / best / 1e9;
}

/* One candidate of a method (keep half of every hidden layer) on the rows in
 * memory as calibration data: the context's passes and solves, then the build. */
static double time_method(const nnp_model *m, const nnp_dataset *calib, nnp_method meth,
                          nnp_compensate comp, unsigned threads, nnp_err *err)
{
	nnp_method_opts mo = NNP_METHOD_OPTS_INIT;
	mo.method = meth;
	mo.compensate = comp;
	mo.threads = threads;
	size_t *counts = malloc(m->n_layers * sizeof *counts);
	nnp_method_ctx *ctx = NULL;
	nnp_model *out = NULL;
	double t = -1, t0 = bench_now();
	if (counts && !nnp_method_counts(m, 0.5, counts, err) &&
	    !nnp_method_ctx_create(&ctx, m, calib, &mo, err) &&
	    !nnp_method_ctx_prune(ctx, counts, &out, NULL, err))
		t = bench_now() - t0;
	else if (!counts)
		nnp_err_set(err, NNP_ENOMEM, "out of memory");
	nnp_model_free(out);
	nnp_method_ctx_free(ctx);
	free(counts);
	return t;
}

enum { B_ROWS = 1, B_BIG, B_MODEL, B_DATA, B_JSON, B_HELP };

static void bench_help(void)
{
	printf("usage: %s\n\n"
	       "Prints, in one run: CSV parsing speed (one thread); forward + statistics\n"
	       "throughput against a 4096x1024x1024 sgemm on the same threads; wall time\n"
	       "and peak memory of 'nnprune stats' on --rows and --big-rows rows; the\n"
	       "default 30-pair sweep against one full-model evaluation; each pruning\n"
	       "method (score, obs x none, fold, ls) on --rows calibration rows: one\n"
	       "candidate's time, and the peak memory of 'nnprune prune' with the rows\n"
	       "streamed, also on 10 x --rows rows when --big-rows has that many;\n"
	       "the model's JSON read and write speed; as a user runs them,\n"
	       "'nnprune stats' with the model as JSON and 'nnprune sweep' writing\n"
	       "binary and JSON models, each against its floor (the sgemm time of\n"
	       "its FLOPs plus the CSV parse, on the same threads); per layer, the\n"
	       "sparse kernel's time against sgemm's at 50-99%% zero weights and the\n"
	       "crossover, and evaluation with 90-99%% of the weights zero.\n\n"
	       "  --rows N        rows of the CSV (default 10000)\n"
	       "  --big-rows N    rows of the large CSV for the memory figure\n"
	       "                  (default 1000000; 0 skips it)\n"
	       "  --model FILE    the network (default: a random 784-512-256-128-10)\n"
	       "  --data FILE     real rows to use (default: synthetic Fashion-MNIST-like)\n"
	       "  --json          print the figures as JSON\n\n"
	       "The data options apply to --data.\n%s", bench_usage, CLI_DATA_HELP_LABELLED);
}

static int bench_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	bench_cfg *c = ctx;
	switch (id) {
	case B_ROWS:
		if (cli_size(p, "--rows", arg, 100, 100000000, &c->rows))
			return -1;
		break;
	case B_BIG:
		if (cli_size(p, "--big-rows", arg, 0, 100000000, &c->big_rows))
			return -1;
		break;
	case B_MODEL: c->model_path = arg; break;
	case B_DATA: c->data_path = arg; break;
	case B_JSON: c->json = 1; break;
	default:
		return cli_data_option(p, &c->data, id, arg);
	}
	return 0;
}

static int bench_parse_args(cli_parser *p, bench_cfg *c)
{
	static const cli_opt opts[] = { { "rows", 0, 1, B_ROWS }, { "big-rows", 0, 1, B_BIG },
		                        { "model", 0, 1, B_MODEL }, { "data", 0, 1, B_DATA },
		                        { "json", 0, 0, B_JSON }, { "help", 'h', 0, B_HELP },
		                        CLI_DATA_OPTIONS_LABELLED, { NULL, 0, 0, 0 } };
	int rc = cli_parse_opts(p, opts, B_HELP, bench_help, bench_opt, c);
	if (rc)
		return rc;
	if (p->n_operands)
		return cli_usage_error(p, "unexpected argument '%s'", p->operands[0]), -1;
	return 0;
}

int cmd_bench(int argc, char **argv, cli_probe *probe)
{
	cli_parser p;
	if (cli_init(&p, argc, argv, NULL, "bench", bench_usage, probe))
		return NNP_EXIT_INPUT;
	bench_cfg c = { 10000, 1000000, NULL, NULL, { NNP_DATA_OPTS_INIT, 0, 0 }, 0 };
	cli_data_init(&c.data);
	int rc = NNP_EXIT_OK;
	nnp_err err;
	nnp_err_clear(&err);
	nnp_model *m = NULL;
	nnp_dataset *src = NULL, *d = NULL;
	nnp_stats *st = NULL;
	nnp_sweep *sw = NULL;
	double *means = NULL, *stds = NULL;
	char *dir = NULL, *model_file = NULL, *csv = NULL, *big = NULL, *stats_out = NULL;
	char *pruned_out = NULL, *json_file = NULL;
	bench_out o = { cli_json_begin("bench"), 0 };
	char note[128];
	launcher launch = { -1, -1, -1 };

	int prc = bench_parse_args(&p, &c);
	if (prc) {
		rc = prc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
		goto done;
	}
	o.json = c.json;
	/* Before anything large is allocated: see launcher_start. */
	if (launcher_start(&launch, &err))
		goto fail;
	unsigned threads = c.data.threads ? c.data.threads : nnp_default_threads();
	const char *tmp = getenv("TMPDIR");
	size_t dl = strlen(tmp && *tmp ? tmp : "/tmp") + 64;
	dir = malloc(dl);
	model_file = malloc(dl);
	csv = malloc(dl);
	big = malloc(dl);
	stats_out = malloc(dl);
	pruned_out = malloc(dl);
	json_file = malloc(dl);
	if (!dir || !model_file || !csv || !big || !stats_out || !pruned_out || !json_file) {
		nnp_err_set(&err, NNP_ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(dir, dl, "%s/nnpbench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		nnp_err_set(&err, NNP_EOUTPUT, "%s: cannot create a scratch directory", dir);
		goto fail;
	}
	snprintf(model_file, dl, "%s/model.bin", dir);
	snprintf(csv, dl, "%s/data.csv", dir);
	snprintf(big, dl, "%s/big.csv", dir);
	snprintf(stats_out, dl, "%s/stats.json", dir);
	snprintf(pruned_out, dl, "%s/pruned.bin", dir);
	snprintf(json_file, dl, "%s/model.json", dir);

	if (c.model_path) {
		if (nnp_model_load(&m, c.model_path, NULL, &err))
			goto fail;
	} else {
		size_t sizes[] = { 512, 256, 128, 10 };
		nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_RELU, NNP_ACT_RELU, NNP_ACT_SOFTMAX };
		if (nnp_model_create(&m, 784, 4, sizes, acts, &err))
			goto fail;
		nnp_model_init_random(m, 1);
		/* Random weights see raw 0..255 pixels: scale layer 0 as training would. */
		for (size_t i = 0; i < m->layers[0].in * m->layers[0].out; i++)
			m->layers[0].w[i] /= 255.0f;
	}
	if (nnp_model_save(m, model_file, NNP_FMT_BIN, &err))
		goto fail;
	if (c.data_path) {
		c.data.opts.expect_features = m->input_size;
		c.data.opts.n_classes = nnp_model_outputs(m);
		if (nnp_dataset_load(&src, c.data_path, &c.data.opts, 0, &err))
			goto fail;
	} else if (synthetic_data(&src, (size_t)c.rows, m->input_size, nnp_model_outputs(m), &err)) {
		goto fail;
	}
	if (write_csv(csv, src, c.rows, &err))
		goto fail;

	size_t macs = nnp_model_macs(m);
	if (!o.json) {
		printf("nnprune %s bench: %s network (", NNP_VERSION, c.model_path ? c.model_path : "random");
		for (size_t l = 0; l < m->n_layers; l++)
			printf("%zu-", m->layers[l].in);
		printf("%zu), %llu rows of %s, %u threads\n\n", nnp_model_outputs(m),
		       (unsigned long long)c.rows, c.data_path ? c.data_path : "synthetic data",
		       threads);
	}
	cJSON_AddNumberToObject(o.root, "threads", threads);
	cJSON_AddNumberToObject(o.root, "rows", (double)c.rows);

	/* 1. CSV parsing on one thread. */
	uint64_t csv_bytes = 0;
	double tp = time_parse(csv, m->input_size, &csv_bytes, &err);
	if (tp < 0)
		goto fail;
	double mbs = (double)csv_bytes / tp / 1e6;
	bench_verdict(note, sizeof note, mbs >= 400, ">= 400 MB/s");
	bench_figure(&o, "csv_parse_mb_s", "CSV parsing, one thread", mbs, "MB/s", note);

	/* 2. Forward + statistics against sgemm on the same threads. */
	double gemm = time_sgemm(threads, &err);
	if (gemm < 0)
		goto fail;
	bench_figure(&o, "sgemm_gflops", "sgemm 4096x1024x1024 (baseline)", gemm, "GFLOP/s", NULL);
	c.data.opts.expect_features = m->input_size;
	nnp_data_opts plain = NNP_DATA_OPTS_INIT;
	plain.expect_features = m->input_size;
	plain.n_classes = nnp_model_outputs(m);
	if (nnp_dataset_load(&d, csv, &plain, 0, &err))
		goto fail;
	nnp_run_opts ro = NNP_RUN_OPTS_INIT;
	ro.threads = threads;
	double t_fs = INFINITY, t_eval = INFINITY;
	for (int rep = 0; rep < BENCH_REPS; rep++) {
		nnp_stats_free(st);
		st = NULL;
		nnp_metrics mt;
		double t0 = bench_now();
		if (nnp_run_dataset(m, d, &ro, &st, &mt, NULL, &err))
			goto fail;
		double t1 = bench_now();
		if (nnp_run_dataset(m, d, &ro, NULL, &mt, NULL, &err))
			goto fail;
		double t2 = bench_now();
		t_fs = fmin(t_fs, t1 - t0);
		t_eval = fmin(t_eval, t2 - t1);
	}
	double gf = 2.0 * (double)macs * (double)d->rows / t_fs / 1e9;
	bench_verdict(note, sizeof note, gf >= 0.6 * gemm, ">= 60% of sgemm");
	bench_figure(&o, "forward_stats_gflops", "forward + statistics (data in memory)", gf, "GFLOP/s",
	       NULL);
	bench_figure(&o, "forward_stats_vs_sgemm", "  as a fraction of sgemm", gf / gemm, "", note);
	bench_figure(&o, "full_eval_seconds", "full-model evaluation (forward + metrics)", t_eval, "s", NULL);
	if (bench_sparse_layers(&o, m, gemm, threads, &err) ||
	    bench_sparse_eval(&o, m, d, threads, t_eval, &err))
		goto fail;

	if (bench_training(&o, m, d, threads, &err))
		goto fail;

	/* 3. The whole stats command, and its memory. */
	double secs, rss_small, rss_big;
	if (time_stats_cmd(&launch, model_file, csv, stats_out, threads, &secs, &rss_small, &err))
		goto fail;
	bench_figure(&o, "stats_command_seconds", "'nnprune stats' wall time", secs, "s", NULL);
	bench_figure(&o, "stats_peak_rss_mib", "'nnprune stats' peak memory", rss_small, "MiB", NULL);
	if (c.big_rows) {
		int tty = !o.json && isatty(STDOUT_FILENO);
		if (tty) {
			printf("  (writing %llu rows for the memory figure...)\r", (unsigned long long)c.big_rows);
			fflush(stdout);
		}
		if (write_csv(big, src, c.big_rows, &err))
			goto fail;
		if (tty)
			printf("\033[K");
		if (time_stats_cmd(&launch, model_file, big, stats_out, threads, &secs, &rss_big, &err))
			goto fail;
		snprintf(note, sizeof note, "(%llu rows)", (unsigned long long)c.big_rows);
		bench_figure(&o, "stats_big_seconds", "'nnprune stats' wall time, large file", secs, "s", note);
		bench_figure(&o, "stats_big_peak_rss_mib", "'nnprune stats' peak memory, large file", rss_big,
		       "MiB", NULL);
		bench_verdict(note, sizeof note, rss_big - rss_small <= 32, "<= 32 MiB");
		bench_figure(&o, "stats_rss_growth_mib", "  growth over the small file", rss_big - rss_small,
		       "MiB", note);
	}

	/* 4. The default sweep against full-model evaluations. */
	size_t n_means, n_stds;
	if (nnp_parse_list("0,0.05,0.1,0.2,0.5,1", &means, &n_means, &err) ||
	    nnp_parse_list("0.1,0.2,0.4,0.6,1", &stds, &n_stds, &err))
		goto fail;
	nnp_sweep_opts so = { means, n_means, stds, n_stds, 1, 1, threads, NULL, NULL };
	double t_sw = INFINITY;
	for (int rep = 0; rep < BENCH_REPS; rep++) {
		nnp_sweep_free(sw);
		sw = NULL;
		double t0 = bench_now();
		if (nnp_sweep_run(&sw, m, st, d, &so, &err))
			goto fail;
		t_sw = fmin(t_sw, bench_now() - t0);
	}
	snprintf(note, sizeof note, "(%zu candidates, %zu distinct)", sw->n, sw->n_unique);
	bench_figure(&o, "sweep_seconds", "sweep, default 30-pair grid", t_sw, "s", note);
	bench_verdict(note, sizeof note, t_sw / t_eval <= 5, "<= 5");
	bench_figure(&o, "sweep_vs_eval", "  in full-model evaluations", t_sw / t_eval, "", note);
	/* 5. The stronger methods: one candidate each, the rows as calibration
	 * data, timed in this process (rows in memory); then their memory, as
	 * 'nnprune prune' with the rows streamed, on these rows and on ten times
	 * as many. */
	static const nnp_method meths[] = { NNP_METHOD_SCORE, NNP_METHOD_OBS };
	static const nnp_compensate comps[] = { NNP_COMP_NONE, NNP_COMP_FOLD, NNP_COMP_LS };
	double rss_m[2][3];
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < 3; j++) {
			const char *me = nnp_method_name(meths[i]), *co = nnp_compensate_name(comps[j]);
			char key[64], label[96];
			double t = time_method(m, d, meths[i], comps[j], threads, &err);
			if (t < 0 || time_prune_cmd(&launch, model_file, csv, 0, meths[i], comps[j],
			                            pruned_out, threads, &secs, &rss_m[i][j], &err))
				goto fail;
			snprintf(key, sizeof key, "method_%s_%s_seconds", me, co);
			snprintf(label, sizeof label, "method %s + %s, keep 0.5 (one candidate)", me, co);
			snprintf(note, sizeof note, "(%.1f full-model evaluations)", t / t_eval);
			bench_figure(&o, key, label, t, "s", note);
			snprintf(key, sizeof key, "prune_%s_%s_peak_rss_mib", me, co);
			snprintf(label, sizeof label, "  'nnprune prune', its peak memory");
			snprintf(note, sizeof note, "(%.2f s, calibration streamed)", secs);
			bench_figure(&o, key, label, rss_m[i][j], "MiB", note);
		}
	uint64_t more = (uint64_t)d->rows * 10;
	if (c.big_rows >= more) {
		double rss_more;
		if (time_prune_cmd(&launch, model_file, big, more, NNP_METHOD_OBS, NNP_COMP_LS,
		                   pruned_out, threads, &secs, &rss_more, &err))
			goto fail;
		snprintf(note, sizeof note, "(%llu rows, %.2f s)", (unsigned long long)more, secs);
		bench_figure(&o, "prune_obs_ls_more_rows_peak_rss_mib",
		       "'nnprune prune' obs + ls, 10x the rows", rss_more, "MiB", note);
		bench_verdict(note, sizeof note, rss_more - rss_m[1][2] <= 1, "<= 1 MiB");
		bench_figure(&o, "prune_rss_growth_mib", "  growth over the rows above", rss_more - rss_m[1][2],
		       "MiB", note);
	}
	/* 6. JSON models, and the commands as a user types them. */
	if (bench_json_model(&o, m, json_file, &err) ||
	    bench_user_commands(&o, &launch, dir, json_file, csv, m, sw, d->rows, threads, gemm, tp,
	                        &err))
		goto fail;
	if (c.big_rows)
		unlink(big);
	unlink(pruned_out);
	if (o.json) {
		char *txt = cJSON_Print(o.root);
		if (txt)
			printf("%s\n", txt);
		free(txt);
	}
	goto done;
fail:
	rc = cli_fail(&err);
done:
	launcher_stop(&launch);
	if (dir) {
		unlink(model_file);
		unlink(csv);
		unlink(big);
		unlink(stats_out);
		unlink(pruned_out);
		unlink(json_file);
		rmdir(dir);
	}
	cJSON_Delete(o.root);
	free(dir);
	free(model_file);
	free(csv);
	free(big);
	free(stats_out);
	free(pruned_out);
	free(json_file);
	free(means);
	free(stds);
	nnp_sweep_free(sw);
	nnp_stats_free(st);
	nnp_dataset_free(src);
	nnp_dataset_free(d);
	nnp_model_free(m);
	cli_done(&p);
	return rc;
}
