/* nnprune sweep: prune at every threshold pair, evaluate, write models and report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cJSON.h>

#include "cli.h"
#include "cli_model.h"
#include "finetune.h"
#include "nnprune/evaluate.h"
#include "nnprune/io.h"
#include "nnprune/method.h"
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
#define SWEEP_MAX_WIDTHS 1000u
#define SWEEP_DEFAULT_FT_EPOCHS 1
#define SWEEP_DEFAULT_FT_SEED 0
#define SWEEP_DEFAULT_KEEP "0.9:0.1:0.1"
#define SWEEP_MAX_BUILT 100000u   /* candidates whose models are built one by one */

static const char sweep_usage[] =
	"nnprune sweep [--stats FILE] [--method M] [--mean LIST] [--std LIST] [--keep LIST] "
	"[--calib DATA] [--out DIR] [options]";

typedef struct sweep_cfg {
	const char *stats_path, *out_dir, *model_path, *data_path, *labels_path;
	const char *means_text, *stds_text, *best_path;
	uint64_t min_keep, mem_limit, calib_mem_limit;
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
	/* the method */
	nnp_method_opts mo;    /* method, compensate (set by check_method), lambda_rel */
	int comp_set, lambda_set, means_set, min_keep_set, alloc_step_set;
	const char *keep_text, *targets_text, *widths_text, *calib_path, *calib_labels;
	int allocate;
	uint64_t calib_rows;
	/* set once the inputs are read */
	int plain;             /* the threshold sweep as it always was: rule, fold or none,
	                          calibrated on the evaluation data */
	const cli_calib *calib; /* the calibration rows; NULL for a plain sweep */
	int no_wait;           /* --no-wait: fail (exit 4) if another run holds DIR */
	cli_model model;       /* import options for a weights-only MODEL (as given to stats) */
} sweep_cfg;

static void sweep_help(void)
{
	const nnp_train_opts t0 = NNP_TRAIN_OPTS_INIT;
	printf("usage: %s\n\n"
	       "Reads the statistics written by 'nnprune stats' and, for every pair of\n"
	       "thresholds (m, s), removes each hidden neuron with |mean| <= m and std <= s,\n"
	       "physically (smaller matrices); or, with --method score or obs, prunes every\n"
	       "hidden layer to a budget. Every slimmed model is evaluated on the data the\n"
	       "statistics were taken on and written to DIR, with a report. Model files are\n"
	       "named by thresholds (NAME-m0.1-s0.4.bin) or by method and budget\n"
	       "(NAME-obs-ls-k0.5.bin, -a<step> for an allocation step, -t<params>).\n\n"
	       "  --stats FILE       statistics file (default %s)\n"
	       "Method (which neurons go; see 'nnprune prune --help'):\n",
	       sweep_usage, SWEEP_DEFAULT_STATS);
	cli_print_methods(NNP_METHOD_RULE);
	printf("  --compensate none|fold|ls  what the next layer becomes (default: fold for\n"
	       "                     rule, ls for score and obs); --no-fold is 'none'\n"
	       "  --lambda X         ridge strength relative to trace(C)/n (default %g; ls, obs)\n"
	       "Candidates of the rule: every (mean, std) pair:\n"
	       "  --mean LIST        mean thresholds (default %s)\n"
	       "  --std LIST         std thresholds (default %s)\n"
	       "                     LIST: 0.1 | 0,0.1,0.5 | 0:1:0.1 (start:stop:step, ends included)\n"
	       "  --min-keep N       neurons every hidden layer keeps at least (default 1)\n"
	       "Candidates of score and obs: budgets (any together; default --keep %s):\n"
	       "  --keep LIST        fractions of every hidden layer kept, in (0, 1]; ranges may\n"
	       "                     go down (0.9:0.1:0.1 is 0.9, 0.8, ..., 0.1)\n"
	       "  --allocate         one candidate per step of the sensitivity allocation path\n"
	       "                     (per-layer counts on a grid of fractions, the cheapest\n"
	       "                     loss of accuracy per parameter first)\n"
	       "  --target-params LIST  per budget N or P%% (of the original's parameters), the\n"
	       "                     first step of the allocation path within it\n"
	       "  --allocate-step X  the allocation's grid of fractions per layer (default %g)\n"
	       "  --widths LIST      neurons kept per hidden layer, one set per candidate:\n"
	       "                     160,160,96 or 160,160,96/192,128,96\n"
	       "Calibration (what the method's statistics and refits are computed on):\n"
	       "  --calib DATA       calibration rows, read with the statistics' data options\n"
	       "                     (default: the evaluation data itself, which the report\n"
	       "                     then says; separate rows keep the evaluation honest)\n"
	       "  --calib-labels FILE  IDX labels for DATA (not needed: labels are not used)\n"
	       "  --calib-rows N     use only the first N rows of --calib DATA\n"
	       "  --calib-mem-limit BYTES  hold them in memory up to this size, else read\n"
	       "                     them again at every pass (default %lluM; 0: never hold)\n"
	       "Evaluation and output:\n"
	       "  -o, --out DIR      where models and reports go (default %s); one run at a\n"
	       "                     time: another waits for the first to finish\n"
	       "  --no-wait          fail (exit 4) instead of waiting for another run in DIR\n"
	       "  --model FILE       the model, if it moved (it must be unchanged)\n"
	       "  --data FILE        the data, if it moved (it must be unchanged)\n"
	       "  --labels FILE      the IDX labels file, if it moved\n"
	       "  --no-fold          do not fold removed neurons' means into the next bias\n"
	       "  --format FMT       format of the written models, named NAME-....FMT: %s\n"
	       "                     (default: the input's, if writable, else bin)\n"
	       "  --max-drop PTS     select the smallest model within PTS accuracy points of\n"
	       "                     the original (with --finetune: the smallest fine-tuned\n"
	       "                     model, judged on its fine-tuned accuracy); exit 1 if\n"
	       "                     none qualifies\n"
	       "  --best PATH        write the selected model to PATH (needs --max-drop; with\n"
	       "                     --finetune, its fine-tuned version)\n"
	       "  --json             print report.json on stdout and nothing else there\n"
	       "  --mem-limit BYTES  hold the data in memory up to this size, else read it\n"
	       "                     again (suffix K, M or G; default %lluM; 0: never hold)\n"
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
	       "depend on -j and equal 'nnprune finetune -j 1' with the same options.\n\n"
	       "%s(give sweep the model options given to 'nnprune stats')\n",
	       NNP_METHOD_LAMBDA_REL, SWEEP_DEFAULT_MEANS,
	       SWEEP_DEFAULT_STDS, SWEEP_DEFAULT_KEEP, NNP_METHOD_GRID_STEP,
	       (unsigned long long)(CLI_CALIB_MEM_LIMIT >> 20), SWEEP_DEFAULT_OUT,
	       nnp_format_list_writable(), (unsigned long long)(SWEEP_DEFAULT_MEM_LIMIT >> 20),
	       t0.batch, SWEEP_DEFAULT_FT_EPOCHS, (double)cli_finetune_default_lr(t0.optimizer),
	       SWEEP_DEFAULT_FT_SEED, CLI_MODEL_HELP);
}

/* Which options go with which method; fills in the compensation's default. */
static int check_method(const cli_parser *p, sweep_cfg *c)
{
	int rule = nnp_method_by_thresholds(c->mo.method);
	if (c->comp_set && !c->fold && c->mo.compensate != NNP_COMP_NONE)
		return cli_usage_error(p, "--no-fold contradicts --compensate %s",
		                       nnp_compensate_name(c->mo.compensate)), -1;
	if (!c->comp_set)
		c->mo.compensate = !c->fold ? NNP_COMP_NONE : rule ? NNP_COMP_FOLD : NNP_COMP_LS;
	c->fold = c->mo.compensate == NNP_COMP_FOLD;
	if (rule && (c->keep_text || c->allocate || c->targets_text || c->widths_text))
		return cli_usage_error(p, "%s: budgets belong to --method score or obs (the rule "
		                          "takes --mean and --std)", c->keep_text ? "--keep"
		                       : c->allocate ? "--allocate" : c->targets_text ? "--target-params"
		                       : "--widths"), -1;
	if (!rule && (c->means_set || c->min_keep_set))
		return cli_usage_error(p, "%s: thresholds belong to --method rule (this is %s)",
		                       c->means_set ? "--mean/--std" : "--min-keep",
		                       nnp_method_name(c->mo.method)), -1;
	if (!rule && !c->keep_text && !c->allocate && !c->targets_text && !c->widths_text)
		c->keep_text = SWEEP_DEFAULT_KEEP;
	if (c->alloc_step_set && !c->allocate && !c->targets_text)
		return cli_usage_error(p, "--allocate-step needs --allocate or --target-params"), -1;
	if (c->lambda_set && !nnp_method_uses_ridge(&c->mo))
		return cli_usage_error(p, "--lambda: only --method obs and --compensate ls use a "
		                          "ridge"), -1;
	if ((c->calib_labels || c->calib_rows) && !c->calib_path)
		return cli_usage_error(p, "%s needs --calib DATA", c->calib_labels ? "--calib-labels"
		                                                                    : "--calib-rows"),
		       -1;
	c->mo.threads = c->threads;
	return 0;
}

static int parse_args(cli_parser *p, sweep_cfg *c)
{
	enum { O_STATS = 1, O_MEAN, O_STD, O_OUT, O_MODEL, O_DATA, O_LABELS, O_MINKEEP, O_NOFOLD,
	       O_FORMAT, O_MAXDROP, O_BEST, O_JSON, O_MEM, O_CALIB_MEM, O_THREADS, O_QUIET, O_HELP, O_FT,
	       O_FT_LABELS, O_FT_EPOCHS, O_FT_PARETO, O_FT_LR, O_FT_SEED, O_METHOD, O_COMP,
	       O_LAMBDA, O_KEEP, O_ALLOCATE, O_TARGET, O_CALIB, O_CALIB_LABELS, O_CALIB_ROWS,
	       O_ALLOC_STEP, O_WIDTHS, O_NOWAIT };
	static const cli_opt opts[] = {
		{ "stats", 0, 1, O_STATS }, { "mean", 0, 1, O_MEAN }, { "std", 0, 1, O_STD },
		{ "out", 'o', 1, O_OUT }, { "model", 0, 1, O_MODEL }, { "data", 0, 1, O_DATA },
		{ "labels", 0, 1, O_LABELS }, { "min-keep", 0, 1, O_MINKEEP },
		{ "no-fold", 0, 0, O_NOFOLD }, { "format", 'f', 1, O_FORMAT },
		{ "max-drop", 0, 1, O_MAXDROP }, { "best", 0, 1, O_BEST }, { "json", 0, 0, O_JSON },
		{ "mem-limit", 0, 1, O_MEM }, { "calib-mem-limit", 0, 1, O_CALIB_MEM },
		{ "threads", 'j', 1, O_THREADS },
		{ "quiet", 'q', 0, O_QUIET }, { "help", 'h', 0, O_HELP }, { "finetune", 0, 1, O_FT },
		{ "finetune-labels", 0, 1, O_FT_LABELS }, { "finetune-epochs", 0, 1, O_FT_EPOCHS },
		{ "finetune-pareto", 0, 0, O_FT_PARETO }, { "finetune-lr", 0, 1, O_FT_LR },
		{ "finetune-seed", 0, 1, O_FT_SEED }, { "method", 0, 1, O_METHOD },
		{ "compensate", 0, 1, O_COMP }, { "lambda", 0, 1, O_LAMBDA }, { "keep", 0, 1, O_KEEP },
		{ "allocate", 0, 0, O_ALLOCATE }, { "target-params", 0, 1, O_TARGET },
		{ "calib", 0, 1, O_CALIB }, { "calib-labels", 0, 1, O_CALIB_LABELS },
		{ "calib-rows", 0, 1, O_CALIB_ROWS }, { "allocate-step", 0, 1, O_ALLOC_STEP },
		{ "widths", 0, 1, O_WIDTHS }, { "no-wait", 0, 0, O_NOWAIT }, CLI_MODEL_OPTIONS,
		{ NULL, 0, 0, 0 }
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
		case O_MEAN: c->means_text = arg; c->means_set = 1; break;
		case O_STD: c->stds_text = arg; c->means_set = 1; break;
		case O_OUT: c->out_dir = arg; break;
		case O_NOWAIT: c->no_wait = 1; break;
		case O_MODEL: c->model_path = arg; break;
		case O_DATA: c->data_path = arg; break;
		case O_LABELS: c->labels_path = arg; break;
		case O_MINKEEP:
			if (cli_size(p, "--min-keep", arg, 0, NNP_MAX_WIDTH, &c->min_keep))
				return -1;
			c->min_keep_set = 1;
			break;
		case O_NOFOLD: c->fold = 0; break;
		case O_FORMAT:
			if (cli_format_option(p, arg, &c->format))
				return -1;
			break;
		case O_MAXDROP:
			if (cli_double(p, "--max-drop", arg, 0, 100, &c->max_drop))
				return -1;
			break;
		case O_BEST: c->best_path = arg; break;
		case O_JSON: c->json = 1; break;
		case O_CALIB_MEM:
			if (cli_parse_bytes(p, "--calib-mem-limit", arg, &c->calib_mem_limit))
				return -1;
			break;
		case O_MEM:
			if (cli_parse_bytes(p, "--mem-limit", arg, &c->mem_limit))
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
		case O_METHOD:
			if (cli_method_option(p, 'm', arg, &c->mo))
				return -1;
			break;
		case O_COMP:
			if (cli_method_option(p, 'c', arg, &c->mo))
				return -1;
			c->comp_set = 1;
			break;
		case O_LAMBDA:
			if (cli_method_option(p, 'l', arg, &c->mo))
				return -1;
			c->lambda_set = 1;
			break;
		case O_KEEP: c->keep_text = arg; break;
		case O_ALLOCATE: c->allocate = 1; break;
		case O_ALLOC_STEP:
			if (cli_double(p, "--allocate-step", arg, 0.001, 0.5, &c->mo.grid_step))
				return -1;
			c->alloc_step_set = 1;
			break;
		case O_TARGET: c->targets_text = arg; break;
		case O_WIDTHS: c->widths_text = arg; break;
		case O_CALIB: c->calib_path = arg; break;
		case O_CALIB_LABELS: c->calib_labels = arg; break;
		case O_CALIB_ROWS:
			if (cli_size(p, "--calib-rows", arg, 1, UINT64_MAX, &c->calib_rows))
				return -1;
			break;
		default:
			if (cli_model_is_option(id) && cli_model_option(p, &c->model, id, arg))
				return -1;
		}
	}
	if (p->n_operands != 0)
		return cli_usage_error(p, "unexpected argument '%s' (the model and data come from "
		                          "the statistics file)", p->operands[0]), -1;
	if (c->best_path && isnan(c->max_drop))
		return cli_usage_error(p, "--best needs --max-drop to choose a model"), -1;
	if (c->ft_option && !c->ft_data)
		return cli_usage_error(p, "%s needs --finetune TRAIN_DATA", c->ft_option), -1;
	return check_method(p, c);
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

/* What a candidate's file name says it is: "-m0.1-s0.4" for the rule (as it
 * always was), "-rule-ls-m0.1-s0.4" for the rule with a refit, and for the
 * other methods "-obs-ls-k0.5", "-obs-ls-a12" (allocation step), "-obs-ls-t150000". */
static void budget_name(char *buf, size_t size, const nnp_candidate *c, const sweep_cfg *cfg)
{
	const char *me = nnp_method_name(cfg->mo.method);
	const char *co = nnp_compensate_name(cfg->mo.compensate);
	if (nnp_method_by_thresholds(cfg->mo.method) && cfg->mo.compensate != NNP_COMP_LS)
		snprintf(buf, size, "-m%.12g-s%.12g", c->mean_thr, c->std_thr);
	else if (nnp_method_by_thresholds(cfg->mo.method))
		snprintf(buf, size, "-%s-%s-m%.12g-s%.12g", me, co, c->mean_thr, c->std_thr);
	else if (c->target_params)
		snprintf(buf, size, "-%s-%s-t%zu", me, co, c->target_params);
	else if (c->alloc_step)
		snprintf(buf, size, "-%s-%s-a%zu", me, co, c->alloc_step);
	else if (c->widths) {
		int n = snprintf(buf, size, "-%s-%s-w", me, co);
		for (size_t l = 0; n > 0 && (size_t)n < size && l < c->keep->n_layers; l++)
			n += snprintf(buf + n, size - (size_t)n, "%s%zu", l ? "-" : "", c->keep->count[l]);
	} else
		snprintf(buf, size, "-%s-%s-k%.12g", me, co, c->keep_frac);
}

/* "dir/stem-m0.1-s0.4.bin"; with ft_epochs > 0 "dir/stem-m0.1-s0.4-ft2.bin", and
 * for the original (c NULL) "dir/stem-ft2.bin". */
static char *candidate_path(const char *dir, const char *stem, const nnp_candidate *c,
                            const sweep_cfg *cfg, nnp_format fmt, uint64_t ft_epochs)
{
	size_t n = strlen(dir) + strlen(stem) + 600;
	char *p = malloc(n);
	if (!p)
		return NULL;
	char thr[512] = "", ft[32] = "";
	if (c)
		budget_name(thr, sizeof thr, c, cfg);
	if (ft_epochs)
		snprintf(ft, sizeof ft, "-ft%llu", (unsigned long long)ft_epochs);
	snprintf(p, n, "%s/%s%s%s.%s", dir, stem, thr, ft, nnp_format_name(fmt));
	return p;
}

/* "mean 0.1, std 0.4", "keep 0.5", "allocation step 12", "target 150000 (allocation
 * step 12)": how messages name a candidate. */
static void budget_text(char *buf, size_t size, const nnp_candidate *c)
{
	if (c->target_params)
		snprintf(buf, size, "target %zu (allocation step %zu)", c->target_params,
		         c->alloc_step);
	else if (c->alloc_step)
		snprintf(buf, size, "allocation step %zu", c->alloc_step);
	else if (c->keep_frac > 0)
		snprintf(buf, size, "keep %g", c->keep_frac);
	else if (c->widths) {
		int n = snprintf(buf, size, "widths ");
		for (size_t l = 0; n > 0 && (size_t)n < size && l < c->keep->n_layers; l++)
			n += snprintf(buf + n, size - (size_t)n, "%s%zu", l ? "-" : "", c->keep->count[l]);
	}
	else
		snprintf(buf, size, "mean %g, std %g", c->mean_thr, c->std_thr);
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

/* The provenance a slimmed model carries: where it came from and what was kept
 * (for a plain threshold sweep, exactly what it always recorded). */
static char *provenance_json(const nnp_model *src, const char *src_path, uint32_t src_crc,
                             const nnp_candidate *c, const sweep_cfg *cfg)
{
	cli_prov pv;
	cli_prov_init(&pv);
	pv.src = src;
	pv.src_path = src_path;
	pv.src_crc = src_crc;
	pv.method = nnp_method_name(cfg->mo.method);
	pv.kept = c->keep;
	if (!cfg->plain) {
		pv.compensate = nnp_compensate_name(cfg->mo.compensate);
		pv.calib = cfg->calib;
		if (nnp_method_uses_ridge(&cfg->mo))
			pv.lambda_rel = cfg->mo.lambda_rel;
	}
	if (nnp_method_by_thresholds(cfg->mo.method)) {
		pv.mean_thr = c->mean_thr;
		pv.std_thr = c->std_thr;
		pv.fold = cfg->fold;
		pv.min_keep = (size_t)cfg->min_keep;
	} else {
		pv.keep_frac = c->keep_frac > 0 ? c->keep_frac : NAN;
		pv.target_params = c->target_params ? c->target_params : CLI_PROV_NONE;
		if (c->alloc_step) {
			pv.alloc_step = c->alloc_step - 1;
			pv.grid_step = cfg->mo.grid_step;
		}
		if (c->widths) {
			pv.widths = c->keep->count;
			pv.n_widths = c->keep->n_layers;
		}
	}
	return cli_provenance_prune(&pv);
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
		char *path = candidate_path(cfg->out_dir, stem, c, cfg, fmt, 0);
		char *prov = provenance_json(m, model_path, model_crc, c, cfg);
		int rc = (!path || !prov) ? nnp_err_set(err, NNP_ENOMEM, "out of memory") : NNP_OK;
		if (!rc)
			rc = check_not_input(path, inputs, n_inputs, err);
		if (!rc)
			rc = nnp_model_set_provenance(pm, prov, err);
		if (!rc)
			rc = nnp_model_save_opts(pm, path, fmt, NULL, err);
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
	to.labels_option = "--finetune-labels FILE";
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
		rc = nnp_model_save_opts(j->model, path, fmt, NULL, err);
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
		char *path = candidate_path(cfg->out_dir, stem, i ? c : NULL, cfg, fmt,
		                            cfg->ft_epochs);
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

/* ---- candidates built outside the threshold engine ---- */

/* A sweep of n candidates, none built yet (thresholds NAN, no duplicates). */
static nnp_sweep *sweep_alloc(size_t n)
{
	nnp_sweep *sw = calloc(1, sizeof *sw);
	if (!sw)
		return NULL;
	sw->n = n;
	sw->c = calloc(n ? n : 1, sizeof *sw->c);
	sw->models = calloc(n ? n : 1, sizeof *sw->models);
	if (!sw->c || !sw->models) {
		nnp_sweep_free(sw);
		return NULL;
	}
	sw->original.mean_thr = sw->original.std_thr = NAN;
	sw->original.same_as = NNP_NO_DUP;
	for (size_t i = 0; i < n; i++) {
		sw->c[i].mean_thr = sw->c[i].std_thr = NAN;
		sw->c[i].same_as = NNP_NO_DUP;
	}
	return sw;
}

/* "building 3/40" on stderr, only on a terminal and when not quiet. */
static void build_progress(const sweep_cfg *cfg, size_t done, size_t n)
{
	if (cfg->quiet || cfg->json || !isatty(STDERR_FILENO))
		return;
	if (done < n)
		fprintf(stderr, "\rbuilding candidates: %zu/%zu", done, n);
	else
		fprintf(stderr, "\r\033[K");
	fflush(stderr);
}

/* The rule with a refit: the kept sets of every (mean, std) pair on s, each
 * distinct one's next layers refit on the calibration rows. */
static int build_rule_ls(nnp_sweep **out, const nnp_model *m, const nnp_stats *s,
                         const cli_calib *cal, const double *means, size_t n_means,
                         const double *stds, size_t n_stds, const sweep_cfg *cfg, nnp_err *err)
{
	nnp_method_ctx *ctx = NULL;
	/* Each list holds at most 10,000 values: the product cannot overflow. */
	if (n_means * n_stds > SWEEP_MAX_BUILT)
		return nnp_err_set(err, NNP_EUSAGE, "sweep: %zu x %zu candidates, the limit with "
		                   "--compensate ls is %u", n_means, n_stds, SWEEP_MAX_BUILT);
	nnp_sweep *sw = sweep_alloc(n_means * n_stds);
	int rc = sw ? NNP_OK : nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory");
	for (size_t i = 0; !rc && i < sw->n; i++) {
		nnp_candidate *c = &sw->c[i];
		c->mean_thr = means[i / n_stds];
		c->std_thr = stds[i % n_stds];
		rc = nnp_keep_rule(&c->keep, s, c->mean_thr, c->std_thr, (size_t)cfg->min_keep, err);
		if (!rc)
			c->floor_hit = nnp_keep_any_floor(c->keep);
	}
	if (!rc)
		rc = nnp_candidates_dedupe(sw->c, sw->n, &sw->n_unique, err);
	if (!rc)
		rc = cli_calib_method_ctx(&ctx, m, cal, &cfg->mo, err);
	for (size_t i = 0; !rc && i < sw->n; i++) {
		build_progress(cfg, i, sw->n);
		if (sw->c[i].same_as == NNP_NO_DUP)
			rc = nnp_method_ctx_prune_keep(ctx, sw->c[i].keep, &sw->models[i], err);
	}
	build_progress(cfg, sw ? sw->n : 0, sw ? sw->n : 0);
	nnp_method_ctx_free(ctx);
	if (rc) {
		nnp_sweep_free(sw);
		return rc;
	}
	*out = sw;
	return NNP_OK;
}

/* Candidate i of score or obs from per-layer counts. */
static int build_one(nnp_method_ctx *ctx, nnp_sweep *sw, size_t i, const size_t *counts,
                     nnp_err *err)
{
	return nnp_method_ctx_prune(ctx, counts, &sw->models[i], &sw->c[i].keep, err);
}

/* score or obs: one candidate per --keep fraction, then per allocation step
 * (--allocate), then per --target-params budget, then per --widths set. An
 * unreachable budget is NNP_EUSAGE. */
static int build_method(nnp_sweep **out, const nnp_model *m, const cli_calib *cal,
                        const double *keeps, size_t n_keeps, const cli_target *targets,
                        size_t n_targets, const cli_widths *widths, const sweep_cfg *cfg,
                        nnp_err *err)
{
	nnp_method_ctx *ctx = NULL;
	nnp_alloc *a = NULL;
	nnp_sweep *sw = NULL;
	size_t H = m->n_layers - 1, params0 = nnp_model_params(m);
	size_t *counts = calloc(H ? H : 1, sizeof *counts);
	int rc = counts ? cli_calib_method_ctx(&ctx, m, cal, &cfg->mo, err)
	                : nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory");
	if (!rc && (cfg->allocate || n_targets))
		rc = nnp_method_ctx_allocate(ctx, &a, err);
	if (rc)
		goto done;
	size_t n_steps = cfg->allocate ? a->n : 0;
	if (!(sw = sweep_alloc(n_keeps + n_steps + n_targets + widths->n_sets))) {
		rc = nnp_err_set(err, NNP_ENOMEM, "sweep: out of memory");
		goto done;
	}
	size_t i = 0;
	for (size_t k = 0; !rc && k < n_keeps; k++, i++) {
		build_progress(cfg, i, sw->n);
		sw->c[i].keep_frac = keeps[k];
		rc = nnp_method_counts(m, keeps[k], counts, err);
		if (!rc)
			rc = build_one(ctx, sw, i, counts, err);
	}
	for (size_t k = 0; !rc && k < n_steps; k++, i++) {
		build_progress(cfg, i, sw->n);
		sw->c[i].alloc_step = k + 1;
		rc = build_one(ctx, sw, i, a->counts + k * H, err);
	}
	for (size_t k = 0; !rc && k < n_targets; k++, i++) {
		build_progress(cfg, i, sw->n);
		size_t target = cli_target_params(&targets[k], params0);
		size_t st = target >= params0 ? NNP_ALLOC_NONE : nnp_alloc_pick(a, target);
		sw->c[i].target_params = target;
		if (target >= params0) {
			/* Within budget already: every layer whole. */
			for (size_t l = 0; l < H; l++)
				counts[l] = m->layers[l].out;
			rc = build_one(ctx, sw, i, counts, err);
		} else if (st == NNP_ALLOC_NONE) {
			rc = nnp_err_set(err, NNP_EUSAGE,
			                 "--target-params %s: %zu parameters is below the smallest model "
			                 "the allocation reaches (%zu parameters)", targets[k].text,
			                 target, a->n ? a->params[a->n - 1] : params0);
		} else {
			sw->c[i].alloc_step = st + 1;
			rc = build_one(ctx, sw, i, a->counts + st * H, err);
		}
	}
	for (size_t k = 0; !rc && k < widths->n_sets; k++, i++) {
		build_progress(cfg, i, sw->n);
		sw->c[i].widths = 1;
		rc = build_one(ctx, sw, i, widths->v + k * widths->n_per, err);
	}
	build_progress(cfg, sw->n, sw->n);
	if (!rc)
		rc = nnp_candidates_dedupe(sw->c, sw->n, &sw->n_unique, err);
	/* A duplicate is evaluated and written through its first. */
	for (size_t k = 0; !rc && k < sw->n; k++)
		if (sw->c[k].same_as != NNP_NO_DUP) {
			nnp_model_free(sw->models[k]);
			sw->models[k] = NULL;
		}
done:
	nnp_alloc_free(a);
	nnp_method_ctx_free(ctx);
	free(counts);
	if (rc) {
		nnp_sweep_free(sw);
		return rc;
	}
	*out = sw;
	return NNP_OK;
}

/* The calibration rows: --calib DATA (read with the statistics' reader
 * options), else the evaluation rows already in memory. */
static int load_calib(cli_calib *cal, const sweep_cfg *cfg, const nnp_model *m,
                      const nnp_dataset *d, const char *data_path, const nnp_data_opts *dopts,
                      const nnp_stats_source *src, nnp_err *err)
{
	memset(cal, 0, sizeof *cal);
	if (cfg->calib_path) {
		nnp_data_opts o = *dopts;
		o.labels_path = cfg->calib_labels;
		return cli_calib_load(cal, cfg->calib_path, &o, m->input_size, cfg->calib_rows,
		                      cfg->calib_mem_limit, err);
	}
	/* The evaluation data beyond --mem-limit calibrates streamed, too. */
	if (!d)
		return cli_calib_load(cal, data_path, dopts, m->input_size, 0, 0, err);
	cal->path = data_path;
	cal->labels_path = dopts->labels_path;
	cal->bytes = src->data_bytes;
	cal->crc32 = src->data_crc32;
	cal->view = *d;
	cal->view.y = NULL;
	cal->rows = d->rows;
	return NNP_OK;
}

static void lock_wait(const char *dir, long pid, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "nnprune: %s: another run (pid %ld) is writing there; waiting for it "
	        "(--no-wait: fail instead)\n", dir, pid);
}

int cmd_sweep(int argc, char **argv)
{
	cli_parser p;
	if (cli_init(&p, argc, argv, NULL, "sweep", sweep_usage))
		return NNP_EXIT_INPUT;
	const nnp_method_opts mo0 = NNP_METHOD_OPTS_INIT;
	sweep_cfg cfg = { SWEEP_DEFAULT_STATS, SWEEP_DEFAULT_OUT, NULL, NULL, NULL,
		          SWEEP_DEFAULT_MEANS, SWEEP_DEFAULT_STDS, NULL, 1, SWEEP_DEFAULT_MEM_LIMIT,
		          CLI_CALIB_MEM_LIMIT, 1, 0, 0, 0, NAN, 0, NULL, NULL, NULL, SWEEP_DEFAULT_FT_EPOCHS,
		          SWEEP_DEFAULT_FT_SEED, NAN, 0, mo0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
		          NULL, 0, 0, 0, NULL, 0, { { 0 }, NULL, NULL } };
	cfg.mo.method = NNP_METHOD_RULE;
	int rc = NNP_EXIT_OK;
	nnp_err err;
	nnp_err_clear(&err);
	nnp_stats *s = NULL;
	nnp_stats_source src;
	memset(&src, 0, sizeof src);
	nnp_model *m = NULL;
	nnp_dataset *d = NULL;
	nnp_sweep *sw = NULL;
	double *means = NULL, *stds = NULL, *keeps = NULL;
	size_t n_means = 0, n_stds = 0, n_keeps = 0, n_targets = 0;
	cli_target *targets = NULL;
	cli_widths widths;
	memset(&widths, 0, sizeof widths);
	cli_calib cal;
	memset(&cal, 0, sizeof cal);
	nnp_stats *cs = NULL;
	char *json = NULL;
	nnp_dir_lock *lock = NULL;
	sweep_ft ft;
	memset(&ft, 0, sizeof ft);

	int prc = parse_args(&p, &cfg);
	if (prc) {
		rc = prc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
		goto done;
	}
	int rule = nnp_method_by_thresholds(cfg.mo.method);
	if ((cfg.keep_text && cli_parse_fractions(&p, "--keep", cfg.keep_text, &keeps, &n_keeps)) ||
	    (cfg.targets_text &&
	     cli_parse_targets(&p, "--target-params", cfg.targets_text, &targets, &n_targets)) ||
	    (cfg.widths_text &&
	     cli_parse_widths(&p, "--widths", cfg.widths_text, SWEEP_MAX_WIDTHS, &widths))) {
		rc = NNP_EXIT_USAGE;
		goto done;
	}
	if ((rule && (nnp_parse_list(cfg.means_text, &means, &n_means, &err) ||
	              nnp_parse_list(cfg.stds_text, &stds, &n_stds, &err))) ||
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
	if (nnp_require_regular(model_path, &err) ||
	    cli_model_load(&m, model_path, &cfg.model, &fi, &err) ||
	    check_same(model_path, fi.bytes, fi.crc32, src.model_bytes, src.model_crc32,
	               cfg.stats_path, &err) ||
	    check_identity(data_path, src.data_bytes, src.data_crc32, cfg.stats_path, &err) ||
	    (labels_path &&
	     check_identity(labels_path, src.labels_bytes, src.labels_crc32, cfg.stats_path, &err))) {
		/* A path read from the statistics file: say where it came from. */
		nnp_stats_note_origin(&err, &src, cfg.stats_path);
		goto fail;
	}
	if (check_shape(m, s, model_path, cfg.stats_path, &err))
		goto fail;
	if (cfg.widths_text && cli_check_widths("--widths", &widths, m, &err)) {
		rc = cli_usage_error(&p, "%s", err.msg);
		goto done;
	}

	nnp_data_opts dopts = src.data_opts;
	dopts.labels_path = labels_path;
	dopts.labels_option = "--labels FILE";
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
	/* --mem-limit 0: always streamed. */
	int drc = cfg.mem_limit ? nnp_dataset_load(&d, data_path, &dopts, cfg.mem_limit, &err)
	                        : NNP_ETOOBIG;
	if (drc && drc != NNP_ETOOBIG)
		goto fail;
	nnp_err_clear(&err);

	/* The rule on the evaluation data's statistics, folding or not, is the
	 * sweep as it always was; everything else computes on calibration rows. */
	cfg.plain = rule && cfg.mo.compensate != NNP_COMP_LS && !cfg.calib_path;
	if (!cfg.plain) {
		if (load_calib(&cal, &cfg, m, d, data_path, &dopts, &src, &err))
			goto fail;
		cfg.calib = &cal;
	}
	/* The rule's thresholds apply to the calibration rows' statistics. */
	const nnp_stats *rs = s;
	if (rule && cfg.calib_path) {
		nnp_run_opts ro = NNP_RUN_OPTS_INIT;
		ro.threads = cfg.threads;
		if (cli_calib_stats(&cs, m, &cal, &ro, &err))
			goto fail;
		rs = cs;
	}
	int brc = NNP_OK;
	if (rule && cfg.mo.compensate != NNP_COMP_LS) {
		nnp_sweep_opts so = { means, n_means, stds, n_stds, (size_t)cfg.min_keep, cfg.fold,
			              cfg.threads, data_path, &dopts };
		if (nnp_sweep_run(&sw, m, rs, d, &so, &err))
			goto fail;
	} else {
		brc = rule ? build_rule_ls(&sw, m, rs, &cal, means, n_means, stds, n_stds, &cfg, &err)
		           : build_method(&sw, m, &cal, keeps, n_keeps, targets, n_targets, &widths,
		                          &cfg, &err);
		nnp_eval_opts eo = NNP_EVAL_OPTS_INIT;
		eo.threads = cfg.threads;
		if (!brc)
			brc = nnp_sweep_evaluate(sw, m, d, data_path, &dopts, &eo, &err);
	}
	if (brc == NNP_EUSAGE) {
		/* An unreachable budget is the caller's number. */
		rc = cli_usage_error(&p, "%s", err.msg);
		goto done;
	}
	if (brc)
		goto fail;

	if (nnp_mkdir(cfg.out_dir, &err) ||
	    nnp_dir_lock_take(&lock, cfg.out_dir, !cfg.no_wait, lock_wait, NULL, &err))
		goto fail;
	const char *inputs[] = { model_path, data_path, labels_path, cfg.stats_path, cfg.ft_data,
		                 cfg.ft_labels, cfg.calib_path, cfg.calib_labels };
	const size_t n_inputs = sizeof inputs / sizeof inputs[0];
	if (check_reports(cfg.out_dir, inputs, n_inputs, &err))
		goto fail;
	nnp_format fmt = cli_format_pick(cfg.format, fi.format);
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
	if (!cfg.plain) {
		info.method = nnp_method_name(cfg.mo.method);
		info.compensate = nnp_compensate_name(cfg.mo.compensate);
		if (nnp_method_uses_ridge(&cfg.mo))
			info.lambda_rel = cfg.mo.lambda_rel;
		/* A copy of the evaluation data is no separate calibration set. */
		int same = cfg.calib_path && cal.bytes == src.data_bytes && cal.crc32 == src.data_crc32;
		info.calib_path = same ? NULL : cfg.calib_path;
		info.calib_rows = cal.rows;
	}
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
	if (nnp_report_write(cfg.out_dir, sw, rs, &info, &err) ||
	    nnp_report_write_html(cfg.out_dir, sw, rs, &info, &err))
		goto fail;
	if (cfg.json) {
		if (nnp_report_render(&json, NULL, NNP_REPORT_JSON, sw, rs, &info, &err))
			goto fail;
		fputs(json, stdout);
	} else if (!cfg.quiet) {
		if (nnp_report_table(stdout, sw, rs, &info, &err))
			goto fail;
		printf("\n%zu candidates (%zu distinct) evaluated on %llu rows; ", sw->n, sw->n_unique,
		       (unsigned long long)sw->rows);
		if (!cfg.plain && info.calib_path)
			printf("%s + %s calibrated on %s (%zu rows); ", info.method, info.compensate,
			       cfg.calib_path, cal.rows);
		else if (!cfg.plain)
			printf("%s + %s calibrated on the evaluation data itself; ", info.method,
			       info.compensate);
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
			char bt[96];
			if (c)
				budget_text(bt, sizeof bt, c);
			if (c)
				fprintf(stderr, "nnprune: sweep: no candidate within %g points of the "
				        "original accuracy%s; closest: %s with a drop of %.2f points (%s)\n",
				        cfg.max_drop, what, bt, cfg.ft_data ? c->ft_drop : c->accuracy_drop,
				        file ? file : "-");
			else
				fprintf(stderr, "nnprune: sweep: no candidate within %g points of the "
				        "original accuracy%s\n", cfg.max_drop, what);
			rc = NNP_EXIT_GATE;
			goto done;
		}
		const nnp_candidate *b = &sw->c[info.best];
		char bt[96];
		budget_text(bt, sizeof bt, b);
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
			    nnp_model_save_opts(sw->models[bi], cfg.best_path, fmt, NULL, &err)) {
				free(prov);
				if (!err.msg[0])
					nnp_err_set(&err, NNP_ENOMEM, "out of memory");
				goto fail;
			}
			free(prov);
		}
		if (!cfg.json && cfg.ft_data)
			fprintf(stderr, "nnprune: sweep: selected %s: %.1f%% fewer parameters, accuracy "
			        "drop after fine-tuning %.2f points (%.2f against the fine-tuned "
			        "original; %.2f before fine-tuning)%s%s\n", bt, b->reduction, b->ft_drop,
			        b->ft_drop_vs_ft, b->accuracy_drop, cfg.best_path ? ", written to " : "",
			        cfg.best_path ? cfg.best_path : "");
		else if (!cfg.json)
			fprintf(stderr, "nnprune: sweep: selected %s: %.1f%% fewer parameters, accuracy "
			        "drop %.2f points%s%s\n", bt, b->reduction, b->accuracy_drop,
			        cfg.best_path ? ", written to " : "", cfg.best_path ? cfg.best_path : "");
	}
	goto done;
fail:
	rc = cli_fail(&err);
done:
	nnp_dir_unlock(lock);
	free(json);
	ft_free(&ft);
	nnp_sweep_free(sw);
	nnp_stats_free(cs);
	cli_calib_free(&cal);
	free(keeps);
	free(targets);
	cli_widths_free(&widths);
	nnp_dataset_free(d);
	nnp_model_free(m);
	nnp_stats_free(s);
	nnp_stats_source_free(&src);
	free(means);
	free(stds);
	cli_model_free(&cfg.model);
	cli_done(&p);
	return rc;
}
