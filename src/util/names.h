/* nnprune (private): an enum's names as one table: the name of a value, the
 * value of a name, and the names joined for messages. */
#ifndef NNPRUNE_NAMES_H
#define NNPRUNE_NAMES_H

#include <stddef.h>

/* The names of an enum whose values run 0..n-1: name[v] is value v's. */
typedef struct nnp_names {
	const char *const *name;
	size_t n;
} nnp_names;

/* An nnp_names over a static array of names. */
#define NNP_NAMES(arr) { (arr), sizeof(arr) / sizeof *(arr) }

/* Value v's name, or NULL outside 0..n-1. */
const char *nnp_names_of(const nnp_names *t, int v);

/* The value named name (exact, case-sensitive), or -1 (also for NULL). */
int nnp_names_find(const nnp_names *t, const char *name);

/* The names in order, separated by ", " and the last two by last (" or ",
 * ", "), into buf of cap bytes (cut short where it does not fit); returns buf. */
const char *nnp_names_join(const nnp_names *t, const char *last, char *buf, size_t cap);

/* Defines an enum's two public functions over its table, one body for every
 * enum: PREFIX_name(T v), v's name or NULL; PREFIX_parse(name, T *out), 0 and
 * *out set (unless out is NULL) for a name in the table, else -1 and *out
 * untouched. */
#define NNP_NAMES_FUNCS(T, prefix, table)                       \
	const char *prefix##_name(T v)                          \
	{                                                       \
		return nnp_names_of(&(table), (int)v);          \
	}                                                       \
	int prefix##_parse(const char *name, T *out)            \
	{                                                       \
		int v = nnp_names_find(&(table), name);         \
		if (v >= 0 && out)                              \
			*out = (T)v;                            \
		return v < 0 ? -1 : 0;                          \
	}

#endif
