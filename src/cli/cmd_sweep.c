/* nnprune sweep: prune at every threshold pair, evaluate, write models and report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cJSON.h>

#include "cli.h"
#include "finetune.h"
#include "nnprune/io.h"
#include "nnprune/model.h"
#include "nnprune/report.h"
#include "nnprune/stats.h"
#include "nnprune/sweep.h"
#include "nnprune/train.h"

#define SWEEP_DEFAULT_STATS "nnprune.stats.json"
#define SWEEP_DEFAULT_OUT "pruned"
#define SWEEP_DEFAULT_MEANS "0,0.05,0.1,0.2,0.5,1"
#define SWEEP_DEFAULT_STDS "0.1,0.2,0.4,0.6,1"
#define SWEEP_DEFAULT_MEM_LIMIT ((uint64_t)1 << 30)
#define SWEEP_DEFAULT_FT_EPOCHS 1
#define SWEEP_DEFAULT_FT_SEED 0

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
	/* --finetune */
	const char *ft_data, *ft_labels;
	const char *ft_option; /* the first --finetune-* option given, for a usage error */
	uint64_t ft_epochs, ft_seed;
	double ft_lr;          /* NAN: the optimizer's default */
	int ft_pareto;
} sweep_cfg;

static void sweep_help(void)
{
	const nnp_train_opts t0 = NNP_TRAIN_OPTS_INIT;
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
	       "  --max-drop PTS     select the smallest model within PTS accuracy points of\n"
	       "                     the original (with --finetune: the smallest fine-tuned\n"
	       "                     model, judged on its fine-tuned accuracy); exit 1 if\n"
	       "                     none qualifies\n"
	       "  --best PATH        write the selected model to PATH (needs --max-drop; with\n"
	       "                     --finetune, its fine-tuned version)\n"
	       "  --json             print report.json on stdout and nothing else there\n"
	       "  --mem-limit BYTES  hold the data in memory up to this size, else stream\n"
	       "                     (suffix K, M or G; default 1G)\n"
	       "  -j, --threads N    worker threads (default: all cores)\n"
	       "  -q, --quiet        no table on stdout\n\n"
	       "Fine-tuning (each model trained as 'nnprune finetune' would: Adam, batch %zu,\n"
	       "in the input scale its provenance records):\n"
	       "  --finetune DATA    fine-tune every slimmed model and a copy of the original\n"
	       "                     on labelled DATA (CSV or IDX, read with the statistics'\n"
	       "                     data options), report both accuracies, and write each as\n"
	       "                     NAME-ft<N>.EXT beside its slimmed model (N: the epochs)\n"
	       "  --finetune-labels FILE  IDX labels for --finetune\n"
	       "  --finetune-epochs N     passes over DATA (default %d)\n"
	       "  --finetune-pareto       fine-tune only the Pareto candidates (and the original)\n"
	       "  --finetune-lr X         learning rate (default %g)\n"
	       "  --finetune-seed N       shuffling seed (default %d)\n"
	       "Every model trains on one thread, models in parallel (-j), so results do not\n"
	       "depend on -j and equal 'nnprune finetune -j 1' with the same options.\n",
	       sweep_usage, SWEEP_DEFAULT_STATS, SWEEP_DEFAULT_MEANS, SWEEP_DEFAULT_STDS,
	       SWEEP_DEFAULT_OUT, t0.batch, SWEEP_DEFAULT_FT_EPOCHS,
	       (double)cli_finetune_default_lr(t0.optimizer), SWEEP_DEFAULT_FT_SEED);
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
	       O_FORMAT, O_MAXDROP, O_BEST, O_JSON, O_MEM, O_THREADS, O_QUIET, O_HELP, O_FT,
	       O_FT_LABELS, O_FT_EPOCHS, O_FT_PARETO, O_FT_LR, O_FT_SEED };
	static const cli_opt opts[] = {
		{ "stats", 0, 1, O_STATS }, { "mean", 0, 1, O_MEAN }, { "std", 0, 1, O_STD },
		{ "out", 'o', 1, O_OUT }, { "model", 0, 1, O_MODEL }, { "data", 0, 1, O_DATA },
		{ "labels", 0, 1, O_LABELS }, { "min-keep", 0, 1, O_MINKEEP },
		{ "no-fold", 0, 0, O_NOFOLD }, { "format", 'f', 1, O_FORMAT },
		{ "max-drop", 0, 1, O_MAXDROP }, { "best", 0, 1, O_BEST }, { "json", 0, 0, O_JSON },
		{ "mem-limit", 0, 1, O_MEM }, { "threads", 'j', 1, O_THREADS },
		{ "quiet", 'q', 0, O_QUIET }, { "help", 'h', 0, O_HELP }, { "finetune", 0, 1, O_FT },
		{ "finetune-labels", 0, 1, O_FT_LABELS }, { "finetune-epochs", 0, 1, O_FT_EPOCHS },
		{ "finetune-pareto", 0, 0, O_FT_PARETO }, { "finetune-lr", 0, 1, O_FT_LR },
		{ "finetune-seed", 0, 1, O_FT_SEED }, { NULL, 0, 0, 0 }
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
		case O_FT: c->ft_data = arg; break;
		case O_FT_LABELS:
			c->ft_labels = arg;
			c->ft_option = c->ft_option ? c->ft_option : "--finetune-labels";
			break;
		case O_FT_EPOCHS:
			if (cli_size(p, "--finetune-epochs", arg, 1, NNP_TRAIN_MAX_EPOCHS, &c->ft_epochs))
				return -1;
			c->ft_option = c->ft_option ? c->ft_option : "--finetune-epochs";
			break;
		case O_FT_PARETO:
			c->ft_pareto = 1;
			c->ft_option = c->ft_option ? c->ft_option : "--finetune-pareto";
			break;
		case O_FT_LR:
			if (cli_double(p, "--finetune-lr", arg, 1e-12, 1e3, &c->ft_lr))
				return -1;
			c->ft_option = c->ft_option ? c->ft_option : "--finetune-lr";
			break;
		case O_FT_SEED:
			if (cli_size(p, "--finetune-seed", arg, 0, UINT64_MAX, &c->ft_seed))
				return -1;
			c->ft_option = c->ft_option ? c->ft_option : "--finetune-seed";
			break;
		}
	}
	if (p->n_operands != 0)
		return cli_usage_error(p, "unexpected argument '%s' (the model and data come from "
		                          "the statistics file)", p->operands[0]), -1;
	if (c->best_path && isnan(c->max_drop))
		return cli_usage_error(p, "--best needs --max-drop to choose a model"), -1;
	if (c->ft_option && !c->ft_data)
		return cli_usage_error(p, "%s needs --finetune TRAIN_DATA", c->ft_option), -1;
	return 0;
}

/* Checks that a file is the one the statistics were taken on. */
static int check_same(const char *path, uint64_t b, uint32_t c, uint64_t bytes, uint32_t crc,
                      const char *stats_path, nnp_err *err)
{
	if (b != bytes || c != crc)
		return nnp_err_set(err, NNP_EINPUT,
		                   "%s: changed since %s was written (now %llu bytes, CRC-32 %08x; "
		                   "then %llu bytes, CRC-32 %08x): run 'nnprune stats' again",
		                   path, stats_path, (unsigned long long)b, (unsigned)c,
		                   (unsigned long long)bytes, (unsigned)crc);
	return NNP_OK;
}

static int check_identity(const char *path, uint64_t bytes, uint32_t crc, const char *stats_path,
                          nnp_err *err)
{
	uint64_t b;
	uint32_t c;
	int rc = nnp_file_identity(path, &b, &c, err);
	return rc ? rc : check_same(path, b, c, bytes, crc, stats_path, err);
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

/* "dir/stem-m0.1-s0.4.bin"; with ft_epochs > 0 "dir/stem-m0.1-s0.4-ft2.bin", and
 * for the original (c NULL) "dir/stem-ft2.bin". */
static char *candidate_path(const char *dir, const char *stem, const nnp_candidate *c,
                            nnp_format fmt, uint64_t ft_epochs)
{
	size_t n = strlen(dir) + strlen(stem) + 128;
	char *p = malloc(n);
	if (!p)
		return NULL;
	char thr[64] = "", ft[32] = "";
	if (c)
		snprintf(thr, sizeof thr, "-m%.12g-s%.12g", c->mean_thr, c->std_thr);
	if (ft_epochs)
		snprintf(ft, sizeof ft, "-ft%llu", (unsigned long long)ft_epochs);
	snprintf(p, n, "%s/%s%s%s.%s", dir, stem, thr, ft, fmt == NNP_FMT_JSON ? "json" : "bin");
	return p;
}

/* NNP_EOUTPUT if path names one of the inputs (NULL entries are skipped). */
static int check_not_input(const char *path, const char *const *inputs, size_t n_inputs,
                           nnp_err *err)
{
	for (size_t k = 0; k < n_inputs; k++)
		if (inputs[k] && nnp_same_file(path, inputs[k]))
			return nnp_err_set(err, NNP_EOUTPUT, "%s: refusing to write over an input file",
			                   path);
	return NNP_OK;
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

/* Refuses, before anything is written, a report file that would replace an input. */
static int check_reports(const char *dir, const char *const *inputs, size_t n_inputs,
                         nnp_err *err)
{
	for (int k = NNP_REPORT_MD; k < NNP_REPORT_KINDS; k++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, nnp_report_file_name((nnp_report_kind)k));
		for (size_t i = 0; i < n_inputs; i++)
			if (inputs[i] && nnp_same_file(path, inputs[i]))
				return nnp_err_set(err, NNP_EOUTPUT, "%s: refusing to write over an input "
				                   "file", path);
	}
	return NNP_OK;
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
		char *path = candidate_path(cfg->out_dir, stem, c, fmt, 0);
		char *prov = provenance_json(m, model_path, model_crc, c, cfg);
		int rc = (!path || !prov) ? nnp_err_set(err, NNP_ENOMEM, "out of memory") : NNP_OK;
		if (!rc)
			rc = check_not_input(path, inputs, n_inputs, err);
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

/* ---- --finetune ---- */

/* Fine-tuning state: job 0 is the original, then one job per distinct kept
 * set that is fine-tuned. */
typedef struct sweep_ft {
	nnp_train_opts t;
	nnp_dataset *train;
	cli_ft_job *jobs;
	size_t n_jobs;
	size_t *job_of;          /* [sw->n]: the job of each candidate's kept set, or NNP_NO_DUP */
} sweep_ft;

static void ft_free(sweep_ft *ft)
{
	for (size_t i = 0; i < ft->n_jobs; i++)
		nnp_model_free(ft->jobs[i].model);
	free(ft->jobs);
	free(ft->job_of);
	nnp_dataset_free(ft->train);
}

/* The training options: `nnprune finetune`'s defaults and the --finetune-* values. */
static int ft_options(sweep_ft *ft, const sweep_cfg *cfg, nnp_err *err)
{
	const nnp_train_opts t0 = NNP_TRAIN_OPTS_INIT;
	ft->t = t0;
	ft->t.epochs = (size_t)cfg->ft_epochs;
	ft->t.seed = cfg->ft_seed;
	ft->t.lr = isnan(cfg->ft_lr) ? cli_finetune_default_lr(ft->t.optimizer) : (float)cfg->ft_lr;
	ft->t.threads = 1;
	return nnp_train_check_opts(&ft->t, err);
}

/* Reads the training rows, before any output is written. */
static int ft_load(sweep_ft *ft, const sweep_cfg *cfg, const nnp_data_opts *dopts, nnp_err *err)
{
	/* The training file is read like the evaluation data (same CSV
	 * options), with its own labels file for IDX images. */
	nnp_data_opts to = *dopts;
	to.labels_path = cfg->ft_labels;
	int rc = nnp_dataset_load(&ft->train, cfg->ft_data, &to, 0, err);
	if (rc)
		return rc;
	if (!ft->train->y)
		return nnp_err_set(err, NNP_EINPUT, "%s: the fine-tuning data has no labels%s",
		                   cfg->ft_data, cfg->ft_labels ? "" : " (IDX images need "
		                   "--finetune-labels)");
	return NNP_OK;
}

/* Fine-tunes the original and every distinct kept set chosen (all, or the
 * Pareto ones), each evaluated on the sweep's data. */
static int ft_run(sweep_ft *ft, const nnp_sweep *sw, const nnp_model *m, const char *model_path,
                  const nnp_dataset *d, const char *data_path, const nnp_data_opts *dopts,
                  const sweep_cfg *cfg, nnp_err *err)
{
	ft->job_of = malloc((sw->n ? sw->n : 1) * sizeof *ft->job_of);
	ft->jobs = calloc(sw->n_unique + 1, sizeof *ft->jobs);
	if (!ft->job_of || !ft->jobs)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	ft->jobs[0].src = m;
	ft->jobs[0].label = model_path;
	ft->n_jobs = 1;
	for (size_t i = 0; i < sw->n; i++) {
		const nnp_candidate *c = &sw->c[i];
		ft->job_of[i] = NNP_NO_DUP;
		/* A duplicate has its first's size and accuracy, so its Pareto mark too. */
		if (c->same_as != NNP_NO_DUP) {
			ft->job_of[i] = ft->job_of[c->same_as];
			continue;
		}
		if (cfg->ft_pareto && !c->pareto)
			continue;
		if (ft->n_jobs > sw->n_unique)
			return nnp_err_set(err, NNP_EUSAGE, "sweep: more distinct kept sets than %zu",
			                   sw->n_unique);
		ft->jobs[ft->n_jobs].src = sw->models[i];
		ft->jobs[ft->n_jobs].label = c->file;
		ft->job_of[i] = ft->n_jobs++;
	}
	cli_ft_plan plan = { ft->t, ft->train, d, data_path, dopts, cfg->threads,
		             !cfg->quiet && !cfg->json && isatty(STDERR_FILENO) };
	return cli_ft_run(ft->jobs, ft->n_jobs, &plan, err);
}

/* The provenance of a fine-tuned model: as `nnprune finetune` writes it,
 * its source the file that was fine-tuned, whose provenance (prev) follows. */
static char *ft_provenance(const char *src_path, const char *prev, const cli_ft_job *j,
                           const sweep_ft *ft, const sweep_cfg *cfg, nnp_err *err)
{
	nnp_file_info fi;
	if (nnp_model_identity(src_path, &fi, err))
		return NULL;
	char crc[9];
	snprintf(crc, sizeof crc, "%08x", (unsigned)fi.crc32);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "tool", "nnprune " NNP_VERSION);
	cJSON_AddStringToObject(o, "operation", "finetune");
	cJSON *s = cJSON_AddObjectToObject(o, "source");
	cJSON_AddStringToObject(s, "path", src_path);
	cJSON_AddStringToObject(s, "crc32", crc);
	cJSON_AddStringToObject(o, "data", cfg->ft_data);
	cJSON_AddStringToObject(o, "optimizer", nnp_optimizer_name(ft->t.optimizer));
	cJSON_AddNumberToObject(o, "lr", (double)ft->t.lr);
	cJSON_AddNumberToObject(o, "epochs", (double)j->rep.epochs_run);
	cJSON_AddNumberToObject(o, "batch", (double)ft->t.batch);
	cJSON_AddNumberToObject(o, "seed", (double)ft->t.seed);
	cJSON_AddNumberToObject(o, "threads", (double)j->rep.threads);
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

/* Saves job j's model to path with the provenance of candidate c (NULL: the original). */
static int ft_save(const sweep_ft *ft, const cli_ft_job *j, const nnp_candidate *c,
                   const char *path, const nnp_model *m, const char *model_path,
                   uint32_t model_crc, const sweep_cfg *cfg, nnp_format fmt,
                   const char *const *inputs, size_t n_inputs, nnp_err *err)
{
	int rc = check_not_input(path, inputs, n_inputs, err);
	if (rc)
		return rc;
	char *prev = c ? provenance_json(m, model_path, model_crc, c, cfg) : NULL;
	if (c && !prev)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	char *prov = ft_provenance(c ? c->file : model_path, c ? prev : m->provenance, j, ft, cfg,
	                           err);
	free(prev);
	if (!prov)
		return err->status ? err->status : NNP_ENOMEM;
	rc = nnp_model_set_provenance(j->model, prov, err);
	free(prov);
	if (!rc)
		rc = nnp_model_save(j->model, path, fmt, err);
	return rc;
}

static void ft_scores(nnp_candidate *c, const cli_ft_job *j, const nnp_candidate *o)
{
	c->finetuned = 1;
	c->ft_accuracy = nnp_metrics_accuracy(&j->mt);
	c->ft_loss = nnp_metrics_loss(&j->mt);
	c->ft_drop = 100.0 * (o->accuracy - c->ft_accuracy);
	c->ft_drop_vs_ft = 100.0 * (o->ft_accuracy - c->ft_accuracy);
}

/* Fills every candidate's fine-tuned figures and writes the fine-tuned models
 * (duplicates too, like the slimmed ones). */
static int ft_write(const sweep_ft *ft, nnp_sweep *sw, const nnp_model *m, const char *model_path,
                    uint32_t model_crc, const sweep_cfg *cfg, nnp_format fmt,
                    const char *const *inputs, size_t n_inputs, nnp_err *err)
{
	char stem[256];
	model_stem(model_path, stem, sizeof stem);
	nnp_candidate *o = &sw->original;
	ft_scores(o, &ft->jobs[0], o);
	o->ft_drop_vs_ft = 0;
	for (size_t i = 0; i <= sw->n; i++) {
		nnp_candidate *c = i == 0 ? o : &sw->c[i - 1];
		size_t job = i == 0 ? 0 : ft->job_of[i - 1];
		if (job == NNP_NO_DUP)
			continue;
		if (i)
			ft_scores(c, &ft->jobs[job], o);
		char *path = candidate_path(cfg->out_dir, stem, i ? c : NULL, fmt, cfg->ft_epochs);
		int rc = path ? ft_save(ft, &ft->jobs[job], i ? c : NULL, path, m, model_path,
		                        model_crc, cfg, fmt, inputs, n_inputs, err)
		              : nnp_err_set(err, NNP_ENOMEM, "out of memory");
		if (rc) {
			free(path);
			return rc;
		}
		free(c->ft_file);
		c->ft_file = path;
	}
	return NNP_OK;
}

/* The gate on fine-tuned accuracy: nnp_sweep_select over a view of the sweep
 * whose drops are the fine-tuned ones; a candidate not fine-tuned never
 * qualifies. */
static int ft_select(const nnp_sweep *sw, double max_drop, size_t *best, size_t *closest,
                     nnp_err *err)
{
	*best = *closest = NNP_NO_DUP;
	nnp_sweep view = *sw;
	view.c = malloc((sw->n ? sw->n : 1) * sizeof *view.c);
	if (!view.c)
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	for (size_t i = 0; i < sw->n; i++) {
		view.c[i] = sw->c[i];
		view.c[i].accuracy = sw->c[i].finetuned ? sw->c[i].ft_accuracy : -INFINITY;
		view.c[i].accuracy_drop = sw->c[i].finetuned ? sw->c[i].ft_drop : INFINITY;
	}
	*best = nnp_sweep_select(&view, max_drop, closest);
	if (*closest != NNP_NO_DUP && !sw->c[*closest].finetuned)
		*closest = NNP_NO_DUP;
	free(view.c);
	return NNP_OK;
}

int cmd_sweep(int argc, char **argv)
{
	cli_parser p;
	if (cli_init(&p, argc, argv, NULL, "sweep", sweep_usage))
		return NNP_EXIT_INPUT;
	sweep_cfg cfg = { SWEEP_DEFAULT_STATS, SWEEP_DEFAULT_OUT, NULL, NULL, NULL,
		          SWEEP_DEFAULT_MEANS, SWEEP_DEFAULT_STDS, NULL, 1, SWEEP_DEFAULT_MEM_LIMIT,
		          1, 0, 0, 0, NAN, 0, NULL, NULL, NULL, SWEEP_DEFAULT_FT_EPOCHS,
		          SWEEP_DEFAULT_FT_SEED, NAN, 0 };
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
	sweep_ft ft;
	memset(&ft, 0, sizeof ft);

	int prc = parse_args(&p, &cfg);
	if (prc) {
		rc = prc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
		goto done;
	}
	if (nnp_parse_list(cfg.means_text, &means, &n_means, &err) ||
	    nnp_parse_list(cfg.stds_text, &stds, &n_stds, &err) ||
	    (cfg.ft_data && ft_options(&ft, &cfg, &err))) {
		rc = cli_usage_error(&p, "%s", err.msg);
		goto done;
	}
	if (nnp_stats_load(&s, &src, cfg.stats_path, &err))
		goto fail;
	const char *model_path = cfg.model_path ? cfg.model_path : src.model_path;
	const char *data_path = cfg.data_path ? cfg.data_path : src.data_path;
	const char *labels_path = cfg.labels_path ? cfg.labels_path : src.labels_path;
	/* The model's identity is what stats recorded from the loader (for a binary
	 * model, the CRC stored in the file), so compare with the loader's view. */
	nnp_file_info fi;
	if (nnp_model_load(&m, model_path, &fi, &err) ||
	    check_same(model_path, fi.bytes, fi.crc32, src.model_bytes, src.model_crc32,
	               cfg.stats_path, &err) ||
	    check_identity(data_path, src.data_bytes, src.data_crc32, cfg.stats_path, &err))
		goto fail;
	if (labels_path &&
	    check_identity(labels_path, src.labels_bytes, src.labels_crc32, cfg.stats_path, &err))
		goto fail;
	if (check_shape(m, s, model_path, cfg.stats_path, &err))
		goto fail;

	nnp_data_opts dopts = src.data_opts;
	dopts.labels_path = labels_path;
	dopts.expect_features = m->input_size;
	dopts.n_classes = nnp_model_outputs(m);
	if (dopts.label == NNP_LABEL_NONE) {
		nnp_err_set(&err, NNP_EINPUT, "%s: the statistics were taken on unlabelled data; "
		            "a sweep needs labels to measure accuracy: run 'nnprune stats' on "
		            "labelled data", cfg.stats_path);
		goto fail;
	}
	if (cfg.ft_data && ft_load(&ft, &cfg, &dopts, &err))
		goto fail;
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
	const char *inputs[] = { model_path, data_path, labels_path, cfg.stats_path, cfg.ft_data,
		                 cfg.ft_labels };
	const size_t n_inputs = sizeof inputs / sizeof inputs[0];
	if (check_reports(cfg.out_dir, inputs, n_inputs, &err))
		goto fail;
	nnp_format fmt = cfg.format ? cfg.format : fi.format;
	if (write_models(sw, m, model_path, fi.crc32, &cfg, fmt, inputs, n_inputs, &err))
		goto fail;
	if (cfg.ft_data &&
	    (ft_run(&ft, sw, m, model_path, d, data_path, &dopts, &cfg, &err) ||
	     ft_write(&ft, sw, m, model_path, fi.crc32, &cfg, fmt, inputs, n_inputs, &err)))
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
	if (cfg.ft_data) {
		info.ft_epochs = (size_t)cfg.ft_epochs;
		info.ft_data_path = cfg.ft_data;
		info.ft_lr = isnan(cfg.ft_lr) ? (double)ft.t.lr : cfg.ft_lr;
		info.ft_seed = cfg.ft_seed;
	}
	size_t closest = NNP_NO_DUP;
	if (!isnan(cfg.max_drop) && cfg.ft_data) {
		if (ft_select(sw, cfg.max_drop, &info.best, &closest, &err))
			goto fail;
	} else if (!isnan(cfg.max_drop)) {
		info.best = nnp_sweep_select(sw, cfg.max_drop, &closest);
	}
	if (nnp_report_write(cfg.out_dir, sw, s, &info, &err))
		goto fail;
	if (cfg.json) {
		if (nnp_report_render(&json, NULL, NNP_REPORT_JSON, sw, s, &info, &err))
			goto fail;
		fputs(json, stdout);
	} else if (!cfg.quiet) {
		if (nnp_report_table(stdout, sw, s, &info, &err))
			goto fail;
		printf("\n%zu candidates (%zu distinct) evaluated on %llu rows; ", sw->n, sw->n_unique,
		       (unsigned long long)sw->rows);
		if (cfg.ft_data)
			printf("%zu distinct model%s and the original fine-tuned for %llu epoch%s on "
			       "%s; ", ft.n_jobs - 1, ft.n_jobs == 2 ? "" : "s",
			       (unsigned long long)cfg.ft_epochs, cfg.ft_epochs == 1 ? "" : "s",
			       cfg.ft_data);
		printf("models and report in %s/ (report.md, report.csv, report.json, report.svg, "
		       "stats.svg)\n", cfg.out_dir);
	}
	/* The verdict goes to stderr after the table: keep them in that order on a terminal. */
	fflush(stdout);
	if (!isnan(cfg.max_drop)) {
		if (info.best == NNP_NO_DUP) {
			const nnp_candidate *c = closest != NNP_NO_DUP ? &sw->c[closest] : NULL;
			const char *what = cfg.ft_data ? " after fine-tuning" : "";
			const char *file = c ? (cfg.ft_data ? c->ft_file : c->file) : NULL;
			if (c)
				fprintf(stderr, "nnprune: sweep: no candidate within %g points of the "
				        "original accuracy%s; closest: mean %g, std %g with a drop of %.2f "
				        "points (%s)\n", cfg.max_drop, what, c->mean_thr, c->std_thr,
				        cfg.ft_data ? c->ft_drop : c->accuracy_drop, file ? file : "-");
			else
				fprintf(stderr, "nnprune: sweep: no candidate within %g points of the "
				        "original accuracy%s\n", cfg.max_drop, what);
			rc = NNP_EXIT_GATE;
			goto done;
		}
		const nnp_candidate *b = &sw->c[info.best];
		if (cfg.best_path && cfg.ft_data) {
			/* The gate judged the fine-tuned model: that is the one to keep. */
			if (ft_save(&ft, &ft.jobs[ft.job_of[info.best]], b, cfg.best_path, m, model_path,
			            fi.crc32, &cfg, fmt, inputs, n_inputs, &err))
				goto fail;
		} else if (cfg.best_path) {
			size_t bi = b->same_as == NNP_NO_DUP ? info.best : b->same_as;
			if (check_not_input(cfg.best_path, inputs, n_inputs, &err))
				goto fail;
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
		if (!cfg.json && cfg.ft_data)
			fprintf(stderr, "nnprune: sweep: selected mean %g, std %g: %.1f%% fewer "
			        "parameters, accuracy drop after fine-tuning %.2f points (%.2f against "
			        "the fine-tuned original; %.2f before fine-tuning)%s%s\n", b->mean_thr,
			        b->std_thr, b->reduction, b->ft_drop, b->ft_drop_vs_ft, b->accuracy_drop,
			        cfg.best_path ? ", written to " : "", cfg.best_path ? cfg.best_path : "");
		else if (!cfg.json)
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
	ft_free(&ft);
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
