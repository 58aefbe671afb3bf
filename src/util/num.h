/*
 * Exact decimal numbers, both ways, independent of the locale: the parser the
 * CSV reader and the JSON model reader share, and the shortest round-trip
 * float printer of the JSON model writer.
 */
#ifndef NNPRUNE_NUM_H
#define NNPRUNE_NUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A float32's bit pattern and back (memcpy: no aliasing question). */
static inline uint32_t nnp_float_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static inline float nnp_bits_float(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* Results of the parsers. */
enum { NNP_NUM_OK = 0, NNP_NUM_EMPTY, NNP_NUM_SYNTAX, NNP_NUM_RANGE };

/* Longest number text the parsers take (longer is NNP_NUM_SYNTAX). */
#define NNP_NUM_MAX_TEXT 4096u

/* 10^0 .. 10^22: the powers of ten that are exact doubles. */
extern const double nnp_pow10_exact[23];

/*
 * Parses s[0..n) as a whole decimal number, [+-]digits[.digits][(e|E)[+-]digits]
 * (also "5." and ".5"), into the correctly rounded double, independently of
 * the locale's decimal point. NNP_NUM_EMPTY, NNP_NUM_SYNTAX (anything else,
 * including hex, inf, nan and surrounding spaces) or NNP_NUM_RANGE (strtod's
 * ERANGE: overflow or underflow).
 */
int nnp_parse_number(const unsigned char *s, size_t n, double *out);

/*
 * The float nearest to (neg ? -1 : 1) * w * 10^e10, ties to even: what
 * strtof gives for that decimal (not the double rounding of a cast through
 * double). NNP_NUM_OK, or NNP_NUM_RANGE when it overflows to infinity.
 */
int nnp_decimal_to_float(uint64_t w, long e10, int neg, float *out);

/*
 * Reads one JSON number (RFC 8259: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?) that
 * starts at p, stopping at the first byte that cannot continue it or at end,
 * as the nearest float (as strtof). Returns the bytes consumed, or 0 when p
 * does not start a JSON number, the number overflows the float range, or it
 * has more than 19 significant digits (callers take their general path).
 */
size_t nnp_json_float(const unsigned char *p, const unsigned char *end, float *out);

/* Room nnp_fmt_float needs, the NUL included. */
#define NNP_FLOAT_CHARS 24

/*
 * Writes v in the fewest significant digits that read back (as strtof, or as
 * nnp_json_float) to exactly v, the nearest such digits when there is a
 * choice; "-0" for negative zero, "nan", "inf", "-inf" for the others. Plain
 * notation from 1e-5 to below 1e16 ("0.1", "16777216"), else d.ddde-XX /
 * d.ddde+XX. Always '.' whatever the locale; the output is a JSON number for
 * finite v. NUL-terminates; returns the length.
 */
size_t nnp_fmt_float(char buf[NNP_FLOAT_CHARS], float v);

#endif
