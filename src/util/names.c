/* An enum's names as one table (names.h). */
#include <stdio.h>
#include <string.h>

#include "names.h"

const char *nnp_names_of(const nnp_names *t, int v)
{
	return v >= 0 && (size_t)v < t->n ? t->name[v] : NULL;
}

int nnp_names_find(const nnp_names *t, const char *name)
{
	for (size_t i = 0; name && i < t->n; i++)
		if (!strcmp(name, t->name[i]))
			return (int)i;
	return -1;
}

const char *nnp_names_join(const nnp_names *t, const char *last, char *buf, size_t cap)
{
	size_t len = 0;
	if (cap)
		buf[0] = 0;
	for (size_t i = 0; i < t->n && len < cap; i++) {
		const char *sep = i == 0 ? "" : i + 1 == t->n ? last : ", ";
		int w = snprintf(buf + len, cap - len, "%s%s", sep, t->name[i]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
	return buf;
}
