/* The pipeline as a library call: its candidates equal those built by hand
 * through the lower-level calls, fine-tuning equals nnp_train, and nothing
 * depends on the thread count. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "nnprune/evaluate.h"
#include "nnprune/pipeline.h"
#include "nnprune/prune.h"
#include "testutil.h"

#define ROWS 300

/* cal: other rows, unlabelled. */
typedef tu_fixture fixture;

static nnp_err g_err;

static int setup(void **state)
{
	fixture *fx = tu_fixture_new();
	tu_rng rng = { 777 };
	fx->m = tu_net(&rng, "8 16:relu 12:relu 3:softmax", 0.7);
	fx->d = tu_dataset(ROWS, 8);
	fx->cal = tu_dataset(ROWS, 8);
	free(fx->cal->y);
	fx->cal->y = NULL;
	for (size_t i = 0; i < ROWS * 8; i++) {
		fx->d->x[i] = (float)tu_uniform(&rng, -1.5, 1.5);
		fx->cal->x[i] = (float)tu_uniform(&rng, -1.5, 1.5);
	}
	for (size_t r = 0; r < ROWS; r++) {
		/* A learnable rule with some noise. */
		float v = fx->d->x[r * 8] + fx->d->x[r * 8 + 1];
		fx->d->y[r] = v < -0.5f ? 0 : v < 0.5f ? 1 : 2;
		if (tu_uniform(&rng, 0, 1) < 0.1)
			fx->d->y[r] = (int32_t)(tu_next(&rng) % 3);
	}
	nnp_run_opts ro = NNP_RUN_OPTS_INIT;
	assert_int_equal(nnp_run_dataset(fx->m, fx->d, &ro, &fx->s, NULL, NULL, &g_err), 0);
	*state = fx;
	return 0;
}

/* Options over the fixture's rows held in memory: evaluation on d, the
 * statistics of d, calibration on the other rows; method me with
 * compensation co over the n specifications specs. */
static void base_opts(const fixture *fx, nnp_pipeline_opts *o, unsigned threads, nnp_method me,
                      nnp_compensate co, nnp_spec *specs, size_t n)
{
	nnp_pipeline_opts_init(o);
	o->threads = threads;
	o->mo.threads = threads;
	o->mo.method = me;
	o->mo.compensate = co;
	o->specs = specs;
	o->n_specs = n;
	o->stats = fx->s;
	o->eval.rows = fx->d;
	o->stats_src.rows = fx->d;
	o->calib.rows = fx->cal;
	o->calib.path = "calib";
}

/* obs + ls to a fraction, to widths and to a parameter target: each model as
 * the method context builds it from the same counts, and each figure as
 * nnp_evaluate_models gives it. */
static void test_method_equals_hand(void **state)
{
	fixture *fx = *state;
	size_t widths[2] = { 9, 5 };
	nnp_spec specs[3] = { { .kind = NNP_SPEC_KEEP, .keep = 0.5 },
		              { .kind = NNP_SPEC_WIDTHS, .widths = widths },
		              { .kind = NNP_SPEC_TARGET, .target_params = 150 } };
	nnp_pipeline_opts o;
	base_opts(fx, &o, 2, NNP_METHOD_OBS, NNP_COMP_LS, specs, 3);
	nnp_pipeline *p = NULL;
	assert_int_equal(nnp_pipeline_run(&p, fx->m, &o, &g_err), 0);
	assert_int_equal(p->sw->n, 3);
	assert_int_equal(p->calibrated, 1);
	assert_int_equal(p->calib.rows, ROWS);

	nnp_method_ctx *ctx = NULL;
	assert_int_equal(nnp_method_ctx_create(&ctx, fx->m, fx->cal, &o.mo, &g_err), 0);
	nnp_alloc *a = NULL;
	assert_int_equal(nnp_method_ctx_allocate(ctx, &a, &g_err), 0);
	size_t counts[2];
	nnp_model *hand[3] = { NULL, NULL, NULL };
	nnp_keep *kept[3] = { NULL, NULL, NULL };
	assert_int_equal(nnp_method_counts(fx->m, 0.5, counts, &g_err), 0);
	assert_int_equal(nnp_method_ctx_prune(ctx, counts, &hand[0], &kept[0], &g_err), 0);
	assert_int_equal(nnp_method_ctx_prune(ctx, widths, &hand[1], &kept[1], &g_err), 0);
	size_t st = nnp_alloc_pick(a, 150);
	assert_true(st != NNP_ALLOC_NONE);
	assert_int_equal(nnp_method_ctx_prune(ctx, a->counts + st * 2, &hand[2], &kept[2], &g_err),
	                 0);
	assert_int_equal(p->sw->c[2].budget.alloc_step, st + 1);
	assert_int_equal(p->sw->original.kind, NNP_CAND_ORIGINAL);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(p->sw->c[i].kind, NNP_CAND_BUDGET);
	assert_true(p->sw->c[2].params <= 150);
	nnp_candidate c[3], orig;
	memset(c, 0, sizeof c);
	memset(&orig, 0, sizeof orig);
	for (size_t i = 0; i < 3; i++)
		c[i].same_as = NNP_NO_DUP;
	nnp_eval_opts eo = NNP_EVAL_OPTS_INIT;
	eo.threads = 1;
	assert_int_equal(nnp_evaluate_models(fx->m, (const nnp_model *const *)hand, c, 3, fx->d,
	                                     &eo, &orig, NULL, &g_err), 0);
	for (size_t i = 0; i < 3; i++) {
		tu_assert_models_bitequal(nnp_pipeline_model(p, i), hand[i]);
		assert_int_equal(p->sw->c[i].params, c[i].params);
		assert_true(p->sw->c[i].accuracy == c[i].accuracy);
		assert_true(p->sw->c[i].loss == c[i].loss);
		assert_true(p->sw->c[i].agreement == c[i].agreement);
		assert_int_equal(p->sw->c[i].keep->count[0], kept[i]->count[0]);
		nnp_model_free(hand[i]);
		nnp_keep_free(kept[i]);
	}
	assert_true(p->sw->original.accuracy == orig.accuracy);
	assert_int_equal(p->specs[1].kind, NNP_SPEC_WIDTHS);
	nnp_alloc_free(a);
	nnp_method_ctx_free(ctx);
	nnp_pipeline_free(p);
}

/* The rule on the statistics as they are: a grid is nnp_sweep_run's result;
 * any other list of pairs gives each pair's candidate of that sweep, built
 * by nnp_keep_rule + nnp_prune_apply. */
static void test_rule_equals_sweep(void **state)
{
	fixture *fx = *state;
	const double means[2] = { 0.05, 0.3 }, stds[3] = { 0.1, 0.3, 0.6 };
	nnp_spec grid[6], odd[2];
	memset(grid, 0, sizeof grid);
	memset(odd, 0, sizeof odd);
	for (size_t i = 0; i < 6; i++) {
		grid[i].kind = NNP_SPEC_THRESHOLDS;
		grid[i].mean = means[i / 3];
		grid[i].std = stds[i % 3];
	}
	odd[0] = grid[5];
	odd[1] = grid[1];
	nnp_pipeline_opts o;
	base_opts(fx, &o, 1, NNP_METHOD_RULE, NNP_COMP_FOLD, grid, 6);
	o.calib.rows = NULL;
	o.calib.path = NULL;
	nnp_pipeline *p = NULL, *q = NULL;
	assert_int_equal(nnp_pipeline_run(&p, fx->m, &o, &g_err), 0);
	assert_int_equal(p->calibrated, 0);
	nnp_sweep *sw = NULL;
	nnp_sweep_opts so = { means, 2, stds, 3, 1, 1, 1, NULL, NULL };
	assert_int_equal(nnp_sweep_run(&sw, fx->m, fx->s, fx->d, &so, &g_err), 0);
	assert_int_equal(sw->n, p->sw->n);
	for (size_t i = 0; i < sw->n; i++) {
		assert_true(sw->c[i].accuracy == p->sw->c[i].accuracy);
		assert_int_equal(sw->c[i].params, p->sw->c[i].params);
		assert_int_equal(sw->c[i].same_as, p->sw->c[i].same_as);
	}
	o.specs = odd;
	o.n_specs = 2;
	assert_int_equal(nnp_pipeline_run(&q, fx->m, &o, &g_err), 0);
	const size_t at[2] = { 5, 1 };
	for (size_t i = 0; i < 2; i++) {
		const nnp_candidate *a = &q->sw->c[i], *b = &sw->c[at[i]];
		assert_true(a->accuracy == b->accuracy);
		/* Another evaluation engine: float sums in another order. */
		assert_true(fabs(a->loss - b->loss) <= 1e-6 * fabs(b->loss));
		assert_int_equal(a->params, b->params);
		nnp_keep *k = NULL;
		nnp_model *pm = NULL;
		assert_int_equal(nnp_keep_rule(&k, fx->s, a->thr.mean, a->thr.std, 1, &g_err), 0);
		assert_int_equal(nnp_prune_apply(&pm, fx->m, k, fx->s, 1, &g_err), 0);
		if (a->same_as == NNP_NO_DUP)
			tu_assert_models_bitequal(nnp_pipeline_model(q, i), pm);
		nnp_model_free(pm);
		nnp_keep_free(k);
	}
	nnp_sweep_free(sw);
	nnp_pipeline_free(p);
	nnp_pipeline_free(q);
}

/* Fine-tuning: the original's copy is what nnp_train makes of a clone (one
 * thread, raw inputs), and every figure is the same for 1 and 3 threads. */
static void test_finetune_and_threads(void **state)
{
	fixture *fx = *state;
	nnp_spec specs[2] = { { .kind = NNP_SPEC_KEEP, .keep = 0.75 },
		              { .kind = NNP_SPEC_KEEP, .keep = 0.4 } };
	nnp_pipeline *p[2] = { NULL, NULL };
	for (int k = 0; k < 2; k++) {
		nnp_pipeline_opts o;
		base_opts(fx, &o, k ? 3 : 1, NNP_METHOD_SCORE, NNP_COMP_LS, specs, 2);
		o.finetune.rows = fx->d;
		o.ft_train.epochs = 2;
		o.ft_train.lr = nnp_finetune_default_lr(o.ft_train.optimizer);
		nnp_gates g;
		nnp_gates_init(&g);
		g.max_drop = 100;
		o.gates = &g;
		assert_int_equal(nnp_pipeline_run(&p[k], fx->m, &o, &g_err), 0);
	}
	assert_int_equal(p[0]->n_ft_jobs, 3);
	nnp_model *c = NULL;
	assert_int_equal(nnp_model_clone(&c, fx->m, &g_err), 0);
	nnp_train_opts t = p[0]->o.ft_train;
	t.threads = 1;
	t.input_scale = 1.0f;
	t.model_takes_raw = 1;
	nnp_train_report rep;
	assert_int_equal(nnp_train(c, fx->d, NULL, &t, &rep, &g_err), 0);
	tu_assert_models_bitequal(p[0]->ft_jobs[0].model, c);
	nnp_model_free(c);
	for (size_t i = 0; i < p[0]->n_ft_jobs; i++)
		tu_assert_models_bitequal(p[0]->ft_jobs[i].model, p[1]->ft_jobs[i].model);
	for (size_t i = 0; i < 2; i++) {
		assert_true(p[0]->sw->c[i].ft.done);
		assert_true(p[0]->sw->c[i].ft.accuracy == p[1]->sw->c[i].ft.accuracy);
		assert_true(p[0]->sw->c[i].accuracy == p[1]->sw->c[i].accuracy);
	}
	/* max_drop 100: everything qualifies; the smallest is the 0.4 one. */
	assert_int_equal(p[0]->best, 1);
	assert_int_equal(p[1]->best, 1);
	nnp_pipeline_free(p[0]);
	nnp_pipeline_free(p[1]);
}

/* A candidate's budget in its provenance: the allocation step 1-based as the
 * report numbers it (the candidate holds it 1-based too), the method's grid
 * step, and a magnitude candidate's shares with their scope. */
static void test_prov_candidate(void **state)
{
	(void)state;
	static const double shares[3] = { 0.9, 0.5, 0 };
	nnp_candidate c;
	memset(&c, 0, sizeof c);
	c.kind = NNP_CAND_SPARSE;
	c.budget.alloc_step = 4;
	c.sparse.share = 0.625;
	c.sparse.layers = shares;
	c.sparse.n_layers = 3;
	nnp_prov pv;
	nnp_prov_init(&pv);
	pv.method = "obs";
	pv.src_path = "m.bin";
	nnp_prov_candidate(&pv, &c, 0.05);
	char *j = nnp_provenance_prune(&pv);
	assert_non_null(j);
	assert_non_null(strstr(j, "\"budget\":{\"sparsity\":0.625,\"scope\":\"layer\","
	                          "\"layer_sparsity\":[0.9,0.5,0],\"allocation_step\":4,"
	                          "\"grid_step\":0.05}"));
	free(j);
	/* Nothing to record: no budget object at all. */
	memset(&c, 0, sizeof c);
	nnp_prov_init(&pv);
	pv.method = "obs";
	pv.src_path = "m.bin";
	nnp_prov_candidate(&pv, &c, 0.05);
	assert_non_null(j = nnp_provenance_prune(&pv));
	assert_null(strstr(j, "budget"));
	free(j);
}

/* The kind decides how a candidate is judged and named: only an unstructured
 * one counts its zeroed weights as removed (live_params, set from its model's
 * zeros) and has shares; the same figures on a budget candidate are ignored. */
static void test_candidate_kind(void **state)
{
	(void)state;
	static const double shares[2] = { 0.5, 0.25 };
	/* 2-3-2: 6 + 3 + 6 + 2 = 17 parameters, 12 weights; 4 of them zero. */
	nnp_model *m = NULL;
	const size_t sizes[2] = { 3, 2 };
	const nnp_act acts[2] = { NNP_ACT_RELU, NNP_ACT_LINEAR };
	assert_int_equal(nnp_model_create(&m, 2, 2, sizes, acts, &g_err), 0);
	for (size_t l = 0; l < 2; l++)
		for (size_t j = 0; j < 6; j++)
			m->layers[l].w[j] = j < 2 ? 0.0f : 1.0f;
	nnp_candidate c;
	memset(&c, 0, sizeof c);
	c.kind = NNP_CAND_SPARSE;
	c.params = 17;
	c.sparse.share = 4.0 / 12.0;
	nnp_candidate_set_live(&c, m, 34);
	assert_int_equal(c.nonzeros, 8);
	assert_int_equal(c.live_params, 13);
	assert_float_equal(c.reduction, 100.0 * (34.0 - 13.0) / 34.0, 1e-12);
	assert_int_equal(nnp_candidate_size(&c), 13);
	char buf[NNP_SHARES_TEXT_MAX];
	nnp_candidate_shares_text(buf, sizeof buf, &c, '/');
	assert_string_equal(buf, "0.333333");
	c.sparse.layers = shares;
	c.sparse.n_layers = 2;
	nnp_candidate_shares_text(buf, sizeof buf, &c, '_');
	assert_string_equal(buf, "0.5_0.25");
	/* The same members on a budget candidate: judged by its params. */
	c.kind = NNP_CAND_BUDGET;
	c.budget.keep_frac = 0.5;
	assert_int_equal(nnp_candidate_size(&c), 17);
	nnp_candidate_shares_text(buf, sizeof buf, &c, '/');
	assert_string_equal(buf, "");
	c.live_params = c.nonzeros = 0;
	c.reduction = 0;
	nnp_candidate_set_live(&c, m, 34);
	assert_int_equal(c.live_params, 0);
	assert_int_equal(c.nonzeros, 0);
	assert_true(c.reduction == 0);
	nnp_model_free(m);
}

/* Written models carry their provenance; an unreachable budget is refused
 * with the caller's label first. */
/* The rows read while the model loads: the same rows as a plain read and the
 * file's own identity, or nothing when they do not fit the model, are over
 * the memory limit, or the path is no regular file. */
static void test_rows_preload(void **state)
{
	tu_fixture *fx = *state;
	char *p = tu_file(fx, "rows.csv");
	char text[4096];
	size_t len = 0;
	tu_rng r = { 7 };
	for (int i = 0; i < 60; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%d,%.2f,%.2f,%.2f,%.2f\n",
		                        i % 3, tu_uniform(&r, -1, 1), tu_uniform(&r, -1, 1),
		                        tu_uniform(&r, -1, 1), tu_uniform(&r, -1, 1));
	tu_write(p, text, len);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.label = NNP_LABEL_FIRST;
	static const size_t fit[] = { 4, 5, 3 }, wide[] = { 6, 5, 3 }, few[] = { 4, 5, 2 };
	static const nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_LINEAR };
	nnp_model *m = tu_model(2, fit, acts);
	nnp_err err;
	uint64_t bytes;
	uint32_t crc;
	assert_int_equal(nnp_file_identity(p, &bytes, &crc, &err), NNP_OK);
	nnp_dataset *plain = NULL;
	assert_int_equal(nnp_dataset_load(&plain, p, &o, 0, &err), NNP_OK);

	nnp_file_info id;
	memset(&id, 0, sizeof id);
	int too_big = -1;
	nnp_dataset *d = nnp_rows_preload_finish(nnp_rows_preload_start(p, &o, 1 << 20), m, &id,
	                                         &too_big);
	assert_non_null(d);
	assert_int_equal(too_big, 0);
	assert_int_equal(id.bytes, bytes);
	assert_int_equal(id.crc32, crc);
	assert_int_equal(d->rows, 60);
	assert_int_equal(d->features, 4);
	assert_memory_equal(d->x, plain->x, 60 * 4 * sizeof *d->x);
	assert_memory_equal(d->y, plain->y, 60 * sizeof *d->y);
	nnp_dataset_free(d);
	/* Another feature count, a label past the outputs, no model: nothing. */
	const size_t *misfits[] = { wide, few, NULL };
	for (int k = 0; k < 3; k++) {
		nnp_model *mis = misfits[k] ? tu_model(2, misfits[k], acts) : NULL;
		assert_null(nnp_rows_preload_finish(nnp_rows_preload_start(p, &o, 1 << 20), mis, &id,
		                                    &too_big));
		assert_int_equal(too_big, 0);
		nnp_model_free(mis);
	}
	/* Over the limit: nothing, and said so. */
	assert_null(nnp_rows_preload_finish(nnp_rows_preload_start(p, &o, 100), m, &id, &too_big));
	assert_int_equal(too_big, 1);
	/* Not a regular file: not started; finishing nothing is nothing. */
	assert_null(nnp_rows_preload_start(fx->dir, &o, 1 << 20));
	assert_null(nnp_rows_preload_finish(NULL, m, &id, &too_big));
	assert_int_equal(too_big, 0);

	nnp_dataset_free(plain);
	nnp_model_free(m);
}

static void test_write_and_errors(void **state)
{
	fixture *fx = *state;
	nnp_spec specs[2] = { { .kind = NNP_SPEC_KEEP, .keep = 0.5 },
		              { .kind = NNP_SPEC_TARGET, .target_params = 3, .label = "budget 3" } };
	nnp_pipeline_opts o;
	base_opts(fx, &o, 1, NNP_METHOD_SCORE, NNP_COMP_LS, specs, 1);
	o.out.dir = fx->dir;
	o.out.model_path = "net.bin";
	o.out.format = NNP_FMT_BIN;
	nnp_pipeline *p = NULL;
	assert_int_equal(nnp_pipeline_run(&p, fx->m, &o, &g_err), 0);
	assert_non_null(p->sw->c[0].file);
	char *want = tu_path(fx->dir, "net-score-ls-k0.5.bin");
	assert_string_equal(p->sw->c[0].file, want);
	nnp_model *back = NULL;
	assert_int_equal(nnp_model_load(&back, want, NULL, &g_err), 0);
	tu_assert_models_bitequal(back, nnp_pipeline_model(p, 0));
	assert_non_null(back->provenance);
	assert_non_null(strstr(back->provenance, "\"budget\":{\"keep\":0.5}"));
	assert_non_null(strstr(back->provenance, "\"calibration\":{\"path\":\"calib\""));
	nnp_model_free(back);
	free(want);
	nnp_pipeline_free(p);

	o.out.dir = NULL;
	o.specs = specs + 1;
	p = NULL;
	assert_int_equal(nnp_pipeline_run(&p, fx->m, &o, &g_err), NNP_EUSAGE);
	assert_null(p);
	assert_non_null(strstr(g_err.msg, "budget 3: 3 parameters is below the smallest model"));
	assert_null(strstr(g_err.msg, "--"));
	/* Budgets do not go with the rule. */
	o.mo.method = NNP_METHOD_RULE;
	assert_int_equal(nnp_pipeline_run(&p, fx->m, &o, &g_err), NNP_EUSAGE);
	assert_null(p);
}

/* Files a run writes: a duplicate names its first's file (--write distinct),
 * only the best with NNP_WRITE_BEST, whose size measured before writing is
 * the written file's; a failed gate chooses nothing. */
static void test_write_modes(void **state)
{
	fixture *fx = *state;
	nnp_spec specs[3] = { { .kind = NNP_SPEC_KEEP, .keep = 0.5 },
		              { .kind = NNP_SPEC_KEEP, .keep = 0.5 },
		              { .kind = NNP_SPEC_KEEP, .keep = 0.25 } };
	nnp_gates g;
	nnp_gates_init(&g);
	g.max_drop = 100;
	nnp_pipeline_opts o;
	base_opts(fx, &o, 1, NNP_METHOD_SCORE, NNP_COMP_LS, specs, 3);
	o.out.model_path = "net.bin";
	o.out.format = NNP_FMT_BIN;
	o.gates = &g;
	char *dd = tu_path(fx->dir, "distinct"), *db = tu_path(fx->dir, "best");
	o.out.dir = dd;
	nnp_pipeline *p = NULL;
	assert_int_equal(nnp_pipeline_run(&p, fx->m, &o, &g_err), 0);
	const nnp_sweep *sw = p->sw;
	assert_int_equal(sw->c[1].same_as, 0);
	assert_non_null(sw->c[0].file);
	assert_string_equal(sw->c[1].file, sw->c[0].file);
	assert_false(sw->c[1].pareto);
	assert_int_equal(p->best, 2);   /* everything passes: the smallest */
	assert_int_equal(p->verdict.best, 2);
	struct stat st;
	assert_int_equal(stat(sw->c[2].file, &st), 0);
	nnp_pipeline_free(p);

	o.out.dir = db;
	o.write = NNP_WRITE_BEST;
	assert_int_equal(nnp_pipeline_run(&p, fx->m, &o, &g_err), 0);
	sw = p->sw;
	assert_null(sw->c[0].file);
	assert_null(sw->c[1].file);
	assert_non_null(sw->c[2].file);
	assert_int_equal(stat(sw->c[2].file, &st), 0);
	assert_int_equal((uint64_t)st.st_size, sw->c[2].file_bytes);
	nnp_pipeline_free(p);

	/* No candidate of at most 1 parameter: no best, no file. */
	g.max_params = 1;
	assert_int_equal(nnp_pipeline_run(&p, fx->m, &o, &g_err), 0);
	assert_int_equal(p->best, NNP_NO_DUP);
	assert_true(p->verdict.gated);
	assert_int_equal(p->verdict.failed, NNP_GATE_MAX_PARAMS);
	for (size_t i = 0; i < 3; i++)
		assert_null(p->sw->c[i].file);
	nnp_pipeline_free(p);
	free(dd);
	free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method_equals_hand),
		cmocka_unit_test(test_rule_equals_sweep),
		cmocka_unit_test(test_finetune_and_threads),
		cmocka_unit_test(test_prov_candidate),
		cmocka_unit_test(test_candidate_kind),
		cmocka_unit_test(test_write_and_errors),
		cmocka_unit_test(test_write_modes),
		TU_DIR_TEST(test_rows_preload),
	};
	return cmocka_run_group_tests(tests, setup, tu_fixture_teardown);
}
