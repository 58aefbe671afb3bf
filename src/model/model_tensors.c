/*
 * Named weight tensors (from safetensors, npz or npy) to a model: the rules
 * of a PyTorch state dict or Keras weight list.
 *
 * - `P.weight` [out][in] and `P.bias` [out] (PyTorch's nn.Linear), `P.kernel`
 *   [in][out] (Keras); `P.weight_orig` x `P.weight_mask` (torch.nn.utils.prune,
 *   the same for the bias); positional `arr_0, arr_1, ...` as W0, b0, W1, ...
 * - Layers in the numeric-aware order of their prefixes (`2` before `10`,
 *   `fc2` before `fc10`), confirmed by the shapes chaining.
 * - Anything else (BatchNorm statistics, convolutions, stray arrays) is
 *   refused by name.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_priv.h"
#include "mem.h"

void nnpm_tensors_free(nnpm_tensor *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		free(t[i].name);
		free(t[i].data);
	}
	free(t);
}

/* Numeric-aware comparison: runs of digits compare as numbers. */
static int natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			while (*a == '0' && isdigit((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdigit((unsigned char)b[1]))
				b++;
			size_t la = 0, lb = 0;
			while (isdigit((unsigned char)a[la]))
				la++;
			while (isdigit((unsigned char)b[lb]))
				lb++;
			if (la != lb)
				return la < lb ? -1 : 1;
			int c = strncmp(a, b, la);
			if (c)
				return c;
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

enum { R_WEIGHT, R_BIAS, R_WORIG, R_WMASK, R_BORIG, R_BMASK, R_KERNEL, R_COUNT };
static const char *const role_suffix[R_COUNT] = {
	".weight", ".bias", ".weight_orig", ".weight_mask", ".bias_orig", ".bias_mask", ".kernel"
};

typedef struct layer_parts {
	char *prefix;
	const nnpm_tensor *t[R_COUNT];
} layer_parts;

static int cmp_parts(const void *a, const void *b)
{
	return natural_cmp(((const layer_parts *)a)->prefix, ((const layer_parts *)b)->prefix);
}

static int ends_with(const char *s, const char *suf, size_t *cut)
{
	size_t n = strlen(s), k = strlen(suf);
	if (n <= k || strcmp(s + n - k, suf))
		return 0;
	*cut = n - k;
	return 1;
}

/* "arr_12" -> 12; -1 otherwise. */
static long positional(const char *name)
{
	if (strncmp(name, "arr_", 4) || !isdigit((unsigned char)name[4]))
		return -1;
	char *end;
	long v = strtol(name + 4, &end, 10);
	return *end || v < 0 || v > 100000 ? -1 : v;
}

static int is_batchnorm(const char *name)
{
	return strstr(name, "running_mean") || strstr(name, "running_var") ||
	       strstr(name, "num_batches_tracked");
}

/* Groups the tensors into layers; positional arrays pair up W, b, W, b. */
static int group(const nnpm_tensor *t, size_t n, layer_parts **out, size_t *n_out,
                 int *is_positional, const char *label, nnp_err *err)
{
	layer_parts *lp = calloc(n ? n : 1, sizeof *lp);
	size_t k = 0;
	long n_pos = 0;
	int rc = NNP_OK;
	if (!lp)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	for (size_t i = 0; i < n; i++)
		n_pos += positional(t[i].name) >= 0;
	*is_positional = n_pos > 0;
	if (n_pos && (size_t)n_pos != n) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: a mix of positional arrays (arr_N) and named "
		                 "tensors: cannot tell which is which", label);
		goto fail;
	}
	if (n_pos) {
		if (n % 2) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: %zu positional arrays: expected pairs "
			                 "(weights, bias) per layer", label, n);
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			long p = positional(t[i].name);
			if ((size_t)p >= n) {
				rc = nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%s\": arrays must be numbered "
				                 "arr_0 to arr_%zu without gaps", label, t[i].name, n - 1);
				goto fail;
			}
			lp[p / 2].t[p % 2 ? R_BIAS : R_WEIGHT] = &t[i];
		}
		k = n / 2;
		for (size_t l = 0; l < k; l++)
			if (!lp[l].t[R_WEIGHT] || !lp[l].t[R_BIAS]) {
				rc = nnp_err_set(err, NNP_EINPUT, "%s: arr_%zu and arr_%zu: arrays must be "
				                 "numbered without gaps or repeats", label, 2 * l, 2 * l + 1);
				goto fail;
			}
		*out = lp;
		*n_out = k;
		return NNP_OK;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = t[i].name;
		if (is_batchnorm(name)) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%s\": BatchNorm statistics: fold "
			                 "the BatchNorm into the Linear layers before exporting (nnprune "
			                 "reads dense layers only)", label, name);
			goto fail;
		}
		size_t cut = 0;
		int role = -1;
		for (int r = 0; r < R_COUNT && role < 0; r++)
			if (ends_with(name, role_suffix[r], &cut))
				role = r;
		if (role < 0 && (!strcmp(name, "weight") || !strcmp(name, "bias") ||
		                 !strcmp(name, "kernel"))) {
			role = name[0] == 'w' ? R_WEIGHT : name[0] == 'b' ? R_BIAS : R_KERNEL;
			cut = 0;
		}
		if (role < 0) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%s\": not a dense layer's weight "
			                 "or bias (expected names like 0.weight, fc1.bias, "
			                 "dense.kernel, layer.weight_orig/_mask or arr_0, arr_1, ...)",
			                 label, name);
			goto fail;
		}
		size_t l = 0;
		while (l < k && (strlen(lp[l].prefix) != cut || strncmp(lp[l].prefix, name, cut)))
			l++;
		if (l == k) {
			lp[k].prefix = malloc(cut + 1);
			if (!lp[k].prefix) {
				rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
				goto fail;
			}
			memcpy(lp[k].prefix, name, cut);
			lp[k].prefix[cut] = '\0';
			k++;
		}
		if (lp[l].t[role]) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%s\" appears twice", label, name);
			goto fail;
		}
		lp[l].t[role] = &t[i];
	}
	qsort(lp, k, sizeof *lp, cmp_parts);
	*out = lp;
	*n_out = k;
	return NNP_OK;
fail:
	for (size_t l = 0; l < n; l++)
		free(lp[l].prefix);
	free(lp);
	return rc;
}

/* One layer's weight: its tensors, orientation and shape. */
typedef struct layer_w {
	const nnpm_tensor *w, *wmask, *b, *bmask;
	int transposed;      /* stored [in][out] */
	size_t in, out;
} layer_w;

static const char *lname(const layer_parts *p, const layer_w *lw)
{
	return p->prefix ? p->prefix : lw->w->name;
}

static int pick(const layer_parts *p, size_t l, nnp_layout layout, int positional,
                layer_w *lw, const char *label, nnp_err *err)
{
	memset(lw, 0, sizeof *lw);
	const nnpm_tensor *const *t = p->t;
	int n_w = !!t[R_WEIGHT] + !!t[R_WORIG] + !!t[R_KERNEL];
	if (n_w != 1 || (!!t[R_WORIG] != !!t[R_WMASK]) || (!!t[R_BORIG] != !!t[R_BMASK]) ||
	    (t[R_BIAS] && t[R_BORIG]) || (t[R_WMASK] && !t[R_WORIG]))
		return nnp_err_set(err, NNP_EINPUT, "%s: layer %zu (\"%s\"): expected one weight "
		                   "(weight, kernel, or weight_orig with weight_mask) and at most one "
		                   "bias", label, l, p->prefix ? p->prefix : "?");
	lw->w = t[R_WEIGHT] ? t[R_WEIGHT] : t[R_WORIG] ? t[R_WORIG] : t[R_KERNEL];
	lw->wmask = t[R_WMASK];
	lw->b = t[R_BIAS] ? t[R_BIAS] : t[R_BORIG];
	lw->bmask = t[R_BMASK];
	if (lw->w->ndim != 2)
		return nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%s\": a dense layer's weight must "
		                   "have 2 dimensions (it has %zu)", label, lw->w->name, lw->w->ndim);
	if (lw->wmask && (lw->wmask->ndim != 2 || lw->wmask->shape[0] != lw->w->shape[0] ||
	                  lw->wmask->shape[1] != lw->w->shape[1]))
		return nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%s\": the mask's shape differs from "
		                   "\"%s\"", label, lw->wmask->name, lw->w->name);
	lw->transposed = t[R_KERNEL] != NULL;
	if (layout == NNP_LAYOUT_IN_OUT)
		lw->transposed = 1;
	else if (layout == NNP_LAYOUT_OUT_IN)
		lw->transposed = 0;
	else if (positional)
		return nnp_err_set(err, NNP_EUSAGE, "%s: positional arrays (arr_0, arr_1, ...) do "
		                   "not say how weights are laid out: give --layout out-in "
		                   "(PyTorch's [out][in]) or --layout in-out (Keras' [in][out])",
		                   label);
	lw->out = (size_t)lw->w->shape[lw->transposed ? 1 : 0];
	lw->in = (size_t)lw->w->shape[lw->transposed ? 0 : 1];
	if (lw->b) {
		if (lw->b->ndim != 1 || lw->b->shape[0] != lw->out)
			return nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%s\": bias of %s elements for "
			                   "a layer of %zu outputs", label, lw->b->name,
			                   lw->b->ndim == 1 ? "a different number of" : "not 1-D",
			                   lw->out);
		if (lw->bmask && (lw->bmask->ndim != 1 || lw->bmask->shape[0] != lw->out))
			return nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%s\": the mask's shape differs "
			                   "from the bias", label, lw->bmask->name);
	}
	(void)lname;
	return NNP_OK;
}

/* The order of the names must chain; if it does not, say whether transposing
 * or another order would, so the message names the fix. */
static int check_chain(const layer_parts *lp, const layer_w *lw, size_t n, nnp_layout layout,
                       const char *label, nnp_err *err)
{
	for (size_t l = 1; l < n; l++) {
		if (lw[l].in == lw[l - 1].out)
			continue;
		int t_ok = 1;
		for (size_t k = 1; k < n; k++)
			t_ok &= lw[k].out == lw[k - 1].in;
		if (t_ok && layout == NNP_LAYOUT_AUTO)
			return nnp_err_set(err, NNP_EUSAGE, "%s: the weights look transposed ([in][out], "
			                   "Keras style): \"%s\" is %zux%zu and \"%s\" %zux%zu chain only "
			                   "that way; give --layout in-out", label, lw[l - 1].w->name,
			                   lw[l - 1].out, lw[l - 1].in, lw[l].w->name, lw[l].out,
			                   lw[l].in);
		return nnp_err_set(err, NNP_EINPUT, "%s: layers %zu (\"%s\", %zu outputs) and %zu "
		                   "(\"%s\", %zu inputs) do not chain: the order of the names (%s, "
		                   "%s) cannot be the order of the layers", label, l - 1,
		                   lw[l - 1].w->name, lw[l - 1].out, l, lw[l].w->name, lw[l].in,
		                   lp[l - 1].prefix ? lp[l - 1].prefix : "?",
		                   lp[l].prefix ? lp[l].prefix : "?");
	}
	return NNP_OK;
}

static void fill(nnp_layer *L, const layer_w *lw)
{
	const float *w = lw->w->data, *mk = lw->wmask ? lw->wmask->data : NULL;
	for (size_t o = 0; o < lw->out; o++)
		for (size_t i = 0; i < lw->in; i++) {
			size_t k = lw->transposed ? i * lw->out + o : o * lw->in + i;
			L->w[o * lw->in + i] = mk ? w[k] * mk[k] : w[k];
		}
	for (size_t o = 0; lw->b && o < lw->out; o++)
		L->b[o] = lw->bmask ? lw->b->data[o] * lw->bmask->data[o] : lw->b->data[o];
}

int nnpm_model_from_tensors(nnp_model **out, const nnpm_tensor *t, size_t n,
                            const nnpm_acts *acts_in, const nnp_import_opts *o, int *assumed,
                            const char *label, nnp_err *err)
{
	layer_parts *lp = NULL;
	layer_w *lw = NULL;
	size_t L = 0, *sizes = NULL;
	nnp_act *acts = NULL;
	float *alphas = NULL;
	nnp_model *m = NULL;
	int positional = 0, logits = 0;
	*out = NULL;
	if (n == 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: no tensors in the file", label);
	int rc = group(t, n, &lp, &L, &positional, label, err);
	if (rc)
		return rc;
	if (L > NNP_MAX_LAYERS) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: %zu layers (at most %u)", label, L,
		                 NNP_MAX_LAYERS);
		goto done;
	}
	lw = calloc(L, sizeof *lw);
	sizes = calloc(L, sizeof *sizes);
	acts = calloc(L, sizeof *acts);
	alphas = calloc(L, sizeof *alphas);
	if (!lw || !sizes || !acts || !alphas) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
		goto done;
	}
	uint64_t params = 0;
	for (size_t l = 0; l < L && !rc; l++) {
		rc = pick(&lp[l], l, o ? o->layout : NNP_LAYOUT_AUTO, positional, &lw[l], label, err);
		if (rc)
			break;
		if (lw[l].in < 1 || lw[l].in > NNP_MAX_WIDTH || lw[l].out < 1 ||
		    lw[l].out > NNP_MAX_WIDTH)
			rc = nnp_err_set(err, NNP_EINPUT, "%s: tensor \"%s\": %zux%zu is out of range "
			                 "(1 to %u per side)", label, lw[l].w->name, lw[l].out, lw[l].in,
			                 NNP_MAX_WIDTH);
		params += (uint64_t)lw[l].in * lw[l].out + lw[l].out;
		sizes[l] = lw[l].out;
	}
	if (!rc && params > NNP_MAX_PARAMS)
		rc = nnp_err_set(err, NNP_EINPUT, "%s: %llu parameters, over the limit of %zu", label,
		                 (unsigned long long)params, NNP_MAX_PARAMS);
	if (!rc)
		rc = check_chain(lp, lw, L, o ? o->layout : NNP_LAYOUT_AUTO, label, err);
	if (!rc)
		rc = nnpm_resolve_acts(acts_in, o, L, acts, alphas, &logits, assumed, label, err);
	if (rc)
		goto done;
	if (nnpm_alloc(&m, lw[0].in, L, sizes, acts)) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory for the weights", label);
		goto done;
	}
	for (size_t l = 0; l < L; l++) {
		fill(&m->layers[l], &lw[l]);
		m->layers[l].alpha = alphas[l];
	}
	m->logits = logits;
	*out = m;
	m = NULL;
done:
	nnp_model_free(m);
	for (size_t l = 0; l < L; l++)
		free(lp[l].prefix);
	NNP_FREE_ALL(lp, lw, sizes, acts, alphas);
	return rc;
}

/* ---- activations ---- */

/* "relu", "leaky_relu=0.2", "logits" (last only). */
static int parse_one(const char *s, size_t len, nnp_act *a, float *alpha, int *logits)
{
	char buf[48];
	if (len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*alpha = 0.0f;
	*logits = 0;
	char *eq = strchr(buf, '=');
	if (eq)
		*eq = '\0';
	if (!strcmp(buf, "logits")) {
		*a = NNP_ACT_LINEAR;
		*logits = 1;
	} else if (nnp_act_parse(buf, a)) {
		return -1;
	}
	if (*a == NNP_ACT_LEAKY_RELU)
		*alpha = NNP_LEAKY_DEFAULT_ALPHA;
	if (eq) {
		char *end;
		double v = strtod(eq + 1, &end);
		if (*a != NNP_ACT_LEAKY_RELU || *end || end == eq + 1 || !isfinite(v))
			return -1;
		*alpha = (float)v;
	}
	return 0;
}

int nnpm_parse_acts(const char *list, nnpm_acts *out)
{
	memset(out, 0, sizeof *out);
	size_t n = 0;
	const char *p = list;
	for (;;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (n >= NNPM_MAX_ACTS)
			return -1;
		int lg = 0;
		if (parse_one(p, len, &out->act[n], &out->alpha[n], &lg))
			return -1;
		if (lg && c)
			return -1;  /* logits only last */
		out->logits = lg;
		n++;
		if (!c)
			break;
		p = c + 1;
	}
	out->n = n;
	out->given = 1;
	return 0;
}

int nnpm_resolve_acts(const nnpm_acts *file, const nnp_import_opts *o, size_t L, nnp_act *acts,
                      float *alphas, int *logits, int *assumed, const char *label, nnp_err *err)
{
	*assumed = 0;
	nnpm_acts given;
	const nnpm_acts *src = NULL;
	if (o && o->activations) {
		if (nnpm_parse_acts(o->activations, &given))
			return nnp_err_set(err, NNP_EUSAGE, "--activations: '%s' is not a list of "
			                   "linear, relu, leaky_relu[=slope], sigmoid, tanh, softmax or "
			                   "logits (logits and softmax last only)", o->activations);
		if (given.n != L)
			return nnp_err_set(err, NNP_EUSAGE, "%s: --activations gives %zu activations "
			                   "for a model of %zu layers", label, given.n, L);
		src = &given;
	} else if (file && file->given) {
		if (file->n != L)
			return nnp_err_set(err, NNP_EINPUT, "%s: the file lists %zu activations for %zu "
			                   "layers", label, file->n, L);
		src = file;
	}
	if (src) {
		for (size_t l = 0; l < L; l++) {
			acts[l] = src->act[l];
			alphas[l] = src->alpha[l];
		}
		*logits = src->logits;
	} else {
		nnpm_acts h, t;
		const char *hidden = o && o->hidden ? o->hidden : "relu";
		const char *output = o && o->output ? o->output : "logits";
		*assumed = !(o && o->hidden) || !(o && o->output);
		if (nnpm_parse_acts(hidden, &h) || h.n != 1 || h.logits ||
		    h.act[0] == NNP_ACT_SOFTMAX)
			return nnp_err_set(err, NNP_EUSAGE, "--hidden: '%s' is not linear, relu, "
			                   "leaky_relu[=slope], sigmoid or tanh", hidden);
		if (nnpm_parse_acts(output, &t) || t.n != 1 || t.act[0] == NNP_ACT_RELU ||
		    t.act[0] == NNP_ACT_LEAKY_RELU)
			return nnp_err_set(err, NNP_EUSAGE, "--output: '%s' is not logits, softmax, "
			                   "sigmoid or linear", output);
		for (size_t l = 0; l < L; l++) {
			acts[l] = l + 1 < L ? h.act[0] : t.act[0];
			alphas[l] = l + 1 < L ? h.alpha[0] : t.alpha[0];
		}
		*logits = t.logits;
	}
	for (size_t l = 0; l + 1 < L; l++)
		if (acts[l] == NNP_ACT_SOFTMAX)
			return nnp_err_set(err, NNP_EUSAGE, "%s: layer %zu: softmax is only allowed on "
			                   "the last layer", label, l);
	return NNP_OK;
}
