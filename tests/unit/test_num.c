/*
 * util/num: the shortest round-trip float printer and the exact float
 * parser, checked against the C library's strtof/snprintf and against digits
 * from NumPy's Dragon4 (format_float_scientific(unique=True)).
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "num.h"
#include "testutil.h"

/* The sanitizer build runs ten times fewer random cases. */
#if defined(__SANITIZE_ADDRESS__)
#define RANDOM_CASES 1000000u
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RANDOM_CASES 1000000u
#endif
#endif
#ifndef RANDOM_CASES
#define RANDOM_CASES 10000000u
#endif

/* Significant digits of a printed number: leading zeros never count, nor
 * trailing zeros of a number without a point (they only place the digits). */
static int sig_digits(const char *s)
{
	const char *e = strchr(s, 'e');
	size_t end = e ? (size_t)(e - s) : strlen(s);
	if (!strchr(s, '.'))
		while (end > 1 && s[end - 1] == '0')
			end--;
	int n = 0, lead = 1;
	for (size_t i = 0; i < end; i++) {
		if (s[i] < '0' || s[i] > '9' || (lead && s[i] == '0'))
			continue;
		lead = 0;
		n++;
	}
	return n;
}

/*
 * v printed reads back bit for bit through strtof and nnp_json_float, and
 * no decimal with fewer digits does: the nearest one with one digit less
 * (snprintf rounds correctly) and its neighbour on the other side both fail.
 */
static void check_one(float v, int check_short)
{
	char b[NNP_FLOAT_CHARS];
	size_t n = nnp_fmt_float(b, v);
	assert_int_equal(n, strlen(b));
	float g = strtof(b, NULL), h = 0;
	if (nnp_float_bits(g) != nnp_float_bits(v))
		fail_msg("%08x printed as %s reads back as %08x", nnp_float_bits(v), b, nnp_float_bits(g));
	size_t k = nnp_json_float((const unsigned char *)b, (const unsigned char *)b + n, &h);
	if (k != n || nnp_float_bits(h) != nnp_float_bits(v))
		fail_msg("%08x printed as %s: nnp_json_float took %zu bytes, %08x", nnp_float_bits(v), b, k,
		         nnp_float_bits(h));
	int p = sig_digits(b);
	if (!check_short || v == 0 || p <= 1)
		return;
	float av = fabsf(v);
	char t[64];
	snprintf(t, sizeof t, "%.*e", p - 2, (double)av);
	if (strtof(t, NULL) == av)
		fail_msg("%08x printed as %s but %s (fewer digits) reads back too", nnp_float_bits(v), b, t);
	/* The other neighbour: the last digit one step away on v's other side. */
	double near = strtod(t, NULL);
	double step = pow(10.0, atoi(strchr(t, 'e') + 1) - (p - 2));
	snprintf(t, sizeof t, "%.*e", p - 2, near < (double)av ? near + step : near - step);
	if (strtof(t, NULL) == av)
		fail_msg("%08x printed as %s but %s (fewer digits) reads back too", nnp_float_bits(v), b, t);
}

/* Digits from NumPy 1.24: np.format_float_scientific(np.float32(x), unique=True),
 * laid out as nnp_fmt_float does (plain from 1e-5 to below 1e16). */
static const struct {
	uint32_t bits;
	const char *text;
} known[] = {
	{ 0x00000000u, "0" },
	{ 0x80000000u, "-0" },
	{ 0x3f800000u, "1" },
	{ 0xbf800000u, "-1" },
	{ 0x3dcccccdu, "0.1" },
	{ 0x3e4ccccdu, "0.2" },
	{ 0x3e99999au, "0.3" },
	{ 0x3eaaaaabu, "0.33333334" },
	{ 0x3f2aaaabu, "0.6666667" },
	{ 0x3f000000u, "0.5" },
	{ 0x42c80000u, "100" },
	{ 0x4ceb79a3u, "123456790" },
	{ 0x4b800000u, "16777216" },
	{ 0x501502f9u, "10000000000" },
	{ 0x58635fa9u, "1000000000000000" },
	{ 0x5a0e1bcau, "1e+16" },
	{ 0x5bb1a2bcu, "1e+17" },
	{ 0x7f7fffffu, "3.4028235e+38" },
	{ 0xff7fffffu, "-3.4028235e+38" },
	{ 0x00800000u, "1.1754944e-38" },
	{ 0x00000001u, "1e-45" },
	{ 0x00000002u, "3e-45" },
	{ 0x007fffffu, "1.1754942e-38" },
	{ 0x3727c5acu, "0.00001" },
	{ 0x358637bdu, "1e-6" },
	{ 0x374f07e5u, "0.00001234" },
	{ 0x3727c5abu, "9.999999e-6" },
	{ 0x15ae43feu, "7.0385313e-26" },
	{ 0x40490fdbu, "3.1415927" },
	{ 0x402df854u, "2.7182817" },
	{ 0x7e967699u, "1e+38" },
	{ 0x7e967698u, "9.999999e+37" },
	{ 0x3a83126fu, "0.001" },
	{ 0x477fe000u, "65504" },
	{ 0x4affffffu, "8388607.5" },
	{ 0x34e17c5cu, "4.2e-7" },
	{ 0x000116c2u, "1e-40" },
	/* The two 8-digit neighbours lie within 1e-8 of a unit of the halfway
	 * point: the nearer one, which a search in double arithmetic missed. */
	{ 0x1fdc84c4u, "9.3393267e-20" },
	{ 0x24eb1256u, "1.01946067e-16" },
	{ 0x70fa9200u, "6.2038205e+29" },
	{ 0x729c9b40u, "6.2038205e+30" },
	{ 0xf5f4b294u, "-6.2038205e+32" },
};

static void test_fmt_known(void **state)
{
	(void)state;
	char b[NNP_FLOAT_CHARS];
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		nnp_fmt_float(b, nnp_bits_float(known[i].bits));
		if (strcmp(b, known[i].text) != 0)
			fail_msg("%08x: \"%s\", NumPy's digits give \"%s\"", known[i].bits, b, known[i].text);
		check_one(nnp_bits_float(known[i].bits), 1);
	}
	nnp_fmt_float(b, NAN);
	assert_string_equal(b, "nan");
	nnp_fmt_float(b, INFINITY);
	assert_string_equal(b, "inf");
	nnp_fmt_float(b, -INFINITY);
	assert_string_equal(b, "-inf");
}

/* Every power of two and of ten in the float range, both signs, and the
 * floats on either side of each; the subnormal range's ends. */
static void test_fmt_boundaries(void **state)
{
	(void)state;
	for (int e = -149; e <= 127; e++) {
		float v = ldexpf(1.0f, e);
		float around[] = { v, nextafterf(v, 0), nextafterf(v, INFINITY) };
		for (size_t i = 0; i < 3; i++) {
			if (!isfinite(around[i]))
				continue;
			check_one(around[i], 1);
			check_one(-around[i], 1);
		}
	}
	for (int e = -45; e <= 38; e++) {
		char t[16];
		snprintf(t, sizeof t, "1e%d", e);
		float v = strtof(t, NULL);
		float around[] = { v, nextafterf(v, 0), nextafterf(v, INFINITY) };
		for (size_t i = 0; i < 3; i++)
			if (isfinite(around[i]) && around[i] != 0)
				check_one(around[i], 1);
	}
	float edges[] = { FLT_MIN, FLT_TRUE_MIN, FLT_MAX, nextafterf(FLT_MIN, 0),
		          nextafterf(FLT_MAX, 0), 2 * FLT_TRUE_MIN, FLT_EPSILON, 1 - FLT_EPSILON / 2,
		          16777215.0f, 16777216.0f, 16777218.0f, 1e16f, 9.999999e15f };
	for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
		check_one(edges[i], 1);
		check_one(-edges[i], 1);
	}
}

/* Random bit patterns: every one reads back exactly; a tenth are also
 * checked to be the shortest. */
static void test_fmt_random(void **state)
{
	(void)state;
	tu_rng r = { 20261207 };
	for (uint32_t i = 0; i < RANDOM_CASES; i++) {
		uint64_t x = tu_next(&r);
		float v = nnp_bits_float((uint32_t)(x >> 32));
		if (!isfinite(v))
			continue;
		check_one(v, i % 10 == 0);
	}
}

/* Output is the same for the same value whatever came before (no state). */
static void test_fmt_stable(void **state)
{
	(void)state;
	char a[NNP_FLOAT_CHARS], b[NNP_FLOAT_CHARS];
	tu_rng r = { 7 };
	for (int i = 0; i < 1000; i++) {
		float v = nnp_bits_float((uint32_t)tu_next(&r));
		if (!isfinite(v))
			continue;
		nnp_fmt_float(a, v);
		nnp_fmt_float(b, nnp_bits_float((uint32_t)tu_next(&r)));
		nnp_fmt_float(b, v);
		assert_string_equal(a, b);
	}
}

/* nnp_decimal_to_float against strtof, on decimals within 1e-18 of a point
 * halfway between two floats, where a rounding through double goes wrong,
 * and on random decimals. */
static void test_decimal_to_float(void **state)
{
	(void)state;
	tu_rng r = { 99 };
	int hard = 0;
	for (uint32_t i = 0; i < RANDOM_CASES / 10; i++) {
		float f = nnp_bits_float((uint32_t)(tu_next(&r) >> 33));   /* positive */
		float g = nextafterf(f, INFINITY);
		if (!isfinite(g))
			continue;
		double mid = ((double)f + (double)g) / 2;   /* exact */
		char t[48];
		int kind = (int)(i % 3);
		/* 19 significant digits: just below, on, or just above the midpoint. */
		snprintf(t, sizeof t, "%.18e", kind == 0 ? nextafter(mid, 0) :
		                               kind == 1 ? mid : nextafter(mid, INFINITY));
		float want = strtof(t, NULL), got = 0;
		size_t n = strlen(t);
		size_t k = nnp_json_float((const unsigned char *)t, (const unsigned char *)t + n, &got);
		if (isinf(want)) {
			assert_int_equal(k, 0);
			continue;
		}
		if (k != n || nnp_float_bits(got) != nnp_float_bits(want))
			fail_msg("\"%s\": %08x, strtof %08x", t, nnp_float_bits(got), nnp_float_bits(want));
		if ((float)strtod(t, NULL) != want)
			hard++;
		/* A random decimal of up to 19 digits and exponent -60..60. */
		uint64_t w = tu_next(&r) % 10000000000000000000u;
		long e10 = (long)(tu_next(&r) % 121) - 60;
		snprintf(t, sizeof t, "%llue%ld", (unsigned long long)w, e10);
		want = strtof(t, NULL);
		int rc = nnp_decimal_to_float(w, e10, 1, &got);
		if (isinf(want)) {
			assert_int_equal(rc, NNP_NUM_RANGE);
		} else {
			assert_int_equal(rc, NNP_NUM_OK);
			if (nnp_float_bits(got) != nnp_float_bits(-want))
				fail_msg("-%s: %08x, strtof %08x", t, nnp_float_bits(got), nnp_float_bits(-want));
		}
	}
	/* The cases above include some where strtod then a cast differs. */
	assert_true(hard > 0);
}

static void test_json_float_syntax(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		size_t took;    /* bytes taken, 0: refused */
		float value;
	} cases[] = {
		{ "0", 1, 0.0f }, { "-0", 2, -0.0f }, { "1.5e3", 5, 1500.0f }, { "1E+3", 4, 1000.0f },
		{ "2e-1,", 4, 0.2f }, { "0.0]", 3, 0.0f }, { "01", 1, 0.0f }, { "-1.25 ", 5, -1.25f },
		{ "1e-50", 5, 0.0f }, { "3.4028235e38", 12, FLT_MAX },
		{ "-", 0, 0 }, { ".5", 0, 0 }, { "1.", 0, 0 }, { "1e", 0, 0 }, { "1e+", 0, 0 },
		{ "+1", 0, 0 }, { "1e39", 0, 0 }, { "-3.4028236e38", 0, 0 }, { "inf", 0, 0 },
		{ "nan", 0, 0 }, { "12345678901234567890", 0, 0 }, { "", 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const unsigned char *s = (const unsigned char *)cases[i].text;
		float v = 42;
		size_t k = nnp_json_float(s, s + strlen(cases[i].text), &v);
		if (k != cases[i].took)
			fail_msg("\"%s\": took %zu bytes, expected %zu", cases[i].text, k, cases[i].took);
		if (k && nnp_float_bits(v) != nnp_float_bits(cases[i].value))
			fail_msg("\"%s\": %.9g", cases[i].text, (double)v);
	}
	/* The end bounds the scan: "12" seen as its first byte. */
	float v = 0;
	assert_int_equal(nnp_json_float((const unsigned char *)"12", (const unsigned char *)"12" + 1,
	                                &v), 1);
	assert_true(v == 1.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_known),
		cmocka_unit_test(test_fmt_boundaries),
		cmocka_unit_test(test_fmt_random),
		cmocka_unit_test(test_fmt_stable),
		cmocka_unit_test(test_decimal_to_float),
		cmocka_unit_test(test_json_float_syntax),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
