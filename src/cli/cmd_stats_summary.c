/* nnprune stats: the summary printed after a run (text or JSON); eval's metrics line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "cli.h"
#include "nnprune/stats.h"

/* One line of accuracy and loss (stats' summary, and eval). */
void cli_print_metrics_line(const nnp_metrics *mt)
{
	if (mt->labelled)
		printf("accuracy %.2f%%, %s %.4f on %llu labelled rows\n",
		       100.0 * nnp_metrics_accuracy(mt), mt->mse ? "MSE" : "cross-entropy",
		       nnp_metrics_loss(mt), (unsigned long long)mt->labelled);
	else
		printf("no labels: accuracy not measured\n");
}

/* Reference thresholds shown in the summary, so the user sees what a sweep finds. */
static const double ref_thr[][2] = { { 0.05, 0.1 }, { 0.1, 0.4 }, { 0.5, 1.0 } };
#define N_REF (sizeof ref_thr / sizeof ref_thr[0])

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Quantile by linear interpolation on a sorted copy. */
static double quantile(const double *sorted, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;
	if (i + 1 >= n)
		return sorted[n - 1];
	double f = pos - (double)i;
	return sorted[i] * (1 - f) + sorted[i + 1] * f;
}

static const double qs[] = { 0.0, 0.25, 0.5, 0.75, 1.0 };
#define N_Q (sizeof qs / sizeof qs[0])

typedef struct layer_summary {
	double absmean_q[N_Q], std_q[N_Q];
	size_t under[N_REF];
	size_t dead;  /* zero on every row */
} layer_summary;

static int summarise(const nnp_layer_stats *ls, layer_summary *out)
{
	size_t n = ls->neurons;
	double *a = malloc(n * sizeof *a), *s = malloc(n * sizeof *s);
	if (!a || !s) {
		free(a);
		free(s);
		return -1;
	}
	memset(out, 0, sizeof *out);
	for (size_t j = 0; j < n; j++) {
		a[j] = fabs(ls->mean[j]);
		s[j] = ls->std[j];
		for (size_t r = 0; r < N_REF; r++)
			if (a[j] <= ref_thr[r][0] && s[j] <= ref_thr[r][1])
				out->under[r]++;
		if (ls->zero_fraction[j] >= 1.0)
			out->dead++;
	}
	qsort(a, n, sizeof *a, cmp_double);
	qsort(s, n, sizeof *s, cmp_double);
	for (size_t q = 0; q < N_Q; q++) {
		out->absmean_q[q] = quantile(a, n, qs[q]);
		out->std_q[q] = quantile(s, n, qs[q]);
	}
	free(a);
	free(s);
	return 0;
}


static void print_summary_text(const nnp_stats *s, const char *out_path)
{
	printf("rows: %llu; model on these rows: ", (unsigned long long)s->rows);
	cli_print_metrics_line(&s->metrics);
	for (size_t l = 0; l < s->n_layers; l++) {
		const nnp_layer_stats *ls = &s->layers[l];
		layer_summary sm;
		if (summarise(ls, &sm))
			continue;
		printf("\nlayer %zu (%s, %zu neurons)%s\n", ls->layer, nnp_act_name(ls->act),
		       ls->neurons, "");
		printf("  %-7s %10s %10s %10s %10s %10s\n", "", "min", "25%", "median", "75%", "max");
		printf("  %-7s", "|mean|");
		for (size_t q = 0; q < N_Q; q++)
			printf(" %10.4g", sm.absmean_q[q]);
		printf("\n  %-7s", "std");
		for (size_t q = 0; q < N_Q; q++)
			printf(" %10.4g", sm.std_q[q]);
		printf("\n  under (|mean|, std) thresholds:");
		for (size_t r = 0; r < N_REF; r++)
			printf("%s (%g, %g): %zu", r ? "," : "", ref_thr[r][0], ref_thr[r][1],
			       sm.under[r]);
		printf("\n  never active (zero on every row): %zu\n", sm.dead);
	}
	printf("\nstatistics written to %s\n", out_path);
}

static char *summary_json(const nnp_stats *s, const char *out_path)
{
	cJSON *root = cli_json_begin("stats");
	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "stats_file", out_path);
	cJSON_AddNumberToObject(root, "rows", (double)s->rows);
	if (s->metrics.labelled) {
		cJSON_AddNumberToObject(root, "accuracy", nnp_metrics_accuracy(&s->metrics));
		cJSON_AddNumberToObject(root, "loss", nnp_metrics_loss(&s->metrics));
	}
	cJSON *layers = cJSON_AddArrayToObject(root, "layers");
	for (size_t l = 0; l < s->n_layers; l++) {
		const nnp_layer_stats *ls = &s->layers[l];
		layer_summary sm;
		if (summarise(ls, &sm))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "layer", (double)ls->layer);
		cJSON_AddNumberToObject(o, "neurons", (double)ls->neurons);
		cJSON_AddStringToObject(o, "activation", nnp_act_name(ls->act));
		cJSON_AddItemToObject(o, "quantiles", cJSON_CreateDoubleArray(qs, (int)N_Q));
		cJSON_AddItemToObject(o, "abs_mean", cJSON_CreateDoubleArray(sm.absmean_q, (int)N_Q));
		cJSON_AddItemToObject(o, "std", cJSON_CreateDoubleArray(sm.std_q, (int)N_Q));
		cJSON *u = cJSON_AddArrayToObject(o, "under");
		for (size_t r = 0; r < N_REF; r++) {
			cJSON *t = cJSON_CreateObject();
			cJSON_AddNumberToObject(t, "mean", ref_thr[r][0]);
			cJSON_AddNumberToObject(t, "std", ref_thr[r][1]);
			cJSON_AddNumberToObject(t, "neurons", (double)sm.under[r]);
			cJSON_AddItemToArray(u, t);
		}
		cJSON_AddNumberToObject(o, "never_active", (double)sm.dead);
		cJSON_AddItemToArray(layers, o);
	}
	char *txt = cJSON_Print(root);
	cJSON_Delete(root);
	return txt;
}

int cli_stats_summary(const nnp_stats *s, const char *out, int json, int quiet)
{
	if (json) {
		char *txt = summary_json(s, out);
		int rc = NNP_EXIT_OK;
		if (txt)
			printf("%s\n", txt);
		else
			rc = cli_json_print(NULL);
		free(txt);
		return rc;
	}
	if (!quiet)
		print_summary_text(s, out);
	return NNP_EXIT_OK;
}
