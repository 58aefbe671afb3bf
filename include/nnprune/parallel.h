/*
 * nnprune: the one parallel-for. Every multi-threaded loop of the library
 * (statistics, evaluation, the sweep, the methods' passes, training,
 * fine-tuning) runs on it.
 *
 * WHY RESULTS ARE THE SAME FOR ANY THREAD COUNT. The caller cuts the work
 * into tasks 0..n-1 whose boundaries depend only on the data (fixed blocks
 * of rows, one candidate, one job), never on how many threads there are.
 * A task writes only what belongs to that task (a slot indexed by the task,
 * not by the thread); a worker's scratch (indexed by `worker`) holds nothing
 * that outlives the task. Results are then combined in task order: either by
 * the caller after the loop, slot 0 first, or by the job's `merge`, which
 * the pool calls for task 0, 1, 2, ... one at a time. Which thread ran which
 * task, and when, can then change no bit of any sum: floating-point addition
 * happens in the same order whether one thread or a hundred did the work.
 */
#ifndef NNPRUNE_PARALLEL_H
#define NNPRUNE_PARALLEL_H

#include <stddef.h>
#include "nnprune/nnp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most threads any part of nnprune runs at once. */
#define NNP_MAX_THREADS 256u

/* Threads for a request: 0 means one per online core; at most NNP_MAX_THREADS. */
unsigned nnp_threads_resolve(unsigned requested);

/* Number of worker threads to use when the user asks for 0 ("all cores"). */
unsigned nnp_default_threads(void);

typedef struct nnp_pfor_job {
	/* Runs task `task` on worker `worker` (0 <= worker < nnp_pool_size). */
	void (*run)(void *ctx, size_t task, unsigned worker);
	/* Optional: called once per task in task order (0, 1, 2, ...), one at a
	 * time, on the worker that ran it, right after `run`; the worker's
	 * scratch still holds the task's result. NULL: the caller merges. */
	void (*merge)(void *ctx, size_t task, unsigned worker);
	void *ctx;
} nnp_pfor_job;

typedef struct nnp_pool nnp_pool;

/*
 * A pool of `threads` workers (1..NNP_MAX_THREADS), numbered 0..threads-1.
 * Without NNP_POOL_ASYNC the calling thread is worker 0 of every loop and
 * threads-1 others are started; with it, `threads` are started and the caller
 * is free while they run (nnp_pool_start / nnp_pool_wait). A thread that
 * cannot be started only means fewer at once: the others take its tasks.
 * Errors: NNP_EUSAGE (threads out of range), NNP_ENOMEM.
 */
enum { NNP_POOL_ASYNC = 1 };
int nnp_pool_create(nnp_pool **out, unsigned threads, int flags, nnp_err *err);
void nnp_pool_free(nnp_pool *p);
/* The number of worker indices: size per-worker scratch with it. */
unsigned nnp_pool_size(const nnp_pool *p);

/* Runs tasks 0..n-1 of the job and returns when all are done. */
void nnp_pool_for(nnp_pool *p, size_t n, const nnp_pfor_job *job);
/* The same in two halves: start (returns at once on an async pool) and wait.
 * Nothing else may use the pool in between; the job must outlive the wait. */
void nnp_pool_start(nnp_pool *p, size_t n, const nnp_pfor_job *job);
void nnp_pool_wait(nnp_pool *p);

/* A one-off loop: a pool of nnp_threads_resolve(threads), capped at n, then
 * freed. Without the memory for a pool it runs every task on the caller. */
void nnp_pfor(unsigned threads, size_t n, const nnp_pfor_job *job);

#ifdef __cplusplus
}
#endif
#endif
