/*
 * Exact decimal numbers (see num.h).
 *
 * Parsing: the syntax is checked here and the exactly rounded result computed
 * for up to 19 significant digits and powers of ten up to 22 (Clinger's fast
 * path: both operands are exact doubles, so one IEEE operation rounds
 * correctly). Only the rest goes to strtod/strtof, on a NUL-terminated copy
 * that already passed the syntax check. Those follow LC_NUMERIC, which
 * nnprune never changes from the "C" locale (it never calls setlocale);
 * should an embedding program set a locale with a decimal comma, strtod would
 * stop at the '.', and the end-pointer check turns that into an error rather
 * than a wrong value (the float path hands strtof no '.' at all).
 *
 * To a float: the correctly rounded double v of the decimal, then (float)v,
 * is the correctly rounded float unless v falls exactly halfway between two
 * floats (a double rounding could then go the wrong way): only that case,
 * one value in 2^29, and the subnormal floats go to strtof.
 *
 * Printing: the shortest digits that read back are found by trying p
 * significant digits (the two p-digit neighbours of the value, from its
 * 9-digit scaling in double arithmetic) and checking each candidate with the
 * exact parser above. A p-digit decimal that reads back exists iff one of the
 * two neighbours does, and if p digits do so do p+1 (the neighbours only get
 * closer), so a search over p finds the shortest. The double arithmetic errs
 * by about 1e-15 relative: it can only misplace a neighbour when the value
 * is that close to a p-digit decimal, which then reads back whichever side
 * it is on.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

/* ---- parsing ------------------------------------------------------------ */

const double nnp_pow10_exact[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static int is_digit(unsigned char c)
{
	return (unsigned)c - '0' < 10u;
}

/* The exponent at p ('e' or 'E'), [+-]digits, added to *e10: the end of
 * it, or NULL if no digit follows. */
static const unsigned char *exponent(const unsigned char *p, const unsigned char *end,
                                     long *e10)
{
	p++;
	int eneg = 0;
	if (p < end && (*p == '+' || *p == '-'))
		eneg = *p++ == '-';
	if (p == end || !is_digit(*p))
		return NULL;
	long ex = 0;
	for (; p < end && is_digit(*p); p++)
		if (ex < 100000)   /* saturate: strtod decides such extremes */
			ex = ex * 10 + (*p - '0');
	*e10 += eneg ? -ex : ex;
	return p;
}

/* strtod on a copy: only called once the syntax is known to be decimal. */
static int parse_fallback(const unsigned char *s, size_t n, double *out)
{
	char tmp[NNP_NUM_MAX_TEXT + 1];
	if (n > NNP_NUM_MAX_TEXT)
		return NNP_NUM_SYNTAX;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	errno = 0;
	double v = strtod(tmp, &end);
	if (end != tmp + n)
		return NNP_NUM_SYNTAX;
	/* ERANGE on underflow gives a correctly rounded tiny value (0 as a float):
	 * only overflow is out of range. */
	if (errno == ERANGE && fabs(v) > 1.0)
		return NNP_NUM_RANGE;
	*out = v;
	return NNP_NUM_OK;
}

int nnp_parse_number(const unsigned char *s, size_t n, double *out)
{
	const unsigned char *p = s, *end = s + n;
	if (n == 0)
		return NNP_NUM_EMPTY;
	int neg = 0;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	uint64_t w = 0;          /* the first 19 significant digits */
	int sig = 0, many = 0;   /* digits in w; 1 if more followed */
	long e10 = 0;            /* w * 10^e10 is the value before the exponent */
	size_t ndig = 0;
	for (; p < end && is_digit(*p); p++, ndig++) {
		unsigned d = (unsigned)*p - '0';
		if (sig < 19 && (w || d)) {
			w = w * 10 + d;
			sig++;
		} else if (sig >= 19) {
			e10++;
			many = 1;
		}
	}
	if (p < end && *p == '.') {
		for (p++; p < end && is_digit(*p); p++, ndig++) {
			unsigned d = (unsigned)*p - '0';
			if (sig < 19 && (w || d)) {
				w = w * 10 + d;
				sig++;
				e10--;
			} else if (sig >= 19) {
				many = 1;
			} else {
				e10--;   /* a leading zero after the point */
			}
		}
	}
	if (ndig == 0)
		return NNP_NUM_SYNTAX;
	if (p < end && (*p == 'e' || *p == 'E') && !(p = exponent(p, end, &e10)))
		return NNP_NUM_SYNTAX;
	if (p != end)
		return NNP_NUM_SYNTAX;
	if (w == 0 && !many) {
		*out = neg ? -0.0 : 0.0;
		return NNP_NUM_OK;
	}
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD == 0
	/* Clinger: w and 10^|e10| are exact doubles, so one correctly rounded
	 * multiplication or division gives the correctly rounded result. */
	if (!many && w <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
		double v = (double)w;
		v = e10 >= 0 ? v * nnp_pow10_exact[e10] : v / nnp_pow10_exact[-e10];
		*out = neg ? -v : v;
		return NNP_NUM_OK;
	}
#endif
	return parse_fallback(s, n, out);
}

int nnp_decimal_to_float(uint64_t w, long e10, int neg, float *out)
{
	float f;
	if (w == 0) {
		*out = neg ? -0.0f : 0.0f;
		return NNP_NUM_OK;
	}
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD == 0
	if (w <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
		double v = (double)w;
		v = e10 >= 0 ? v * nnp_pow10_exact[e10] : v / nnp_pow10_exact[-e10];
		uint64_t bits;
		memcpy(&bits, &v, sizeof bits);
		/* A normal float (or an overflow) and not on a float midpoint: the 29
		 * low bits of the double's fraction are not 1000...0. */
		const uint64_t low = (UINT64_C(1) << 29) - 1, half = UINT64_C(1) << 28;
		if (v >= 0x1p-126 && (bits & low) != half) {
			f = (float)v;
			if (isinf(f))
				return NNP_NUM_RANGE;
			*out = neg ? -f : f;
			return NNP_NUM_OK;
		}
	}
#endif
	/* No '.' in the text: the locale's decimal point cannot matter. */
	char tmp[48];
	snprintf(tmp, sizeof tmp, "%" PRIu64 "e%ld", w, e10);
	f = strtof(tmp, NULL);
	if (isinf(f))
		return NNP_NUM_RANGE;
	*out = neg ? -f : f;
	return NNP_NUM_OK;
}

size_t nnp_json_float(const unsigned char *p, const unsigned char *end, float *out)
{
	const unsigned char *s = p;
	int neg = 0;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == end || !is_digit(*p))
		return 0;
	uint64_t w = 0;
	int sig = 0;
	long e10 = 0;
	if (*p == '0') {
		p++;
	} else {
		for (; p < end && is_digit(*p); p++) {
			if (sig == 19)
				return 0;
			w = w * 10 + (unsigned)(*p - '0');
			sig++;
		}
	}
	if (p < end && *p == '.') {
		p++;
		if (p == end || !is_digit(*p))
			return 0;
		for (; p < end && is_digit(*p); p++) {
			unsigned d = (unsigned)*p - '0';
			e10--;
			if (w || d) {
				if (sig == 19)
					return 0;
				w = w * 10 + d;
				sig++;
			}
		}
	}
	if (p < end && (*p == 'e' || *p == 'E') && !(p = exponent(p, end, &e10)))
		return 0;
	if (nnp_decimal_to_float(w, e10, neg, out))
		return 0;
	return (size_t)(p - s);
}

/* ---- printing ----------------------------------------------------------- */

/* 10^0 .. 10^60 as the nearest doubles (exact up to 10^22). */
static const double pow10_near[61] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30,
	1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45,
	1e46, 1e47, 1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59, 1e60
};

static const uint32_t pow10_u32[10] = {
	1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u, 1000000000u
};

/* d * 10^e for e in [-60, 60]. */
static double scale10(double d, int e)
{
	return e >= 0 ? d * pow10_near[e] : d / pow10_near[-e];
}

/*
 * The value being printed, a, is x9 units of 10^e9 (x9 in [1e8, 1e9), f9 its
 * integer part); the decimals that read back as a lie between lo9 and hi9,
 * the halfway points to the neighbouring floats in the same units (on them,
 * the even significand wins: the exact check decides there).
 */
typedef struct shortest {
	float a;
	double x9, lo9, hi9;
	uint32_t f9;
	int e9;
} shortest;

/*
 * 1 if n * 10^e10 (c9 in units of 10^e9) reads back as s->a. The double
 * figures err by far less than 1e-6 units: only a candidate that close to a
 * halfway point takes the exact check.
 */
static int reads_back(const shortest *s, uint32_t n, long e10, double c9)
{
	const double eps = 1e-6;
	if (c9 > s->lo9 + eps && c9 < s->hi9 - eps)
		return 1;
	if (c9 < s->lo9 - eps || c9 > s->hi9 + eps)
		return 0;
	float f;
	return nnp_decimal_to_float(n, e10, 0, &f) == NNP_NUM_OK && f == s->a;
}

/*
 * The p-digit decimal that reads back, nearer one first: 1 and *n, *e10
 * set, or 0 if neither p-digit neighbour of the value reads back.
 */
static int try_digits(const shortest *s, int p, uint32_t *n, long *e10)
{
	uint32_t q = pow10_u32[9 - p], lo = s->f9 / q;
	long e = s->e9 + 9 - p;
	double c_lo = (double)lo * q, c_hi = c_lo + q;
	double below = s->x9 - c_lo, above = c_hi - s->x9;
	int lo_first = below < above || (below == above && lo % 2 == 0);
	if (lo_first && lo && reads_back(s, lo, e, c_lo)) {
		*n = lo;
	} else if (reads_back(s, lo + 1, e, c_hi)) {
		*n = lo + 1;
	} else if (!lo_first && lo && reads_back(s, lo, e, c_lo)) {
		*n = lo;
	} else {
		return 0;
	}
	*e10 = e;
	return 1;
}

/*
 * The usual way: the fewest digits are those of the largest power of ten q
 * with a multiple strictly between lo9 and hi9 (found from the top of the
 * interval down), and of the multiples of q inside, the one nearest x9. 0
 * when a figure falls within the double arithmetic's error of a boundary:
 * then try_digits decides with the exact check.
 */
static int fast_digits(const shortest *s, uint32_t *n, long *e10)
{
	const double eps = 1e-6;
	double hf_d = floor(s->hi9);
	if (s->hi9 - hf_d < eps)
		return 0;
	uint32_t hf = (uint32_t)hf_d, t = hf, q = 1;
	int j = 0;
	while (j < 8) {
		uint32_t m = t / 10 * (q * 10);   /* the top multiple of 10q */
		if ((double)m <= s->lo9 + eps) {
			if ((double)m > s->lo9 - eps)
				return 0;
			break;
		}
		t /= 10;
		q *= 10;
		j++;
	}
	uint32_t lo = s->f9 / q;
	double c_lo = (double)lo * q, c_hi = c_lo + q;
	if (fabs(c_lo - s->lo9) < eps || fabs(c_hi - s->hi9) < eps)
		return 0;
	int in_lo = lo && c_lo > s->lo9, in_hi = c_hi < s->hi9;
	if (!in_lo && !in_hi)
		return 0;
	if (in_lo && in_hi) {
		double below = s->x9 - c_lo, above = c_hi - s->x9;
		in_lo = below < above || (below == above && lo % 2 == 0);
	}
	*n = in_lo ? lo : lo + 1;
	*e10 = s->e9 + j;
	return 1;
}

static char *put_text(char *p, const char *t)
{
	size_t n = strlen(t);
	memcpy(p, t, n);
	return p + n;
}

size_t nnp_fmt_float(char buf[NNP_FLOAT_CHARS], float v)
{
	char *p = buf;
	if (isnan(v)) {
		memcpy(buf, "nan", 4);
		return 3;
	}
	if (signbit(v))
		*p++ = '-';
	shortest s;
	s.a = fabsf(v);
	if (isinf(s.a) || s.a == 0) {
		p = put_text(p, s.a == 0 ? "0" : "inf");
		*p = '\0';
		return (size_t)(p - buf);
	}
	uint32_t bits;
	memcpy(&bits, &s.a, sizeof bits);
	uint32_t frac = bits & 0x7fffffu, bexp = bits >> 23;
	/* The gaps to the neighbouring floats (exact doubles), and k, the
	 * decimal exponent of the leading digit: floor(log10(2^e2)) is k or k-1
	 * (78913 / 2^18 is log10(2) closely enough for these exponents). */
	double up = 0x1p-149;
	int e2;
	if (bexp) {
		uint64_t ub = (uint64_t)(bexp - 150 + 1023) << 52;
		memcpy(&up, &ub, sizeof up);
		e2 = (int)bexp - 127;
	} else {
		frexp((double)s.a, &e2);
		e2--;
	}
	double down = bexp > 1 && frac == 0 ? up / 2 : up;
	int k = e2 >= 0 ? (e2 * 78913) >> 18 : -((-e2 * 78913) >> 18) - 1;
	s.x9 = scale10((double)s.a, 8 - k);
	if (s.x9 >= 1e9) {
		k++;
		s.x9 = scale10((double)s.a, 8 - k);
	}
	s.lo9 = scale10((double)s.a - down / 2, 8 - k);
	s.hi9 = scale10((double)s.a + up / 2, 8 - k);
	s.f9 = (uint32_t)s.x9;
	s.e9 = k - 8;
	uint32_t n = 0;
	long e10 = 0;
	if (!fast_digits(&s, &n, &e10)) {
		/* Random weights mostly need 8 or 9 digits: look there first. */
		int lo = 1, hi;
		if (!try_digits(&s, 8, &n, &e10)) {
			hi = 9;
		} else if (!try_digits(&s, 7, &n, &e10)) {
			hi = 8;
		} else {
			hi = 7;
			while (lo < hi) {
				int mid = (lo + hi) / 2;
				if (try_digits(&s, mid, &n, &e10))
					hi = mid;
				else
					lo = mid + 1;
			}
		}
		if (!try_digits(&s, hi, &n, &e10)) {
			/* Nine digits always read back; keep going whatever happens. */
			n = (uint32_t)llround(s.x9);
			e10 = s.e9;
		}
	}
	while (n % 10 == 0) {
		n /= 10;
		e10++;
	}
	char dig[24];
	int m = 0;
	for (; n; n /= 10)
		dig[m++] = (char)('0' + n % 10);   /* backwards */
	int top = (int)e10 + m - 1;             /* exponent of the first digit */
	if (top >= 0 && top < 16) {
		for (int i = 0; i <= top; i++)
			*p++ = i < m ? dig[m - 1 - i] : '0';
		if (m > top + 1) {
			*p++ = '.';
			for (int i = top + 1; i < m; i++)
				*p++ = dig[m - 1 - i];
		}
	} else if (top < 0 && top >= -5) {
		*p++ = '0';
		*p++ = '.';
		for (int i = -1; i > top; i--)
			*p++ = '0';
		for (int i = m - 1; i >= 0; i--)
			*p++ = dig[i];
	} else {
		*p++ = dig[m - 1];
		if (m > 1) {
			*p++ = '.';
			for (int i = m - 2; i >= 0; i--)
				*p++ = dig[i];
		}
		*p++ = 'e';
		*p++ = top < 0 ? '-' : '+';
		int t = top < 0 ? -top : top;
		if (t >= 10)
			*p++ = (char)('0' + t / 10);
		*p++ = (char)('0' + t % 10);
	}
	*p = '\0';
	return (size_t)(p - buf);
}
