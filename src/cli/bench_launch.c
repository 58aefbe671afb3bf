/* nnprune bench: commands run in child processes for their time and peak
 * memory, and the commands as a user types them (bench.h). */
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
		double t0 = bench_now();
		pid_t pid = fork();
		if (pid == 0) {
			execv(self, argv);
			_exit(127);
		}
		struct rusage ru;
		if (pid > 0 && wait4(pid, &rs.status, 0, &ru) == pid) {
			rs.secs = bench_now() - t0;
			rs.maxrss_kib = ru.ru_maxrss;
		}
		if (io_full(out, &rs, sizeof rs, 1))
			break;
	}
	_exit(0);
}

int launcher_start(launcher *l, nnp_err *err)
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

void launcher_stop(launcher *l)
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
int time_stats_cmd(launcher *l, const char *model, const char *data, const char *out,
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
int time_prune_cmd(launcher *l, const char *model, const char *calib, uint64_t rows,
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

/* ---- JSON models, and the commands as a user runs them ----------------- */

/*
 * The model as JSON, best of BENCH_REPS: serialised in memory, saved to
 * path (nnp_model_save: the file, its fsync and rename) and loaded back
 * (nnp_model_load: read, parse, check). Reports MB/s of the file's bytes.
 */
int bench_json_model(bench_out *o, const nnp_model *m, const char *path, nnp_err *err)
{
	double t_ser = INFINITY, t_save = INFINITY, t_load = INFINITY;
	size_t bytes = 0;
	for (int rep = 0; rep < BENCH_REPS; rep++) {
		unsigned char *buf = NULL;
		nnp_model *back = NULL;
		double t0 = bench_now();
		if (nnp_model_to_buffer(m, NNP_FMT_JSON, &buf, &bytes, err))
			return -1;
		double t1 = bench_now();
		free(buf);
		double t2 = bench_now();
		if (nnp_model_save(m, path, NNP_FMT_JSON, err))
			return -1;
		double t3 = bench_now();
		if (nnp_model_load(&back, path, NULL, err))
			return -1;
		double t4 = bench_now();
		nnp_model_free(back);
		t_ser = fmin(t_ser, t1 - t0);
		t_save = fmin(t_save, t3 - t2);
		t_load = fmin(t_load, t4 - t3);
	}
	char note[96];
	double mb = (double)bytes / 1e6;
	snprintf(note, sizeof note, "(%.1f MB in %.0f ms; target >= 150 MB/s: %s)", mb,
	         t_load * 1e3, mb / t_load >= 150 ? "met" : "NOT met");
	bench_figure(o, "json_model_read_mb_s", "JSON model read (load, parse, check)", mb / t_load,
	       "MB/s", note);
	snprintf(note, sizeof note, "(%.0f ms; target >= 150 MB/s: %s)", t_ser * 1e3,
	         mb / t_ser >= 150 ? "met" : "NOT met");
	bench_figure(o, "json_model_write_mb_s", "JSON model write (serialise)", mb / t_ser, "MB/s", note);
	snprintf(note, sizeof note, "(%.0f ms with the file's fsync)", t_save * 1e3);
	bench_figure(o, "json_model_save_mb_s", "  saved to a file", mb / t_save, "MB/s", note);
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
int bench_user_commands(bench_out *o, launcher *l, const char *dir,
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
	bench_figure(o, "user_stats_json_seconds", "'nnprune stats' JSON model + CSV", secs, "s", note);
	bench_figure(o, "user_stats_floor_seconds", "  its floor", fl, "s", NULL);
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
		bench_figure(o, key, label, secs, "s", note);
	}
	bench_figure(o, "user_sweep_floor_seconds", "  its floor", fl, "s", NULL);
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

