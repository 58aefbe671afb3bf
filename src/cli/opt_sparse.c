/*
 * Options `prune` and `sweep` share for unstructured pruning: --sparsity
 * LIST and --scope layer|global|hidden (--method magnitude).
 */
#include <math.h>
#include <stdio.h>
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

static void shares_free(cli_sparse *s)
{
	for (size_t k = 0; k < s->n; k++) {
		if (s->layers)
			free(s->layers[k]);
		if (s->labels)
			free(s->labels[k]);
	}
	free(s->v);
	free(s->layers);
	free(s->n_layers);
	free(s->labels);
	s->v = NULL;
	s->layers = NULL;
	s->n_layers = NULL;
	s->labels = NULL;
	s->n = 0;
}

/* Room for n more candidates; -1 when out of memory (said). */
static int grow(cli_sparse *s, size_t more)
{
	size_t n = s->n + more;
	double *v = realloc(s->v, n * sizeof *v);
	if (v)
		s->v = v;
	double **l = v ? realloc(s->layers, n * sizeof *l) : NULL;
	if (l)
		s->layers = l;
	size_t *nl = l ? realloc(s->n_layers, n * sizeof *nl) : NULL;
	if (nl)
		s->n_layers = nl;
	char **lab = nl ? realloc(s->labels, n * sizeof *lab) : NULL;
	if (lab)
		s->labels = lab;
	if (!lab) {
		fprintf(stderr, "nnprune: out of memory\n");
		return -1;
	}
	for (size_t k = s->n; k < n; k++) {
		s->layers[k] = NULL;
		s->n_layers[k] = 0;
		s->labels[k] = NULL;
	}
	return 0;
}

/* "0.9/0.8/0.5": one candidate, a share in [0, 1] per weight layer. */
static int add_per_layer(const cli_parser *p, cli_sparse *s, char *item)
{
	size_t n = 1, len = strlen(item);
	for (const char *q = item; *q; q++)
		n += *q == '/';
	if (strchr(item, ':'))
		return cli_usage_error(p, "--sparsity: '%s': shares per layer take no range", item),
		       -1;
	char *label = malloc(len + 12);
	double *v = malloc(n * sizeof *v);
	if (!label || !v) {
		fprintf(stderr, "nnprune: out of memory\n");
		goto fail;
	}
	snprintf(label, len + 12, "--sparsity %s", item);
	double sum = 0;
	char *q = item;
	for (size_t l = 0; l < n; l++) {
		char *slash = strchr(q, '/');
		if (slash)
			*slash = '\0';
		char what[48];
		snprintf(what, sizeof what, "--sparsity: layer %zu", l);
		if (!*q) {
			cli_usage_error(p, "%s: share %zu is empty", label, l);
			goto fail;
		}
		if (cli_double(p, what, q, 0, 1, &v[l]))
			goto fail;
		sum += v[l];
		q = slash + 1;
	}
	if (!(sum > 0)) {
		cli_usage_error(p, "%s: every share is 0 (nothing to prune)", label);
		goto fail;
	}
	if (grow(s, 1))
		goto fail;
	s->v[s->n] = NAN;
	s->layers[s->n] = v;
	s->n_layers[s->n] = n;
	s->labels[s->n] = label;
	s->n++;
	return 0;
fail:
	free(label);
	free(v);
	return -1;
}

/* Every comma-separated item: a share, a range, or shares per layer. */
static int parse_shares(const cli_parser *p, cli_sparse *s, const char *text)
{
	if (!*text)
		return cli_usage_error(p, "--sparsity: no values"), -1;
	char *copy = strdup(text);
	if (!copy) {
		fprintf(stderr, "nnprune: out of memory\n");
		return -1;
	}
	int rc = 0;
	for (char *item = copy; !rc;) {
		char *comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		if (!*item) {
			cli_usage_error(p, "--sparsity: \"%s\" has an empty item", text);
			rc = -1;
		} else if (strchr(item, '/')) {
			rc = add_per_layer(p, s, item);
		} else {
			double *v = NULL;
			size_t n = 0;
			rc = cli_parse_fractions(p, "--sparsity", item, &v, &n);
			if (!rc && s->n + n > CLI_MAX_BUDGETS) {
				cli_usage_error(p, "--sparsity: more than %u values", CLI_MAX_BUDGETS);
				rc = -1;
			}
			if (!rc && !(rc = grow(s, n)))
				for (size_t k = 0; k < n; k++)
					s->v[s->n++] = v[k];
			free(v);
		}
		if (!comma)
			break;
		item = comma + 1;
	}
	free(copy);
	return rc;
}

int cli_sparse_arg(const cli_parser *p, cli_sparse *s, int id, const char *arg)
{
	if (id == CLI_S_SPARSITY) {
		shares_free(s);
		s->text = arg;
		return parse_shares(p, s, arg);
	}
	s->scope_set = 1;
	nnp_mag_scope scope;
	if (nnp_mag_scope_parse(arg, &scope))
		return cli_usage_error(p, "--scope: '%s' is not layer, global or hidden", arg), -1;
	s->scope = (int)scope;
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
	for (size_t k = 0; k < s->n && s->scope != NNP_MAG_PER_LAYER; k++)
		if (s->labels[k])
			return cli_usage_error(p, "%s: shares per layer do not go with --scope %s "
			                          "(it spreads one share of all the weights)",
			                       s->labels[k], nnp_mag_scope_name(s->scope)), -1;
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

void cli_sparse_spec(const cli_sparse *s, size_t k, nnp_spec *spec)
{
	spec->kind = NNP_SPEC_SPARSITY;
	spec->sparsity = s->v[k];
	spec->sparse_layers = s->layers[k];
	spec->n_sparse_layers = s->n_layers[k];
	spec->label = s->labels[k];
}

void cli_sparse_free(cli_sparse *s)
{
	shares_free(s);
}
