/* Tests of the enum name tables (util/names.h) and of every public name/parse
 * pair built on them: each value's name, its parse back, and the refusals. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/criteria.h"
#include "nnprune/data.h"
#include "nnprune/gates.h"
#include "nnprune/iterative.h"
#include "nnprune/method.h"
#include "nnprune/model.h"
#include "nnprune/train.h"
#include "mem.h"
#include "names.h"
#include "testutil.h"

static const char *const three[] = { "a", "bb", "ccc" };

static void test_table(void **state)
{
	(void)state;
	const nnp_names t = NNP_NAMES(three);
	assert_int_equal(t.n, 3);
	assert_string_equal(nnp_names_of(&t, 0), "a");
	assert_string_equal(nnp_names_of(&t, 2), "ccc");
	assert_null(nnp_names_of(&t, 3));
	assert_null(nnp_names_of(&t, -1));
	assert_int_equal(nnp_names_find(&t, "bb"), 1);
	assert_int_equal(nnp_names_find(&t, "b"), -1);
	assert_int_equal(nnp_names_find(&t, "BB"), -1);
	assert_int_equal(nnp_names_find(&t, NULL), -1);
	char buf[32];
	assert_string_equal(nnp_names_join(&t, " or ", buf, sizeof buf), "a, bb or ccc");
	assert_string_equal(nnp_names_join(&t, ", ", buf, sizeof buf), "a, bb, ccc");
	/* Cut short where it does not fit, and still a string. */
	assert_string_equal(nnp_names_join(&t, " or ", buf, 6), "a, bb");
	const nnp_names one = { three, 1 };
	assert_string_equal(nnp_names_join(&one, " or ", buf, sizeof buf), "a");
}

/* One public pair: names[v] is value v's name, parses back to v, and is
 * refused with its first letter capitalised (case matters); other names (and
 * NULL where the pair takes it) are refused, leaving *out. */
#define CHECK_PAIR(name_fn, parse_fn, type, ...) \
	do { \
		static const char *const want[] = { __VA_ARGS__ }; \
		for (int v = 0; v < (int)(sizeof want / sizeof *want); v++) { \
			assert_string_equal(name_fn((type)v), want[v]); \
			type got = (type)-1; \
			assert_int_equal(parse_fn(want[v], &got), 0); \
			assert_int_equal(got, v); \
			char upper[32]; \
			snprintf(upper, sizeof upper, "%s", want[v]); \
			upper[0] = (char)toupper((unsigned char)upper[0]); \
			assert_int_equal(parse_fn(upper, &got), -1); \
			assert_int_equal(got, v); \
		} \
		assert_null(name_fn((type)(sizeof want / sizeof *want))); \
		type keep = (type)0; \
		assert_int_equal(parse_fn("none of these", &keep), -1); \
		assert_int_equal(keep, 0); \
	} while (0)

static void test_public_pairs(void **state)
{
	(void)state;
	CHECK_PAIR(nnp_act_name, nnp_act_parse, nnp_act, "linear", "relu", "leaky_relu", "sigmoid",
	           "tanh", "softmax");
	CHECK_PAIR(nnp_optimizer_name, nnp_optimizer_parse, nnp_optimizer, "adam", "sgd");
	CHECK_PAIR(nnp_lr_schedule_name, nnp_lr_schedule_parse, nnp_lr_schedule, "constant",
	           "cosine");
	CHECK_PAIR(nnp_compensate_name, nnp_compensate_parse, nnp_compensate, "none", "fold", "ls");
	CHECK_PAIR(nnp_header_name, nnp_header_parse, nnp_header_mode, "auto", "yes", "no");
	CHECK_PAIR(nnp_mag_scope_name, nnp_mag_scope_parse, nnp_mag_scope, "layer", "global",
	           "hidden");
	assert_string_equal(nnp_iter_stop_name(NNP_ITER_RUNNING), "running");
	assert_string_equal(nnp_iter_stop_name(NNP_ITER_MIN_NEURONS), "min-neurons");
	assert_string_equal(nnp_iter_stop_name(NNP_ITER_MAX_STEPS), "max-steps");
	assert_null(nnp_iter_stop_name((nnp_iter_stop)5));
	/* Case matters, and NULL is no name. */
	nnp_act a = NNP_ACT_TANH;
	assert_int_equal(nnp_act_parse("ReLU", &a), -1);
	assert_int_equal(nnp_act_parse(NULL, &a), -1);
	assert_int_equal(a, NNP_ACT_TANH);
	assert_int_equal(nnp_act_parse("relu", NULL), 0);  /* a check of the name alone */
}

/* --write: the names, the unknown one said with the list, "?" out of range. */
static void test_write_mode(void **state)
{
	(void)state;
	const char *want[] = { "distinct", "all", "pareto", "best" };
	nnp_err err;
	for (int v = 0; v < 4; v++) {
		nnp_write_mode m = NNP_WRITE_BEST;
		assert_string_equal(nnp_write_mode_name((nnp_write_mode)v), want[v]);
		assert_int_equal(nnp_write_mode_parse(want[v], &m, &err), NNP_OK);
		assert_int_equal(m, v);
	}
	assert_string_equal(nnp_write_mode_name((nnp_write_mode)4), "?");
	nnp_write_mode m = NNP_WRITE_ALL;
	assert_int_equal(nnp_write_mode_parse("some", &m, &err), NNP_EUSAGE);
	assert_string_equal(err.msg, "--write: 'some' is not one of distinct, all, pareto, best");
	assert_int_equal(m, NNP_WRITE_ALL);
}

/* NNP_FREE_ALL frees each pointer (NULL among them) once: the leak and
 * double-free checks of the sanitizer build see it. */
static void test_free_all(void **state)
{
	(void)state;
	char *a = malloc(8), *b = NULL, *c = malloc(16);
	assert_non_null(a);
	assert_non_null(c);
	NNP_FREE_ALL(a, b, c);
	int calls = 0;
	char *d = malloc(4);
	assert_non_null(d);
	/* Each argument is evaluated once. */
	NNP_FREE_ALL((calls++, d));
	assert_int_equal(calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_public_pairs),
		cmocka_unit_test(test_write_mode),
		cmocka_unit_test(test_free_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
