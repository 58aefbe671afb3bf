/* nnprune sweep: prune at every threshold pair, evaluate, write models and report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_model.h"
#include "cmd_sweep.h"
#include "nnprune/pipeline.h"
#include "nnprune/gradual.h"
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
#define SWEEP_DEFAULT_KEEP "0.9:0.1:0.1"
#define SWEEP_MAX_BUILT 100000u   /* candidates whose models are built one by one */
#define SWEEP_MAX_CANDIDATES 1000000u /* those of the threshold engine */

static const char sweep_usage[] =
	"nnprune sweep [--stats FILE] [--method M] [--mean LIST] [--std LIST] [--keep LIST] "
	"[--calib DATA] [--out DIR] [options]";


/* The candidates' lists as parsed. */
typedef struct sweep_lists {
	double *means, *stds, *keeps;
	size_t n_means, n_stds, n_keeps, n_targets;
	cli_target *targets;
	cli_widths widths;
} sweep_lists;

static void sweep_help(void)
{
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
	       "Candidates of magnitude (unstructured; evaluated with the sparse kernel):\n"
	       CLI_SPARSE_HELP
	       "Calibration (what the method's statistics and refits are computed on):\n"
	       "  --calib DATA       calibration rows, read with the statistics' data options\n"
	       "                     (default: the evaluation data itself, which the report\n"
	       "                     then says; separate rows keep the evaluation honest)\n"
	       "  --calib-labels FILE  IDX labels for DATA (only taylor uses labels)\n"
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
	       "  --json             print report.json on stdout and nothing else there\n"
	       "  --mem-limit BYTES  hold the data in memory up to this size, else read it\n"
	       "                     again (suffix K, M or G; default %lluM; 0: never hold)\n"
	       "  -j, --threads N    worker threads (default: all cores)\n"
	       "  -q, --quiet        no table on stdout\n\n"
	       "Fine-tuning (DATA read with the statistics' data options; each model written\n"
	       "as NAME-ft<N>.EXT beside its slimmed model, N the epochs):\n",
	       NNP_METHOD_LAMBDA_REL, SWEEP_DEFAULT_MEANS,
	       SWEEP_DEFAULT_STDS, SWEEP_DEFAULT_KEEP, NNP_METHOD_GRID_STEP,
	       (unsigned long long)(NNP_CALIB_MEM_LIMIT >> 20), SWEEP_DEFAULT_OUT,
	       nnp_format_list_writable(), (unsigned long long)(SWEEP_DEFAULT_MEM_LIMIT >> 20));
	cli_finetune_help();
	printf("  --finetune-pareto       fine-tune only the Pareto candidates (and the original)\n"
	       "Every model trains on one thread, models in parallel (-j), so results do not\n"
	       "depend on -j.\n\n");
	cli_output_help(1);
	printf("(with --finetune, gates judge the fine-tuned models and --best is one of them)\n\n"
	       "%s(give sweep the model options given to 'nnprune stats')\n", CLI_MODEL_HELP);
}

/* Which options go with which method; fills in the compensation's default. */
static int check_method(const cli_parser *p, sweep_cfg *c)
{
	int rule = nnp_method_by_thresholds(c->me.mo.method);
	if (c->me.comp_set && !c->fold && c->me.mo.compensate != NNP_COMP_NONE)
		return cli_usage_error(p, "--no-fold contradicts --compensate %s",
		                       nnp_compensate_name(c->me.mo.compensate)), -1;
	if (!c->me.comp_set)
		c->me.mo.compensate = !c->fold ? NNP_COMP_NONE : rule ? NNP_COMP_FOLD : NNP_COMP_LS;
	c->fold = c->me.mo.compensate == NNP_COMP_FOLD;
	if (rule && (c->keep_text || c->allocate || c->targets_text || c->widths_text))
		return cli_usage_error(p, "%s: budgets belong to --method score or obs (the rule "
		                          "takes --mean and --std)", c->keep_text ? "--keep"
		                       : c->allocate ? "--allocate" : c->targets_text ? "--target-params"
		                       : "--widths"), -1;
	if (!rule && (c->means_set || c->min_keep_set))
		return cli_usage_error(p, "%s: thresholds belong to --method rule (this is %s)",
		                       c->means_set ? "--mean/--std" : "--min-keep",
		                       nnp_method_name(c->me.mo.method)), -1;
	if (cli_sparse_check(p, &c->sp, &c->me, c->keep_text ? "--keep" : c->allocate ? "--allocate"
	                     : c->targets_text ? "--target-params" : c->widths_text ? "--widths"
	                     : NULL, CLI_MAX_BUDGETS))
		return -1;
	if (c->sp.text && c->oo.shard_n)
		return cli_usage_error(p, "--shard: report --merge cannot combine magnitude "
		                          "candidates yet; run the sweep whole"), -1;
	if (!rule && !c->sp.text && !c->keep_text && !c->allocate && !c->targets_text &&
	    !c->widths_text)
		c->keep_text = SWEEP_DEFAULT_KEEP;
	if (c->me.alloc_step_set && !c->allocate && !c->targets_text)
		return cli_usage_error(p, "--allocate-step needs --allocate or --target-params"), -1;
	if (cli_method_check(p, &c->me))
		return -1;
	if ((c->me.calib_labels || c->me.calib_rows) && !c->me.calib)
		return cli_usage_error(p, "%s needs --calib DATA", c->me.calib_labels ? "--calib-labels"
		                                                                    : "--calib-rows"),
		       -1;
	c->me.mo.threads = c->threads;
	return 0;
}

enum { O_STATS = 1, O_MEAN, O_STD, O_OUT, O_MODEL, O_DATA, O_LABELS, O_MINKEEP, O_NOFOLD,
       O_FORMAT, O_JSON, O_MEM, O_CALIB_MEM, O_THREADS, O_QUIET, O_HELP,
       O_FT_PARETO, O_KEEP, O_ALLOCATE,
       O_TARGET, O_WIDTHS, O_NOWAIT };

static int sweep_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	sweep_cfg *c = ctx;
	uint64_t v;
	switch (id) {
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
	case O_FT_PARETO:
		c->ft_pareto = 1;
		c->ft.option = c->ft.option ? c->ft.option : "--finetune-pareto";
		break;
	case O_KEEP: c->keep_text = arg; break;
	case O_ALLOCATE: c->allocate = 1; break;
	case O_TARGET: c->targets_text = arg; break;
	case O_WIDTHS: c->widths_text = arg; break;
	default:
		return cli_sparse_is_option(id) ? cli_sparse_arg(p, &c->sp, id, arg)
		       : cli_method_is_option(id) ? cli_method_arg(p, &c->me, id, arg)
		       : cli_finetune_is_option(id) ? cli_finetune_arg(p, &c->ft, id, arg)
		       : cli_output_is_option(id) ? cli_output_arg(p, &c->oo, id, arg)
		       : cli_model_is_option(id) && cli_model_option(p, &c->model, id, arg);
	}
	return 0;
}

static int parse_args(cli_parser *p, sweep_cfg *c)
{
	static const cli_opt opts[] = {
		{ "stats", 0, 1, O_STATS }, { "mean", 0, 1, O_MEAN }, { "std", 0, 1, O_STD },
		{ "out", 'o', 1, O_OUT }, { "model", 0, 1, O_MODEL }, { "data", 0, 1, O_DATA },
		{ "labels", 0, 1, O_LABELS }, { "min-keep", 0, 1, O_MINKEEP },
		{ "no-fold", 0, 0, O_NOFOLD }, { "format", 'f', 1, O_FORMAT },
		CLI_OPT_EVAL, CLI_OPT_GATES, CLI_OPT_BEST, CLI_OPT_WRITE, CLI_OPT_SHARD,
		{ "json", 0, 0, O_JSON },
		{ "mem-limit", 0, 1, O_MEM }, { "calib-mem-limit", 0, 1, O_CALIB_MEM },
		{ "threads", 'j', 1, O_THREADS },
		{ "quiet", 'q', 0, O_QUIET }, { "help", 'h', 0, O_HELP }, CLI_FINETUNE_OPTIONS,
		{ "finetune-pareto", 0, 0, O_FT_PARETO }, CLI_OPT_METHOD, CLI_OPT_COMPENSATE,
		CLI_OPT_LAMBDA, { "keep", 0, 1, O_KEEP },
		{ "allocate", 0, 0, O_ALLOCATE }, { "target-params", 0, 1, O_TARGET },
		CLI_OPT_CALIB, CLI_OPT_CALIB_LABELS, CLI_OPT_CALIB_ROWS, CLI_OPT_ALLOC_STEP,
		{ "widths", 0, 1, O_WIDTHS }, { "no-wait", 0, 0, O_NOWAIT }, CLI_OPT_SPARSITY,
		CLI_MODEL_OPTIONS,
		{ NULL, 0, 0, 0 }
	};
	int rc = cli_parse_opts(p, opts, O_HELP, sweep_help, sweep_opt, c);
	if (rc)
		return rc;
	if (p->n_operands != 0)
		return cli_usage_error(p, "unexpected argument '%s' (the model and data come from "
		                          "the statistics file)", p->operands[0]), -1;
	if (cli_output_check(p, &c->oo) || cli_finetune_check(p, &c->ft, c->me.mo.method))
		return -1;
	return check_method(p, c);
}

/* The candidates asked for: every (mean, std) pair for the rule, else per
 * --keep fraction, the --allocate path, per --target-params budget, per
 * --widths set, in that order. Labels (for messages) go to *labels. */
static int make_specs(const sweep_cfg *c, const sweep_lists *l, const nnp_model *m,
                      nnp_spec **out, size_t *n, char **labels, nnp_err *err)
{
	size_t total = nnp_method_by_thresholds(c->me.mo.method)
	                       ? l->n_means * l->n_stds
	                       : l->n_keeps + (c->allocate != 0) + l->n_targets + l->widths.n_sets +
	                         c->sp.n;
	nnp_spec *s = calloc(total ? total : 1, sizeof *s);
	char *lab = calloc(l->n_targets ? l->n_targets : 1, 64);
	if (!s || !lab) {
		free(s);
		free(lab);
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	}
	size_t i = 0, params0 = nnp_model_params(m);
	if (nnp_method_by_thresholds(c->me.mo.method))
		for (size_t a = 0; a < l->n_means; a++)
			for (size_t b = 0; b < l->n_stds; b++, i++) {
				s[i].kind = NNP_SPEC_THRESHOLDS;
				s[i].mean = l->means[a];
				s[i].std = l->stds[b];
			}
	else {
		for (size_t k = 0; k < l->n_keeps; k++, i++) {
			s[i].kind = NNP_SPEC_KEEP;
			s[i].keep = l->keeps[k];
		}
		if (c->allocate)
			s[i++].kind = NNP_SPEC_ALLOC_STEP;   /* step 0: every step of the path */
		for (size_t k = 0; k < l->n_targets; k++, i++) {
			s[i].kind = NNP_SPEC_TARGET;
			s[i].target_params = cli_target_params(&l->targets[k], params0);
			snprintf(lab + 64 * k, 64, "--target-params %s", l->targets[k].text);
			s[i].label = lab + 64 * k;
		}
		for (size_t k = 0; k < l->widths.n_sets; k++, i++) {
			s[i].kind = NNP_SPEC_WIDTHS;
			s[i].widths = l->widths.v + k * l->widths.n_per;
		}
		for (size_t k = 0; k < c->sp.n; k++, i++)
			cli_sparse_spec(&c->sp, k, &s[i]);
	}
	*out = s;
	*n = total;
	*labels = lab;
	return NNP_OK;
}

/* Shard i of n keeps the candidates whose index % n is i (so each shard has
 * large and small ones); (*map)[k] is the k-th one's index in the whole sweep. */
static int shard_specs(nnp_pipeline_opts *po, uint64_t i, uint64_t n, size_t **map,
                       nnp_err *err)
{
	size_t total = po->n_specs, k = 0;
	nnp_spec *s = malloc((total / n + 1) * sizeof *s);
	*map = malloc((total / n + 1) * sizeof **map);
	if (!s || !*map) {
		free(s);
		return nnp_err_set(err, NNP_ENOMEM, "out of memory");
	}
	for (size_t j = (size_t)i; j < total; j += (size_t)n, k++) {
		s[k] = po->specs[j];
		(*map)[k] = j;
	}
	if (k == 0) {
		free(s);
		return nnp_err_set(err, NNP_EUSAGE, "--shard %llu/%llu: the sweep has only %zu "
		                   "candidates", (unsigned long long)i, (unsigned long long)n, total);
	}
	po->specs = s;
	po->n_specs = k;
	return NNP_OK;
}

int cmd_sweep(int argc, char **argv, cli_probe *probe)
{
	cli_parser p;
	if (cli_init(&p, argc, argv, NULL, "sweep", sweep_usage, probe))
		return NNP_EXIT_INPUT;
	sweep_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.stats_path = SWEEP_DEFAULT_STATS;
	cfg.out_dir = SWEEP_DEFAULT_OUT;
	cfg.means_text = SWEEP_DEFAULT_MEANS;
	cfg.stds_text = SWEEP_DEFAULT_STDS;
	cfg.min_keep = 1;
	cfg.mem_limit = SWEEP_DEFAULT_MEM_LIMIT;
	cfg.calib_mem_limit = NNP_CALIB_MEM_LIMIT;
	cfg.fold = 1;
	cli_output_init(&cfg.oo);
	cli_finetune_init(&cfg.ft);
	cli_method_init(&cfg.me, NNP_METHOD_RULE);
	cli_model_init(&cfg.model);
	cli_sparse_init(&cfg.sp);
	int rc = NNP_EXIT_OK;
	nnp_err err;
	nnp_err_clear(&err);
	nnp_stats *s = NULL;
	nnp_stats_source src = { 0 };
	nnp_model *m = NULL;
	sweep_lists l;
	memset(&l, 0, sizeof l);
	nnp_spec *specs = NULL;
	char *labels = NULL;
	nnp_pipeline *pl = NULL;
	nnp_model *teacher = NULL;   /* --teacher's; NULL: the original's */
	nnp_pipeline_opts po;
	nnp_pipeline_opts_init(&po);
	size_t *index_map = NULL, n_total = 0;
	nnp_rows_preload *pre = NULL;
	nnp_dataset *pre_rows = NULL;
	nnp_file_info pre_id;
	int pre_too_big = 0;

	int prc = parse_args(&p, &cfg);
	if (prc) {
		rc = prc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
		goto done;
	}
	if (cli_best_check(&cfg.oo, &err))
		goto fail;
	int rule = nnp_method_by_thresholds(cfg.me.mo.method);
	if ((cfg.keep_text && cli_parse_fractions(&p, "--keep", cfg.keep_text, &l.keeps, &l.n_keeps)) ||
	    (cfg.targets_text &&
	     cli_parse_targets(&p, "--target-params", cfg.targets_text, &l.targets, &l.n_targets)) ||
	    (cfg.widths_text &&
	     cli_parse_widths(&p, "--widths", cfg.widths_text, SWEEP_MAX_WIDTHS, &l.widths))) {
		rc = NNP_EXIT_USAGE;
		goto done;
	}
	if ((rule && (nnp_parse_list(cfg.means_text, &l.means, &l.n_means, &err) ||
	              nnp_parse_list(cfg.stds_text, &l.stds, &l.n_stds, &err))) ||
	    (cfg.ft.data && cli_finetune_train_opts(&cfg.ft, NULL, &po.ft_train, &err))) {
		rc = cli_usage_error(&p, "%s", err.msg);
		goto done;
	}
	if (nnp_stats_load(&s, &src, cfg.stats_path, &err))
		goto fail;
	const char *model_path = cfg.model_path ? cfg.model_path : src.model_path;
	const char *data_path = cfg.data_path ? cfg.data_path : src.data_path;
	const char *labels_path = cfg.labels_path ? cfg.labels_path : src.labels_path;
	nnp_data_opts dopts = src.data_opts;
	dopts.labels_path = labels_path;
	dopts.labels_option = "--labels FILE";
	/* The model's identity is what stats recorded from the loader (for a binary
	 * model, the CRC stored in the file), so compare with the loader's view. */
	nnp_file_info fi;
	int lrc = nnp_require_regular(model_path, &err);
	if (!lrc) {
		/* The rows the sweep evaluates, when held in memory, read while the model loads. */
		if (!cfg.oo.eval && cfg.mem_limit && dopts.label != NNP_LABEL_NONE)
			pre = nnp_rows_preload_start(data_path, &dopts, cfg.mem_limit);
		lrc = cli_model_load(&m, model_path, &cfg.model, &fi, &err);
		pre_rows = nnp_rows_preload_finish(pre, lrc ? NULL : m, &pre_id, &pre_too_big);
	}
	if (lrc || nnp_stats_check_files(&src, cfg.stats_path, model_path, &fi, data_path,
	                                 pre_rows ? &pre_id : NULL, labels_path, &err)) {
		/* A path read from the statistics file: say where it came from. */
		nnp_stats_note_origin(&err, &src, cfg.stats_path);
		goto fail;
	}
	if (nnp_stats_check_shape(m, s, model_path, cfg.stats_path, &err))
		goto fail;
	if (cfg.widths_text && cli_check_widths("--widths", &l.widths, m, &err)) {
		rc = cli_usage_error(&p, "%s", err.msg);
		goto done;
	}
	dopts.expect_features = m->input_size;
	dopts.n_classes = nnp_model_outputs(m);
	if (dopts.label == NNP_LABEL_NONE) {
		nnp_err_set(&err, NNP_EINPUT, "%s: the statistics were taken on unlabelled data; "
		            "a sweep needs labels to measure accuracy: run 'nnprune stats' on "
		            "labelled data", cfg.stats_path);
		goto fail;
	}
	if (rule && cfg.me.mo.compensate != NNP_COMP_LS && l.n_means * l.n_stds > SWEEP_MAX_CANDIDATES) {
		nnp_err_set(&err, NNP_EUSAGE, "sweep: %zu x %zu candidates, the limit is %u",
		            l.n_means, l.n_stds, SWEEP_MAX_CANDIDATES);
		goto fail;
	}
	if (rule && cfg.me.mo.compensate == NNP_COMP_LS && l.n_means * l.n_stds > SWEEP_MAX_BUILT) {
		rc = cli_usage_error(&p, "%zu x %zu candidates, the limit with --compensate ls is %u",
		                     l.n_means, l.n_stds, SWEEP_MAX_BUILT);
		goto done;
	}
	if (make_specs(&cfg, &l, m, &specs, &po.n_specs, &labels, &err))
		goto fail;
	n_total = po.n_specs;
	const char *inputs[] = { model_path, data_path, labels_path, cfg.stats_path, cfg.ft.data,
		                 cfg.ft.labels, cfg.me.calib, cfg.me.calib_labels, cfg.ft.teacher,
		                 cfg.oo.eval, cfg.oo.eval_labels };
	po.specs = specs;
	po.mo = cfg.me.mo;
	po.min_keep = (size_t)cfg.min_keep;
	po.threads = cfg.threads;
	po.stats = s;
	/* The statistics' rows are the evaluation rows, and calibrate by default. */
	nnp_source stats_src = { data_path, dopts, 0, 0, NULL, src.data_bytes, src.data_crc32 };
	po.stats_src = po.eval = stats_src;
	po.eval.mem_limit = cfg.mem_limit;
	po.eval.rows = pre_rows;
	/* Over the limit: streamed without a second try at holding them. */
	if (pre_too_big)
		po.eval.mem_limit = 0;
	if (cfg.me.calib) {
		nnp_source cs = { cfg.me.calib, dopts, cfg.me.calib_rows, cfg.calib_mem_limit, NULL, 0, 0 };
		cs.opts.labels_path = cfg.me.calib_labels;
		cs.opts.labels_option = "--calib-labels FILE";
		po.calib = cs;
	}
	if (cfg.ft.data) {
		/* Read like the evaluation data, with its own labels file for IDX images. */
		nnp_source ts = { cfg.ft.data, dopts, 0, 0, NULL, 0, 0 };
		ts.opts.labels_path = cfg.ft.labels;
		ts.opts.labels_option = "--finetune-labels FILE";
		po.finetune = ts;
	}
	po.ft_pareto = cfg.ft_pareto;
	po.ft_gradual = cfg.ft.gradual ? NNP_GRADUAL_STEPS : 0;
	if (cli_finetune_teacher(&cfg.ft, m, &teacher, &po.ft_train.teacher, &err))
		goto fail;
	if (!cfg.ft.distill)
		po.ft_train.teacher = NULL;
	po.gates = &cfg.oo.gates;
	po.write = cfg.oo.write;
	if (cfg.oo.eval) {
		/* Held-out rows judge; the statistics stay where they were taken. */
		nnp_source es = { cfg.oo.eval, dopts, 0, cfg.mem_limit, NULL, 0, 0 };
		es.opts.labels_path = cfg.oo.eval_labels;
		es.opts.labels_option = "--eval-labels FILE";
		po.eval = es;
	}
	if (cfg.oo.shard_n && shard_specs(&po, cfg.oo.shard_i, cfg.oo.shard_n, &index_map, &err))
		goto fail;
	po.mag_scope = cfg.sp.scope;
	nnp_pipeline_output out = { cfg.out_dir, model_path, fi.crc32,
		                    cli_format_pick(cfg.format, fi.format), inputs,
		                    sizeof inputs / sizeof inputs[0], !cfg.no_wait, cli_lock_wait, NULL };
	po.out = out;
	rc = cli_pipeline_run(&p, &pl, m, &po, cfg.quiet || cfg.json, &err);
	if (rc)
		goto done;
	for (size_t k = 0; k < pl->left.n; k++)
		fprintf(stderr, "nnprune: note: %s/%s: left in place (changed since the previous run "
		        "wrote it)\n", cfg.out_dir, pl->left.e[k].name);
	rc = sweep_report(&cfg, pl, m, model_path, cfg.oo.eval ? cfg.oo.eval : data_path, &src,
	                  index_map, n_total, &err);
	goto done;
fail:
	rc = cli_fail(&err);
done:
	nnp_pipeline_free(pl);
	nnp_dataset_free(pre_rows);
	free(index_map);
	if (po.specs != specs)
		free((nnp_spec *)po.specs);
	free(specs);
	free(labels);
	free(l.keeps);
	free(l.targets);
	cli_widths_free(&l.widths);
	free(l.means);
	free(l.stds);
	nnp_model_free(m);
	nnp_model_free(teacher);
	nnp_stats_free(s);
	nnp_stats_source_free(&src);
	cli_model_free(&cfg.model);
	cli_sparse_free(&cfg.sp);
	cli_done(&p);
	return rc;
}
