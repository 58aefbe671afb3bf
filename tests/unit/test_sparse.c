/* Tests of sparse layers: the CSR encoding in both file formats (bit-exact
 * round trips, the choice per layer, corrupt index arrays refused with their
 * place) and the sparse forward kernel against the dense one. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "nnprune/forward.h"
#include "nnprune/model.h"
#include "testutil.h"

/* Keeps each weight with probability `density` (the others become +0.0). */
static void random_mask(tu_rng *r, nnp_layer *L, double density)
{
	for (size_t i = 0; i < L->in * L->out; i++)
		if (tu_uniform(r, 0, 1) >= density)
			L->w[i] = 0.0f;
}

/* Serialises, parses back and compares every bit; returns the size. */
static size_t round_trip(const nnp_model *m, nnp_format fmt)
{
	size_t len;
	unsigned char *b = tu_model_bytes(m, fmt, &len);
	nnp_model *back = tu_model_parse(b, len, fmt);
	tu_assert_models_bitequal(m, back);
	/* Canonical: writing it again gives the same bytes. */
	tu_expect_model_bytes(back, fmt, b, len);
	uint64_t predicted;
	nnp_err err;
	assert_int_equal(nnp_model_file_size(m, fmt, &predicted, &err), NNP_OK);
	assert_int_equal(predicted, len);
	free(b);
	nnp_model_free(back);
	return len;
}

static void test_round_trips(void **state)
{
	(void)state;
	tu_rng r = { 7 };
	size_t sizes[] = { 30, 40, 20, 5 };
	nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_TANH, NNP_ACT_SOFTMAX };
	const double dens[] = { 1.0, 0.6, 0.3, 0.05, 0.0 };
	for (size_t d = 0; d < sizeof dens / sizeof *dens; d++) {
		nnp_model *m = tu_random_model(&r, 3, sizes, acts, 1.0);
		random_mask(&r, &m->layers[0], dens[d]);
		random_mask(&r, &m->layers[2], dens[d] / 2);
		m->layers[0].w[7] = -0.0f;  /* a sign that must survive */
		size_t bin = round_trip(m, NNP_FMT_BIN);
		round_trip(m, NNP_FMT_JSON);
		/* The binary size is what the documented layout predicts. */
		size_t len;
		unsigned char *b = tu_model_bytes(m, NNP_FMT_BIN, &len);
		uint32_t version = tu_rd32(b + 8);
		uint64_t want = 32 + (version == 2 ? 24 : 16) * 3;
		want = (want + 7) / 8 * 8 + 4;
		int any = 0;
		for (size_t l = 0; l < 3; l++) {
			const nnp_layer *L = &m->layers[l];
			size_t nnz = 0;
			for (size_t i = 0; i < L->in * L->out; i++) {
				uint32_t u;
				memcpy(&u, &L->w[i], 4);
				nnz += u != 0;
			}
			uint64_t dense = 4 * (L->in * L->out + L->out);
			uint64_t csr = 4 * (L->out + 1) + (2 * nnz + 3) / 4 * 4 + 4 * nnz + 4 * L->out;
			uint64_t bytes = csr < dense ? csr : dense;
			want += bytes;
			any |= csr < dense;
			if (version == 2) {
				const unsigned char *e = b + 32 + 24 * l;
				assert_int_equal(tu_rd32(e + 12), csr < dense ? 1 : 0);
				assert_int_equal(tu_rd32(e + 16), csr < dense ? nnz : 0);
			}
		}
		assert_int_equal(version, any ? 2 : 1);
		assert_int_equal(bin, want);
		free(b);
		nnp_model_free(m);
	}
}

/* A dense model is written exactly as before sparse layers existed. */
static void test_dense_unchanged(void **state)
{
	(void)state;
	tu_case *c = tu_case_net(11, "6 4:relu 3:linear", 1.0);
	c->m->layers[0].w[3] = 0.0f;  /* a few zeros do not make a layer sparse */
	size_t len;
	unsigned char *b = tu_model_bytes(c->m, NNP_FMT_BIN, &len);
	assert_int_equal(tu_rd32(b + 8), 1);
	assert_int_equal(len, 32 + 2 * 16 + 4 * nnp_model_params(c->m) + 4);
	assert_memory_equal(b + 64 + 12, &c->m->layers[0].w[3], 4);
	free(b);
	b = tu_model_bytes(c->m, NNP_FMT_JSON, &len);
	assert_non_null(strstr((const char *)b, "\"version\": 1,"));
	assert_null(strstr((const char *)b, "weights_csr"));
	free(b);
	assert_int_equal(nnp_model_nonzeros(c->m), 24 + 12 - 1);
	tu_case_free(c);
}

/* Wide layers get 32-bit column indices. */
static void test_csr32(void **state)
{
	(void)state;
	size_t sizes[] = { 70000, 2, 1 };
	nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_LINEAR };
	nnp_model *m = NULL;
	nnp_err err;
	assert_int_equal(nnp_model_create(&m, 70000, 2, sizes + 1, acts, &err), NNP_OK);
	m->layers[0].w[5] = 1.5f;
	m->layers[0].w[69999] = -2.0f;
	m->layers[0].w[70000 + 65536] = 3.0f;
	m->layers[1].w[0] = 1.0f;
	m->layers[1].w[1] = 1.0f;
	size_t len;
	unsigned char *b = tu_model_bytes(m, NNP_FMT_BIN, &len);
	assert_int_equal(tu_rd32(b + 8), 2);
	assert_int_equal(tu_rd32(b + 32 + 12), 2);
	assert_int_equal(tu_rd32(b + 32 + 16), 3);
	/* header, table, then row_ptr [0 2 3], cols as u32, values, bias */
	const unsigned char *d = b + 80;
	assert_int_equal(tu_rd32(d), 0);
	assert_int_equal(tu_rd32(d + 4), 2);
	assert_int_equal(tu_rd32(d + 8), 3);
	assert_int_equal(tu_rd32(d + 12), 5);
	assert_int_equal(tu_rd32(d + 16), 69999);
	assert_int_equal(tu_rd32(d + 20), 65536);
	free(b);
	round_trip(m, NNP_FMT_BIN);
	round_trip(m, NNP_FMT_JSON);
	assert_int_equal(nnp_model_nonzeros(m), 5);
	nnp_model_free(m);
}

/*
 * The fixture for corruption: 8 inputs, layer 0 (8 -> 4) with two weights,
 * both in row 1 (columns 2 and 5), layer 1 (4 -> 2) dense. Binary layout:
 * header 32, table 2 x 24, data at 80: row_ptr [0 0 2 2 2] (80..99),
 * cols u16 [2 5] (100..103), values (104..111), bias (112..127), layer 1.
 */
static nnp_model *fixture(void)
{
	tu_rng r = { 3 };
	nnp_model *m = tu_net(&r, "8 4:relu 2:linear", 1.0);
	nnp_layer *L = &m->layers[0];
	memset(L->w, 0, 32 * sizeof(float));
	L->w[8 + 2] = 0.5f;
	L->w[8 + 5] = -0.25f;
	return m;
}

static void expect_bin(unsigned char *b, size_t len, const char *want)
{
	tu_wr32(b + len - 4, (uint32_t)crc32(0L, b, (uInt)(len - 4)));
	tu_expect_model_error(b, len, NNP_FMT_BIN, want);
}

static void test_bin_corrupt(void **state)
{
	(void)state;
	nnp_model *m = fixture();
	size_t len;
	unsigned char *good = tu_model_bytes(m, NNP_FMT_BIN, &len);
	unsigned char *b = malloc(len);
	assert_int_equal(tu_rd32(good + 8), 2);
	assert_int_equal(tu_rd32(good + 32 + 12), 1);
	assert_int_equal(tu_rd32(good + 32 + 16), 2);
	assert_int_equal(tu_rd32(good + 84), 0);
	assert_int_equal(tu_rd32(good + 88), 2);
	assert_int_equal(good[100], 2);
	assert_int_equal(good[102], 5);
#define RESET() memcpy(b, good, len)
	/* The two u16 columns (bytes 100 and 102), then single u32 fields. */
	static const struct { unsigned c0, c1; const char *want; } cols[] = {
		{ 2, 9, "m.bin: byte 102: layer 0: row 1: column 9 is out of range (the layer has 8 "
		        "inputs)" },
		{ 5, 2, "m.bin: byte 102: layer 0: row 1: column 2 after column 5 (columns must "
		        "increase within a row)" },
		{ 5, 5, "m.bin: byte 102: layer 0: row 1: column 5 after column 5 (duplicate column)" },
	};
	for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) {
		RESET();
		b[100] = (unsigned char)cols[i].c0;
		b[102] = (unsigned char)cols[i].c1;
		expect_bin(b, len, cols[i].want);
	}
	static const struct { size_t at; uint32_t v; const char *want; } words[] = {
		{ 92, 1, "m.bin: byte 92: layer 0: row_ptr[3] = 1 is less than row_ptr[2] = 2" },
		{ 88, 7, "m.bin: byte 88: layer 0: row_ptr[2] = 7 is over the 2 stored entries" },
		{ 80, 1, "m.bin: byte 80: layer 0: row_ptr[0] is 1, expected 0" },
		{ 48, 33, "m.bin: byte 48: layer 0: 33 stored entries, more than the layer's 32 "
		          "weights" },
		/* the sizes no longer add up: refused before allocating */
		{ 48, 3, "m.bin: byte 172: truncated: file is 172 bytes, expected 180 bytes" },
		{ 44, 3, "m.bin: byte 44: layer 0: unknown weight encoding 3" },
		{ 72, 5, "m.bin: byte 72: layer 1: entry count is 5 for a dense layer" },
		{ 52, 1, "m.bin: byte 52: layer 0: reserved field is 1, expected 0" },
	};
	for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
		RESET();
		tu_wr32(b + words[i].at, words[i].v);
		expect_bin(b, len, words[i].want);
	}
	RESET();
	for (size_t at = 88; at <= 96; at += 4)
		tu_wr32(b + at, 1);   /* row_ptr [0 0 1 1 1] */
	expect_bin(b, len, "m.bin: byte 96: layer 0: row_ptr[4] = 1 but the layer stores 2 "
	           "entries (the counts disagree)");
	/* Index damage without a matching CRC is reported as damage. */
	RESET();
	b[102] = 9;
	nnp_model *bad = NULL;
	nnp_err err;
	assert_int_equal(nnp_model_from_bin(&bad, b, len, "m.bin", &err), NNP_EINPUT);
	tu_expect_msg(&err, "CRC-32 mismatch");
#undef RESET
	free(b);
	free(good);
	nnp_model_free(m);
}

static void expect_json(const char *text, const char *want)
{
	tu_expect_model_error(text, strlen(text), NNP_FMT_JSON, want);
}

static void test_json_corrupt(void **state)
{
	(void)state;
	char text[1024];
#define J(p, c, v)                                                                        \
	(snprintf(text, sizeof text, "{\"format\": \"nnprune-model\", \"version\": 2, "         \
	          "\"input_size\": 4, \"layers\": [{\"activation\": \"linear\", \"weights_csr\": " \
	          "{\"row_ptr\": %s, \"cols\": %s, \"values\": %s}, \"bias\": [0, 0]}]}", p, c, v), \
	 text)
	/* The good one first. */
	nnp_model *m = NULL;
	nnp_err err;
	J("[0, 1, 3]", "[2, 0, 3]", "[1.5, -1, 2]");
	assert_int_equal(nnp_model_from_json(&m, text, strlen(text), "m.json", &err), NNP_OK);
	const float want[8] = { 0, 0, 1.5f, 0, -1, 0, 0, 2 };
	assert_memory_equal(m->layers[0].w, want, sizeof want);
	nnp_model_free(m);
	expect_json(J("[0, 1, 3]", "[2, 0, 4]", "[1, 1, 1]"),
	            "m.json: layer 0: \"weights_csr\": \"cols\"[2]: row 1: column 4 is out of range");
	expect_json(J("[0, 1, 3]", "[2, 3, 0]", "[1, 1, 1]"),
	            "\"cols\"[2]: row 1: column 0 after column 3 (columns must increase");
	expect_json(J("[0, 1, 3]", "[2, 3, 3]", "[1, 1, 1]"), "(duplicate column)");
	expect_json(J("[0, 1, 2]", "[2, 0, 3]", "[1, 1, 1]"),
	            "\"row_ptr\"[2]: row_ptr[2] = 2 but the layer stores 3 entries");
	expect_json(J("[0, 2, 1]", "[2, 0, 3]", "[1, 1, 1]"), "\"row_ptr\"[2]: row_ptr[2] = 1 is "
	            "less than row_ptr[1] = 2");
	expect_json(J("[0, 1, 3]", "[2, 0]", "[1, 1, 1]"),
	            "layer 0: \"weights_csr\": 2 \"cols\" but 3 \"values\" (the counts disagree)");
	expect_json(J("[0, 1, 3]", "[2, 0, -1]", "[1, 1, 1]"),
	            "\"cols\"[2] must be a whole number from 0 to 4294967295");
	expect_json(J("[0, 1, 1.5]", "[2, 0, 1]", "[1, 1, 1]"), "\"row_ptr\"[2] must be a whole");
	expect_json(J("[0, 3]", "[2, 0, 1]", "[1, 1, 1]"), "\"bias\" must be an array of 1 numbers");
	expect_json(J("[0, 5, 9]", "[0, 1, 2, 3, 0, 1, 2, 3, 0]", "[1, 1, 1, 1, 1, 1, 1, 1, 1]"),
	            "9 entries, more than the layer's 2 x 4 weights");
	expect_json(J("[0, 1, 3]", "[2, 0, 3]", "[1, 1, \"x\"]"),
	            "layer 0: \"weights_csr\": value[2] must be a number");
#undef J
	expect_json("{\"format\": \"nnprune-model\", \"version\": 2, \"input_size\": 1, \"layers\": "
	            "[{\"activation\": \"linear\", \"weights\": [[1]], \"weights_csr\": {}, "
	            "\"bias\": [0]}]}", "layer 0: both \"weights\" and \"weights_csr\"");
	expect_json("{\"format\": \"nnprune-model\", \"version\": 2, \"input_size\": 1, \"layers\": "
	            "[{\"activation\": \"linear\", \"weights_csr\": {\"row_ptr\": [0, 0]}, "
	            "\"bias\": [0]}]}", "layer 0: \"weights_csr\": missing \"cols\"");
}

/* ---- the sparse forward kernel ---- */

/* max over outputs of |a - b| / (|bias| + sum |w x|): the error relative to
 * the size of the terms summed, which bounds the rounding of any order. */
static double rel_err(const nnp_layer *L, const float *x, size_t rows, const float *a,
                      const float *b)
{
	double worst = 0;
	for (size_t r = 0; r < rows; r++)
		for (size_t o = 0; o < L->out; o++) {
			double scale = fabs(L->b[o]);
			for (size_t j = 0; j < L->in; j++)
				scale += fabs((double)L->w[o * L->in + j] * x[r * L->in + j]);
			double e = fabs((double)a[r * L->out + o] - b[r * L->out + o]);
			if (scale > 0 && e / scale > worst)
				worst = e / scale;
			if (scale == 0)
				assert_true(e == 0);
		}
	return worst;
}

static void test_kernel(void **state)
{
	(void)state;
	tu_rng r = { 5 };
	const size_t shapes[][2] = { { 37, 23 }, { 300, 50 }, { 1, 1 } };
	const double dens[] = { 0.0, 0.01, 0.1, 0.5, 1.0 };
	const size_t rows[] = { 1, 63, 64, 65, 200 };
	for (size_t s = 0; s < 3; s++)
		for (size_t d = 0; d < 5; d++) {
			size_t sizes[] = { shapes[s][0], shapes[s][1] };
			nnp_act acts[] = { NNP_ACT_LINEAR };
			nnp_model *m = tu_random_model(&r, 1, sizes, acts, 1.0);
			nnp_layer *L = &m->layers[0];
			random_mask(&r, L, dens[d]);
			nnp_csr *c = NULL;
			nnp_err err;
			assert_int_equal(nnp_csr_from_layer(&c, L, &err), NNP_OK);
			assert_int_equal(c->nnz, nnp_layer_nonzeros(L));
			float *scratch = malloc(nnp_sparse_scratch(L->in) * sizeof(float));
			size_t n = 200;
			float *x = malloc(n * L->in * sizeof *x), *yd = malloc(n * L->out * sizeof *yd);
			float *ys = malloc(n * L->out * sizeof *ys), *y1 = malloc(L->out * sizeof *y1);
			for (size_t i = 0; i < n * L->in; i++)
				x[i] = (float)tu_uniform(&r, -2, 2);
			for (size_t k = 0; k < 5; k++) {
				nnp_dense(L, x, rows[k], yd);
				nnp_sparse(c, x, rows[k], ys, scratch);
				assert_true(rel_err(L, x, rows[k], ys, yd) <= 1e-6);
				/* Each row's outputs do not depend on the rows beside it. */
				for (size_t i = 0; i < rows[k]; i++) {
					nnp_sparse(c, x + i * L->in, 1, y1, scratch);
					assert_memory_equal(y1, ys + i * L->out, L->out * sizeof *y1);
				}
			}
			free(x);
			free(yd);
			free(ys);
			free(y1);
			free(scratch);
			nnp_csr_free(c);
			nnp_model_free(m);
		}
}

/* A forward workspace runs the sparse layers sparse, and gets what the dense
 * layer-by-layer chain gets. */
static void test_forward_sparse(void **state)
{
	(void)state;
	tu_case *tc = tu_case_net(9, "100 80:relu 70:tanh 10:softmax", 0.3);
	random_mask(&tc->rng, &tc->m->layers[0], 0.03);
	random_mask(&tc->rng, &tc->m->layers[1], 0.5 * NNP_SPARSE_MAX_DENSITY);
	random_mask(&tc->rng, &tc->m->layers[2], 0.03);  /* stays dense: too few outputs */
	nnp_forward *f = NULL;
	nnp_err err;
	size_t rows = 150;
	assert_int_equal(nnp_forward_create(&f, tc->m, rows, &err), NNP_OK);
	assert_int_equal(nnp_forward_sparse_layers(f), 2);
	float *x = malloc(rows * 100 * sizeof *x);
	float *a = malloc(rows * 100 * sizeof *a), *b = malloc(rows * 100 * sizeof *b);
	for (size_t i = 0; i < rows * 100; i++)
		x[i] = (float)tu_uniform(&tc->rng, -1, 1);
	const float *y = nnp_forward_run(f, x, rows);
	memcpy(a, x, rows * 100 * sizeof *a);
	for (size_t l = 0; l < 3; l++) {
		const nnp_layer *L = &tc->m->layers[l];
		nnp_dense(L, a, rows, b);
		/* the layer alone, from the same inputs */
		const float *ys = nnp_forward_layer(f, l);
		if (l < 2) {
			assert_true(L->out >= NNP_SPARSE_MIN_OUTPUTS);
			float *z = malloc(rows * L->out * sizeof *z);
			nnp_csr *c = NULL;
			assert_int_equal(nnp_csr_from_layer(&c, L, &err), NNP_OK);
			float *scratch = malloc(nnp_sparse_scratch(L->in) * sizeof(float));
			nnp_sparse(c, a, rows, z, scratch);
			assert_true(rel_err(L, a, rows, z, b) <= 1e-6);
			nnp_activate(L->act, L->alpha, z, rows, L->out);
			assert_memory_equal(z, ys, rows * L->out * sizeof *z);
			free(scratch);
			free(z);
			nnp_csr_free(c);
		}
		nnp_activate(L->act, L->alpha, b, rows, L->out);
		for (size_t i = 0; i < rows * L->out; i++)
			assert_true(fabs(b[i] - ys[i]) <= 1e-6 * (1 + fabs(b[i])));
		memcpy(a, ys, rows * L->out * sizeof *a);  /* the next layer from the same inputs */
	}
	assert_ptr_equal(y, nnp_forward_layer(f, 2));
	free(x);
	free(a);
	free(b);
	nnp_forward_free(f);
	tu_case_free(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_dense_unchanged),
		cmocka_unit_test(test_csr32),
		cmocka_unit_test(test_bin_corrupt),
		cmocka_unit_test(test_json_corrupt),
		cmocka_unit_test(test_kernel),
		cmocka_unit_test(test_forward_sparse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
