/* Input bytes made safe for messages, and JSON's white-space rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnprune/text.h"

static int printable(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

char *nnp_text_quote(char *dst, size_t cap, const void *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = src;
	if (!cap)
		return dst;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char e[5];
		size_t k;
		if (p[i] == '\\') {
			e[0] = e[1] = '\\';
			k = 2;
		} else if (printable(p[i])) {
			e[0] = (char)p[i];
			k = 1;
		} else {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex[p[i] >> 4];
			e[3] = hex[p[i] & 15];
			k = 4;
		}
		/* Keep room for "..." and the NUL unless this is the last byte. */
		size_t reserve = i + 1 < n ? 4 : 1;
		if (o + k + reserve > cap) {
			if (o + 4 <= cap) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(dst + o, e, k);
		o += k;
	}
	dst[o] = '\0';
	return dst;
}

void nnp_text_escape_inplace(char *s, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s), extra = 0;
	for (size_t i = 0; i < n; i++)
		if (!printable((unsigned char)s[i]))
			extra += 3;
	if (!extra)
		return;
	/* Drop the tail that the escapes push past cap, then expand from the end. */
	size_t len = 0, keep = 0;
	while (keep < n) {
		size_t k = printable((unsigned char)s[keep]) ? 1 : 4;
		if (len + k + 1 > cap)
			break;
		len += k;
		keep++;
	}
	size_t o = len;
	s[o] = '\0';
	for (size_t i = keep; i-- > 0;) {
		unsigned char c = (unsigned char)s[i];
		if (printable(c)) {
			s[--o] = (char)c;
		} else {
			s[--o] = hex[c & 15];
			s[--o] = hex[c >> 4];
			s[--o] = 'x';
			s[--o] = '\\';
		}
	}
}

char *nnp_text_escape_dup(const char *s, int keep_layout)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s), extra = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!printable(c) && !(keep_layout && (c == '\n' || c == '\t')))
			extra += 3;
	}
	char *out = malloc(n + extra + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (printable(c) || (keep_layout && (c == '\n' || c == '\t'))) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

int nnp_json_check_ws(const char *text, size_t len, size_t *at)
{
	int in_string = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (in_string) {
			if (c < 0x20) {
				*at = i;
				return -1;
			}
			if (c == '\\')
				i++;  /* the escaped byte cannot end the string */
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			*at = i;
			return -1;
		}
	}
	return 0;
}
