/* The criteria table: names, parsing and indices agree; the random control
 * is a permutation, the same on every call, and prunes through the method
 * context like any ranking criterion. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/criteria.h"
#include "nnprune/method.h"
#include "testutil.h"

static void test_table_names(void **state)
{
	(void)state;
	size_t n = nnp_criteria_count();
	assert_true(n >= 4);
	assert_string_equal(nnp_criterion_at(NNP_METHOD_RULE)->name, "rule");
	assert_string_equal(nnp_criterion_at(NNP_METHOD_SCORE)->name, "score");
	assert_string_equal(nnp_criterion_at(NNP_METHOD_OBS)->name, "obs");
	assert_null(nnp_criterion_at(n));
	for (size_t i = 0; i < n; i++) {
		const nnp_criterion *c = nnp_criterion_at(i);
		nnp_method m;
		assert_int_equal(nnp_method_parse(c->name, &m), 0);
		assert_int_equal((size_t)m, i);
		assert_string_equal(nnp_method_name(m), c->name);
		assert_ptr_equal(nnp_criterion_find(c->name), c);
		assert_true(c->help && strlen(c->help) > 0);
		assert_true(strstr(nnp_criteria_names(), c->name) != NULL);
	}
	nnp_method m;
	assert_int_equal(nnp_method_parse("nope", &m), -1);
	assert_null(nnp_method_name((nnp_method)n));
	assert_true(nnp_criterion_by_thresholds(NULL));
	assert_true(nnp_criterion_by_thresholds("rule"));
	assert_false(nnp_criterion_by_thresholds("score"));
	assert_string_equal(nnp_criterion_display(NULL), "rule");
	assert_string_equal(nnp_criteria_names(),
	                    "rule, score, obs, random, l2, apoz, taylor or magnitude");
	nnp_method_opts o = NNP_METHOD_OPTS_INIT;
	o.method = (nnp_method)n;
	nnp_err err;
	assert_int_equal(nnp_method_check_opts(&o, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "expected rule, score, obs, random, l2, apoz, taylor or magnitude");
}

static void test_random_is_a_fixed_permutation(void **state)
{
	(void)state;
	const nnp_criterion *c = nnp_criterion_find("random");
	assert_non_null(c);
	assert_int_equal(c->needs, 0);
	enum { N = 50 };
	size_t a[N], b[N], seen[N] = { 0 };
	nnp_crit_layer L = { .layer = 1, .n = N, .m = 3 };
	assert_int_equal(c->order(&L, a, NULL), NNP_OK);
	assert_int_equal(c->order(&L, b, NULL), NNP_OK);
	assert_memory_equal(a, b, sizeof a);
	size_t moved = 0;
	for (size_t j = 0; j < N; j++) {
		assert_true(a[j] < N);
		seen[a[j]]++;
		moved += a[j] != j;
	}
	for (size_t j = 0; j < N; j++)
		assert_int_equal(seen[j], 1);
	assert_true(moved > N / 2);
	L.layer = 0;   /* another layer, another order */
	assert_int_equal(c->order(&L, b, NULL), NNP_OK);
	assert_memory_not_equal(a, b, sizeof a);
}

/* Through the method context: the kept neurons are the last k of the
 * order, and the model has the counts asked for. */
static void test_random_prunes(void **state)
{
	(void)state;
	tu_case *c = tu_case_net(5, "4 12:relu 3:softmax", 0.7);
	nnp_dataset d = { 64, 4, NULL, NULL };
	d.x = malloc(64 * 4 * sizeof(float));
	assert_non_null(d.x);
	for (size_t i = 0; i < 64 * 4; i++)
		d.x[i] = (float)tu_uniform(&c->rng, -1, 1);
	nnp_method_opts o = NNP_METHOD_OPTS_INIT;
	assert_int_equal(nnp_method_parse("random", &o.method), 0);
	o.compensate = NNP_COMP_NONE;
	size_t counts[] = { 5 };
	nnp_model *p = NULL;
	nnp_keep *k = NULL;
	nnp_err err;
	assert_int_equal(nnp_method_prune(&p, c->m, &d, &o, counts, &k, &err), NNP_OK);
	assert_int_equal(p->layers[0].out, 5);
	size_t order[12];
	nnp_crit_layer L = { .layer = 0, .n = 12, .m = 3 };
	nnp_criterion_find("random")->order(&L, order, NULL);
	/* kept = the last 5 of the order, ascending */
	size_t want[5];
	memcpy(want, order + 7, sizeof want);
	for (size_t i = 0; i < 5; i++)
		for (size_t j = i + 1; j < 5; j++)
			if (want[j] < want[i]) {
				size_t t = want[i];
				want[i] = want[j];
				want[j] = t;
			}
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(k->idx[0][i], want[i]);
	/* none: the kept rows of W1 and columns of W2 are copied as they were */
	for (size_t i = 0; i < 5; i++)
		assert_memory_equal(p->layers[0].w + i * 4, c->m->layers[0].w + want[i] * 4,
		                    4 * sizeof(float));
	nnp_keep_free(k);
	nnp_model_free(p);
	tu_case_free(c);
	free(d.x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_names),
		cmocka_unit_test(test_random_is_a_fixed_permutation),
		cmocka_unit_test(test_random_prunes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
