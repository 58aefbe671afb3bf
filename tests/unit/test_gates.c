/* Tests of the gates, the choice of the best candidate, --write and the sizes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "nnprune/gates.h"
#include "testutil.h"

/* A sweep by hand: the original 1000 parameters at 90% accuracy (900 of
 * 1000 rows), candidates given as (params, correct rows, file bytes, same_as). */
typedef struct row {
	size_t params;
	int correct;
	uint64_t file_bytes;
	size_t same_as;
} row;

#define D NNP_NO_DUP

static nnp_sweep *make(const row *rows, size_t n)
{
	nnp_sweep *sw = calloc(1, sizeof *sw);
	assert_non_null(sw);
	sw->n = n;
	sw->c = calloc(n ? n : 1, sizeof *sw->c);
	assert_non_null(sw->c);
	sw->original.params = 1000;
	sw->original.accuracy = 0.9;
	sw->original.thr.mean = sw->original.thr.std = NAN;
	sw->original.same_as = D;
	for (size_t i = 0; i < n; i++) {
		nnp_candidate *c = &sw->c[i];
		size_t f = rows[i].same_as == D ? i : rows[i].same_as;
		c->params = rows[f].params;
		/* Accuracy and drop from counts, as the engine computes them. */
		c->accuracy = rows[f].correct / 1000.0;
		c->accuracy_drop = (900 - rows[f].correct) / 10.0;
		c->reduction = 100.0 * (1000.0 - (double)c->params) / 1000.0;
		c->file_bytes = rows[f].file_bytes;
		c->same_as = rows[i].same_as;
		c->kind = NNP_CAND_THRESHOLDS;
		c->thr.mean = 0.1 * (double)i;
		c->thr.std = 0.5;
	}
	return sw;
}

static void sweep_free_hand(nnp_sweep *sw)
{
	for (size_t i = 0; i < sw->n; i++) {
		free(sw->c[i].file);
		free(sw->c[i].ft.file);
	}
	free(sw->c);
	free(sw);
}

static nnp_gates gates(const char *const *opts)
{
	nnp_gates g;
	nnp_gates_init(&g);
	nnp_err err;
	for (size_t i = 0; opts[i]; i += 2)
		assert_int_equal(nnp_gates_parse(&g, opts[i], opts[i + 1], &err), NNP_OK);
	return g;
}

static void judge(const nnp_gates *g, const nnp_sweep *sw, nnp_gate_result *r)
{
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_gates_judge(g, sw, r, &err), NNP_OK);
}

static void test_parse(void **state)
{
	(void)state;
	nnp_gates g;
	nnp_gates_init(&g);
	nnp_err err;
	assert_false(nnp_gates_any(&g));
	assert_int_equal(nnp_gates_parse(&g, "--max-drop", "0.5", &err), NNP_OK);
	assert_true(g.max_drop == 0.5);
	assert_int_equal(nnp_gates_parse(&g, "--min-accuracy", "0.95", &err), NNP_OK);
	assert_true(g.min_accuracy == 0.95);
	assert_int_equal(nnp_gates_parse(&g, "min-accuracy", "97.5%", &err), NNP_OK);
	assert_true(fabs(g.min_accuracy - 0.975) < 1e-15);
	assert_int_equal(nnp_gates_parse(&g, "--max-params", "20%", &err), NNP_OK);
	assert_true(g.max_params_pct == 20 && g.max_params == NNP_GATE_UNSET_COUNT);
	assert_int_equal(nnp_gates_parse(&g, "--max-params", "1234", &err), NNP_OK);
	assert_true(g.max_params == 1234 && isnan(g.max_params_pct));
	assert_int_equal(nnp_gates_parse(&g, "--max-bytes", "3K", &err), NNP_OK);
	assert_true(g.max_bytes == 3072);
	assert_int_equal(nnp_gates_parse(&g, "--max-bytes", "1G", &err), NNP_OK);
	assert_true(g.max_bytes == 1073741824ull);
	assert_true(nnp_gates_any(&g));
	char buf[256];
	nnp_gates_describe(&g, buf, sizeof buf);
	assert_string_equal(buf, "--max-drop 0.5 and --min-accuracy 0.975 and --max-params 1234 "
	                         "and --max-bytes 1073741824");

	static const char *const bad[][3] = {
		{ "--max-drop", "-1", "--max-drop: '-1'" }, { "--max-drop", "101", "in [0, 100]" },
		{ "--max-drop", "0.5x", "'0.5x'" }, { "--max-drop", "nan", "'nan'" },
		{ "--max-drop", "", "''" }, { "--min-accuracy", "90", "90%" },
		{ "--min-accuracy", "101%", "'101%'" }, { "--min-accuracy", "0x1p-1", "'0x1p-1'" },
		{ "--max-params", "0", "'0'" }, { "--max-params", "0%", "(0, 100]" },
		{ "--max-params", "1.5", "'1.5'" }, { "--max-params", "-3", "'-3'" },
		{ "--max-params", "120%", "(0, 100]" }, { "--max-bytes", "0", "'0'" },
		{ "--max-bytes", "12T", "'12T'" }, { "--max-bytes", "K", "'K'" },
		{ "--max-bytes", "99999999999999999999999", "not a size" },
		{ "--max-size", "1", "not a gate" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		nnp_gates h;
		nnp_gates_init(&h);
		nnp_err_clear(&err);
		assert_int_equal(nnp_gates_parse(&h, bad[i][0], bad[i][1], &err), NNP_EUSAGE);
		if (!strstr(err.msg, bad[i][2]))
			fail_msg("%s %s: '%s' lacks '%s'", bad[i][0], bad[i][1], err.msg, bad[i][2]);
		assert_false(nnp_gates_any(&h));
	}
	nnp_gates_init(&g);
	nnp_gates_describe(&g, buf, sizeof buf);
	assert_string_equal(buf, "none");
}

/* Candidates: 0: 600 params, 89.5% (drop 0.5), 2400 B; 1: 400, 88.0% (1.9... see rows). */
static const row ROWS[] = {
	{ 600, 895, 2600, D },   /* 0: drop 0.5 exactly */
	{ 400, 880, 1800, D },   /* 1: drop 2.0 */
	{ 600, 897, 2500, D },   /* 2: drop 0.3, as small as 0 and more accurate */
	{ 0, 0, 0, 1 },          /* 3: = #1 */
	{ 800, 900, 3400, D },   /* 4: drop 0 */
	{ 200, 700, 1000, D },   /* 5: drop 20 */
};

/* A cmocka setup and teardown: *state the hand-made sweep of ROWS. */
static int setup_rows(void **state)
{
	*state = make(ROWS, 6);
	return 0;
}

static int teardown_sweep(void **state)
{
	sweep_free_hand(*state);
	return 0;
}

static void test_best(void **state)
{
	(void)state;
	nnp_sweep *sw = make(ROWS, 6);
	nnp_gate_result r;

	/* --max-drop 0.5: 0, 2 and 4 pass (0 at the limit exactly); fewest params:
	 * 0 and 2 (600); the more accurate is 2. */
	nnp_gates g = gates((const char *const[]){ "--max-drop", "0.5", NULL });
	judge(&g, sw, &r);
	assert_true(r.gated);
	assert_int_equal(r.best, 2);
	assert_int_equal(r.passed, 3);
	assert_int_equal(r.closest, D);
	assert_string_equal(r.message, "selected #2 (mean 0.2, std 0.5): 600 parameters (40.0% "
	                               "fewer), 2500 bytes, accuracy 89.70% (drop 0.30 points)");

	/* Equal params and accuracy: the smaller file wins, then the lower index. */
	sw->c[0].accuracy = sw->c[2].accuracy;
	sw->c[0].accuracy_drop = sw->c[2].accuracy_drop;
	judge(&g, sw, &r);
	assert_int_equal(r.best, 2);
	sw->c[0].file_bytes = 2500;
	judge(&g, sw, &r);
	assert_int_equal(r.best, 0);
	sweep_free_hand(sw);
	sw = make(ROWS, 6);

	/* --max-drop 2: 1 passes (400, drop exactly 2.0); its duplicate 3 is
	 * never chosen. */
	g = gates((const char *const[]){ "--max-drop", "2", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.best, 1);
	assert_int_equal(r.passed, 4);  /* 0, 1, 2, 4: duplicates are not counted */

	/* --min-accuracy 88% is the same gate here (drop 2 = 88%). */
	g = gates((const char *const[]){ "--min-accuracy", "88%", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.best, 1);
	g = gates((const char *const[]){ "--min-accuracy", "0.881", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.best, 2);

	/* Size gates alone: the smallest within them (accuracy no matter). */
	g = gates((const char *const[]){ "--max-params", "40%", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.best, 5);
	g = gates((const char *const[]){ "--max-params", "40%", "--max-drop", "5", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.best, 1);
	/* A file of exactly --max-bytes passes: 2 is 2500 bytes. */
	g = gates((const char *const[]){ "--max-bytes", "2500", "--max-drop", "1", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.best, 2);
	g = gates((const char *const[]){ "--max-bytes", "2499", "--max-drop", "1", NULL });
	judge(&g, sw, &r);
	/* 2 is 2500 bytes: over by one; 4 is 3400. Nothing passes; closest: the
	 * candidates failing one gate: 0 (bytes, 101 over), 1 (drop), 2 (bytes, 1
	 * over), 4 (bytes, 901 over), 5 (drop); the first gate failed in order is
	 * --max-drop for 1 and 5: 1 has the smaller excess (1.0 vs 19.0). */
	assert_int_equal(r.best, D);
	assert_int_equal(r.closest, 1);
	assert_int_equal(r.failed, NNP_GATE_MAX_DROP);
	assert_int_equal(r.failed_mask, 1u << NNP_GATE_MAX_DROP);
	assert_string_equal(r.message, "no candidate passes --max-drop 1 and --max-bytes 2499; "
	                               "closest: #1 (mean 0.1, std 0.5): drop 2.00 points (over 1) "
	                               "(fails --max-drop)");
	/* Only the byte gate: 2 is the nearest miss (one byte over). */
	g = gates((const char *const[]){ "--max-bytes", "999", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.closest, 5);
	assert_int_equal(r.failed, NNP_GATE_MAX_BYTES);
	sw->c[1].file = strdup("out/m1.bin");
	g = gates((const char *const[]){ "--max-params", "100", "--min-accuracy", "0.95", NULL });
	judge(&g, sw, &r);
	/* Everything fails both; the first failed gate is --min-accuracy for all;
	 * the nearest to 95%: 4 (90.0%). */
	assert_int_equal(r.closest, 4);
	assert_int_equal(r.failed, NNP_GATE_MIN_ACCURACY);
	assert_int_equal(r.failed_mask, (1u << NNP_GATE_MIN_ACCURACY) | (1u << NNP_GATE_MAX_PARAMS));
	assert_string_equal(r.message, "no candidate passes --min-accuracy 0.95 and --max-params "
	                               "100; closest: #4 (mean 0.4, std 0.5): accuracy 90.00% "
	                               "(under 95%), 800 parameters (over 100) (fails "
	                               "--min-accuracy)");
	/* The closest's file is named, a duplicate's through its first. */
	g = gates((const char *const[]){ "--max-drop", "1.5", "--max-params", "500", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.closest, 1);  /* 1 fails the drop by 0.5; 5 by 18.5 */
	assert_non_null(strstr(r.message, "; out/m1.bin"));

	/* No gate: nothing chosen. */
	nnp_gates_init(&g);
	judge(&g, sw, &r);
	assert_false(r.gated);
	assert_int_equal(r.best, D);
	assert_string_equal(r.message, "no gate given");
	sweep_free_hand(sw);

	/* No candidates at all. */
	sw = make(NULL, 0);
	g = gates((const char *const[]){ "--max-params", "10", "--max-drop", "1", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.best, D);
	assert_int_equal(r.closest, D);
	assert_int_equal(r.failed, NNP_GATE_MAX_DROP);
	assert_string_equal(r.message, "no candidate passes --max-drop 1 and --max-params 10 "
	                               "(no candidates)");
	sweep_free_hand(sw);
}

static void test_finetuned(void **state)
{
	nnp_sweep *sw = *state;
	/* Fine-tuned: 1 (400) recovers to 89.6% (drop 0.4); 5 is not fine-tuned. */
	static const int ft_correct[] = { 899, 896, 899, 896, 900, -1 };
	sw->original.ft.done = 1;
	sw->original.ft.accuracy = 0.901;
	for (size_t i = 0; i < 6; i++) {
		if (ft_correct[i] < 0)
			continue;
		sw->c[i].ft.done = 1;
		sw->c[i].ft.accuracy = ft_correct[i] / 1000.0;
		sw->c[i].ft.drop = (900 - ft_correct[i]) / 10.0;
	}
	nnp_gate_result r;
	nnp_gates g = gates((const char *const[]){ "--max-drop", "0.5", NULL });
	judge(&g, sw, &r);
	assert_true(r.finetuned);
	assert_int_equal(r.best, 1);
	assert_non_null(strstr(r.message, "accuracy 89.60% (drop 0.40 points) after fine-tuning"));
	/* 5 (200 params, not fine-tuned) never passes, even a size gate alone. */
	g = gates((const char *const[]){ "--max-params", "300", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.best, D);
	assert_int_equal(r.closest, 1);  /* fine-tuned, 100 over */
	assert_int_equal(r.failed, NNP_GATE_MAX_PARAMS);
	g = gates((const char *const[]){ "--max-params", "300", "--max-drop", "30", NULL });
	judge(&g, sw, &r);
	assert_int_equal(r.closest, 1);
	/* Only 5 left small enough, and it was not fine-tuned: no near miss. */
	sw->c[1].ft.done = sw->c[3].ft.done = 0;
	sw->c[0].ft.done = sw->c[2].ft.done = sw->c[4].ft.done = 0;
	judge(&g, sw, &r);
	assert_int_equal(r.closest, D);
	assert_string_equal(r.message, "no candidate passes --max-drop 30 and --max-params 300 after "
	                               "fine-tuning (no candidate was fine-tuned)");
}

static void test_errors(void **state)
{
	nnp_sweep *sw = *state;
	nnp_gate_result r;
	nnp_err err;
	sw->c[2].file_bytes = 0;
	nnp_gates g = gates((const char *const[]){ "--max-bytes", "2M", NULL });
	assert_int_equal(nnp_gates_judge(&g, sw, &r, &err), NNP_EUSAGE);
	assert_string_equal(err.msg, "gates: --max-bytes: candidate 2: its file size is not known");
	/* A duplicate's size is its first's: not required. */
	sw->c[2].file_bytes = 5;
	sw->c[3].file_bytes = 0;
	assert_int_equal(nnp_gates_judge(&g, sw, &r, &err), NNP_OK);
	sw->c[1].same_as = 4;
	assert_int_equal(nnp_gates_judge(&g, sw, &r, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "candidate 1: same_as 4"));
}

static void test_write_plan(void **state)
{
	nnp_sweep *sw = *state;
	sw->c[2].pareto = sw->c[1].pareto = sw->c[4].pareto = sw->c[5].pareto = 1;
	sw->c[3].pareto = 1;  /* a duplicate marked by an older engine: still not written */
	unsigned char w[6];
	static const struct {
		const char *mode;
		size_t best;
		unsigned char want[6];
	} cases[] = {
		{ "distinct", D, { 1, 1, 1, 0, 1, 1 } }, { "all", D, { 1, 1, 1, 1, 1, 1 } },
		{ "pareto", D, { 0, 1, 1, 0, 1, 1 } }, { "pareto", 0, { 1, 1, 1, 0, 1, 1 } },
		{ "best", 2, { 0, 0, 1, 0, 0, 0 } }, { "best", D, { 0, 0, 0, 0, 0, 0 } },
	};
	nnp_err err;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		nnp_write_mode m;
		assert_int_equal(nnp_write_mode_parse(cases[k].mode, &m, &err), NNP_OK);
		assert_string_equal(nnp_write_mode_name(m), cases[k].mode);
		nnp_write_plan(sw, m, cases[k].best, w);
		assert_memory_equal(w, cases[k].want, 6);
	}
	nnp_write_mode m;
	assert_int_equal(nnp_write_mode_parse("Distinct", &m, &err), NNP_EUSAGE);
	assert_string_equal(err.msg, "--write: 'Distinct' is not one of distinct, all, pareto, best");
}

/* nnp_sweep_measure: nonzeros from the models, sizes from the files or the format. */
static void test_measure(void **state)
{
	(void)state;
	static const size_t sizes[] = { 3, 4, 2 };
	static const nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_SOFTMAX };
	tu_rng rng = { 7 };
	nnp_model *a = tu_random_model(&rng, 2, sizes, acts, 1.0);
	nnp_model *b = tu_random_model(&rng, 2, sizes, acts, 1.0);
	a->layers[0].w[0] = a->layers[0].w[5] = 0;  /* two zero weights */
	size_t nz_a = 0, nz_b = 0;
	for (size_t l = 0; l < a->n_layers; l++)
		for (size_t k = 0; k < a->layers[l].in * a->layers[l].out; k++) {
			nz_a += a->layers[l].w[k] != 0;
			nz_b += b->layers[l].w[k] != 0;
		}
	assert_int_equal(nz_a, nz_b - 2);
	static const row rows[] = { { 30, 900, 0, D }, { 0, 0, 0, 0 }, { 30, 900, 0, D } };
	nnp_sweep *sw = make(rows, 3);
	nnp_model *models[3] = { a, NULL, b };
	sw->models = models;
	char path[] = "/tmp/nnp_gates_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "12345", 5), 5);
	close(fd);
	sw->c[0].file = strdup(path);
	nnp_err err;
	assert_int_equal(nnp_sweep_measure(sw, NNP_FMT_BIN, &err), NNP_OK);
	assert_int_equal(sw->c[0].nonzeros, nz_a);
	assert_int_equal(sw->c[1].nonzeros, nz_a);
	assert_int_equal(sw->c[2].nonzeros, nz_b);
	assert_int_equal(sw->c[0].file_bytes, 5);
	assert_int_equal(sw->c[1].file_bytes, 5);  /* shares its first's file */
	uint64_t want = 0;
	assert_int_equal(nnp_model_file_size(b, NNP_FMT_BIN, &want, &err), NNP_OK);
	assert_true(want > 0);
	assert_int_equal(sw->c[2].file_bytes, want);
	/* Without a format, an unwritten model's size stays unknown. */
	sw->c[2].file_bytes = 0;
	assert_int_equal(nnp_sweep_measure(sw, 0, &err), NNP_OK);
	assert_int_equal(sw->c[2].file_bytes, 0);
	unlink(path);
	assert_int_equal(nnp_sweep_measure(sw, 0, &err), NNP_EINPUT);
	assert_non_null(strstr(err.msg, path));
	sw->models = NULL;
	sweep_free_hand(sw);
	nnp_model_free(a);
	nnp_model_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_best),
		cmocka_unit_test_setup_teardown(test_finetuned, setup_rows, teardown_sweep),
		cmocka_unit_test_setup_teardown(test_errors, setup_rows, teardown_sweep),
		cmocka_unit_test_setup_teardown(test_write_plan, setup_rows, teardown_sweep),
		cmocka_unit_test(test_measure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
