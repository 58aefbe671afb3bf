/*
 * The pipeline's outputs: candidate models written with their provenance,
 * fine-tuned copies of the original and the candidates, the selection.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "nnprune/criteria.h"
#include "nnprune/gradual.h"
#include "nnprune/method.h"
#include "nnprune/manifest.h"
#include "nnprune/parallel.h"
#include "pipeline_priv.h"
#include "sweep_priv.h"

/* "model" from "dir/model.bin". */
static void model_stem(const char *path, char *buf, size_t size)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	snprintf(buf, size, "%s", base);
	char *dot = strrchr(buf, '.');
	if (dot && dot != buf)
		*dot = '\0';
}

/* What a candidate's file name says it is: "-m0.1-s0.4" for the rule (as it
 * always was), "-rule-ls-m0.1-s0.4" for the rule with a refit, and for the
 * other methods "-obs-ls-k0.5", "-obs-ls-a12" (allocation step), "-obs-ls-t150000";
 * magnitude "-magnitude-s0.8" ("-g" global), refit "-magnitude-ls-s0.8". */
static void budget_name(char *buf, size_t size, const nnp_candidate *c,
                        const nnp_method_opts *mo)
{
	const char *me = nnp_method_name(mo->method);
	const char *co = nnp_compensate_name(mo->compensate);
	if (nnp_method_by_thresholds(mo->method) && mo->compensate != NNP_COMP_LS)
		snprintf(buf, size, "-m%.12g-s%.12g", c->thr.mean, c->thr.std);
	else if (nnp_method_by_thresholds(mo->method))
		snprintf(buf, size, "-%s-%s-m%.12g-s%.12g", me, co, c->thr.mean, c->thr.std);
	else if (c->kind == NNP_CAND_SPARSE && c->sparse.layers) {
		int n = snprintf(buf, size, "-%s%s-s", me, mo->compensate == NNP_COMP_LS ? "-ls" : "");
		if (n > 0 && (size_t)n < size)
			nnp_candidate_shares_text(buf + n, size - (size_t)n, c, '_');
	} else if (c->kind == NNP_CAND_SPARSE)
		snprintf(buf, size, "-%s%s-%s%.12g", me, mo->compensate == NNP_COMP_LS ? "-ls" : "",
		         c->sparse.scope == NNP_MAG_GLOBAL ? "g" : c->sparse.scope ? "h" : "s",
		         c->sparse.share);
	else if (c->budget.target_params)
		snprintf(buf, size, "-%s-%s-t%zu", me, co, c->budget.target_params);
	else if (c->budget.alloc_step)
		snprintf(buf, size, "-%s-%s-a%zu", me, co, c->budget.alloc_step);
	else if (c->budget.widths) {
		int n = snprintf(buf, size, "-%s-%s-w", me, co);
		for (size_t l = 0; n > 0 && (size_t)n < size && l < c->keep->n_layers; l++)
			n += snprintf(buf + n, size - (size_t)n, "%s%zu", l ? "-" : "", c->keep->count[l]);
	} else
		snprintf(buf, size, "-%s-%s-k%.12g", me, co, c->budget.keep_frac);
}

/* "dir/stem-m0.1-s0.4.bin"; with ft_epochs > 0 "dir/stem-m0.1-s0.4-ft2.bin", and
 * for the original (c NULL) "dir/stem-ft2.bin". */
static char *candidate_path(const nnp_pipeline *p, const nnp_candidate *c, uint64_t ft_epochs)
{
	const nnp_pipeline_output *o = &p->o.out;
	char stem[256];
	model_stem(o->model_path, stem, sizeof stem);
	size_t n = strlen(o->dir) + strlen(stem) + 600;
	char *path = malloc(n);
	if (!path)
		return NULL;
	char thr[512] = "", ft[32] = "";
	if (c)
		budget_name(thr, sizeof thr, c, &p->o.mo);
	if (ft_epochs)
		snprintf(ft, sizeof ft, "-ft%llu", (unsigned long long)ft_epochs);
	snprintf(path, n, "%s/%s%s%s.%s", o->dir, stem, thr, ft, nnp_format_name(o->format));
	return path;
}

void nnp_candidate_budget_text(char *buf, size_t size, const nnp_candidate *c)
{
	if (c->budget.target_params)
		snprintf(buf, size, "target %zu (allocation step %zu)", c->budget.target_params,
		         c->budget.alloc_step);
	else if (c->budget.alloc_step)
		snprintf(buf, size, "allocation step %zu", c->budget.alloc_step);
	else if (c->budget.keep_frac > 0)
		snprintf(buf, size, "keep %g", c->budget.keep_frac);
	else if (c->budget.widths) {
		int n = snprintf(buf, size, "widths ");
		for (size_t l = 0; n > 0 && (size_t)n < size && l < c->keep->n_layers; l++)
			n += snprintf(buf + n, size - (size_t)n, "%s%zu", l ? "-" : "", c->keep->count[l]);
	}
	else if (c->kind == NNP_CAND_SPARSE) {
		char sh[NNP_SHARES_TEXT_MAX];
		nnp_candidate_shares_text(sh, sizeof sh, c, '/');
		snprintf(buf, size, "sparsity %s%s%s", sh, c->sparse.scope ? " " : "",
		         c->sparse.scope ? nnp_mag_scope_name(c->sparse.scope) : "");
	} else
		snprintf(buf, size, "mean %g, std %g", c->thr.mean, c->thr.std);
}

/* NNP_EOUTPUT if path names one of the inputs (NULL entries are skipped). */
static int check_not_input(const nnp_pipeline *p, const char *path, nnp_err *err)
{
	for (size_t k = 0; k < p->o.out.n_inputs; k++)
		if (p->o.out.inputs[k] && nnp_same_file(path, p->o.out.inputs[k]))
			return nnp_err_set(err, NNP_EOUTPUT, "%s: refusing to write over an input file",
			                   path);
	return NNP_OK;
}

char *nnp_pipeline_provenance(const nnp_pipeline *p, size_t i)
{
	const nnp_candidate *c = &p->sw->c[i];
	const nnp_method_opts *mo = &p->o.mo;
	nnp_prov pv;
	nnp_prov_init(&pv);
	pv.src = p->model;
	pv.src_path = p->o.out.model_path;
	pv.src_crc = p->o.out.model_crc;
	pv.method = nnp_method_name(mo->method);
	pv.kept = c->keep;
	if (p->calibrated) {
		pv.compensate = nnp_compensate_name(mo->compensate);
		pv.calib = &p->calib;
		if (nnp_method_uses_ridge(mo))
			pv.lambda_rel = mo->lambda_rel;
	}
	if (nnp_method_by_thresholds(mo->method)) {
		pv.mean_thr = c->thr.mean;
		pv.std_thr = c->thr.std;
		pv.fold = mo->compensate == NNP_COMP_FOLD;
		pv.min_keep = p->o.min_keep;
	} else {
		pv.keep_frac = c->budget.keep_frac > 0 ? c->budget.keep_frac : NAN;
		pv.target_params = c->budget.target_params ? c->budget.target_params : NNP_PROV_NONE;
		nnp_prov_candidate(&pv, c, mo->grid_step);
		if (c->budget.widths) {
			pv.widths = c->keep->count;
			pv.n_widths = c->keep->n_layers;
		}
	}
	return nnp_provenance_prune(&pv);
}

/* Refuses, before anything is written, a report file that would replace an input. */
static int check_reports(const nnp_pipeline *p, nnp_err *err)
{
	for (int k = NNP_REPORT_MD; k < NNP_REPORT_KINDS; k++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", p->o.out.dir,
		         nnp_report_file_name((nnp_report_kind)k));
		int rc = check_not_input(p, path, err);
		if (rc)
			return rc;
	}
	return NNP_OK;
}

/* Saves candidate i's slimmed model to path with its provenance. */
static int save_slim(nnp_pipeline *p, size_t i, const char *path, nnp_err *err)
{
	size_t src = p->sw->c[i].same_as == NNP_NO_DUP ? i : p->sw->c[i].same_as;
	int rc = check_not_input(p, path, err);
	if (rc)
		return rc;
	char *prov = nnp_pipeline_provenance(p, i);
	if (!prov)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	rc = nnp_model_set_provenance(p->sw->models[src], prov, err);
	if (!rc)
		rc = nnp_model_save_opts(p->sw->models[src], path, p->o.out.format, NULL, err);
	free(prov);
	return rc;
}

int nnp_pipeline_take_dir(nnp_pipeline *p, nnp_err *err)
{
	const nnp_pipeline_output *o = &p->o.out;
	int rc = nnp_mkdir(o->dir, err);
	if (!rc)
		rc = nnp_dir_lock_take(&p->lock, o->dir, o->wait, o->on_wait, o->wait_ctx, err);
	if (!rc)
		rc = check_reports(p, err);
	if (!rc)
		rc = nnp_manifest_clean(o->dir, &p->cleaned, &p->left, err);
	return rc;
}

/* Parallel writing: one task per distinct model (the candidates sharing it
 * are written by that task in order, since each sets the model's
 * provenance), and one that measures the original's size in the format. */
typedef struct write_job {
	nnp_pipeline *p;
	const unsigned char *plan;
	size_t *first;            /* [n_tasks] the first planned candidate of each model */
	size_t n_tasks;
	const nnp_model *orig;    /* measured by task 0, or NULL */
	int *rc;                  /* [n_tasks + 1], the original's last */
	nnp_err *errs;            /* [n_tasks + 1], the same */
} write_job;

static size_t model_of(const nnp_sweep *sw, size_t i)
{
	return sw->c[i].same_as == NNP_NO_DUP ? i : sw->c[i].same_as;
}

static void write_task(void *ctx, size_t t, unsigned worker)
{
	(void)worker;
	write_job *j = ctx;
	nnp_pipeline *p = j->p;
	/* The original, the largest, first: tasks are handed out in order. */
	if (j->orig && t-- == 0) {
		j->rc[j->n_tasks] = nnp_model_file_size(j->orig, p->o.out.format,
		                                        &p->sw->original.file_bytes,
		                                        &j->errs[j->n_tasks]);
		return;
	}
	nnp_err *err = &j->errs[t];
	size_t src = model_of(p->sw, j->first[t]);
	for (size_t i = j->first[t]; i < p->sw->n && !j->rc[t]; i++) {
		/* Only this model's candidates: the others are other tasks'. */
		if (model_of(p->sw, i) != src || !j->plan[i] || p->sw->c[i].file)
			continue;
		char *path = candidate_path(p, &p->sw->c[i], 0);
		j->rc[t] = path ? save_slim(p, i, path, err)
		                : nnp_err_set(err, NNP_ENOMEM, "out of memory");
		if (j->rc[t])
			free(path);
		else
			p->sw->c[i].file = path;
	}
}

/*
 * Writes the planned candidates that have no file yet, the distinct models
 * at once on the pipeline's threads, and with orig (may be NULL) measures
 * the original's size in the output format into sw->original.file_bytes.
 * The error reported is that of the first candidate that failed.
 */
static int write_planned(nnp_pipeline *p, const unsigned char *plan, const nnp_model *orig,
                         nnp_err *err)
{
	nnp_sweep *sw = p->sw;
	write_job j;
	memset(&j, 0, sizeof j);
	j.p = p;
	j.plan = plan;
	j.orig = orig;
	j.first = malloc((sw->n ? sw->n : 1) * sizeof *j.first);
	unsigned char *seen = calloc(sw->n ? sw->n : 1, 1);
	int rc = j.first && seen ? NNP_OK : nnp_err_set(err, NNP_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < sw->n; i++) {
		size_t src = model_of(sw, i);
		if (plan[i] && !sw->c[i].file && !seen[src]) {
			seen[src] = 1;
			j.first[j.n_tasks++] = i;
		}
	}
	free(seen);
	size_t n = j.n_tasks + (orig != NULL);
	j.rc = rc ? NULL : calloc(n + 1, sizeof *j.rc);
	j.errs = rc ? NULL : calloc(n + 1, sizeof *j.errs);
	if (!rc && (!j.rc || !j.errs))
		rc = nnp_err_set(err, NNP_ENOMEM, "out of memory");
	if (!rc && n) {
		nnp_pfor_job job = { write_task, NULL, &j };
		nnp_pfor(p->o.threads, n, &job);
		for (size_t t = 0; t < n && !rc; t++)
			if ((rc = j.rc[t]) && err)
				*err = j.errs[t];
	}
	free(j.first);
	free(j.rc);
	free(j.errs);
	return rc;
}

/* Removes the files of candidates the plan leaves out (written for fine-tuning). */
static int drop_unplanned(nnp_pipeline *p, const unsigned char *plan, nnp_err *err)
{
	for (size_t i = 0; i < p->sw->n; i++) {
		nnp_candidate *c = &p->sw->c[i];
		char **f[2] = { &c->file, &c->ft.file };
		for (int k = 0; !plan[i] && k < 2; k++) {
			if (*f[k] && remove(*f[k]) != 0)
				return nnp_err_set(err, NNP_EOUTPUT, "%s: cannot remove", *f[k]);
			free(*f[k]);
			*f[k] = NULL;
		}
	}
	return NNP_OK;
}

/* A duplicate without a file of its own names its first's. */
static int share_files(nnp_sweep *sw, nnp_err *err)
{
	for (size_t i = 0; i < sw->n; i++) {
		nnp_candidate *c = &sw->c[i];
		if (c->same_as == NNP_NO_DUP)
			continue;
		const nnp_candidate *f = &sw->c[c->same_as];
		if ((!c->file && f->file && !(c->file = strdup(f->file))) ||
		    (!c->ft.file && f->ft.file && !(c->ft.file = strdup(f->ft.file))))
			return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	}
	return NNP_OK;
}

/* Every distinct model carries its provenance, so that its measured size is
 * the size written. */
static int set_provenances(nnp_pipeline *p, nnp_err *err)
{
	for (size_t i = 0; i < p->sw->n; i++) {
		if (p->sw->c[i].same_as != NNP_NO_DUP || !p->sw->models[i])
			continue;
		char *prov = nnp_pipeline_provenance(p, i);
		if (!prov)
			return nnp_err_set(err, NNP_ENOMEM, "out of memory");
		int rc = nnp_model_set_provenance(p->sw->models[i], prov, err);
		free(prov);
		if (rc)
			return rc;
	}
	return NNP_OK;
}

int nnp_pipeline_finish(nnp_pipeline *p, const nnp_model *m, const nnp_dataset *d,
                        nnp_err *err)
{
	nnp_sweep *sw = p->sw;
	const nnp_pipeline_opts *o = &p->o;
	int ft = o->finetune.path || o->finetune.rows;
	unsigned char *plan = malloc(sw->n ? sw->n : 1);
	if (!plan)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	int rc = set_provenances(p, err);
	/* The original's size in the candidates' format, measured beside the
	 * writing when there is writing to do. */
	const nnp_model *measure = o->out.format == NNP_FMT_JSON || o->out.format == NNP_FMT_BIN
	                           ? m : NULL;
	int measured = 0;
	/* Fine-tuned models record the file they came from, and a format whose
	 * size cannot be computed is measured on disk: write those first unless
	 * the plan needs the verdict (pareto, best), removing the rest after it. */
	int early = ft || o->write == NNP_WRITE_DISTINCT || o->write == NNP_WRITE_ALL;
	if (!rc && early && o->out.dir) {
		nnp_write_plan(sw, o->write == NNP_WRITE_ALL ? NNP_WRITE_ALL : NNP_WRITE_DISTINCT,
		               NNP_NO_DUP, plan);
		rc = write_planned(p, plan, measure, err);
		measured = measure != NULL;
	}
	if (!rc && ft)
		rc = nnp_pipeline_ft_run(p, m, d, err);
	if (!sw->original.params)
		nnp_sweep_set_sizes(&sw->original, m);   /* not evaluated */
	if (!rc)
		rc = nnp_sweep_measure(sw, o->out.format, err);
	/* The original's row beside them: its nonzeros, and its size in the
	 * format the candidates are written in. */
	sw->original.nonzeros = nnp_model_nonzeros(m);
	if (!rc && measure && !measured)
		rc = nnp_model_file_size(m, o->out.format, &sw->original.file_bytes, err);
	memset(&p->verdict, 0, sizeof p->verdict);
	p->verdict.best = p->verdict.closest = NNP_NO_DUP;
	if (!rc && o->gates && nnp_gates_any(o->gates))
		rc = nnp_gates_judge(o->gates, sw, &p->verdict, err);
	p->best = p->verdict.best;
	p->closest = p->verdict.closest;
	if (!rc && o->out.dir) {
		nnp_write_plan(sw, o->write, p->best, plan);
		rc = early ? drop_unplanned(p, plan, err) : write_planned(p, plan, NULL, err);
		if (!rc)
			rc = share_files(sw, err);
	}
	free(plan);
	return rc;
}

/* ---- fine-tuning ---- */

int nnp_pipeline_ft_load(nnp_pipeline *p, nnp_err *err)
{
	const nnp_source *s = &p->o.finetune;
	p->ft_train = s->rows;
	if (!s->rows) {
		int rc = nnp_dataset_load(&p->ft_rows, s->path, &s->opts, 0, err);
		if (rc)
			return rc;
		p->ft_train = p->ft_rows;
	}
	if (!p->ft_train->y) {
		/* The hint names how the caller takes the labels file: its first word. */
		const char *lo = s->opts.labels_option;
		int n = lo ? (int)strcspn(lo, " ") : 0;
		return nnp_err_set(err, NNP_EINPUT, "%s: the fine-tuning data has no labels%s%.*s%s",
		                   s->path ? s->path : "fine-tuning rows", !s->opts.labels_path && lo ? " (IDX images need " : "",
		                   !s->opts.labels_path ? n : 0, lo ? lo : "",
		                   !s->opts.labels_path && lo ? ")" : "");
	}
	return NNP_OK;
}

static void ft_progress(void *ctx, size_t done, size_t total)
{
	const nnp_pipeline_opts *o = ctx;
	o->progress(o->progress_ctx, NNP_STAGE_FINETUNE, done, total);
}

/* The provenance of a fine-tuned model: as `nnprune finetune` writes it,
 * its source the file that was fine-tuned, whose provenance (prev) follows. */
static char *ft_provenance(const nnp_pipeline *p, const char *src_path, const char *prev,
                           const nnp_ft_job *j, nnp_err *err)
{
	const nnp_train_opts *t = &p->o.ft_train;
	nnp_file_info fi;
	/* No file (a candidate not written on its own): "previous" says what it was. */
	if (src_path && nnp_model_identity(src_path, &fi, err))
		return NULL;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "tool", "nnprune " NNP_VERSION);
	cJSON_AddStringToObject(o, "operation", "finetune");
	if (src_path) {
		char crc[9];
		snprintf(crc, sizeof crc, "%08x", (unsigned)fi.crc32);
		cJSON *s = cJSON_AddObjectToObject(o, "source");
		cJSON_AddStringToObject(s, "path", src_path);
		cJSON_AddStringToObject(s, "crc32", crc);
	}
	cJSON_AddStringToObject(o, "data", p->o.finetune.path);
	cJSON_AddStringToObject(o, "optimizer", nnp_optimizer_name(t->optimizer));
	cJSON_AddNumberToObject(o, "lr", (double)t->lr);
	if (t->lr_schedule != NNP_LR_CONSTANT)
		cJSON_AddStringToObject(o, "lr_schedule", nnp_lr_schedule_name(t->lr_schedule));
	if (t->teacher) {
		cJSON_AddNumberToObject(o, "distill_t", (double)t->distill_t);
		cJSON_AddNumberToObject(o, "distill_alpha", (double)t->distill_alpha);
	}
	if (j->gradual) {
		cJSON_AddStringToObject(o, "schedule", "gradual");
		cJSON_AddNumberToObject(o, "steps", (double)j->gradual->steps);
	}
	cJSON_AddNumberToObject(o, "epochs", (double)j->rep.epochs_run);
	cJSON_AddNumberToObject(o, "batch", (double)t->batch);
	cJSON_AddNumberToObject(o, "seed", (double)t->seed);
	cJSON_AddNumberToObject(o, "threads", (double)j->rep.threads);
	if (j->input_scale != 1.0f)  /* as nnprune finetune: only a scale folded into layer 0 */
		cJSON_AddNumberToObject(o, "input_scale", (double)j->input_scale);
	cJSON_AddNumberToObject(o, "train_accuracy", j->rep.train_accuracy);
	cJSON *pv = prev ? cJSON_Parse(prev) : NULL;
	if (pv)
		cJSON_AddItemToObject(o, "previous", pv);
	char *txt = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!txt)
		nnp_err_set(err, NNP_ENOMEM, "out of memory");
	return txt;
}

/* Saves job j's model to path with the provenance of candidate i (NNP_NO_DUP: the original). */
static int ft_save(nnp_pipeline *p, const nnp_ft_job *j, size_t i, const char *path,
                   nnp_err *err)
{
	int rc = check_not_input(p, path, err);
	if (rc)
		return rc;
	const nnp_candidate *c = i != NNP_NO_DUP ? &p->sw->c[i] : NULL;
	char *prev = c ? nnp_pipeline_provenance(p, i) : NULL;
	if (c && !prev)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	char *prov = ft_provenance(p, c ? c->file : p->o.out.model_path,
	                           c ? prev : p->model->provenance, j, err);
	free(prev);
	if (!prov)
		return err->status ? err->status : NNP_ENOMEM;
	rc = nnp_model_set_provenance(j->model, prov, err);
	free(prov);
	if (!rc)
		rc = nnp_model_save_opts(j->model, path, p->o.out.format, NULL, err);
	return rc;
}

static void ft_scores(nnp_candidate *c, const nnp_ft_job *j, const nnp_candidate *o)
{
	c->ft.done = 1;
	/* Not scored (no evaluation rows): NAN, never a 0% that was not measured. */
	c->ft.accuracy = j->mt.labelled ? nnp_metrics_accuracy(&j->mt) : NAN;
	c->ft.loss = j->mt.labelled ? nnp_metrics_loss(&j->mt) : NAN;
	c->ft.drop = 100.0 * (o->accuracy - c->ft.accuracy);
	c->ft.drop_vs_ft = 100.0 * (o->ft.accuracy - c->ft.accuracy);
}

/* Fills every candidate's fine-tuned figures and writes the fine-tuned models
 * (duplicates too, like the slimmed ones). */
static int ft_write(nnp_pipeline *p, nnp_err *err)
{
	nnp_sweep *sw = p->sw;
	nnp_candidate *o = &sw->original;
	ft_scores(o, &p->ft_jobs[0], o);
	o->ft.drop_vs_ft = 0;
	for (size_t i = 0; i <= sw->n; i++) {
		nnp_candidate *c = i == 0 ? o : &sw->c[i - 1];
		size_t job = i == 0 ? 0 : p->ft_job_of[i - 1];
		if (job == NNP_NO_DUP)
			continue;
		if (i)
			ft_scores(c, &p->ft_jobs[job], o);
		if (!p->o.out.dir || (i && c->same_as != NNP_NO_DUP && p->o.write != NNP_WRITE_ALL))
			continue;
		char *path = candidate_path(p, i ? c : NULL, p->o.ft_train.epochs);
		int rc = path ? ft_save(p, &p->ft_jobs[job], i ? i - 1 : NNP_NO_DUP, path, err)
		              : nnp_err_set(err, NNP_ENOMEM, "out of memory");
		if (rc) {
			free(path);
			return rc;
		}
		free(c->ft.file);
		c->ft.file = path;
	}
	return NNP_OK;
}

/* With a gradual schedule every candidate's job starts from the original m
 * and ends at the candidate's widths: the options of job j are (*g)[j]
 * (kept with the pipeline: the provenance of a job written later reads them). */
static int gradual_jobs(nnp_pipeline *p, const nnp_model *m, nnp_gradual_opts **g,
                        nnp_err *err)
{
	if (nnp_method_by_thresholds(p->o.mo.method))
		return nnp_err_set(err, NNP_EUSAGE, "the gradual schedule needs a method that prunes "
		                   "to a budget, not --method %s", nnp_method_name(p->o.mo.method));
	if (!p->calibrated || p->calib.streamed)
		return nnp_err_set(err, NNP_EUSAGE, "the gradual schedule needs the calibration rows "
		                   "in memory (%s is larger than the memory limit)",
		                   p->calib.path ? p->calib.path : "they are");
	*g = calloc(p->n_ft_jobs, sizeof **g);
	if (!*g)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	for (size_t i = 0; i < p->sw->n; i++) {
		size_t j = p->ft_job_of[i];
		if (j == NNP_NO_DUP || p->ft_jobs[j].gradual)
			continue;
		nnp_gradual_opts *o = &(*g)[j];
		o->steps = p->o.ft_gradual;
		o->structured = 1;
		o->method = p->o.mo;
		o->calib = &p->calib.view;
		o->widths = p->sw->c[i].keep->count;
		o->target = nnp_method_params(m, o->widths);
		p->ft_jobs[j].src = m;
		p->ft_jobs[j].gradual = o;
	}
	return NNP_OK;
}

int nnp_pipeline_ft_run(nnp_pipeline *p, const nnp_model *m, const nnp_dataset *d,
                        nnp_err *err)
{
	const nnp_sweep *sw = p->sw;
	p->ft_job_of = malloc((sw->n ? sw->n : 1) * sizeof *p->ft_job_of);
	p->ft_jobs = calloc(sw->n_unique + 1, sizeof *p->ft_jobs);
	if (!p->ft_job_of || !p->ft_jobs)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	p->ft_jobs[0].src = m;
	p->ft_jobs[0].label = p->o.out.model_path;
	p->n_ft_jobs = 1;
	for (size_t i = 0; i < sw->n; i++) {
		const nnp_candidate *c = &sw->c[i];
		p->ft_job_of[i] = NNP_NO_DUP;
		/* A duplicate has its first's size and accuracy, so its Pareto mark too. */
		if (c->same_as != NNP_NO_DUP) {
			p->ft_job_of[i] = p->ft_job_of[c->same_as];
			continue;
		}
		if (p->o.ft_pareto && !c->pareto)
			continue;
		if (p->n_ft_jobs > sw->n_unique)
			return nnp_err_set(err, NNP_EUSAGE, "more distinct kept sets than %zu",
			                   sw->n_unique);
		p->ft_jobs[p->n_ft_jobs].src = sw->models[i];
		p->ft_jobs[p->n_ft_jobs].label = c->file;
		/* A sparse candidate stays as sparse. */
		p->ft_jobs[p->n_ft_jobs].keep_zeros = c->kind == NNP_CAND_SPARSE;
		p->ft_job_of[i] = p->n_ft_jobs++;
	}
	if (p->o.ft_gradual) {
		int rc = gradual_jobs(p, m, &p->ft_gradual_opts, err);
		if (rc)
			return rc;
	}
	nnp_ft_plan plan = { p->o.ft_train, p->ft_train, d, p->o.eval.path, &p->o.eval.opts,
		             p->o.threads, p->o.progress ? ft_progress : NULL, &p->o };
	int rc = nnp_finetune_run(p->ft_jobs, p->n_ft_jobs, &plan, err);
	return rc ? rc : ft_write(p, err);
}

int nnp_pipeline_write(nnp_pipeline *p, size_t i, int finetuned, const char *path, nnp_err *err)
{
	if (!finetuned)
		return save_slim(p, i, path, err);
	size_t job = p->ft_job_of ? p->ft_job_of[i] : NNP_NO_DUP;
	if (job == NNP_NO_DUP)
		return nnp_err_set(err, NNP_EUSAGE, "candidate %zu was not fine-tuned", i);
	return ft_save(p, &p->ft_jobs[job], i, path, err);
}
