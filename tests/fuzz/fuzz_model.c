/*
 * The model readers (JSON and binary: one entry point decides which).
 * Oracles: the same bytes in memory and in a file give the same status and
 * message; a model that loads is written back in both formats, and what is
 * written reads back to the same bytes. Built twice, as fuzz_model_json and
 * fuzz_model_bin: the same checks, seeded and guided by each format's corpus
 * and dictionary.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "nnprune/model.h"

/* Serialises m in fmt, parses that, serialises again: the bytes must match. */
static void round_trip(const nnp_model *m, nnp_format fmt)
{
	nnp_err err;
	unsigned char *a = NULL, *b = NULL;
	size_t na, nb;
	nnp_model *back = NULL;
	FZ_CHECK(nnp_model_to_buffer(m, fmt, &a, &na, &err) == NNP_OK);
	nnp_format got;
	FZ_CHECK(nnp_model_from_bytes(&back, a, na, "written", &got, &err) == NNP_OK);
	FZ_CHECK(got == fmt);
	FZ_CHECK(nnp_model_to_buffer(back, fmt, &b, &nb, &err) == NNP_OK);
	FZ_CHECK(na == nb && memcmp(a, b, na) == 0);
	nnp_model_free(back);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_write(0, data, size);
	nnp_err e1, e2;
	nnp_model *m1 = NULL, *m2 = NULL;
	nnp_format fmt = 0;
	nnp_file_info fi;
	int r1 = nnp_model_from_bytes(&m1, data, size, path, &fmt, &e1);
	int r2 = nnp_model_load(&m2, path, &fi, &e2);
	FZ_CHECK(r1 == r2);
	if (r1) {
		FZ_CHECK(strcmp(e1.msg, e2.msg) == 0);
		FZ_CHECK(!m1 && !m2);
		return 0;
	}
	FZ_CHECK(fmt == fi.format && fi.bytes == size);
	unsigned char *a = NULL, *b = NULL;
	size_t na, nb;
	/* Both models in one of our formats (an interchange file read by
	 * content compares as binary: its own writers have their harness). */
	nnp_format cmp = fmt == NNP_FMT_JSON ? NNP_FMT_JSON : NNP_FMT_BIN;
	FZ_CHECK(nnp_model_to_buffer(m1, cmp, &a, &na, &e1) == NNP_OK);
	FZ_CHECK(nnp_model_to_buffer(m2, cmp, &b, &nb, &e2) == NNP_OK);
	FZ_CHECK(na == nb && memcmp(a, b, na) == 0);
	free(a);
	free(b);
	round_trip(m1, NNP_FMT_JSON);
	round_trip(m1, NNP_FMT_BIN);
	nnp_model_free(m1);
	nnp_model_free(m2);
	return 0;
}
