/* Unstructured compensation: the surviving weights of a sparse model refit
 * by least squares, layer by layer, front to back, so that every neuron's
 * pre-activation on the calibration rows matches the original's
 * (include/nnprune/method.h, nnp_method_ctx_refit). The statistics, the
 * ridge and the bias are those of the structured compensation ls. */
#include <string.h>

#include "method_priv.h"

static int same_shape(const nnp_model *a, const nnp_model *b)
{
	if (a->n_layers != b->n_layers || a->input_size != b->input_size)
		return 0;
	for (size_t l = 0; l < a->n_layers; l++)
		if (a->layers[l].in != b->layers[l].in || a->layers[l].out != b->layers[l].out)
			return 0;
	return 1;
}

/*
 * The calibration error of output i with weights w[0..k) over inputs
 * kept[0..k) and bias b, up to the variance of z_i (the same for every
 * fit): w'Cw - 2 w'X_i + (b + w.mean - mean(z_i))^2.
 */
static double fit_error(const mth_entry *e, size_t i, const size_t *kept, size_t k,
                        const double *w, double b)
{
	size_t n = e->n, m = e->m;
	double q = 0.0, x = 0.0, mu = b - e->zmean[i];
	for (size_t r = 0; r < k; r++) {
		const double *cr = e->cov + kept[r] * n;
		double s = 0.0;
		for (size_t t = 0; t < k; t++)
			s += cr[kept[t]] * w[t];
		q += w[r] * s;
		x += w[r] * e->cross[kept[r] * m + i];
		mu += w[r] * e->mean[kept[r]];
	}
	return q - 2.0 * x + mu * mu;
}

/*
 * Layer l of c->wl refit on e (its inputs in the network refit so far):
 * each row that lost weights gets the ridge refit over its nonzero weights,
 * unless that would not lower its calibration error (the ridge term can,
 * barely); rows that lost nothing stay as they are.
 */
static int refit_layer(nnp_method_ctx *c, size_t l, const mth_entry *e, nnp_err *err)
{
	const nnp_layer *o = &c->m->layers[l];
	nnp_layer *w = &c->wl[l];
	size_t n = o->in;
	size_t *kept = c->removed;
	for (size_t i = 0; i < o->out; i++) {
		float *row = w->w + i * n;
		if (!memcmp(row, o->w + i * n, n * sizeof *row) && w->b[i] == o->b[i])
			continue;
		size_t k = 0;
		for (size_t j = 0; j < n; j++)
			if (row[j] != 0.0f) {
				c->rw[k] = row[j];
				kept[k++] = j;
			}
		int rc = nnp_mth_ls_fit(c, e, kept, k, i, 1, err);
		if (rc)
			return rc;
		if (fit_error(e, i, kept, k, c->sw, c->bias[0]) >
		    fit_error(e, i, kept, k, c->rw, (double)w->b[i]))
			continue;
		for (size_t r = 0; r < k; r++)
			row[kept[r]] = (float)c->sw[r];
		w->b[i] = (float)c->bias[0];
	}
	return nnp_mth_check_finite(l, w->w, n * o->out, w->b, o->out, err);
}

/* The statistics of layer l's inputs in the network refit so far: the rows
 * (computed once per context), else hidden layer l-1 of c->wl[0..l). */
static int inputs_entry(nnp_method_ctx *c, size_t l, mth_entry **out, nnp_err *err)
{
	mth_entry *e = l == 0 ? &c->in0 : &c->work[l - 1];
	*out = e;
	if (l == 0 && e->valid)
		return NNP_OK;
	e->valid = 0;
	int rc = nnp_mth_pass(c, l == 0 ? MTH_PASS_INPUT : MTH_PASS_WORK, l == 0 ? 0 : l - 1,
	                      NULL, 0, err);
	if (!rc)
		rc = nnp_mth_finalize(c, e, err);
	if (rc)
		e->valid = 0;
	return rc;
}

int nnp_method_ctx_refit(nnp_method_ctx *c, const nnp_model *pruned, nnp_model **out,
                         nnp_err *err)
{
	*out = NULL;
	if (!c->sparse)
		return nnp_err_set(err, NNP_EUSAGE, "method %s removes neurons: the refit of surviving "
		                   "weights belongs to an unstructured method",
		                   nnp_method_name(c->o.method));
	if (!pruned || !same_shape(pruned, c->m))
		return nnp_err_set(err, NNP_EUSAGE, "refit: the sparse model's layers are not the "
		                   "original's");
	for (size_t l = 0; l < c->L; l++) {
		const nnp_layer *p = &pruned->layers[l];
		nnp_layer *w = &c->wl[l];
		w->in = p->in;
		w->out = p->out;
		memcpy(w->w, p->w, p->in * p->out * sizeof *w->w);
		memcpy(w->b, p->b, p->out * sizeof *w->b);
	}
	int rc = NNP_OK;
	for (size_t l = 0; !rc && l < c->L; l++) {
		mth_entry *e;
		rc = inputs_entry(c, l, &e, err);
		if (!rc)
			rc = refit_layer(c, l, e, err);
	}
	nnp_model *r = NULL;
	if (!rc)
		rc = nnp_model_clone(&r, pruned, err);
	for (size_t l = 0; !rc && l < c->L; l++) {
		nnp_layer *d = &r->layers[l];
		memcpy(d->w, c->wl[l].w, d->in * d->out * sizeof *d->w);
		memcpy(d->b, c->wl[l].b, d->out * sizeof *d->b);
	}
	if (!rc)
		*out = r;
	return rc;
}
