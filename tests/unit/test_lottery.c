/* Lottery tickets and gradual pruning: masks fixed through training, exact
 * rewinding, the remaining fraction, the control's mask, the cubic schedule's
 * budgets, determinism. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/gradual.h"
#include "nnprune/lottery.h"
#include "testutil.h"

#define F 8
#define K 3

/* Three gaussian clusters in F dimensions, classes interleaved. */
static nnp_dataset *clusters(size_t rows, uint64_t seed)
{
	tu_rng r = { seed };
	nnp_dataset *d = tu_dataset(rows, F);
	for (size_t i = 0; i < rows; i++) {
		int c = (int)(i % K);
		d->y[i] = c;
		for (size_t j = 0; j < F; j++)
			d->x[i * F + j] = (float)((j % K == (size_t)c ? 1.5 : 0.0) +
			                          tu_uniform(&r, -1.0, 1.0));
	}
	return d;
}

static nnp_model *init_model(uint64_t seed)
{
	static const size_t sizes[3] = { 16, 12, K };
	static const nnp_act acts[3] = { NNP_ACT_RELU, NNP_ACT_RELU, NNP_ACT_SOFTMAX };
	nnp_model *m = NULL;
	nnp_err err;
	assert_int_equal(nnp_model_create(&m, F, 3, sizes, acts, &err), 0);
	nnp_model_init_random(m, seed);
	return m;
}

/* What a test starts from: the initial network of a seed, training rows and
 * validation rows (each none with 0 rows) of their own seeds. */
typedef struct start {
	uint64_t model_seed;
	size_t train_rows;
	uint64_t train_seed;
	size_t val_rows;
	uint64_t val_seed;
} start;

/* A cmocka setup: *state a start on entry, its tu_case after (m the initial
 * network, d the training rows, held the validation rows). */
static int setup(void **state)
{
	const start *s = *state;
	*state = tu_case_of(init_model(s->model_seed),
	                    s->train_rows ? clusters(s->train_rows, s->train_seed) : NULL,
	                    s->val_rows ? clusters(s->val_rows, s->val_seed) : NULL);
	return 0;
}

/* Test f from that start, freed even when it fails. */
#define LOTTERY_TEST(f, model_seed, train_rows, train_seed, val_rows, val_seed)  \
	cmocka_unit_test_prestate_setup_teardown(                                \
		f, setup, tu_case_teardown,                                      \
		(&(start){ model_seed, train_rows, train_seed, val_rows, val_seed }))

/* round(v) with halves to even, computed independently of the library. */
static size_t round_even(double v)
{
	double f = floor(v), d = v - f;
	if (d > 0.5)
		return (size_t)f + 1;
	if (d < 0.5)
		return (size_t)f;
	return fmod(f, 2.0) == 0.0 ? (size_t)f : (size_t)f + 1;
}

static int is_pos_zero(float w)
{
	uint32_t u;
	memcpy(&u, &w, sizeof u);
	return u == 0;
}

typedef struct watch {
	double rate;
	size_t expect[3];          /* weights kept per layer, computed independently */
	nnp_model *prev;           /* the previous round's trained ticket */
	uint8_t *prev_mask[3];
	size_t rounds_seen;
	nnp_model *last;           /* the last ticket, for determinism */
} watch;

static int on_round(const nnp_lottery_round *r, const nnp_model *ticket,
                    const nnp_model *control, const uint8_t *const *mask, void *ctx,
                    nnp_err *err)
{
	(void)err;
	watch *w = ctx;
	assert_int_equal(r->round, w->rounds_seen);
	size_t W = nnp_model_macs(ticket);
	if (r->round == 0) {
		assert_null(mask);
		assert_null(control);
		assert_true(r->remaining == 1.0);
		for (size_t l = 0; l < 3; l++)
			w->expect[l] = ticket->layers[l].in * ticket->layers[l].out;
	} else {
		assert_non_null(mask);
		assert_non_null(control);
		size_t kept = 0;
		for (size_t l = 0; l < 3; l++) {
			const nnp_layer *T = &ticket->layers[l], *C = &control->layers[l];
			const nnp_layer *P = &w->prev->layers[l];
			size_t n = T->in * T->out, k = 0;
			w->expect[l] -= round_even(w->rate * (double)w->expect[l]);
			float max_gone = 0.0f, min_kept = INFINITY;
			for (size_t i = 0; i < n; i++) {
				k += mask[l][i] != 0;
				if (!mask[l][i]) {
					/* Pruned: exactly +0 in the ticket and the control. */
					assert_true(is_pos_zero(T->w[i]));
					assert_true(is_pos_zero(C->w[i]));
				} else {
					/* The control trains the same survivors. */
					assert_true(C->w[i] != 0.0f);
				}
				if (w->prev_mask[l]) {
					/* Masks only shrink. */
					if (!w->prev_mask[l][i])
						assert_int_equal(mask[l][i], 0);
					else if (!mask[l][i])
						max_gone = fmaxf(max_gone, fabsf(P->w[i]));
					else
						min_kept = fminf(min_kept, fabsf(P->w[i]));
				} else if (!mask[l][i]) {
					max_gone = fmaxf(max_gone, fabsf(P->w[i]));
				} else {
					min_kept = fminf(min_kept, fabsf(P->w[i]));
				}
			}
			/* Magnitude: what went was no larger than what stayed. */
			assert_true(max_gone <= min_kept);
			assert_int_equal(k, w->expect[l]);
			kept += k;
			free(w->prev_mask[l]);
			w->prev_mask[l] = malloc(n);
			memcpy(w->prev_mask[l], mask[l], n);
		}
		assert_int_equal(r->kept, kept);
		assert_true(r->remaining == (double)kept / (double)W);
		double ideal = pow(1.0 - w->rate, (double)r->round);
		assert_true(fabs(r->remaining - ideal) <= 0.5 * (double)r->round * 3.0 / (double)W);
		assert_false(isnan(r->control_accuracy));
		assert_int_equal(r->params, kept + 16 + 12 + K);
	}
	nnp_model_free(w->prev);
	assert_int_equal(nnp_model_clone(&w->prev, ticket, err), 0);
	w->rounds_seen++;
	return NNP_OK;
}

static void watch_free(watch *w)
{
	nnp_model_free(w->prev);
	nnp_model_free(w->last);
	for (size_t l = 0; l < 3; l++)
		free(w->prev_mask[l]);
}

static nnp_lottery_opts small_opts(void)
{
	nnp_lottery_opts o = NNP_LOTTERY_OPTS_INIT;
	o.train.epochs = 3;
	o.train.batch = 16;
	o.train.lr = 0.01f;
	o.train.seed = 7;
	o.train.threads = 1;
	o.rounds = 4;
	o.rate = 0.3;
	return o;
}

static void test_rounds(void **state)
{
	tu_case *c = *state;
	nnp_lottery_opts o = small_opts();
	watch w;
	memset(&w, 0, sizeof w);
	w.rate = o.rate;
	o.on_round = on_round;
	o.ctx = &w;
	nnp_lottery *lt = NULL;
	nnp_err err;
	assert_int_equal(nnp_lottery_run(&lt, c->m, c->d, c->held, &o, &err), 0);
	assert_int_equal(lt->n, 5);
	assert_int_equal(w.rounds_seen, 5);
	/* The clusters are easy: the dense network learns them. */
	assert_true(lt->r[0].accuracy > 0.9);
	nnp_lottery_free(lt);
	watch_free(&w);
}

/* m holds from's biases and kept weights bit for bit, +0 where mask prunes. */
static void assert_rewound(const nnp_model *m, const nnp_model *from, const uint8_t *const *mask)
{
	for (size_t l = 0; l < 3; l++) {
		const nnp_layer *A = &m->layers[l], *B = &from->layers[l];
		assert_memory_equal(A->b, B->b, A->out * sizeof *A->b);
		for (size_t i = 0; i < A->in * A->out; i++) {
			if (mask[l][i])
				assert_memory_equal(&A->w[i], &B->w[i], sizeof(float));
			else
				assert_true(is_pos_zero(A->w[i]));
		}
	}
}

/* Rewinding copies the initial weights and biases bit for bit. */
static void test_rewind_exact(void **state)
{
	tu_case *c = *state;
	nnp_model *m = NULL;
	nnp_err err;
	for (size_t l = 0; l < 3; l++)   /* biases that are not all 0 */
		for (size_t o = 0; o < c->m->layers[l].out; o++)
			c->m->layers[l].b[o] = 0.01f * (float)(o + 1);
	assert_int_equal(nnp_model_clone(&m, c->m, &err), 0);
	nnp_train_opts t = NNP_TRAIN_OPTS_INIT;
	t.epochs = 2;
	t.batch = 16;
	t.threads = 1;
	assert_int_equal(nnp_train(m, c->d, NULL, &t, NULL, &err), 0);
	uint8_t *mk[3];
	for (size_t l = 0; l < 3; l++)
		mk[l] = malloc(m->layers[l].in * m->layers[l].out);
	assert_int_equal(nnp_lottery_prune_magnitude(m, NULL, 0.5, -1.0, 0, mk, &err), 0);
	assert_int_equal(nnp_model_rewind(m, c->m, (const uint8_t *const *)mk, &err), 0);
	assert_rewound(m, c->m, (const uint8_t *const *)mk);
	for (size_t l = 0; l < 3; l++)
		free(mk[l]);
	nnp_model_free(m);
}

/* Global scope keeps round(rate * all) fewer; neurons lose whole rows and columns. */
static void test_global_and_neurons(void **state)
{
	tu_case *c = *state;
	nnp_err err;
	uint8_t *mk[3], *mk2[3];
	size_t W = nnp_model_macs(c->m);
	for (size_t l = 0; l < 3; l++) {
		mk[l] = malloc(c->m->layers[l].in * c->m->layers[l].out);
		mk2[l] = malloc(c->m->layers[l].in * c->m->layers[l].out);
	}
	assert_int_equal(nnp_lottery_prune_magnitude(c->m, NULL, 0.4, -1.0, 1, mk, &err), 0);
	size_t kept = 0;
	float max_gone = 0.0f, min_kept = INFINITY;
	for (size_t l = 0; l < 3; l++)
		for (size_t i = 0; i < c->m->layers[l].in * c->m->layers[l].out; i++) {
			float a = fabsf(c->m->layers[l].w[i]);
			kept += mk[l][i];
			if (mk[l][i])
				min_kept = fminf(min_kept, a);
			else
				max_gone = fmaxf(max_gone, a);
		}
	assert_int_equal(kept, W - round_even(0.4 * (double)W));
	assert_true(max_gone <= min_kept);
	/* Exactly `keep` with the largest remainders per layer, and globally. */
	for (int global = 0; global < 2; global++) {
		assert_int_equal(nnp_mask_magnitude_to(c->m, (const uint8_t *const *)mk, 101, (nnp_mag_scope)global, mk2,
		                                       &err), 0);
		size_t k2 = 0;
		for (size_t l = 0; l < 3; l++)
			for (size_t i = 0; i < c->m->layers[l].in * c->m->layers[l].out; i++) {
				k2 += mk2[l][i];
				if (!mk[l][i])
					assert_int_equal(mk2[l][i], 0);
			}
		assert_int_equal(k2, 101);
	}
	assert_int_equal(nnp_mask_magnitude_to(c->m, (const uint8_t *const *)mk, kept + 1, 0, mk2, &err),
	                 NNP_EUSAGE);
	/* Hidden: the output layer's mask as it was, the two others share 101
	 * less its kept weights by size (128 and 192 of 320), the larger
	 * remainder first; each keeps its largest |w|. */
	size_t has[3] = { 0, 0, 0 };
	for (size_t l = 0; l < 3; l++)
		for (size_t i = 0; i < c->m->layers[l].in * c->m->layers[l].out; i++)
			has[l] += mk[l][i];
	assert_int_equal(nnp_mask_magnitude_to(c->m, (const uint8_t *const *)mk, 101, NNP_MAG_HIDDEN,
	                                       mk2, &err), 0);
	assert_memory_equal(mk2[2], mk[2], c->m->layers[2].in * c->m->layers[2].out);
	double sh0 = (double)(101 - has[2]) * 128.0 / 320.0, sh1 = (double)(101 - has[2]) * 192.0 / 320.0;
	size_t want[2] = { (size_t)floor(sh0), (size_t)floor(sh1) };
	if (want[0] + want[1] < 101 - has[2])
		want[sh0 - floor(sh0) >= sh1 - floor(sh1) ? 0 : 1]++;
	assert_int_equal(want[0] + want[1], 101 - has[2]);
	for (size_t l = 0; l < 2; l++) {
		size_t k2 = 0;
		float gone = 0.0f, stay = INFINITY;
		for (size_t i = 0; i < c->m->layers[l].in * c->m->layers[l].out; i++) {
			float a = fabsf(c->m->layers[l].w[i]);
			k2 += mk2[l][i];
			if (mk2[l][i])
				stay = fminf(stay, a);
			else if (mk[l][i])
				gone = fmaxf(gone, a);
			if (!mk[l][i])
				assert_int_equal(mk2[l][i], 0);
		}
		assert_int_equal(k2, want[l]);
		assert_true(gone <= stay);
	}
	assert_int_equal(nnp_mask_magnitude_to(c->m, (const uint8_t *const *)mk, has[2] - 1,
	                                       NNP_MAG_HIDDEN, mk2, &err), NNP_EUSAGE);
	/* Neurons: 16 -> 16 - round(0.25 * 16) = 12, 12 -> 9. */
	assert_int_equal(nnp_lottery_prune_neurons(c->m, NULL, 0.25, mk, &err), 0);
	size_t alive[2] = { 0, 0 };
	for (size_t l = 0; l < 2; l++) {
		const nnp_layer *L = &c->m->layers[l], *N = &c->m->layers[l + 1];
		for (size_t o = 0; o < L->out; o++) {
			size_t k = 0;
			for (size_t j = 0; j < L->in; j++)
				k += mk[l][o * L->in + j];
			if (k)
				alive[l]++;
			for (size_t j = 0; j < N->out; j++)
				if (!k)
					assert_int_equal(mk[l + 1][j * N->in + o], 0);
		}
	}
	assert_int_equal(alive[0], 12);
	assert_int_equal(alive[1], 9);
	for (size_t l = 0; l < 3; l++) {
		free(mk[l]);
		free(mk2[l]);
	}
}

/* Late rewinding: every round starts from the values recorded after epoch K
 * of round 0, bit for bit (pruned weights +0), found here by training a copy
 * of the initial weights for K epochs alone. */
typedef struct rewind_watch {
	const nnp_model *at_k;     /* the initial weights trained K epochs */
	size_t seen;
} rewind_watch;

static int check_rewound(size_t round, const nnp_model *m, const uint8_t *const *mask,
                         void *ctx, nnp_err *err)
{
	(void)err;
	rewind_watch *w = ctx;
	assert_int_equal(round, w->seen + 1);
	assert_rewound(m, w->at_k, mask);
	w->seen++;
	return NNP_OK;
}

static void test_late_rewind_exact(void **state)
{
	tu_case *c = *state;
	nnp_model *at_k = NULL, *at_end = NULL;
	nnp_lottery_opts o = small_opts();
	o.rounds = 2;
	o.rewind_epoch = 2;
	o.control = 0;
	nnp_err err;
	nnp_train_opts t = o.train;
	t.epochs = 2;
	assert_int_equal(nnp_model_clone(&at_k, c->m, &err), 0);
	assert_int_equal(nnp_train(at_k, c->d, c->held, &t, NULL, &err), 0);
	/* K = 2 is neither the start nor the end of round 0's 3 epochs. */
	t.epochs = 3;
	assert_int_equal(nnp_model_clone(&at_end, c->m, &err), 0);
	assert_int_equal(nnp_train(at_end, c->d, c->held, &t, NULL, &err), 0);
	size_t n0 = c->m->layers[0].in * c->m->layers[0].out, differ_init = 0, differ_end = 0;
	for (size_t i = 0; i < n0; i++) {
		differ_init += at_k->layers[0].w[i] != c->m->layers[0].w[i];
		differ_end += at_k->layers[0].w[i] != at_end->layers[0].w[i];
	}
	assert_true(differ_init > n0 / 2 && differ_end > n0 / 2);
	rewind_watch w = { at_k, 0 };
	o.on_rewind = check_rewound;
	o.ctx = &w;
	nnp_lottery *lt = NULL;
	assert_int_equal(nnp_lottery_run(&lt, c->m, c->d, c->held, &o, &err), 0);
	assert_int_equal(w.seen, 2);
	nnp_lottery_free(lt);
	nnp_model_free(at_k);
	nnp_model_free(at_end);
}

/* --output-rate: the output layer ranked alone at its own rate, per layer
 * and beside the global ranking of the hidden layers. */
static void test_output_rate(void **state)
{
	tu_case *c = *state;
	nnp_err err;
	uint8_t *mk[3];
	for (size_t l = 0; l < 3; l++)
		mk[l] = malloc(c->m->layers[l].in * c->m->layers[l].out);
	for (int global = 0; global < 2; global++) {
		assert_int_equal(nnp_lottery_prune_magnitude(c->m, NULL, 0.4, 0.2, global, mk, &err), 0);
		size_t kept[3] = { 0, 0, 0 };
		float max_gone[2] = { 0.0f, 0.0f }, min_kept[2] = { INFINITY, INFINITY };
		for (size_t l = 0; l < 3; l++)
			for (size_t i = 0; i < c->m->layers[l].in * c->m->layers[l].out; i++) {
				float a = fabsf(c->m->layers[l].w[i]);
				size_t g = l == 2;   /* the output layer ranks alone */
				kept[l] += mk[l][i];
				if (mk[l][i])
					min_kept[g] = fminf(min_kept[g], a);
				else
					max_gone[g] = fmaxf(max_gone[g], a);
			}
		/* 8x16 = 128, 16x12 = 192, 12x3 = 36 weights. */
		assert_int_equal(kept[2], 36 - round_even(0.2 * 36));
		if (global) {
			assert_int_equal(kept[0] + kept[1], 320 - round_even(0.4 * 320));
		} else {
			assert_int_equal(kept[0], 128 - round_even(0.4 * 128));
			assert_int_equal(kept[1], 192 - round_even(0.4 * 192));
		}
		assert_true(max_gone[1] <= min_kept[1]);
		if (global)
			assert_true(max_gone[0] <= min_kept[0]);
	}
	assert_int_equal(nnp_lottery_prune_magnitude(c->m, NULL, 0.4, 1.5, 0, mk, &err), NNP_EUSAGE);
	for (size_t l = 0; l < 3; l++)
		free(mk[l]);
}

static int keep_last(const nnp_lottery_round *r, const nnp_model *ticket,
                     const nnp_model *control, const uint8_t *const *mask, void *ctx,
                     nnp_err *err)
{
	(void)r;
	(void)control;
	(void)mask;
	watch *w = ctx;
	nnp_model_free(w->last);
	return nnp_model_clone(&w->last, ticket, err);
}

/* The same seed and thread count give the same tickets, controls and figures. */
static void test_deterministic(void **state)
{
	tu_case *c = *state;
	nnp_err err;
	for (unsigned threads = 1; threads <= 2; threads++) {
		nnp_lottery *lt[2] = { NULL, NULL };
		watch w[2];
		memset(w, 0, sizeof w);
		for (int k = 0; k < 2; k++) {
			nnp_lottery_opts o = small_opts();
			o.train.threads = threads;
			o.train.batch = 32;
			o.rounds = 2;
			o.rewind_epoch = 1;
			o.global = 1;
			o.on_round = keep_last;
			o.ctx = &w[k];
			assert_int_equal(nnp_lottery_run(&lt[k], c->m, c->d, c->held, &o, &err), 0);
		}
		for (size_t i = 0; i < 3; i++) {
			assert_memory_equal(&lt[0]->r[i].accuracy, &lt[1]->r[i].accuracy, sizeof(double));
			assert_memory_equal(&lt[0]->r[i].loss, &lt[1]->r[i].loss, sizeof(double));
			assert_int_equal(lt[0]->r[i].kept, lt[1]->r[i].kept);
		}
		assert_memory_equal(&lt[0]->r[2].control_loss, &lt[1]->r[2].control_loss,
		                    sizeof(double));
		for (size_t l = 0; l < 3; l++)
			assert_memory_equal(w[0].last->layers[l].w, w[1].last->layers[l].w,
			                    w[0].last->layers[l].in * w[0].last->layers[l].out *
			                            sizeof(float));
		for (int k = 0; k < 2; k++) {
			nnp_lottery_free(lt[k]);
			watch_free(&w[k]);
		}
	}
}

static void test_bad_options(void **state)
{
	tu_case *c = *state;
	nnp_lottery *lt = NULL;
	nnp_err err;
	nnp_lottery_opts o = small_opts();
	o.rate = 1.0;
	assert_int_equal(nnp_lottery_run(&lt, c->m, c->d, c->d, &o, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "--rate"));
	o = small_opts();
	o.rewind_epoch = 4;
	assert_int_equal(nnp_lottery_check_opts(&o, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "--rewind-epoch"));
	o = small_opts();
	assert_int_equal(nnp_lottery_run(&lt, c->m, c->d, NULL, &o, &err), NNP_EUSAGE);
	assert_null(lt);
}

/* The cubic schedule: its ends exactly, never increasing, the formula within rounding. */
static void test_gradual_budget(void **state)
{
	(void)state;
	static const size_t b0s[] = { 1000, 567434, 7, 100 }, bTs[] = { 10, 85115, 0, 100 };
	for (size_t c = 0; c < 4; c++)
		for (size_t T = 1; T <= 12; T++) {
			size_t b0 = b0s[c], bT = bTs[c], prev = b0;
			assert_int_equal(nnp_gradual_budget(b0, bT, 0, T), b0);
			assert_int_equal(nnp_gradual_budget(b0, bT, T, T), bT);
			for (size_t t = 1; t <= T; t++) {
				size_t b = nnp_gradual_budget(b0, bT, t, T);
				double f = 1.0 - (double)t / (double)T;
				double v = (double)bT + ((double)b0 - (double)bT) * f * f * f;
				assert_true(fabs((double)b - v) <= 0.5);
				assert_true(b <= prev);
				prev = b;
			}
		}
}

static void test_gradual_magnitude(void **state)
{
	tu_case *c = *state;
	nnp_model *out = NULL;
	nnp_err err;
	nnp_train_opts t = NNP_TRAIN_OPTS_INIT;
	t.epochs = 3;
	t.batch = 16;
	t.threads = 1;
	t.lr = 0.01f;
	assert_int_equal(nnp_train(c->m, c->d, NULL, &t, NULL, &err), 0);
	nnp_gradual_opts o;
	memset(&o, 0, sizeof o);
	o.train = t;
	o.train.epochs = 1;
	o.steps = 4;
	o.target = 90;
	nnp_gradual_report rep;
	assert_int_equal(nnp_gradual_run(&out, c->m, c->d, c->held, &o, &rep, &err), 0);
	assert_int_equal(rep.n, 4);
	size_t W = nnp_model_macs(c->m);
	for (size_t s = 0; s < 4; s++) {
		assert_int_equal(rep.s[s].budget, nnp_gradual_budget(W, 90, s + 1, 4));
		assert_int_equal(rep.s[s].weights, rep.s[s].budget);
	}
	assert_int_equal(rep.s[3].weights, 90);
	/* The pruned weights stayed 0 through the last step's training. */
	assert_true(nnp_model_nonzeros(out) <= 90);
	assert_true(nnp_model_nonzeros(out) >= 85);
	free(rep.s);
	nnp_model_free(out);
	out = NULL;
	/* Hidden scope: the output layer's 36 weights all stay, the 54 others
	 * go by size, 54 * 128/320 = 21.6 -> 22 and 54 * 192/320 = 32.4 -> 32. */
	o.scope = NNP_MAG_HIDDEN;
	assert_int_equal(nnp_gradual_run(&out, c->m, c->d, c->held, &o, &rep, &err), 0);
	assert_int_equal(rep.s[3].weights, 90);
	assert_int_equal(nnp_layer_nonzeros(&out->layers[2]), 3 * 12);
	assert_int_equal(nnp_layer_nonzeros(&out->layers[0]), 22);
	assert_int_equal(nnp_layer_nonzeros(&out->layers[1]), 32);
	free(rep.s);
	nnp_model_free(out);
	out = NULL;
	o.target = 35;
	assert_int_equal(nnp_gradual_run(&out, c->m, c->d, c->held, &o, &rep, &err), NNP_EUSAGE);
	assert_non_null(strstr(err.msg, "output layer's 36"));
	o.target = 90;
	o.scope = NNP_MAG_PER_LAYER;
	/* Structured: the score criterion with its refit, to a parameter budget. */
	o.structured = 1;
	nnp_method_opts mo = NNP_METHOD_OPTS_INIT;
	mo.threads = 1;
	o.method = mo;
	o.calib = c->d;
	o.target = nnp_model_params(c->m) / 2;
	assert_int_equal(nnp_gradual_run(&out, c->m, c->d, c->held, &o, &rep, &err), 0);
	assert_true(nnp_model_params(out) <= o.target);
	for (size_t s = 0; s < 4; s++)
		assert_true(rep.s[s].params <= rep.s[s].budget);
	free(rep.s);
	nnp_model_free(out);
	/* Given final widths: every step within the schedule's budget from the
	 * model's parameters to theirs, the last exactly at them. */
	const size_t widths[2] = { 5, 7 };
	const size_t pw = (F * 5 + 5) + (5 * 7 + 7) + (7 * K + K), p0 = nnp_model_params(c->m);
	o.widths = widths;
	o.target = 0;   /* ignored with widths */
	assert_int_equal(nnp_gradual_run(&out, c->m, c->d, c->held, &o, &rep, &err), 0);
	assert_int_equal(out->layers[0].out, 5);
	assert_int_equal(out->layers[1].out, 7);
	assert_int_equal(nnp_model_params(out), pw);
	for (size_t s = 0; s < 4; s++) {
		assert_int_equal(rep.s[s].budget, nnp_gradual_budget(p0, pw, s + 1, 4));
		assert_true(rep.s[s].params <= rep.s[s].budget);
		assert_true(s == 0 || rep.s[s].params <= rep.s[s - 1].params);
	}
	assert_int_equal(rep.s[3].params, pw);
	free(rep.s);
	nnp_model_free(out);
	const size_t too_wide[2] = { 5, 13 };
	o.widths = too_wide;
	assert_int_equal(nnp_gradual_run(&out, c->m, c->d, c->held, &o, NULL, &err), NNP_EUSAGE);
	o.widths = NULL;
	o.target = nnp_model_params(c->m) + 1;
	assert_int_equal(nnp_gradual_run(&out, c->m, c->d, c->held, &o, NULL, &err), NNP_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LOTTERY_TEST(test_rounds, 3, 240, 1, 120, 2),
		LOTTERY_TEST(test_rewind_exact, 5, 120, 4, 0, 0),
		LOTTERY_TEST(test_late_rewind_exact, 23, 240, 21, 90, 22),
		LOTTERY_TEST(test_output_rate, 31, 0, 0, 0, 0),
		LOTTERY_TEST(test_global_and_neurons, 9, 0, 0, 0, 0),
		LOTTERY_TEST(test_deterministic, 13, 240, 11, 90, 12),
		LOTTERY_TEST(test_bad_options, 1, 30, 1, 0, 0),
		cmocka_unit_test(test_gradual_budget),
		LOTTERY_TEST(test_gradual_magnitude, 23, 240, 21, 90, 22),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
