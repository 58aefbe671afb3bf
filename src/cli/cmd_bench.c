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
#include <time.h>
#include <unistd.h>
#include <cblas.h>
#include <cJSON.h>

#include "cli.h"
#include "nnprune/data.h"
#include "nnprune/forward.h"
#include "nnprune/io.h"
#include "nnprune/method.h"
#include "nnprune/model.h"
#include "nnprune/stats.h"
#include "nnprune/sweep.h"
#include "nnprune/train.h"

#define BENCH_REPS 3

static const char bench_usage[] =
	"nnprune bench [--rows N] [--big-rows N] [--model FILE] [--data FILE --labels FILE] [-j N]";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_cfg {
	uint64_t rows, big_rows;
	const char *model_path, *data_path;
	cli_data data;
	int json;
} bench_cfg;

typedef struct bench_out {
	cJSON *root;
	int json;
} bench_out;

static void figure(bench_out *o, const char *key, const char *label, double value,
                   const char *unit, const char *note)
{
	cJSON_AddNumberToObject(o->root, key, value);
	if (!o->json)
		printf("  %-44s %12.3f %-8s %s\n", label, value, unit, note ? note : "");
}

static void verdict(char *buf, size_t n, int ok, const char *target)
{
	snprintf(buf, n, "(target %s: %s)", target, ok ? "met" : "NOT met");
}

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
		double t0 = now();
		int rc = nnp_reader_open(&r, path, &o, err);
		size_t got = 1;
		while (!rc && got)
			rc = nnp_reader_read(r, x, y, chunk, &got, err);
		double t = now() - t0;
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
		double t0 = now();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f,
		            c, N);
		double t = now() - t0;
		if (rep > 0 && t < best)  /* the first run warms caches and threads */
			best = t;
	}
	nnp_blas_single_thread();
	free(a);
	free(b);
	free(c);
	return 2.0 * M * N * K / best / 1e9;
}

/*
 * `nnprune stats` and `nnprune prune` run in child processes started by a
 * small launcher that is forked when the bench begins. Linux carries a process's resident size at
 * fork into the child's peak (ru_maxrss survives exec), so a child forked
 * from the bench itself, which by then holds the data and the sgemm buffers,
 * would report the bench's memory instead of its own.
 */
#define LAUNCH_MAX_ARGS 32

/* A command line: argc NUL-terminated arguments, one after the other. */
typedef struct launch_req {
	char args[8192];
	unsigned argc;
} launch_req;

typedef struct launch_res {
	int status;        /* wait status, or -1 if the child could not start */
	double secs;
	long maxrss_kib;
} launch_res;

typedef struct launcher {
	pid_t pid;
	int to, from;      /* requests in, results out */
} launcher;

static int io_full(int fd, void *buf, size_t n, int writing)
{
	char *p = buf;
	while (n) {
		ssize_t k = writing ? write(fd, p, n) : read(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void launcher_loop(int in, int out, const char *self)
{
	launch_req rq;
	while (io_full(in, &rq, sizeof rq, 0) == 0) {
		char *argv[LAUNCH_MAX_ARGS + 2];
		argv[0] = (char *)self;
		rq.args[sizeof rq.args - 1] = '\0';
		char *a = rq.args;
		unsigned n = 0;
		for (; n < rq.argc && n < LAUNCH_MAX_ARGS; n++, a += strlen(a) + 1)
			argv[n + 1] = a;
		argv[n + 1] = NULL;
		launch_res rs = { -1, 0, 0 };
		double t0 = now();
		pid_t pid = fork();
		if (pid == 0) {
			execv(self, argv);
			_exit(127);
		}
		struct rusage ru;
		if (pid > 0 && wait4(pid, &rs.status, 0, &ru) == pid) {
			rs.secs = now() - t0;
			rs.maxrss_kib = ru.ru_maxrss;
		}
		if (io_full(out, &rs, sizeof rs, 1))
			break;
	}
	_exit(0);
}

static int launcher_start(launcher *l, nnp_err *err)
{
	char self[2048];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	int a[2], b[2];
	l->pid = -1;
	if (n <= 0)
		return nnp_err_set(err, NNP_EINPUT, "cannot find this program's path");
	self[n] = '\0';
	if (pipe(a) != 0)
		return nnp_err_set(err, NNP_EINPUT, "pipe: %s", strerror(errno));
	if (pipe(b) != 0) {
		close(a[0]);
		close(a[1]);
		return nnp_err_set(err, NNP_EINPUT, "pipe: %s", strerror(errno));
	}
	fflush(stdout);
	l->pid = fork();
	if (l->pid == 0) {
		close(a[1]);
		close(b[0]);
		launcher_loop(a[0], b[1], self);
	}
	close(a[0]);
	close(b[1]);
	l->to = a[1];
	l->from = b[0];
	if (l->pid < 0) {
		close(l->to);
		close(l->from);
		return nnp_err_set(err, NNP_EINPUT, "fork: %s", strerror(errno));
	}
	return NNP_OK;
}

static void launcher_stop(launcher *l)
{
	if (l->pid <= 0)
		return;
	close(l->to);
	close(l->from);
	waitpid(l->pid, NULL, 0);
	l->pid = -1;
}

/* Runs `nnprune ARGS...` (NULL-terminated); wall seconds and peak RSS in MiB. */
static int run_child(launcher *l, const char *const *args, double *secs, double *rss_mib,
                     nnp_err *err)
{
	launch_req rq;
	memset(&rq, 0, sizeof rq);
	size_t used = 0;
	for (; args[rq.argc]; rq.argc++) {
		size_t n = strlen(args[rq.argc]) + 1;
		if (rq.argc >= LAUNCH_MAX_ARGS || n > sizeof rq.args - 1 - used)
			return nnp_err_set(err, NNP_EUSAGE, "%s: command line too long for the bench",
			                   args[rq.argc]);
		memcpy(rq.args + used, args[rq.argc], n);
		used += n;
	}
	fflush(stdout);
	launch_res rs;
	if (io_full(l->to, &rq, sizeof rq, 1) || io_full(l->from, &rs, sizeof rs, 0))
		return nnp_err_set(err, NNP_EINPUT, "the bench's process launcher stopped");
	if (rs.status == -1)
		return nnp_err_set(err, NNP_EINPUT, "nnprune %s: could not be started", args[0]);
	if (WIFSIGNALED(rs.status))
		return nnp_err_set(err, NNP_EINPUT, "nnprune %s %s: killed by signal %d", args[0],
		                   args[1] ? args[1] : "", WTERMSIG(rs.status));
	if (!WIFEXITED(rs.status) || WEXITSTATUS(rs.status) != 0)
		return nnp_err_set(err, NNP_EINPUT, "nnprune %s %s: exit status %d", args[0],
		                   args[1] ? args[1] : "", WEXITSTATUS(rs.status));
	*secs = rs.secs;
	*rss_mib = (double)rs.maxrss_kib / 1024.0;
	return NNP_OK;
}

/* Runs `nnprune stats` on a file. */
static int time_stats_cmd(launcher *l, const char *model, const char *data, const char *out,
                          unsigned threads, double *secs, double *rss_mib, nnp_err *err)
{
	char tbuf[16];
	snprintf(tbuf, sizeof tbuf, "%u", threads);
	const char *args[] = { "stats", model, data, "-o", out, "--quiet", "-j", tbuf, NULL };
	return run_child(l, args, secs, rss_mib, err);
}

/* Runs `nnprune prune` with one method and compensation, keeping half of
 * every hidden layer, the calibration rows streamed (--mem-limit 0) so that
 * the peak is the method's own, not the rows'. rows 0: all of them. */
static int time_prune_cmd(launcher *l, const char *model, const char *calib, uint64_t rows,
                          nnp_method meth, nnp_compensate comp, const char *out,
                          unsigned threads, double *secs, double *rss_mib, nnp_err *err)
{
	char tbuf[16], rbuf[32];
	snprintf(tbuf, sizeof tbuf, "%u", threads);
	snprintf(rbuf, sizeof rbuf, "%llu", (unsigned long long)rows);
	const char *args[] = { "prune", model, "--calib", calib, "--method", nnp_method_name(meth),
		               "--compensate", nnp_compensate_name(comp), "--keep", "0.5",
		               "--mem-limit", "0", "-q", "-j", tbuf, "-o", out,
		               rows ? "--calib-rows" : NULL, rbuf, NULL };
	return run_child(l, args, secs, rss_mib, err);
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
	double t = -1, t0 = now();
	if (counts && !nnp_method_counts(m, 0.5, counts, err) &&
	    !nnp_method_ctx_create(&ctx, m, calib, &mo, err) &&
	    !nnp_method_ctx_prune(ctx, counts, &out, NULL, err))
		t = now() - t0;
	else if (!counts)
		nnp_err_set(err, NNP_ENOMEM, "out of memory");
	nnp_model_free(out);
	nnp_method_ctx_free(ctx);
	free(counts);
	return t;
}

/* ---- JSON models, and the commands as a user runs them ----------------- */

/*
 * The model as JSON, best of BENCH_REPS: serialised in memory, saved to
 * path (nnp_model_save: the file, its fsync and rename) and loaded back
 * (nnp_model_load: read, parse, check). Reports MB/s of the file's bytes.
 */
static int bench_json_model(bench_out *o, const nnp_model *m, const char *path, nnp_err *err)
{
	double t_ser = INFINITY, t_save = INFINITY, t_load = INFINITY;
	size_t bytes = 0;
	for (int rep = 0; rep < BENCH_REPS; rep++) {
		unsigned char *buf = NULL;
		nnp_model *back = NULL;
		double t0 = now();
		if (nnp_model_to_buffer(m, NNP_FMT_JSON, &buf, &bytes, err))
			return -1;
		double t1 = now();
		free(buf);
		double t2 = now();
		if (nnp_model_save(m, path, NNP_FMT_JSON, err))
			return -1;
		double t3 = now();
		if (nnp_model_load(&back, path, NULL, err))
			return -1;
		double t4 = now();
		nnp_model_free(back);
		t_ser = fmin(t_ser, t1 - t0);
		t_save = fmin(t_save, t3 - t2);
		t_load = fmin(t_load, t4 - t3);
	}
	char note[96];
	double mb = (double)bytes / 1e6;
	snprintf(note, sizeof note, "(%.1f MB in %.0f ms; target >= 150 MB/s: %s)", mb,
	         t_load * 1e3, mb / t_load >= 150 ? "met" : "NOT met");
	figure(o, "json_model_read_mb_s", "JSON model read (load, parse, check)", mb / t_load,
	       "MB/s", note);
	snprintf(note, sizeof note, "(%.0f ms; target >= 150 MB/s: %s)", t_ser * 1e3,
	         mb / t_ser >= 150 ? "met" : "NOT met");
	figure(o, "json_model_write_mb_s", "JSON model write (serialise)", mb / t_ser, "MB/s", note);
	snprintf(note, sizeof note, "(%.0f ms with the file's fsync)", t_save * 1e3);
	figure(o, "json_model_save_mb_s", "  saved to a file", mb / t_save, "MB/s", note);
	return 0;
}

/* The best wall time of BENCH_REPS runs of `nnprune ARGS...`. */
static int run_best(launcher *l, const char *const *args, double *secs, double *rss_mib,
                    nnp_err *err)
{
	*secs = INFINITY;
	for (int rep = 0; rep < BENCH_REPS; rep++) {
		double s, r;
		if (run_child(l, args, &s, &r, err))
			return -1;
		if (s < *secs) {
			*secs = s;
			*rss_mib = r;
		}
	}
	return 0;
}

/* Removes the files of a directory (no subdirectories) and the directory. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[4096];
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* What a user's run costs at the least on these threads: its FLOPs at the
 * sgemm rate measured above, plus the CSV parsed once, spread over them. */
static double floor_secs(double flops, double gemm_gflops, double csv_secs, unsigned threads)
{
	return flops / (gemm_gflops * 1e9) + csv_secs / threads;
}

/*
 * 'nnprune stats' on the model as JSON and the CSV (best of BENCH_REPS),
 * then 'nnprune sweep' (default grid, one run each) writing binary and then
 * JSON models, as a user types them; each against its floor. sw: the same sweep run in memory above,
 * whose distinct candidates give the sweep's FLOPs.
 */
static int bench_user_commands(bench_out *o, launcher *l, const char *dir,
                               const char *json_model, const char *csv, const nnp_model *m,
                               const nnp_sweep *sw, uint64_t rows, unsigned threads,
                               double gemm_gflops, double csv_secs, nnp_err *err)
{
	size_t dl = strlen(dir) + 32;
	char *st = malloc(dl), *out = malloc(dl), tbuf[16];
	int rc = -1;
	if (!st || !out) {
		nnp_err_set(err, NNP_ENOMEM, "out of memory");
		goto done;
	}
	snprintf(st, dl, "%s/user.stats.json", dir);
	snprintf(out, dl, "%s/pruned", dir);
	snprintf(tbuf, sizeof tbuf, "%u", threads);
	double secs = 0, rss = 0, fl;
	char note[128];
	const char *sargs[] = { "stats", json_model, csv, "-o", st, "--quiet", "-j", tbuf, NULL };
	if (run_best(l, sargs, &secs, &rss, err))
		goto done;
	fl = floor_secs(2.0 * (double)nnp_model_macs(m) * (double)rows, gemm_gflops, csv_secs,
	                threads);
	snprintf(note, sizeof note, "(floor %.3f s: sgemm of its FLOPs + CSV; %.1fx; %.0f MiB)",
	         fl, secs / fl, rss);
	figure(o, "user_stats_json_seconds", "'nnprune stats' JSON model + CSV", secs, "s", note);
	figure(o, "user_stats_floor_seconds", "  its floor", fl, "s", NULL);
	double macs = 0;
	for (size_t i = 0; i < sw->n; i++)
		if (sw->models[i])
			macs += (double)nnp_model_macs(sw->models[i]);
	fl = floor_secs(2.0 * macs * (double)rows, gemm_gflops, csv_secs, threads);
	static const char *const fmts[] = { "bin", "json" };
	for (int f = 0; f < 2; f++) {
		const char *wargs[] = { "sweep", "--stats", st, "--out", out, "--format", fmts[f],
			                "--quiet", "-j", tbuf, NULL };
		/* One run each: a sweep writes 30 models, and takes seconds. */
		if (run_child(l, wargs, &secs, &rss, err))
			goto done;
		remove_dir(out);
		char key[48], label[64];
		snprintf(key, sizeof key, "user_sweep_%s_seconds", fmts[f]);
		snprintf(label, sizeof label, "'nnprune sweep', %s models written", fmts[f]);
		snprintf(note, sizeof note, "(floor %.3f s: %zu distinct of %zu candidates; %.1fx)", fl,
		         sw->n_unique, sw->n, secs / fl);
		figure(o, key, label, secs, "s", note);
	}
	figure(o, "user_sweep_floor_seconds", "  its floor", fl, "s", NULL);
	rc = 0;
done:
	if (st)
		unlink(st);
	if (out)
		remove_dir(out);
	free(st);
	free(out);
	return rc;
}

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
		double t0 = now(), t;
		for (size_t i = 0; i < iters; i++) {
			if (c)
				nnp_sparse(c, x, SPARSE_BATCH, y, scratch);
			else
				nnp_dense(L, x, SPARSE_BATCH, y);
		}
		t = (now() - t0) / (double)iters;
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
static int bench_sparse_layers(bench_out *o, const nnp_model *m, double gemm, unsigned threads,
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
		figure(o, key, label, 1e3 * t_dense, "ms", note);
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
			figure(o, key, label, ratio, "", note);
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
		figure(o, key, label, exp(0.5 * (lo + hi)), "", note);
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
static int bench_sparse_eval(bench_out *o, const nnp_model *m, const nnp_dataset *d,
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
			double t0 = now();
			if (nnp_run_dataset(s, d, &ro, NULL, &mt, NULL, err)) {
				nnp_model_free(s);
				return err->status;
			}
			t = fmin(t, now() - t0);
		}
		uint64_t bin = 0, dense = 0;
		nnp_model_file_size(s, NNP_FMT_BIN, &bin, err);
		nnp_model_file_size(m, NNP_FMT_BIN, &dense, err);
		snprintf(key, sizeof key, "sparse_eval_s%.0f_vs_dense", 100 * levels[k]);
		snprintf(label, sizeof label, "evaluation, %.0f%% of weights zero / dense", 100 * levels[k]);
		snprintf(note, sizeof note, "(%.3f s; binary file %.2f of dense)", t,
		         (double)bin / (double)dense);
		figure(o, key, label, t / t_eval, "", note);
		nnp_model_free(s);
	}
	return NNP_OK;
}

static int bench_parse_args(cli_parser *p, bench_cfg *c)
{
	enum { B_ROWS = 1, B_BIG, B_MODEL, B_DATA, B_JSON, B_HELP };
	static const cli_opt opts[] = { { "rows", 0, 1, B_ROWS }, { "big-rows", 0, 1, B_BIG },
		                        { "model", 0, 1, B_MODEL }, { "data", 0, 1, B_DATA },
		                        { "json", 0, 0, B_JSON }, { "help", 'h', 0, B_HELP },
		                        CLI_DATA_OPTIONS_LABELLED, { NULL, 0, 0, 0 } };
	p->opts = opts;
	int id;
	const char *arg;
	while ((id = cli_next(p, &arg)) != CLI_END) {
		switch (id) {
		case CLI_ERROR: return -1;
		case B_HELP:
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
			return 1;
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
			if (cli_data_option(p, &c->data, id, arg))
				return -1;
		}
	}
	if (p->n_operands)
		return cli_usage_error(p, "unexpected argument '%s'", p->operands[0]), -1;
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	cli_parser p;
	if (cli_init(&p, argc, argv, NULL, "bench", bench_usage))
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
	verdict(note, sizeof note, mbs >= 400, ">= 400 MB/s");
	figure(&o, "csv_parse_mb_s", "CSV parsing, one thread", mbs, "MB/s", note);

	/* 2. Forward + statistics against sgemm on the same threads. */
	double gemm = time_sgemm(threads, &err);
	if (gemm < 0)
		goto fail;
	figure(&o, "sgemm_gflops", "sgemm 4096x1024x1024 (baseline)", gemm, "GFLOP/s", NULL);
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
		double t0 = now();
		if (nnp_run_dataset(m, d, &ro, &st, &mt, NULL, &err))
			goto fail;
		double t1 = now();
		if (nnp_run_dataset(m, d, &ro, NULL, &mt, NULL, &err))
			goto fail;
		double t2 = now();
		t_fs = fmin(t_fs, t1 - t0);
		t_eval = fmin(t_eval, t2 - t1);
	}
	double gf = 2.0 * (double)macs * (double)d->rows / t_fs / 1e9;
	verdict(note, sizeof note, gf >= 0.6 * gemm, ">= 60% of sgemm");
	figure(&o, "forward_stats_gflops", "forward + statistics (data in memory)", gf, "GFLOP/s",
	       NULL);
	figure(&o, "forward_stats_vs_sgemm", "  as a fraction of sgemm", gf / gemm, "", note);
	figure(&o, "full_eval_seconds", "full-model evaluation (forward + metrics)", t_eval, "s", NULL);
	if (bench_sparse_layers(&o, m, gemm, threads, &err) ||
	    bench_sparse_eval(&o, m, d, threads, t_eval, &err))
		goto fail;

	/* 3. The whole stats command, and its memory. */
	double secs, rss_small, rss_big;
	if (time_stats_cmd(&launch, model_file, csv, stats_out, threads, &secs, &rss_small, &err))
		goto fail;
	figure(&o, "stats_command_seconds", "'nnprune stats' wall time", secs, "s", NULL);
	figure(&o, "stats_peak_rss_mib", "'nnprune stats' peak memory", rss_small, "MiB", NULL);
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
		figure(&o, "stats_big_seconds", "'nnprune stats' wall time, large file", secs, "s", note);
		figure(&o, "stats_big_peak_rss_mib", "'nnprune stats' peak memory, large file", rss_big,
		       "MiB", NULL);
		verdict(note, sizeof note, rss_big - rss_small <= 32, "<= 32 MiB");
		figure(&o, "stats_rss_growth_mib", "  growth over the small file", rss_big - rss_small,
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
		double t0 = now();
		if (nnp_sweep_run(&sw, m, st, d, &so, &err))
			goto fail;
		t_sw = fmin(t_sw, now() - t0);
	}
	snprintf(note, sizeof note, "(%zu candidates, %zu distinct)", sw->n, sw->n_unique);
	figure(&o, "sweep_seconds", "sweep, default 30-pair grid", t_sw, "s", note);
	verdict(note, sizeof note, t_sw / t_eval <= 5, "<= 5");
	figure(&o, "sweep_vs_eval", "  in full-model evaluations", t_sw / t_eval, "", note);
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
			figure(&o, key, label, t, "s", note);
			snprintf(key, sizeof key, "prune_%s_%s_peak_rss_mib", me, co);
			snprintf(label, sizeof label, "  'nnprune prune', its peak memory");
			snprintf(note, sizeof note, "(%.2f s, calibration streamed)", secs);
			figure(&o, key, label, rss_m[i][j], "MiB", note);
		}
	uint64_t more = (uint64_t)d->rows * 10;
	if (c.big_rows >= more) {
		double rss_more;
		if (time_prune_cmd(&launch, model_file, big, more, NNP_METHOD_OBS, NNP_COMP_LS,
		                   pruned_out, threads, &secs, &rss_more, &err))
			goto fail;
		snprintf(note, sizeof note, "(%llu rows, %.2f s)", (unsigned long long)more, secs);
		figure(&o, "prune_obs_ls_more_rows_peak_rss_mib",
		       "'nnprune prune' obs + ls, 10x the rows", rss_more, "MiB", note);
		verdict(note, sizeof note, rss_more - rss_m[1][2] <= 1, "<= 1 MiB");
		figure(&o, "prune_rss_growth_mib", "  growth over the rows above", rss_more - rss_m[1][2],
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
