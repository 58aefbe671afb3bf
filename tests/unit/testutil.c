#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"

char *tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	char *p = malloc(strlen(base) + 32);
	assert_non_null(p);
	sprintf(p, "%s/nnptest.XXXXXX", base);
	assert_non_null(mkdtemp(p));
	return p;
}

void tu_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = tu_path(dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			tu_rmtree(p);
		else
			unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

char *tu_path(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	assert_non_null(p);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

void tu_write(const char *path, const void *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	if (len)
		assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

unsigned char *tu_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap + 1);
	assert_non_null(buf);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
	}
	fclose(fp);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

void tu_rmtree_free(char *dir)
{
	tu_rmtree(dir);
	free(dir);
}

int tu_count_names(const char *dir, const char *part)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, part))
			n++;
	closedir(d);
	return n;
}

void tu_expect_msg(const nnp_err *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err->msg, want);
}

void tu_assert_models_bitequal(const nnp_model *a, const nnp_model *b)
{
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->n_layers, b->n_layers);
	for (size_t l = 0; l < a->n_layers; l++) {
		const nnp_layer *A = &a->layers[l], *B = &b->layers[l];
		assert_int_equal(A->in, B->in);
		assert_int_equal(A->out, B->out);
		assert_memory_equal(A->w, B->w, A->in * A->out * sizeof(float));
		assert_memory_equal(A->b, B->b, A->out * sizeof(float));
	}
}

void tu_assert_same_layers(const nnp_model *a, const nnp_model *b)
{
	assert_int_equal(a->input_size, b->input_size);
	assert_int_equal(a->n_layers, b->n_layers);
	for (size_t l = 0; l < a->n_layers; l++) {
		const nnp_layer *x = &a->layers[l], *y = &b->layers[l];
		assert_int_equal(x->in, y->in);
		assert_int_equal(x->out, y->out);
		assert_int_equal(x->act, y->act);
		assert_memory_equal(&x->alpha, &y->alpha, sizeof(float));
		assert_memory_equal(x->w, y->w, x->in * x->out * sizeof(float));
		assert_memory_equal(x->b, y->b, x->out * sizeof(float));
	}
}

void tu_expect_case(const char *what, size_t i, int rc, const nnp_err *err, const char *want)
{
	if (!want) {
		if (rc)
			fail_msg("%s %zu: %s", what, i, err->msg);
		return;
	}
	if (rc != NNP_EINPUT)
		fail_msg("%s %zu: rc %d (%s)", what, i, rc, err->msg);
	tu_expect_msg(err, want);
}

double tu_ref_act(nnp_act a, double alpha, double z)
{
	switch (a) {
	case NNP_ACT_RELU: return z > 0 ? z : 0;
	case NNP_ACT_LEAKY_RELU: return z > 0 ? z : alpha * z;
	case NNP_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
	case NNP_ACT_TANH: return tanh(z);
	default: return z;
	}
}

void tu_ref_layer_act(const nnp_layer *L, const double *z, double *out)
{
	if (L->act != NNP_ACT_SOFTMAX) {
		for (size_t o = 0; o < L->out; o++)
			out[o] = tu_ref_act(L->act, L->alpha, z[o]);
		return;
	}
	double mx = z[0], sum = 0;
	for (size_t o = 1; o < L->out; o++)
		mx = z[o] > mx ? z[o] : mx;
	for (size_t o = 0; o < L->out; o++)
		sum += exp(z[o] - mx);
	for (size_t o = 0; o < L->out; o++)
		out[o] = exp(z[o] - mx) / sum;
}

static int wref_cmp(const void *x, const void *y)
{
	const tu_wref *p = x, *q = y;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->layer != q->layer)
		return p->layer < q->layer ? -1 : 1;
	return (p->index > q->index) - (p->index < q->index);
}

tu_wref *tu_weights_by_magnitude(const nnp_model *m, size_t l0, size_t l1, size_t *n)
{
	size_t total = 0;
	for (size_t l = l0; l < l1; l++)
		total += m->layers[l].in * m->layers[l].out;
	tu_wref *w = malloc((total + 1) * sizeof *w);
	assert_non_null(w);
	*n = 0;
	for (size_t l = l0; l < l1; l++)
		for (size_t i = 0; i < m->layers[l].in * m->layers[l].out; i++)
			w[(*n)++] = (tu_wref){ fabs((double)m->layers[l].w[i]), l, i };
	qsort(w, *n, sizeof *w, wref_cmp);
	return w;
}

uint64_t tu_next(tu_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double tu_uniform(tu_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(tu_next(r) >> 11) / 9007199254740992.0);
}

nnp_dataset *tu_dataset(size_t rows, size_t features)
{
	nnp_dataset *d = calloc(1, sizeof *d);
	assert_non_null(d);
	d->rows = rows;
	d->features = features;
	d->x = calloc(rows * features + 1, sizeof *d->x);
	d->y = calloc(rows + 1, sizeof *d->y);
	assert_non_null(d->x);
	assert_non_null(d->y);
	return d;
}

nnp_dataset *tu_random_dataset(tu_rng *r, size_t rows, size_t features, double lo, double hi,
                               size_t classes)
{
	nnp_dataset *d = tu_dataset(rows, features);
	for (size_t i = 0; i < rows * features; i++)
		d->x[i] = (float)tu_uniform(r, lo, hi);
	for (size_t i = 0; i < rows && classes; i++)
		d->y[i] = (int32_t)(tu_next(r) % classes);
	if (!classes) {
		free(d->y);
		d->y = NULL;
	}
	return d;
}

tu_fixture *tu_fixture_new(void)
{
	tu_fixture *fx = calloc(1, sizeof *fx);
	assert_non_null(fx);
	fx->dir = tu_mkdtemp();
	return fx;
}

char *tu_file(tu_fixture *fx, const char *name)
{
	char **files = realloc(fx->files, (fx->n_files + 1) * sizeof *files);
	assert_non_null(files);
	fx->files = files;
	return fx->files[fx->n_files++] = tu_path(fx->dir, name);
}

int tu_setup_dir(void **state)
{
	*state = tu_fixture_new();
	return 0;
}

int tu_fixture_teardown(void **state)
{
	tu_fixture *fx = *state;
	nnp_model_free(fx->m);
	nnp_dataset_free(fx->d);
	nnp_dataset_free(fx->cal);
	nnp_stats_free(fx->s);
	free(fx->csv);
	for (size_t i = 0; i < fx->n_files; i++)
		free(fx->files[i]);
	free(fx->files);
	tu_rmtree_free(fx->dir);
	free(fx);
	return 0;
}

nnp_model *tu_model(size_t n_layers, const size_t *sizes, const nnp_act *acts)
{
	nnp_model *m = NULL;
	nnp_err err;
	nnp_err_clear(&err);
	if (nnp_model_create(&m, sizes[0], n_layers, sizes + 1, acts, &err))
		fail_msg("nnp_model_create: %s", err.msg);
	return m;
}

nnp_model *tu_random_model(tu_rng *r, size_t n_layers, const size_t *sizes,
                           const nnp_act *acts, double scale)
{
	nnp_model *m = tu_model(n_layers, sizes, acts);
	for (size_t l = 0; l < n_layers; l++) {
		nnp_layer *L = &m->layers[l];
		for (size_t i = 0; i < L->in * L->out; i++)
			L->w[i] = (float)tu_uniform(r, -scale, scale);
		for (size_t i = 0; i < L->out; i++)
			L->b[i] = (float)tu_uniform(r, -scale, scale);
	}
	return m;
}

#define TU_NET_MAX 16

nnp_model *tu_net(tu_rng *r, const char *spec, double scale)
{
	size_t sizes[TU_NET_MAX + 1], n = 0;
	nnp_act acts[TU_NET_MAX];
	const char *p = spec;
	char *end;
	sizes[0] = strtoul(p, &end, 10);
	for (p = end; *p == ' ' && n < TU_NET_MAX; n++) {
		sizes[n + 1] = strtoul(p + 1, &end, 10);
		if (*end != ':')
			fail_msg("tu_net: \"%s\": no activation after layer %zu's width", spec, n);
		size_t len = strcspn(end + 1, " ");
		char name[32];
		snprintf(name, sizeof name, "%.*s", (int)len, end + 1);
		if (nnp_act_parse(name, &acts[n]))
			fail_msg("tu_net: \"%s\": unknown activation \"%s\"", spec, name);
		p = end + 1 + len;
	}
	if (*p || n == 0)
		fail_msg("tu_net: \"%s\": expected \"IN W:ACT ...\"", spec);
	return r ? tu_random_model(r, n, sizes, acts, scale) : tu_model(n, sizes, acts);
}

tu_case *tu_case_seed(uint64_t seed)
{
	tu_case *c = tu_case_of(NULL, NULL, NULL);
	c->rng.s = seed;
	return c;
}

tu_case *tu_case_net(uint64_t seed, const char *net, double scale)
{
	tu_case *c = tu_case_seed(seed);
	c->m = tu_net(&c->rng, net, scale);
	return c;
}

tu_case *tu_case_new(uint64_t seed, const char *net, double scale, size_t rows, double lo,
                     double hi, size_t classes)
{
	tu_case *c = tu_case_net(seed, net, scale);
	c->d = tu_random_dataset(&c->rng, rows, c->m->input_size, lo, hi, classes);
	return c;
}

tu_case *tu_case_of(nnp_model *m, nnp_dataset *d, nnp_dataset *held)
{
	tu_case *c = calloc(1, sizeof *c);
	assert_non_null(c);
	c->m = m;
	c->d = d;
	c->held = held;
	return c;
}

void tu_case_free(tu_case *c)
{
	if (c) {
		nnp_model_free(c->m);
		nnp_dataset_free(c->d);
		nnp_dataset_free(c->held);
	}
	free(c);
}

int tu_case_teardown(void **state)
{
	tu_case_free(*state);
	return 0;
}

int tu_case_net_setup(void **state)
{
	const tu_net_spec *s = *state;
	*state = tu_case_net(s->seed, s->net, s->scale);
	return 0;
}

/* NNP_TEST_FILTER=PATTERN runs only the tests whose names match (cmocka's
 * '*' and '?' wildcards): the ThreadSanitizer job runs the thread-count
 * invariance tests alone. */
__attribute__((constructor)) static void tu_filter_from_env(void)
{
	const char *f = getenv("NNP_TEST_FILTER");
	if (f && *f)
		cmocka_set_test_filter(f);
}

unsigned char *tu_model_bytes(const nnp_model *m, nnp_format fmt, size_t *len)
{
	unsigned char *b = NULL;
	nnp_err err;
	nnp_err_clear(&err);
	if (nnp_model_to_buffer(m, fmt, &b, len, &err))
		fail_msg("nnp_model_to_buffer: %s", err.msg);
	return b;
}

void tu_expect_model_bytes(const nnp_model *m, nnp_format fmt, const void *want, size_t n)
{
	size_t len;
	unsigned char *b = tu_model_bytes(m, fmt, &len);
	assert_int_equal(len, n);
	assert_memory_equal(b, want, n);
	free(b);
}

static int parse(nnp_model **m, const void *b, size_t len, nnp_format fmt, nnp_err *err)
{
	nnp_err_clear(err);
	return fmt == NNP_FMT_BIN ? nnp_model_from_bin(m, b, len, "m.bin", err) :
	                            nnp_model_from_json(m, b, len, "m.json", err);
}

nnp_model *tu_model_parse(const unsigned char *b, size_t len, nnp_format fmt)
{
	nnp_model *m = NULL;
	nnp_err err;
	if (parse(&m, b, len, fmt, &err))
		fail_msg("parsing the model back: %s", err.msg);
	return m;
}

void tu_expect_model_error(const void *b, size_t len, nnp_format fmt, const char *want)
{
	nnp_model *m = NULL;
	nnp_err err;
	int rc = parse(&m, b, len, fmt, &err);
	if (rc != NNP_EINPUT)
		fail_msg("expected an input error \"%s\", got rc %d (%s)", want, rc, err.msg);
	assert_null(m);
	tu_expect_msg(&err, want);
}

uint32_t tu_rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void tu_wr32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
