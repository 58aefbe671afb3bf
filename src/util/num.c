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
 * Printing: the shortest digits that read back, the nearest of them when
 * there is a choice, by Ryu in exact integer arithmetic (see
 * shortest_digits).
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

/*
 * The shortest digits, nearest the value among those, by Ryu (Ulf Adams,
 * "Ryu: fast float-to-string conversion", PLDI 2018) for float32: the value
 * and the halfway points to its neighbours, scaled by a power of ten in
 * exact integer arithmetic (64-bit multipliers, 2^k / 5^q and 5^i / 2^k,
 * rounded so that the truncated products are exact for every float), lose
 * decimal digits together while the interval still holds a shorter number.
 * The bounds belong to the interval when the significand is even (a decimal
 * on them reads back as the value, ties going to even).
 */
#define RYU_INV_BITS 59
#define RYU_POW_BITS 61

static const struct {
	uint64_t inv[31]; /* 5^-q, q = 0..30, for negative binary exponents */
	uint64_t pos[47]; /* 5^i, i = 0..46, for positive ones */
} ryu_pow5 = {
	{
		576460752303423489ull,  /* q = 0 */
		461168601842738791ull,  /* q = 1 */
		368934881474191033ull,  /* q = 2 */
		295147905179352826ull,  /* q = 3 */
		472236648286964522ull,  /* q = 4 */
		377789318629571618ull,  /* q = 5 */
		302231454903657294ull,  /* q = 6 */
		483570327845851670ull,  /* q = 7 */
		386856262276681336ull,  /* q = 8 */
		309485009821345069ull,  /* q = 9 */
		495176015714152110ull,  /* q = 10 */
		396140812571321688ull,  /* q = 11 */
		316912650057057351ull,  /* q = 12 */
		507060240091291761ull,  /* q = 13 */
		405648192073033409ull,  /* q = 14 */
		324518553658426727ull,  /* q = 15 */
		519229685853482763ull,  /* q = 16 */
		415383748682786211ull,  /* q = 17 */
		332306998946228969ull,  /* q = 18 */
		531691198313966350ull,  /* q = 19 */
		425352958651173080ull,  /* q = 20 */
		340282366920938464ull,  /* q = 21 */
		544451787073501542ull,  /* q = 22 */
		435561429658801234ull,  /* q = 23 */
		348449143727040987ull,  /* q = 24 */
		557518629963265579ull,  /* q = 25 */
		446014903970612463ull,  /* q = 26 */
		356811923176489971ull,  /* q = 27 */
		570899077082383953ull,  /* q = 28 */
		456719261665907162ull,  /* q = 29 */
		365375409332725730ull,  /* q = 30 */
	},
	{
		1152921504606846976ull, /* i = 0 */
		1441151880758558720ull, /* i = 1 */
		1801439850948198400ull, /* i = 2 */
		2251799813685248000ull, /* i = 3 */
		1407374883553280000ull, /* i = 4 */
		1759218604441600000ull, /* i = 5 */
		2199023255552000000ull, /* i = 6 */
		1374389534720000000ull, /* i = 7 */
		1717986918400000000ull, /* i = 8 */
		2147483648000000000ull, /* i = 9 */
		1342177280000000000ull, /* i = 10 */
		1677721600000000000ull, /* i = 11 */
		2097152000000000000ull, /* i = 12 */
		1310720000000000000ull, /* i = 13 */
		1638400000000000000ull, /* i = 14 */
		2048000000000000000ull, /* i = 15 */
		1280000000000000000ull, /* i = 16 */
		1600000000000000000ull, /* i = 17 */
		2000000000000000000ull, /* i = 18 */
		1250000000000000000ull, /* i = 19 */
		1562500000000000000ull, /* i = 20 */
		1953125000000000000ull, /* i = 21 */
		1220703125000000000ull, /* i = 22 */
		1525878906250000000ull, /* i = 23 */
		1907348632812500000ull, /* i = 24 */
		1192092895507812500ull, /* i = 25 */
		1490116119384765625ull, /* i = 26 */
		1862645149230957031ull, /* i = 27 */
		1164153218269348144ull, /* i = 28 */
		1455191522836685180ull, /* i = 29 */
		1818989403545856475ull, /* i = 30 */
		2273736754432320594ull, /* i = 31 */
		1421085471520200371ull, /* i = 32 */
		1776356839400250464ull, /* i = 33 */
		2220446049250313080ull, /* i = 34 */
		1387778780781445675ull, /* i = 35 */
		1734723475976807094ull, /* i = 36 */
		2168404344971008868ull, /* i = 37 */
		1355252715606880542ull, /* i = 38 */
		1694065894508600678ull, /* i = 39 */
		2117582368135750847ull, /* i = 40 */
		1323488980084844279ull, /* i = 41 */
		1654361225106055349ull, /* i = 42 */
		2067951531382569187ull, /* i = 43 */
		1292469707114105741ull, /* i = 44 */
		1615587133892632177ull, /* i = 45 */
		2019483917365790221ull, /* i = 46 */
	},
};

/* Drops the last decimal digit of the value and both bounds; the digit
 * dropped from the value goes to *last. */
static inline void drop_digit(uint32_t *vr, uint32_t *vp, uint32_t *vm, unsigned *last,
                              int32_t *removed)
{
	*last = *vr % 10;
	*vr /= 10;
	*vp /= 10;
	*vm /= 10;
	(*removed)++;
}

/* Bits of 5^e, e >= 0 (ceil(log2(5^e)), 1 for e = 0). */
static int32_t pow5bits(int32_t e)
{
	return ((e * 1217359) >> 19) + 1;
}

static uint32_t pow5_factor(uint32_t v)
{
	uint32_t n = 0;
	while (v % 5 == 0) {
		v /= 5;
		n++;
	}
	return n;
}

static uint32_t mul_shift(uint32_t m, uint64_t f, int32_t shift)
{
	uint64_t lo = (uint64_t)m * (uint32_t)f, hi = (uint64_t)m * (uint32_t)(f >> 32);
	return (uint32_t)(((lo >> 32) + hi) >> (shift - 32));
}

/* The shortest nearest decimal n * 10^e10 of the finite positive float with
 * these significand and exponent fields. */
static void shortest_digits(uint32_t frac, uint32_t bexp, uint32_t *n, long *e10)
{
	int32_t e2 = (bexp ? (int32_t)bexp : 1) - 127 - 23 - 2;
	uint32_t m2 = bexp ? (1u << 23) | frac : frac;
	int accept = (m2 & 1) == 0;
	uint32_t mv = 4 * m2, mp = 4 * m2 + 2;
	uint32_t mm_shift = frac != 0 || bexp <= 1;
	uint32_t mm = 4 * m2 - 1 - mm_shift;
	uint32_t vr, vp, vm;
	int32_t e;
	int vm_zeros = 0, vr_zeros = 0;
	unsigned last = 0;
	if (e2 >= 0) {
		int32_t q = (e2 * 78913) >> 18;   /* floor(log10(2^e2)) */
		int32_t i = -e2 + q + RYU_INV_BITS + pow5bits(q) - 1;
		e = q;
		vr = mul_shift(mv, ryu_pow5.inv[q], i);
		vp = mul_shift(mp, ryu_pow5.inv[q], i);
		vm = mul_shift(mm, ryu_pow5.inv[q], i);
		if (q != 0 && (vp - 1) / 10 <= vm / 10) {
			int32_t l = RYU_INV_BITS + pow5bits(q - 1) - 1;
			last = mul_shift(mv, ryu_pow5.inv[q - 1], -e2 + q - 1 + l) % 10;
		}
		if (q <= 9) {
			if (mv % 5 == 0)
				vr_zeros = pow5_factor(mv) >= (uint32_t)q;
			else if (accept)
				vm_zeros = pow5_factor(mm) >= (uint32_t)q;
			else
				vp -= pow5_factor(mp) >= (uint32_t)q;
		}
	} else {
		int32_t q = (-e2 * 732923) >> 20;  /* floor(log10(5^-e2)) */
		int32_t i = -e2 - q;
		int32_t j = q - (pow5bits(i) - RYU_POW_BITS);
		e = q + e2;
		vr = mul_shift(mv, ryu_pow5.pos[i], j);
		vp = mul_shift(mp, ryu_pow5.pos[i], j);
		vm = mul_shift(mm, ryu_pow5.pos[i], j);
		if (q != 0 && (vp - 1) / 10 <= vm / 10) {
			j = q - 1 - (pow5bits(i + 1) - RYU_POW_BITS);
			last = mul_shift(mv, ryu_pow5.pos[i + 1], j) % 10;
		}
		if (q <= 1) {
			vr_zeros = 1;
			if (accept)
				vm_zeros = mm_shift == 1;
			else
				vp--;
		} else if (q < 31) {
			vr_zeros = (mv & ((1u << (q - 1)) - 1)) == 0;
		}
	}
	int32_t removed = 0;
	if (vm_zeros || vr_zeros) {
		while (vp / 10 > vm / 10) {
			vm_zeros &= vm % 10 == 0;
			vr_zeros &= last == 0;
			drop_digit(&vr, &vp, &vm, &last, &removed);
		}
		if (vm_zeros)
			while (vm % 10 == 0) {
				vr_zeros &= last == 0;
				drop_digit(&vr, &vp, &vm, &last, &removed);
			}
		if (vr_zeros && last == 5 && vr % 2 == 0)
			last = 4;   /* exactly halfway: to even */
		*n = vr + ((vr == vm && (!accept || !vm_zeros)) || last >= 5);
	} else {
		while (vp / 10 > vm / 10)
			drop_digit(&vr, &vp, &vm, &last, &removed);
		*n = vr + (vr == vm || last >= 5);
	}
	*e10 = e + removed;
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
	float a = fabsf(v);
	if (isinf(a) || a == 0) {
		p = put_text(p, a == 0 ? "0" : "inf");
		*p = '\0';
		return (size_t)(p - buf);
	}
	uint32_t bits, n;
	long e10;
	memcpy(&bits, &a, sizeof bits);
	shortest_digits(bits & 0x7fffffu, bits >> 23, &n, &e10);
	while (n % 10 == 0) {
		n /= 10;
		e10++;
	}
	/* The m digits of n, front to back, two at a time. */
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char dig[12];
	int m = 1;
	for (uint32_t t = n; t >= 10; t /= 10)
		m++;
	int i = m;
	for (; n >= 100; n /= 100) {
		i -= 2;
		memcpy(dig + i, pairs + 2 * (n % 100), 2);
	}
	if (n >= 10)
		memcpy(dig, pairs + 2 * n, 2);
	else
		dig[0] = (char)('0' + n);
	int top = (int)e10 + m - 1;             /* exponent of the first digit */
	if (top >= 0 && top < 16) {
		if (m <= top + 1) {
			memcpy(p, dig, (size_t)m);
			memset(p + m, '0', (size_t)(top + 1 - m));
			p += top + 1;
		} else {
			memcpy(p, dig, (size_t)(top + 1));
			p += top + 1;
			*p++ = '.';
			memcpy(p, dig + top + 1, (size_t)(m - top - 1));
			p += m - top - 1;
		}
	} else if (top < 0 && top >= -5) {
		*p++ = '0';
		*p++ = '.';
		for (int z = -1; z > top; z--)
			*p++ = '0';
		memcpy(p, dig, (size_t)m);
		p += m;
	} else {
		*p++ = dig[0];
		if (m > 1) {
			*p++ = '.';
			memcpy(p, dig + 1, (size_t)(m - 1));
			p += m - 1;
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
