/* nnprune sweep: the reports on disk, the table on stdout, the verdict on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd_sweep.h"
#include "nnprune/report.h"

/* The report's header: what ran, on what, and what was selected. */
static void report_info(nnp_report_info *info, const sweep_cfg *cfg, const nnp_pipeline *pl,
                        const nnp_model *m, const char *model_path, const char *data_path,
                        const char *stats_data)
{
	nnp_report_info_init(info);
	info->model_path = model_path;
	info->model_name = m->name;
	info->data_path = data_path;
	info->rows = pl->sw->rows;
	info->stats_path = cfg->stats_path;
	if (cfg->oo.eval) {
		info->stats_data_path = stats_data;
		info->stats_rows = pl->o.stats ? pl->o.stats->rows : 0;
	}
	info->fold = cfg->fold;
	info->min_keep = (size_t)cfg->min_keep;
	info->max_drop = cfg->oo.gates.max_drop;
	info->gates = &cfg->oo.gates;
	if (pl->verdict.gated)
		info->verdict = &pl->verdict;
	info->write_mode = nnp_write_mode_name(cfg->oo.write);
	/* Held out: the method computed on the statistics' rows, not the judging ones. */
	if (cfg->oo.eval) {
		info->calib_path = stats_data;
		info->calib_rows = pl->calibrated ? pl->calib.rows : info->stats_rows;
	}
	if (pl->calibrated) {
		info->method = nnp_method_name(cfg->me.mo.method);
		info->compensate = nnp_compensate_name(cfg->me.mo.compensate);
		if (nnp_method_uses_ridge(&cfg->me.mo))
			info->lambda_rel = cfg->me.mo.lambda_rel;
		/* A copy of the evaluation data is no separate calibration set. */
		info->calib_path = pl->calib_separate ? cfg->me.calib : cfg->oo.eval ? stats_data : NULL;
		info->calib_rows = pl->calib.rows;
	}
	if (cfg->ft.data) {
		info->ft_epochs = (size_t)cfg->ft.epochs;
		info->ft_data_path = cfg->ft.data;
		info->ft_lr = isnan(cfg->ft.lr) ? (double)pl->o.ft_train.lr : cfg->ft.lr;
		info->ft_seed = cfg->ft.seed;
		info->ft_schedule = cfg->ft.gradual ? "gradual" : "oneshot";
		info->ft_optimizer = nnp_optimizer_name(pl->o.ft_train.optimizer);
		info->ft_lr_schedule = nnp_lr_schedule_name(pl->o.ft_train.lr_schedule);
		if (cfg->ft.distill) {
			info->ft_distill_t = cfg->ft.distill_t;
			info->ft_distill_alpha = cfg->ft.distill_alpha;
			info->ft_teacher = cfg->ft.teacher;
		}
	}
	info->best = pl->best;
}

/* The table's closing line on stdout. */
static void summary(const sweep_cfg *cfg, const nnp_pipeline *pl, const nnp_report_info *info)
{
	const nnp_sweep *sw = pl->sw;
	printf("\n%zu candidates (%zu distinct) evaluated on %llu rows%s%s%s; ", sw->n,
	       sw->n_unique, (unsigned long long)sw->rows, cfg->oo.eval ? " of " : "",
	       cfg->oo.eval ? cfg->oo.eval : "", cfg->oo.eval ? " (held out)" : "");
	if (pl->calibrated && info->calib_path)
		printf("%s + %s calibrated on %s (%zu rows); ", info->method, info->compensate,
		       info->calib_path, pl->calib.rows);
	else if (pl->calibrated)
		printf("%s + %s calibrated on the evaluation data itself; ", info->method,
		       info->compensate);
	if (cfg->ft.data)
		printf("%zu distinct model%s and the original fine-tuned for %llu epoch%s on %s%s%s; ",
		       pl->n_ft_jobs - 1, pl->n_ft_jobs == 2 ? "" : "s",
		       (unsigned long long)cfg->ft.epochs, cfg->ft.epochs == 1 ? "" : "s",
		       cfg->ft.data, cfg->ft.gradual ? ", pruned gradually" : "",
		       cfg->ft.distill ? ", distilled" : "");
	printf("models and report in %s/ (report.md, report.csv, report.json, report.svg, "
	       "stats.svg)\n", cfg->out_dir);
}

/* --best written: the fine-tuned model when the gates judged those. */
static int write_best(void *ctx, const char *path, nnp_err *err)
{
	nnp_pipeline *pl = ctx;
	return nnp_pipeline_write(pl, pl->best, pl->verdict.finetuned, path, err);
}

/* The gates' verdict on stderr, --best written or removed; an exit code. */
static int verdict(const sweep_cfg *cfg, nnp_pipeline *pl, nnp_err *err)
{
	const nnp_gate_result *v = &pl->verdict;
	if (!v->gated)
		return NNP_EXIT_OK;
	if (cli_best_finish(&cfg->oo, v, cfg->quiet, write_best, pl, err))
		return cli_fail(err);
	/* A shard's numbers count its own candidates; report.json maps them. */
	char shard[64] = "";
	if (cfg->oo.shard_n)
		snprintf(shard, sizeof shard, "shard %llu/%llu (#: within the shard): ",
		         (unsigned long long)cfg->oo.shard_i, (unsigned long long)cfg->oo.shard_n);
	if (v->best == NNP_NO_DUP) {
		fprintf(stderr, "nnprune: sweep: %s%s\n", shard, v->message);
		return NNP_EXIT_GATE;
	}
	if (!cfg->json)
		fprintf(stderr, "nnprune: sweep: %s%s%s%s\n", shard, v->message,
		        cfg->oo.best ? "; written to " : "", cfg->oo.best ? cfg->oo.best : "");
	return NNP_EXIT_OK;
}

/* Reports on disk and on stdout, then the verdict. */
int sweep_report(const sweep_cfg *cfg, nnp_pipeline *pl, const nnp_model *m,
                 const char *model_path, const char *data_path, const nnp_stats_source *src,
                 const size_t *index_map, size_t n_total, nnp_err *err)
{
	nnp_report_info info;
	const char *stats_data = cfg->data_path ? cfg->data_path : src->data_path;
	report_info(&info, cfg, pl, m, model_path, data_path, stats_data);
	if (cfg->oo.shard_n) {
		info.shard_index = (size_t)cfg->oo.shard_i;
		info.shard_count = (size_t)cfg->oo.shard_n;
		info.index_map = index_map;
		info.n_total = n_total;
	}
	char *json = NULL;
	nnp_manifest man = { 0 };
	/* Sizes of the files as written, then the run's files in its manifest. */
	int rc = nnp_sweep_measure(pl->sw, pl->o.out.format, err);
	if (!rc)
		rc = nnp_manifest_of_run(&man, cfg->out_dir, pl->sw, err);
	info.manifest = &man;
	if (!rc)
		rc = nnp_report_write(cfg->out_dir, pl->sw, pl->stats, &info, err);
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
	nnp_manifest_free(&man);
	if (rc)
		return cli_fail(err);
	/* The verdict goes to stderr after the table: keep them in that order on a terminal. */
	fflush(stdout);
	return verdict(cfg, pl, err);
}

