/* nnprune prune --iterative: rank, remove, re-score until a condition stops it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "cli_model.h"
#include "prune_iter.h"
#include "nnprune/io.h"
#include "nnprune/criteria.h"
#include "nnprune/iterative.h"
#include "nnprune/pipeline.h"
#include "nnprune/report.h"
#include "nnprune/stats.h"

void prune_iter_init(prune_iter *it)
{
	memset(it, 0, sizeof *it);
	it->until_drop = NAN;
	it->holdout = PRUNE_ITER_DEFAULT_HOLDOUT;
}

int prune_iter_is_option(int id)
{
	return id >= CLI_I_ITERATIVE && id <= CLI_I_FT_EVERY;
}

/* "P%" or "P" (a percentage in [lo, hi]) into *v. */
static int percent(const cli_parser *p, const char *opt, const char *arg, double lo, double hi,
                   double *v)
{
	char buf[64];
	size_t n = strlen(arg);
	if (n == 0 || n >= sizeof buf)
		return cli_usage_error(p, "%s: '%s' is not a percentage", opt, arg), -1;
	memcpy(buf, arg, n + 1);
	if (buf[n - 1] == '%')
		buf[n - 1] = '\0';
	return cli_double(p, opt, buf, lo, hi, v);
}

int prune_iter_arg(const cli_parser *p, prune_iter *it, int id, const char *arg)
{
	static const char *const names[] = { "--iterative", "--step", "--until-drop",
		                             "--min-neurons", "--holdout", "--trace",
		                             "--finetune-every" };
	if (!it->first && id != CLI_I_ITERATIVE)
		it->first = names[id - CLI_I_ITERATIVE];
	uint64_t v;
	switch (id) {
	case CLI_I_ITERATIVE: it->on = 1; return 0;
	case CLI_I_STEP: {
		size_t n = strlen(arg);
		if (n > 1 && arg[n - 1] == '%') {
			it->step = 0;
			return percent(p, "--step", arg, 1e-9, 100, &it->step_percent);
		}
		if (cli_size(p, "--step", arg, 1, NNP_MAX_WIDTH, &v))
			return -1;
		it->step = (size_t)v;
		it->step_percent = 0;
		return 0;
	}
	case CLI_I_UNTIL_DROP: return cli_double(p, "--until-drop", arg, 0, 100, &it->until_drop);
	case CLI_I_MIN_NEURONS:
		return cli_size(p, "--min-neurons", arg, 1, NNP_MAX_WIDTH, &it->min_neurons);
	case CLI_I_HOLDOUT:
		it->holdout_set = 1;
		return percent(p, "--holdout", arg, 0, 90, &it->holdout);
	case CLI_I_FT_EVERY:
		return cli_size(p, "--finetune-every", arg, 1, UINT32_MAX, &it->finetune_every);
	default: it->trace = arg; return 0;
	}
}

int prune_iter_check_ft(const cli_parser *p, const prune_iter *it, const cli_finetune *ft,
                        nnp_method method)
{
	if (it->finetune_every && !ft->data)
		return cli_usage_error(p, "--finetune-every K needs --finetune DATA (the labelled "
		                          "rows it trains on)"), -1;
	if (ft->data && !it->finetune_every)
		return cli_usage_error(p, "--finetune with --iterative needs --finetune-every K "
		                          "(fine-tune after every K-th step)"), -1;
	if (ft->gradual)
		return cli_usage_error(p, "--schedule gradual does not go with --iterative "
		                          "(--finetune-every K fine-tunes between its steps)"), -1;
	return cli_finetune_check(p, ft, method);
}

void prune_iter_help(void)
{
	printf("Iterative (--iterative: instead of a budget, remove the least important\n"
	       "neurons a step at a time, re-scoring the network as it now is, with the\n"
	       "method's compensation; a step is shared among the layers in proportion to the\n"
	       "neurons each has above the minimum; stops at the first condition met):\n"
	       "  --iterative        prune by a ranking method (not rule or magnitude) with a\n"
	       "                     stopping condition; DATA is held in memory\n"
	       "  --step N|P%%        neurons removed per step, or P%% of the hidden neurons\n"
	       "                     left (at least 1; default 1)\n"
	       "  --until-drop PTS   stop before the step that takes the accuracy on the\n"
	       "                     held-out rows more than PTS points below the original's\n"
	       "  --target-params N|P%%  stop once the model has at most N parameters (P%% of\n"
	       "                     the original's)\n"
	       "  --min-neurons N    every hidden layer keeps at least N neurons (default 1;\n"
	       "                     the loop stops when none is left to remove)\n"
	       "  --holdout P%%       the last P%% of the calibration rows are held out (not\n"
	       "                     scored on) to measure the accuracy (default %g%%; labelled\n"
	       "                     rows only; 0: none); with --eval DATA, DATA's rows are\n"
	       "                     held out instead and every calibration row calibrates\n"
	       "  --trace FILE       the trace, one line per step (step, params, accuracy,\n"
	       "                     neurons per layer), as CSV (default OUT.trace.csv), and\n"
	       "                     beside it (.svg) the report plot of the original and the\n"
	       "                     model written with the trace as a line (held-out rows\n"
	       "                     only)\n"
	       "  --finetune-every K  after every K-th step's pruning, fine-tune the model\n"
	       "                     with the fine-tuning options (--finetune DATA required;\n"
	       "                     --finetune-epochs, --finetune-lr, --finetune-seed, the\n"
	       "                     same seed each time, --optimizer, --lr-schedule,\n"
	       "                     --distill) before its accuracy is measured; the trace\n"
	       "                     gains a column finetuned (1 on those steps)\n"
	       "  The model written is the last that met the conditions; the stop reason is\n"
	       "  printed.\n",
	       PRUNE_ITER_DEFAULT_HOLDOUT);
}

/* "a.trace.csv" -> "a.trace.svg"; else PATH.svg. malloc'd. */
static char *svg_path(const char *csv)
{
	size_t n = strlen(csv);
	char *s = malloc(n + 5);
	if (!s)
		return NULL;
	memcpy(s, csv, n + 1);
	if (n > 4 && !strcmp(s + n - 4, ".csv"))
		memcpy(s + n - 4, ".svg", 5);
	else
		memcpy(s + n, ".svg", 5);
	return s;
}

/* The report plot of the run (report.svg's layout): the original and the
 * model written as a one-candidate sweep judged on the held-out rows, and
 * the trace as the path between them. Needs held-out accuracy (t->rows). */
static int write_plot(const char *path, const prune_iter *it, const prune_iter_run *r,
                      const nnp_model *m, const nnp_model *pm, const nnp_iter_trace *t,
                      const char *held_name, size_t calib_rows, nnp_err *err)
{
	size_t H = m->n_layers - 1;
	nnp_stats *st = NULL;
	char *svg = NULL, label[96];
	size_t len = 0;
	nnp_sweep *sw = calloc(1, sizeof *sw);
	nnp_keep *k = calloc(1, sizeof *k);
	if (sw)
		sw->c = calloc(1, sizeof *sw->c);
	if (k)
		k->count = calloc(H ? H : 1, sizeof *k->count);
	if (!sw || !sw->c || !k || !k->count) {
		nnp_keep_free(k);
		nnp_sweep_free(sw);
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	}
	k->n_layers = H;
	for (size_t l = 0; l < H; l++)
		k->count[l] = pm->layers[l].out;
	sw->n = sw->n_unique = 1;
	sw->rows = t->rows;
	nnp_candidate *o = &sw->original, *c = &sw->c[0];
	o->thr.mean = o->thr.std = c->thr.mean = c->thr.std = NAN;
	o->same_as = c->same_as = NNP_NO_DUP;
	c->keep = k;
	c->kind = NNP_CAND_BUDGET;
	c->budget.widths = 1;
	o->params = t->params[0];
	c->params = t->params[t->kept];
	o->accuracy = t->accuracy[0];
	o->agreement = 1.0;
	c->accuracy = t->accuracy[t->kept];
	c->agreement = NAN;
	c->accuracy_drop = 100.0 * ((double)t->correct[0] - (double)t->correct[t->kept]) /
	                   (double)t->rows;
	c->reduction = 100.0 * ((double)o->params - (double)c->params) / (double)o->params;
	snprintf(label, sizeof label, "%s, stop: %s", it->finetune_every ? "iterative + ft"
	                                                                    : "iterative path",
	         nnp_iter_stop_name(t->stop));
	nnp_report_trace tr = { t->n, t->params, t->accuracy,
		                it->finetune_every ? t->finetuned : NULL, t->kept, label };
	nnp_report_info info;
	nnp_report_info_init(&info);
	info.model_path = r->model_path;
	info.model_name = m->name;
	info.data_path = held_name;
	info.rows = t->rows;
	info.method = nnp_method_name(r->me->mo.method);
	info.compensate = nnp_compensate_name(r->me->mo.compensate);
	if (nnp_method_uses_ridge(&r->me->mo))
		info.lambda_rel = r->me->mo.lambda_rel;
	info.calib_path = r->me->calib;
	info.calib_rows = calib_rows;
	info.max_drop = it->until_drop;
	info.best = 0;   /* the model written: it met the conditions */
	info.trace = &tr;
	int rc = nnp_sweep_mark_pareto(o, sw->c, 1, "plot", err);
	if (!rc)
		rc = nnp_stats_create(&st, m, err);
	if (!rc)
		rc = nnp_report_render(&svg, &len, NNP_REPORT_SVG, sw, st, &info, err);
	if (!rc)
		rc = nnp_write_file_atomic(path, svg, len, err);
	free(svg);
	nnp_stats_free(st);
	nnp_sweep_free(sw);
	return rc;
}

/* --finetune-every K: the hook's state. */
typedef struct iter_ft {
	const nnp_dataset *rows;   /* --finetune DATA, labelled */
	nnp_train_opts o;
	size_t done;               /* fine-tunings run */
} iter_ft;

/* Fine-tunes *m in place as `prune --finetune` does (the space its
 * provenance records, one training thread: the same weights for any -j). */
static int finetune_step(void *ctx, nnp_model **m, size_t step, nnp_err *err)
{
	iter_ft *f = ctx;
	nnp_train_opts o = f->o;
	o.input_scale = nnp_provenance_scale(*m);
	o.model_takes_raw = 1;
	o.threads = 1;
	int rc = nnp_train(*m, f->rows, NULL, &o, NULL, err);
	if (rc) {
		char what[sizeof err->msg];
		snprintf(what, sizeof what, "%s", err->msg);
		return nnp_err_set(err, rc, "step %zu: fine-tuning: %s", step, what);
	}
	f->done++;
	return NNP_OK;
}

/* Loads --finetune DATA (labelled) and the training options into *f. */
static int finetune_load(iter_ft *f, nnp_dataset **rows, nnp_model **teacher,
                         const prune_iter_run *r, const nnp_model *m, nnp_err *err)
{
	const cli_finetune *ft = r->ft;
	const nnp_model *tm = NULL;
	nnp_data_opts o = *r->data;
	o.labels_path = ft->labels;
	o.labels_option = "--finetune-labels FILE";
	o.expect_features = m->input_size;
	o.n_classes = nnp_model_outputs(m);
	int rc = nnp_dataset_load(rows, ft->data, &o, UINT64_MAX, err);
	if (!rc && !(*rows)->y)
		rc = nnp_err_set(err, NNP_EINPUT, "%s: the fine-tuning rows have no labels (for IDX "
		                 "images, give --finetune-labels FILE)", ft->data);
	if (!rc)
		rc = cli_finetune_teacher(ft, m, teacher, &tm, err);
	if (!rc)
		rc = cli_finetune_train_opts(ft, tm, &f->o, err);
	f->rows = *rows;
	return rc;
}

/* The provenance: prune's, with the kept widths and an "iterative" member. */
static char *provenance(const prune_iter *it, const prune_iter_run *r, const nnp_model *m,
                        const nnp_model *pm, const nnp_calib *c, const nnp_iter_trace *t,
                        size_t held_rows, const iter_ft *ft)
{
	size_t H = pm->n_layers - 1;
	size_t *w = calloc(H ? H : 1, sizeof *w);
	if (!w)
		return NULL;
	for (size_t l = 0; l < H; l++)
		w[l] = pm->layers[l].out;
	nnp_prov pv;
	nnp_prov_init(&pv);
	pv.src = m;
	pv.src_path = r->model_path;
	pv.src_crc = r->model_crc;
	pv.method = nnp_method_name(r->me->mo.method);
	pv.compensate = nnp_compensate_name(r->me->mo.compensate);
	if (nnp_method_uses_ridge(&r->me->mo))
		pv.lambda_rel = r->me->mo.lambda_rel;
	pv.calib = c;
	pv.widths = w;
	pv.n_widths = H;
	char *s = nnp_provenance_prune(&pv);
	free(w);
	cJSON *o = s ? cJSON_Parse(s) : NULL;
	free(s);
	if (!o)
		return NULL;
	cJSON *i = cJSON_AddObjectToObject(o, "iterative");
	if (it->step)
		cJSON_AddNumberToObject(i, "step", (double)it->step);
	else if (it->step_percent > 0)
		cJSON_AddNumberToObject(i, "step_percent", it->step_percent);
	else
		cJSON_AddNumberToObject(i, "step", 1);
	if (!isnan(it->until_drop))
		cJSON_AddNumberToObject(i, "until_drop", it->until_drop);
	if (r->target_text)
		cJSON_AddStringToObject(i, "target", r->target_text);
	cJSON_AddNumberToObject(i, "min_neurons", it->min_neurons ? (double)it->min_neurons : 1);
	cJSON_AddNumberToObject(i, "held_out_rows", (double)held_rows);
	cJSON_AddStringToObject(i, "stop", nnp_iter_stop_name(t->stop));
	cJSON_AddNumberToObject(i, "steps", (double)t->kept);
	if (ft) {
		/* The recipe, and how many of the kept model's steps were fine-tuned. */
		const nnp_train_opts *to = &ft->o;
		size_t n = 0;
		for (size_t k = 0; k <= t->kept; k++)
			n += t->finetuned[k];
		cJSON *f = cJSON_AddObjectToObject(i, "finetune");
		cJSON_AddNumberToObject(f, "every", (double)it->finetune_every);
		cJSON_AddNumberToObject(f, "times", (double)n);
		cJSON_AddStringToObject(f, "data", r->ft->data);
		cJSON_AddNumberToObject(f, "epochs", (double)to->epochs);
		cJSON_AddStringToObject(f, "optimizer", nnp_optimizer_name(to->optimizer));
		char lr[32];   /* a float: its 7 digits, not the double's noise */
		snprintf(lr, sizeof lr, "%.7g", (double)to->lr);
		cJSON_AddNumberToObject(f, "lr", strtod(lr, NULL));
		cJSON_AddStringToObject(f, "lr_schedule", nnp_lr_schedule_name(to->lr_schedule));
		cJSON_AddNumberToObject(f, "seed", (double)to->seed);
		if (to->teacher) {
			cJSON_AddNumberToObject(f, "distill_t", (double)to->distill_t);
			cJSON_AddNumberToObject(f, "distill_alpha", (double)to->distill_alpha);
		}
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int prune_iterative(const prune_iter *it, const prune_iter_run *r, const nnp_model *m)
{
	nnp_err err;
	nnp_err_clear(&err);
	int rc = NNP_EXIT_OK;
	nnp_calib c;
	memset(&c, 0, sizeof c);
	nnp_model *pm = NULL;
	nnp_iter_trace *t = NULL;
	nnp_dataset *ev = NULL;     /* --eval DATA */
	nnp_dataset *ftd = NULL;    /* --finetune DATA */
	nnp_model *teacher = NULL;  /* --teacher's */
	iter_ft ft;
	memset(&ft, 0, sizeof ft);
	int tuning = it->finetune_every && r->ft && r->ft->data;
	char *trace_path = NULL, *svg = NULL, *csv = NULL, *prov = NULL;
	size_t csv_len = 0;
	if (it->trace)
		trace_path = strdup(it->trace);
	else if ((trace_path = malloc(strlen(r->out) + 16)))
		sprintf(trace_path, "%s.trace.csv", r->out);
	if (!trace_path || !(svg = svg_path(trace_path))) {
		nnp_err_set(&err, NNP_ENOMEM, "out of memory");
		goto fail;
	}
	const char *outs[] = { trace_path, svg };
	const char *ins[] = { r->model_path, r->me->calib, r->data->labels_path, r->out, r->eval,
		              r->eval_labels, tuning ? r->ft->data : NULL,
		              tuning ? r->ft->labels : NULL };
	for (size_t o = 0; o < 2; o++) {
		for (size_t k = 0; k < sizeof ins / sizeof ins[0]; k++)
			if (ins[k] && nnp_same_file(outs[o], ins[k])) {
				nnp_err_set(&err, NNP_EOUTPUT, "%s: refusing to write over %s", outs[o],
				            k == 3 ? "the model written" : "an input file");
				goto fail;
			}
		if (cli_check_output(outs[o], &err))
			goto fail;
	}
	/* Held in memory whatever their size: every step reads them again. */
	if (nnp_calib_load(&c, r->me->calib, r->data, m->input_size, r->me->calib_rows,
	                   UINT64_MAX, &err))
		goto fail;
	nnp_dataset cal = c.labelled, held = { 0, cal.features, NULL, NULL };
	if (r->eval) {
		/* Held-out rows of their own: every calibration row calibrates. */
		nnp_data_opts eo = *r->data;
		eo.labels_path = r->eval_labels;
		eo.labels_option = "--eval-labels FILE";
		eo.expect_features = m->input_size;
		eo.n_classes = nnp_model_outputs(m);
		if (nnp_dataset_load(&ev, r->eval, &eo, UINT64_MAX, &err))
			goto fail;
		if (!ev->y) {
			nnp_err_set(&err, NNP_EINPUT, "%s: the held-out rows have no labels (for IDX "
			            "images, give --eval-labels FILE)", r->eval);
			goto fail;
		}
		held = *ev;
	} else if (cal.y && it->holdout > 0) {
		size_t h = (size_t)floor((double)cal.rows * it->holdout / 100.0);
		h = h ? h : 1;
		if (h >= cal.rows) {
			nnp_err_set(&err, NNP_EINPUT, "%s: %zu rows: too few to hold %g%% out",
			            r->me->calib, cal.rows, it->holdout);
			goto fail;
		}
		cal.rows -= h;
		held.rows = h;
		held.x = cal.x + cal.rows * cal.features;
		held.y = cal.y + cal.rows;
	}
	if (!isnan(it->until_drop) && !held.rows && !r->eval) {
		nnp_err_set(&err, NNP_EUSAGE, "%s: --until-drop measures the accuracy on held-out "
		            "calibration rows: they need labels%s", r->me->calib,
		            cal.y ? " and --holdout above 0" : " (--calib-labels FILE for IDX images)");
		goto fail;
	}
	if (tuning && finetune_load(&ft, &ftd, &teacher, r, m, &err))
		goto fail;
	nnp_iter_opts io = NNP_ITER_OPTS_INIT;
	if (tuning) {
		io.finetune_every = (size_t)it->finetune_every;
		io.finetune = finetune_step;
		io.finetune_ctx = &ft;
	}
	io.method = r->me->mo;
	io.step = it->step;
	io.step_percent = it->step_percent;
	io.until_drop = isnan(it->until_drop) ? -1.0 : it->until_drop;
	io.target_params = r->target_params;
	io.target_percent = r->target_percent;
	io.min_neurons = (size_t)it->min_neurons;
	/* The labels only for a method that needs them. */
	const nnp_criterion *cr = nnp_criterion_at((size_t)r->me->mo.method);
	if (cr && !(cr->needs & NNP_NEEDS_LABELS))
		cal.y = NULL;
	else if (!cal.y) {
		nnp_err_set(&err, NNP_EINPUT, "%s: the calibration rows have no labels, and method "
		            "%s needs them (a label column in CSV; for IDX images, give "
		            "--calib-labels FILE)", r->me->calib, cr ? cr->name : "?");
		goto fail;
	}
	if (nnp_prune_iterative(m, &cal, held.rows ? &held : NULL, &io, &pm, &t, &err))
		goto fail;
	if (!(prov = provenance(it, r, m, pm, &c, t, held.rows, tuning ? &ft : NULL))) {
		nnp_err_set(&err, NNP_ENOMEM, "out of memory");
		goto fail;
	}
	char held_name[600];
	if (r->eval)
		snprintf(held_name, sizeof held_name, "%s", r->eval);
	else
		snprintf(held_name, sizeof held_name, "%s (the last %g%%, held out)", r->me->calib,
		         it->holdout);
	if (nnp_model_set_provenance(pm, prov, &err) ||
	    nnp_iter_trace_csv(t, &csv, &csv_len, &err))
		goto fail;
	nnp_format fmt = cli_format_pick(r->format, nnp_format_of_path(r->out));
	if (nnp_model_save_opts(pm, r->out, fmt, NULL, &err) ||
	    nnp_write_file_atomic(trace_path, csv, csv_len, &err) ||
	    (t->rows && write_plot(svg, it, r, m, pm, t, held_name, cal.rows, &err)))
		goto fail;
	if (!r->quiet) {
		char before[256], after[256], acc[224] = "";
		prune_widths_text(m, before, sizeof before);
		prune_widths_text(pm, after, sizeof after);
		if (t->rows)
			snprintf(acc, sizeof acc, "; held-out accuracy %.2f%% -> %.2f%% on %llu rows",
			         100 * t->accuracy[0], 100 * t->accuracy[t->kept],
			         (unsigned long long)t->rows);
		if (tuning)
			snprintf(acc + strlen(acc), sizeof acc - strlen(acc), "; fine-tuned %zu "
			         "time%s (every %llu steps)", ft.done, ft.done == 1 ? "" : "s",
			         (unsigned long long)it->finetune_every);
		printf("%s: %s + %s iterative on %zu calibration rows: stopped (%s) after %zu "
		       "step%s, the model of step %zu written: %zu -> %zu parameters, hidden %s -> "
		       "%s%s; written to %s, trace %s%s%s\n", r->model_path,
		       nnp_method_name(r->me->mo.method), nnp_compensate_name(r->me->mo.compensate),
		       cal.rows, nnp_iter_stop_name(t->stop), t->n - 1, t->n == 2 ? "" : "s", t->kept,
		       nnp_model_params(m), nnp_model_params(pm), before, after, acc, r->out,
		       trace_path, t->rows ? " and its plot " : " (no plot: no held-out rows)",
		       t->rows ? svg : "");
	}
	goto done;
fail:
	rc = cli_fail(&err);
done:
	free(trace_path);
	free(svg);
	free(csv);
	free(prov);
	nnp_iter_trace_free(t);
	nnp_model_free(pm);
	nnp_calib_free(&c);
	nnp_dataset_free(ev);
	nnp_dataset_free(ftd);
	nnp_model_free(teacher);
	return rc;
}
