/* The provenance a pruned model records: where it came from, how it was
 * pruned, on which calibration rows, and what was kept. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cJSON.h>

#include "nnprune/criteria.h"
#include "nnprune/pipeline.h"

void nnp_prov_init(nnp_prov *p)
{
	memset(p, 0, sizeof *p);
	p->lambda_rel = NAN;
	p->mean_thr = p->std_thr = NAN;
	p->fold = -1;
	p->min_keep = NNP_PROV_NONE;
	p->keep_frac = NAN;
	p->alloc_step = NNP_PROV_NONE;
	p->target_params = NNP_PROV_NONE;
	p->sparsity = NAN;
}

void nnp_prov_candidate(nnp_prov *p, const nnp_candidate *c, double grid_step)
{
	if (c->budget.alloc_step) {
		p->alloc_step = c->budget.alloc_step - 1;
		p->grid_step = grid_step;
	}
	if (c->kind == NNP_CAND_SPARSE) {
		p->sparsity = c->sparse.share;
		p->sparse_scope = nnp_mag_scope_name(c->sparse.scope);
		p->sparse_layers = c->sparse.layers;
		p->n_sparse_layers = c->sparse.n_layers;
	}
}

static void add_crc(cJSON *o, const char *key, uint32_t crc)
{
	char buf[9];
	snprintf(buf, sizeof buf, "%08x", (unsigned)crc);
	cJSON_AddStringToObject(o, key, buf);
}

static void add_budget(cJSON *o, const nnp_prov *p)
{
	if (isnan(p->keep_frac) && !p->widths && p->alloc_step == NNP_PROV_NONE &&
	    p->target_params == NNP_PROV_NONE && isnan(p->sparsity))
		return;
	cJSON *b = cJSON_AddObjectToObject(o, "budget");
	if (!isnan(p->sparsity)) {
		cJSON_AddNumberToObject(b, "sparsity", p->sparsity);
		if (p->sparse_scope)
			cJSON_AddStringToObject(b, "scope", p->sparse_scope);
		if (p->sparse_layers) {
			cJSON *a = cJSON_AddArrayToObject(b, "layer_sparsity");
			for (size_t l = 0; a && l < p->n_sparse_layers; l++)
				cJSON_AddItemToArray(a, cJSON_CreateNumber(p->sparse_layers[l]));
		}
	}
	if (!isnan(p->keep_frac))
		cJSON_AddNumberToObject(b, "keep", p->keep_frac);
	if (p->widths) {
		cJSON *w = cJSON_AddArrayToObject(b, "widths");
		for (size_t l = 0; w && l < p->n_widths; l++)
			cJSON_AddItemToArray(w, cJSON_CreateNumber((double)p->widths[l]));
	}
	if (p->target_params != NNP_PROV_NONE) {
		cJSON_AddNumberToObject(b, "target_params", (double)p->target_params);
		if (p->target_text)
			cJSON_AddStringToObject(b, "target", p->target_text);
	}
	if (p->alloc_step != NNP_PROV_NONE) {
		/* 1-based, as the report numbers the path's steps. */
		cJSON_AddNumberToObject(b, "allocation_step", (double)p->alloc_step + 1);
		cJSON_AddNumberToObject(b, "grid_step", p->grid_step);
	}
}

char *nnp_provenance_prune(const nnp_prov *p)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "tool", "nnprune " NNP_VERSION);
	cJSON_AddStringToObject(o, "operation", "prune");
	cJSON_AddStringToObject(o, "method", p->method);
	if (p->compensate)
		cJSON_AddStringToObject(o, "compensate", p->compensate);
	if (!isnan(p->lambda_rel))
		cJSON_AddNumberToObject(o, "lambda_rel", p->lambda_rel);
	cJSON *s = cJSON_AddObjectToObject(o, "source");
	cJSON_AddStringToObject(s, "path", p->src_path);
	add_crc(s, "crc32", p->src_crc);
	if (p->calib) {
		cJSON *c = cJSON_AddObjectToObject(o, "calibration");
		cJSON_AddStringToObject(c, "path", p->calib->path);
		cJSON_AddNumberToObject(c, "bytes", (double)p->calib->bytes);
		add_crc(c, "crc32", p->calib->crc32);
		cJSON_AddNumberToObject(c, "rows", (double)p->calib->rows);
		if (p->calib->max_rows)
			cJSON_AddNumberToObject(c, "max_rows", (double)p->calib->max_rows);
	}
	if (!isnan(p->mean_thr)) {
		cJSON *t = cJSON_AddObjectToObject(o, "thresholds");
		cJSON_AddNumberToObject(t, "mean", p->mean_thr);
		cJSON_AddNumberToObject(t, "std", p->std_thr);
	}
	add_budget(o, p);
	if (p->fold >= 0)
		cJSON_AddBoolToObject(o, "fold", p->fold);
	if (p->min_keep != NNP_PROV_NONE)
		cJSON_AddNumberToObject(o, "min_keep", (double)p->min_keep);
	cJSON *kept = cJSON_AddArrayToObject(o, "kept");
	for (size_t l = 0; p->kept && l < p->kept->n_layers; l++) {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; i < p->kept->count[l]; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber((double)p->kept->idx[l][i]));
		cJSON_AddItemToArray(kept, a);
	}
	if (p->src && p->src->provenance) {
		cJSON *prev = cJSON_Parse(p->src->provenance);
		if (prev)
			cJSON_AddItemToObject(o, "previous", prev);
	}
	char *txt = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return txt;
}
