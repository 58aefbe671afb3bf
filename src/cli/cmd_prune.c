/* nnprune prune: one slimmed model from a method, a compensation and a budget. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_model.h"
#include "cmd_prune.h"
#include "finetune.h"
#include "nnprune/gradual.h"
#include "prune_iter.h"
#include "nnprune/criteria.h"
#include "nnprune/io.h"
#include "nnprune/method.h"
#include "nnprune/model.h"
#include "nnprune/prune.h"
#include "nnprune/pipeline.h"
#include "nnprune/report.h"
#include "nnprune/stats.h"

static const char prune_usage[] =
	"nnprune prune MODEL --calib DATA (--keep F | --widths LIST | --target-params N|P% | "
	"--mean M --std S | --iterative [conditions]) -o OUT [options]\n"
	"       nnprune prune MODEL --method magnitude --sparsity S [--scope layer|global|hidden] "
	"-o OUT [options]";


static void prune_help(void)
{
	const nnp_method_opts d = NNP_METHOD_OPTS_INIT;
	printf("usage: %s\n\n"
	       "Removes hidden neurons of MODEL, physically, and writes the smaller model to\n"
	       "OUT (atomically) with its provenance. Which neurons go and how the next layer\n"
	       "makes up for them is computed on the calibration rows DATA (labels are\n"
	       "needed by taylor only). Prints one line: parameters before and after.\n\n"
	       "Method (which neurons stay):\n", prune_usage);
	cli_print_methods(NNP_METHOD_SCORE);
	printf("Compensation (what the next layer becomes):\n"
	       "  --compensate none  drop the removed neurons' weights\n"
	       "  --compensate fold  add each removed neuron's mean contribution to the next\n"
	       "                     bias (the default for rule)\n"
	       "  --compensate ls    refit the next layer by ridge least squares to reproduce the\n"
	       "                     original's pre-activations on DATA (the default for score\n"
	       "                     and obs)\n"
	       "  --lambda X         ridge strength relative to trace(C)/n, C the covariance of\n"
	       "                     the layer's activations (default %g; ls and obs only)\n"
	       "Budget (one of):\n"
	       "  --keep F           keep round(F * width) neurons of every hidden layer, F in\n"
	       "                     (0, 1]\n"
	       "  --widths LIST      keep exactly these numbers of neurons, one per hidden\n"
	       "                     layer, e.g. 160,160,96\n"
	       "  --target-params N|P%%  at most N parameters (or P%% of the original's), the\n"
	       "                     per-layer counts from the sensitivity allocation (the first\n"
	       "                     step of its path within the budget)\n"
	       "  --allocate-step X  the allocation's grid of fractions per layer (default %g)\n"
	       "  --mean M --std S   the rule's thresholds (rule only); --min-keep N: every\n"
	       "                     hidden layer keeps at least N neurons (default 1)\n"
	       "Unstructured (--method magnitude: one value; --calib only for --compensate ls):\n"
	       CLI_SPARSE_HELP
	       "Calibration data and output:\n"
	       "  --calib DATA       calibration rows (CSV or IDX, plain or .gz)\n"
	       "  --calib-labels FILE  IDX labels for DATA, if its reader needs them (same as\n"
	       "                     --labels; taylor needs labels)\n"
	       "  --calib-rows N     use only the first N rows of DATA\n"
	       "  --mem-limit BYTES  hold the calibration rows in memory up to this size, else\n"
	       "                     read DATA again at every pass (suffix K, M or G;\n"
	       "                     default %lluM; 0: always read again)\n"
	       "  -o, --output OUT   the slimmed model\n"
	       "  --format FMT       its format: %s (default: OUT's\n"
	       "                     extension's, else bin)\n"
	       "  --json             print the result as JSON (nnprune.prune) on stdout\n"
	       "  -q, --quiet        print nothing on success\n"
	       "Fine-tuning (OUT is then the slimmed model fine-tuned; stderr compares it with\n"
	       "the original fine-tuned the same way; DATA read with the data options):\n",
	       d.lambda_rel, d.grid_step,
	       (unsigned long long)(NNP_CALIB_MEM_LIMIT >> 20), nnp_format_list_writable());
	cli_finetune_help();
	printf("\n");
	cli_output_help(0);
	printf("(the accuracy gates need --eval; OUT is written whatever the verdict)\n\n"
	       "%s\n%sResults are the same for any -j.\n\n", CLI_DATA_HELP, CLI_MODEL_HELP);
	prune_iter_help();
}

static int parse_keep(const cli_parser *p, const char *arg, double *keep)
{
	double v;
	if (cli_double(p, "--keep", arg, -INFINITY, INFINITY, &v))
		return -1;
	if (!(v > 0.0 && v <= 1.0))
		return cli_usage_error(p, "--keep: %s is out of range (0, 1]", arg), -1;
	*keep = v;
	return 0;
}

enum { O_OUT = 1, O_KEEP, O_WIDTHS, O_TARGET, O_MEM, O_MEAN, O_STD, O_MINKEEP, O_FORMAT,
       O_QUIET, O_HELP, O_JSON };

static int prune_opt(cli_parser *p, void *ctx, int id, const char *arg)
{
	prune_cfg *c = ctx;
	switch (id) {
	case O_OUT: c->out = arg; break;
	/* The calibration rows are the data prune reads (as --labels). */
	case CLI_M_CALIB_LABELS: c->data.opts.labels_path = arg; break;
	case O_KEEP:
		if (parse_keep(p, arg, &c->keep))
			return -1;
		break;
	case O_WIDTHS: c->widths_text = arg; break;
	case O_MEM:
		if (cli_parse_bytes(p, "--mem-limit", arg, &c->mem_limit))
			return -1;
		break;
	case O_TARGET:
		if (cli_parse_target(p, "--target-params", arg, &c->target))
			return -1;
		break;
	case O_MEAN:
		if (cli_double(p, "--mean", arg, 0, INFINITY, &c->mean_thr))
			return -1;
		break;
	case O_STD:
		if (cli_double(p, "--std", arg, 0, INFINITY, &c->std_thr))
			return -1;
		break;
	case O_MINKEEP:
		if (cli_size(p, "--min-keep", arg, 0, NNP_MAX_WIDTH, &c->min_keep))
			return -1;
		c->min_keep_set = 1;
		break;
	case O_FORMAT:
		if (cli_format_option(p, arg, &c->format))
			return -1;
		break;
	case O_QUIET: c->quiet = 1; break;
	case O_JSON: c->json = 1; break;
	default:
		return prune_iter_is_option(id) ? prune_iter_arg(p, &c->it, id, arg)
		       : cli_sparse_is_option(id) ? cli_sparse_arg(p, &c->sp, id, arg)
		       : cli_method_is_option(id) ? cli_method_arg(p, &c->me, id, arg)
		       : cli_finetune_is_option(id) ? cli_finetune_arg(p, &c->ft, id, arg)
		       : cli_output_is_option(id) ? cli_output_arg(p, &c->oo, id, arg)
		       : cli_model_is_option(id) ? cli_model_option(p, &c->model, id, arg)
		                                 : cli_data_option(p, &c->data, id, arg);
	}
	return 0;
}

static int parse_args(cli_parser *p, prune_cfg *c)
{
	static const cli_opt opts[] = {
		{ "output", 'o', 1, O_OUT }, CLI_OPT_CALIB, CLI_OPT_CALIB_LABELS, CLI_OPT_CALIB_ROWS,
		CLI_OPT_METHOD, CLI_OPT_COMPENSATE, CLI_OPT_LAMBDA,
		{ "keep", 0, 1, O_KEEP }, { "widths", 0, 1, O_WIDTHS },
		{ "mem-limit", 0, 1, O_MEM },
		{ "target-params", 0, 1, O_TARGET }, { "mean", 0, 1, O_MEAN }, { "std", 0, 1, O_STD },
		{ "min-keep", 0, 1, O_MINKEEP }, { "format", 'f', 1, O_FORMAT },
		{ "quiet", 'q', 0, O_QUIET }, { "help", 'h', 0, O_HELP },
		CLI_OPT_ALLOC_STEP, CLI_OPT_EVAL, CLI_OPT_GATES, CLI_OPT_BEST, CLI_OPT_SPARSITY,
		CLI_OPT_ITERATIVE, { "json", 0, 0, O_JSON }, CLI_DATA_OPTIONS, CLI_FINETUNE_OPTIONS,
		CLI_MODEL_OPTIONS_NO_OUTPUT, { NULL, 0, 0, 0 }
	};
	return cli_parse_opts(p, opts, O_HELP, prune_help, prune_opt, c);
}

/* The option groups' own checks, after the method's defaults are set. */
static int check_shared(const cli_parser *p, prune_cfg *c)
{
	if (cli_method_check(p, &c->me) || cli_finetune_check(p, &c->ft, c->me.mo.method) ||
	    cli_output_check(p, &c->oo))
		return -1;
	if (!c->oo.eval && (!isnan(c->oo.gates.max_drop) || !isnan(c->oo.gates.min_accuracy)))
		return cli_usage_error(p, "%s needs --eval DATA (the rows that judge accuracy)",
		                       !isnan(c->oo.gates.max_drop) ? "--max-drop" : "--min-accuracy"),
		       -1;
	c->me.mo.threads = c->data.threads;
	return 0;
}

/* The combinations the options allow, with the method's defaults filled in. */
static int check_args(const cli_parser *p, prune_cfg *c)
{
	if (p->n_operands != 1)
		return cli_usage_error(p, "expected one MODEL, got %d arguments", p->n_operands), -1;
	if (!c->out)
		return cli_usage_error(p, "-o OUT is required"), -1;
	int rule = nnp_method_by_thresholds(c->me.mo.method);
	const char *given = !isnan(c->keep) ? "--keep" : c->widths_text ? "--widths"
	                    : c->target.text[0] ? "--target-params"
	                    : !isnan(c->mean_thr) ? "--mean" : !isnan(c->std_thr) ? "--std" : NULL;
	if (cli_sparse_check(p, &c->sp, &c->me, given, 1))
		return -1;
	if (c->it.first && !c->it.on)
		return cli_usage_error(p, "%s goes with --iterative", c->it.first), -1;
	if (c->it.on) {
		const nnp_criterion *cr = nnp_criterion_at((size_t)c->me.mo.method);
		if (!nnp_criterion_ranks(cr))
			return cli_usage_error(p, "--iterative: method %s does not rank neurons (give "
			                          "--method score, obs, random, l2, apoz, taylor, ...)",
			                       cr ? cr->name : "?"), -1;
		if (!isnan(c->keep) || c->widths_text)
			return cli_usage_error(p, "%s: --iterative stops on conditions (--until-drop, "
			                          "--target-params, --min-neurons), not a budget",
			                       !isnan(c->keep) ? "--keep" : "--widths"), -1;
		if (c->me.alloc_step_set)
			return cli_usage_error(p, "--allocate-step: not used by --iterative"), -1;
		if (!c->me.calib)
			return cli_usage_error(p, "--calib DATA is required (the calibration rows)"),
			       -1;
		/* The loop judges on its held-out slice and writes one model itself. */
		if (prune_iter_check_ft(p, &c->it, &c->ft, c->me.mo.method))
			return -1;
		const char *other = nnp_gates_any(&c->oo.gates) ? "a gate" : c->oo.best ? "--best"
		                    : c->json ? "--json" : NULL;
		if (other)
			return cli_usage_error(p, "%s does not go with --iterative (its conditions "
			                          "are judged on --eval DATA or --holdout rows of "
			                          "--calib)", other), -1;
		if (c->it.holdout_set && c->oo.eval)
			return cli_usage_error(p, "--holdout: with --eval DATA the held-out rows are "
			                          "DATA's"), -1;
		if (c->oo.eval_labels && !c->oo.eval)
			return cli_usage_error(p, "--eval-labels needs --eval DATA"), -1;
		if (!c->me.comp_set)
			c->me.mo.compensate = NNP_COMP_LS;
		c->me.mo.threads = c->data.threads;
		return cli_method_check(p, &c->me);
	}
	if (c->sp.text) {
		/* Magnitude reads no rows unless it refits: --calib otherwise only
		 * recorded when given. */
		if (c->me.mo.compensate == NNP_COMP_LS && !c->me.calib)
			return cli_usage_error(p, "--compensate ls: --calib DATA is required (the rows "
			                          "the surviving weights are refit on)"), -1;
		return check_shared(p, c);
	}
	if (!c->me.calib)
		return cli_usage_error(p, "--calib DATA is required (the calibration rows)"), -1;
	if (!c->me.comp_set)
		c->me.mo.compensate = rule ? NNP_COMP_FOLD : NNP_COMP_LS;
	int thresholds = !isnan(c->mean_thr) || !isnan(c->std_thr);
	/* The budgets given, the first one named in messages. */
	int n_budgets = !isnan(c->keep) + (c->widths_text != NULL) + (c->target.text[0] != '\0');
	const char *budget = !isnan(c->keep) ? "--keep" : c->widths_text ? "--widths"
	                                                                 : "--target-params";
	if (rule) {
		if (n_budgets)
			return cli_usage_error(p, "%s: the rule method takes --mean and --std, not a "
			                          "budget", budget), -1;
		if (isnan(c->mean_thr) || isnan(c->std_thr))
			return cli_usage_error(p, "the rule method needs --mean M and --std S"), -1;
	} else {
		if (thresholds || c->min_keep_set)
			return cli_usage_error(p, "%s: thresholds belong to --method rule (this is %s)",
			                       thresholds ? (!isnan(c->mean_thr) ? "--mean" : "--std")
			                                  : "--min-keep",
			                       nnp_method_name(c->me.mo.method)), -1;
		if (n_budgets == 0)
			return cli_usage_error(p, "a budget is required: --keep F, --widths LIST or "
			                          "--target-params N|P%%"), -1;
		if (n_budgets > 1)
			return cli_usage_error(p, "%s and %s: give one budget, not both", budget,
			                       c->target.text[0] ? "--target-params" : "--widths"), -1;
	}
	if (c->widths_text && cli_parse_widths(p, "--widths", c->widths_text, 1, &c->widths))
		return -1;
	if (c->me.alloc_step_set && !c->target.text[0])
		return cli_usage_error(p, "--allocate-step goes with --target-params"), -1;
	return check_shared(p, c);
}

/* The one candidate asked for. */
static nnp_spec prune_spec(const prune_cfg *c, const nnp_model *m, char *label, size_t size)
{
	nnp_spec s;
	memset(&s, 0, sizeof s);
	if (c->sp.text) {
		cli_sparse_spec(&c->sp, 0, &s);
		if (!s.label) {
			snprintf(label, size, "--sparsity %g", s.sparsity);
			s.label = label;
		}
	} else if (nnp_method_by_thresholds(c->me.mo.method)) {
		s.kind = NNP_SPEC_THRESHOLDS;
		s.mean = c->mean_thr;
		s.std = c->std_thr;
	} else if (!isnan(c->keep)) {
		s.kind = NNP_SPEC_KEEP;
		s.keep = c->keep;
	} else if (c->widths_text) {
		s.kind = NNP_SPEC_WIDTHS;
		s.widths = c->widths.v;
	} else {
		s.kind = NNP_SPEC_TARGET;
		s.target_params = cli_target_params(&c->target, nnp_model_params(m));
		snprintf(label, size, "--target-params %s", c->target.text);
		s.label = label;
	}
	return s;
}

/* What prune records: the budget as given (the sweep's file names record it). */
static char *provenance(const prune_cfg *c, const nnp_model *m, const char *model_path,
                        uint32_t crc, const nnp_pipeline *pl)
{
	const nnp_candidate *k = &pl->sw->c[0];
	nnp_prov pv;
	nnp_prov_init(&pv);
	pv.src = m;
	pv.src_path = model_path;
	pv.src_crc = crc;
	pv.method = nnp_method_name(c->me.mo.method);
	pv.compensate = nnp_compensate_name(c->me.mo.compensate);
	if (nnp_method_uses_ridge(&c->me.mo))
		pv.lambda_rel = c->me.mo.lambda_rel;
	pv.calib = pl->calib.path ? &pl->calib : NULL;
	if (nnp_method_by_thresholds(c->me.mo.method)) {
		pv.mean_thr = c->mean_thr;
		pv.std_thr = c->std_thr;
		pv.min_keep = c->min_keep_set ? (size_t)c->min_keep : 1;
	}
	pv.keep_frac = c->keep;
	if (c->widths_text) {
		pv.widths = c->widths.v;
		pv.n_widths = c->widths.n_per;
	}
	if (k->budget.target_params) {
		pv.target_params = k->budget.target_params;
		pv.target_text = c->target.text;
	}
	nnp_prov_candidate(&pv, k, c->me.mo.grid_step);
	pv.kept = k->keep;
	return nnp_provenance_prune(&pv);
}

int cmd_prune(int argc, char **argv, cli_probe *probe)
{
	cli_parser p;
	if (cli_init(&p, argc, argv, NULL, "prune", prune_usage, probe))
		return NNP_EXIT_INPUT;
	const nnp_method_opts mo0 = NNP_METHOD_OPTS_INIT;
	prune_cfg c;
	memset(&c, 0, sizeof c);
	cli_method_init(&c.me, mo0.method);
	c.keep = c.mean_thr = c.std_thr = NAN;
	c.mem_limit = NNP_CALIB_MEM_LIMIT;
	cli_data_init(&c.data);
	cli_model_init(&c.model);
	cli_finetune_init(&c.ft);
	cli_output_init(&c.oo);
	cli_sparse_init(&c.sp);
	prune_iter_init(&c.it);
	int rc = NNP_EXIT_OK;
	nnp_err err;
	nnp_err_clear(&err);
	nnp_model *m = NULL;
	nnp_pipeline *pl = NULL;
	nnp_model *teacher = NULL;   /* --teacher's; NULL: the original's */
	char *prov = NULL;

	int prc = parse_args(&p, &c);
	if (prc || check_args(&p, &c)) {
		rc = prc > 0 ? NNP_EXIT_OK : NNP_EXIT_USAGE;
		goto done;
	}
	const char *model_path = p.operands[0];
	const char *inputs[] = { model_path, c.me.calib, c.data.opts.labels_path, c.ft.data,
		                 c.ft.labels, c.ft.teacher, c.oo.eval, c.oo.eval_labels };
	for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++)
		if (inputs[k] && nnp_same_file(c.out, inputs[k])) {
			nnp_err_set(&err, NNP_EOUTPUT, "%s: refusing to write over an input file", c.out);
			goto fail;
		}
	nnp_file_info fi;
	if (cli_check_output(c.out, &err) || cli_best_check(&c.oo, &err) ||
	    cli_model_load(&m, model_path, &c.model, &fi, &err))
		goto fail;
	if (m->n_layers < 2) {
		nnp_err_set(&err, NNP_EINPUT, "%s: has no hidden layer: nothing to prune", model_path);
		goto fail;
	}
	if (c.widths_text && cli_check_widths("--widths", &c.widths, m, &err)) {
		rc = cli_usage_error(&p, "%s", err.msg);
		goto done;
	}
	nnp_data_opts eo = c.data.opts;
	eo.labels_path = c.oo.eval_labels;
	if (cli_note_label(c.me.calib, &c.data.opts, c.quiet || c.json, &err) ||
	    cli_note_label(c.oo.eval, &eo, c.quiet || c.json, &err))
		goto fail;
	if (c.it.on) {
		prune_iter_run ir = { model_path, c.out, fi.crc32, &c.me, &c.data.opts, c.mem_limit,
			              c.target.text[0] ? c.target.text : NULL, c.target.params,
			              c.target.percent, c.format, c.quiet, c.oo.eval, c.oo.eval_labels,
			              &c.ft };
		c.data.opts.labels_option = "--calib-labels FILE";
		rc = prune_iterative(&c.it, &ir, m);
		goto done;
	}
	char label[64];
	nnp_spec spec = prune_spec(&c, m, label, sizeof label);
	nnp_pipeline_opts po;
	nnp_pipeline_opts_init(&po);
	po.mo = c.me.mo;
	po.min_keep = c.min_keep_set ? (size_t)c.min_keep : 1;
	po.threads = c.data.threads;
	nnp_source cs = { c.me.calib, c.data.opts, c.me.calib_rows, c.mem_limit, NULL, 0, 0 };
	cs.opts.labels_option = "--calib-labels FILE";
	if (c.me.calib)
		po.calib = cs;
	po.mag_scope = c.sp.scope;
	po.specs = &spec;
	po.n_specs = 1;
	nnp_format fmt = cli_format_pick(c.format, nnp_format_of_path(c.out));
	nnp_pipeline_output out = { NULL, model_path, fi.crc32, fmt, inputs,
		                    sizeof inputs / sizeof inputs[0], 0, NULL, NULL };
	po.out = out;
	if (c.oo.eval) {
		/* Held-out rows: the pruned model and the original judged on them. */
		nnp_source es = { c.oo.eval, c.data.opts, 0, c.mem_limit, NULL, 0, 0 };
		es.opts.labels_path = c.oo.eval_labels;
		es.opts.labels_option = "--eval-labels FILE";
		es.opts.expect_features = m->input_size;
		es.opts.n_classes = nnp_model_outputs(m);
		po.eval = es;
	}
	if (c.ft.data) {
		nnp_source ts = { c.ft.data, c.data.opts, 0, 0, NULL, 0, 0 };
		ts.opts.labels_path = c.ft.labels;
		ts.opts.labels_option = "--finetune-labels FILE";
		ts.opts.expect_features = m->input_size;
		ts.opts.n_classes = nnp_model_outputs(m);
		po.finetune = ts;
		po.ft_gradual = c.ft.gradual ? NNP_GRADUAL_STEPS : 0;
		const nnp_model *tm = NULL;
		if (cli_finetune_teacher(&c.ft, m, &teacher, &tm, &err))
			goto fail;
		if (cli_finetune_train_opts(&c.ft, tm, &po.ft_train, &err)) {
			rc = cli_usage_error(&p, "%s", err.msg);
			goto done;
		}
	}
	rc = cli_pipeline_run(&p, &pl, m, &po, c.quiet || c.json, &err);
	if (rc)
		goto done;
	if (c.ft.data) {
		/* OUT is the fine-tuned model; its provenance says how it was pruned. */
		if (nnp_pipeline_write(pl, 0, 1, c.out, &err))
			goto fail;
	} else {
		nnp_model *pm = pl->sw->models[0];
		if (!(prov = provenance(&c, m, model_path, fi.crc32, pl))) {
			nnp_err_set(&err, NNP_ENOMEM, "out of memory");
			goto fail;
		}
		if (nnp_model_set_provenance(pm, prov, &err) ||
		    nnp_model_save_opts(pm, c.out, fmt, NULL, &err))
			goto fail;
	}
	rc = prune_judge(&c, pl, m, model_path, fmt, &err);
	if (rc < 0)
		goto fail;
	if (!c.quiet && !c.json) {
		prune_summary(&c, m, model_path, pl);
		if (c.ft.data)
			prune_ft_summary(&c, pl, model_path);
	}
	goto done;
fail:
	rc = cli_fail(&err);
done:
	free(prov);
	nnp_pipeline_free(pl);
	nnp_model_free(teacher);
	cli_widths_free(&c.widths);
	cli_sparse_free(&c.sp);
	cli_model_free(&c.model);
	nnp_model_free(m);
	cli_done(&p);
	return rc;
}
