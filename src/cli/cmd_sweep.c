/* nnprune sweep: prune at every threshold pair, evaluate, write models and report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "cli.h"
#include "nnprune/io.h"
#include "nnprune/model.h"
#include "nnprune/report.h"
#include "nnprune/stats.h"
#include "nnprune/sweep.h"

#define SWEEP_DEFAULT_STATS "nnprune.stats.json"
#define SWEEP_DEFAULT_OUT "pruned"
#define SWEEP_DEFAULT_MEANS "0,0.05,0.1,0.2,0.5,1"
#define SWEEP_DEFAULT_STDS "0.1,0.2,0.4,0.6,1"
#define SWEEP_DEFAULT_MEM_LIMIT ((uint64_t)1 << 30)

static const char sweep_usage[] =
	"nnprune sweep [--stats FILE] [--mean LIST] [--std LIST] [--out DIR] [options]";

typedef struct sweep_cfg {
	const char *stats_path, *out_dir, *model_path, *data_path, *labels_path;
	const char *means_text, *stds_text, *best_path;
	uint64_t min_keep, mem_limit;
	int fold, json, quiet;
	nnp_format format;     /* 0: as the input model */
	double max_drop;       /* NAN: no gate */
	unsigned threads;
} sweep_cfg;

static void sweep_help(void)
{
	printf("usage: %s\n\n"
	       "Reads the statistics written by 'nnprune stats' and, for every pair of\n"
	       "thresholds (m, s), removes each hidden neuron with |mean| <= m and std <= s,\n"
	       "physically (smaller matrices). Every slimmed model is evaluated on the data\n"
	       "the statistics were taken on and written to DIR, with a report.\n\n"
	       "  --stats FILE       statistics file (default %s)\n"
	       "  --mean LIST        mean thresholds (default %s)\n"
	       "  --std LIST         std thresholds (default %s)\n"
	       "                     LIST: 0.1 | 0,0.1,0.5 | 0:1:0.1 (start:stop:step, ends included)\n"
	       "  -o, --out DIR      where models and reports go (default %s)\n"
	       "  --model FILE       the model, if it moved (it must be unchanged)\n"
	       "  --data FILE        the data, if it moved (it must be unchanged)\n"
	       "  --labels FILE      the IDX labels file, if it moved\n"
	       "  --min-keep N       neurons every hidden layer keeps at least (default 1)\n"
	       "  --no-fold          do not fold removed neurons' means into the next bias\n"
	       "  --format json|bin  format of the written models (default: the input's)\n"
	       "  --max-drop PTS     select the smallest model within PTS accuracy points;\n"
	       "                     exit 1 if none qualifies\n"
	       "  --best PATH        write the selected model to PATH (needs --max-drop)\n"
	       "  --json             print report.json on stdout and nothing else there\n"
	       "  --mem-limit BYTES  hold the data in memory up to this size, else stream\n"
	       "                     (suffix K, M or G; default 1G)\n"
	       "  -j, --threads N    worker threads (default: all cores)\n"
	       "  -q, --quiet        no table on stdout\n",
	       sweep_usage, SWEEP_DEFAULT_STATS, SWEEP_DEFAULT_MEANS, SWEEP_DEFAULT_STDS,
	       SWEEP_DEFAULT_OUT);
}

static int parse_bytes(const cli_parser *p, const char *text, uint64_t *out)
{
	char buf[64];
	size_t n = strlen(text);
	uint64_t mult = 1;
	if (n == 0 || n >= sizeof buf)
		return cli_usage_error(p, "--mem-limit: '%s' is not a size", text), -1;
	memcpy(buf, text, n + 1);
	char last = buf[n - 1];
	if (last == 'K' || last == 'k')
		mult = 1ull << 10;
	else if (last == 'M' || last == 'm')
		mult = 1ull << 20;
	else if (last == 'G' || last == 'g')
		mult = 1ull << 30;
	if (mult != 1)
		buf[n - 1] = '\0';
	uint64_t v;
	if (cli_size(p, "--mem-limit", buf, 0, UINT64_MAX / mult, &v))
		return -1;
	*out = v * mult;
	return 0;
}

static int parse_args(cli_parser *p, sweep_cfg *c)
{
	enum { O_STATS = 1, O_MEAN, O_STD, O_OUT, O_MODEL, O_DATA, O_LABELS, O_MINKEEP, O_NOFOLD,
	       O_FORMAT, O_MAXDROP, O_BEST, O_JSON, O_MEM, O_THREADS, O_QUIET, O_HELP };
	static const cli_opt opts[] = {
		{ "stats", 0, 1, O_STATS }, { "mean", 0, 1, O_MEAN }, { "std", 0, 1, O_STD },
		{ "out", 'o', 1, O_OUT }, { "model", 0, 1, O_MODEL }, { "data", 0, 1, O_DATA },
		{ "labels", 0, 1, O_LABELS }, { "min-keep", 0, 1, O_MINKEEP },
		{ "no-fold", 0, 0, O_NOFOLD }, { "format", 'f', 1, O_FORMAT },
		{ "max-drop", 0, 1, O_MAXDROP }, { "best", 0, 1, O_BEST }, { "json", 0, 0, O_JSON },
		{ "mem-limit", 0, 1, O_MEM }, { "threads", 'j', 1, O_THREADS },
		{ "quiet", 'q', 0, O_QUIET }, { "help", 'h', 0, O_HELP }, { NULL, 0, 0, 0 }
	};
	p->opts = opts;
	int id;
	const char *arg;
	uint64_t v;
	while ((id = cli_next(p, &arg)) != CLI_END) {
		switch (id) {
		case CLI_ERROR: return -1;
		case O_HELP: sweep_help(); return 1;
		case O_STATS: c->stats_path = arg; break;
		case O_MEAN: c->means_text = arg; break;
		case O_STD: c->stds_text = arg; break;
		case O_OUT: c->out_dir = arg; break;
		case O_MODEL: c->model_path = arg; break;
		case O_DATA: c->data_path = arg; break;
		case O_LABELS: c->labels_path = arg; break;
		case O_MINKEEP:
			if (cli_size(p, "--min-keep", arg, 0, NNP_MAX_WIDTH, &c->min_keep))
				return -1;
			break;
		case O_NOFOLD: c->fold = 0; break;
		case O_FORMAT:
			if (!strcmp(arg, "json"))
				c->format = NNP_FMT_JSON;
			else if (!strcmp(arg, "bin"))
				c->format = NNP_FMT_BIN;
			else
				return cli_usage_error(p, "--format: '%s' is not json or bin", arg), -1;
			break;
		case O_MAXDROP:
			if (cli_double(p, "--max-drop", arg, 0, 100, &c->max_drop))
				return -1;
			break;
		case O_BEST: c->best_path = arg; break;
		case O_JSON: c->json = 1; break;
		case O_MEM:
			if (parse_bytes(p, arg, &c->mem_limit))
				return -1;
			break;
		case O_THREADS:
			if (cli_size(p, "--threads", arg, 1, 256, &v))
				return -1;
			c->threads = (unsigned)v;
			break;
		case O_QUIET: c->quiet = 1; break;
		}
	}
	if (p->n_operands != 0)
		return cli_usage_error(p, "unexpected argument '%s' (the model and data come from "
		                          "the statistics file)", p->operands[0]), -1;
	if (c->best_path && isnan(c->max_drop))
		return cli_usage_error(p, "--best needs --max-drop to choose a model"), -1;
	return 0;
}

/* Checks that a file is the one the statistics were taken on. */
static int check_identity(const char *path, uint64_t bytes, uint32_t crc, const char *stats_path,
                          nnp_err *err)
{
	uint64_t b;
	uint32_t c;
	int rc = nnp_file_identity(path, &b, &c, err);
	if (rc)
		return rc;
	if (b != bytes || c != crc)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: changed since %s was written (now %llu bytes, CRC-32 %08x; "
		                   "then %llu bytes, CRC-32 %08x): run 'nnprune stats' again",
		                   path, stats_path, (unsigned long long)b, (unsigned)c,
		                   (unsigned long long)bytes, (unsigned)crc);
	return NNP_OK;
}

static int check_shape(const nnp_model *m, const nnp_stats *s, const char *model_path,
                       const char *stats_path, nnp_err *err)
{
	if (s->n_layers + 1 != m->n_layers)
		return nnp_err_set(err, NNP_EINPUT, "%s: has %zu hidden layers but %s describes %zu",
		                   model_path, m->n_layers - 1, stats_path, s->n_layers);
	for (size_t l = 0; l < s->n_layers; l++)
		if (s->layers[l].neurons != m->layers[l].out)
			return nnp_err_set(err, NNP_EINPUT,
			                   "%s: layer %zu has %zu neurons but %s describes %zu", model_path,
			                   l, m->layers[l].out, stats_path, s->layers[l].neurons);
	return NNP_OK;
}

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

static char *candidate_path(const char *dir, const char *stem, const nnp_candidate *c,
                            nnp_format fmt)
{
	size_t n = strlen(dir) + strlen(stem) + 96;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s-m%.12g-s%.12g.%s", dir, stem, c->mean_thr, c->std_thr,
		         fmt == NNP_FMT_JSON ? "json" : "bin");
	return p;
}

/* The provenance a slimmed model carries: where it came from and what was kept. */
static char *provenance_json(const nnp_model *src, const char *src_path, uint32_t src_crc,
                             const nnp_candidate *c, const sweep_cfg *cfg)
{
	char crc[9];
	snprintf(crc, sizeof crc, "%08x", (unsigned)src_crc);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "tool", "nnprune " NNP_VERSION);
	cJSON_AddStringToObject(o, "operation", "prune");
	cJSON_AddStringToObject(o, "method", "rule");
	cJSON *s = cJSON_AddObjectToObject(o, "source");
	cJSON_AddStringToObject(s, "path", src_path);
	cJSON_AddStringToObject(s, "crc32", crc);
	cJSON *t = cJSON_AddObjectToObject(o, "thresholds");
	cJSON_AddNumberToObject(t, "mean", c->mean_thr);
	cJSON_AddNumberToObject(t, "std", c->std_thr);
	cJSON_AddBoolToObject(o, "fold", cfg->fold);
	cJSON_AddNumberToObject(o, "min_keep", (double)cfg->min_keep);
	cJSON *kept = cJSON_AddArrayToObject(o, "kept");
	for (size_t l = 0; l < c->keep->n_layers; l++) {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; i < c->keep->count[l]; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber((double)c->keep->idx[l][i]));
		cJSON_AddItemToArray(kept, a);
	}
	if (src->provenance) {
		cJSON *prev = cJSON_Parse(src->provenance);
		if (prev)
			cJSON_AddItemToObject(o, "previous", prev);
	}
	char *txt = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return txt;
}

/* Writes every candidate's slimmed model (duplicates share the first's weights). */
static int write_models(nnp_sweep *sw, const nnp_model *m, const char *model_path,
                        uint32_t model_crc, const sweep_cfg *cfg, nnp_format fmt,
                        const char *const *inputs, size_t n_inputs, nnp_err *err)
{
	char stem[256];
	model_stem(model_path, stem, sizeof stem);
	for (size_t i = 0; i < sw->n; i++) {
		nnp_candidate *c = &sw->c[i];
		size_t src = c->same_as == NNP_NO_DUP ? i : c->same_as;
		nnp_model *pm = sw->models[src];
		char *path = candidate_path(cfg->out_dir, stem, c, fmt);
		char *prov = provenance_json(m, model_path, model_crc, c, cfg);
		int rc = (!path || !prov) ? nnp_err_set(err, NNP_ENOMEM, "out of memory") : NNP_OK;
		for (size_t k = 0; !rc && k < n_inputs; k++)
			if (inputs[k] && nnp_same_file(path, inputs[k]))
				rc = nnp_err_set(err, NNP_EOUTPUT, "%s: refusing to write over an input file",
				                 path);
		if (!rc)
			rc = nnp_model_set_provenance(pm, prov, err);
		if (!rc)
			rc = nnp_model_save(pm, path, fmt, err);
		free(prov);
		if (rc) {
			free(path);
			return rc;
		}
		free(c->file);
		c->file = path;
	}
	return NNP_OK;
}

int cmd_sweep(int argc, char **argv)
{
	cli_parser p;
	if (cli_init(&p, argc, argv, NULL, "sweep", sweep_usage))
		return NNP_EXIT_INPUT;
	sweep_cfg cfg = { SWEEP_DEFAULT_STATS, SWEEP_DEFAULT_OUT, NULL, NULL, NULL,
		          SWEEP_DEFAULT_MEANS, SWEEP_DEFAULT_STDS, NULL, 1, SWEEP_DEFAULT_MEM_LIMIT,
		          1, 0, 0, 0, NAN, 0 };
	int rc = NNP_EXIT_OK;
	nnp_err err;
	nnp_err_clear(&err);
	nnp_stats *s = NULL;
	nnp_stats_source src;
	memset(&src, 0, sizeof src);
	nnp_model *m = NULL;
	nnp_dataset *d = NULL;
	nnp_sweep *sw = NULL;
	double *means = NULL, *stds = NULL;
	size_t n_means = 0, n_stds = 0;
	char *json = NULL;

	int prc = parse_args(&p, &cfg);
	if (prc) {
		rc = prc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
		goto done;
	}
	if (nnp_parse_list(cfg.means_text, &means, &n_means, &err) ||
	    nnp_parse_list(cfg.stds_text, &stds, &n_stds, &err)) {
		rc = cli_usage_error(&p, "%s", err.msg);
		goto done;
	}
	if (nnp_stats_load(&s, &src, cfg.stats_path, &err))
		goto fail;
	const char *model_path = cfg.model_path ? cfg.model_path : src.model_path;
	const char *data_path = cfg.data_path ? cfg.data_path : src.data_path;
	const char *labels_path = cfg.labels_path ? cfg.labels_path : src.labels_path;
	if (check_identity(model_path, src.model_bytes, src.model_crc32, cfg.stats_path, &err) ||
	    check_identity(data_path, src.data_bytes, src.data_crc32, cfg.stats_path, &err))
		goto fail;
	if (labels_path &&
	    check_identity(labels_path, src.labels_bytes, src.labels_crc32, cfg.stats_path, &err))
		goto fail;
	nnp_file_info fi;
	if (nnp_model_load(&m, model_path, &fi, &err) ||
	    check_shape(m, s, model_path, cfg.stats_path, &err))
		goto fail;

	nnp_data_opts dopts = src.data_opts;
	dopts.labels_path = labels_path;
	dopts.expect_features = m->input_size;
	dopts.n_classes = nnp_model_outputs(m);
	if (dopts.label == NNP_LABEL_NONE) {
		nnp_err_set(&err, NNP_EINPUT, "%s: the statistics were taken on unlabelled data; "
		            "a sweep needs labels to measure accuracy (use --data)", cfg.stats_path);
		goto fail;
	}
	/* Hold the data in memory when it fits, so it is read once for all candidates. */
	int drc = nnp_dataset_load(&d, data_path, &dopts, cfg.mem_limit, &err);
	if (drc && drc != NNP_EUSAGE)
		goto fail;
	nnp_err_clear(&err);

	nnp_sweep_opts so = { means, n_means, stds, n_stds, (size_t)cfg.min_keep, cfg.fold,
		              cfg.threads, data_path, &dopts };
	if (nnp_sweep_run(&sw, m, s, d, &so, &err))
		goto fail;

	if (nnp_mkdir(cfg.out_dir, &err))
		goto fail;
	const char *inputs[] = { model_path, data_path, labels_path, cfg.stats_path };
	nnp_format fmt = cfg.format ? cfg.format : fi.format;
	if (write_models(sw, m, model_path, fi.crc32, &cfg, fmt, inputs, 4, &err))
		goto fail;

	nnp_report_info info;
	nnp_report_info_init(&info);
	info.model_path = model_path;
	info.model_name = m->name;
	info.data_path = data_path;
	info.rows = sw->rows;
	info.fold = cfg.fold;
	info.min_keep = (size_t)cfg.min_keep;
	info.max_drop = cfg.max_drop;
	size_t closest = NNP_NO_DUP;
	if (!isnan(cfg.max_drop))
		info.best = nnp_sweep_select(sw, cfg.max_drop, &closest);
	if (nnp_report_write(cfg.out_dir, sw, s, &info, &err))
		goto fail;
	if (cfg.json) {
		if (nnp_report_render(&json, NULL, NNP_REPORT_JSON, sw, s, &info, &err))
			goto fail;
		fputs(json, stdout);
	} else if (!cfg.quiet) {
		if (nnp_report_table(stdout, sw, s, &info, &err))
			goto fail;
		printf("\n%zu candidates (%zu distinct) evaluated on %llu rows; models and report in "
		       "%s/ (report.md, report.csv, report.json, report.svg, stats.svg)\n",
		       sw->n, sw->n_unique, (unsigned long long)sw->rows, cfg.out_dir);
	}
	/* The verdict goes to stderr after the table: keep them in that order on a terminal. */
	fflush(stdout);
	if (!isnan(cfg.max_drop)) {
		if (info.best == NNP_NO_DUP) {
			const nnp_candidate *c = closest != NNP_NO_DUP ? &sw->c[closest] : NULL;
			if (c)
				fprintf(stderr, "nnprune: sweep: no candidate within %g points of the "
				        "original accuracy; closest: mean %g, std %g with a drop of %.2f "
				        "points (%s)\n", cfg.max_drop, c->mean_thr, c->std_thr,
				        c->accuracy_drop, c->file ? c->file : "-");
			else
				fprintf(stderr, "nnprune: sweep: no candidate within %g points of the "
				        "original accuracy\n", cfg.max_drop);
			rc = NNP_EXIT_GATE;
			goto done;
		}
		const nnp_candidate *b = &sw->c[info.best];
		if (cfg.best_path) {
			size_t bi = b->same_as == NNP_NO_DUP ? info.best : b->same_as;
			for (size_t k = 0; k < 4; k++)
				if (inputs[k] && nnp_same_file(cfg.best_path, inputs[k])) {
					nnp_err_set(&err, NNP_EOUTPUT, "%s: refusing to write over an input file",
					            cfg.best_path);
					goto fail;
				}
			char *prov = provenance_json(m, model_path, fi.crc32, b, &cfg);
			if (!prov || nnp_model_set_provenance(sw->models[bi], prov, &err) ||
			    nnp_model_save(sw->models[bi], cfg.best_path, fmt, &err)) {
				free(prov);
				if (!err.msg[0])
					nnp_err_set(&err, NNP_ENOMEM, "out of memory");
				goto fail;
			}
			free(prov);
		}
		if (!cfg.json)
			fprintf(stderr, "nnprune: sweep: selected mean %g, std %g: %.1f%% fewer "
			        "parameters, accuracy drop %.2f points%s%s\n", b->mean_thr, b->std_thr,
			        b->reduction, b->accuracy_drop, cfg.best_path ? ", written to " : "",
			        cfg.best_path ? cfg.best_path : "");
	}
	goto done;
fail:
	rc = cli_fail(&err);
done:
	free(json);
	nnp_sweep_free(sw);
	nnp_dataset_free(d);
	nnp_model_free(m);
	nnp_stats_free(s);
	nnp_stats_source_free(&src);
	free(means);
	free(stds);
	cli_done(&p);
	return rc;
}
