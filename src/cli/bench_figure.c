/* nnprune bench: how a figure is timed, recorded and judged, for every file
 * of the bench (bench.h). */
/* clock_gettime() is POSIX. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>
#include <cJSON.h>

#include "bench.h"

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bench_figure(bench_out *o, const char *key, const char *label, double value,
                  const char *unit, const char *note)
{
	cJSON_AddNumberToObject(o->root, key, value);
	if (!o->json)
		printf("  %-44s %12.3f %-8s %s\n", label, value, unit, note ? note : "");
}

void bench_verdict(char *buf, size_t n, int ok, const char *target)
{
	snprintf(buf, n, "(target %s: %s)", target, ok ? "met" : "NOT met");
}
