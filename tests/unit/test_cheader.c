/* The C header export of sparse models: layers that are smaller as CSR are
 * written so, the header compiles with the system C compiler as strict C99,
 * and what it computes equals, bit for bit, the dense loop over the same
 * weights (the products a sparse loop skips are zeros), and nnprune's own
 * forward within float rounding. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nnprune/criteria.h"
#include "nnprune/forward.h"
#include "nnprune/model.h"
#include "testutil.h"

enum { ROWS = 40 };

static const char driver[] =
	"#include <stdio.h>\n"
	"#include \"model.h\"\n"
	"int main(void)\n{\n"
	"\tstatic float x[NNP_MODEL_INPUTS], y[NNP_MODEL_OUTPUTS], s[NNP_MODEL_SCRATCH];\n"
	"\tFILE *in = fopen(\"x.bin\", \"rb\"), *out = fopen(\"y.bin\", \"wb\");\n"
	"\tif (!in || !out)\n\t\treturn 1;\n"
	"\twhile (fread(x, sizeof x, 1, in) == 1) {\n"
	"\t\tnnp_model_predict(x, y, s);\n"
	"\t\tfwrite(y, sizeof y, 1, out);\n"
	"\t}\n"
	"\tfclose(in);\n\treturn fclose(out) != 0;\n}\n";

static float act_f(nnp_act a, float alpha, float v)
{
	switch (a) {
	case NNP_ACT_RELU: return v > 0.0f ? v : 0.0f;
	case NNP_ACT_LEAKY_RELU: return v > 0.0f ? v : v * alpha;
	case NNP_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
	case NNP_ACT_TANH: return tanhf(v);
	default: return v;
	}
}

/* The dense loop of a header without sparse layers, in the same order. */
static void dense_loop(const nnp_model *m, const float *x, float *y)
{
	float a[256], b[256];
	const nnp_layer *L0 = &m->layers[0];
	for (size_t i = 0; i < m->input_size; i++) {
		float v = x[i];
		if (L0->pre_offset)
			v = v - L0->pre_offset[i];
		if (L0->pre_scale)
			v = v * L0->pre_scale[i];
		a[i] = v;
	}
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		for (size_t o = 0; o < L->out; o++) {
			float acc = 0.0f;
			for (size_t i = 0; i < L->in; i++)
				acc += L->w[o * L->in + i] * a[i];
			acc += L->b[o];
			b[o] = act_f(L->act, L->alpha, acc);
		}
		memcpy(a, b, L->out * sizeof *a);
	}
	size_t K = nnp_model_outputs(m);
	if (m->layers[m->n_layers - 1].act == NNP_ACT_SOFTMAX) {
		float mx = a[0], sum = 0.0f;
		for (size_t o = 1; o < K; o++)
			mx = a[o] > mx ? a[o] : mx;
		for (size_t o = 0; o < K; o++) {
			a[o] = expf(a[o] - mx);
			sum += a[o];
		}
		for (size_t o = 0; o < K; o++)
			a[o] /= sum;
	}
	memcpy(y, a, K * sizeof *y);
}

static void check_header(const nnp_model *m, size_t sparse_layers)
{
	char *dir = tu_mkdtemp(), *h = tu_path(dir, "model.h"), *c = tu_path(dir, "main.c");
	nnp_err err;
	if (nnp_model_save_opts(m, h, NNP_FMT_C, NULL, &err))
		fail_msg("%s", err.msg);
	size_t len;
	char *text = (char *)tu_read(h, &len);
	size_t found = 0;
	for (size_t l = 0; l < m->n_layers; l++) {
		char name[64];
		snprintf(name, sizeof name, "nnp_model_r%zu[", l);
		found += strstr(text, name) != NULL;
	}
	assert_int_equal(found, sparse_layers);
	free(text);
	tu_write(c, driver, strlen(driver));
	tu_rng r = { 77 };
	size_t F = m->input_size, K = nnp_model_outputs(m);
	float *x = malloc(ROWS * F * sizeof *x), *y = malloc(ROWS * K * sizeof *y);
	for (size_t i = 0; i < ROWS * F; i++)
		x[i] = (float)tu_uniform(&r, -2, 2);
	char *xp = tu_path(dir, "x.bin");
	tu_write(xp, x, ROWS * F * sizeof *x);
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "cd '%s' && ${CC:-cc} -std=c99 -Wall -Wextra -Werror -pedantic "
	         "-o prog main.c -lm && ./prog", dir);
	assert_int_equal(system(cmd), 0);
	char *yp = tu_path(dir, "y.bin");
	float *got = (float *)tu_read(yp, &len);
	assert_int_equal(len, ROWS * K * sizeof(float));
	nnp_forward *f = NULL;
	assert_int_equal(nnp_forward_create(&f, m, ROWS, &err), NNP_OK);
	const float *ours = nnp_forward_run(f, x, ROWS);
	for (size_t i = 0; i < ROWS; i++) {
		dense_loop(m, x + i * F, y + i * K);
		for (size_t k = 0; k < K; k++) {
			float g = got[i * K + k];
			if (memcmp(&g, &y[i * K + k], sizeof g) != 0)
				fail_msg("row %zu output %zu: header %.9g, dense loop %.9g", i, k, (double)g,
				         (double)y[i * K + k]);
			if (!(fabs((double)g - ours[i * K + k]) <= 1e-5 * (1 + fabs(ours[i * K + k]))))
				fail_msg("row %zu output %zu: header %.9g, forward %.9g", i, k, (double)g,
				         (double)ours[i * K + k]);
		}
	}
	nnp_forward_free(f);
	free(got);
	free(x);
	free(y);
	free(xp);
	free(yp);
	free(h);
	free(c);
	tu_rmtree_free(dir);
}

static void test_sparse_header(void **state)
{
	(void)state;
	tu_case *c = tu_case_net(78, "12 90:relu 70:tanh 5:softmax", 0.5);
	const float off[] = { 0.5f }, sc[] = { 1.5f };
	nnp_err err;
	assert_int_equal(nnp_model_set_prep(c->m, off, 1, sc, 1, &err), NNP_OK);
	check_header(c->m, 0);   /* dense: nothing changes */
	const double shares[] = { 0.2, 0.8, 0.95, 1.0 };
	const size_t csr[] = { 0, 3, 3, 3 };
	for (size_t s = 0; s < 4; s++) {
		nnp_model *p = NULL;
		assert_int_equal(nnp_prune_magnitude(c->m, &shares[s], 1, NNP_MAG_PER_LAYER, &p,
		                                     NULL, &err), NNP_OK);
		p->layers[1].w[3] = p->layers[1].w[3] == 0.0f ? -0.0f : p->layers[1].w[3];
		check_header(p, csr[s]);
		nnp_model_free(p);
	}
	/* only the hidden layers sparse, the output dense; logits */
	const double per[] = { 0.9, 0.9, 0.0 };
	nnp_model *p = NULL;
	c->m->layers[2].act = NNP_ACT_LINEAR;
	c->m->logits = 1;
	assert_int_equal(nnp_prune_magnitude(c->m, per, 3, NNP_MAG_PER_LAYER, &p, NULL, &err),
	                 NNP_OK);
	check_header(p, 2);
	nnp_model_free(p);
	tu_case_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sparse_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
