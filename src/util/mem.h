/* nnprune (private): large buffers that cost few page faults. */
#ifndef NNPRUNE_MEM_H
#define NNPRUNE_MEM_H

#include <stddef.h>

/*
 * Asks the kernel to back [p, p + n) with 2 MiB pages where it can (the
 * whole 2 MiB pages inside it): the first write then takes one page fault
 * per 2 MiB instead of one per 4 KiB, which matters where page faults are
 * dear (virtual machines: some 10-40 us each). Call it on a buffer of
 * several MiB before writing to it; freeing and reallocating stay as they
 * are. Below 2 MiB, or where the kernel cannot, nothing happens.
 */
void nnp_mem_huge(void *p, size_t n);

/* malloc(n) with nnp_mem_huge on the result. */
void *nnp_malloc_huge(size_t n);

#endif
