/* Fine-tuning several models at once, as `nnprune finetune` trains one. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "nnprune/gradual.h"
#include "nnprune/pipeline.h"
#include "nnprune/parallel.h"
#include "nnprune/stats.h"

float nnp_finetune_default_lr(nnp_optimizer o)
{
	return nnp_train_default_lr(o);
}

float nnp_provenance_scale(const nnp_model *m)
{
	float s = 1.0f;
	/* A model with input preprocessing applies it itself: nothing to fold. */
	cJSON *root = m->provenance && !nnp_model_has_prep(m) ? cJSON_Parse(m->provenance) : NULL;
	for (cJSON *o = root; o; o = cJSON_GetObjectItemCaseSensitive(o, "previous")) {
		cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "input_scale");
		if (cJSON_IsNumber(v) && v->valuedouble > 0) {
			s = (float)v->valuedouble;
			break;
		}
	}
	cJSON_Delete(root);
	return s;
}

/* The jobs' shared state: one error per job. */
typedef struct ft_pool {
	nnp_ft_job *jobs;
	size_t n;
	const nnp_ft_plan *p;
	nnp_err *errs;            /* [n] */
	int *rcs;                 /* [n] */
	atomic_size_t done;       /* jobs finished, for the progress line */
} ft_pool;

static int ft_eval(const nnp_ft_job *j, const nnp_ft_plan *p, nnp_metrics *mt, nnp_err *err)
{
	/* One thread: the jobs are the parallel unit. */
	nnp_run_opts ro = NNP_RUN_OPTS_INIT;
	ro.threads = 1;
	if (p->eval)
		return nnp_run_dataset(j->model, p->eval, &ro, NULL, mt, NULL, err);
	nnp_reader *r = NULL;
	int rc = nnp_reader_open(&r, p->eval_path, p->eval_opts, err);
	if (!rc)
		rc = nnp_run(j->model, r, &ro, NULL, mt, NULL, err);
	nnp_reader_close(r);
	return rc;
}

/* j->src pruned gradually to j->model while fine-tuning with o. */
static int ft_gradual(nnp_ft_job *j, const nnp_ft_plan *p, const nnp_train_opts *o,
                      nnp_err *err)
{
	nnp_gradual_opts g = *j->gradual;
	nnp_gradual_report gr;
	g.train = *o;
	g.train.model_takes_raw = 0;   /* nnp_gradual_run sets it itself */
	int rc = nnp_gradual_run(&j->model, j->src, p->train_data, NULL, &g, &gr, err);
	if (!rc) {
		j->rep = gr.last;
		free(gr.s);
	}
	return rc;
}

static int ft_one(nnp_ft_job *j, const nnp_ft_plan *p, nnp_err *err)
{
	int rc = j->gradual ? NNP_OK : nnp_model_clone(&j->model, j->src, err);
	if (rc)
		return rc;
	uint8_t **mask = NULL;
	if (j->keep_zeros && !j->gradual && !(mask = nnp_mask_of_zeros(j->model, NULL)))
		return nnp_err_set(err, NNP_ENOMEM, "fine-tuning: out of memory");
	nnp_train_opts o = p->train;
	/* As `nnprune finetune` without --input-scale: the model maps raw
	 * inputs and is trained in the space its provenance records. */
	j->input_scale = nnp_provenance_scale(j->src);
	o.input_scale = j->input_scale;
	o.model_takes_raw = 1;
	/* One training thread per job: a model's weights then never depend on
	 * how many jobs run at once. */
	o.threads = 1;
	o.on_epoch = NULL;
	o.on_progress = NULL;
	o.ctx = NULL;
	o.mask = (const uint8_t *const *)mask;
	rc = j->gradual ? ft_gradual(j, p, &o, err)
	                : nnp_train(j->model, p->train_data, NULL, &o, &j->rep, err);
	nnp_mask_free(mask, j->model->n_layers);
	if (rc)
		return rc;
	memset(&j->mt, 0, sizeof j->mt);
	return p->eval || p->eval_path ? ft_eval(j, p, &j->mt, err) : NNP_OK;
}

static void ft_task(void *ctx, size_t i, unsigned worker)
{
	(void)worker;
	ft_pool *P = ctx;
	nnp_err_clear(&P->errs[i]);
	P->rcs[i] = ft_one(&P->jobs[i], P->p, &P->errs[i]);
	size_t done = atomic_fetch_add(&P->done, 1) + 1;
	if (P->p->progress)
		P->p->progress(P->p->progress_ctx, done, P->n);
}

int nnp_finetune_run(nnp_ft_job *jobs, size_t n, const nnp_ft_plan *p, nnp_err *err)
{
	if (n == 0)
		return NNP_OK;
	int rc = NNP_OK;
	ft_pool P;
	memset(&P, 0, sizeof P);
	atomic_init(&P.done, 0);
	P.jobs = jobs;
	P.n = n;
	P.p = p;
	P.errs = calloc(n, sizeof *P.errs);
	P.rcs = calloc(n, sizeof *P.rcs);
	if (!P.errs || !P.rcs) {
		rc = nnp_err_set(err, NNP_ENOMEM, "fine-tuning: out of memory");
		goto done;
	}
	/* Each job is one task: fewer threads only means fewer jobs at once,
	 * never a different result. */
	nnp_pfor_job job = { ft_task, NULL, &P };
	nnp_pfor(p->threads, n, &job);
	if (p->progress)
		p->progress(p->progress_ctx, NNP_PROGRESS_END, n);
	for (size_t i = 0; i < n; i++)
		if (P.rcs[i]) {
			rc = nnp_err_set(err, P.rcs[i], "%s: fine-tuning: %s",
			                 jobs[i].label ? jobs[i].label : "model", P.errs[i].msg);
			break;
		}
done:
	free(P.errs);
	free(P.rcs);
	return rc;
}
