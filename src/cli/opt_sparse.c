/*
 * Options `prune` and `sweep` share for unstructured pruning: --sparsity
 * LIST and --scope layer|global (--method magnitude).
 */
#include <stdlib.h>
#include <string.h>

#include "nnprune/criteria.h"
#include "cli.h"

void cli_sparse_init(cli_sparse *s)
{
	memset(s, 0, sizeof *s);
	s->scope = NNP_MAG_PER_LAYER;
}

int cli_sparse_is_option(int id)
{
	return id >= CLI_S_SPARSITY && id <= CLI_S_SCOPE;
}

int cli_sparse_arg(const cli_parser *p, cli_sparse *s, int id, const char *arg)
{
	if (id == CLI_S_SPARSITY) {
		free(s->v);
		s->v = NULL;
		s->text = arg;
		return cli_parse_fractions(p, "--sparsity", arg, &s->v, &s->n);
	}
	s->scope_set = 1;
	if (!strcmp(arg, "layer"))
		s->scope = NNP_MAG_PER_LAYER;
	else if (!strcmp(arg, "global"))
		s->scope = NNP_MAG_GLOBAL;
	else
		return cli_usage_error(p, "--scope: '%s' is not layer or global", arg), -1;
	return 0;
}

int cli_sparse_check(const cli_parser *p, cli_sparse *s, cli_method *me, const char *budget,
                     size_t max_values)
{
	const nnp_criterion *cr = nnp_criterion_at((size_t)me->mo.method);
	int unstructured = cr && cr->kind == NNP_CRIT_UNSTRUCTURED;
	if (!unstructured) {
		if (s->text || s->scope_set)
			return cli_usage_error(p, "%s: shares of weights belong to --method magnitude "
			                          "(this is %s)", s->text ? "--sparsity" : "--scope",
			                       cr ? cr->name : "?"), -1;
		return 0;
	}
	if (budget)
		return cli_usage_error(p, "%s: --method magnitude takes --sparsity LIST, not a "
		                          "neuron budget", budget), -1;
	if (!s->text)
		return cli_usage_error(p, "--method magnitude needs --sparsity LIST (shares of the "
		                          "weights set to zero)"), -1;
	if (s->n > max_values)
		return cli_usage_error(p, "--sparsity: %zu values; this command takes %zu", s->n,
		                       max_values), -1;
	/* ls refits the surviving weights; fold has no removed neuron to fold. */
	if (me->comp_set && me->mo.compensate == NNP_COMP_FOLD)
		return cli_usage_error(p, "--compensate fold: --method magnitude removes no neuron "
		                          "(--compensate ls refits the surviving weights)"), -1;
	int ls = me->comp_set && me->mo.compensate == NNP_COMP_LS;
	if ((me->lambda_set && !ls) || me->alloc_step_set)
		return cli_usage_error(p, "%s: not used by --method magnitude%s",
		                       me->alloc_step_set ? "--allocate-step" : "--lambda",
		                       me->alloc_step_set ? "" : " without --compensate ls"), -1;
	me->mo.compensate = ls ? NNP_COMP_LS : NNP_COMP_NONE;
	me->comp_set = 1;
	return 0;
}

void cli_sparse_free(cli_sparse *s)
{
	free(s->v);
	s->v = NULL;
}
