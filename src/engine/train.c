/* Training: minibatch Adam/SGD, backpropagation through CBLAS, and our own
 * threads over fixed parts of each batch so that runs are reproducible. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "nnprune/backprop.h"
#include "nnprune/parallel.h"
#include "nnprune/train.h"
#include "forward_priv.h"
#include "names.h"
#include "mem.h"

/* A thread needs this many rows of a batch to itself to be worth its two
 * parallel loops a step. Measured on 784-512-256-128-10 over 60,000 rows, two
 * quiet cores: one epoch at batch 16 takes 7.4 s on one thread and 5.2 s on
 * two (8 rows each); at batch 32, 4.3 s and 3.2 s; at batch 64, 3.6 s and
 * 1.75 s. Fewer rows than this per thread would only add synchronisation. */
#define TR_MIN_PART 8u

/* Every buffer starts on a cache line: SIMD loads stay aligned and two
 * threads never write the same line. */
#define TR_ALIGN 64u
#define TR_LINE_FLOATS (TR_ALIGN / sizeof(float))

/* Validation runs in chunks of at least this many rows even when the
 * training batch is small, so that sgemm gets a reasonable shape. */
#define TR_EVAL_ROWS 256u

/* ---------------------------------------------------------------- PRNG -- */

/* xoshiro256** seeded through splitmix64: our own, so that a seed means the
 * same weights and the same shuffles everywhere. */
typedef struct tr_rng {
	uint64_t s[4];
	double spare;     /* second normal of the last Box-Muller pair */
	int has_spare;
} tr_rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(tr_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ stream;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	r->has_spare = 0;
	r->spare = 0.0;
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(tr_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Uniform in (0, 1]: never 0, so the log in Box-Muller is finite. */
static double rng_unit(tr_rng *r)
{
	return (double)((rng_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

static double rng_normal(tr_rng *r)
{
	if (r->has_spare) {
		r->has_spare = 0;
		return r->spare;
	}
	double u = rng_unit(r), v = rng_unit(r);
	double rad = sqrt(-2.0 * log(u));
	double th = 6.283185307179586476925 * v;
	r->spare = rad * sin(th);
	r->has_spare = 1;
	return rad * cos(th);
}

/* Uniform in [0, n), n >= 1, without modulo bias (rejection). */
static size_t rng_below(tr_rng *r, size_t n)
{
	uint64_t un = (uint64_t)n;
	uint64_t lim = UINT64_MAX - UINT64_MAX % un;
	uint64_t x;
	do
		x = rng_next(r);
	while (x >= lim);
	return (size_t)(x % un);
}

#define TR_STREAM_INIT 0x494e4954ULL      /* "INIT" */
#define TR_STREAM_SHUFFLE 0x53485546ULL   /* "SHUF" */

void nnp_model_init_random(nnp_model *m, uint64_t seed)
{
	tr_rng r;
	rng_seed(&r, seed, TR_STREAM_INIT);
	for (size_t l = 0; l < m->n_layers; l++) {
		nnp_layer *L = &m->layers[l];
		int he = L->act == NNP_ACT_RELU || L->act == NNP_ACT_LEAKY_RELU;
		double sd = he ? sqrt(2.0 / (double)L->in) : sqrt(2.0 / (double)(L->in + L->out));
		size_t n = L->in * L->out;
		for (size_t i = 0; i < n; i++)
			L->w[i] = (float)(sd * rng_normal(&r));
		memset(L->b, 0, L->out * sizeof *L->b);
	}
}

/* ------------------------------------------------------------- options -- */

static const char *const optimizer_names[] = { "adam", "sgd" };
static const char *const schedule_names[] = { "constant", "cosine" };
static const nnp_names optimizers = NNP_NAMES(optimizer_names);
static const nnp_names schedules = NNP_NAMES(schedule_names);

NNP_NAMES_FUNCS(nnp_optimizer, nnp_optimizer, optimizers)  /* nnp_optimizer_name, _parse */

float nnp_train_default_lr(nnp_optimizer o)
{
	return o == NNP_OPT_SGD ? NNP_TRAIN_SGD_LR : NNP_TRAIN_ADAM_LR;
}

NNP_NAMES_FUNCS(nnp_lr_schedule, nnp_lr_schedule, schedules)  /* nnp_lr_schedule_name, _parse */

double nnp_lr_at(nnp_lr_schedule s, double lr, uint64_t t, uint64_t S)
{
	if (s != NNP_LR_COSINE || S == 0)
		return lr;
	const double pi = 3.14159265358979323846;
	return lr * 0.5 * (1.0 + cos(pi * (double)(t - 1) / (double)S));
}

static int unit_interval(float v)
{
	return v >= 0.0f && v < 1.0f;
}

int nnp_train_check_opts(const nnp_train_opts *o, nnp_err *err)
{
	if (!nnp_optimizer_name(o->optimizer))
		return nnp_err_set(err, NNP_EUSAGE, "unknown optimizer %d (expected adam or sgd)",
		                   (int)o->optimizer);
	if (!(isfinite(o->lr) && o->lr > 0.0f))
		return nnp_err_set(err, NNP_EUSAGE, "--lr must be a finite number > 0 (got %g)",
		                   (double)o->lr);
	if (o->epochs < 1 || o->epochs > NNP_TRAIN_MAX_EPOCHS)
		return nnp_err_set(err, NNP_EUSAGE, "--epochs must be between 1 and %u (got %zu)",
		                   NNP_TRAIN_MAX_EPOCHS, o->epochs);
	if (o->batch < 1 || o->batch > NNP_TRAIN_MAX_BATCH)
		return nnp_err_set(err, NNP_EUSAGE, "--batch must be between 1 and %u (got %zu)",
		                   NNP_TRAIN_MAX_BATCH, o->batch);
	if (o->threads > NNP_TRAIN_MAX_THREADS)
		return nnp_err_set(err, NNP_EUSAGE, "--threads must be at most %u (got %u)",
		                   NNP_TRAIN_MAX_THREADS, o->threads);
	if (!(isfinite(o->input_scale) && o->input_scale > 0.0f))
		return nnp_err_set(err, NNP_EUSAGE,
		                   "--input-scale must be a finite number > 0 (got %g)",
		                   (double)o->input_scale);
	if (!(isfinite(o->weight_decay) && o->weight_decay >= 0.0f))
		return nnp_err_set(err, NNP_EUSAGE,
		                   "--weight-decay must be a finite number >= 0 (got %g)",
		                   (double)o->weight_decay);
	if (o->optimizer == NNP_OPT_SGD && !unit_interval(o->momentum))
		return nnp_err_set(err, NNP_EUSAGE, "--momentum must be in [0, 1) (got %g)",
		                   (double)o->momentum);
	if (o->optimizer == NNP_OPT_ADAM) {
		if (!unit_interval(o->beta1))
			return nnp_err_set(err, NNP_EUSAGE, "--beta1 must be in [0, 1) (got %g)",
			                   (double)o->beta1);
		if (!unit_interval(o->beta2))
			return nnp_err_set(err, NNP_EUSAGE, "--beta2 must be in [0, 1) (got %g)",
			                   (double)o->beta2);
		if (!(isfinite(o->eps) && o->eps > 0.0f))
			return nnp_err_set(err, NNP_EUSAGE, "--eps must be a finite number > 0 (got %g)",
			                   (double)o->eps);
	}
	if (!nnp_lr_schedule_name(o->lr_schedule))
		return nnp_err_set(err, NNP_EUSAGE,
		                   "unknown learning rate schedule %d (expected constant or cosine)",
		                   (int)o->lr_schedule);
	if (o->teacher) {
		if (!(isfinite(o->distill_t) && o->distill_t > 0.0f))
			return nnp_err_set(err, NNP_EUSAGE,
			                   "--distill: the temperature must be a finite number > 0 (got %g)",
			                   (double)o->distill_t);
		if (!(o->distill_alpha >= 0.0f && o->distill_alpha <= 1.0f))
			return nnp_err_set(err, NNP_EUSAGE, "--distill: alpha must be in [0, 1] (got %g)",
			                   (double)o->distill_alpha);
	}
	return NNP_OK;
}

/* ----------------------------------------------------------- workspace -- */

/* One part's engine workspace (include/nnprune/backprop.h) and its figures. */
typedef struct tr_ws {
	nnp_backprop bp;
	nnp_backprop tb;   /* the teacher's forward pass, when distilling */
	double *dscr;      /* [3][outputs] one row's logits and gradient, when distilling */
	/* the last part this thread ran */
	size_t rows;
	double loss;       /* summed over the part's rows */
	uint64_t correct;
	nnp_metrics val;   /* validation figures of this thread's share */
} tr_ws;

/* Copies rows first..first+n-1 (through idx when not NULL) into b, through
 * the input preprocessing of L0 (the model's layer 0), then scaled. */
static void ws_gather(nnp_backprop *b, const nnp_dataset *ds, const size_t *idx, size_t first,
                      size_t n, float scale, const nnp_layer *L0)
{
	size_t F = ds->features;
	for (size_t r = 0; r < n; r++) {
		size_t row = idx ? idx[first + r] : first + r;
		nnp_backprop_input(L0, ds->x + row * F, b->x + r * F, scale);
		b->y[r] = ds->y[row];
	}
}

/* Part t of T of n items: contiguous, sizes differing by at most one, the
 * larger first (so part 0 is never empty when n > 0). */
static void part_bounds(size_t n, size_t T, size_t t, size_t *lo, size_t *hi)
{
	size_t q = n / T, r = n % T;
	*lo = t * q + (t < r ? t : r);
	*hi = *lo + q + (t < r ? 1 : 0);
}

/* ------------------------------------------------------------ optimizer -- */

typedef struct tr_step {
	float lr, mom, b1, b2, eps, wd;
	float step;          /* Adam: lr / (1 - beta1^t) */
	float inv_sqrt_bc2;  /* Adam: 1 / sqrt(1 - beta2^t) */
} tr_step;

/*
 * GCC will not vectorise sqrtf while math functions may set errno (C's
 * default, and GCC 12's optimize attribute does not lift it), and the Adam
 * loop would then cost as much as all the matrix products of a 64-row
 * batch. So on x86-64 (SSE2 is part of the ABI) four lanes go through
 * _mm_sqrt_ps; the tail, and other machines, take the same operations in
 * the same order one at a time.
 */
#if defined(__SSE2__)
/* All ones in the lanes whose mask byte is non-zero (kept), zeros elsewhere. */
static __m128 keep4(const uint8_t *mk)
{
	uint32_t b;
	memcpy(&b, mk, sizeof b);
	__m128i z = _mm_setzero_si128();
	__m128i v = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128((int)b), z), z);
	return _mm_castsi128_ps(_mm_cmpgt_epi32(v, z));
}
#endif

/* mk (may be NULL) masks the segment: where it is 0 the gradient counts as 0
 * (so the moments stay 0) and the weight is written as +0. */
static void adam_seg(float *restrict w, float *restrict g, float *restrict m1,
                     float *restrict m2, const uint8_t *restrict mk, size_t n, const tr_step *k,
                     float wd)
{
	float b1 = k->b1, b2 = k->b2, c1 = 1.0f - k->b1, c2 = 1.0f - k->b2;
	float step = k->step, isb = k->inv_sqrt_bc2, eps = k->eps;
	size_t i = 0;
#if defined(__SSE2__)
	__m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), vc1 = _mm_set1_ps(c1);
	__m128 vc2 = _mm_set1_ps(c2), vstep = _mm_set1_ps(step), visb = _mm_set1_ps(isb);
	__m128 veps = _mm_set1_ps(eps), vwd = _mm_set1_ps(wd);
	__m128 all = _mm_castsi128_ps(_mm_set1_epi32(-1));
	for (; i + 4 <= n; i += 4) {
		__m128 keep = mk ? keep4(mk + i) : all;
		__m128 wi = _mm_loadu_ps(w + i);
		__m128 gi = _mm_and_ps(keep, _mm_add_ps(_mm_loadu_ps(g + i), _mm_mul_ps(vwd, wi)));
		_mm_storeu_ps(g + i, _mm_setzero_ps());
		__m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m1 + i)), _mm_mul_ps(vc1, gi));
		__m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(m2 + i)),
		                       _mm_mul_ps(_mm_mul_ps(vc2, gi), gi));
		_mm_storeu_ps(m1 + i, mi);
		_mm_storeu_ps(m2 + i, vi);
		__m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vi), visb), veps);
		__m128 wn = _mm_sub_ps(wi, _mm_div_ps(_mm_mul_ps(vstep, mi), den));
		_mm_storeu_ps(w + i, _mm_and_ps(keep, wn));
	}
#endif
	for (; i < n; i++) {
		int keep = !mk || mk[i];
		float gi = keep ? g[i] + wd * w[i] : 0.0f;
		g[i] = 0.0f;
		float mi = b1 * m1[i] + c1 * gi;
		float vi = b2 * m2[i] + c2 * gi * gi;
		m1[i] = mi;
		m2[i] = vi;
		w[i] = keep ? w[i] - step * mi / (sqrtf(vi) * isb + eps) : 0.0f;
	}
}

static void sgd_seg(float *restrict w, float *restrict g, float *restrict buf,
                    const uint8_t *restrict mk, size_t n, const tr_step *k, float wd)
{
	float mom = k->mom, lr = k->lr;
	if (!mk) {
		for (size_t i = 0; i < n; i++) {
			float b = mom * buf[i] + g[i] + wd * w[i];
			g[i] = 0.0f;
			buf[i] = b;
			w[i] -= lr * b;
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		float keep = mk[i] ? 1.0f : 0.0f;
		float b = keep * (mom * buf[i] + g[i] + wd * w[i]);
		g[i] = 0.0f;
		buf[i] = b;
		/* keep * w is +0 for a pruned weight holding 0 or any finite value */
		w[i] = mk[i] ? w[i] - lr * b : 0.0f;
	}
}

/* acc += g, leaving g zeroed for the next step's sgemm to add onto. */
static void drain_into(float *restrict acc, float *restrict g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		acc[i] += g[i];
		g[i] = 0.0f;
	}
}

/* ------------------------------------------------------------- trainer -- */

typedef struct trainer {
	nnp_model *m;
	const nnp_train_opts *o;
	size_t P;            /* parameters */
	size_t *off;         /* [layers] flat offset of each layer's weights */
	size_t T;            /* threads, the caller's included */
	tr_ws *ws;           /* [T] */
	float *m1, *m2;      /* optimizer state [P]: Adam moments, or SGD momentum in m1 */
	/* the current step or validation, written by the caller between loops */
	const nnp_dataset *data;
	const size_t *idx;   /* perm while training, NULL (file order) for validation */
	size_t first, n;
	float scale, inv_n;
	tr_step k;
	size_t *perm;        /* [rows] this epoch's order of the training rows */
	nnp_pool *pool;      /* T workers; part t of a batch is task t */
	uint64_t total_steps; /* steps of the whole run, for the learning rate schedule */
} trainer;

static double batch_loss(const trainer *tr)
{
	double s = 0.0;
	for (size_t t = 0; t < tr->T; t++)
		s += tr->ws[t].rows ? tr->ws[t].loss : 0.0;
	return s;
}

/* The teacher's logits for the part's rows (from the raw inputs), then the
 * distillation loss and its gradient w.r.t. the student's logits into d0,
 * scaled by inv_n like nnp_backprop_loss. */
static void distill_part(trainer *tr, tr_ws *w, size_t first)
{
	const nnp_model *tm = tr->o->teacher;
	size_t n = w->rows, last = tr->m->n_layers - 1, tlast = tm->n_layers - 1;
	size_t K = tr->m->layers[last].out;
	/* The teacher reads the raw rows through its own preprocessing. */
	ws_gather(&w->tb, tr->data, tr->idx, first, n, 1.0f, &tm->layers[0]);
	nnp_backprop_forward(&w->tb, tm, n);
	double *zs = w->dscr, *zt = zs + K, *dz = zt + K;
	double T = tr->o->distill_t, alpha = tr->o->distill_alpha, loss = 0.0;
	uint64_t hits = 0;
	for (size_t r = 0; r < n; r++) {
		const float *z = w->bp.z[last] + r * K, *y = w->tb.z[tlast] + r * K;
		for (size_t k = 0; k < K; k++) {
			zs[k] = z[k];
			zt[k] = y[k];
		}
		size_t c = (size_t)w->bp.y[r];
		hits += nnp_argmax(w->bp.a[last] + r * K, K) == c;
		loss += nnp_distill_loss(zs, zt, K, c, T, alpha, dz);
		float *d = w->bp.d0 + r * K;
		for (size_t k = 0; k < K; k++)
			d[k] = (float)(dz[k] * (double)tr->inv_n);
	}
	w->loss = loss;
	w->correct = hits;
}

static void step_compute(trainer *tr, size_t t)
{
	tr_ws *w = &tr->ws[t];
	size_t lo, hi;
	part_bounds(tr->n, tr->T, t, &lo, &hi);
	w->rows = hi - lo;
	w->loss = 0.0;
	w->correct = 0;
	if (w->rows == 0)
		return;
	ws_gather(&w->bp, tr->data, tr->idx, tr->first + lo, w->rows, tr->scale, &tr->m->layers[0]);
	nnp_backprop_forward(&w->bp, tr->m, w->rows);
	if (tr->o->teacher)
		distill_part(tr, w, tr->first + lo);
	else
		nnp_backprop_loss(&w->bp, tr->m, w->rows, tr->inv_n, &w->loss, &w->correct);
	nnp_backprop_backward(&w->bp, tr->m, w->rows, tr->off, NULL, NULL);
}

/* Sums the parts' gradients into part 0's buffer and steps the optimizer,
 * over this thread's slice of the parameters, zeroing the gradients as it
 * reads them. Every element is summed in thread order whatever the slicing,
 * which keeps the result reproducible. */
static void step_update(trainer *tr, size_t t)
{
	/* Every thread sees the same sum, so all agree on skipping. */
	if (!isfinite(batch_loss(tr)))
		return;
	size_t blocks = (tr->P + TR_LINE_FLOATS - 1) / TR_LINE_FLOATS, lo, hi;
	part_bounds(blocks, tr->T, t, &lo, &hi);
	lo *= TR_LINE_FLOATS;
	hi = hi * TR_LINE_FLOATS < tr->P ? hi * TR_LINE_FLOATS : tr->P;
	if (lo >= hi)
		return;
	float *g = tr->ws[0].bp.grad;
	for (size_t k = 1; k < tr->T; k++)
		if (tr->ws[k].rows)
			drain_into(g + lo, tr->ws[k].bp.grad + lo, hi - lo);
	for (size_t l = 0; l < tr->m->n_layers; l++) {
		nnp_layer *L = &tr->m->layers[l];
		size_t nw = L->in * L->out;
		/* Two segments per layer: weights (decayed) then biases. */
		for (int s = 0; s < 2; s++) {
			size_t a = tr->off[l] + (s ? nw : 0), n = s ? L->out : nw;
			size_t b0 = a > lo ? a : lo, b1 = a + n < hi ? a + n : hi;
			if (b0 >= b1)
				continue;
			float *p = (s ? L->b : L->w) + (b0 - a);
			float wd = s ? 0.0f : tr->k.wd;
			const uint8_t *mk = !s && tr->o->mask && tr->o->mask[l]
			                            ? tr->o->mask[l] + (b0 - a)
			                            : NULL;
			if (tr->o->optimizer == NNP_OPT_ADAM)
				adam_seg(p, g + b0, tr->m1 + b0, tr->m2 + b0, mk, b1 - b0, &tr->k, wd);
			else
				sgd_seg(p, g + b0, tr->m1 + b0, mk, b1 - b0, &tr->k, wd);
		}
	}
}

static void eval_part(trainer *tr, size_t t)
{
	tr_ws *w = &tr->ws[t];
	const nnp_layer *last = &tr->m->layers[tr->m->n_layers - 1];
	size_t lo, hi;
	part_bounds(tr->data->rows, tr->T, t, &lo, &hi);
	for (size_t r = lo; r < hi; r += w->bp.cap) {
		size_t n = hi - r < w->bp.cap ? hi - r : w->bp.cap;
		ws_gather(&w->bp, tr->data, NULL, r, n, tr->scale, &tr->m->layers[0]);
		nnp_backprop_forward(&w->bp, tr->m, n);
		nnp_metrics_add(&w->val, nnp_score_kind(tr->m), w->bp.a[tr->m->n_layers - 1], n, last->out, w->bp.y,
		                NULL, NULL);
	}
}

static void compute_task(void *ctx, size_t t, unsigned worker)
{
	(void)worker;
	step_compute(ctx, t);
}

static void update_task(void *ctx, size_t t, unsigned worker)
{
	(void)worker;
	step_update(ctx, t);
}

static void eval_task(void *ctx, size_t t, unsigned worker)
{
	(void)worker;
	eval_part(ctx, t);
}

/* One step: every part's gradient, then every slice of the update. Parts
 * write their own workspace, so which worker runs which part changes nothing. */
static void run_step(trainer *tr)
{
	nnp_pfor_job compute = { compute_task, NULL, tr }, update = { update_task, NULL, tr };
	nnp_pool_for(tr->pool, tr->T, &compute);
	nnp_pool_for(tr->pool, tr->T, &update);
}

static void trainer_free(trainer *tr)
{
	nnp_pool_free(tr->pool);
	if (tr->ws)
		for (size_t t = 0; t < tr->T; t++)
		{
			nnp_backprop_free(&tr->ws[t].bp);
			nnp_backprop_free(&tr->ws[t].tb);
			free(tr->ws[t].dscr);
		}
	NNP_FREE_ALL(tr->ws, tr->off, tr->m1, tr->m2, tr->perm);
}

static float *alloc_floats(size_t n)
{
	void *p = NULL;
	size_t bytes = (n ? n : 1) * sizeof(float);
	if (posix_memalign(&p, TR_ALIGN, bytes) != 0)
		return NULL;
	memset(p, 0, bytes);
	return p;
}

/* Everything the epoch loop touches, allocated here and only here. */
static int trainer_init(trainer *tr, nnp_model *m, const nnp_train_opts *o, size_t T,
                        size_t cap, size_t rows, nnp_err *err)
{
	memset(tr, 0, sizeof *tr);
	tr->m = m;
	tr->o = o;
	tr->T = T;
	if (nnp_param_layout(m, &tr->off, &tr->P))
		return nnp_err_set(err, NNP_ENOMEM, "training: out of memory");
	tr->scale = o->input_scale;
	tr->ws = calloc(T, sizeof *tr->ws);
	tr->perm = malloc(rows * sizeof *tr->perm);
	if (!tr->perm)
		return nnp_err_set(err, NNP_ENOMEM, "training: out of memory for %zu rows", rows);
	for (size_t i = 0; i < rows; i++)
		tr->perm[i] = i;
	tr->m1 = alloc_floats(tr->P);
	tr->m2 = o->optimizer == NNP_OPT_ADAM ? alloc_floats(tr->P) : NULL;
	if (!tr->ws || !tr->m1 || (o->optimizer == NNP_OPT_ADAM && !tr->m2))
		return nnp_err_set(err, NNP_ENOMEM, "training: out of memory for %zu parameters",
		                   tr->P);
	for (size_t t = 0; t < T; t++) {
		int rc = nnp_backprop_init(&tr->ws[t].bp, m, cap, tr->P);
		if (rc == NNP_EUSAGE)
			return nnp_err_set(err, NNP_EUSAGE,
			                   "training: %zu rows per thread are too many for this model",
			                   cap);
		if (rc)
			return nnp_err_set(err, NNP_ENOMEM,
			                   "training: out of memory for the buffers of %zu rows", cap);
		if (o->teacher) {
			size_t K = nnp_model_outputs(m);
			tr->ws[t].dscr = malloc(3 * K * sizeof(double));
			rc = nnp_backprop_init(&tr->ws[t].tb, o->teacher, cap, 0);
			if (rc == NNP_EUSAGE)
				return nnp_err_set(err, NNP_EUSAGE,
				                   "training: %zu rows per thread are too many for the teacher",
				                   cap);
			if (rc || !tr->ws[t].dscr)
				return nnp_err_set(err, NNP_ENOMEM,
				                   "training: out of memory for the teacher's buffers");
		}
	}
	return NNP_OK;
}

/* ---------------------------------------------------------- data checks -- */

static int check_data(const nnp_model *m, const nnp_dataset *d, const char *what,
                      nnp_err *err)
{
	size_t K = nnp_model_outputs(m);
	if (d->rows == 0)
		return nnp_err_set(err, NNP_EINPUT, "%s has no rows", what);
	if (!d->y)
		return nnp_err_set(err, NNP_EINPUT, "%s has no labels (training needs a label column)",
		                   what);
	if (d->features != m->input_size)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s has %zu features per row but the model takes %zu inputs", what,
		                   d->features, m->input_size);
	for (size_t r = 0; r < d->rows; r++) {
		if (d->y[r] < 0 || (uint64_t)d->y[r] >= K)
			return nnp_err_set(err, NNP_EINPUT,
			                   "%s: row %zu: label %ld is out of range (the model has %zu "
			                   "outputs, labels 0..%zu)",
			                   what, r + 1, (long)d->y[r], K, K - 1);
		const float *x = d->x + r * d->features;
		for (size_t j = 0; j < d->features; j++)
			if (!isfinite(x[j]))
				return nnp_err_set(err, NNP_EINPUT,
				                   "%s: row %zu: feature %zu is %s, not a finite number",
				                   what, r + 1, j + 1, isnan(x[j]) ? "NaN" : "infinite");
	}
	return NNP_OK;
}

/* ----------------------------------------------------------- the loop -- */

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* W0 *= s: the model then takes raw inputs where it took inputs * s. */
static void scale_layer0(nnp_model *m, float s)
{
	nnp_layer *L = &m->layers[0];
	size_t n = L->in * L->out;
	for (size_t i = 0; i < n; i++)
		L->w[i] *= s;
}

static void set_step(trainer *tr, uint64_t t)
{
	const nnp_train_opts *o = tr->o;
	double lr = nnp_lr_at(o->lr_schedule, (double)o->lr, t, tr->total_steps);
	tr->k.lr = (float)lr;
	tr->k.mom = o->momentum;
	tr->k.b1 = o->beta1;
	tr->k.b2 = o->beta2;
	tr->k.eps = o->eps;
	tr->k.wd = o->weight_decay;
	/* Bias corrections in double: beta^t for large t is tiny, not 0 - 0. */
	double bc1 = 1.0 - pow((double)o->beta1, (double)t);
	double bc2 = 1.0 - pow((double)o->beta2, (double)t);
	tr->k.step = (float)(lr / bc1);
	tr->k.inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
}

static void shuffle(size_t *idx, size_t n, tr_rng *r)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_below(r, i);
		size_t t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

static void eval_val(trainer *tr, const nnp_dataset *val, nnp_metrics *out)
{
	for (size_t t = 0; t < tr->T; t++)
		memset(&tr->ws[t].val, 0, sizeof tr->ws[t].val);
	tr->data = val;
	tr->idx = NULL;
	nnp_pfor_job job = { eval_task, NULL, tr };
	nnp_pool_for(tr->pool, tr->T, &job);
	memset(out, 0, sizeof *out);
	for (size_t t = 0; t < tr->T; t++)
		nnp_metrics_merge(out, &tr->ws[t].val);
	out->mse = nnp_score_kind(tr->m) != NNP_ACT_SOFTMAX &&
	           nnp_score_kind(tr->m) != NNP_SCORE_LOGITS;
}

/* One epoch; NNP_EINPUT if the loss stops being finite. */
static int run_epoch(trainer *tr, const nnp_dataset *train, size_t epoch, uint64_t *steps,
                     double *loss, uint64_t *hits, nnp_err *err)
{
	const nnp_train_opts *o = tr->o;
	size_t rows = train->rows;
	*loss = 0.0;
	*hits = 0;
	tr->data = train;
	tr->idx = tr->perm;
	size_t b = 0;
	for (size_t first = 0; first < rows; first += o->batch, b++) {
		tr->first = first;
		tr->n = rows - first < o->batch ? rows - first : o->batch;
		tr->inv_n = (float)(1.0 / (double)tr->n);
		set_step(tr, *steps + 1);
		run_step(tr);
		double bl = batch_loss(tr);
		if (!isfinite(bl))
			return nnp_err_set(err, NNP_EINPUT,
			                   "training diverged at epoch %zu, batch %zu (loss is %s); try "
			                   "a smaller --lr",
			                   epoch, b + 1, isnan(bl) ? "NaN" : "infinite");
		*loss += bl;
		for (size_t t = 0; t < tr->T; t++)
			*hits += tr->ws[t].correct;
		(*steps)++;
		if (o->on_progress)
			o->on_progress(epoch, (uint64_t)(first + tr->n), (uint64_t)rows, o->ctx);
	}
	return NNP_OK;
}

static size_t choose_threads(const nnp_train_opts *o, size_t batch)
{
	size_t T = o->threads ? o->threads : nnp_default_threads();
	size_t most = batch / TR_MIN_PART;
	if (T > most)
		T = most;
	return T ? T : 1;
}

static size_t div_up(size_t a, size_t b)
{
	return a / b + (a % b != 0);
}

static int check_inputs(const nnp_model *m, const nnp_dataset *train, const nnp_dataset *val,
                        const nnp_train_opts *o, nnp_err *err)
{
	int rc;
	if ((rc = nnp_train_check_opts(o, err)) != 0)
		return rc;
	if ((rc = nnp_model_validate(m, "model", err)) != 0)
		return rc;
	if (!train)
		return nnp_err_set(err, NNP_EUSAGE, "training: no training data given");
	if ((rc = check_data(m, train, "training data", err)) != 0)
		return rc;
	if (val && (rc = check_data(m, val, "validation data", err)) != 0)
		return rc;
	if (o->teacher) {
		const nnp_model *t = o->teacher;
		if ((rc = nnp_model_validate(t, "teacher", err)) != 0)
			return rc;
		if (t->input_size != m->input_size || nnp_model_outputs(t) != nnp_model_outputs(m))
			return nnp_err_set(err, NNP_EINPUT,
			                   "teacher: takes %zu inputs and gives %zu outputs but the model "
			                   "takes %zu and gives %zu",
			                   t->input_size, nnp_model_outputs(t), m->input_size,
			                   nnp_model_outputs(m));
		if (t->layers[t->n_layers - 1].act != NNP_ACT_SOFTMAX ||
		    m->layers[m->n_layers - 1].act != NNP_ACT_SOFTMAX)
			return nnp_err_set(err, NNP_EINPUT,
			                   "distillation needs softmax outputs (the %s's last layer is not "
			                   "softmax)",
			                   t->layers[t->n_layers - 1].act != NNP_ACT_SOFTMAX ? "teacher"
			                                                                      : "model");
	}
	return NNP_OK;
}

/* The epochs; stops early when the callback asks, fails on divergence. */
static int epoch_loop(trainer *tr, const nnp_dataset *train, const nnp_dataset *val,
                      nnp_train_report *rep, nnp_err *err)
{
	const nnp_train_opts *o = tr->o;
	tr_rng rng;
	rng_seed(&rng, o->seed, TR_STREAM_SHUFFLE);
	uint64_t steps = 0;
	for (size_t e = 1; e <= o->epochs; e++) {
		double t0 = now_sec(), loss;
		uint64_t hits;
		if (o->shuffle)
			shuffle(tr->perm, train->rows, &rng);
		int rc = run_epoch(tr, train, e, &steps, &loss, &hits, err);
		rep->steps = steps;
		if (rc)
			return rc;
		nnp_metrics vm;
		if (val)
			eval_val(tr, val, &vm);
		nnp_epoch_info info = { e, o->epochs, loss / (double)train->rows,
		                        (double)hits / (double)train->rows, val ? &vm : NULL,
		                        now_sec() - t0 };
		rep->epochs_run = e;
		rep->train_loss = info.train_loss;
		rep->train_accuracy = info.train_accuracy;
		rep->has_val = val != NULL;
		if (val)
			rep->val = vm;
		if (o->on_epoch && o->on_epoch(&info, o->ctx) != 0) {
			rep->stopped_early = e < o->epochs;
			break;
		}
	}
	return NNP_OK;
}

int nnp_train(nnp_model *m, const nnp_dataset *train, const nnp_dataset *val,
              const nnp_train_opts *o, nnp_train_report *rep, nnp_err *err)
{
	trainer tr;
	nnp_train_report local;
	double t_run = now_sec();
	memset(&tr, 0, sizeof tr);
	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof *rep);
	int rc = check_inputs(m, train, val, o, err);
	if (rc)
		return rc;

	nnp_blas_single_thread();
	size_t batch = o->batch < train->rows ? o->batch : train->rows;
	size_t T = choose_threads(o, batch);
	size_t cap = div_up(batch, T);
	if (val) {
		size_t share = div_up(val->rows, T);
		size_t want = share < TR_EVAL_ROWS ? share : TR_EVAL_ROWS;
		cap = want > cap ? want : cap;
	}
	/* sgemm takes int dimensions: rows x widest must fit. */
	if (cap > nnp_backprop_max_rows(m))
		return nnp_err_set(err, NNP_EUSAGE, "training: batches of %zu rows are too large", cap);
	rep->threads = (unsigned)T;
	if ((rc = trainer_init(&tr, m, o, T, cap, train->rows, err)) != 0)
		goto done;
	if ((rc = nnp_pool_create(&tr.pool, (unsigned)T, 0, err)) != 0)
		goto done;
	/* A saved model maps raw inputs; training works on scaled ones. */
	if (o->model_takes_raw && o->input_scale != 1.0f)
		scale_layer0(m, 1.0f / o->input_scale);
	nnp_mask_apply(m, o->mask);
	tr.total_steps = (uint64_t)o->epochs * (uint64_t)div_up(train->rows, o->batch);
	rc = epoch_loop(&tr, train, val, rep, err);
	/* Fold the scale in on every path, failure included, so that m always
	 * maps raw inputs when we return. */
	if (o->input_scale != 1.0f)
		scale_layer0(m, o->input_scale);
done:
	trainer_free(&tr);
	rep->seconds = now_sec() - t_run;
	return rc;
}
