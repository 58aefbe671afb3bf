/* nnprune (private): growing several arrays that share one capacity. */
#ifndef NNPRUNE_GROW_H
#define NNPRUNE_GROW_H

#include <stdint.h>
#include <stdlib.h>

/*
 * p reallocated to n elements of size bytes; if that fails (or n * size
 * overflows), p itself, still valid, and *failed set. Arrays that share a
 * capacity all go through it and the caller records the new capacity only
 * when none failed: every array stays owned and freeable either way.
 */
static inline void *nnp_regrow(void *p, size_t n, size_t size, int *failed)
{
	void *q = size && n > SIZE_MAX / size ? NULL : realloc(p, n * size);
	if (!q) {
		*failed = 1;
		return p;
	}
	return q;
}

#endif
