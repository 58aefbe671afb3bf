/* Weight magnitude selection: the k smallest |w|, per layer, globally or in
 * every layer but the output one, ties broken by position, in linear time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "scores_priv.h"

#define RADIX 65536u

static uint32_t abs_bits(float v)
{
	uint32_t u;
	memcpy(&u, &v, sizeof u);
	return u & 0x7fffffffu;   /* for finite floats, ordered like |v| */
}

size_t nnp_mag_count(double sparsity, size_t n)
{
	double k = nearbyint(sparsity * (double)n);   /* default rounding: halves to even */
	if (!(k > 0))
		return 0;
	return k >= (double)n ? n : (size_t)k;
}

/* In hist[RADIX] (zeroed by the caller): the 16-bit digit of |w| chosen by
 * `shift` of the weights of layers [l0, l1) whose other half is `high` (any
 * when shift is 16). */
static void histogram(const nnp_model *m, size_t l0, size_t l1, int shift, uint32_t high,
                      size_t *hist)
{
	for (size_t l = l0; l < l1; l++) {
		const nnp_layer *L = &m->layers[l];
		for (size_t i = 0; i < L->in * L->out; i++) {
			uint32_t b = abs_bits(L->w[i]);
			if (shift == 16)
				hist[b >> 16]++;
			else if ((b >> 16) == high)
				hist[b & 0xffffu]++;
		}
	}
}

/* The first digit at which the running count reaches k; *cum = the count
 * below it. */
static uint32_t digit_at(const size_t *hist, size_t k, size_t *cum)
{
	uint32_t d = 0;
	while (d < RADIX - 1 && *cum + hist[d] < k)
		*cum += hist[d++];
	return d;
}

/*
 * Over layers [l0, l1), k >= 1 weights: the smallest T with at least k
 * weights of |w| bits <= T, and *below = the weights with bits < T.
 */
static int threshold(const nnp_model *m, size_t l0, size_t l1, size_t k, uint32_t *T,
                     size_t *below, nnp_err *err)
{
	size_t *hist = calloc(RADIX, sizeof *hist);
	if (!hist)
		return nnp_err_set(err, NNP_ENOMEM, "magnitude selection: out of memory");
	size_t cum = 0;
	histogram(m, l0, l1, 16, 0, hist);
	uint32_t high = digit_at(hist, k, &cum);
	memset(hist, 0, RADIX * sizeof *hist);
	histogram(m, l0, l1, 0, high, hist);
	uint32_t low = digit_at(hist, k, &cum);
	free(hist);
	*T = high << 16 | low;
	*below = cum;
	return NNP_OK;
}

static size_t count_equal(const nnp_layer *L, uint32_t T)
{
	size_t n = 0;
	for (size_t i = 0; i < L->in * L->out; i++)
		n += abs_bits(L->w[i]) == T;
	return n;
}

static int check_share(double s, size_t l, nnp_err *err)
{
	if (s >= 0.0 && s <= 1.0)
		return NNP_OK;
	if (l == (size_t)-1)
		return nnp_err_set(err, NNP_EUSAGE, "magnitude: sparsity %g is outside 0 to 1", s);
	return nnp_err_set(err, NNP_EUSAGE, "magnitude: layer %zu: sparsity %g is outside 0 to 1",
	                   l, s);
}

/* cuts[l] for layer l alone at the given share of its weights (left as
 * zeros when the share rounds to none). */
static int layer_cut(const nnp_model *m, size_t l, double share, nnp_mag_cut *cuts,
                     nnp_err *err)
{
	const nnp_layer *L = &m->layers[l];
	size_t k = nnp_mag_count(share, L->in * L->out), below;
	uint32_t T;
	if (k == 0)
		return NNP_OK;
	int rc = threshold(m, l, l + 1, k, &T, &below, err);
	if (rc)
		return rc;
	cuts[l] = (nnp_mag_cut){ T, k - below, k };
	return NNP_OK;
}

/* Per layer: layer l loses round(share[l] * its weights). */
static int select_layers(const nnp_model *m, const double *share, nnp_mag_cut *cuts,
                         nnp_err *err)
{
	memset(cuts, 0, m->n_layers * sizeof *cuts);
	for (size_t l = 0; l < m->n_layers; l++) {
		int rc = check_share(share[l], l, err);
		if (rc)
			return rc;
	}
	for (size_t l = 0; l < m->n_layers; l++) {
		int rc = layer_cut(m, l, share[l], cuts, err);
		if (rc)
			return rc;
	}
	return NNP_OK;
}

static const char *const scope_names[] = { "layer", "global", "hidden" };
static const nnp_names scopes = NNP_NAMES(scope_names);

const char *nnp_mag_scope_name(int scope)
{
	return nnp_names_of(&scopes, scope);
}

int nnp_mag_scope_parse(const char *name, nnp_mag_scope *out)
{
	int v = nnp_names_find(&scopes, name);
	if (v >= 0)
		*out = (nnp_mag_scope)v;
	return v < 0 ? -1 : 0;
}

int nnp_mag_hidden_share(const nnp_model *m, double s, double *share, nnp_err *err)
{
	*share = 0.0;
	int rc = check_share(s, (size_t)-1, err);
	if (rc)
		return rc;
	if (m->n_layers < 2)
		return nnp_err_set(err, NNP_EUSAGE, "magnitude: hidden scope: the model has no hidden "
		                                    "layer");
	const nnp_layer *out = &m->layers[m->n_layers - 1];
	double all = (double)nnp_model_macs(m), hidden = all - (double)(out->in * out->out);
	double sh = hidden > 0 ? s * all / hidden : s > 0 ? INFINITY : 0.0;
	if (sh > 1.0)
		return nnp_err_set(err, NNP_EUSAGE, "magnitude: hidden scope: sparsity %g is more "
		                   "than the %.4g of the weights outside the output layer", s,
		                   hidden / all);
	*share = sh;
	return NNP_OK;
}

int nnp_mag_select(const nnp_model *m, double sparsity, nnp_mag_scope scope,
                   nnp_mag_cut *cuts, nnp_err *err)
{
	int rc0 = check_share(sparsity, (size_t)-1, err);
	if (rc0)
		return rc0;
	memset(cuts, 0, m->n_layers * sizeof *cuts);
	uint32_t T;
	size_t below;
	if (scope == NNP_MAG_HIDDEN) {
		double sh;
		int rc = nnp_mag_hidden_share(m, sparsity, &sh, err);
		for (size_t l = 0; !rc && l + 1 < m->n_layers; l++)
			rc = layer_cut(m, l, sh, cuts, err);
		return rc;
	}
	if (scope == NNP_MAG_PER_LAYER) {
		for (size_t l = 0; l < m->n_layers; l++) {
			int rc = layer_cut(m, l, sparsity, cuts, err);
			if (rc)
				return rc;
		}
		return NNP_OK;
	}
	size_t total = nnp_model_macs(m), k = nnp_mag_count(sparsity, total);
	if (k == 0)
		return NNP_OK;
	int rc = threshold(m, 0, m->n_layers, k, &T, &below, err);
	if (rc)
		return rc;
	/* The ties go to the earliest layers first: the (layer, row, col) order. */
	size_t ties = k - below;
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		size_t eq = ties ? count_equal(L, T) : 0, t = eq < ties ? eq : ties, lt = 0;
		for (size_t i = 0; i < L->in * L->out; i++)
			lt += abs_bits(L->w[i]) < T;
		cuts[l] = (nnp_mag_cut){ T, t, lt + t };
		ties -= t;
	}
	return NNP_OK;
}

/* Visits a layer in row-major order: marks the selected weights in mask
 * and/or zeroes them in `zero` (either may be NULL); returns how many. */
static size_t walk(const nnp_layer *L, const nnp_mag_cut *cut, unsigned char *mask,
                   float *zero)
{
	size_t ties = cut->ties, n = 0;
	if (cut->count == 0)
		return 0;
	for (size_t i = 0; i < L->in * L->out; i++) {
		uint32_t b = abs_bits(L->w[i]);
		int sel = b < cut->bits || (b == cut->bits && ties > 0);
		if (!sel)
			continue;
		if (b == cut->bits)
			ties--;
		if (mask)
			mask[i] = 1;
		if (zero)
			zero[i] = 0.0f;
		n++;
	}
	return n;
}

void nnp_mag_mark(const nnp_layer *L, const nnp_mag_cut *cut, unsigned char *mask)
{
	memset(mask, 0, L->in * L->out);
	walk(L, cut, mask, NULL);
}

size_t nnp_mag_apply(nnp_model *m, const nnp_mag_cut *cuts)
{
	size_t n = 0;
	for (size_t l = 0; l < m->n_layers; l++)
		n += walk(&m->layers[l], &cuts[l], NULL, m->layers[l].w);
	return n;
}

int nnp_prune_magnitude(const nnp_model *m, const double *sparsity, size_t n_sparsity,
                        nnp_mag_scope scope, nnp_model **out, size_t *removed, nnp_err *err)
{
	*out = NULL;
	if (removed)
		*removed = 0;
	if (!nnp_mag_scope_name(scope))
		return nnp_err_set(err, NNP_EUSAGE, "magnitude: scope %d: expected per layer, global "
		                   "or hidden", (int)scope);
	if (n_sparsity != 1 && (n_sparsity != m->n_layers || scope != NNP_MAG_PER_LAYER))
		return nnp_err_set(err, NNP_EUSAGE,
		                   "magnitude: %zu sparsities for %zu layers: give one%s", n_sparsity,
		                   m->n_layers, scope != NNP_MAG_PER_LAYER ? " (global or hidden "
		                                                             "scope)"
		                                                           : " or one per layer");
	nnp_mag_cut *cuts = calloc(m->n_layers, sizeof *cuts);
	if (!cuts)
		return nnp_err_set(err, NNP_ENOMEM, "magnitude: out of memory");
	int rc = n_sparsity == 1 ? nnp_mag_select(m, sparsity[0], scope, cuts, err)
	                         : select_layers(m, sparsity, cuts, err);
	nnp_model *p = NULL;
	if (!rc)
		rc = nnp_model_clone(&p, m, err);
	if (!rc) {
		size_t n = nnp_mag_apply(p, cuts);
		if (removed)
			*removed = n;
		*out = p;
	}
	free(cuts);
	return rc;
}
