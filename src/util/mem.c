/* Large buffers with few page faults (mem.h). */
#define _DEFAULT_SOURCE 1 /* madvise */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mem.h"

#define MEM_HUGE ((size_t)2 << 20)
#define MEM_BIG ((size_t)1 << 20)
#define MEM_PAGE ((uintptr_t)4096)

void nnp_mem_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	if (!p || n < MEM_HUGE)
		return;
	uintptr_t a = ((uintptr_t)p + MEM_PAGE - 1) & ~(MEM_PAGE - 1);
	uintptr_t b = ((uintptr_t)p + n) & ~(MEM_PAGE - 1);
	/* Advice only: a kernel without transparent huge pages says EINVAL. */
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
	(void)p;
	(void)n;
#endif
}

void *nnp_malloc_huge(size_t n)
{
	if (n < MEM_BIG || n > SIZE_MAX - MEM_HUGE)
		return malloc(n);
	size_t room = (n + MEM_HUGE - 1) & ~(MEM_HUGE - 1);
	void *p = NULL;
	if (posix_memalign(&p, MEM_HUGE, room) != 0)
		return malloc(n);
	nnp_mem_huge(p, room);
	return p;
}

void *nnp_calloc_huge(size_t n)
{
	if (n < MEM_BIG)
		return calloc(n ? n : 1, 1);
	void *p = nnp_malloc_huge(n);
	if (p)
		memset(p, 0, n);
	return p;
}

void nnp_free_all(void *const *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i]);
}
