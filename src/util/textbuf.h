/* nnprune (private): the one growable text buffer, used by every writer that
 * builds a text in memory (reports, SVG, statistics files, model files). */
#ifndef NNPRUNE_TEXTBUF_H
#define NNPRUNE_TEXTBUF_H

#include <stdarg.h>
#include <stddef.h>

/* A text being built, always NUL-terminated once anything was appended. Any
 * failed growth sets oom and makes further appends no-ops, so writers append
 * freely and check once at the end. Zero-initialise to start; the caller
 * owns p (free it, or nnp_tb_free). */
typedef struct nnp_tbuf {
	char *p;
	size_t len, cap;
	int oom;
} nnp_tbuf;

void nnp_tb_free(nnp_tbuf *b);
void nnp_tb_putn(nnp_tbuf *b, const char *s, size_t n);
void nnp_tb_puts(nnp_tbuf *b, const char *s);
void nnp_tb_putc(nnp_tbuf *b, char c);
/* Appends the formatted text, of any length. */
void nnp_tb_vprintf(nnp_tbuf *b, const char *fmt, va_list ap)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 0)))
#endif
	;
void nnp_tb_printf(nnp_tbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

#endif
