/* nnprune stats and nnprune eval: run data through a model and measure. */
/* realpath() is XSI. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "cli.h"
#include "cli_model.h"
#include "nnprune/io.h"
#include "nnprune/model.h"
#include "nnprune/stats.h"

#define STATS_DEFAULT_OUT "nnprune.stats.json"

/* Loads MODEL and opens DATA checked against it. */
int cli_open_model_data(const char *model_path, const char *data_path, cli_data *d,
                           nnp_model **m, nnp_file_info *fi, nnp_reader **r, nnp_err *err,
                           const cli_model *mo)
{
	int rc = cli_model_load(m, model_path, mo, fi, err);
	if (rc)
		return rc;
	d->opts.expect_features = (*m)->input_size;
	d->opts.n_classes = nnp_model_outputs(*m);
	return nnp_reader_open(r, data_path, &d->opts, err);
}

/* nnp_run with a progress line on stderr (only when it is a terminal). */
int cli_run_shown(const nnp_model *m, nnp_reader *r, const cli_data *d, const char *what,
                     int quiet, nnp_stats **stats, nnp_metrics *mt, uint64_t *cm,
                     const char *const paths[2], nnp_err *err)
{
	cli_progress pr;
	cli_progress_init(&pr, what, quiet);
	pr.total_rows = nnp_reader_total_rows(r);
	nnp_run_opts ro = NNP_RUN_OPTS_INIT;
	ro.threads = d->threads;
	ro.progress = cli_progress_cb;
	ro.progress_ctx = &pr;
	int rc = nnp_run(m, r, &ro, stats, mt, cm, err);
	cli_progress_end(&pr);
	const nnp_metrics *got = mt ? mt : (stats && *stats ? &(*stats)->metrics : NULL);
	if (!rc && got && got->nonfinite)
		rc = nnp_err_set(err, NNP_EINPUT, "%s: %llu of the %llu rows of %s give NaN or "
		                 "infinite outputs (activations overflow float): no statistics or "
		                 "scores can be taken", paths[0], (unsigned long long)got->nonfinite,
		                 (unsigned long long)got->rows, paths[1]);
	return rc;
}

/* path as the statistics file at out should record it: relative to out's
 * directory when path is relative (absolute paths as given), so the file
 * and its inputs can move together and be used from any directory. NULL
 * when out of memory or a directory cannot be resolved (caller frees). */
static char *path_from(const char *out, const char *path)
{
	const char *slash = strrchr(out, '/');
	if (path[0] == '/' || !slash)
		return strdup(path);
	char dir[4096];
	snprintf(dir, sizeof dir, "%.*s", slash == out ? 1 : (int)(slash - out), out);
	char *d = realpath(dir, NULL), *p = realpath(path, NULL), *r = NULL;
	if (d && p) {
		/* The common leading directories, then one ".." per remaining one of d. */
		size_t i = 0, common = 0;
		while (d[i] && d[i] == p[i]) {
			i++;
			if (d[i] == '/' || (!d[i] && p[i] == '/'))
				common = i;
		}
		if (!d[i] && p[i] == '/')
			common = i;
		if (!strcmp(d, "/"))
			common = 0;
		size_t ups = 0;
		for (const char *q = d + common; *q; q++)
			ups += *q == '/';
		size_t n = 3 * ups + strlen(p + common) + 1;
		if ((r = malloc(n))) {
			r[0] = '\0';
			for (size_t k = 0; k < ups; k++)
				strcat(r, "../");
			strcat(r, p + common + (p[common] == '/'));
		}
	}
	free(d);
	free(p);
	return r;
}

static const char stats_usage[] =
	"nnprune stats MODEL DATA [-o FILE] [--rows A:B | --shard I/N] [--json] [--quiet] "
	"[data options]\n       nnprune stats --merge PART... -o FILE";

/* "A:B" (rows A to B-1, 0-based; "A:" to the end) into *first, *end (0: the
 * end of the data). -1 after a usage error. */
static int parse_rows(const cli_parser *p, const char *text, uint64_t *first, uint64_t *end)
{
	const char *colon = strchr(text, ':');
	char a[32];
	if (!colon || (size_t)(colon - text) >= sizeof a || colon == text)
		return cli_usage_error(p, "--rows: '%s' is not A:B (rows A to B-1, counted from 0) "
		                       "or A: (to the end)", text), -1;
	snprintf(a, sizeof a, "%.*s", (int)(colon - text), text);
	if (cli_size(p, "--rows", a, 0, UINT64_MAX / 2, first))
		return -1;
	*end = 0;
	if (colon[1] && cli_size(p, "--rows", colon + 1, *first + 1, UINT64_MAX / 2, end))
		return -1;
	return 0;
}

/* Skips the first `first` rows of r (the rows before a shard). */
static int skip_rows(nnp_reader *r, uint64_t first, const char *path, nnp_err *err)
{
	size_t nf = nnp_reader_features(r), chunk = 256;
	float *x = malloc(chunk * nf * sizeof *x);
	int32_t *y = malloc(chunk * sizeof *y);
	int rc = x && y ? NNP_OK : nnp_err_set(err, NNP_ENOMEM, "out of memory");
	for (uint64_t done = 0; !rc && done < first; ) {
		size_t want = first - done < chunk ? (size_t)(first - done) : chunk, got = 0;
		rc = nnp_reader_fill(r, x, y, want, &got, err);
		if (!rc && got < want)
			rc = nnp_err_set(err, NNP_EUSAGE, "%s: has %llu rows, the part starts at row %llu",
			                 path, (unsigned long long)(done + got),
			                 (unsigned long long)first);
		done += got;
	}
	free(x);
	free(y);
	return rc;
}

/* nnprune stats --merge PART... -o FILE: parts of one data file's rows, in
 * any order, combined into the statistics one pass would have written. */

/* What stats prints once its file is written: JSON, the text summary, or
 * nothing under --quiet. Returns the exit code. */
/* Writes s, described by src, to out and prints its summary: the exit code,
 * or -1 when it could not be written (err says why). */
static int write_stats(const nnp_stats *s, const nnp_stats_source *src, const char *out,
                       int json, int quiet, nnp_err *err)
{
	if (nnp_stats_save(s, src, out, err))
		return -1;
	return cli_stats_summary(s, out, json, quiet);
}

/* The statistics of the partial files parts[0..n-1] merged into *s, described
 * by *src as one pass would describe them; out checked writable. */
static int merge_parts(char **parts, int n, const char *out, nnp_stats **s,
                       nnp_stats_source *src, nnp_err *err)
{
	nnp_stats **ps = calloc((size_t)n, sizeof *ps);
	nnp_stats_source *srcs = calloc((size_t)n, sizeof *srcs);
	int *order = calloc((size_t)n, sizeof *order), rc = -1, loaded = 0;
	if (!ps || !srcs || !order) {
		nnp_err_set(err, NNP_ENOMEM, "out of memory");
		goto done;
	}
	for (int k = 0; k < n; k++) {
		if (nnp_same_file(out, parts[k])) {
			nnp_err_set(err, NNP_EOUTPUT, "%s: refusing to write over an input file", out);
			goto done;
		}
		if (nnp_stats_load_part(&ps[k], &srcs[k], parts[k], err))
			goto done;
		loaded = k + 1;
		if (!srcs[k].part) {
			nnp_err_set(err, NNP_EINPUT, "%s: not a partial statistics file (it covers all "
			            "the rows)", parts[k]);
			goto done;
		}
		nnp_stats_source *a = &srcs[0], *b = &srcs[k];
		const char *what = NULL;
		if (b->model_bytes != a->model_bytes || b->model_crc32 != a->model_crc32)
			what = "model";
		else if (b->data_bytes != a->data_bytes || b->data_crc32 != a->data_crc32)
			what = "data";
		else if (!b->labels_path != !a->labels_path ||
		         (b->labels_path && (b->labels_bytes != a->labels_bytes ||
		                             b->labels_crc32 != a->labels_crc32)))
			what = "labels";
		else if (b->data_opts.label != a->data_opts.label ||
		         b->data_opts.header != a->data_opts.header ||
		         b->data_opts.delimiter != a->data_opts.delimiter ||
		         b->data_opts.label_index != a->data_opts.label_index)
			what = "data options";
		if (what) {
			nnp_err_set(err, NNP_EINPUT, "%s: its %s is not that of %s: the parts must come "
			            "from the same model and data", parts[k], what, parts[0]);
			goto done;
		}
		/* Insertion into row order. */
		int j = k;
		while (j > 0 && srcs[order[j - 1]].part_first > b->part_first) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = k;
	}
	/* The parts must cover the rows once each, from row 0 to the end. */
	uint64_t next = 0;
	for (int j = 0; j < n; j++) {
		int k = order[j];
		if (srcs[k].part_first != next) {
			nnp_err_set(err, NNP_EINPUT, "%s: starts at row %llu but the parts before it end "
			            "at row %llu: %s", parts[k], (unsigned long long)srcs[k].part_first,
			            (unsigned long long)next,
			            srcs[k].part_first > next ? "rows are missing" : "rows overlap");
			goto done;
		}
		next += ps[k]->rows;
		if (srcs[k].part_end && j + 1 < n) {
			nnp_err_set(err, NNP_EINPUT, "%s: reaches the end of the data, yet %s starts at "
			            "row %llu", parts[k], parts[order[j + 1]],
			            (unsigned long long)srcs[order[j + 1]].part_first);
			goto done;
		}
	}
	if (!srcs[order[n - 1]].part_end) {
		nnp_err_set(err, NNP_EINPUT, "%s: the last part ends at row %llu, not at the end of the "
		            "data (give the last part as --rows A: or use --shard)",
		            parts[order[n - 1]], (unsigned long long)next);
		goto done;
	}
	const nnp_stats **sorted = malloc((size_t)n * sizeof *sorted);
	if (!sorted) {
		nnp_err_set(err, NNP_ENOMEM, "out of memory");
		goto done;
	}
	for (int j = 0; j < n; j++)
		sorted[j] = ps[order[j]];
	int mrc = nnp_stats_merge(s, (const nnp_stats *const *)sorted, (size_t)n, err);
	free(sorted);
	if (mrc)
		goto done;
	/* The merged file describes the inputs as one pass would, its paths
	 * relative to its own place. */
	*src = srcs[0];
	src->part = 0;
	src->model_path = path_from(out, srcs[0].model_path);
	src->data_path = path_from(out, srcs[0].data_path);
	src->labels_path = srcs[0].labels_path ? path_from(out, srcs[0].labels_path) : NULL;
	src->data_opts.labels_path = src->labels_path;
	src->label_name_buf = NULL;
	if (!src->model_path || !src->data_path || (srcs[0].labels_path && !src->labels_path)) {
		nnp_err_set(err, NNP_EINPUT, "%s: the inputs it names cannot be found from %s",
		            parts[0], out);
		goto done;
	}
	rc = cli_check_output(out, err);
done:
	for (int k = 0; k < loaded; k++) {
		nnp_stats_free(ps[k]);
		nnp_stats_source_free(&srcs[k]);
	}
	free(ps);
	free(srcs);
	free(order);
	return rc;
}

int cmd_stats(int argc, char **argv, cli_probe *probe)
{
	enum { O_OUT = 1, O_JSON, O_QUIET, O_HELP, O_ROWS, O_SHARD, O_MERGE };
	static const cli_opt opts[] = { { "output", 'o', 1, O_OUT }, { "json", 0, 0, O_JSON },
		                        { "quiet", 'q', 0, O_QUIET }, { "help", 'h', 0, O_HELP },
		                        { "rows", 0, 1, O_ROWS }, { "shard", 0, 1, O_SHARD },
		                        { "merge", 0, 0, O_MERGE },
		                        CLI_DATA_OPTIONS, CLI_MODEL_OPTIONS_NO_OUTPUT,
		                        { NULL, 0, 0, 0 } };
	const char *rows_text = NULL, *shard_text = NULL;
	int merge = 0, out_given = 0;
	uint64_t first = 0, end = 0, shard_i = 0, shard_n = 0;
	cli_parser p;
	if (cli_init(&p, argc, argv, opts, "stats", stats_usage, probe))
		return NNP_EXIT_INPUT;
	cli_model mo;  /* weights files' activations (--output-kind: -o is the file) */
	cli_data d;
	cli_model_data_init(&mo, &d);
	/* Statistics alone need no labels. */
	d.opts.labels_option = "--labels FILE (or --no-label: statistics without accuracy)";
	const char *out = STATS_DEFAULT_OUT, *arg;
	int json = 0, quiet = 0, rc = NNP_EXIT_OK, id;
	nnp_model *m = NULL;
	nnp_reader *r = NULL;
	nnp_stats *s = NULL;
	nnp_stats_source src = { 0 };
	nnp_err err;
	nnp_err_clear(&err);
	while ((id = cli_next(&p, &arg)) != CLI_END) {
		switch (id) {
		case CLI_ERROR: rc = NNP_EXIT_USAGE; goto done;
		case O_HELP:
			printf("usage: %s\n\n"
			       "Runs DATA through MODEL and records, for every hidden neuron, the mean,\n"
			       "standard deviation, min, max and share of zeros of its activation, plus\n"
			       "the model's accuracy and loss. Writes them (atomically) to FILE, by\n"
			       "default ./%s, where 'nnprune sweep' finds them.\n\n"
			       "  -o, --output FILE  statistics file (default %s)\n"
			       "  --json             print the summary as JSON on stdout\n"
			       "  -q, --quiet        print nothing on success\n\n"
			       "Statistics in parts, e.g. one per machine (README: sharded statistics):\n"
			       "  --rows A:B         only rows A to B-1 (from 0; A: to the end), into a\n"
			       "                     partial file (-o required)\n"
			       "  --shard I/N        part I of N equal parts (I from 0); counts the rows\n"
			       "                     first\n"
			       "  --merge            the operands are partial files of one data file, in\n"
			       "                     any order: write the statistics of all their rows,\n"
			       "                     as one pass over them would\n\n%s\n%s"
			       "'nnprune sweep' reads MODEL again: give it the same model options.\n",
			       stats_usage, STATS_DEFAULT_OUT, STATS_DEFAULT_OUT, CLI_DATA_HELP,
			       CLI_MODEL_HELP);
			goto done;
		case O_ROWS:
			if (parse_rows(&p, arg, &first, &end)) {
				rc = NNP_EXIT_USAGE;
				goto done;
			}
			rows_text = arg;
			break;
		case O_SHARD:
			if (cli_parse_shard(&p, "--shard", arg, &shard_i, &shard_n)) {
				rc = NNP_EXIT_USAGE;
				goto done;
			}
			shard_text = arg;
			break;
		case O_MERGE: merge = 1; break;
		case O_OUT: out = arg; out_given = 1; break;
		case O_JSON: json = 1; break;
		case O_QUIET: quiet = 1; break;
		default:
			if (cli_model_data_option(&p, &mo, &d, id, arg)) {
				rc = NNP_EXIT_USAGE;
				goto done;
			}
		}
	}
	if ((rows_text || shard_text || merge) && !out_given) {
		rc = cli_usage_error(&p, "%s needs -o FILE", merge ? "--merge" :
		                     rows_text ? "--rows" : "--shard");
		goto done;
	}
	if (merge + !!rows_text + !!shard_text > 1) {
		rc = cli_usage_error(&p, "--merge, --rows and --shard exclude each other");
		goto done;
	}
	if (merge) {
		if (p.n_operands < 1) {
			rc = cli_usage_error(&p, "--merge: expected the partial files");
			goto done;
		}
		if (merge_parts(p.operands, p.n_operands, out, &s, &src, &err))
			goto fail;
		goto write;
	}
	if (p.n_operands != 2) {
		rc = cli_usage_error(&p, "expected MODEL and DATA, got %d arguments", p.n_operands);
		goto done;
	}
	const char *model_path = p.operands[0], *data_path = p.operands[1];
	if (!strcmp(data_path, "-") || (d.opts.labels_path && !strcmp(d.opts.labels_path, "-"))) {
		/* sweep re-reads the data and checks it is unchanged: it needs a file. */
		rc = cli_usage_error(&p, "the data must be a file, not standard input: 'nnprune "
		                         "sweep' reads it again");
		goto done;
	}
	if (nnp_same_file(out, model_path) || nnp_same_file(out, data_path) ||
	    (d.opts.labels_path && nnp_same_file(out, d.opts.labels_path))) {
		fprintf(stderr, "nnprune: %s: refusing to write over an input file\n", out);
		rc = NNP_EXIT_OUTPUT;
		goto done;
	}
	nnp_file_info fi;
	/* The identity recorded below needs regular files: refuse others before work. */
	if (nnp_require_regular(model_path, &err) || nnp_require_regular(data_path, &err) ||
	    (d.opts.labels_path && nnp_require_regular(d.opts.labels_path, &err)))
		goto fail;
	if (cli_check_output(out, &err))
		goto fail;
	if (shard_text) {
		/* Equal parts of the rows: floor(I * T / N) to floor((I + 1) * T / N). */
		uint64_t total;
		nnp_data_opts co = d.opts;
		if (nnp_data_count_rows(data_path, &co, &total, &err))
			goto fail;
		/* Whole batches each, so every row meets the same batch as in one pass. */
		uint64_t batches = total / NNP_RUN_BATCH + (total % NNP_RUN_BATCH != 0);
		first = batches * shard_i / shard_n * NNP_RUN_BATCH;
		end = shard_i + 1 == shard_n ? 0 : batches * (shard_i + 1) / shard_n * NNP_RUN_BATCH;
	} else if (rows_text && first % NNP_RUN_BATCH && !quiet) {
		fprintf(stderr, "nnprune: note: --rows %s: a part starting at a multiple of %d rows "
		        "merges into exactly one pass's statistics; this one will differ by float "
		        "rounding (about 1e-7)\n", rows_text, NNP_RUN_BATCH);
	}
	int part = rows_text || shard_text;
	d.opts.max_rows = end;
	if (cli_open_model_data(model_path, data_path, &d, &m, &fi, &r, &err, &mo) ||
	    (first && skip_rows(r, first, data_path, &err)))
		goto fail;
	const char *const paths[2] = { model_path, data_path };
	if (cli_run_shown(m, r, &d, "stats", quiet || json, &s, NULL, NULL, paths, &err))
		goto fail;
	cli_label_note(r, data_path, &d.opts, quiet);
	/* Identity of the inputs, so that sweep can tell when they changed; their
	 * paths relative to the statistics file. */
	src.model_path = path_from(out, model_path);
	src.model_bytes = fi.bytes;
	src.model_crc32 = fi.crc32;
	src.data_path = path_from(out, data_path);
	if (!src.model_path || !src.data_path) {
		nnp_err_set(&err, NNP_EOUTPUT, "%s: cannot resolve the paths of the inputs from "
		            "its directory", out);
		goto fail;
	}
	if (!nnp_reader_identity(r, &src.data_bytes, &src.data_crc32) &&
	    nnp_file_identity(data_path, &src.data_bytes, &src.data_crc32, &err))
		goto fail;
	if (d.opts.labels_path) {
		if (!(src.labels_path = path_from(out, d.opts.labels_path))) {
			nnp_err_set(&err, NNP_EOUTPUT, "%s: cannot resolve %s from its directory", out,
			            d.opts.labels_path);
			goto fail;
		}
		if (nnp_file_identity(d.opts.labels_path, &src.labels_bytes, &src.labels_crc32, &err))
			goto fail;
	}
	src.data_opts = d.opts;
	src.data_opts.max_rows = 0;
	if (part) {
		src.part = 1;
		src.part_first = first;
		/* Fewer rows than asked for, or no end asked: the data's end was reached. */
		src.part_end = !end || s->rows < end - first;
		if (!s->rows) {
			nnp_err_set(&err, NNP_EINPUT, "%s: no rows from row %llu", data_path,
			            (unsigned long long)first);
			goto fail;
		}
	}
write:
	if ((rc = write_stats(s, &src, out, json, quiet, &err)) >= 0)
		goto done;
fail:
	rc = cli_fail(&err);
done:
	nnp_stats_source_free(&src);
	nnp_stats_free(s);
	nnp_reader_close(r);
	nnp_model_free(m);
	cli_model_free(&mo);
	cli_done(&p);
	return rc;
}
