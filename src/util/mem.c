/* Large buffers with few page faults (mem.h). */
#define _DEFAULT_SOURCE 1 /* madvise */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "mem.h"

#define MEM_HUGE_MIN ((size_t)2 << 20)
#define MEM_PAGE ((uintptr_t)4096)

void nnp_mem_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	if (!p || n < MEM_HUGE_MIN)
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
	void *p = malloc(n);
	nnp_mem_huge(p, n);
	return p;
}
