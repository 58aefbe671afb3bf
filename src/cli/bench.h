/*
 * nnprune bench (private): what the bench's files share. cmd_bench.c runs
 * the bench; below it, bench_figure.c times, records and judges a figure,
 * bench_launch.c holds the child-process launcher and the commands as a user
 * runs them, bench_sparse.c the sparse layers, bench_train.c the training.
 */
#ifndef NNP_CLI_BENCH_H
#define NNP_CLI_BENCH_H

#include <stdint.h>
#include <sys/types.h>
#include <cJSON.h>

#include "nnprune/nnp.h"
#include "nnprune/data.h"
#include "nnprune/method.h"
#include "nnprune/model.h"
#include "nnprune/sweep.h"

#define BENCH_REPS 3

typedef struct bench_out {
	cJSON *root;
	int json;
} bench_out;

/* Monotonic seconds. */
double bench_now(void);
/* Records key = value in the JSON and prints a line unless --json. */
void bench_figure(bench_out *o, const char *key, const char *label, double value,
                  const char *unit, const char *note);
/* "(target T: met)" or "(target T: NOT met)" into buf. */
void bench_verdict(char *buf, size_t n, int ok, const char *target);

/* The child-process launcher (bench_launch.c). */
typedef struct launcher {
	pid_t pid;
	int to, from;      /* requests in, results out */
} launcher;
int launcher_start(launcher *l, nnp_err *err);
void launcher_stop(launcher *l);
int time_stats_cmd(launcher *l, const char *model, const char *data, const char *out,
                   unsigned threads, double *secs, double *rss_mib, nnp_err *err);
int time_prune_cmd(launcher *l, const char *model, const char *calib, uint64_t rows,
                   nnp_method meth, nnp_compensate comp, const char *out, unsigned threads,
                   double *secs, double *rss_mib, nnp_err *err);
int bench_json_model(bench_out *o, const nnp_model *m, const char *path, nnp_err *err);
int bench_user_commands(bench_out *o, launcher *l, const char *dir, const char *json_model,
                        const char *csv, const nnp_model *m, const nnp_sweep *sw,
                        uint64_t rows, unsigned threads, double gemm_gflops, double csv_secs,
                        nnp_err *err);

/* Sparse layers (bench_sparse.c). */
int bench_sparse_layers(bench_out *o, const nnp_model *m, double gemm, unsigned threads,
                        nnp_err *err);
int bench_sparse_eval(bench_out *o, const nnp_model *m, const nnp_dataset *d, unsigned threads,
                      double t_eval, nnp_err *err);

/* One epoch of masked training and of distillation against plain training
 * (bench_train.c). */
int bench_training(bench_out *o, const nnp_model *m, const nnp_dataset *d, unsigned threads,
                   nnp_err *err);

#endif
