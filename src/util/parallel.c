/* The parallel-for: a persistent pool handing out task indices in order, and
 * the optional in-order merge (see include/nnprune/parallel.h for why results
 * do not depend on the thread count). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnprune/parallel.h"

typedef struct pool_arg {
	nnp_pool *p;
	unsigned id;
} pool_arg;

struct nnp_pool {
	unsigned size;        /* worker indices 0..size-1 */
	int async;            /* 1: every worker is a thread; 0: the caller is worker 0 */
	unsigned started;     /* threads running */
	pthread_t *tid;
	pool_arg *args;
	pthread_mutex_t mu;
	pthread_cond_t start, done, order;
	uint64_t gen;
	int stop;
	unsigned active;      /* started threads still in the current loop */
	/* the current loop */
	nnp_pfor_job job;
	size_t n, next, commit;
};

unsigned nnp_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	if (n > (long)NNP_MAX_THREADS)
		return NNP_MAX_THREADS;
	return (unsigned)n;
}

unsigned nnp_threads_resolve(unsigned requested)
{
	unsigned t = requested ? requested : nnp_default_threads();
	return t > NNP_MAX_THREADS ? NNP_MAX_THREADS : t;
}

/* Tasks until none is left; with a merge, each waits for its turn. */
static void run_tasks(nnp_pool *p, unsigned id)
{
	for (;;) {
		pthread_mutex_lock(&p->mu);
		size_t t = p->next < p->n ? p->next++ : p->n;
		pthread_mutex_unlock(&p->mu);
		if (t == p->n)
			return;
		p->job.run(p->job.ctx, t, id);
		if (!p->job.merge)
			continue;
		/* The thread holding the oldest unmerged task never waits, so the
		 * chain always moves. */
		pthread_mutex_lock(&p->mu);
		while (p->commit != t)
			pthread_cond_wait(&p->order, &p->mu);
		pthread_mutex_unlock(&p->mu);
		p->job.merge(p->job.ctx, t, id);
		pthread_mutex_lock(&p->mu);
		p->commit++;
		pthread_cond_broadcast(&p->order);
		pthread_mutex_unlock(&p->mu);
	}
}

static void *worker_main(void *arg)
{
	pool_arg *a = arg;
	nnp_pool *p = a->p;
	uint64_t seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->gen == seen && !p->stop)
			pthread_cond_wait(&p->start, &p->mu);
		if (p->stop)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		run_tasks(p, a->id);
		pthread_mutex_lock(&p->mu);
		if (--p->active == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int nnp_pool_create(nnp_pool **out, unsigned threads, int flags, nnp_err *err)
{
	*out = NULL;
	if (threads < 1 || threads > NNP_MAX_THREADS)
		return nnp_err_set(err, NNP_EUSAGE, "%u threads: between 1 and %u are allowed",
		                   threads, NNP_MAX_THREADS);
	nnp_pool *p = calloc(1, sizeof *p);
	if (!p)
		return nnp_err_set(err, NNP_ENOMEM, "thread pool: out of memory");
	p->size = threads;
	p->async = (flags & NNP_POOL_ASYNC) != 0;
	p->tid = calloc(threads, sizeof *p->tid);
	p->args = calloc(threads, sizeof *p->args);
	int ok = p->tid && p->args && pthread_mutex_init(&p->mu, NULL) == 0;
	if (ok && pthread_cond_init(&p->start, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		ok = 0;
	}
	if (ok && pthread_cond_init(&p->done, NULL) != 0) {
		pthread_cond_destroy(&p->start);
		pthread_mutex_destroy(&p->mu);
		ok = 0;
	}
	if (ok && pthread_cond_init(&p->order, NULL) != 0) {
		pthread_cond_destroy(&p->done);
		pthread_cond_destroy(&p->start);
		pthread_mutex_destroy(&p->mu);
		ok = 0;
	}
	if (!ok) {
		free(p->tid);
		free(p->args);
		free(p);
		return nnp_err_set(err, NNP_ENOMEM, "thread pool: cannot create its synchronisation");
	}
	for (unsigned id = p->async ? 0 : 1; id < threads; id++) {
		pool_arg *a = &p->args[p->started];
		a->p = p;
		a->id = id;
		if (pthread_create(&p->tid[p->started], NULL, worker_main, a) != 0)
			break;
		p->started++;
	}
	*out = p;
	return NNP_OK;
}

void nnp_pool_free(nnp_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->tid[i], NULL);
	pthread_cond_destroy(&p->order);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->start);
	pthread_mutex_destroy(&p->mu);
	free(p->tid);
	free(p->args);
	free(p);
}

unsigned nnp_pool_size(const nnp_pool *p)
{
	return p->size;
}

void nnp_pool_start(nnp_pool *p, size_t n, const nnp_pfor_job *job)
{
	pthread_mutex_lock(&p->mu);
	p->job = *job;
	p->n = n;
	p->next = 0;
	p->commit = 0;
	p->active = p->started;
	p->gen++;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->mu);
	/* The caller works in a synchronous pool, and in any pool that could
	 * start no thread. */
	if (!p->async || p->started == 0)
		run_tasks(p, 0);
}

void nnp_pool_wait(nnp_pool *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->active)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void nnp_pool_for(nnp_pool *p, size_t n, const nnp_pfor_job *job)
{
	if (n == 0)
		return;
	if (p->started == 0 || (n == 1 && !p->async)) {
		/* Nobody else would get a task: no need to wake anyone. */
		p->job = *job;
		p->n = n;
		p->next = p->commit = 0;
		run_tasks(p, 0);
		return;
	}
	nnp_pool_start(p, n, job);
	nnp_pool_wait(p);
}

void nnp_pfor(unsigned threads, size_t n, const nnp_pfor_job *job)
{
	unsigned t = nnp_threads_resolve(threads);
	if (t > n)
		t = n ? (unsigned)(n < NNP_MAX_THREADS ? n : NNP_MAX_THREADS) : 1;
	nnp_pool *p = NULL;
	if (t > 1 && nnp_pool_create(&p, t, 0, NULL) == NNP_OK) {
		nnp_pool_for(p, n, job);
		nnp_pool_free(p);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		job->run(job->ctx, i, 0);
		if (job->merge)
			job->merge(job->ctx, i, 0);
	}
}
