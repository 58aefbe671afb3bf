/* Tests of the model module: creation, metadata, invariants, both file
 * formats (bit-exact round trips, canonical bytes) and hostile inputs. */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>
#include <cJSON.h>

#include "nnprune/model.h"
#include "testutil.h"

#define MAGIC "\x89NNP\r\n\x1a\n"


static void assert_same_meta(const nnp_model *a, const nnp_model *b)
{
	if (a->name || b->name) {
		assert_non_null(a->name);
		assert_non_null(b->name);
		assert_string_equal(a->name, b->name);
	}
	if (a->provenance || b->provenance) {
		assert_non_null(a->provenance);
		assert_non_null(b->provenance);
		assert_string_equal(a->provenance, b->provenance);
	}
	assert_int_equal(a->n_classes, b->n_classes);
	for (size_t i = 0; i < a->n_classes; i++)
		assert_string_equal(a->classes[i], b->classes[i]);
}

/* 3 -> 4 (leaky) -> 2 (softmax) with metadata that needs escaping. */
static nnp_model *small_model(uint64_t seed)
{
	tu_rng r = { seed };
	nnp_model *m = tu_net(&r, "3 4:leaky_relu 2:softmax", 2.0);
	const char *classes[] = { "cat \"tabby\"", "d\xc3\xa9j\xc3\xa0 vu\n\t\\" };
	assert_int_equal(nnp_model_set_name(m, "small\x01 model", NULL), 0);
	assert_int_equal(nnp_model_set_classes(m, classes, 2, NULL), 0);
	assert_int_equal(nnp_model_set_provenance(m, "{ \"tool\": \"test\", \"n\": [1, 2.5] }", NULL),
	                 0);
	m->layers[0].alpha = 0.125f;
	return m;
}

/* ---- creation, copies, metadata ---- */

static void test_act_names(void **state)
{
	(void)state;
	const char *names[] = { "linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax" };
	for (int i = 0; i < NNP_ACT_COUNT; i++) {
		nnp_act a = NNP_ACT_LINEAR;
		assert_string_equal(nnp_act_name((nnp_act)i), names[i]);
		assert_int_equal(nnp_act_parse(names[i], &a), 0);
		assert_int_equal(a, i);
	}
	assert_null(nnp_act_name((nnp_act)6));
	assert_null(nnp_act_name((nnp_act)-1));
	assert_int_equal(nnp_act_parse("gelu", NULL), -1);
	assert_int_equal(nnp_act_parse("RELU", NULL), -1);
	assert_string_equal(nnp_format_name(NNP_FMT_JSON), "json");
	assert_string_equal(nnp_format_name(NNP_FMT_BIN), "bin");
}

static void test_create_counts_clone(void **state)
{
	(void)state;
	size_t sizes[] = { 6, 7, 5, 9, 4 };
	nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_LEAKY_RELU, NNP_ACT_TANH, NNP_ACT_SOFTMAX };
	nnp_model *m = tu_model(4, sizes, acts);
	size_t in = 6, params = 0, macs = 0;
	for (size_t l = 0; l < 4; l++) {
		nnp_layer *L = &m->layers[l];
		assert_int_equal(L->in, in);
		assert_int_equal(L->out, sizes[l + 1]);
		assert_int_equal(L->act, acts[l]);
		assert_true(L->alpha == (l == 1 ? 0.01f : 0.0f));
		for (size_t i = 0; i < L->in * L->out; i++)
			assert_true(L->w[i] == 0.0f);
		for (size_t i = 0; i < L->out; i++)
			assert_true(L->b[i] == 0.0f);
		params += in * sizes[l + 1] + sizes[l + 1];
		macs += in * sizes[l + 1];
		in = sizes[l + 1];
	}
	assert_int_equal(nnp_model_params(m), params);
	assert_int_equal(params, 6 * 7 + 7 + 7 * 5 + 5 + 5 * 9 + 9 + 9 * 4 + 4);
	assert_int_equal(nnp_model_macs(m), macs);
	assert_int_equal(nnp_model_outputs(m), 4);
	assert_int_equal(nnp_model_max_width(m), 9);
	assert_null(m->name);
	assert_null(m->classes);
	assert_null(m->provenance);

	for (size_t i = 0; i < 7 * 6; i++)
		m->layers[0].w[i] = (float)i * 0.5f - 3.0f;
	m->layers[3].b[2] = -0.0f;
	const char *cls[] = { "a", "b", "c", "d" };
	assert_int_equal(nnp_model_set_classes(m, cls, 4, NULL), 0);
	assert_int_equal(nnp_model_set_name(m, "net", NULL), 0);
	nnp_model *c = NULL;
	assert_int_equal(nnp_model_clone(&c, m, NULL), 0);
	tu_assert_same_layers(m, c);
	assert_same_meta(m, c);
	assert_ptr_not_equal(c->layers[0].w, m->layers[0].w);
	assert_ptr_not_equal(c->name, m->name);
	assert_ptr_not_equal(c->classes[0], m->classes[0]);
	c->layers[0].w[0] = 42.0f;
	assert_true(m->layers[0].w[0] == -3.0f);
	nnp_model_free(c);
	nnp_model_free(m);
	nnp_model_free(NULL);

	/* The input layer can be the widest. */
	m = tu_net(NULL, "30 2:linear", 0);
	assert_int_equal(nnp_model_max_width(m), 30);
	assert_int_equal(nnp_model_params(m), 62);
	nnp_model_free(m);
}

static void test_create_errors(void **state)
{
	(void)state;
	nnp_model *m = NULL;
	nnp_err err;
	size_t sizes[] = { 4, 3 };
	nnp_act acts[] = { NNP_ACT_SOFTMAX, NNP_ACT_RELU };
	assert_int_equal(nnp_model_create(&m, 2, 2, sizes, acts, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "layer 0: softmax is only allowed on the last layer");
	assert_null(m);
	nnp_act ok[] = { NNP_ACT_RELU, NNP_ACT_SOFTMAX };
	assert_int_equal(nnp_model_create(&m, 2, 0, sizes, ok, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "0 layers (1 to 1024 allowed)");
	assert_int_equal(nnp_model_create(&m, 0, 2, sizes, ok, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "input size 0 is out of range");
	size_t zero[] = { 4, 0 };
	assert_int_equal(nnp_model_create(&m, 2, 2, zero, ok, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "layer 1: 0 outputs is out of range (1 to 16777216)");
	nnp_act bad[] = { NNP_ACT_RELU, (nnp_act)9 };
	assert_int_equal(nnp_model_create(&m, 2, 2, sizes, bad, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "layer 1: unknown activation code 9");
	/* 2^24 x 2^24 would be 2^48 parameters: refused before any allocation. */
	size_t huge[] = { NNP_MAX_WIDTH, NNP_MAX_WIDTH };
	assert_int_equal(nnp_model_create(&m, NNP_MAX_WIDTH, 2, huge, ok, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "over the limit of 1073741824");
	assert_null(m);
}

static void test_setters(void **state)
{
	(void)state;
	nnp_model *m = tu_net(NULL, "2 3:softmax", 0);
	nnp_err err;
	const char *three[] = { "x", "y", "z" };
	assert_int_equal(nnp_model_set_classes(m, three, 2, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "2 class names for a model with 3 outputs");
	assert_int_equal(nnp_model_set_classes(m, three, 3, &err), 0);
	assert_int_equal(m->n_classes, 3);
	assert_string_equal(m->classes[2], "z");
	assert_int_equal(nnp_model_set_classes(m, NULL, 0, &err), 0);
	assert_null(m->classes);
	assert_int_equal(m->n_classes, 0);

	assert_int_equal(nnp_model_set_provenance(m, "[1, 2]", &err), NNP_EUSAGE);
	tu_expect_msg(&err, "provenance must be a JSON object");
	assert_int_equal(nnp_model_set_provenance(m, "{\"a\": 1} junk", &err), NNP_EUSAGE);
	assert_int_equal(nnp_model_set_provenance(m, " {\"a\" :  1 ,\n \"b\": [true, null]} ", &err),
	                 0);
	assert_string_equal(m->provenance, "{\"a\":1,\"b\":[true,null]}");
	assert_int_equal(nnp_model_set_provenance(m, NULL, &err), 0);
	assert_null(m->provenance);

	assert_int_equal(nnp_model_set_name(m, "bad \xc3\x28 utf8", &err), NNP_EUSAGE);
	tu_expect_msg(&err, "not valid UTF-8");
	assert_int_equal(nnp_model_set_name(m, "good", &err), 0);
	assert_string_equal(m->name, "good");
	assert_int_equal(nnp_model_set_name(m, "better", &err), 0);
	assert_string_equal(m->name, "better");

	/* The metadata must fit the binary format's 16 MiB blob. */
	size_t n = NNP_MAX_META_BYTES + 1;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\0';
	assert_int_equal(nnp_model_set_name(m, big, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "over the limit of 16777216");
	assert_string_equal(m->name, "better");
	free(big);
	nnp_model_free(m);
}

static void test_validate(void **state)
{
	(void)state;
	nnp_model *m = tu_net(NULL, "5 20:relu 256:tanh 10:softmax", 0);
	nnp_err err;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), 0);

	m->layers[1].w[3 * 20 + 17] = NAN;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), NNP_EINPUT);
	tu_expect_msg(&err, "m.json: layer 1: weight[3][17] is NaN");
	m->layers[1].w[3 * 20 + 17] = 0.0f;
	m->layers[2].b[7] = INFINITY;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), NNP_EINPUT);
	tu_expect_msg(&err, "m.json: layer 2: bias[7] is +Inf");
	m->layers[2].b[7] = -INFINITY;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), NNP_EINPUT);
	tu_expect_msg(&err, "bias[7] is -Inf");
	m->layers[2].b[7] = 0.0f;

	m->layers[2].in = 300;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), NNP_EINPUT);
	tu_expect_msg(&err, "m.json: layer 2: weights have 300 columns but layer 1 has 256 outputs");
	m->layers[2].in = 256;
	m->layers[0].in = 4;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), NNP_EINPUT);
	tu_expect_msg(&err, "m.json: layer 0: weights have 4 columns but the input size is 5");
	m->layers[0].in = 5;

	m->layers[1].act = NNP_ACT_SOFTMAX;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), NNP_EINPUT);
	tu_expect_msg(&err, "m.json: layer 1: softmax is only allowed on the last layer");
	m->layers[1].act = NNP_ACT_LEAKY_RELU;
	m->layers[1].alpha = NAN;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), NNP_EINPUT);
	tu_expect_msg(&err, "layer 1: alpha is NaN");
	m->layers[1].alpha = 0.2f;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), 0);

	char *one[] = { "only" };
	m->classes = one;
	m->n_classes = 1;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), NNP_EINPUT);
	tu_expect_msg(&err, "m.json: metadata: 1 class names but the model has 10 outputs");
	m->classes = NULL;
	m->n_classes = 0;
	char prov[] = "[1]";
	m->provenance = prov;
	assert_int_equal(nnp_model_validate(m, "m.json", &err), NNP_EINPUT);
	tu_expect_msg(&err, "provenance is not a JSON object");
	m->provenance = NULL;

	size_t nl = m->n_layers;
	m->n_layers = 0;
	assert_int_equal(nnp_model_validate(m, "x", &err), NNP_EINPUT);
	tu_expect_msg(&err, "x: the model has 0 layers");
	m->n_layers = nl;
	m->input_size = 0;
	assert_int_equal(nnp_model_validate(m, "x", &err), NNP_EINPUT);
	tu_expect_msg(&err, "x: input size 0 is out of range");
	m->input_size = 5;
	assert_int_equal(nnp_model_validate(NULL, "x", &err), NNP_EINPUT);
	nnp_model_free(m);
}

/* ---- round trips ---- */

/* Values that trip naive float printing: signed zero, denormals, extremes. */
static const float special[] = {
	-0.0f, 0.0f, 1e-38f, -1e-38f, FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN, 1e-40f, 3e-45f,
	FLT_MAX, -FLT_MAX, 0.1f, 0.2f, 0.3f, 1.0f / 3.0f, -2.0f / 3.0f, 1.0f, -1.0f, 16777216.0f,
	16777217.0f, 123456789.0f, 1e10f, -1e15f, 1e16f, 9.999999e15f, 1e20f, 3.14159265f,
	1.00000012f, 0.99999994f, 65504.0f, 1e-7f, 2.8e-45f, 2.5e-5f, -7.5e-10f
};
#define N_SPECIAL (sizeof special / sizeof special[0])

static nnp_model *special_model(void)
{
	size_t sizes[] = { 2, N_SPECIAL, 3 };
	nnp_act acts[] = { NNP_ACT_SIGMOID, NNP_ACT_LINEAR };
	nnp_model *m = tu_model(2, sizes, acts);
	for (size_t i = 0; i < N_SPECIAL; i++) {
		m->layers[0].w[2 * i] = special[i];
		m->layers[0].w[2 * i + 1] = special[N_SPECIAL - 1 - i];
		m->layers[0].b[i] = special[(i * 7) % N_SPECIAL];
	}
	for (size_t i = 0; i < 3 * N_SPECIAL; i++)
		m->layers[1].w[i] = special[(i * 5) % N_SPECIAL];
	m->layers[1].b[0] = -0.0f;
	m->layers[1].b[1] = FLT_TRUE_MIN;
	m->layers[1].b[2] = FLT_MAX;
	return m;
}

static void roundtrip(const nnp_model *m, nnp_format fmt)
{
	size_t len;
	unsigned char *buf = tu_model_bytes(m, fmt, &len);
	nnp_model *r = tu_model_parse(buf, len, fmt);
	tu_assert_same_layers(m, r);
	assert_same_meta(m, r);
	/* Writing what was read gives the same bytes. */
	tu_expect_model_bytes(r, fmt, buf, len);
	free(buf);
	nnp_model_free(r);
}

static void test_roundtrip_special(void **state)
{
	(void)state;
	nnp_model *m = special_model();
	roundtrip(m, NNP_FMT_JSON);
	roundtrip(m, NNP_FMT_BIN);
	/* A signed zero really comes back negative (memcmp above checks bits, this
	 * checks that the test data has one). */
	size_t len;
	unsigned char *buf = tu_model_bytes(m, NNP_FMT_JSON, &len);
	nnp_model *r = tu_model_parse(buf, len, NNP_FMT_JSON);
	assert_true(signbit(r->layers[1].b[0]) && r->layers[1].b[0] == 0.0f);
	assert_true(r->layers[1].b[1] == FLT_TRUE_MIN);
	assert_true(r->layers[1].b[2] == FLT_MAX);
	/* Integers below 1e16 print in full, every value in the fewest digits
	 * that read back. */
	assert_non_null(strstr((char *)buf, "10000000000"));
	assert_non_null(strstr((char *)buf, "16777216, "));
	assert_non_null(strstr((char *)buf, "3.4028235e+38"));
	assert_non_null(strstr((char *)buf, "0.1, "));
	assert_null(strstr((char *)buf, "0.100000001"));
	assert_non_null(strstr((char *)buf, "[-0, "));
	assert_null(strstr((char *)buf, "e+09"));
	free(buf);
	nnp_model_free(r);
	nnp_model_free(m);
}

static void test_roundtrip_random_bits(void **state)
{
	(void)state;
	/* Every finite float pattern class (denormals included) from random bits. */
	tu_rng r = { 12345 };
	nnp_model *m = tu_net(NULL, "25 40:relu 30:linear", 0);
	for (size_t l = 0; l < 2; l++) {
		nnp_layer *L = &m->layers[l];
		for (size_t i = 0; i < L->in * L->out + L->out; i++) {
			float f;
			do {
				uint32_t u = (uint32_t)tu_next(&r);
				if (i % 3 == 0)
					u &= 0x807fffffu;  /* denormals */
				memcpy(&f, &u, 4);
			} while (!isfinite(f));
			if (i < L->in * L->out)
				L->w[i] = f;
			else
				L->b[i - L->in * L->out] = f;
		}
	}
	roundtrip(m, NNP_FMT_JSON);
	roundtrip(m, NNP_FMT_BIN);
	nnp_model_free(m);
}

static void test_json_bin_json_identical(void **state)
{
	(void)state;
	nnp_model *m = small_model(7);
	size_t jlen, blen, jlen2, blen2;
	unsigned char *j1 = tu_model_bytes(m, NNP_FMT_JSON, &jlen);
	nnp_model *a = tu_model_parse(j1, jlen, NNP_FMT_JSON);
	unsigned char *b1 = tu_model_bytes(a, NNP_FMT_BIN, &blen);
	nnp_model *b = tu_model_parse(b1, blen, NNP_FMT_BIN);
	unsigned char *j2 = tu_model_bytes(b, NNP_FMT_JSON, &jlen2);
	assert_int_equal(jlen, jlen2);
	assert_memory_equal(j1, j2, jlen);
	nnp_model *c = tu_model_parse(j2, jlen2, NNP_FMT_JSON);
	unsigned char *b2 = tu_model_bytes(c, NNP_FMT_BIN, &blen2);
	assert_int_equal(blen, blen2);
	assert_memory_equal(b1, b2, blen);
	tu_assert_same_layers(m, c);
	assert_same_meta(m, c);
	assert_string_equal(c->classes[1], "d\xc3\xa9j\xc3\xa0 vu\n\t\\");
	assert_string_equal(c->name, "small\x01 model");
	assert_true(c->layers[0].alpha == 0.125f);
	/* Binary size: header, table, metadata padded to 8, values, CRC. */
	size_t params = nnp_model_params(m);
	assert_int_equal(params, 3 * 4 + 4 + 4 * 2 + 2);
	uint32_t msize = (uint32_t)b1[24] | (uint32_t)b1[25] << 8 | (uint32_t)b1[26] << 16 |
	                 (uint32_t)b1[27] << 24;
	assert_true(msize > 0);
	assert_int_equal(blen, (32 + 2 * 16 + msize + 7) / 8 * 8 + 4 * params + 4);
	free(j1);
	free(j2);
	free(b1);
	free(b2);
	nnp_model_free(a);
	nnp_model_free(b);
	nnp_model_free(c);
	nnp_model_free(m);
}

static const char xor_expected[] =
	"{\n"
	"  \"format\": \"nnprune-model\",\n"
	"  \"version\": 1,\n"
	"  \"input_size\": 2,\n"
	"  \"layers\": [\n"
	"    {\n"
	"      \"activation\": \"relu\",\n"
	"      \"weights\": [\n"
	"        [1, 1],\n"
	"        [1, 1]\n"
	"      ],\n"
	"      \"bias\": [0, -1]\n"
	"    },\n"
	"    {\n"
	"      \"activation\": \"softmax\",\n"
	"      \"weights\": [\n"
	"        [-1, 2],\n"
	"        [1, -2]\n"
	"      ],\n"
	"      \"bias\": [0.5, -0.5]\n"
	"    }\n"
	"  ],\n"
	"  \"metadata\": {\n"
	"    \"name\": \"xor\",\n"
	"    \"classes\": [\"false\", \"true\"],\n"
	"    \"provenance\": {\"source\":\"hand-written\",\"hidden\":\"h1 = relu(x1 + x2), h2 = "
	"relu(x1 + x2 - 1)\",\"logits\":\"(0.5 - h1 + 2 h2, h1 - 2 h2 - 0.5)\"}\n"
	"  }\n"
	"}\n";

static double xor_class(const nnp_model *m, double x1, double x2)
{
	const nnp_layer *L0 = &m->layers[0], *L1 = &m->layers[1];
	double x[2] = { x1, x2 }, h[2], z[2];
	for (int j = 0; j < 2; j++) {
		h[j] = L0->b[j] + L0->w[2 * j] * x[0] + L0->w[2 * j + 1] * x[1];
		h[j] = h[j] > 0 ? h[j] : 0;
	}
	for (int k = 0; k < 2; k++)
		z[k] = L1->b[k] + L1->w[2 * k] * h[0] + L1->w[2 * k + 1] * h[1];
	/* softmax keeps the order: the class is the larger logit, and the
	 * probability of class 1 is 1 / (1 + e^(z0 - z1)). */
	double p1 = 1.0 / (1.0 + exp(z[0] - z[1]));
	return p1;
}

static void test_xor_fixture(void **state)
{
	(void)state;
	nnp_model *m = NULL;
	nnp_file_info fi;
	nnp_err err;
	if (nnp_model_load(&m, NNP_TEST_DATA "/model_xor.json", &fi, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(fi.format, NNP_FMT_JSON);
	assert_int_equal(m->input_size, 2);
	assert_int_equal(m->n_layers, 2);
	assert_int_equal(m->layers[0].act, NNP_ACT_RELU);
	assert_int_equal(m->layers[1].act, NNP_ACT_SOFTMAX);
	assert_string_equal(m->name, "xor");
	/* z1 - z0 = 2 (h1 - 2 h2) - 1 = +1 or -1: p = 1 / (1 + e^-1) = 0.7310585786. */
	assert_true(fabs(xor_class(m, 0, 0) - 0.2689414214) < 1e-9);
	assert_true(fabs(xor_class(m, 1, 0) - 0.7310585786) < 1e-9);
	assert_true(fabs(xor_class(m, 0, 1) - 0.7310585786) < 1e-9);
	assert_true(fabs(xor_class(m, 1, 1) - 0.2689414214) < 1e-9);
	/* The fixture is in canonical form: it is exactly what the writer emits. */
	size_t len, flen;
	unsigned char *buf = tu_model_bytes(m, NNP_FMT_JSON, &len);
	unsigned char *file = tu_read(NNP_TEST_DATA "/model_xor.json", &flen);
	assert_int_equal(len, strlen(xor_expected));
	assert_memory_equal(buf, xor_expected, len);
	assert_int_equal(flen, len);
	assert_memory_equal(file, buf, len);
	assert_int_equal(fi.bytes, flen);
	assert_int_equal(fi.crc32, (uint32_t)crc32(0L, file, (uInt)flen));
	free(buf);
	free(file);
	nnp_model_free(m);
}

/* ---- JSON errors ---- */

static void expect_json_err(const char *text, const char *want)
{
	tu_expect_model_error(text, strlen(text), NNP_FMT_JSON, want);
}

/* A valid 2 -> 2 (relu) -> 2 (softmax) document with one piece replaced. */
static void expect_variant(const char *from, const char *to, const char *want)
{
	static const char base[] =
		"{\"format\": \"nnprune-model\", \"version\": 1, \"input_size\": 2, \"layers\": ["
		"{\"activation\": \"relu\", \"weights\": [[1, 2], [3, 4]], \"bias\": [0, 1]},"
		"{\"activation\": \"softmax\", \"weights\": [[1, -1], [-1, 1]], \"bias\": [0.5, -0.5]}"
		"], \"metadata\": {\"name\": \"n\"}}";
	const char *at = strstr(base, from);
	if (!at)
		fail_msg("\"%s\" not in the base document", from);
	size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
	char *t = malloc(n);
	assert_non_null(t);
	size_t k = (size_t)(at - base);
	memcpy(t, base, k);
	strcpy(t + k, to);
	strcat(t, at + strlen(from));
	if (want) {
		expect_json_err(t, want);
	} else {
		nnp_model *m = NULL;
		nnp_err err;
		if (nnp_model_from_json(&m, t, strlen(t), "m.json", &err))
			fail_msg("%s", err.msg);
		nnp_model_free(m);
	}
	free(t);
}

static void test_json_syntax_errors(void **state)
{
	(void)state;
	expect_json_err("{\n  \"format\": \"nnprune-model\",\n  \"version\" 1\n}",
	                "m.json:3:13: JSON syntax error");
	expect_json_err("{\"a\": [1, 2, 3,\n   4 5]}", "m.json:2:6: JSON syntax error");
	/* Columns count characters, not bytes. */
	expect_json_err("{\"\xc3\xa9\": \"\xc3\xbc\" x}", "m.json:1:11: JSON syntax error");
	expect_json_err("", "m.json:1:1: JSON syntax error");
	expect_json_err("{\"format\": \"nnprune-model\"}\n\n  x", "m.json:3:3: unexpected text after");
	expect_json_err("  [1, 2]", "m.json:1:3: expected a JSON object (found an array)");
	expect_json_err("{\"format\": \"nnprune-model\", \"format\": \"nnprune-model\"}",
	                "m.json: duplicate key \"format\"");
	expect_json_err("{\"a\": 1}", "m.json: missing \"format\"");
	expect_json_err("{\"format\": \"onnx\"}", "\"format\" must be \"nnprune-model\" (found \"onnx\")");
	expect_json_err("{\"format\": 3}", "\"format\" must be \"nnprune-model\" (found a number)");
	expect_json_err("{\"format\": \"nnprune-model\"}", "m.json: missing \"version\"");
	expect_json_err("{\"format\": \"nnprune-model\", \"version\": 3}",
	                "m.json: unsupported version 3 (this nnprune reads versions 1 and 2)");
}

static void test_json_semantic_errors(void **state)
{
	(void)state;
	/* Unknown keys are ignored; a BOM and surrounding blanks are fine. FLT_MAX
	 * printed with 9 digits is a little above FLT_MAX but rounds to it; past
	 * the midpoint to 2^128 it would round to infinity (a case below). */
	expect_variant("", "", NULL);
	expect_variant("\"version\": 1,", "\"version\": 1, \"extra\": {\"x\": [1]},", NULL);
	expect_variant("\"bias\": [0, 1]", "\"bias\": [0, 1], \"note\": 1", NULL);
	expect_variant("[[1, 2], [3, 4]]", "[[1, 2], [3.40282347e+38, -3.4028235677e+38]]", NULL);
	/* Each: a piece of the base document, what replaces it, the error. */
	static const char *const cases[][3] = {
		{ "\"input_size\": 2", "\"input_size\": 2.5",
		  "\"input_size\" must be an integer from 1 to 16777216 (found 2.5)" },
		{ "\"input_size\": 2", "\"input_size\": \"2\"",
		  "(found a string)" },
		{ "\"input_size\": 2,", "",
		  "m.json: missing \"input_size\"" },
		{ "\"version\": 1", "\"version\": 1, \"version\": 1",
		  "duplicate key \"version\"" },
		{ "\"layers\": [", "\"layers\": 5, \"x\": [",
		  "\"layers\" must be an array" },
		{ "\"activation\": \"relu\"", "\"activation\": \"gelu\"",
		  "m.json: layer 0: unknown activation \"gelu\"" },
		{ "\"activation\": \"relu\",", "",
		  "layer 0: missing \"activation\"" },
		{ "\"activation\": \"relu\"", "\"activation\": \"softmax\"",
		  "layer 0: softmax is only allowed on the last layer" },
		{ "\"activation\": \"relu\"", "\"activation\": \"relu\", \"alpha\": 0.1",
		  "layer 0: \"alpha\" is only allowed with leaky_relu" },
		{ "\"activation\": \"relu\"", "\"activation\": \"leaky_relu\", \"alpha\": \"x\"",
		  "layer 0: \"alpha\" must be a finite number" },
		{ "\"bias\": [0, 1]", "\"bias\": [0, 1], \"bias\": [0, 1]",
		  "m.json: layer 0: duplicate key \"bias\"" },
		{ "\"bias\": [0, 1]", "\"bias\": [0]",
		  "m.json: layer 0: \"bias\" must be an array of 2 numbers (found 1)" },
		{ "\"bias\": [0, 1]", "\"bias\": 0",
		  "layer 0: \"bias\" must be an array of 2 numbers (found a number)" },
		{ "\"bias\": [0, 1]", "\"bias\": [0, \"1\"]",
		  "layer 0: bias[1] must be a number (found a string)" },
		{ "[[1, 2], [3, 4]]", "[[1, 2, 5], [3, 4, 6]]",
		  "layer 0: weights have 3 columns but \"input_size\" is 2" },
		{ "[[1, -1], [-1, 1]]", "[[1, -1, 0], [-1, 1, 0]]",
		  "m.json: layer 1: weights have 3 columns but layer 0 has 2 outputs" },
		{ "[[1, 2], [3, 4]]", "[[1, 2], [3]]",
		  "layer 0: \"weights\" row 1 must be an array of 2 numbers (found 1)" },
		{ "[[1, 2], [3, 4]]", "[[1, 2], 3]",
		  "layer 0: \"weights\" row 1 must be an array of 2 numbers (found a number)" },
		{ "[[1, 2], [3, 4]]", "[]",
		  "layer 0: \"weights\" has 0 rows" },
		{ "[[1, 2], [3, 4]]", "{}",
		  "layer 0: \"weights\" must be an array of rows" },
		{ "[[1, 2], [3, 4]]", "[[1, 2], [3, null]]",
		  "layer 0: weight[1][1] must be a number (found null)" },
		{ "[[1, 2], [3, 4]]", "[[1, 2], [1e39, 4]]",
		  "layer 0: weight[1][0] = 1e+39 is outside the float range" },
		{ "[[1, 2], [3, 4]]", "[[1, 2], [1e400, 4]]",
		  "weight[1][0] = inf is outside" },
		{ "[[1, 2], [3, 4]]", "[[1, 2], [3.4028235678e+38, 4]]",
		  "outside the float range" },
		{ "{\"activation\": \"relu\"", "7, {\"activation\": \"relu\"",
		  "m.json: layer 0 must be an object (found a number)" },
		{ "\"layers\": [", "\"layers\": [], \"x\": [",
		  "\"layers\" has 0 layers" },
		{ "{\"name\": \"n\"}", "[]",
		  "\"metadata\" must be an object" },
		{ "{\"name\": \"n\"}", "{\"name\": 5}",
		  "m.json: metadata: \"name\" must be a string (found a number)" },
		{ "{\"name\": \"n\"}", "{\"name\": \"n\", \"name\": \"m\"}",
		  "m.json: metadata: duplicate key \"name\"" },
		{ "{\"name\": \"n\"}", "{\"classes\": [\"a\"]}",
		  "metadata: \"classes\" has 1 names but the model has 2 outputs" },
		{ "{\"name\": \"n\"}", "{\"classes\": [\"a\", 2]}",
		  "metadata: \"classes\"[1] must be a string (found a number)" },
		{ "{\"name\": \"n\"}", "{\"provenance\": \"x\"}",
		  "metadata: \"provenance\" must be an object (found a string)" },
		{ "{\"name\": \"n\"}", "{\"name\": \"\xff\"}",
		  "\"name\" is not valid UTF-8" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_variant(cases[i][0], cases[i][1], cases[i][2]);
}

/* line:column (1-based) of byte pos in ASCII text. */
static void ascii_line_col(const char *t, size_t pos, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < pos; i++) {
		if (t[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/*
 * The reader parses weight rows and biases itself before cJSON sees the
 * rest: on thousands of mutations of a valid document, its verdict (syntax
 * error and where, trailing text and where, or the values read) must be
 * cJSON's on the unchanged text.
 */
/* Where the first line break inside a string is (RFC 8259 forbids raw
 * control bytes there; cJSON takes them), or len if none: a plain scan of
 * quotes and backslash escapes, outside any JSON parser. */
static size_t first_break_in_string(const char *t, size_t len)
{
	int in = 0;
	for (size_t i = 0; i < len; i++) {
		if (in && t[i] == '\\' && i + 1 < len)
			i++;
		else if (t[i] == '"')
			in = !in;
		else if (in && t[i] == '\n')
			return i;
	}
	return len;
}

/* With `pad` blanks after the document: past a few hundred kilobytes the
 * rows are delimited first and their numbers parsed on every core. */
static void prescan_same_verdict(size_t pad, int iters)
{
	static const char base[] =
		"{\"format\": \"nnprune-model\", \"version\": 1, \"input_size\": 3,\n"
		" \"layers\": [\n"
		"  {\"activation\": \"relu\", \"weights\": [[1, 2.5, -3e-2],\n"
		"     [0.125, -0, 4E1]], \"bias\": [0, -1.75]},\n"
		"  {\"activation\": \"softmax\", \"weights\": [[1, -1], [-1, 1]], \"bias\": [0.5, -0.5]}\n"
		" ], \"metadata\": {\"name\": \"n\", \"provenance\": {\"w\": [1, 2]}}}\n";
	static const char alphabet[] = "[]{},:-\"0 .e\\x1n";
	const size_t blen = sizeof base - 1;
	char *t = malloc(blen + pad + 8);
	assert_non_null(t);
	tu_rng r = { 4242 };
	int syntax = 0, valid = 0;
	for (int it = 0; it < iters; it++) {
		size_t n = blen + pad, pos = (size_t)(tu_next(&r) % blen);
		memcpy(t, base, blen);
		memset(t + blen, ' ', pad);
		char c = alphabet[tu_next(&r) % (sizeof alphabet - 1)];
		switch (tu_next(&r) % 4) {
		case 0: t[pos] = c; break;
		case 1: memmove(t + pos, t + pos + 1, n - pos - 1); n--; break;
		case 2: memmove(t + pos + 1, t + pos, n - pos); t[pos] = c; n++; break;
		default: n = pos; break;
		}
		t[n] = '\0';
		const char *end = NULL;
		cJSON *root = cJSON_ParseWithLengthOpts(t, n, &end, 0);
		nnp_model *m = NULL;
		nnp_err err;
		nnp_err_clear(&err);
		int rc = nnp_model_from_json(&m, t, n, "m.json", &err);
		char want[96];
		size_t line, col, at = end && end >= t && end <= t + n ? (size_t)(end - t) : 0;
		if (root)
			while (at < n && strchr(" \t\r\n", t[at]))
				at++;
		size_t brk = first_break_in_string(t, n);
		if (brk < n && (root || brk <= at)) {
			/* Strict JSON: the line break inside a string comes first. */
			ascii_line_col(t, brk, &line, &col);
			snprintf(want, sizeof want, "m.json:%zu:%zu: JSON syntax error: control byte 0x0a",
			         line, col);
			if (rc != NNP_EINPUT || strncmp(err.msg, want, strlen(want)) != 0)
				fail_msg("%s\nexpected \"%s\", got rc %d \"%s\"", t, want, rc, err.msg);
			syntax++;
			nnp_model_free(m);
			cJSON_Delete(root);
			continue;
		}
		ascii_line_col(t, at, &line, &col);
		if (!root || at < n) {
			snprintf(want, sizeof want, "m.json:%zu:%zu: %s", line, col,
			         root ? "unexpected text after" : "JSON syntax error");
			if (rc != NNP_EINPUT || strncmp(err.msg, want, strlen(want)) != 0)
				fail_msg("%s\nexpected \"%s\", got rc %d \"%s\"", t, want, rc, err.msg);
			syntax++;
		} else if (rc == NNP_OK) {
			/* The values are cJSON's numbers, rounded to float. */
			const cJSON *ls = cJSON_GetObjectItemCaseSensitive(root, "layers");
			size_t l = 0;
			for (const cJSON *lj = ls->child; lj; lj = lj->next, l++) {
				const nnp_layer *L = &m->layers[l];
				const cJSON *w = cJSON_GetObjectItemCaseSensitive(lj, "weights");
				size_t i = 0;
				for (const cJSON *row = w->child; row; row = row->next)
					for (const cJSON *v = row->child; v; v = v->next, i++)
						assert_true(memcmp(&L->w[i], &(float){ (float)v->valuedouble }, 4) == 0);
				i = 0;
				for (const cJSON *v = cJSON_GetObjectItemCaseSensitive(lj, "bias")->child; v;
				     v = v->next, i++)
					assert_true(memcmp(&L->b[i], &(float){ (float)v->valuedouble }, 4) == 0);
			}
			valid++;
		} else if (strstr(err.msg, "JSON syntax error") || strstr(err.msg, "unexpected text")) {
			fail_msg("%s\ncJSON reads it, but: %s", t, err.msg);
		}
		nnp_model_free(m);
		cJSON_Delete(root);
	}
	free(t);
	/* Both kinds were met many times. */
	assert_true(syntax > iters / 8 && valid > iters / 40);
}

static void test_json_prescan_same_verdict(void **state)
{
	(void)state;
	prescan_same_verdict(0, 4000);
	prescan_same_verdict(270000, 600);
}

static void test_json_big_messages(void **state)
{
	(void)state;
	/* The documented example: 2 -> 256 -> 256 with a short bias in layer 1. */
	size_t cap = 4 << 20, n = 0;
	char *t = malloc(cap);
	assert_non_null(t);
	n += sprintf(t + n, "{\"format\": \"nnprune-model\", \"version\": 1, \"input_size\": 2, "
	             "\"layers\": [{\"activation\": \"relu\", \"weights\": [");
	for (int r = 0; r < 256; r++)
		n += sprintf(t + n, "%s[0.5, -0.25]", r ? "," : "");
	n += sprintf(t + n, "], \"bias\": [");
	for (int r = 0; r < 256; r++)
		n += sprintf(t + n, "%s%d", r ? "," : "", r);
	n += sprintf(t + n, "]}, {\"activation\": \"tanh\", \"weights\": [");
	for (int r = 0; r < 256; r++) {
		n += sprintf(t + n, "%s[", r ? "," : "");
		for (int c = 0; c < 256; c++)
			n += sprintf(t + n, "%s1", c ? "," : "");
		n += sprintf(t + n, "]");
	}
	n += sprintf(t + n, "], \"bias\": [");
	for (int r = 0; r < 255; r++)
		n += sprintf(t + n, "%s-0", r ? "," : "");
	sprintf(t + n, "]}]}");
	expect_json_err(t, "m.json: layer 1: \"bias\" must be an array of 256 numbers (found 255)");
	/* With the missing bias the document is valid, and -0 reads as -0. */
	strcpy(t + n, ",-0]}]}");
	nnp_model *m = NULL;
	nnp_err err;
	if (nnp_model_from_json(&m, t, strlen(t), "m.json", &err))
		fail_msg("%s", err.msg);
	assert_true(signbit(m->layers[1].b[255]));
	assert_true(m->layers[0].w[2 * 255 + 1] == -0.25f);
	assert_true(m->layers[0].b[255] == 255.0f);
	nnp_model_free(m);
	free(t);
}

/* ---- binary errors ---- */

static void expect_bin_err(const unsigned char *buf, size_t len, const char *want)
{
	tu_expect_model_error(buf, len, NNP_FMT_BIN, want);
}

static void fix_crc(unsigned char *buf, size_t len)
{
	tu_wr32(buf + len - 4, (uint32_t)crc32(0L, buf, (uInt)(len - 4)));
}

/* A hand-made header (and zeroed rest) for hostile size tests. */
static unsigned char *header(size_t len, uint32_t input, uint32_t layers, uint32_t meta)
{
	unsigned char *b = calloc(1, len);
	assert_non_null(b);
	memcpy(b, MAGIC, 8);
	tu_wr32(b + 8, 1);
	tu_wr32(b + 16, input);
	tu_wr32(b + 20, layers);
	tu_wr32(b + 24, meta);
	return b;
}

static void test_bin_layout(void **state)
{
	(void)state;
	/* Check the documented layout byte by byte on a model without metadata. */
	nnp_model *m = tu_net(NULL, "2 3:leaky_relu 1:sigmoid", 0);
	for (size_t i = 0; i < 6; i++)
		m->layers[0].w[i] = (float)i + 0.5f;
	m->layers[1].b[0] = -2.0f;
	/* Nonzero: a layer of zeros would be stored sparse (version 2). */
	for (size_t i = 0; i < 3; i++)
		m->layers[1].w[i] = 1.0f;
	m->layers[0].alpha = 0.25f;
	size_t len;
	unsigned char *b = tu_model_bytes(m, NNP_FMT_BIN, &len);
	assert_int_equal(len, 32 + 2 * 16 + 4 * (6 + 3 + 3 + 1) + 4);
	assert_memory_equal(b, MAGIC, 8);
	assert_int_equal(tu_rd32(b + 8), 1);
	assert_int_equal(tu_rd32(b + 12), 0);
	assert_int_equal(tu_rd32(b + 16), 2);
	assert_int_equal(tu_rd32(b + 20), 2);
	assert_int_equal(tu_rd32(b + 24), 0);
	assert_int_equal(tu_rd32(b + 28), 0);
	assert_int_equal(tu_rd32(b + 32), 3);
	assert_int_equal(tu_rd32(b + 36), 2);
	assert_int_equal(tu_rd32(b + 40), 0x3e800000u);  /* 0.25f */
	assert_int_equal(tu_rd32(b + 44), 0);
	assert_int_equal(tu_rd32(b + 48), 1);
	assert_int_equal(tu_rd32(b + 52), 3);
	assert_int_equal(tu_rd32(b + 56), 0);
	assert_int_equal(tu_rd32(b + 64), 0x3f000000u);  /* w[0][0] = 0.5f */
	assert_int_equal(tu_rd32(b + 64 + 4 * 5), 0x40b00000u);  /* w[2][1] = 5.5f */
	assert_int_equal(tu_rd32(b + 64 + 4 * 12), 0xc0000000u);  /* last bias -2.0f */
	assert_int_equal(tu_rd32(b + len - 4), (uint32_t)crc32(0L, b, (uInt)(len - 4)));
	free(b);
	nnp_model_free(m);
}

static void test_bin_errors(void **state)
{
	(void)state;
	nnp_model *m = small_model(11);
	size_t len;
	unsigned char *good = tu_model_bytes(m, NNP_FMT_BIN, &len);
	unsigned char *b = malloc(len + 16);
	assert_non_null(b);
	uint32_t msize = tu_rd32(good + 24);
	size_t meta_at = 32 + 2 * 16, data_at = (meta_at + msize + 7) / 8 * 8;
	assert_true(data_at > meta_at + msize);  /* the test needs padding */
	char want[256];

#define RESET() memcpy(b, good, len)
	RESET();
	expect_bin_err(b, 12, "m.bin: byte 0: file is 12 bytes, too short for the 32-byte header");
	RESET();
	b[1] = 'X';
	expect_bin_err(b, len, "m.bin: byte 0: not an nnprune model (bad magic)");
	/* A text-mode copy turns \r\n into \n. */
	RESET();
	memmove(b + 4, b + 5, len - 5);
	expect_bin_err(b, len - 1, "bad magic: line endings were changed");
	/* One header or layer-record word changed (offsets as in the layout test). */
	static const struct { size_t at; uint32_t v; const char *msg; } words[] = {
		{ 8, 3, "m.bin: byte 8: unsupported version 3 (this nnprune reads versions 1 and 2)" },
		{ 12, 4, "m.bin: byte 12: unknown flags 0x00000004" },
		{ 28, 5, "m.bin: byte 28: reserved field is 5, expected 0" },
		{ 16, 0xffffffffu, "m.bin: byte 16: input size 4294967295 is out of range" },
		{ 20, 0x80000000u, "m.bin: byte 20: layer count 2147483648 is out of range (1 to 1024)" },
		{ 20, 0, "layer count 0 is out of range" },
		{ 24, NNP_MAX_META_BYTES + 1, "m.bin: byte 24: metadata size 16777217 is over the limit" },
		{ 32, 0xffffffffu, "m.bin: byte 32: layer 0: 4294967295 outputs is out of range" },
		{ 52, 9, "m.bin: byte 52: layer 1: unknown activation code 9" },
		{ 56, 0x3f800000u, "m.bin: byte 56: layer 1: alpha must be 0 for softmax" },
		{ 40, 0x7fc00000u, "layer 0: alpha is not a finite number" },
		{ 60, 1, "m.bin: byte 60: layer 1: reserved field is 1, expected 0" },
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		RESET();
		tu_wr32(b + words[i].at, words[i].v);
		expect_bin_err(b, len, words[i].msg);
	}
	RESET();
	b[len] = b[len + 1] = b[len + 2] = 0;
	snprintf(want, sizeof want, "m.bin: byte %zu: 3 trailing bytes after the CRC-32 (file is "
	         "%zu bytes, expected %zu)", len, len + 3, len);
	expect_bin_err(b, len + 3, want);
	RESET();
	snprintf(want, sizeof want, "m.bin: byte %zu: truncated: file is %zu bytes, expected %zu "
	         "bytes", len - 1, len - 1, len);
	expect_bin_err(b, len - 1, want);
	RESET();
	snprintf(want, sizeof want, "m.bin: byte 40: truncated: file is 40 bytes, expected at "
	         "least 64 bytes");
	expect_bin_err(b, 40, want);

	/* Damage in the values: the CRC catches it, and names both sums. */
	RESET();
	b[data_at + 5] ^= 0x10;
	uint32_t computed = (uint32_t)crc32(0L, b, (uInt)(len - 4));
	snprintf(want, sizeof want, "m.bin: byte %zu: CRC-32 mismatch: stored %08x, computed %08x",
	         len - 4, tu_rd32(good + len - 4), computed);
	expect_bin_err(b, len, want);
	RESET();
	b[len - 1] ^= 1;
	expect_bin_err(b, len, "CRC-32 mismatch");

	/* Past the CRC (re-sealed after each change): padding, metadata, values. */
	RESET();
	b[data_at - 1] = 7;
	fix_crc(b, len);
	snprintf(want, sizeof want, "m.bin: byte %zu: padding byte is 0x07, expected 0", data_at - 1);
	expect_bin_err(b, len, want);
	RESET();
	b[meta_at + 9] = '#';  /* inside the name's quotes: {"name":"#mall... */
	b[meta_at + 8] = '-';
	fix_crc(b, len);
	snprintf(want, sizeof want, "m.bin: byte %zu: metadata is not valid JSON", meta_at + 8);
	expect_bin_err(b, len, want);
	RESET();
	/* {"name":"small\u0001 model",... becomes {"name":7 (blanks) ,... */
	assert_memory_equal(b + meta_at, "{\"name\":\"small\\u0001 model\",", 28);
	memcpy(b + meta_at + 8, "7                  ", 19);
	fix_crc(b, len);
	snprintf(want, sizeof want, "m.bin: byte %zu: metadata: \"name\" must be a string", meta_at);
	expect_bin_err(b, len, want);
	RESET();
	tu_wr32(b + data_at + 4 * (3 * 1 + 2), 0x7fc00000u);  /* layer 0 w[1][2] */
	fix_crc(b, len);
	expect_bin_err(b, len, "m.bin: layer 0: weight[1][2] is NaN");
	RESET();
	tu_wr32(b + data_at + 4 * (12 + 4 + 8 + 1), 0xff800000u);  /* layer 1 b[1] */
	fix_crc(b, len);
	expect_bin_err(b, len, "m.bin: layer 1: bias[1] is -Inf");
	RESET();
	tu_wr32(b + 36, 5);
	tu_wr32(b + 40, 0);
	fix_crc(b, len);
	expect_bin_err(b, len, "m.bin: layer 0: softmax is only allowed on the last layer");
	RESET();
	nnp_model *ok = NULL;
	assert_int_equal(nnp_model_from_bin(&ok, b, len, "m.bin", NULL), 0);
	nnp_model_free(ok);
#undef RESET
	free(b);
	free(good);
	nnp_model_free(m);
}

static void test_bin_absurd_sizes(void **state)
{
	(void)state;
	/* Each claims far more than it holds; all are refused from the header
	 * and table alone, before any weight allocation. */
	unsigned char *b = header(64, 1u << 14, 2, 0);
	tu_wr32(b + 32, 1u << 15);
	tu_wr32(b + 48, 1u << 15);
	expect_bin_err(b, 64, "m.bin: byte 48: layer 1: the model would have more than 1073741824 "
	               "parameters");
	free(b);
	b = header(48, 1u << 14, 1, 0);
	tu_wr32(b + 32, 1u << 15);
	/* 2^29 + 2^15 parameters (2 GiB): legal, but the file is 48 bytes. */
	expect_bin_err(b, 48, "m.bin: byte 48: truncated: file is 48 bytes, expected 2147614772 bytes");
	free(b);
	b = header(32, 1, 1024, NNP_MAX_META_BYTES);
	expect_bin_err(b, 32, "expected at least 16416 bytes for the header and layer table");
	free(b);
	b = header(48, 4, 1, 0xffffffffu);
	expect_bin_err(b, 48, "metadata size 4294967295 is over the limit");
	free(b);
	b = header(48, 4, 0xffffffffu, 0);
	expect_bin_err(b, 48, "layer count 4294967295 is out of range");
	free(b);
}

static void test_bin_truncation_and_flips(void **state)
{
	nnp_model *m = small_model(3);
	size_t len;
	unsigned char *good = tu_model_bytes(m, NNP_FMT_BIN, &len);
	unsigned char *b = malloc(len);
	assert_non_null(b);
	char *path = tu_file(*state, "cut.bin");
	nnp_err err;
	for (size_t cut = 0; cut < len; cut++) {
		nnp_model *r = NULL;
		nnp_err_clear(&err);
		assert_int_equal(nnp_model_from_bin(&r, good, cut, "m.bin", &err), NNP_EINPUT);
		assert_null(r);
		assert_true(strncmp(err.msg, "m.bin: byte ", 12) == 0);
		tu_write(path, good, cut);
		assert_int_equal(nnp_model_load(&r, path, NULL, &err), NNP_EINPUT);
		assert_null(r);
		assert_true(strstr(err.msg, cut ? "too short" : "empty") || strstr(err.msg, "truncated"));
	}
	static const unsigned char masks[] = { 0x01, 0x80, 0xff, 0x5a };
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof masks; k++) {
			memcpy(b, good, len);
			b[i] ^= masks[k];
			nnp_model *r = NULL;
			nnp_err_clear(&err);
			int rc = nnp_model_from_bin(&r, b, len, "m.bin", &err);
			if (rc != NNP_EINPUT)
				fail_msg("flipping byte %zu with 0x%02x was not detected (rc %d)", i, masks[k],
				         rc);
			assert_null(r);
			assert_true(err.msg[0] != '\0');
		}
	}
	free(b);
	free(good);
	nnp_model_free(m);
}

/* ---- files ---- */

static void test_load_by_content(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *jpath = tu_file(*state, "really-bin.json");
	char *bpath = tu_file(*state, "really-json.bin");
	nnp_model *m = small_model(5), *r = NULL;
	nnp_file_info fi;
	nnp_err err;
	size_t len, flen;
	assert_int_equal(nnp_model_save(m, jpath, NNP_FMT_BIN, &err), 0);
	assert_int_equal(nnp_model_save(m, bpath, NNP_FMT_JSON, &err), 0);

	assert_int_equal(nnp_model_load(&r, jpath, &fi, &err), 0);
	assert_int_equal(fi.format, NNP_FMT_BIN);
	unsigned char *file = tu_read(jpath, &flen);
	assert_int_equal(fi.bytes, flen);
	/* A binary model's identity is the CRC it stores: that of all bytes before it
	 * (the CRC of the whole file would be zlib's constant residue 0x2144df1c). */
	assert_int_equal(fi.crc32, (uint32_t)crc32(0L, file, (uInt)(flen - 4)));
	assert_int_not_equal(fi.crc32, 0x2144df1cu);
	nnp_file_info id;
	assert_int_equal(nnp_model_identity(jpath, &id, &err), 0);
	assert_int_equal(id.format, NNP_FMT_BIN);
	assert_int_equal(id.bytes, fi.bytes);
	assert_int_equal(id.crc32, fi.crc32);
	unsigned char *buf = tu_model_bytes(m, NNP_FMT_BIN, &len);
	assert_int_equal(len, flen);
	assert_memory_equal(buf, file, len);
	tu_assert_same_layers(m, r);
	assert_same_meta(m, r);
	nnp_model_free(r);
	free(buf);
	free(file);

	assert_int_equal(nnp_model_load(&r, bpath, &fi, &err), 0);
	assert_int_equal(fi.format, NNP_FMT_JSON);
	file = tu_read(bpath, &flen);
	assert_int_equal(fi.bytes, flen);
	assert_int_equal(fi.crc32, (uint32_t)crc32(0L, file, (uInt)flen));
	tu_assert_same_layers(m, r);
	nnp_model_free(r);

	/* A BOM and leading blank lines are fine; columns count after the BOM. */
	char *p = tu_file(*state, "bom.json");
	unsigned char *t = malloc(flen + 8);
	assert_non_null(t);
	memcpy(t, "\xef\xbb\xbf\n\n  ", 7);
	memcpy(t + 7, file, flen);
	tu_write(p, t, flen + 7);
	assert_int_equal(nnp_model_load(&r, p, &fi, &err), 0);
	assert_int_equal(fi.bytes, flen + 7);
	tu_assert_same_layers(m, r);
	nnp_model_free(r);
	tu_write(p, "\xef\xbb\xbf{ x", 6);
	assert_int_equal(nnp_model_load(&r, p, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "bom.json:1:3: JSON syntax error");
	free(t);
	free(file);

	tu_write(p, "label,pixel0\n1,0\n", 17);
	assert_int_equal(nnp_model_load(&r, p, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "bom.json: byte 0: not an nnprune model (neither the binary magic nor a "
	           "JSON object)");
	tu_write(p, " \n\t ", 4);
	assert_int_equal(nnp_model_load(&r, p, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "not an nnprune model");
	tu_write(p, "", 0);
	assert_int_equal(nnp_model_load(&r, p, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "bom.json: byte 0: the file is empty");
	tu_write(p, "\x89NN", 3);
	assert_int_equal(nnp_model_load(&r, p, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "bom.json: byte 0: file is 3 bytes, too short for the 32-byte header");
	assert_int_equal(nnp_model_load(&r, dir, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "is a directory");
	char *missing = tu_file(*state, "missing.json");
	assert_int_equal(nnp_model_load(&r, missing, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "missing.json: cannot open: No such file or directory");
	if (geteuid() != 0) {
		/* Root reads anything: the check only means something for others. */
		tu_write(p, "{}", 2);
		assert_int_equal(chmod(p, 0), 0);
		assert_int_equal(nnp_model_load(&r, p, NULL, &err), NNP_EINPUT);
		tu_expect_msg(&err, "cannot open: Permission denied");
	}
	assert_null(r);
	nnp_model_free(m);
}


static void test_save_atomic(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *path = tu_file(*state, "m.bin");
	nnp_model *m = small_model(9);
	nnp_err err;
	assert_int_equal(nnp_model_save(m, path, NNP_FMT_BIN, &err), 0);
	size_t len, len2;
	unsigned char *before = tu_read(path, &len);

	/* An invalid model is refused and the previous file stays as it was. */
	m->layers[1].w[7] = NAN;
	assert_int_equal(nnp_model_save(m, path, NNP_FMT_JSON, &err), NNP_EOUTPUT);
	tu_expect_msg(&err, "m.bin: layer 1: weight[1][3] is NaN (not written)");
	unsigned char *after = tu_read(path, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(before, after, len);
	free(after);
	unsigned char *buf = NULL;
	size_t blen = 0;
	assert_int_equal(nnp_model_to_buffer(m, NNP_FMT_BIN, &buf, &blen, &err), NNP_EOUTPUT);
	tu_expect_msg(&err, "weight[1][3] is NaN");
	assert_null(buf);
	m->layers[1].w[7] = 1.0f;

	char *nodir = tu_file(*state, "no/such/dir/m.bin");
	assert_int_equal(nnp_model_save(m, nodir, NNP_FMT_BIN, &err), NNP_EOUTPUT);
	tu_expect_msg(&err, "no/such/dir/m.bin");
	assert_int_equal(nnp_model_save(m, path, (nnp_format)7, &err), NNP_EUSAGE);
	assert_int_equal(tu_count_names(dir, ".tmp."), 0);

	/* Overwriting works and leaves no temporary file behind. */
	assert_int_equal(nnp_model_save(m, path, NNP_FMT_JSON, &err), 0);
	assert_int_equal(tu_count_names(dir, ".tmp."), 0);
	nnp_model *r = NULL;
	nnp_file_info fi;
	assert_int_equal(nnp_model_load(&r, path, &fi, &err), 0);
	assert_int_equal(fi.format, NNP_FMT_JSON);
	tu_assert_same_layers(m, r);
	nnp_model_free(r);
	free(before);
	nnp_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_act_names),
		cmocka_unit_test(test_create_counts_clone),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_setters),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_roundtrip_special),
		cmocka_unit_test(test_roundtrip_random_bits),
		cmocka_unit_test(test_json_bin_json_identical),
		cmocka_unit_test(test_xor_fixture),
		cmocka_unit_test(test_json_syntax_errors),
		cmocka_unit_test(test_json_semantic_errors),
		cmocka_unit_test(test_json_prescan_same_verdict),
		cmocka_unit_test(test_json_big_messages),
		cmocka_unit_test(test_bin_layout),
		cmocka_unit_test(test_bin_errors),
		cmocka_unit_test(test_bin_absurd_sizes),
		TU_DIR_TEST(test_bin_truncation_and_flips),
		TU_DIR_TEST(test_load_by_content),
		TU_DIR_TEST(test_save_atomic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
