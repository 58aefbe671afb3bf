/* nnprune sweep: the reports on disk, the table on stdout, the verdict on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd_sweep.h"
#include "nnprune/report.h"

/* The report's header: what ran, on what, and what was selected. */
static void report_info(nnp_report_info *info, const sweep_cfg *cfg, const nnp_pipeline *pl,
                        const nnp_model *m, const char *model_path, const char *data_path)
{
	nnp_report_info_init(info);
	info->model_path = model_path;
	info->model_name = m->name;
	info->data_path = data_path;
	info->rows = pl->sw->rows;
	info->fold = cfg->fold;
	info->min_keep = (size_t)cfg->min_keep;
	info->max_drop = cfg->max_drop;
	if (pl->calibrated) {
		info->method = nnp_method_name(cfg->me.mo.method);
		info->compensate = nnp_compensate_name(cfg->me.mo.compensate);
		if (nnp_method_uses_ridge(&cfg->me.mo))
			info->lambda_rel = cfg->me.mo.lambda_rel;
		/* A copy of the evaluation data is no separate calibration set. */
		info->calib_path = pl->calib_separate ? cfg->me.calib : NULL;
		info->calib_rows = pl->calib.rows;
	}
	if (cfg->ft.data) {
		info->ft_epochs = (size_t)cfg->ft.epochs;
		info->ft_data_path = cfg->ft.data;
		info->ft_lr = isnan(cfg->ft.lr) ? (double)pl->o.ft_train.lr : cfg->ft.lr;
		info->ft_seed = cfg->ft.seed;
	}
	info->best = pl->best;
}

/* The table's closing line on stdout. */
static void summary(const sweep_cfg *cfg, const nnp_pipeline *pl, const nnp_report_info *info)
{
	const nnp_sweep *sw = pl->sw;
	printf("\n%zu candidates (%zu distinct) evaluated on %llu rows; ", sw->n, sw->n_unique,
	       (unsigned long long)sw->rows);
	if (pl->calibrated && info->calib_path)
		printf("%s + %s calibrated on %s (%zu rows); ", info->method, info->compensate,
		       cfg->me.calib, pl->calib.rows);
	else if (pl->calibrated)
		printf("%s + %s calibrated on the evaluation data itself; ", info->method,
		       info->compensate);
	if (cfg->ft.data)
		printf("%zu distinct model%s and the original fine-tuned for %llu epoch%s on %s; ",
		       pl->n_ft_jobs - 1, pl->n_ft_jobs == 2 ? "" : "s",
		       (unsigned long long)cfg->ft.epochs, cfg->ft.epochs == 1 ? "" : "s",
		       cfg->ft.data);
	printf("models and report in %s/ (report.md, report.csv, report.json, report.svg, "
	       "stats.svg)\n", cfg->out_dir);
}

/* The verdict of --max-drop on stderr, and --best written; an exit code. */
static int verdict(const sweep_cfg *cfg, nnp_pipeline *pl, nnp_err *err)
{
	const nnp_sweep *sw = pl->sw;
	char bt[96];
	if (pl->best == NNP_NO_DUP) {
		const nnp_candidate *c = pl->closest != NNP_NO_DUP ? &sw->c[pl->closest] : NULL;
		const char *what = cfg->ft.data ? " after fine-tuning" : "";
		const char *file = c ? (cfg->ft.data ? c->ft_file : c->file) : NULL;
		if (c) {
			nnp_candidate_budget_text(bt, sizeof bt, c);
			fprintf(stderr, "nnprune: sweep: no candidate within %g points of the original "
			        "accuracy%s; closest: %s with a drop of %.2f points (%s)\n", cfg->max_drop,
			        what, bt, cfg->ft.data ? c->ft_drop : c->accuracy_drop, file ? file : "-");
		} else
			fprintf(stderr, "nnprune: sweep: no candidate within %g points of the original "
			        "accuracy%s\n", cfg->max_drop, what);
		return NNP_EXIT_GATE;
	}
	const nnp_candidate *b = &sw->c[pl->best];
	nnp_candidate_budget_text(bt, sizeof bt, b);
	/* With --finetune the gate judged the fine-tuned model: that is the one to keep. */
	if (cfg->best_path && nnp_pipeline_write(pl, pl->best, cfg->ft.data != NULL,
	                                         cfg->best_path, err))
		return cli_fail(err);
	if (!cfg->json && cfg->ft.data)
		fprintf(stderr, "nnprune: sweep: selected %s: %.1f%% fewer parameters, accuracy "
		        "drop after fine-tuning %.2f points (%.2f against the fine-tuned "
		        "original; %.2f before fine-tuning)%s%s\n", bt, b->reduction, b->ft_drop,
		        b->ft_drop_vs_ft, b->accuracy_drop, cfg->best_path ? ", written to " : "",
		        cfg->best_path ? cfg->best_path : "");
	else if (!cfg->json)
		fprintf(stderr, "nnprune: sweep: selected %s: %.1f%% fewer parameters, accuracy "
		        "drop %.2f points%s%s\n", bt, b->reduction, b->accuracy_drop,
		        cfg->best_path ? ", written to " : "", cfg->best_path ? cfg->best_path : "");
	return NNP_EXIT_OK;
}

/* Reports on disk and on stdout, then the verdict. */
int sweep_report(const sweep_cfg *cfg, nnp_pipeline *pl, const nnp_model *m,
                  const char *model_path, const char *data_path, nnp_err *err)
{
	nnp_report_info info;
	report_info(&info, cfg, pl, m, model_path, data_path);
	char *json = NULL;
	int rc = nnp_report_write(cfg->out_dir, pl->sw, pl->stats, &info, err);
	if (!rc)
		rc = nnp_report_write_html(cfg->out_dir, pl->sw, pl->stats, &info, err);
	if (!rc && cfg->json) {
		rc = nnp_report_render(&json, NULL, NNP_REPORT_JSON, pl->sw, pl->stats, &info, err);
		if (!rc)
			fputs(json, stdout);
		free(json);
	} else if (!rc && !cfg->quiet) {
		rc = nnp_report_table(stdout, pl->sw, pl->stats, &info, err);
		if (!rc)
			summary(cfg, pl, &info);
	}
	if (rc)
		return cli_fail(err);
	/* The verdict goes to stderr after the table: keep them in that order on a terminal. */
	fflush(stdout);
	return isnan(cfg->max_drop) ? NNP_EXIT_OK : verdict(cfg, pl, err);
}

