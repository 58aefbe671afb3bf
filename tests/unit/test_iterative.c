/* Tests of the iterative ranking loop: each stop condition triggering where
 * an independent reckoning says, the first step equal to a one-shot prune,
 * the fine-tuning hook's schedule, the CSV trace, and the same results for
 * 1, 2 and 4 threads. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/criteria.h"
#include "nnprune/forward.h"
#include "nnprune/iterative.h"
#include "testutil.h"

enum { F = 4, K = 3 };

/* Rows labelled by the model's own prediction: it starts at 100%. */
static nnp_dataset *rows_of(tu_rng *r, const nnp_model *m, size_t rows)
{
	nnp_dataset *d = tu_dataset(rows, F);
	for (size_t i = 0; i < rows * F; i++)
		d->x[i] = (float)tu_uniform(r, -1, 1);
	nnp_forward *f = NULL;
	nnp_err err;
	assert_int_equal(nnp_forward_create(&f, m, rows, &err), NNP_OK);
	const float *y = nnp_forward_run(f, d->x, rows);
	for (size_t i = 0; i < rows; i++) {
		size_t best = 0;
		for (size_t k = 1; k < K; k++)
			best = y[i * K + k] > y[i * K + best] ? k : best;
		d->y[i] = (int32_t)best;
	}
	nnp_forward_free(f);
	return d;
}

/* Correct rows, by a forward run and an argmax taken here. */
static uint64_t correct_of(const nnp_model *m, const nnp_dataset *d)
{
	nnp_forward *f = NULL;
	nnp_err err;
	assert_int_equal(nnp_forward_create(&f, m, d->rows, &err), NNP_OK);
	const float *y = nnp_forward_run(f, d->x, d->rows);
	uint64_t c = 0;
	for (size_t i = 0; i < d->rows; i++) {
		size_t best = 0;
		for (size_t k = 1; k < K; k++)
			best = y[i * K + k] > y[i * K + best] ? k : best;
		c += (int32_t)best == d->y[i];
	}
	nnp_forward_free(f);
	return c;
}

static nnp_iter_opts opts(const char *method, unsigned threads)
{
	nnp_iter_opts o = NNP_ITER_OPTS_INIT;
	assert_int_equal(nnp_method_parse(method, &o.method.method), 0);
	o.method.compensate = NNP_COMP_FOLD;
	o.method.threads = threads;
	o.method.batch = 16;
	return o;
}

static size_t params_of(const size_t *w)
{
	return (F * w[0] + w[0]) + (w[0] * w[1] + w[1]) + (w[1] * K + K);
}

/* The widths one neuron at a time: the layer with the most to spare. */
static void next_widths(size_t *w, size_t min)
{
	size_t s0 = w[0] > min ? w[0] - min : 0, s1 = w[1] > min ? w[1] - min : 0;
	if (s0 >= s1)
		w[0]--;
	else
		w[1]--;
}

/* What a test starts from: the network of a seed, then calibration rows and
 * held-out rows (none with held 0) drawn and labelled by the network. */
typedef struct start {
	uint64_t seed;
	size_t cal, held;
} start;

/* A cmocka setup: *state a start on entry, its tu_case (m, d = the
 * calibration rows, held) after. */
static int setup(void **state)
{
	const start *s = *state;
	tu_case *c = tu_case_net(s->seed, "4 8:relu 6:tanh 3:softmax", 1.0);
	c->d = rows_of(&c->rng, c->m, s->cal);
	if (s->held)
		c->held = rows_of(&c->rng, c->m, s->held);
	*state = c;
	return 0;
}

/* Test f from the start of that seed and row counts, freed even when it fails. */
#define ITER_TEST(f, seed, cal, held)                                       \
	cmocka_unit_test_prestate_setup_teardown(f, setup, tu_case_teardown, \
	                                         (&(start){ seed, cal, held }))

static void test_min_neurons(void **state)
{
	tu_case *c = *state;
	nnp_model *out = NULL;
	nnp_iter_opts o = opts("score", 1);
	o.min_neurons = 2;
	nnp_iter_trace *t = NULL;
	nnp_err err;
	assert_int_equal(nnp_prune_iterative(c->m, c->d, c->held, &o, &out, &t, &err), NNP_OK);
	assert_int_equal(t->stop, NNP_ITER_MIN_NEURONS);
	assert_int_equal(t->n, 1 + 6 + 4);
	assert_int_equal(t->kept, t->n - 1);
	size_t w[2] = { 8, 6 };
	for (size_t s = 0; s < t->n; s++) {
		assert_int_equal(t->neurons[2 * s], w[0]);
		assert_int_equal(t->neurons[2 * s + 1], w[1]);
		assert_int_equal(t->params[s], params_of(w));
		if (s + 1 < t->n)
			next_widths(w, 2);
	}
	assert_int_equal(out->layers[0].out, 2);
	assert_int_equal(out->layers[1].out, 2);
	assert_int_equal(t->rows, 50);
	assert_true(t->accuracy[0] == 1.0);
	assert_int_equal(t->correct[t->n - 1], correct_of(out, c->held));
	nnp_iter_trace_free(t);
	nnp_model_free(out);
}

/* One step is the one-shot prune of the layer with the most to spare. */
static void test_first_step_is_one_shot(void **state)
{
	tu_case *c = *state;
	nnp_model *out = NULL, *ref = NULL;
	const char *methods[] = { "score", "l2", "taylor", "obs" };
	for (size_t i = 0; i < 4; i++) {
		nnp_iter_opts o = opts(methods[i], 2);
		o.method.compensate = NNP_COMP_LS;
		o.max_steps = 1;
		o.step = 3;   /* shared 3:2 -> 2 from layer 0 (6 spare of 12), 1 from layer 1 */
		nnp_iter_trace *t = NULL;
		nnp_err err;
		assert_int_equal(nnp_prune_iterative(c->m, c->d, NULL, &o, &out, &t, &err), NNP_OK);
		assert_int_equal(t->stop, NNP_ITER_MAX_STEPS);
		assert_true(isnan(t->accuracy[1]));
		nnp_iter_trace_free(t);
		size_t counts[2] = { 6, 5 };
		assert_int_equal(nnp_method_prune(&ref, c->m, c->d, &o.method, counts, NULL, &err), NNP_OK);
		tu_assert_models_bitequal(out, ref);
		nnp_model_free(ref);
		nnp_model_free(out);
	}
}

static void test_target(void **state)
{
	tu_case *c = *state;
	nnp_model *out = NULL;
	size_t w[2] = { 8, 6 }, steps = 0, target = params_of((size_t[]){ 5, 4 }) + 3;
	while (params_of(w) > target) {
		next_widths(w, 1);
		steps++;
	}
	nnp_iter_opts o = opts("random", 1);
	o.target_params = target;
	nnp_iter_trace *t = NULL;
	nnp_err err;
	assert_int_equal(nnp_prune_iterative(c->m, c->d, NULL, &o, &out, &t, &err), NNP_OK);
	assert_int_equal(t->stop, NNP_ITER_TARGET);
	assert_int_equal(t->n, steps + 1);
	assert_int_equal(nnp_model_params(out), params_of(w));
	assert_true(nnp_model_params(out) <= target);
	assert_true(t->params[t->n - 2] > target);
	nnp_iter_trace_free(t);
	nnp_model_free(out);
	/* as a share of the parameters: 50% */
	o.target_params = 0;
	o.target_percent = 50.0;
	assert_int_equal(nnp_prune_iterative(c->m, c->d, NULL, &o, &out, &t, &err), NNP_OK);
	assert_int_equal(t->stop, NNP_ITER_TARGET);
	assert_true(2 * nnp_model_params(out) <= nnp_model_params(c->m));
	assert_true(2 * t->params[t->n - 2] > nnp_model_params(c->m));
	nnp_iter_trace_free(t);
	nnp_model_free(out);
	/* already met: the model itself */
	o.target_percent = 100.0;
	assert_int_equal(nnp_prune_iterative(c->m, c->d, NULL, &o, &out, &t, &err), NNP_OK);
	assert_int_equal(t->n, 1);
	assert_int_equal(nnp_model_params(out), nnp_model_params(c->m));
	nnp_iter_trace_free(t);
	nnp_model_free(out);
}

static void test_until_drop(void **state)
{
	tu_case *c = *state;
	nnp_model *out = NULL;
	const double budgets[] = { 0.0, 4.0, 15.0 };
	for (size_t b = 0; b < 3; b++) {
		nnp_iter_opts o = opts("score", 1);
		o.until_drop = budgets[b];
		nnp_iter_trace *t = NULL;
		nnp_err err;
		assert_int_equal(nnp_prune_iterative(c->m, c->d, c->held, &o, &out, &t, &err), NNP_OK);
		uint64_t c0 = correct_of(c->m, c->held);
		assert_int_equal(t->correct[0], c0);
		for (size_t s = 0; s + 1 < t->n; s++)
			assert_true(100.0 * ((double)c0 - (double)t->correct[s]) / 100.0 <= budgets[b]);
		if (t->stop == NNP_ITER_DROP) {
			assert_true(100.0 * ((double)c0 - (double)t->correct[t->n - 1]) / 100.0 >
			            budgets[b]);
			assert_int_equal(t->kept, t->n - 2);
		} else {
			assert_int_equal(t->stop, NNP_ITER_MIN_NEURONS);
		}
		/* what is returned is the kept row's model */
		assert_int_equal(correct_of(out, c->held), t->correct[t->kept]);
		assert_int_equal(out->layers[0].out, t->neurons[2 * t->kept]);
		assert_int_equal(out->layers[1].out, t->neurons[2 * t->kept + 1]);
		if (b == 0)
			assert_int_equal(t->stop, NNP_ITER_DROP);
		nnp_iter_trace_free(t);
		nnp_model_free(out);
	}
}

static void test_threads(void **state)
{
	tu_case *c = *state;
	unsigned char *first = NULL;
	size_t first_len = 0;
	nnp_iter_trace *t1 = NULL;
	for (unsigned th = 1; th <= 4; th *= 2) {
		nnp_iter_opts o = opts("taylor", th);
		o.method.compensate = NNP_COMP_LS;
		o.step_percent = 20.0;
		o.until_drop = 10.0;
		nnp_model *out = NULL;
		nnp_iter_trace *t = NULL;
		nnp_err err;
		assert_int_equal(nnp_prune_iterative(c->m, c->d, c->held, &o, &out, &t, &err), NNP_OK);
		size_t len;
		unsigned char *b = tu_model_bytes(out, NNP_FMT_BIN, &len);
		if (!first) {
			first = b;
			first_len = len;
			t1 = t;
		} else {
			assert_int_equal(len, first_len);
			assert_memory_equal(b, first, len);
			assert_int_equal(t->n, t1->n);
			assert_memory_equal(t->neurons, t1->neurons, t->n * 2 * sizeof *t->neurons);
			assert_memory_equal(t->correct, t1->correct, t->n * sizeof *t->correct);
			nnp_iter_trace_free(t);
			free(b);
		}
		nnp_model_free(out);
	}
	/* 20% of the 14 neurons: 2, shared 7:5 by the spare ones -> 1 + 1 */
	assert_int_equal(t1->neurons[2], 7);
	assert_int_equal(t1->neurons[3], 5);
	free(first);
	nnp_iter_trace_free(t1);
}

typedef struct ft_log {
	size_t steps[16], n;
} ft_log;

/* A "fine-tuning" that nudges every bias of the last layer, logged. */
static int fake_finetune(void *ctx, nnp_model **m, size_t step, nnp_err *err)
{
	(void)err;
	ft_log *lg = ctx;
	lg->steps[lg->n++] = step;
	nnp_layer *L = &(*m)->layers[(*m)->n_layers - 1];
	for (size_t i = 0; i < L->out; i++)
		L->b[i] += 0.001f;
	return NNP_OK;
}

static void progress(void *ctx, const nnp_iter_trace *t)
{
	size_t *calls = ctx;
	assert_int_equal(t->n, *calls + 2);
	(*calls)++;
}

static void test_finetune_hook_and_csv(void **state)
{
	tu_case *c = *state;
	nnp_model *out = NULL;
	nnp_iter_opts o = opts("l2", 1);
	o.max_steps = 7;
	o.finetune_every = 3;
	ft_log lg = { { 0 }, 0 };
	size_t calls = 0;
	o.finetune = fake_finetune;
	o.finetune_ctx = &lg;
	o.progress = progress;
	o.progress_ctx = &calls;
	nnp_iter_trace *t = NULL;
	nnp_err err;
	assert_int_equal(nnp_prune_iterative(c->m, c->d, c->held, &o, &out, &t, &err), NNP_OK);
	assert_int_equal(lg.n, 2);
	assert_int_equal(lg.steps[0], 3);
	assert_int_equal(lg.steps[1], 6);
	assert_int_equal(calls, 7);
	assert_int_equal(t->stop, NNP_ITER_MAX_STEPS);
	assert_string_equal(nnp_iter_stop_name(t->stop), "max-steps");
	char *csv = NULL;
	size_t len;
	assert_int_equal(nnp_iter_trace_csv(t, &csv, &len, &err), NNP_OK);
	assert_int_equal(strlen(csv), len);
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += csv[i] == '\n';
	assert_int_equal(lines, 1 + 8);
	char want[128];
	snprintf(want, sizeof want,
	         "step,params,accuracy,neurons_0,neurons_1,finetuned\n0,%zu,1.000000,8,6,0\n",
	         nnp_model_params(c->m));
	assert_memory_equal(csv, want, strlen(want));
	free(csv);
	for (size_t s = 0; s < t->n; s++)   /* the trace marks the steps fine-tuned */
		assert_int_equal(t->finetuned[s], s == 3 || s == 6);
	nnp_iter_trace_free(t);
	nnp_model_free(out);
}

static void test_errors(void **state)
{
	tu_case *c = *state;
	nnp_model *out = NULL;
	nnp_err err;
	const char *no_rank[] = { "rule", "magnitude" };
	for (size_t i = 0; i < 2; i++) {
		nnp_iter_opts o = opts(no_rank[i], 1);
		assert_int_equal(nnp_prune_iterative(c->m, c->d, NULL, &o, &out, NULL, &err), NNP_EUSAGE);
		assert_non_null(strstr(err.msg, "does not rank neurons"));
	}
	nnp_iter_opts o = opts("score", 1);
	o.until_drop = 1.0;
	assert_int_equal(nnp_prune_iterative(c->m, c->d, NULL, &o, &out, NULL, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "held-out rows"));
	o = opts("score", 1);
	o.step_percent = 150;
	assert_int_equal(nnp_prune_iterative(c->m, c->d, NULL, &o, &out, NULL, &err), NNP_EUSAGE);
	o = opts("score", 1);
	o.finetune_every = 2;
	assert_int_equal(nnp_prune_iterative(c->m, c->d, NULL, &o, &out, NULL, &err), NNP_EUSAGE);
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITER_TEST(test_min_neurons, 61, 60, 50),
		ITER_TEST(test_first_step_is_one_shot, 62, 60, 0),
		ITER_TEST(test_target, 63, 60, 0),
		ITER_TEST(test_until_drop, 64, 80, 100),
		ITER_TEST(test_threads, 65, 90, 70),
		ITER_TEST(test_finetune_hook_and_csv, 66, 60, 40),
		ITER_TEST(test_errors, 67, 20, 0),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
