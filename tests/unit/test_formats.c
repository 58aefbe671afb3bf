/* Tests of the interchange formats against the real producers' files
 * (tests/fixtures, made by PyTorch and NumPy with make_fixtures.py): the
 * outputs PyTorch computed are reproduced; our exports read back exactly;
 * hostile safetensors, .npy and .npz bytes are refused with a message. Also
 * the input preprocessing and logits scoring of the model. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "nnprune/forward.h"
#include "nnprune/model.h"
#include "testutil.h"

#define FIX NNP_TEST_DATA "/../fixtures/"
#define ROWS 5
#define INS 4


/* n numbers per line of a CSV file into v (at most cap). */
static size_t read_csv(const char *path, double *v, size_t cap)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		fail_msg("cannot open %s", path);
	size_t n = 0;
	while (n < cap && fscanf(fp, "%lf", &v[n]) == 1) {
		n++;
		int c = fgetc(fp);
		if (c == EOF)
			break;
	}
	fclose(fp);
	return n;
}

static void inputs(float *x)
{
	double v[ROWS * (INS + 1)];
	assert_int_equal(read_csv(FIX "rows.csv", v, ROWS * (INS + 1)), ROWS * (INS + 1));
	for (size_t r = 0; r < ROWS; r++)
		for (size_t i = 0; i < INS; i++)
			x[r * INS + i] = (float)v[r * (INS + 1) + 1 + i];
}

static nnp_model *load(const char *path, const nnp_import_opts *o)
{
	nnp_model *m = NULL;
	nnp_err err;
	nnp_err_clear(&err);
	if (nnp_model_load_opts(&m, path, o, NULL, &err))
		fail_msg("%s", err.msg);
	return m;
}

/* The model's outputs on rows.csv equal PyTorch's (relative 1e-6). */
static void check_outputs(const nnp_model *m, const char *want_path)
{
	float x[ROWS * INS];
	double want[ROWS * 16];
	inputs(x);
	size_t K = nnp_model_outputs(m);
	assert_int_equal(read_csv(want_path, want, ROWS * 16), ROWS * K);
	nnp_forward *f = NULL;
	nnp_err err;
	assert_int_equal(nnp_forward_create(&f, m, ROWS, &err), 0);
	const float *y = nnp_forward_run(f, x, ROWS);
	for (size_t i = 0; i < ROWS * K; i++) {
		double tol = 1e-6 * fmax(fabs(want[i]), 1.0);
		if (fabs((double)y[i] - want[i]) > tol)
			fail_msg("%s: output %zu: %.9g, PyTorch %.9g", want_path, i, (double)y[i], want[i]);
	}
	nnp_forward_free(f);
}

static void test_pytorch_safetensors(void **state)
{
	(void)state;
	static const char *const names[] = { "seq", "seq_f64", "seq_f16", "seq_bf16" };
	for (size_t i = 0; i < 4; i++) {
		char p[256], o[256];
		snprintf(p, sizeof p, FIX "%s.safetensors", names[i]);
		snprintf(o, sizeof o, FIX "%s.out.csv", i == 1 ? "seq" : names[i]);
		nnp_model *m = load(p, NULL);
		assert_int_equal(m->n_layers, 3);
		assert_true(nnp_model_logits(m));
		check_outputs(m, o);
		nnp_model_free(m);
	}
	/* named modules, numeric order fc1 < fc2 < fc10, activations given */
	nnp_import_opts io = { 0 };
	io.activations = "leaky_relu=0.2,relu,tanh";
	nnp_model *m = load(FIX "named.safetensors", &io);
	assert_true(m->layers[0].alpha == 0.2f);
	check_outputs(m, FIX "named.out.csv");
	nnp_model_free(m);
	/* torch.nn.utils.prune: weight = orig * mask */
	m = load(FIX "pruned_mask.safetensors", NULL);
	check_outputs(m, FIX "pruned_mask.out.csv");
	size_t zero_rows = 0;
	for (size_t o = 0; o < 8; o++) {
		int z = 1;
		for (size_t i = 0; i < 4; i++)
			z &= m->layers[0].w[o * 4 + i] == 0.0f;
		zero_rows += (size_t)z;
	}
	assert_int_equal(zero_rows, 4);  /* ln_structured 50% of 8 rows */
	nnp_model_free(m);
}

static nnp_model *rich_model(void);
static void assert_same_model(const nnp_model *a, const nnp_model *b);

static void test_onnx(void **state)
{
	nnp_model *m = load(FIX "gemm.onnx", NULL);
	assert_int_equal(m->layers[1].act, NNP_ACT_SIGMOID);
	assert_int_equal(m->layers[2].act, NNP_ACT_SOFTMAX);
	check_outputs(m, FIX "gemm.out.csv");
	nnp_model_free(m);
	m = load(FIX "gemm_float_data.onnx", NULL);  /* initializers in float_data */
	check_outputs(m, FIX "gemm.out.csv");
	nnp_model_free(m);
	m = load(FIX "matmul.onnx", NULL);  /* 1-D input: MatMul + Add(bias, .) */
	assert_true(nnp_model_logits(m));
	check_outputs(m, FIX "seq.out.csv");
	nnp_model_free(m);
	m = load(FIX "prep.onnx", NULL);  /* (x - 0.5) / 4 in front: preprocessing */
	assert_true(m->layers[0].pre_offset[3] == 0.5f && m->layers[0].pre_scale[0] == 0.25f);
	check_outputs(m, FIX "prep.out.csv");
	nnp_model_free(m);
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_model_load_opts(&m, FIX "elu.onnx", NULL, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "op Elu");
	tu_expect_msg(&err, "node 1");
	/* Our export reads back identical, metadata included. */
	char *p = tu_file(*state, "r.onnx");
	nnp_model *r = rich_model();
	assert_int_equal(nnp_model_save_opts(r, p, NNP_FMT_ONNX, NULL, &err), 0);
	m = load(p, NULL);
	assert_same_model(r, m);
	assert_string_equal(m->name, "rich");
	nnp_model_free(m);
	nnp_model_free(r);
	/* Not a protobuf. */
	tu_write(p, "\xff\xff\xff\xff garbage", 12);
	assert_int_equal(nnp_model_load_opts(&m, p, NULL, NULL, &err), NNP_EINPUT);
	tu_expect_msg(&err, "not a valid ONNX");
}

static void test_numpy(void **state)
{
	(void)state;
	nnp_model *m = load(FIX "seq.npz", NULL);
	check_outputs(m, FIX "seq.out.csv");
	nnp_model_free(m);
	m = load(FIX "seq_compressed.npz", NULL);
	check_outputs(m, FIX "seq.out.csv");
	nnp_model_free(m);
	nnp_import_opts io = { 0 };
	nnp_err err;
	nnp_err_clear(&err);
	assert_int_equal(nnp_model_load_opts(&m, FIX "seq_keras.npz", &io, NULL, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "--layout");
	io.layout = NNP_LAYOUT_IN_OUT;
	m = load(FIX "seq_keras.npz", &io);
	check_outputs(m, FIX "seq.out.csv");
	nnp_model_free(m);
	/* Fortran order and big-endian: the same matrix as the state dict's. */
	nnp_model *ref = load(FIX "seq.npz", NULL);
	io.layout = NNP_LAYOUT_AUTO;
	io.output = "linear";
	m = load(FIX "w_fortran.npy", &io);
	assert_memory_equal(m->layers[0].w, ref->layers[0].w, 32 * sizeof(float));
	nnp_model_free(m);
	m = load(FIX "w_big.npy", &io);
	assert_memory_equal(m->layers[0].w, ref->layers[0].w, 32 * sizeof(float));
	nnp_model_free(m);
	nnp_model_free(ref);
}

/* A model with everything the formats carry. */
static nnp_model *rich_model(void)
{
	tu_rng r = { 7 };
	nnp_model *m = tu_net(&r, "5 7:leaky_relu 4:tanh 3:linear", 1.0);
	m->layers[0].alpha = 0.125f;
	m->logits = 1;
	float off[5] = { 1, 2, 3, 4, 5.5f }, sc = 1.0f / 255.0f;
	nnp_err err;
	const char *cls[] = { "a", "b", "c\"q" };
	assert_int_equal(nnp_model_set_prep(m, off, 5, &sc, 1, &err), 0);
	assert_int_equal(nnp_model_set_classes(m, cls, 3, &err), 0);
	assert_int_equal(nnp_model_set_name(m, "rich", &err), 0);
	assert_int_equal(nnp_model_set_provenance(m, "{\"k\":1}", &err), 0);
	return m;
}

static void assert_same_model(const nnp_model *a, const nnp_model *b)
{
	tu_assert_same_layers(a, b);
	assert_int_equal(a->logits, b->logits);
	assert_int_equal(nnp_model_has_prep(a), nnp_model_has_prep(b));
	if (nnp_model_has_prep(a)) {
		assert_memory_equal(a->layers[0].pre_offset, b->layers[0].pre_offset,
		                    a->input_size * sizeof(float));
		assert_memory_equal(a->layers[0].pre_scale, b->layers[0].pre_scale,
		                    a->input_size * sizeof(float));
	}
	assert_int_equal(a->n_classes, b->n_classes);
	for (size_t i = 0; i < a->n_classes; i++)
		assert_string_equal(a->classes[i], b->classes[i]);
}

static void test_round_trips(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	nnp_model *m = rich_model();
	nnp_err err;
	nnp_err_clear(&err);
	static const nnp_format fmts[] = { NNP_FMT_JSON, NNP_FMT_BIN, NNP_FMT_SAFETENSORS,
		                           NNP_FMT_NPZ };
	static const char *const ext[] = { "m.json", "m.bin", "m.safetensors", "m.npz" };
	for (size_t i = 0; i < 4; i++) {
		char *p = tu_path(dir, ext[i]);
		if (nnp_model_save_opts(m, p, fmts[i], NULL, &err))
			fail_msg("%s", err.msg);
		nnp_import_opts io = { 0 };
		io.activations = "leaky_relu=0.125,tanh,logits";  /* npz carries no metadata */
		nnp_model *b = load(p, fmts[i] == NNP_FMT_NPZ ? &io : NULL);
		if (fmts[i] == NNP_FMT_NPZ) {
			assert_int_equal(nnp_model_copy_io(b, m, &err), 0);
		} else {
			assert_string_equal(b->name, "rich");
			assert_string_equal(b->provenance, "{\"k\":1}");
		}
		assert_same_model(m, b);
		nnp_model_free(b);
		free(p);
	}
	nnp_model_free(m);
}

/* A file without preprocessing or output kind is byte-identical to before. */
static void test_prep_absent_same_bytes(void **state)
{
	(void)state;
	size_t n;
	unsigned char *orig = tu_read(NNP_TEST_DATA "/model_xor.json", &n);
	nnp_model *m = NULL;
	nnp_err err;
	assert_int_equal(nnp_model_from_json(&m, (const char *)orig, n, "xor", &err), 0);
	tu_expect_model_bytes(m, NNP_FMT_JSON, orig, n);
	nnp_model_free(m);
	free(orig);
}

/* nnp_dense with preprocessing = the brute-force product on (x - o) * s. */
static void test_prep_forward(void **state)
{
	(void)state;
	nnp_model *m = rich_model();
	tu_rng r = { 3 };
	float x[9 * 5];
	for (size_t i = 0; i < 45; i++)
		x[i] = (float)tu_uniform(&r, 0, 255);
	float y[9 * 7];
	nnp_dense(&m->layers[0], x, 9, y);
	const nnp_layer *L = &m->layers[0];
	for (size_t k = 0; k < 9; k++)
		for (size_t o = 0; o < 7; o++) {
			double s = L->b[o];
			for (size_t i = 0; i < 5; i++)
				s += (double)L->w[o * 5 + i] *
				     (double)((x[k * 5 + i] - L->pre_offset[i]) * L->pre_scale[i]);
			assert_true(fabs(s - y[k * 7 + o]) < 1e-5);
		}
	/* Copied by clone, carried into every copy. */
	nnp_model *c = NULL;
	nnp_err err;
	assert_int_equal(nnp_model_clone(&c, m, &err), 0);
	assert_same_model(m, c);
	nnp_model_free(c);
	nnp_model_free(m);
}

/* Logits: softmax cross-entropy as PyTorch computes it, in double. */
static void test_logits_scoring(void **state)
{
	(void)state;
	float z[6] = { 2.0f, -1.0f, 0.5f, 10.0f, 10.5f, -3.0f };
	int32_t y[2] = { 2, 0 };
	nnp_metrics mt;
	memset(&mt, 0, sizeof mt);
	nnp_metrics_add(&mt, NNP_SCORE_LOGITS, z, 2, 3, y, NULL, NULL);
	double want = 0.0;
	for (int r = 0; r < 2; r++) {
		double s = 0.0;
		for (int k = 0; k < 3; k++)
			s += exp((double)z[r * 3 + k]);
		want += log(s) - (double)z[r * 3 + y[r]];
	}
	assert_true(fabs(nnp_metrics_loss(&mt) - want / 2) < 1e-12);
	assert_int_equal(mt.mse, 0);
	assert_int_equal(mt.correct, 0);  /* argmax 0 and 1 */
}

/* ---- hostile bytes ---- */

static int try_bytes(const char *dir, const char *name, const void *b, size_t n, nnp_err *err)
{
	char *p = tu_path(dir, name);
	tu_write(p, b, n);
	nnp_model *m = NULL;
	nnp_import_opts io = { 0 };
	io.hidden = "relu";
	io.output = "logits";
	int rc = nnp_model_load_opts(&m, p, &io, NULL, err);
	nnp_model_free(m);
	free(p);
	return rc;
}

/* A safetensors file from a header text and data bytes. */
static int st(const char *dir, const char *hdr, size_t data, nnp_err *err)
{
	size_t hn = strlen(hdr);
	unsigned char *b = calloc(8 + hn + data + 1, 1);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)hn >> (8 * i));
	memcpy(b + 8, hdr, hn);
	int rc = try_bytes(dir, "h.safetensors", b, 8 + hn + data, err);
	free(b);
	return rc;
}

#define W0 "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":"
#define B0 "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":"

static void test_safetensors_hostile(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	nnp_err err;
	struct { const char *hdr; size_t data; const char *msg; } cases[] = {
		{ "{" W0 "[0,16]}," B0 "[16,24]}}", 24, NULL },  /* the valid one */
		{ "{" W0 "[0,16]}," B0 "[16,24]}}", 28, "trailing bytes" },
		{ "{" W0 "[0,16]}," B0 "[16,24]}}", 20, "truncated" },
		{ "{" W0 "[0,16]}," B0 "[20,28]}}", 28, "a hole" },
		{ "{" W0 "[0,16]}," B0 "[8,16]}}", 16, "an overlap" },
		{ "{" W0 "[0,16]}," B0 "[16,20]}}", 20, "4 bytes of data for 2 elements" },
		{ "{" W0 "[0,16]}," B0 "[12,20]}}", 20, "an overlap" },
		{ "{" W0 "[0,12]}," B0 "[12,20]}}", 20, "12 bytes of data for 4" },
		{ "{" W0 "[0,16]}," B0 "[16,24]}", 24, "not a JSON object" },
		{ "{\"0.weight\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16,
		  "dtype I32 is not supported" },
		{ "{\"__metadata__\":{\"a\":1}," W0 "[0,16]}," B0 "[16,24]}}", 24,
		  "must be a string" },
		{ "{" W0 "[0,16]}," W0 "[0,16]}}", 16, "duplicate key" },
		{ "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
		  "\"data_offsets\":[0,16]}}", 16, "overflows" },
		{ "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":"
		  "[0,281474976710656]}}", 16, "data_offsets must be" },
		{ "{" W0 "[16,0]}}", 16, "before BEGIN" },
		{ "{\"x.running_mean\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
		  "BatchNorm" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		nnp_err_clear(&err);
		int rc = st(dir, cases[i].hdr, cases[i].data, &err);
		tu_expect_case("case", i, rc, &err, cases[i].msg);
		if (cases[i].msg)
			tu_expect_msg(&err, "h.safetensors: ");
	}
	/* Header length over the limit, and past the end of the file. */
	unsigned char big[16] = { 0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, '{', '}' };
	assert_int_equal(try_bytes(dir, "h.safetensors", big, 10, &err), NNP_EINPUT);
	tu_expect_msg(&err, "over the limit");
	unsigned char past[16] = { 100, 0, 0, 0, 0, 0, 0, 0, '{', '}' };
	assert_int_equal(try_bytes(dir, "h.safetensors", past, 10, &err), NNP_EINPUT);
	tu_expect_msg(&err, "runs past the end");
	/* Invalid UTF-8 in the header. */
	unsigned char bad[16] = { 4, 0, 0, 0, 0, 0, 0, 0, '{', 0xff, 0xfe, '}' };
	assert_int_equal(try_bytes(dir, "h.safetensors", bad, 12, &err), NNP_EINPUT);
	tu_expect_msg(&err, "UTF-8");
}

static void test_npy_hostile(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	nnp_err err;
	struct { const char *hdr; unsigned ver; size_t data; const char *msg; } cases[] = {
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 1, 16, NULL },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 1, 12, "data bytes" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 1, 20, "data bytes" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", 1, 16, "'<i4'" },
		{ "{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }", 1, 16, "'|O'" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", 1, 16,
		  "exactly" },
		{ "{'descr': '<f4', 'shape': (2, 2), }", 1, 16, "exactly" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 4, 16, "version" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 1), }", 1, 16, "3-D" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t hn = strlen(cases[i].hdr);
		unsigned char *b = calloc(10 + hn + 1 + cases[i].data, 1);
		memcpy(b, "\x93NUMPY", 6);
		b[6] = (unsigned char)cases[i].ver;
		b[8] = (unsigned char)(hn + 1);
		memcpy(b + 10, cases[i].hdr, hn);
		b[10 + hn] = '\n';
		nnp_err_clear(&err);
		nnp_import_opts io = { 0 };
		io.output = "linear";
		char *p = tu_path(dir, "a.npy");
		tu_write(p, b, 10 + hn + 1 + cases[i].data);
		nnp_model *m = NULL;
		int rc = nnp_model_load_opts(&m, p, &io, NULL, &err);
		nnp_model_free(m);
		free(p);
		free(b);
		tu_expect_case("npy case", i, rc, &err, cases[i].msg);
	}
	/* A zip that is not one: truncated central directory. */
	size_t n;
	unsigned char *z = tu_read(FIX "seq.npz", &n);
	assert_int_equal(try_bytes(dir, "t.npz", z, n - 30, &err), NNP_EINPUT);
	tu_expect_msg(&err, "zip");
	/* A flipped data byte: the CRC catches it. */
	z[200] ^= 0x55;
	assert_int_not_equal(try_bytes(dir, "c.npz", z, n, &err), NNP_OK);
	free(z);
}

/* The bytes of a random 2-layer model (seed, sizes, acts) written in fmt to
 * dir/name (*path, malloc'd). */
static unsigned char *written(const char *dir, const char *name, nnp_format fmt, uint64_t seed,
                              const size_t *sizes, const nnp_act *acts, char **path, size_t *n)
{
	tu_rng r = { seed };
	nnp_model *m = tu_random_model(&r, 2, sizes, acts, 1.0);
	*path = tu_path(dir, name);
	nnp_err err;
	if (nnp_model_save_opts(m, *path, fmt, NULL, &err))
		fail_msg("writing %s: %s", name, err.msg);
	nnp_model_free(m);
	return tu_read(*path, n);
}

/* A graph whose second Gemm writes its own input (found by fuzz_onnx): the
 * walk along the graph came back to that node for ever, one layer more each
 * time, past the end of its layer array. A cycle is refused. */
static void test_onnx_cycle(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	const size_t sizes[] = { 2, 2, 2 };
	const nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_SIGMOID };
	char *p;
	size_t n;
	unsigned char *b = written(dir, "c.onnx", NNP_FMT_ONNX, 3, sizes, acts, &p, &n);
	/* The second Gemm's output "z1" (field 2, length 2) becomes its input "a0". */
	unsigned char *z1 = NULL;
	for (size_t i = 0; i + 4 <= n && !z1; i++)
		if (!memcmp(b + i, "\x12\x02z1", 4))
			z1 = b + i;
	assert_non_null(z1);
	memcpy(z1 + 2, "a0", 2);
	tu_write(p, b, n);
	nnp_model *m = NULL;
	nnp_err err;
	assert_int_equal(nnp_model_load_opts(&m, p, NULL, NULL, &err), NNP_EINPUT);
	assert_null(m);
	tu_expect_msg(&err, "c.onnx: node 2");
	tu_expect_msg(&err, "cycle");
	free(b);
	free(p);
}

/* An .npz is written with a fixed date (found by fuzz_npz: a model written
 * again read back the same but gave other bytes, the zip entries carrying
 * the time of writing). */
static void test_npz_fixed_date(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	setenv("TZ", "UTC", 1);
	tzset();
	const size_t sizes[] = { 2, 3, 2 };
	const nnp_act acts[] = { NNP_ACT_RELU, NNP_ACT_LINEAR };
	char *p;
	size_t n;
	unsigned char *b = written(dir, "d.npz", NNP_FMT_NPZ, 5, sizes, acts, &p, &n);
	assert_true(n > 30 && !memcmp(b, "PK\x03\x04", 4));
	/* Local header: time (0:00:00) at byte 10, date (1980-01-01) at byte 12. */
	assert_int_equal(b[10] | b[11] << 8, 0);
	assert_int_equal(b[12] | b[13] << 8, (0 << 9) | (1 << 5) | 1);
	free(b);
	free(p);
}

static void test_int8(void **state)
{
	(void)state;
	nnp_model *m = rich_model();
	float w0 = m->layers[1].w[3];
	nnp_model_quantize_int8(m);
	float mx = 0;
	for (size_t i = 0; i < 7; i++)
		mx = fmaxf(mx, fabsf(m->layers[1].w[i]));
	float s = mx / 127.0f;
	assert_true(fabsf(m->layers[1].w[3] - w0) <= s / 2 + 1e-6f);
	double q = m->layers[1].w[3] / s;
	assert_true(fabs(q - round(q)) < 1e-3);
	nnp_model_free(m);
}

/* Bytes and files get one verdict: a safetensors header whose length runs
 * past the end (found by the binary-model harness) reads the same from
 * memory as from a file, and a weights file that does not say its
 * activations is refused the same way by both. */
static void test_bytes_and_files_agree(void **state)
{
	(void)state;
	static const unsigned char cut[] = { 0x00, 0x40, 0, 0, 0, 0, 0, 0, '{', '-', 'e', '"',
		                             ':', 'K', 'a', ';', 0x86, 0x86 };
	char path[] = "/tmp/nnp_agreeXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, cut, sizeof cut), (ssize_t)sizeof cut);
	close(fd);
	nnp_model *a = NULL, *b = NULL;
	nnp_err e1, e2;
	nnp_format fmt;
	int r1 = nnp_model_from_bytes(&a, cut, sizeof cut, path, &fmt, &e1);
	int r2 = nnp_model_load(&b, path, NULL, &e2);
	unlink(path);
	assert_int_equal(r1, NNP_EINPUT);
	assert_int_equal(r2, NNP_EINPUT);
	assert_string_equal(e1.msg, e2.msg);
	assert_non_null(strstr(e1.msg, "header length 16384 runs past the end"));
	assert_null(a);
	assert_null(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pytorch_safetensors),
		cmocka_unit_test(test_numpy),
		TU_DIR_TEST(test_onnx),
		TU_DIR_TEST(test_onnx_cycle),
		TU_DIR_TEST(test_npz_fixed_date),
		TU_DIR_TEST(test_round_trips),
		cmocka_unit_test(test_prep_absent_same_bytes),
		cmocka_unit_test(test_prep_forward),
		cmocka_unit_test(test_logits_scoring),
		TU_DIR_TEST(test_safetensors_hostile),
		TU_DIR_TEST(test_npy_hostile),
		cmocka_unit_test(test_int8),
		cmocka_unit_test(test_bytes_and_files_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
