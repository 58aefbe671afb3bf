/* The growable text buffer. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textbuf.h"

void nnp_tb_free(nnp_tbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int tb_reserve(nnp_tbuf *b, size_t extra)
{
	if (b->oom)
		return -1;
	if (extra > SIZE_MAX - 1 - b->len) {
		b->oom = 1;
		return -1;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void nnp_tb_putn(nnp_tbuf *b, const char *s, size_t n)
{
	if (tb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void nnp_tb_puts(nnp_tbuf *b, const char *s)
{
	nnp_tb_putn(b, s, strlen(s));
}

void nnp_tb_putc(nnp_tbuf *b, char c)
{
	nnp_tb_putn(b, &c, 1);
}

void nnp_tb_vprintf(nnp_tbuf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	if (n < 0)
		b->oom = 1;
	else if ((size_t)n < sizeof small)
		nnp_tb_putn(b, small, (size_t)n);
	else if (!tb_reserve(b, (size_t)n)) {
		/* Long output (a path): format straight into the buffer. */
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
}

void nnp_tb_printf(nnp_tbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	nnp_tb_vprintf(b, fmt, ap);
	va_end(ap);
}
