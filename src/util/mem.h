/* nnprune (private): large buffers that cost few page faults; freeing fields. */
#ifndef NNPRUNE_MEM_H
#define NNPRUNE_MEM_H

#include <stddef.h>
#include <stdlib.h>

/*
 * Asks the kernel to back [p, p + n) with 2 MiB pages where it can (the
 * whole 2 MiB pages inside it): the first write then takes one page fault
 * per 2 MiB instead of one per 4 KiB, which matters where page faults are
 * dear (virtual machines: 10-40 us each). For a buffer of several MiB not
 * yet written; nothing happens below 2 MiB or where the kernel cannot.
 */
void nnp_mem_huge(void *p, size_t n);

/*
 * malloc(n) (calloc(n, 1)) for a buffer of 1 MiB or more: aligned to 2 MiB,
 * its room rounded up to 2 MiB, and nnp_mem_huge on the whole, so that it
 * costs one page fault per 2 MiB. Smaller buffers come from plain malloc.
 * Released with free(); realloc works (without the alignment).
 */
void *nnp_malloc_huge(size_t n);
void *nnp_calloc_huge(size_t n);

/* free(p) and p = NULL, for an owner's pointer fields that must stay safe to
 * free again (p is evaluated twice: a plain lvalue). */
#define NNP_FREE(p) \
	do { \
		free(p); \
		(p) = NULL; \
	} while (0)

/* free() on each pointer given, in order: an owner's fields released in a
 * row, one line instead of one free() a field. Each argument is evaluated
 * once. */
#define NNP_FREE_ALL(...) \
	nnp_free_all((void *[]){ __VA_ARGS__ }, sizeof((void *[]){ __VA_ARGS__ }) / sizeof(void *))
void nnp_free_all(void *const *p, size_t n);

#endif
