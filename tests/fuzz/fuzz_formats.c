/*
 * The interchange model readers (safetensors, ONNX, npy, npz), through the
 * format table's reader on bytes in memory and through nnp_model_load_opts on
 * a file named with the format's extension. Oracles: when the file's content
 * goes to the same reader, memory and file give the same status, message and
 * model; a model that reads is written back in the same format (npy, read
 * only: its one array as .npy bytes), read again to the same model (weights,
 * biases, activations bit-equal), and written again to the same bytes. Built
 * four times with FUZZ_FMT set to the format (and FUZZ_NPY for npy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "model_priv.h"

#ifndef FUZZ_FMT
#error "FUZZ_FMT must name the format"
#endif

/* The scratch file with the format's extension (ONNX is known by it alone). */
static const char *write_input(const uint8_t *data, size_t size)
{
	fz_file(0, nnpm_format_find(FUZZ_FMT)->exts);
	return fz_write(0, data, size);
}

/* The reader the file path picks: the first detector that matches, else ours. */
static nnp_format file_reader(const uint8_t *data, size_t size)
{
	size_t n = size < 64 ? size : 64;
	for (int f = 1; f <= NNP_FMT_MAX; f++) {
		const nnpm_format_row *r = nnpm_format_find(f);
		if (r && r->read && r->detect(data, n))
			return f;
	}
	return FUZZ_FMT;
}

static int same_floats(const float *a, const float *b, size_t n)
{
	if (!a || !b)
		return a == b;
	return memcmp(a, b, n * sizeof *a) == 0;
}

static int same_model(const nnp_model *a, const nnp_model *b)
{
	if (a->input_size != b->input_size || a->n_layers != b->n_layers ||
	    a->logits != b->logits)
		return 0;
	for (size_t l = 0; l < a->n_layers; l++) {
		const nnp_layer *x = &a->layers[l], *y = &b->layers[l];
		if (x->in != y->in || x->out != y->out || x->act != y->act ||
		    memcmp(&x->alpha, &y->alpha, sizeof x->alpha) ||
		    !same_floats(x->w, y->w, x->in * x->out) || !same_floats(x->b, y->b, x->out) ||
		    !same_floats(x->pre_offset, y->pre_offset, x->in) ||
		    !same_floats(x->pre_scale, y->pre_scale, x->in))
			return 0;
	}
	return 1;
}

/* m's bytes in the harness's format; NULL if the format cannot hold it. */
static unsigned char *serialise(const nnp_model *m, size_t *len)
{
	nnpm_sink s;
	nnp_err err;
	memset(&s, 0, sizeof s);
#ifdef FUZZ_NPY
	const nnp_layer *L = &m->layers[0];
	(void)err;
	nnpm_npy_put(&s, L->w, L->out, L->in, 1);
#else
	if (nnpm_format_find(FUZZ_FMT)->write(&s, m, NULL, &err)) {
		free(s.mem.p);
		return NULL;
	}
#endif
	FZ_CHECK(!s.failed);
	*len = s.len;
	return (unsigned char *)s.mem.p;
}

/* Written, read back to the same model, written again to the same bytes. */
static void round_trip(const nnp_model *m)
{
	const nnpm_format_row *row = nnpm_format_find(FUZZ_FMT);
	size_t na = 0, nb = 0;
	unsigned char *a = serialise(m, &na);
	if (!a)
		return;
	nnp_model *back = NULL;
	nnp_err err;
	int assumed = 0;
	int rc = row->read(&back, a, na, "written", NULL, &assumed, &err);
	if (rc)
		fprintf(stderr, "re-read: %s\n", err.msg);
	FZ_CHECK(rc == NNP_OK);
	FZ_CHECK(nnpm_check(back, "written", NNP_EINPUT, &err) == NNP_OK);
	FZ_CHECK(same_model(m, back));
	unsigned char *b = serialise(back, &nb);
	FZ_CHECK(b && na == nb && memcmp(a, b, na) == 0);
	nnp_model_free(back);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const nnpm_format_row *row = nnpm_format_find(FUZZ_FMT);
	const char *p = write_input(data, size);
	nnp_err e1, e2;
	nnp_model *m1 = NULL, *m2 = NULL;
	int assumed = 0;
	int r1 = row->read(&m1, data, size, p, NULL, &assumed, &e1);
	if (!r1)
		r1 = nnpm_check(m1, p, NNP_EINPUT, &e1);
	if (r1) {
		FZ_CHECK(r1 < 0);
		nnp_model_free(m1);
		m1 = NULL;
	}
	if (file_reader(data, size) == FUZZ_FMT) {
		nnp_file_info fi;
		int r2 = nnp_model_load_opts(&m2, p, NULL, &fi, &e2);
		FZ_CHECK(r1 == r2);
		if (r1) {
			FZ_CHECK(strcmp(e1.msg, e2.msg) == 0);
			FZ_CHECK(!m2);
		} else {
			FZ_CHECK(fi.format == FUZZ_FMT && fi.bytes == size);
			FZ_CHECK(fi.acts_assumed == assumed);
			FZ_CHECK(same_model(m1, m2));
		}
		nnp_model_free(m2);
	}
	if (!r1)
		round_trip(m1);
	nnp_model_free(m1);
	return 0;
}
