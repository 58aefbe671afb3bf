/*
 * What the threshold sweep (sweep.c) and the evaluation of built models
 * (sweep_models.c) do the same way: checks, duplicate kept sets, the merging
 * of block slots and the figures and Pareto flags of the candidates.
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#include "nnprune/prune.h"
#include "nnprune/rows.h"
#include "sweep_priv.h"

int nnp_sweep_mul_ok(size_t a, size_t b, size_t *out)
{
	if (a && b > SIZE_MAX / a)
		return 0;
	*out = a * b;
	return 1;
}

/* A label with no output would score as "wrong" silently: refuse it, as
 * nnp_run does. first_row numbers the rows in messages. */
int nnp_sweep_each_chunk(const nnp_model *m, const nnp_dataset *d, const char *path,
                         const nnp_data_opts *dopts, size_t chunk_rows,
                         void (*chunk)(void *ctx, const float *x, const int32_t *y, size_t rows),
                         void *ctx, nnp_err *err)
{
	size_t F = m->input_size;
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	if (dopts)
		o = *dopts;
	o.expect_features = F;
	nnp_rows_spec sp = { 0 };
	sp.data = d;
	sp.path = path;
	sp.opts = &o;
	sp.chunk_rows = chunk_rows;
	sp.labels = 1;
	sp.outputs = nnp_model_outputs(m);
	nnp_rows *src = NULL;
	int rc = nnp_rows_open(&src, &sp, err);
	if (rc)
		return rc;
	if (nnp_rows_features(src) != F) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: %zu features, the model expects %zu",
		                 path ? path : "data", nnp_rows_features(src), F);
		goto done;
	}
	uint64_t total = 0;
	for (;;) {
		nnp_chunk c;
		if ((rc = nnp_rows_next(src, &c, err)) || c.rows == 0)
			break;
		chunk(ctx, c.x, c.y, c.rows);
		total += c.rows;
	}
	if (!rc && total == 0)
		rc = nnp_err_set(err, NNP_EINPUT, "%s: no data rows", path ? path : "data");
done:
	nnp_rows_free(src);
	return rc;
}

/* ---- duplicates ------------------------------------------------------- */

static uint64_t keep_hash(const nnp_keep *k)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t l = 0; l < k->n_layers; l++) {
		h = (h ^ k->count[l]) * 1099511628211ULL;
		for (size_t i = 0; i < k->count[l]; i++)
			h = (h ^ k->idx[l][i]) * 1099511628211ULL;
	}
	return h;
}

int nnp_sweep_find_dups(nnp_candidate *c, size_t n, size_t *n_unique)
{
	size_t cap = 16, uniq = 0;
	while (cap < 2 * n && cap <= SIZE_MAX / 4)
		cap *= 2;
	size_t *tab = malloc(cap * sizeof *tab);
	uint64_t *hash = malloc((n ? n : 1) * sizeof *hash);
	if (!tab || !hash || cap < 2 * n) {
		free(tab);
		free(hash);
		return NNP_ENOMEM;
	}
	for (size_t i = 0; i < cap; i++)
		tab[i] = NNP_NO_DUP;
	/* Open addressing on the kept set's hash: equal sets meet for sure, and
	 * nnp_keep_equal settles an unequal collision. */
	for (size_t i = 0; i < n; i++) {
		hash[i] = keep_hash(c[i].keep);
		size_t slot = (size_t)hash[i] & (cap - 1);
		c[i].same_as = NNP_NO_DUP;
		while (tab[slot] != NNP_NO_DUP) {
			size_t e = tab[slot];
			if (hash[e] == hash[i] && nnp_keep_equal(c[e].keep, c[i].keep)) {
				c[i].same_as = e;
				break;
			}
			slot = (slot + 1) & (cap - 1);
		}
		if (c[i].same_as == NNP_NO_DUP) {
			tab[slot] = i;
			uniq++;
		}
	}
	free(tab);
	free(hash);
	if (n_unique)
		*n_unique = uniq;
	return NNP_OK;
}

/* ---- results ---------------------------------------------------------- */

void nnp_sweep_chunk_set(nnp_sweep_chunk *ch, const float *x, const int32_t *y, size_t rows)
{
	ch->x = x;
	ch->y = y;
	ch->rows = rows;
	ch->nblocks = (rows + ch->block - 1) / ch->block;
}

size_t nnp_sweep_chunk_rows(const nnp_sweep_chunk *ch, size_t b)
{
	size_t r0 = b * ch->block;
	return ch->rows - r0 < ch->block ? ch->rows - r0 : ch->block;
}

void nnp_sweep_merge_slots(nnp_sweep_slot *tot, const nnp_sweep_slot *slots, size_t n_models,
                           size_t chunk_blocks, size_t nblocks)
{
	for (size_t u = 0; u < n_models; u++)
		for (size_t b = 0; b < nblocks; b++) {
			const nnp_sweep_slot *sl = &slots[u * chunk_blocks + b];
			nnp_metrics_merge(&tot[u].mt, &sl->mt);
			tot[u].agree += sl->agree;
		}
}

size_t nnp_candidate_size(const nnp_candidate *c)
{
	return c->kind == NNP_CAND_SPARSE && c->live_params ? c->live_params : c->params;
}

static double reduction(size_t params0, size_t size)
{
	return params0 ? 100.0 * ((double)params0 - (double)size) / (double)params0 : 0.0;
}

void nnp_candidate_set_live(nnp_candidate *c, const nnp_model *p, size_t params0)
{
	if (c->kind != NNP_CAND_SPARSE)
		return;
	size_t weights = 0;
	for (size_t l = 0; l < p->n_layers; l++)
		weights += p->layers[l].in * p->layers[l].out;
	c->nonzeros = nnp_model_nonzeros(p);
	c->live_params = nnp_model_params(p) - (weights - c->nonzeros);
	c->reduction = reduction(params0, c->live_params);
}

void nnp_candidate_shares_text(char *buf, size_t size, const nnp_candidate *c, char sep)
{
	size_t len = 0;
	if (size)
		buf[0] = '\0';
	if (c->kind != NNP_CAND_SPARSE)
		return;
	if (!c->sparse.layers) {
		snprintf(buf, size, "%g", c->sparse.share);
		return;
	}
	for (size_t l = 0; l < c->sparse.n_layers && len < size; l++) {
		int w = l ? snprintf(buf + len, size - len, "%c%g", sep, c->sparse.layers[l])
		          : snprintf(buf + len, size - len, "%g", c->sparse.layers[l]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

void nnp_sweep_set_sizes(nnp_candidate *c, const nnp_model *p)
{
	c->params = nnp_model_params(p);
	c->macs = nnp_model_macs(p);
	c->bytes = c->params * sizeof(float);
	nnp_candidate_set_live(c, p, 0);
}

/* The drop is computed from the correct counts, so that e.g. 95 vs 94
 * correct of 100 is exactly 1 point. The reduction subtracts in double: a
 * built model may be larger than the original. */
void nnp_sweep_set_scores(nnp_candidate *c, const nnp_sweep_slot *t, const nnp_metrics *orig,
                          size_t params0)
{
	c->accuracy = nnp_metrics_accuracy(&t->mt);
	c->loss = nnp_metrics_loss(&t->mt);
	c->agreement = t->mt.rows ? (double)t->agree / (double)t->mt.rows : 0.0;
	c->accuracy_drop = orig->labelled
	                   ? 100.0 * ((double)orig->correct - (double)t->mt.correct) /
	                     (double)orig->labelled
	                   : 0.0;
	c->reduction = reduction(params0, nnp_candidate_size(c));
}

typedef struct sweep_pt {
	size_t params;
	double acc;
	nnp_candidate *c;
} sweep_pt;

/* By params, then accuracy descending. Equal points get equal flags, so
 * their order does not matter. */
static int pt_cmp(const void *pa, const void *pb)
{
	const sweep_pt *a = pa, *b = pb;
	if (a->params != b->params)
		return a->params < b->params ? -1 : 1;
	return (a->acc < b->acc) - (a->acc > b->acc);
}

/* In order of params, a point is Pareto iff it is the most accurate among
 * its equals and beats everything strictly smaller. */
int nnp_sweep_mark_pareto(nnp_candidate *orig, nnp_candidate *c, size_t n, const char *who,
                          nnp_err *err)
{
	size_t distinct = 0;
	for (size_t i = 0; i < n; i++)
		distinct += c[i].same_as == NNP_NO_DUP;
	sweep_pt *pt = malloc((distinct + 1) * sizeof *pt);
	if (!pt)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", who);
	size_t np = 0;
	pt[np++] = (sweep_pt){ nnp_candidate_size(orig), orig->accuracy, orig };
	for (size_t i = 0; i < n; i++)
		if (c[i].same_as == NNP_NO_DUP)
			pt[np++] = (sweep_pt){ nnp_candidate_size(&c[i]), c[i].accuracy, &c[i] };
	qsort(pt, np, sizeof *pt, pt_cmp);
	double best_smaller = -INFINITY;
	for (size_t i = 0; i < np;) {
		size_t j = i;
		double group_best = pt[i].acc;  /* sorted: the first is the best */
		for (; j < np && pt[j].params == pt[i].params; j++)
			pt[j].c->pareto = pt[j].acc == group_best && pt[j].acc > best_smaller;
		if (group_best > best_smaller)
			best_smaller = group_best;
		i = j;
	}
	free(pt);
	return NNP_OK;
}

void nnp_sweep_copy_dups(nnp_candidate *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c[i].same_as == NNP_NO_DUP)
			continue;
		const nnp_candidate *f = &c[c[i].same_as];
		c[i].params = f->params;
		c[i].live_params = f->live_params;
		c[i].bytes = f->bytes;
		c[i].macs = f->macs;
		c[i].accuracy = f->accuracy;
		c[i].loss = f->loss;
		c[i].agreement = f->agreement;
		c[i].accuracy_drop = f->accuracy_drop;
		c[i].reduction = f->reduction;
		c[i].pareto = 0;   /* a duplicate is never a Pareto point of its own */
	}
}
