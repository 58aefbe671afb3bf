/* The lottery ticket procedure: train, prune by magnitude (or neurons by L2
 * norm), rewind, retrain with the mask fixed; a random re-initialisation of
 * the same mask as the control (include/nnprune/lottery.h). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nnprune/lottery.h"
#include "mask_priv.h"
#include "scores_priv.h"

void nnp_lottery_free(nnp_lottery *lt)
{
	if (!lt)
		return;
	free(lt->r);
	free(lt);
}

/* splitmix64: advances *s and returns the next 64 bits. */
static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t nnp_lottery_control_seed(uint64_t seed, size_t r)
{
	/* splitmix64 of (seed, round): neighbouring rounds and seeds get
	 * unrelated streams, and none equals the ticket's own seed. */
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (uint64_t)r;
	return splitmix(&z);
}

/* Fisher-Yates: x[0..n) in a uniformly random order (rejection sampling,
 * no modulo bias). */
static void shuffle_floats(float *x, size_t n, uint64_t *s)
{
	for (size_t i = n; i > 1; i--) {
		uint64_t lim = UINT64_MAX - UINT64_MAX % (uint64_t)i, v;
		do
			v = splitmix(s);
		while (v >= lim);
		size_t j = (size_t)(v % (uint64_t)i);
		float t = x[i - 1];
		x[i - 1] = x[j];
		x[j] = t;
	}
}

int nnp_lottery_check_opts(const nnp_lottery_opts *o, nnp_err *err)
{
	int rc = nnp_train_check_opts(&o->train, err);
	if (rc)
		return rc;
	if (o->train.mask || o->train.teacher || o->train.model_takes_raw)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "lottery: the training options must not carry a mask, a teacher "
		                   "or model_takes_raw");
	if (o->train.input_scale != 1.0f)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "lottery: give the input scale as the model's preprocessing "
		                   "(training input_scale must be 1)");
	if (o->rounds > NNP_LOTTERY_MAX_ROUNDS)
		return nnp_err_set(err, NNP_EUSAGE, "--rounds must be at most %u (got %zu)",
		                   NNP_LOTTERY_MAX_ROUNDS, o->rounds);
	if (!(o->rate > 0.0 && o->rate < 1.0))
		return nnp_err_set(err, NNP_EUSAGE, "--rate must be in (0, 1) (got %g)", o->rate);
	if (!(o->output_rate < 1.0))
		return nnp_err_set(err, NNP_EUSAGE, "--output-rate must be in [0, 1) (got %g)",
		                   o->output_rate);
	if (o->rewind_epoch > o->train.epochs)
		return nnp_err_set(err, NNP_EUSAGE,
		                   "--rewind-epoch must be at most --epochs (%zu) (got %zu)",
		                   o->train.epochs, o->rewind_epoch);
	return NNP_OK;
}

/* ------------------------------------------------------------- masks -- */

void nnp_masks_free(uint8_t **mk, size_t n)
{
	if (!mk)
		return;
	for (size_t l = 0; l < n; l++)
		free(mk[l]);
	free(mk);
}

uint8_t **nnp_masks_alloc(const nnp_model *m)
{
	uint8_t **mk = calloc(m->n_layers, sizeof *mk);
	if (!mk)
		return NULL;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		size_t n = L->in * L->out;
		if (!(mk[l] = malloc(n ? n : 1))) {
			nnp_masks_free(mk, m->n_layers);
			return NULL;
		}
	}
	return mk;
}

/* 1 if any of the n bytes is set: a neuron's row still has an input. */
static int row_alive(const uint8_t *mk, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mk[i])
			return 1;
	return 0;
}

size_t nnp_mask_kept(const nnp_layer *L, const uint8_t *mk)
{
	size_t n = L->in * L->out, k = 0;
	if (!mk)
		return n;
	for (size_t i = 0; i < n; i++)
		k += mk[i] != 0;
	return k;
}

/* A copy of m where the pruned weights are +0 and the kept ones are never
 * 0 (a kept weight of exactly 0 becomes the smallest positive float), so
 * that the magnitude ranking takes every pruned weight before any kept one. */
static int ranking_copy(nnp_model **out, const nnp_model *m, const uint8_t *const *mask,
                        nnp_err *err)
{
	int rc = nnp_model_clone(out, m, err);
	if (rc)
		return rc;
	for (size_t l = 0; l < m->n_layers; l++) {
		nnp_layer *L = &(*out)->layers[l];
		const uint8_t *mk = mask ? mask[l] : NULL;
		for (size_t i = 0; i < L->in * L->out; i++) {
			if (mk && !mk[i])
				L->w[i] = 0.0f;
			else if (L->w[i] == 0.0f)
				L->w[i] = FLT_TRUE_MIN;
		}
	}
	return NNP_OK;
}

/* Marks into next what stays when, from the weights mask keeps, the
 * smallest |w| go: `grouped` leading layers ranked together lose go_group of
 * their weights (one global ranking), every later layer l its own go[l]. */
static int mag_select(const nnp_model *m, const uint8_t *const *mask, size_t grouped,
                      size_t go_group, const size_t *go, uint8_t **next, nnp_err *err)
{
	nnp_model *r = NULL;
	nnp_mag_cut *cuts = calloc(m->n_layers, sizeof *cuts);
	int rc = cuts ? ranking_copy(&r, m, mask, err)
	              : nnp_err_set(err, NNP_ENOMEM, "pruning: out of memory");
	if (rc)
		goto done;
	if (grouped) {
		nnp_model group = *r;
		group.n_layers = grouped;
		size_t total = nnp_model_macs(&group), kept = 0;
		for (size_t l = 0; l < grouped; l++)
			kept += nnp_mask_kept(&m->layers[l], mask ? mask[l] : NULL);
		size_t k = (total - kept) + go_group;
		rc = nnp_mag_select(&group, total ? (double)k / (double)total : 0.0, NNP_MAG_GLOBAL,
		                    cuts, err);
	}
	for (size_t l = grouped; l < m->n_layers && !rc; l++) {
		/* One layer seen as a model of its own: its count exactly. */
		nnp_model one = *r;
		one.n_layers = 1;
		one.layers = &r->layers[l];
		one.input_size = r->layers[l].in;
		size_t n = r->layers[l].in * r->layers[l].out;
		size_t kept = nnp_mask_kept(&m->layers[l], mask ? mask[l] : NULL);
		size_t k = (n - kept) + go[l];
		rc = nnp_mag_select(&one, n ? (double)k / (double)n : 0.0, NNP_MAG_PER_LAYER,
		                    &cuts[l], err);
	}
	if (rc)
		goto done;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &r->layers[l];
		size_t n = L->in * L->out;
		nnp_mag_mark(L, &cuts[l], next[l]);   /* 1 = selected: pruned */
		for (size_t i = 0; i < n; i++)
			next[l][i] = !next[l][i];
	}
done:
	nnp_model_free(r);
	free(cuts);
	return rc;
}

int nnp_lottery_prune_magnitude(const nnp_model *m, const uint8_t *const *mask, double rate,
                                double output_rate, int global, uint8_t **next, nnp_err *err)
{
	if (!(rate >= 0.0 && rate <= 1.0))
		return nnp_err_set(err, NNP_EUSAGE, "lottery: rate %g is outside 0 to 1", rate);
	if (!(output_rate <= 1.0))
		return nnp_err_set(err, NNP_EUSAGE, "lottery: output rate %g is above 1", output_rate);
	size_t L = m->n_layers;
	size_t *go = calloc(L ? L : 1, sizeof *go);
	if (!go)
		return nnp_err_set(err, NNP_ENOMEM, "lottery: out of memory");
	/* With an output rate of its own, the output layer leaves the ranking. */
	int own = output_rate >= 0.0 && L > 1;
	size_t grouped = global ? (own ? L - 1 : L) : 0, all = 0;
	for (size_t l = 0; l < L; l++) {
		size_t kept = nnp_mask_kept(&m->layers[l], mask ? mask[l] : NULL);
		go[l] = nnp_mag_count(own && l + 1 == L ? output_rate : rate, kept);
		if (l < grouped)
			all += kept;
	}
	int rc = mag_select(m, mask, grouped, nnp_mag_count(rate, all), go, next, err);
	free(go);
	return rc;
}

int nnp_mask_magnitude_to(const nnp_model *m, const uint8_t *const *mask, size_t keep,
                          nnp_mag_scope scope, uint8_t **next, nnp_err *err)
{
	size_t L = m->n_layers, kept = 0, total = 0, fixed = 0;
	/* The hidden scope leaves the output layer as the mask has it: the
	 * layers before it share what is left of keep. */
	size_t n_share = scope == NNP_MAG_HIDDEN && L ? L - 1 : L;
	if (scope == NNP_MAG_HIDDEN && L < 2)
		return nnp_err_set(err, NNP_EUSAGE, "pruning: the hidden scope needs a hidden layer");
	size_t *go = calloc(L, sizeof *go), *want = calloc(L, sizeof *want);
	double *frac = calloc(L, sizeof *frac);
	int rc = go && want && frac ? NNP_OK : nnp_err_set(err, NNP_ENOMEM, "pruning: out of memory");
	for (size_t l = 0; l < L && !rc; l++) {
		size_t has = nnp_mask_kept(&m->layers[l], mask ? mask[l] : NULL);
		kept += has;
		if (l < n_share)
			total += m->layers[l].in * m->layers[l].out;
		else
			fixed += has;
	}
	if (!rc && keep > kept)
		rc = nnp_err_set(err, NNP_EUSAGE,
		                 "pruning: cannot keep %zu weights when only %zu are left", keep, kept);
	if (!rc && keep < fixed)
		rc = nnp_err_set(err, NNP_EUSAGE, "pruning: cannot keep %zu weights with the output "
		                 "layer's %zu kept (hidden scope)", keep, fixed);
	if (!rc && scope == NNP_MAG_GLOBAL) {
		go[0] = kept - keep;
	} else if (!rc) {
		/* Largest remainders: layer l keeps its share (keep - fixed) * n_l /
		 * total, the units left over go to the largest fractions (then lower
		 * l), never more than it still has. */
		size_t given = 0, share_keep = keep - fixed;
		for (size_t l = 0; l < L; l++) {
			const nnp_layer *Y = &m->layers[l];
			size_t has = nnp_mask_kept(Y, mask ? mask[l] : NULL);
			if (l >= n_share) {
				want[l] = has;
				frac[l] = -1.0;
				continue;
			}
			double share = (double)share_keep * (double)(Y->in * Y->out) / (double)total;
			want[l] = (size_t)floor(share);
			if (want[l] > has)
				want[l] = has;
			frac[l] = want[l] < has ? share - floor(share) : -1.0;
			given += want[l];
		}
		while (given < share_keep) {
			size_t best = L;
			for (size_t l = 0; l < n_share; l++)
				if (want[l] < nnp_mask_kept(&m->layers[l], mask ? mask[l] : NULL) &&
				    (best == L || frac[l] > frac[best]))
					best = l;
			want[best]++;
			frac[best] = -1.0;   /* one unit each before any second */
			given++;
		}
		for (size_t l = 0; l < L; l++)
			go[l] = nnp_mask_kept(&m->layers[l], mask ? mask[l] : NULL) - want[l];
	}
	int global = scope == NNP_MAG_GLOBAL;
	if (!rc)
		rc = mag_select(m, mask, global ? L : 0, global ? go[0] : 0, go, next, err);
	free(go);
	free(want);
	free(frac);
	return rc;
}

int nnp_lottery_prune_neurons(const nnp_model *m, const uint8_t *const *mask, double rate,
                              uint8_t **next, nnp_err *err)
{
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		if (mask)
			memcpy(next[l], mask[l], L->in * L->out);
		else
			memset(next[l], 1, L->in * L->out);
	}
	for (size_t l = 0; l + 1 < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l], *N = &m->layers[l + 1];
		size_t n = L->out, alive = 0;
		double *score = malloc(n * sizeof *score);
		size_t *order = malloc(n * sizeof *order);
		int rc = score && order ? NNP_OK : nnp_err_set(err, NNP_ENOMEM, "lottery: out of memory");
		if (!rc) {
			nnp_unit_l2(L, score);
			for (size_t o = 0; o < n; o++) {
				int live = row_alive(next[l] + o * L->in, L->in);
				/* A removed neuron ranks before every live one. */
				if (!live)
					score[o] = -1.0;
				alive += (size_t)live;
			}
			rc = nnp_rank_ascending(score, n, order, err);
		}
		if (!rc) {
			size_t stay = alive - nnp_mag_count(rate, alive);
			if (stay < 1)
				stay = 1;
			for (size_t k = 0; k + stay < n; k++) {
				size_t o = order[k];
				memset(next[l] + o * L->in, 0, L->in);
				for (size_t j = 0; j < N->out; j++)
					next[l + 1][j * N->in + o] = 0;
			}
		}
		free(score);
		free(order);
		if (rc)
			return rc;
	}
	return NNP_OK;
}

/* ---------------------------------------------------------- the rounds -- */

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wraps the caller's epoch callback: keeps the weights after epoch K of
 * round 0 for late rewinding. */
typedef struct lt_epoch {
	const nnp_lottery_opts *o;
	nnp_model *m;              /* the model being trained */
	size_t keep_epoch;         /* 0: none */
	nnp_model *snapshot;       /* owned by the run */
	int oom;
} lt_epoch;

static int lt_on_epoch(const nnp_epoch_info *info, void *ctx)
{
	lt_epoch *e = ctx;
	if (e->keep_epoch && info->epoch == e->keep_epoch && !e->snapshot) {
		nnp_err tmp;
		if (nnp_model_clone(&e->snapshot, e->m, &tmp)) {
			e->oom = 1;
			return 1;
		}
	}
	return e->o->train.on_epoch ? e->o->train.on_epoch(info, e->o->train.ctx) : 0;
}

static void lt_on_progress(size_t epoch, uint64_t done, uint64_t total, void *ctx)
{
	const lt_epoch *e = ctx;
	e->o->train.on_progress(epoch, done, total, e->o->train.ctx);
}

/* Parameters without the pruned weights; structured, without the biases of
 * removed hidden neurons either. */
static size_t lt_params(const nnp_model *m, const uint8_t *const *mask, int structured,
                        size_t kept)
{
	size_t p = kept;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		if (!structured || !mask || l + 1 == m->n_layers) {
			p += L->out;
			continue;
		}
		for (size_t o = 0; o < L->out; o++)
			p += (size_t)row_alive(mask[l] + o * L->in, L->in);
	}
	return p;
}

static void fill_round(nnp_lottery_round *r, size_t round, const nnp_model *m,
                       const uint8_t *const *mask, int structured, const nnp_train_report *rep)
{
	memset(r, 0, sizeof *r);
	r->round = round;
	r->weights = nnp_model_macs(m);
	for (size_t l = 0; l < m->n_layers; l++)
		r->kept += nnp_mask_kept(&m->layers[l], mask ? mask[l] : NULL);
	r->remaining = r->weights ? (double)r->kept / (double)r->weights : 1.0;
	r->params = lt_params(m, mask, structured, r->kept);
	r->accuracy = nnp_metrics_accuracy(&rep->val);
	r->loss = nnp_metrics_loss(&rep->val);
	r->train_accuracy = rep->train_accuracy;
	r->control_accuracy = NAN;
	r->control_loss = NAN;
}

/* The control of a round: the mask's survivors from a fresh initialisation. */
static int train_control(nnp_model **out, nnp_lottery_round *r, const nnp_model *init,
                         const nnp_dataset *train, const nnp_dataset *val,
                         const nnp_train_opts *t, int shuffle, nnp_err *err)
{
	nnp_model *c = NULL;
	nnp_train_report rep;
	int rc = nnp_model_clone(&c, init, err);
	if (rc)
		return rc;
	uint64_t seed = nnp_lottery_control_seed(t->seed, r->round);
	if (shuffle) {
		for (size_t l = 0; l < c->n_layers; l++) {
			shuffle_floats(c->layers[l].w, c->layers[l].in * c->layers[l].out, &seed);
			shuffle_floats(c->layers[l].b, c->layers[l].out, &seed);
		}
	} else {
		nnp_model_init_random(c, seed);
	}
	rc = nnp_train(c, train, val, t, &rep, err);
	if (!rc) {
		r->control_accuracy = nnp_metrics_accuracy(&rep.val);
		r->control_loss = nnp_metrics_loss(&rep.val);
		*out = c;
		return NNP_OK;
	}
	nnp_model_free(c);
	return rc;
}

int nnp_lottery_run(nnp_lottery **out, const nnp_model *init, const nnp_dataset *train,
                    const nnp_dataset *val, const nnp_lottery_opts *o, nnp_err *err)
{
	*out = NULL;
	int rc = nnp_lottery_check_opts(o, err);
	if (rc)
		return rc;
	if (!val)
		return nnp_err_set(err, NNP_EUSAGE, "lottery: validation data is required");
	nnp_lottery *lt = calloc(1, sizeof *lt);
	if (lt)
		lt->r = calloc(o->rounds + 1, sizeof *lt->r);
	nnp_model *m = NULL, *ctl = NULL;
	uint8_t **cur = NULL, **next = NULL;
	lt_epoch ep = { o, NULL, o->rewind_epoch, NULL, 0 };
	if (!lt || !lt->r) {
		nnp_lottery_free(lt);
		return nnp_err_set(err, NNP_ENOMEM, "lottery: out of memory");
	}
	*out = lt;
	if ((rc = nnp_model_clone(&m, init, err)) != 0)
		goto done;
	cur = nnp_masks_alloc(m);
	next = nnp_masks_alloc(m);
	if (!cur || !next) {
		rc = nnp_err_set(err, NNP_ENOMEM, "lottery: out of memory for the masks");
		goto done;
	}
	nnp_train_opts t = o->train;
	t.on_epoch = lt_on_epoch;
	t.on_progress = o->train.on_progress ? lt_on_progress : NULL;
	t.ctx = &ep;
	ep.m = m;
	nnp_train_report rep;
	for (size_t round = 0; round <= o->rounds; round++) {
		double t0 = now_sec();
		const uint8_t *const *mk = round ? (const uint8_t *const *)cur : NULL;
		if (round) {
			/* Prune from the weights the previous round trained. */
			const uint8_t *const *prev = round > 1 ? (const uint8_t *const *)cur : NULL;
			rc = o->structured ? nnp_lottery_prune_neurons(m, prev, o->rate, next, err)
			                   : nnp_lottery_prune_magnitude(m, prev, o->rate, o->output_rate,
			                                                 o->global, next, err);
			if (rc)
				goto done;
			uint8_t **sw = cur;
			cur = next;
			next = sw;
			mk = (const uint8_t *const *)cur;
			const nnp_model *from = ep.snapshot ? ep.snapshot : init;
			if ((rc = nnp_model_rewind(m, from, mk, err)) != 0 ||
			    (o->on_rewind && (rc = o->on_rewind(round, m, mk, o->ctx, err)) != 0))
				goto done;
		}
		t.mask = mk;
		ep.keep_epoch = round == 0 ? o->rewind_epoch : 0;
		rc = nnp_train(m, train, val, &t, &rep, err);
		if (ep.oom)
			rc = nnp_err_set(err, NNP_ENOMEM, "lottery: out of memory for the rewind point");
		if (rc)
			goto done;
		if (round == 0 && o->rewind_epoch && !ep.snapshot) {
			rc = nnp_err_set(err, NNP_EUSAGE,
			                 "--rewind-epoch %zu: round 0 stopped after %zu epochs",
			                 o->rewind_epoch, rep.epochs_run);
			goto done;
		}
		nnp_lottery_round *r = &lt->r[round];
		fill_round(r, round, m, mk, o->structured, &rep);
		if (round && o->control) {
			nnp_train_opts tc = t;
			tc.on_epoch = o->train.on_epoch;
			tc.on_progress = o->train.on_progress;
			tc.ctx = o->train.ctx;
			if ((rc = train_control(&ctl, r, init, train, val, &tc, o->control_shuffle,
			                        err)) != 0)
				goto done;
		}
		r->seconds = now_sec() - t0;
		lt->n = round + 1;
		if (o->on_round)
			rc = o->on_round(r, m, ctl, mk, o->ctx, err);
		nnp_model_free(ctl);
		ctl = NULL;
		if (rc)
			goto done;
	}
done:
	nnp_masks_free(cur, init->n_layers);
	nnp_masks_free(next, init->n_layers);
	nnp_model_free(ep.snapshot);
	nnp_model_free(m);
	return rc;
}
