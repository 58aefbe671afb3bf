/* nnprune prune: what it prints, judges and writes once the pipeline ran. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_prune.h"
#include "nnprune/criteria.h"
#include "nnprune/gates.h"
#include "nnprune/io.h"
#include "nnprune/report.h"
#include "nnprune/stats.h"

void prune_widths_text(const nnp_model *m, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t l = 0; l + 1 < m->n_layers && n < size; l++) {
		int w = snprintf(buf + n, size - n, "%s%zu", l ? "-" : "", m->layers[l].out);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

void prune_summary(const prune_cfg *c, const nnp_model *m, const char *model_path,
                   const nnp_pipeline *pl)
{
	const nnp_candidate *k = &pl->sw->c[0];
	const nnp_model *pm = nnp_pipeline_model(pl, 0);
	char budget[160], before[256], after[256];
	if (nnp_method_by_thresholds(c->me.mo.method))
		snprintf(budget, sizeof budget, "mean %g, std %g", c->mean_thr, c->std_thr);
	else if (!isnan(c->keep))
		snprintf(budget, sizeof budget, "keep %g", c->keep);
	else if (c->widths_text)
		snprintf(budget, sizeof budget, "widths %.80s", c->widths_text);
	else if (c->sp.text && k->sparse.layers) {
		char sh[64];
		nnp_candidate_shares_text(sh, sizeof sh, k, '/');
		snprintf(budget, sizeof budget, "sparsity %s per layer, %.4g of the weights", sh,
		         k->sparse.share);
	} else if (c->sp.text)
		snprintf(budget, sizeof budget, "sparsity %g, %s", k->sparse.share,
		         k->sparse.scope == NNP_MAG_GLOBAL ? "global"
		         : k->sparse.scope ? "output layer dense" : "per layer");
	else if (k->budget.alloc_step)
		snprintf(budget, sizeof budget, "target %s: allocation step %zu", c->target.text,
		         k->budget.alloc_step);
	else
		snprintf(budget, sizeof budget, "target %s: already within", c->target.text);
	if (c->sp.text) {
		/* Nothing removed physically: the nonzeros and the file's real bytes. */
		size_t z0 = nnp_model_nonzeros(m), z1 = nnp_model_nonzeros(pm);
		uint64_t b0 = 0, b1 = 0;
		uint32_t crc;
		nnp_err e;
		if (nnp_file_identity(model_path, &b0, &crc, &e) ||
		    nnp_file_identity(c->out, &b1, &crc, &e))
			b0 = b1 = 0;
		printf("%s: magnitude (%s): %zu parameters, %zu -> %zu nonzero weights "
		       "(%.1f%% fewer), file %llu -> %llu bytes; written to %s\n", model_path, budget,
		       nnp_model_params(pm), z0, z1,
		       z0 ? 100.0 * ((double)z0 - (double)z1) / (double)z0 : 0.0,
		       (unsigned long long)b0, (unsigned long long)b1, c->out);
		return;
	}
	prune_widths_text(m, before, sizeof before);
	prune_widths_text(pm, after, sizeof after);
	size_t p0 = nnp_model_params(m), p1 = nnp_model_params(pm);
	printf("%s: %s + %s (%s) on %zu calibration rows: %zu -> %zu parameters (%.1f%% fewer), "
	       "hidden %s -> %s; written to %s\n", model_path, nnp_method_name(c->me.mo.method),
	       nnp_compensate_name(c->me.mo.compensate), budget, pl->calib.rows, p0, p1,
	       p0 ? 100.0 * ((double)p0 - (double)p1) / (double)p0 : 0.0, before, after, c->out);
}

/* An accuracy drop in points as words: "0.30 points below", "0.60 points
 * above" (a gain), or "level with" when it rounds to 0.00. */
static void drop_words(char *buf, size_t n, double drop)
{
	if (fabs(drop) < 0.005)
		snprintf(buf, n, "level with");
	else
		snprintf(buf, n, "%.2f points %s", fabs(drop), drop > 0 ? "below" : "above");
}

/* The fine-tuned model against the original fine-tuned the same way, on stderr. */
void prune_ft_summary(const prune_cfg *c, const nnp_pipeline *pl, const char *model_path)
{
	const nnp_train_opts *t = &pl->o.ft_train;
	const nnp_candidate *o = &pl->sw->original, *k = &pl->sw->c[0];
	const nnp_ft_job *jo = &pl->ft_jobs[0], *jk = &pl->ft_jobs[pl->ft_job_of[0]];
	fprintf(stderr, "nnprune: fine-tuned on %s (%s, lr %g %s, %zu epoch%s, seed %llu", c->ft.data,
	        nnp_optimizer_name(t->optimizer), (double)t->lr,
	        nnp_lr_schedule_name(t->lr_schedule), t->epochs, t->epochs == 1 ? "" : "s",
	        (unsigned long long)t->seed);
	const nnp_train_opts t0 = NNP_TRAIN_OPTS_INIT;
	if (t->batch != t0.batch)
		fprintf(stderr, ", batch %zu", t->batch);
	if (t->teacher)
		fprintf(stderr, ", distilled from %s at T %g, alpha %g",
		        c->ft.teacher ? c->ft.teacher : model_path, (double)t->distill_t,
		        (double)t->distill_alpha);
	if (pl->o.ft_gradual)
		fprintf(stderr, ", pruned gradually in %zu steps", pl->o.ft_gradual);
	fprintf(stderr, "): training accuracy %.2f%%, the original fine-tuned the same way "
	        "%.2f%%\n", 100.0 * jk->rep.train_accuracy, 100.0 * jo->rep.train_accuracy);
	if (!isnan(k->ft.accuracy)) {
		char vs_ft[48], vs_orig[48];
		drop_words(vs_ft, sizeof vs_ft, k->ft.drop_vs_ft);
		drop_words(vs_orig, sizeof vs_orig, k->ft.drop);
		fprintf(stderr, "nnprune: accuracy after fine-tuning %.2f%%, the original fine-tuned "
		        "the same way %.2f%%: %s it (%s the original as it was)\n",
		        100.0 * k->ft.accuracy, 100.0 * o->ft.accuracy, vs_ft, vs_orig);
	}
}

/* --best: the model OUT holds (the fine-tuned one after --finetune). */
static int write_best(void *ctx, const char *path, nnp_err *err)
{
	nnp_pipeline *pl = ctx;
	if (pl->n_ft_jobs)
		return nnp_pipeline_write(pl, 0, 1, path, err);
	nnp_format fmt = cli_format_pick(0, nnp_format_of_path(path));
	return nnp_model_save_opts(pl->sw->models[0], path, fmt, NULL, err);
}

/* The gates judged on the written model, --best, and --json; an exit code,
 * or -1 after an error in *err. */
int prune_judge(const prune_cfg *c, nnp_pipeline *pl, const nnp_model *m,
                 const char *model_path, nnp_format fmt, nnp_err *err)
{
	nnp_sweep *sw = pl->sw;
	nnp_gate_result v;
	memset(&v, 0, sizeof v);
	v.best = v.closest = NNP_NO_DUP;
	free(sw->c[0].file);
	if (!(sw->c[0].file = strdup(c->out)))
		return nnp_err_set(err, NNP_ENOMEM, "out of memory"), -1;
	if (nnp_sweep_measure(sw, fmt, err) ||
	    (nnp_gates_any(&c->oo.gates) && nnp_gates_judge(&c->oo.gates, sw, &v, err)) ||
	    cli_best_finish(&c->oo, &v, c->quiet, write_best, pl, err))
		return -1;
	if (c->json) {
		nnp_stats *s = NULL;
		char *txt = NULL;
		nnp_report_info info;
		nnp_report_info_init(&info);
		info.model_path = model_path;
		info.model_name = m->name;
		info.data_path = c->oo.eval;
		info.rows = sw->rows;
		info.method = nnp_method_name(c->me.mo.method);
		info.compensate = nnp_compensate_name(c->me.mo.compensate);
		if (nnp_method_uses_ridge(&c->me.mo))
			info.lambda_rel = c->me.mo.lambda_rel;
		info.calib_path = c->me.calib;
		info.calib_rows = pl->calib.rows;
		info.min_keep = c->min_keep_set ? (size_t)c->min_keep : 1;
		info.max_drop = c->oo.gates.max_drop;
		if (c->ft.data) {
			const nnp_train_opts *t = &pl->o.ft_train;
			info.ft_epochs = t->epochs;
			info.ft_data_path = c->ft.data;
			info.ft_lr = (double)t->lr;
			info.ft_seed = t->seed;
		}
		info.gates = &c->oo.gates;
		info.verdict = v.gated ? &v : NULL;
		info.best = v.best;
		int rc = nnp_stats_create(&s, m, err);
		if (!rc)
			rc = nnp_report_render_prune(&txt, NULL, sw, s, &info, c->out,
			                             nnp_format_name(fmt), err);
		if (!rc)
			fputs(txt, stdout);
		free(txt);
		nnp_stats_free(s);
		if (rc)
			return -1;
	}
	if (v.gated && v.best == NNP_NO_DUP) {
		fprintf(stderr, "nnprune: prune: %s\n", v.message);
		return NNP_EXIT_GATE;
	}
	if (v.gated && !c->quiet && !c->json)
		fprintf(stderr, "nnprune: prune: %s%s%s\n", v.message, c->oo.best ? "; written to " : "",
		        c->oo.best ? c->oo.best : "");
	return NNP_EXIT_OK;
}

