/* The parallel-for and the row source: every task runs once, merges come in
 * task order whatever the thread count, and chunks streamed from a file are
 * the rows in memory (file stamp and count checked). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/parallel.h"
#include "nnprune/rows.h"
#include "testutil.h"

#define N_TASKS 1000u

typedef struct job_ctx {
	unsigned runs[N_TASKS];     /* times each task ran */
	double part[NNP_MAX_THREADS];
	size_t order[N_TASKS];      /* merge sequence */
	size_t merged;
	double sum;                 /* sum of 1/(t+1) in merge order */
	unsigned max_worker;
} job_ctx;

static void run(void *ctx, size_t t, unsigned worker)
{
	job_ctx *c = ctx;
	c->runs[t]++;               /* each task has its own counter: no race */
	c->part[worker] = 1.0 / (double)(t + 1);
}

static void merge(void *ctx, size_t t, unsigned worker)
{
	job_ctx *c = ctx;
	c->order[c->merged++] = t;
	c->sum += c->part[worker];
	if (worker > c->max_worker)
		c->max_worker = worker;
}

static void check_job(const job_ctx *c, unsigned threads)
{
	for (size_t t = 0; t < N_TASKS; t++) {
		assert_int_equal(c->runs[t], 1);
		assert_int_equal(c->order[t], t);
	}
	assert_int_equal(c->merged, N_TASKS);
	assert_true(c->max_worker < threads);
	/* The same bits as the plain loop in task order. */
	double want = 0.0;
	for (size_t t = 0; t < N_TASKS; t++)
		want += 1.0 / (double)(t + 1);
	assert_memory_equal(&c->sum, &want, sizeof want);
}

static void test_pool_every_task_once_in_order(void **state)
{
	(void)state;
	unsigned counts[] = { 1, 2, 3, 8, 17 };
	for (size_t k = 0; k < sizeof counts / sizeof *counts; k++)
		for (int async = 0; async < 2; async++) {
			nnp_pool *p = NULL;
			assert_int_equal(nnp_pool_create(&p, counts[k], async ? NNP_POOL_ASYNC : 0,
			                                 NULL), NNP_OK);
			assert_int_equal(nnp_pool_size(p), counts[k]);
			for (int rep = 0; rep < 3; rep++) {  /* a pool runs many loops */
				job_ctx *c = calloc(1, sizeof *c);
				assert_non_null(c);
				nnp_pfor_job job = { run, merge, c };
				if (async) {
					nnp_pool_start(p, N_TASKS, &job);
					nnp_pool_wait(p);
				} else {
					nnp_pool_for(p, N_TASKS, &job);
				}
				check_job(c, counts[k]);
				free(c);
			}
			nnp_pool_free(p);
		}
}

static void test_pfor_one_off_and_limits(void **state)
{
	(void)state;
	for (unsigned t = 0; t < 5; t++) {
		job_ctx *c = calloc(1, sizeof *c);
		assert_non_null(c);
		nnp_pfor_job job = { run, merge, c };
		nnp_pfor(t, N_TASKS, &job);
		check_job(c, t ? t : NNP_MAX_THREADS);
		free(c);
	}
	nnp_pfor_job none = { run, NULL, NULL };
	nnp_pfor(4, 0, &none);      /* no task: nothing runs */
	nnp_pool *p = NULL;
	nnp_err err;
	assert_int_equal(nnp_pool_create(&p, 0, 0, &err), NNP_EUSAGE);
	assert_int_equal(nnp_pool_create(&p, NNP_MAX_THREADS + 1, 0, &err), NNP_EUSAGE);
	assert_null(p);
	assert_int_equal(nnp_threads_resolve(NNP_MAX_THREADS + 7), NNP_MAX_THREADS);
	assert_int_equal(nnp_threads_resolve(3), 3);
	assert_true(nnp_threads_resolve(0) >= 1);
}

/* ---- row source ---- */

static char *write_csv(const char *dir, size_t rows)
{
	char *path = tu_path(dir, "rows.csv");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t r = 0; r < rows; r++)
		fprintf(f, "%zu,%zu.5,%zu\n", r % 3, r, 2 * r);
	fclose(f);
	return path;
}

/* Every chunk of the file equals the same rows of the data in memory. */
static void test_rows_stream_equals_memory(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *path = write_csv(dir, 23);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.header = NNP_HEADER_NO;
	nnp_dataset *d = NULL;
	nnp_err err;
	assert_int_equal(nnp_dataset_load(&d, path, &o, 0, &err), NNP_OK);
	for (int buffers = 1; buffers <= 2; buffers++) {
		nnp_rows_spec ms = { 0 }, fs = { 0 };
		ms.data = d;
		ms.chunk_rows = fs.chunk_rows = 5;
		ms.labels = fs.labels = 1;
		fs.path = path;
		fs.opts = &o;
		fs.buffers = buffers;
		nnp_rows *mr = NULL, *fr = NULL;
		assert_int_equal(nnp_rows_open(&mr, &ms, &err), NNP_OK);
		assert_int_equal(nnp_rows_open(&fr, &fs, &err), NNP_OK);
		assert_int_equal(nnp_rows_features(fr), 2);
		assert_true(nnp_rows_streaming(fr) && !nnp_rows_streaming(mr));
		size_t total = 0;
		for (;;) {
			nnp_chunk a, b;
			assert_int_equal(nnp_rows_next(mr, &a, &err), NNP_OK);
			assert_int_equal(nnp_rows_next(fr, &b, &err), NNP_OK);
			assert_int_equal(a.rows, b.rows);
			assert_int_equal(a.first, total);
			assert_int_equal(b.first, total);
			if (!a.rows)
				break;
			assert_memory_equal(a.x, b.x, a.rows * 2 * sizeof(float));
			assert_memory_equal(a.y, b.y, a.rows * sizeof(int32_t));
			assert_true(b.x[0] == (float)total + 0.5f);
			total += a.rows;
		}
		assert_int_equal(total, 23);
		nnp_rows_free(mr);
		nnp_rows_free(fr);
	}
	/* Labels checked against the outputs: row 3 has label 2. */
	nnp_rows_spec ls = { 0 };
	ls.data = d;
	ls.chunk_rows = 8;
	ls.labels = 1;
	ls.outputs = 2;
	nnp_rows *lr = NULL;
	nnp_chunk c;
	assert_int_equal(nnp_rows_open(&lr, &ls, &err), NNP_OK);
	assert_int_equal(nnp_rows_next(lr, &c, &err), NNP_EINPUT);
	tu_expect_msg(&err, "data row 3: label 2 is out of range");
	nnp_rows_free(lr);
	nnp_dataset_free(d);
	free(path);
}

/* A stamped file must keep its count and stamp to the end of the pass. */
static void test_rows_stamp_and_count(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *path = write_csv(dir, 10);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.header = NNP_HEADER_NO;
	nnp_file_stamp st;
	nnp_err err;
	assert_int_equal(nnp_file_stamp_get(path, &st, &err), NNP_OK);
	uint64_t counts[] = { 10, 12, 7 };
	int want[] = { NNP_OK, NNP_EINPUT, NNP_EINPUT };
	const char *msg[] = { NULL, "it had 12 calibration rows, now fewer",
		              "it had 7 calibration rows, now more" };
	for (int k = 0; k < 3; k++) {
		nnp_rows_spec s = { 0 };
		s.path = path;
		s.opts = &o;
		s.chunk_rows = 4;
		s.stamp = &st;
		s.expect_rows = counts[k];
		s.what = "calibration rows";
		nnp_rows *r = NULL;
		assert_int_equal(nnp_rows_open(&r, &s, &err), NNP_OK);
		nnp_chunk c;
		int rc;
		while ((rc = nnp_rows_next(r, &c, &err)) == NNP_OK && c.rows)
			;
		assert_int_equal(rc, want[k]);
		if (msg[k])
			tu_expect_msg(&err, msg[k]);
		nnp_rows_free(r);
	}
	/* Rewritten since stamped: refused at open. */
	free(write_csv(dir, 11));
	nnp_rows_spec s = { 0 };
	s.path = path;
	s.opts = &o;
	s.chunk_rows = 4;
	s.stamp = &st;
	s.expect_rows = 10;
	s.what = "calibration rows";
	nnp_rows *r = NULL;
	assert_int_equal(nnp_rows_open(&r, &s, &err), NNP_EINPUT);
	tu_expect_msg(&err, "changed while being read (calibration rows are read");
		free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_every_task_once_in_order),
		cmocka_unit_test(test_pfor_one_off_and_limits),
		TU_DIR_TEST(test_rows_stream_equals_memory),
		TU_DIR_TEST(test_rows_stamp_and_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
