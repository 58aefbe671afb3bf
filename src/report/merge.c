/* The partial reports of a sharded sweep combined into one run's report. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "nnprune/merge.h"
#include "nnprune/prune.h"
#include "nnprune/sweep.h"

/* Everything a part holds besides its own candidates, shard index and
 * manifest: all of it must be equal in every part. */
static const char *const same_fields[] = {
	"tool", "model", "data", "statistics", "fold", "min_keep", "method", "compensate",
	"lambda_rel", "calibration", "layers", "candidates_total", "original", "gates", "finetune",
	"write"
};

static cJSON *read_json(const char *path, nnp_err *err)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		nnp_err_set(err, NNP_EINPUT, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, len = 0, got;
	char *text = malloc(cap + 1);
	while (text && (got = fread(text + len, 1, cap - len, fp)) > 0) {
		len += got;
		if (len == cap) {
			char *t = cap >= ((size_t)1 << 30) ? NULL : realloc(text, 2 * cap + 1);
			if (!t) {
				free(text);
				text = NULL;
				break;
			}
			text = t;
			cap *= 2;
		}
	}
	int bad = ferror(fp);
	fclose(fp);
	if (!text || bad) {
		free(text);
		nnp_err_set(err, NNP_EINPUT, "%s: %s", path, bad ? "read error" : "too large");
		return NULL;
	}
	text[len] = '\0';
	cJSON *j = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "format");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version");
	if (!j || !cJSON_IsString(f) || strcmp(f->valuestring, "nnprune-report") != 0) {
		nnp_err_set(err, NNP_EINPUT, "%s: not a report.json of nnprune (format "
		            "\"nnprune-report\")", path);
		cJSON_Delete(j);
		return NULL;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != NNP_REPORT_JSON_VERSION) {
		nnp_err_set(err, NNP_EINPUT, "%s: report version %g; merging needs version %d (run "
		            "the sweep again with this nnprune)", path,
		            cJSON_IsNumber(v) ? v->valuedouble : -1.0, NNP_REPORT_JSON_VERSION);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

int nnp_report_stats_path(const char *report_path, char **path, nnp_err *err)
{
	*path = NULL;
	cJSON *j = read_json(report_path, err);
	if (!j)
		return err->status;
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "statistics"), "path");
	int rc = NNP_OK;
	if (cJSON_IsString(p) && !(*path = strdup(p->valuestring)))
		rc = nnp_err_set(err, NNP_ENOMEM, "out of memory");
	cJSON_Delete(j);
	return rc;
}

/* ---- reading one candidate ---- */

typedef struct rd {
	const char *part;
	size_t index;
	nnp_err *err;
	int rc;
} rd;

static const cJSON *item(rd *r, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v && !r->rc)
		r->rc = nnp_err_set(r->err, NNP_EINPUT, "%s: candidate %zu: no \"%s\"", r->part,
		                    r->index, key);
	return v;
}

static double num(rd *r, const cJSON *o, const char *key)
{
	const cJSON *v = item(r, o, key);
	if (cJSON_IsNull(v))
		return NAN;
	if (!cJSON_IsNumber(v)) {
		if (!r->rc)
			r->rc = nnp_err_set(r->err, NNP_EINPUT, "%s: candidate %zu: \"%s\" is not a "
			                    "number", r->part, r->index, key);
		return NAN;
	}
	return v->valuedouble;
}

/* A count; null as 0. */
static uint64_t count(rd *r, const cJSON *o, const char *key)
{
	double x = num(r, o, key);
	if (isnan(x))
		return 0;
	if (x < 0 || x > 9.0e15 || x != floor(x)) {
		if (!r->rc)
			r->rc = nnp_err_set(r->err, NNP_EINPUT, "%s: candidate %zu: \"%s\" is not a "
			                    "count", r->part, r->index, key);
		return 0;
	}
	return (uint64_t)x;
}

static char *str_dup(rd *r, const cJSON *o, const char *key)
{
	const cJSON *v = item(r, o, key);
	if (!cJSON_IsString(v))
		return NULL;
	char *s = strdup(v->valuestring);
	if (!s && !r->rc)
		r->rc = nnp_err_set(r->err, NNP_ENOMEM, "out of memory");
	return s;
}

/* The figures of one model object (the original or a candidate). */
static void read_model(rd *r, const cJSON *o, nnp_candidate *c, uint32_t *crc,
                       const nnp_stats *s)
{
	c->thr.mean = num(r, o, "mean");
	c->thr.std = num(r, o, "std");
	c->same_as = NNP_NO_DUP;
	c->params = (size_t)count(r, o, "params");
	c->nonzeros = (size_t)count(r, o, "nonzeros");
	c->bytes = (size_t)count(r, o, "param_bytes");
	c->file_bytes = count(r, o, "file_bytes");
	c->macs = (size_t)count(r, o, "macs");
	c->accuracy = num(r, o, "accuracy");
	c->accuracy_drop = num(r, o, "accuracy_drop_points");
	c->loss = num(r, o, "loss");
	c->agreement = num(r, o, "agreement");
	c->reduction = num(r, o, "reduction_percent");
	c->floor_hit = cJSON_IsTrue(item(r, o, "floor_hit"));
	c->file = str_dup(r, o, "file");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "budget");
	if (cJSON_IsObject(b) && cJSON_GetObjectItemCaseSensitive(b, "sparsity") && !r->rc)
		/* Its shares are not read back: it would be judged as a structured one. */
		r->rc = nnp_err_set(r->err, NNP_EINPUT, "%s: candidate %zu: a magnitude candidate "
		                    "(sparsity): merging them is not supported", r->part, r->index);
	if (cJSON_IsObject(b)) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(b, "keep");
		c->budget.keep_frac = cJSON_IsNumber(k) ? k->valuedouble : 0;
		c->budget.target_params = cJSON_GetObjectItemCaseSensitive(b, "target_params")
		                          ? (size_t)count(r, b, "target_params") : 0;
		c->budget.alloc_step = cJSON_GetObjectItemCaseSensitive(b, "allocation_step")
		                       ? (size_t)count(r, b, "allocation_step") : 0;
		c->budget.widths = cJSON_GetObjectItemCaseSensitive(b, "widths") != NULL;
	}
	/* What the report wrote: a budget's members, else the rule's pair. */
	if (!crc)
		c->kind = NNP_CAND_ORIGINAL;
	else if (c->budget.keep_frac > 0 || c->budget.target_params || c->budget.alloc_step ||
	         c->budget.widths)
		c->kind = NNP_CAND_BUDGET;
	else
		c->kind = NNP_CAND_THRESHOLDS;
	/* Neither: it would be reported and judged as a pair of NaN thresholds. */
	if (c->kind == NNP_CAND_THRESHOLDS && (isnan(c->thr.mean) || isnan(c->thr.std)) && !r->rc)
		r->rc = nnp_err_set(r->err, NNP_EINPUT, "%s: candidate %zu: neither a budget nor the "
		                    "rule's (mean, std) pair", r->part, r->index);
	const cJSON *ft = cJSON_GetObjectItemCaseSensitive(o, "finetune");
	if (cJSON_IsObject(ft)) {
		c->ft.done = 1;
		c->ft.accuracy = num(r, ft, "accuracy");
		c->ft.loss = num(r, ft, "loss");
		c->ft.drop = num(r, ft, "accuracy_drop_points");
		c->ft.drop_vs_ft = num(r, ft, "accuracy_drop_vs_finetuned_original_points");
		c->ft.file = str_dup(r, ft, "file");
	}
	if (!crc)
		return;  /* the original: no kept set */
	const cJSON *kc = item(r, o, "kept_crc32");
	const cJSON *kept = item(r, o, "kept");
	unsigned long x = 0;
	char *end = NULL;
	if (cJSON_IsString(kc))
		x = strtoul(kc->valuestring, &end, 16);
	if (!cJSON_IsString(kc) || strlen(kc->valuestring) != 8 || *end) {
		if (!r->rc)
			r->rc = nnp_err_set(r->err, NNP_EINPUT, "%s: candidate %zu: \"kept_crc32\" is "
			                    "not 8 hex digits", r->part, r->index);
		return;
	}
	*crc = (uint32_t)x;
	if (!cJSON_IsArray(kept) || (size_t)cJSON_GetArraySize(kept) != s->n_layers) {
		if (!r->rc)
			r->rc = nnp_err_set(r->err, NNP_EINPUT, "%s: candidate %zu: \"kept\" does not "
			                    "have the statistics' %zu hidden layers", r->part, r->index,
			                    s->n_layers);
		return;
	}
	nnp_keep *k = calloc(1, sizeof *k);
	if (k)
		k->count = calloc(s->n_layers ? s->n_layers : 1, sizeof *k->count);
	if (!k || !k->count) {
		nnp_keep_free(k);
		if (!r->rc)
			r->rc = nnp_err_set(r->err, NNP_ENOMEM, "out of memory");
		return;
	}
	k->n_layers = s->n_layers;
	c->keep = k;
	for (size_t l = 0; l < s->n_layers; l++) {
		const cJSON *e = cJSON_GetArrayItem(kept, (int)l);
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 ||
		    e->valuedouble > (double)s->layers[l].neurons) {
			if (!r->rc)
				r->rc = nnp_err_set(r->err, NNP_EINPUT, "%s: candidate %zu: kept[%zu] is "
				                    "not a count of at most %zu neurons", r->part, r->index,
				                    l, s->layers[l].neurons);
			return;
		}
		k->count[l] = (size_t)e->valuedouble;
	}
}

/* ---- the merge ---- */

void nnp_report_merged_free(nnp_report_merged *m)
{
	if (!m)
		return;
	nnp_sweep_free(m->sw);
	free(m->kept_crc);
	cJSON_Delete(m->doc);
	free(m);
}

const char *nnp_report_merged_stats_path(const nnp_report_merged *m)
{
	return m->info.stats_path;
}

static const char *jstr(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The report's facts from the first part: strings borrowed from doc. */
static int read_head(nnp_report_merged *m, const cJSON *d, const char *part, const nnp_stats *s,
                     nnp_err *err)
{
	nnp_report_info *info = &m->info;
	nnp_report_info_init(info);
	info->model_path = jstr(d, "model", "path");
	info->model_name = jstr(d, "model", "name");
	info->data_path = jstr(d, "data", "path");
	info->rows = (uint64_t)fmax(0, jnum(d, "data", "rows"));
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(d, "data"), "held_out")))
		info->stats_data_path = jstr(d, "statistics", "data");
	info->stats_path = jstr(d, "statistics", "path");
	info->stats_rows = (uint64_t)fmax(0, jnum(d, "statistics", "rows"));
	info->fold = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "fold"));
	double mk = jnum(d, "min_keep", NULL);
	info->min_keep = isnan(mk) ? 1 : (size_t)mk;
	const char *method = jstr(d, "method", NULL), *comp = jstr(d, "compensate", NULL);
	int plain = method && !strcmp(method, "rule") && comp &&
	            (!strcmp(comp, "fold") || !strcmp(comp, "none")) &&
	            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	                    cJSON_GetObjectItemCaseSensitive(d, "calibration"), "evaluation_data"));
	if (!plain) {
		info->method = method;
		info->compensate = comp;
		info->lambda_rel = jnum(d, "lambda_rel", NULL);
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(d, "calibration"), "evaluation_data"))) {
			info->calib_path = jstr(d, "calibration", "path");
			info->calib_rows = (uint64_t)fmax(0, jnum(d, "calibration", "rows"));
		}
	}
	m->rule = plain;
	const cJSON *ft = cJSON_GetObjectItemCaseSensitive(d, "finetune");
	if (cJSON_IsObject(ft)) {
		info->ft_data_path = jstr(ft, "data", NULL);
		info->ft_epochs = (size_t)fmax(0, jnum(ft, "epochs", NULL));
		info->ft_lr = jnum(ft, "lr", NULL);
		info->ft_seed = (uint64_t)fmax(0, jnum(ft, "seed", NULL));
		info->ft_schedule = jstr(ft, "schedule", NULL);
		info->ft_optimizer = jstr(ft, "optimizer", NULL);
		info->ft_lr_schedule = jstr(ft, "lr_schedule", NULL);
		info->ft_distill_t = jnum(ft, "distill", "t");
		info->ft_distill_alpha = jnum(ft, "distill", "alpha");
		info->ft_teacher = jstr(ft, "distill", "teacher");
	}
	info->write_mode = jstr(d, "write", NULL);
	nnp_gates_init(&m->gates);
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(d, "gates");
	m->gates.max_drop = jnum(g, "max_drop_points", NULL);
	m->gates.min_accuracy = jnum(g, "min_accuracy", NULL);
	double mp = jnum(g, "max_params", NULL), mb = jnum(g, "max_bytes", NULL);
	if (!isnan(mp))
		m->gates.max_params = (size_t)mp;
	m->gates.max_params_pct = jnum(g, "max_params_percent", NULL);
	if (!isnan(mb))
		m->gates.max_bytes = (uint64_t)mb;
	info->gates = &m->gates;
	/* The statistics given must be the ones the sweep used: same layers. */
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(d, "layers");
	if ((size_t)cJSON_GetArraySize(layers) != s->n_layers)
		return nnp_err_set(err, NNP_EINPUT, "%s: %d hidden layers, the statistics %zu", part,
		                   cJSON_GetArraySize(layers), s->n_layers);
	for (size_t l = 0; l < s->n_layers; l++) {
		const cJSON *L = cJSON_GetArrayItem(layers, (int)l);
		const char *act = jstr(L, "activation", NULL);
		if (jnum(L, "neurons", NULL) != (double)s->layers[l].neurons ||
		    jnum(L, "layer", NULL) != (double)s->layers[l].layer || !act ||
		    strcmp(act, nnp_act_name(s->layers[l].act)) != 0)
			return nnp_err_set(err, NNP_EINPUT, "%s: hidden layer %zu is not the "
			                   "statistics' (%zu %s neurons)", part, l,
			                   s->layers[l].neurons, nnp_act_name(s->layers[l].act));
	}
	return NNP_OK;
}

/* Rebuilds a rule candidate's kept set from the statistics, checking its CRC. */
static int rebuild_rule(nnp_candidate *c, uint32_t crc, size_t index, const nnp_stats *s,
                        size_t min_keep, const char *part, nnp_err *err)
{
	nnp_keep *k = NULL;
	int rc = nnp_keep_rule(&k, s, c->thr.mean, c->thr.std, min_keep, err);
	if (rc)
		return rc;
	if (nnp_report_kept_crc(k) != crc) {
		nnp_keep_free(k);
		return nnp_err_set(err, NNP_EINPUT, "%s: candidate %zu: the statistics keep other "
		                   "neurons than the sweep did (kept_crc32 %08x): give the statistics "
		                   "the sweep used", part, index, (unsigned)crc);
	}
	nnp_keep_free(c->keep);
	c->keep = k;
	return NNP_OK;
}

int nnp_report_merge(nnp_report_merged **out, const char *const *parts, size_t n_parts,
                     const nnp_stats *s, nnp_err *err)
{
	*out = NULL;
	if (n_parts == 0)
		return nnp_err_set(err, NNP_EUSAGE, "merge: no parts");
	nnp_report_merged *m = calloc(1, sizeof *m);
	if (!m)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	m->n_parts = n_parts;
	int rc = NNP_OK;
	cJSON *d = read_json(parts[0], err);
	unsigned char *seen = NULL;
	size_t *from = NULL;
	if (!d) {
		rc = err->status;
		goto done;
	}
	m->doc = d;
	double total = jnum(d, "candidates_total", NULL);
	if (!(total >= 0 && total < 1e8 && total == floor(total))) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: \"candidates_total\" is not a count", parts[0]);
		goto done;
	}
	size_t n = (size_t)total;
	if ((rc = read_head(m, d, parts[0], s, err)))
		goto done;
	m->sw = calloc(1, sizeof *m->sw);
	if (m->sw) {
		m->sw->n = n;
		m->sw->c = calloc(n ? n : 1, sizeof *m->sw->c);
		m->sw->models = calloc(n ? n : 1, sizeof *m->sw->models);
	}
	m->kept_crc = calloc(n ? n : 1, sizeof *m->kept_crc);
	seen = calloc(n ? n : 1, 1);
	from = calloc(n ? n : 1, sizeof *from);
	if (!m->sw || !m->sw->c || !m->sw->models || !m->kept_crc || !seen || !from) {
		rc = nnp_err_set(err, NNP_ENOMEM, "out of memory");
		goto done;
	}
	rd r = { parts[0], 0, err, NNP_OK };
	read_model(&r, cJSON_GetObjectItemCaseSensitive(d, "original"), &m->sw->original, NULL, s);
	m->sw->original.thr.mean = m->sw->original.thr.std = NAN;
	if ((rc = r.rc))
		goto done;
	m->sw->rows = m->info.rows;
	for (size_t p = 0; p < n_parts; p++) {
		cJSON *j = p == 0 ? d : read_json(parts[p], err);
		if (!j) {
			rc = err->status;
			goto done;
		}
		for (size_t f = 0; p && f < sizeof same_fields / sizeof same_fields[0]; f++) {
			const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, same_fields[f]);
			const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, same_fields[f]);
			if ((a || b) && !cJSON_Compare(a, b, 1)) {
				rc = nnp_err_set(err, NNP_EINPUT, "%s: \"%s\" differs from %s's: parts of "
				                 "one sweep share their model, data, statistics, options and "
				                 "original", parts[p], same_fields[f], parts[0]);
				break;
			}
		}
		const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "candidates");
		if (!rc && !cJSON_IsArray(cs))
			rc = nnp_err_set(err, NNP_EINPUT, "%s: no \"candidates\" array", parts[p]);
		for (const cJSON *o = cs ? cs->child : NULL; !rc && o; o = o->next) {
			double ix = jnum(o, "index", NULL);
			if (!(ix >= 0 && ix < (double)n && ix == floor(ix))) {
				rc = nnp_err_set(err, NNP_EINPUT, "%s: a candidate's \"index\" is not in [0, "
				                 "%zu)", parts[p], n);
				break;
			}
			size_t i = (size_t)ix;
			if (seen[i]) {
				rc = nnp_err_set(err, NNP_EINPUT, "%s: candidate %zu is also in %s", parts[p],
				                 i, parts[from[i]]);
				break;
			}
			seen[i] = 1;
			from[i] = p;
			rd ri = { parts[p], i, err, NNP_OK };
			read_model(&ri, o, &m->sw->c[i], &m->kept_crc[i], s);
			rc = ri.rc;
			if (!rc && m->rule)
				rc = rebuild_rule(&m->sw->c[i], m->kept_crc[i], i, s, m->info.min_keep,
				                  parts[p], err);
		}
		if (p)
			cJSON_Delete(j);
		if (rc)
			goto done;
	}
	for (size_t i = 0; i < n; i++)
		if (!seen[i]) {
			rc = nnp_err_set(err, NNP_EINPUT, "merge: candidate %zu of %zu is in none of the "
			                 "%zu parts (a shard missing?)", i, n, n_parts);
			goto done;
		}
	/* Duplicates by kept set, across parts: the first keeps its figures, the
	 * later ones take them, and their first's file too when the run writes
	 * each distinct model once (--write distinct, pareto or best), as one run
	 * names them. */
	nnp_candidate *c = m->sw->c;
	const char *wm = m->info.write_mode;
	int share = wm && (!strcmp(wm, "distinct") || !strcmp(wm, "pareto") || !strcmp(wm, "best"));
	for (size_t i = 0; i < n; i++) {
		for (size_t e = 0; e < i && c[i].same_as == NNP_NO_DUP; e++) {
			if (c[e].same_as != NNP_NO_DUP || m->kept_crc[e] != m->kept_crc[i] ||
			    memcmp(c[e].keep->count, c[i].keep->count, s->n_layers * sizeof(size_t)))
				continue;
			c[i].same_as = e;
		}
		if (c[i].same_as == NNP_NO_DUP) {
			m->sw->n_unique++;
			continue;
		}
		const nnp_candidate *f = &c[c[i].same_as];
		c[i].nonzeros = f->nonzeros;
		if (share) {
			c[i].file_bytes = f->file_bytes;
			free(c[i].file);
			c[i].file = f->file ? strdup(f->file) : NULL;
		}
		if (f->ft.done) {
			c[i].ft.done = 1;
			c[i].ft.accuracy = f->ft.accuracy;
			c[i].ft.loss = f->ft.loss;
			c[i].ft.drop = f->ft.drop;
			c[i].ft.drop_vs_ft = f->ft.drop_vs_ft;
			if (share) {
				free(c[i].ft.file);
				c[i].ft.file = f->ft.file ? strdup(f->ft.file) : NULL;
			}
		}
		if (share && ((f->file && !c[i].file) || (f->ft.file && !c[i].ft.file))) {
			rc = nnp_err_set(err, NNP_ENOMEM, "out of memory");
			goto done;
		}
	}
	nnp_sweep_copy_dups(c, n);
	rc = nnp_sweep_mark_pareto(&m->sw->original, c, n, "merge", err);
	if (rc)
		goto done;
	m->info.kept_crc = m->kept_crc;
	m->info.n_total = n;
done:
	free(seen);
	free(from);
	if (rc) {
		nnp_report_merged_free(m);
		return rc;
	}
	*out = m;
	return NNP_OK;
}

int nnp_report_merge_judge(nnp_report_merged *m, const nnp_gates *g, nnp_err *err)
{
	if (g)
		m->gates = *g;
	m->info.gates = &m->gates;
	int rc = nnp_gates_judge(&m->gates, m->sw, &m->verdict, err);
	if (rc)
		return rc;
	m->info.best = m->verdict.best;
	m->info.verdict = &m->verdict;
	return NNP_OK;
}
