/*
 * The statistics-file reader. Oracles: memory and file agree (status and
 * message); a file that loads is written back, and what is written reads
 * back to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "nnprune/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_write(0, data, size);
	nnp_err e1, e2;
	nnp_stats *s1 = NULL, *s2 = NULL;
	nnp_stats_source src1, src2;
	int r1 = nnp_stats_from_json(&s1, &src1, (const char *)data, size, path, &e1);
	int r2 = nnp_stats_load(&s2, &src2, path, &e2);
	FZ_CHECK(r1 == r2);
	if (r1) {
		FZ_CHECK(strcmp(e1.msg, e2.msg) == 0);
	} else {
		char *a = nnp_stats_to_json(s1, &src1), *b = nnp_stats_to_json(s2, &src2);
		FZ_CHECK(a && b && strcmp(a, b) == 0);
		nnp_stats *s3 = NULL;
		nnp_stats_source src3;
		FZ_CHECK(nnp_stats_from_json(&s3, &src3, a, strlen(a), "written", &e1) == NNP_OK);
		char *c = nnp_stats_to_json(s3, &src3);
		FZ_CHECK(c && strcmp(a, c) == 0);
		free(a);
		free(b);
		free(c);
		nnp_stats_free(s3);
		nnp_stats_source_free(&src3);
	}
	nnp_stats_free(s1);
	nnp_stats_free(s2);
	nnp_stats_source_free(&src1);
	nnp_stats_source_free(&src2);
	return 0;
}
