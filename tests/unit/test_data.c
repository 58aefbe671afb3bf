/* Tests of the data readers: CSV and IDX, plain and gzip, every rejection. */
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "nnprune/data.h"
#include "nnprune/io.h"
#include "data_priv.h"
#include "textbuf.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------- */

static char *g_dir;

static int setup(void **state)
{
	(void)state;
	g_dir = tu_mkdtemp();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree_free(g_dir);
	return 0;
}

/* Writes a file in the test directory; returns its malloc'd path. */
static char *put(const char *name, const void *data, size_t len)
{
	char *p = tu_path(g_dir, name);
	tu_write(p, data, len);
	return p;
}

static char *put_str(const char *name, const char *text)
{
	return put(name, text, strlen(text));
}

static char *put_gz(const char *name, const void *data, size_t len)
{
	char *p = tu_path(g_dir, name);
	gzFile g = gzopen(p, "wb");
	assert_non_null(g);
	if (len)
		assert_int_equal(gzwrite(g, data, (unsigned)len), (int)len);
	assert_int_equal(gzclose(g), Z_OK);
	return p;
}

/* Everything a reader returned. */
typedef struct got_t {
	float *x;
	int32_t *y;
	size_t rows, nf;
	int labelled;
	uint64_t offset;
} got_t;

static void got_free(got_t *g)
{
	free(g->x);
	free(g->y);
	memset(g, 0, sizeof *g);
}

/* Opens (bufsize 0 = the default buffer) and reads all rows batch by batch.
 * Returns the first error, with g holding what came before it. */
static int slurp(const char *path, const nnp_data_opts *o, size_t batch, size_t bufsize,
                 got_t *g, nnp_err *err)
{
	nnp_reader *r = NULL;
	memset(g, 0, sizeof *g);
	nnp_err_clear(err);
	int rc = bufsize ? nnp_reader_open_buf(&r, path, o, bufsize, err)
	                 : nnp_reader_open(&r, path, o, err);
	if (rc) {
		assert_null(r);
		assert_true(rc < 0);
		return rc;
	}
	g->nf = nnp_reader_features(r);
	g->labelled = nnp_reader_has_labels(r);
	float *xb = malloc(batch * g->nf * sizeof *xb);
	int32_t *yb = malloc(batch * sizeof *yb);
	assert_true(xb && yb);
	size_t cap = 0;
	for (;;) {
		size_t got = 12345;
		rc = nnp_reader_read(r, xb, yb, batch, &got, err);
		if (rc) {
			assert_int_equal(got, 0);
			break;
		}
		assert_true(got <= batch);
		if (got == 0)
			break;
		if (g->rows + got > cap) {
			cap = (g->rows + got) * 2;
			g->x = realloc(g->x, cap * g->nf * sizeof *g->x);
			g->y = realloc(g->y, cap * sizeof *g->y);
			assert_true(g->x && g->y);
		}
		memcpy(g->x + g->rows * g->nf, xb, got * g->nf * sizeof *xb);
		memcpy(g->y + g->rows, yb, got * sizeof *yb);
		g->rows += got;
		assert_int_equal(nnp_reader_rows(r), g->rows);
	}
	g->offset = nnp_reader_offset(r);
	free(xb);
	free(yb);
	nnp_reader_close(r);
	return rc;
}


/* Reading path with o fails (at open or while reading) with sub in the message. */
static void expect_fail(const char *path, const nnp_data_opts *o, int status, const char *sub)
{
	got_t g;
	nnp_err err;
	int rc = slurp(path, o, 4, 0, &g, &err);
	if (rc == 0)
		fail_msg("%s: expected an error with \"%s\", read %zu rows", path, sub, g.rows);
	if (rc != status || err.status != status)
		fail_msg("%s: status %d, expected %d: %s", path, rc, status, err.msg);
	tu_expect_msg(&err, sub);
	got_free(&g);
}

static void expect_csv_fail(const char *text, const nnp_data_opts *o, const char *sub)
{
	char *p = put_str("bad.csv", text);
	expect_fail(p, o, NNP_EINPUT, sub);
	free(p);
}

/* Appends unit n times to b. */
static void tb_repeat(nnp_tbuf *b, const char *unit, size_t n)
{
	size_t len = strlen(unit);
	for (size_t i = 0; i < n; i++)
		nnp_tb_putn(b, unit, len);
}

/* Each case[i][0] as a file fails with NNP_EINPUT and case[i][1] in the message. */
static void expect_csv_fails(const char *const (*cases)[2], size_t n, const nnp_data_opts *o)
{
	for (size_t i = 0; i < n; i++)
		expect_csv_fail(cases[i][0], o, cases[i][1]);
}

static void read_ok(const char *path, const nnp_data_opts *o, got_t *g)
{
	nnp_err err;
	int rc = slurp(path, o, 64, 0, g, &err);
	if (rc)
		fail_msg("%s: unexpected error: %s", path, err.msg);
}

static void read_text(const char *text, const nnp_data_opts *o, got_t *g)
{
	char *p = put_str("t.csv", text);
	read_ok(p, o, g);
	free(p);
}

/* read_text with neither a label nor a header: every field a feature. */
static void read_plain(const char *text, got_t *g)
{
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.label = NNP_LABEL_NONE;
	o.header = NNP_HEADER_NO;
	read_text(text, &o, g);
}

static void same_data(const got_t *a, const got_t *b)
{
	assert_int_equal(a->rows, b->rows);
	assert_int_equal(a->nf, b->nf);
	assert_int_equal(a->labelled, b->labelled);
	assert_memory_equal(a->x, b->x, a->rows * a->nf * sizeof(float));
	if (a->labelled)
		assert_memory_equal(a->y, b->y, a->rows * sizeof(int32_t));
}

/* The reference conversion: numpy's float32(float(s)). */
static float ref(const char *s)
{
	char *end;
	double d = strtod(s, &end);
	assert_true(*end == '\0');
	return (float)d;
}

static void assert_bits(float a, float b)
{
	if (memcmp(&a, &b, sizeof a) != 0)
		fail_msg("%.9g != %.9g (bits differ)", (double)a, (double)b);
}

/* ---- CSV: layout options ---------------------------------------------- */

static void test_csv_header_auto(void **state)
{
	(void)state;
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	got_t g;
	char *p = put_str("a.csv", "label,a,b\n1,2,3\n0,4.5,-6\n");
	read_ok(p, &o, &g);
	assert_int_equal(g.rows, 2);
	assert_int_equal(g.nf, 2);
	assert_true(g.labelled);
	float ex[] = { 2, 3, 4.5f, -6 };
	assert_memory_equal(g.x, ex, sizeof ex);
	assert_int_equal(g.y[0], 1);
	assert_int_equal(g.y[1], 0);
	assert_int_equal(g.offset, strlen("label,a,b\n1,2,3\n0,4.5,-6\n"));
	got_free(&g);

	nnp_reader *r;
	nnp_err err;
	assert_int_equal(nnp_reader_open(&r, p, &o, &err), 0);
	assert_string_equal(nnp_reader_format(r), "csv");
	assert_int_equal(nnp_reader_total_rows(r), 0);
	assert_int_equal(nnp_reader_rows(r), 0);
	nnp_reader_close(r);
	free(p);

	/* No header: every field numeric. */
	read_text("1,2,3\n0,4,5", &o, &g);
	assert_int_equal(g.rows, 2);
	float ex2[] = { 2, 3, 4, 5 };
	assert_memory_equal(g.x, ex2, sizeof ex2);
	assert_int_equal(g.y[0], 1);
	got_free(&g);

	/* Pixel names that are numbers still make a header through "label". */
	read_text("label,0,1\n3,7,8\n", &o, &g);
	assert_int_equal(g.rows, 1);
	assert_int_equal(g.y[0], 3);
	got_free(&g);

	/* A data row with a typo is not taken for a header: its label is a number. */
	expect_csv_fail("1,0,O\n0,4,5\n", &o, ":1:5: field 'O' is not a number");

	/* Missing values do not make a header: the row is data, and wrong. */
	expect_csv_fail("1,NA,3\n0,4,5\n", &o, ":1:3: missing value 'NA'");
	expect_csv_fail("1,,3\n0,4,5\n", &o, ":1:3: empty field");
}

static void test_csv_header_yes_no(void **state)
{
	(void)state;
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.label = NNP_LABEL_FIRST; /* headers here name no label column */
	got_t g;
	o.header = NNP_HEADER_YES;
	read_text("1,2,3\n0,4,5\n", &o, &g);
	assert_int_equal(g.rows, 1);
	assert_int_equal(g.y[0], 0);
	got_free(&g);

	o.header = NNP_HEADER_NO;
	expect_csv_fail("label,a,b\n1,2,3\n", &o, "bad.csv:1:1: label 'label' is not a number");
	expect_csv_fail("1,a,b\n1,2,3\n", &o, "bad.csv:1:3: field 'a' is not a number");
	read_text("1,2,3\n", &o, &g);
	assert_int_equal(g.rows, 1);
	got_free(&g);
}

/* text read with o: two rows of two features x and labels y0, y1. */
static void expect_two_rows(const char *text, const nnp_data_opts *o, const float x[4], int32_t y0,
                            int32_t y1)
{
	got_t g;
	read_text(text, o, &g);
	assert_int_equal(g.rows, 2);
	assert_int_equal(g.nf, 2);
	assert_memory_equal(g.x, x, 4 * sizeof *x);
	assert_int_equal(g.y[0], y0);
	assert_int_equal(g.y[1], y1);
	got_free(&g);
}

static void test_csv_label_modes(void **state)
{
	(void)state;
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	got_t g;
	const char *text = "f0,y,f2\n10,1,30\n11,2,31\n";

	static const float ex_last[] = { 10, 1, 11, 2 }, ex_mid[] = { 10, 30, 11, 31 };
	o.label = NNP_LABEL_LAST;
	expect_two_rows(text, &o, ex_last, 30, 31);
	o.label = NNP_LABEL_INDEX;
	o.label_index = 1;
	expect_two_rows(text, &o, ex_mid, 1, 2);
	o.label = NNP_LABEL_NAME;
	o.label_name = "y";
	expect_two_rows(text, &o, ex_mid, 1, 2);

	o.label = NNP_LABEL_NONE;
	read_text(text, &o, &g);
	assert_false(g.labelled);
	assert_int_equal(g.nf, 3);
	float ex_none[] = { 10, 1, 30, 11, 2, 31 };
	assert_memory_equal(g.x, ex_none, sizeof ex_none);
	got_free(&g);

	/* First-record data with the label last, then index, checked too. */
	o.label = NNP_LABEL_LAST;
	read_text("1,2,3\n4,5,6\n", &o, &g);
	assert_int_equal(g.y[0], 3);
	assert_int_equal(g.y[1], 6);
	got_free(&g);

	o.label = NNP_LABEL_NAME;
	o.label_name = "zz";
	expect_csv_fail(text, &o, "bad.csv:1:1: no column named 'zz' in the header");
	o.label_name = "y";
	expect_csv_fail("y,a,y\n1,2,3\n", &o, "'y' appears twice (columns 1 and 3)");
	o.label = NNP_LABEL_INDEX;
	o.label_index = 3;
	expect_csv_fail(text, &o, "bad.csv:1:1: label column 3 (0-based) but records have 3 fields");
	o.label = NNP_LABEL_FIRST;
	expect_csv_fail("y\n1\n", &o, "no feature columns");
}

/* The default label column: a header column named label, target, class or y
 * (any case), else the first column of headerless data; a header naming no
 * label column, or two, is an error. */
static void test_csv_label_auto(void **state)
{
	(void)state;
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	assert_int_equal(o.label, NNP_LABEL_AUTO);
	got_t a, b, c;
	read_text("a,b,label\n2,3.5,1\n4,5,0\n", &o, &a);
	assert_int_equal(a.rows, 2);
	assert_int_equal(a.nf, 2);
	assert_int_equal(a.y[0], 1);
	assert_int_equal(a.y[1], 0);
	assert_true(a.x[0] == 2.0f && a.x[1] == 3.5f && a.x[2] == 4.0f && a.x[3] == 5.0f);
	read_text("a,CLASS,b\n2,1,3.5\n4,0,5\n", &o, &b);
	same_data(&a, &b);
	read_text("1,2,3.5\n0,4,5\n", &o, &c);  /* no header: the first column */
	same_data(&a, &c);
	got_free(&a);
	got_free(&b);
	got_free(&c);

	char *p = put_str("t.csv", "x1,Target,x2\n2,1,3.5\n");
	nnp_reader *r;
	nnp_err err;
	size_t col = 99;
	assert_int_equal(nnp_reader_open(&r, p, &o, &err), 0);
	const char *name = nnp_reader_label_by_name(r, &col);
	assert_non_null(name);
	assert_string_equal(name, "Target");
	assert_int_equal(col, 1);
	nnp_reader_close(r);
	free(p);
	p = put_str("t.csv", "1,2,3\n");
	assert_int_equal(nnp_reader_open(&r, p, &o, &err), 0);
	assert_null(nnp_reader_label_by_name(r, &col));
	nnp_reader_close(r);
	free(p);

	expect_csv_fail("a,b,c\n1,2,3\n", &o, "bad.csv:1:1: no header column is named label, "
	                "target, class or y");
	expect_csv_fail("y,b,label\n1,2,3\n", &o, "columns 0 and 2 of the header could both be "
	                "the label");
	expect_csv_fail("a\tb\tlabel\n1\t2\t3\n", &o, "(the file looks tab-separated: "
	                "--delimiter tab)");
	o.header = NNP_HEADER_NO;
	read_text("1,2,3.5\n0,4,5\n", &o, &c);
	assert_int_equal(c.y[0], 1);
	got_free(&c);
}

static void test_csv_delimiter_crlf_bom(void **state)
{
	(void)state;
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.label = NNP_LABEL_FIRST; /* headers here name no label column */
	got_t a, b, c, d;
	read_text("label,a,b\n1,2,3.5\n0,4,5\n", &o, &a);
	read_text("label,a,b\r\n1,2,3.5\r\n0,4,5\r\n", &o, &b);
	same_data(&a, &b);
	read_text("\xEF\xBB\xBFlabel,a,b\r\n1,2,3.5\r\n0,4,5", &o, &c);
	same_data(&a, &c);
	o.delimiter = ';';
	read_text("label;a;b\n1;2;3.5\n\n0;4;5\n\n", &o, &d);
	same_data(&a, &d);
	got_free(&a);
	got_free(&b);
	got_free(&c);
	got_free(&d);

	/* A decimal comma under ';' is no number; ';' data read with ','
	 * gives one field. */
	expect_csv_fail("label;a\n1;2,5\n", &o, "bad.csv:2:3: field '2,5' is not a number");
	o.delimiter = ',';
	expect_csv_fail("1,2.5,3\n0,2,5,4\n", &o, "bad.csv:2:7: expected 3 fields as in line 1, found 4");
	expect_csv_fail("label;a;b\n1;2;3\n", &o, "no feature columns");
	/* Columns count after the BOM, as an editor shows them. */
	o.header = NNP_HEADER_NO;
	expect_csv_fail("\xEF\xBB\xBF" "1,x\n", &o, "bad.csv:1:3: field 'x' is not a number");
	expect_csv_fail("1,2\r3,4\n", &o, "bad.csv:1:4: carriage return without a line feed");
}

static void test_csv_quoted(void **state)
{
	(void)state;
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	got_t g;
	o.label = NNP_LABEL_NAME;
	o.label_name = "the \"label\"";
	/* The last field was a lone quote character: not a number. */
	char *p = put_str("q.csv", "\"pix,el 1\",\"the \"\"label\"\"\",\"multi\nline\"\r\n"
	                  "\"2.5\",\"1\",3\n"
	                  "4,\"0\",\"\"\"\"\n");
	expect_fail(p, &o, NNP_EINPUT, "q.csv:4:7: field '\"' is not a number");
	free(p);
	read_text("\"a\",\"the \"\"label\"\"\",\"multi\nline\"\n\"2.5\",\"1\",3\n4,\"0\",\"-1e1\"\n",
	          &o, &g);
	assert_int_equal(g.rows, 2);
	float ex[] = { 2.5f, 3, 4, -10 };
	assert_memory_equal(g.x, ex, sizeof ex);
	assert_int_equal(g.y[0], 1);
	assert_int_equal(g.y[1], 0);
	got_free(&g);

	o.label = NNP_LABEL_FIRST;
	expect_csv_fail("a,b\n1,\"2\n3\n", &o, "bad.csv:2:3: unterminated quote");
	expect_csv_fail("a,b\n1,\"2\"x\n", &o, "bad.csv:2:3: text after a closing quote");
	/* Line numbers keep counting through quoted line breaks. */
	expect_csv_fail("a,\"b\nc\"\n1,2\n1,x\n", &o, "bad.csv:4:3: field 'x' is not a number");
}

/* ---- CSV: numbers ----------------------------------------------------- */

static const char *const number_cases[] = {
	"0.1", "1e-5", "3.4028234e38", "-3.4028234e38", "-0", "-0.0", "0", "+7", ".5", "5.",
	"1E5", "1e+05", "123.456e-2", "0.000001", "00012", "1.5e-10", "6.02214076e23",
	"0.30000000000000004", "123456789012345678901234567890",
	"1.00000000000000011102230246251565404236316680908203125",
	"9007199254740993", "9007199254740992", "18446744073709551615", "1e22", "1e23",
	"2.2250738585072014e-308", "1.17549435e-38", "1.4e-45", "7e-46", "16777217",
	"0.1000000000000000055511151231257827", "3.14159265358979323846264338327950288",
	"1234567.125", "255", "999999999999999", "1000000000000000", "-12345678901234567",
	"0e999999", "4.7019774032891500318749461488889827112746622270883500860350068251e-38",
	"0.00000000000000000000000000001",
};

static void test_csv_exact_values(void **state)
{
	(void)state;
	size_t n = sizeof number_cases / sizeof number_cases[0];
	nnp_tbuf b = { 0 };
	for (size_t i = 0; i < n; i++)
		nnp_tb_printf(&b, "%s%s", i ? "," : "", number_cases[i]);
	nnp_tb_putn(&b, "\n", 1);
	/* The same values again as the second row, quoted (the slow path). */
	for (size_t i = 0; i < n; i++)
		nnp_tb_printf(&b, "%s\"%s\"", i ? "," : "", number_cases[i]);
	nnp_tb_putn(&b, "\n", 1);
	got_t g;
	read_plain(b.p, &g);
	assert_int_equal(g.nf, n);
	assert_int_equal(g.rows, 2);
	for (size_t r = 0; r < 2; r++)
		for (size_t i = 0; i < n; i++)
			assert_bits(g.x[r * n + i], ref(number_cases[i]));
	assert_true(signbit(g.x[4]));
	assert_true(g.x[2] == FLT_MAX);
	got_free(&g);
	free(b.p);
}

/* Random decimal strings against strtod, double for double. */
static void test_parse_number_random(void **state)
{
	(void)state;
	tu_rng rng = { 42 };
	char s[128];
	for (int it = 0; it < 200000; it++) {
		size_t k = 0;
		if (tu_next(&rng) % 4 == 0)
			s[k++] = tu_next(&rng) % 2 ? '-' : '+';
		int nd = 1 + (int)(tu_next(&rng) % 24);
		int dot = (int)(tu_next(&rng) % (unsigned)(nd + 2)) - 1;
		for (int i = 0; i < nd; i++) {
			if (i == dot)
				s[k++] = '.';
			s[k++] = (char)('0' + tu_next(&rng) % 10);
		}
		if (tu_next(&rng) % 2)
			k += (size_t)snprintf(s + k, sizeof s - k, "e%d",
			                      (int)(tu_next(&rng) % 90) - 45);
		s[k] = '\0';
		double got = -1, want = strtod(s, NULL);
		int rc = nnp_parse_number((const unsigned char *)s, k, &got);
		if (rc != NNP_NUM_OK)
			fail_msg("'%s': rc %d", s, rc);
		if (memcmp(&got, &want, sizeof got) != 0)
			fail_msg("'%s': %.17g != strtod %.17g", s, got, want);
	}
	static const char *const bad[] = { "", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "0x10",
	                                   "inf", "nan", " 1", "1 ", "1,5", "--1", "1e5.5", "1d5" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		double v;
		int rc = nnp_parse_number((const unsigned char *)bad[i], strlen(bad[i]), &v);
		if (rc == NNP_NUM_OK)
			fail_msg("'%s' accepted", bad[i]);
	}
	/* The reader's inline decimal path (digits.digits) against strtod, with
	 * both sides of its 15-digit limit. */
	const size_t rows = 200, cols = 20;
	nnp_tbuf b = { 0 };
	float *want = malloc(rows * cols * sizeof *want);
	for (size_t i = 0; i < rows * cols; i++) {
		int ni = 1 + (int)(tu_next(&rng) % 9), nf = 1 + (int)(tu_next(&rng) % 12);
		size_t k = 0;
		for (int d = 0; d < ni; d++)
			s[k++] = (char)('0' + tu_next(&rng) % 10);
		s[k++] = '.';
		for (int d = 0; d < nf; d++)
			s[k++] = (char)('0' + tu_next(&rng) % 10);
		s[k] = '\0';
		want[i] = ref(s);
		nnp_tb_printf(&b, "%s%s", s, (i + 1) % cols ? "," : "\n");
	}
	got_t g;
	read_plain(b.p, &g);
	assert_int_equal(g.rows, rows);
	for (size_t i = 0; i < rows * cols; i++)
		assert_bits(g.x[i], want[i]);
	got_free(&g);
	free(want);
	free(b.p);

	double v;
	assert_int_equal(nnp_parse_number((const unsigned char *)"1e999", 5, &v), NNP_NUM_RANGE);
	assert_int_equal(nnp_parse_number((const unsigned char *)"", 0, &v), NNP_NUM_EMPTY);
}

/* The file's identity taken as the reader reads it equals a second read's;
 * a gzip file or a reader stopped early has none. */
static void test_reader_identity(void **state)
{
	(void)state;
	nnp_tbuf b = { 0 };
	for (int r = 0; r < 3000; r++)
		nnp_tb_printf(&b, "%d,%d,%d.5\n", r % 10, r * 7 % 256, r % 97);
	char *p = put("ident.csv", b.p, b.len), *pz = put_gz("ident.csv.gz", b.p, b.len);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.header = NNP_HEADER_NO;
	float x[2 * 64];
	int32_t y[64];
	uint64_t bytes = 0, want_bytes = 0;
	uint32_t crc = 0, want_crc = 0;
	nnp_err err;
	uint64_t want_zbytes = 0;
	uint32_t want_zcrc = 0;
	assert_int_equal(nnp_file_identity(p, &want_bytes, &want_crc, &err), NNP_OK);
	assert_int_equal(nnp_file_identity(pz, &want_zbytes, &want_zcrc, &err), NNP_OK);
	assert_int_equal(want_bytes, b.len);
	for (int kind = 0; kind < 3; kind++) {
		nnp_reader *r = NULL;
		/* A small buffer: the CRC runs over many refills. */
		assert_int_equal(nnp_reader_open_buf(&r, kind == 1 ? pz : p, &o, NNP_DATA_BUF_MIN, &err),
		                 NNP_OK);
		size_t got = 1;
		while (got && (kind != 2 || nnp_reader_rows(r) < 100))
			assert_int_equal(nnp_reader_read(r, x, y, 64, &got, &err), NNP_OK);
		int have = nnp_reader_identity(r, &bytes, &crc);
		if (kind < 2) {
			/* The file's own bytes, compressed or not, as nnp_file_identity. */
			assert_int_equal(have, 1);
			assert_int_equal(bytes, kind ? want_zbytes : want_bytes);
			assert_int_equal(crc, kind ? want_zcrc : want_crc);
		} else {
			assert_int_equal(have, 0);   /* stopped before the end */
		}
		nnp_reader_close(r);
	}
	/* Loaded whole: the same identity, and the rows a plain load gives; over
	 * the memory limit, or failing, none. */
	for (int kind = 0; kind < 2; kind++) {
		nnp_dataset *d = NULL, *plain = NULL;
		int whole = 0;
		assert_int_equal(nnp_dataset_load_id(&d, kind ? pz : p, &o, 0, &bytes, &crc, &whole,
		                                     &err), NNP_OK);
		assert_int_equal(nnp_dataset_load(&plain, kind ? pz : p, &o, 0, &err), NNP_OK);
		assert_int_equal(whole, 1);
		assert_int_equal(bytes, kind ? want_zbytes : want_bytes);
		assert_int_equal(crc, kind ? want_zcrc : want_crc);
		assert_int_equal(d->rows, 3000);
		assert_int_equal(d->rows, plain->rows);
		assert_memory_equal(d->x, plain->x, d->rows * d->features * sizeof *d->x);
		assert_memory_equal(d->y, plain->y, d->rows * sizeof *d->y);
		nnp_dataset_free(d);
		nnp_dataset_free(plain);
	}
	int whole = 1;
	nnp_dataset *d = NULL;
	assert_int_equal(nnp_dataset_load_id(&d, p, &o, 1000, &bytes, &crc, &whole, &err),
	                 NNP_ETOOBIG);
	assert_null(d);
	assert_int_equal(whole, 0);
	whole = 1;
	o.expect_features = 5;
	assert_int_equal(nnp_dataset_load_id(&d, p, &o, 0, &bytes, &crc, &whole, &err), NNP_EINPUT);
	assert_int_equal(whole, 0);
	free(p);
	free(pz);
	free(b.p);
}

/* ---- CSV: rejections -------------------------------------------------- */

static void test_csv_rejections(void **state)
{
	(void)state;
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.label = NNP_LABEL_FIRST; /* headers here name no label column */
	char *pn = put("nul.csv", "a,b\n1,2\0\n", 9);
	expect_fail(pn, &o, NNP_EINPUT, "nul.csv:2:3: NUL byte");
	free(pn);
	pn = put("nul.csv", "a,b\n1,\"2\0\"\n", 11);
	expect_fail(pn, &o, NNP_EINPUT, "nul.csv:2:3: NUL byte");
	free(pn);
	pn = put("nul.csv", "a,b\n1,\0\n", 8);
	expect_fail(pn, &o, NNP_EINPUT, "nul.csv:2:3: NUL byte");
	free(pn);
	/* Each: a file, the error it gets. */
	static const char *const field_cases[][2] = {
		{ "a,b,c\n1,2,3\n1,2\n",
		  "bad.csv:3:4: expected 3 fields as in line 1, found 2" },
		{ "a,b,c\n1,2,3\n1,2,3,4,5\n",
		  "bad.csv:3:7: expected 3 fields as in line 1, found 5" },
		{ "a,b,c\n1,2,3\n1,2.5\n",
		  "bad.csv:3:6: expected 3 fields as in line 1, found 2" },
		{ "a,b,c\n1,,3\n",
		  "bad.csv:2:3: empty field" },
		{ "a,b,c\n1,2,\n",
		  "bad.csv:2:5: empty field" },
		{ "a,b,c\n1,2,NA\n",
		  "bad.csv:2:5: missing value 'NA'" },
		{ "a,b,c\n1,nan,3\n",
		  "bad.csv:2:3: field 'nan' is not a finite number" },
		{ "a,b,c\n1,-inf,3\n",
		  "field '-inf' is not a finite number" },
		{ "a,b,c\n1,0x1F,3\n",
		  "bad.csv:2:3: field '0x1F' is hexadecimal" },
		{ "a,b,c\n1,1.5x,3\n",
		  "bad.csv:2:3: field '1.5x' is not a number" },
		{ "a,b,c\n1,12 ,3\n",
		  "field '12 ' is not a number" },
		{ "a,b,c\n1,1e999,3\n",
		  "bad.csv:2:3: field '1e999' is out of range" },
		{ "a,b,c\n1,3.5e38,3\n",
		  "bad.csv:2:3: field '3.5e38' is beyond the float32 range" },
		{ "1,3.5e38,3\n",
		  "bad.csv:1:3: field '3.5e38' is beyond the float32 range" },
		/* Above FLT_MAX as a double, though float rounding would give FLT_MAX. */
		{ "1,340282356779733661637539395458142568447.9999,3\n",
		  "bad.csv:1:3: field '340282356779733661637539395458142568447....' is beyond" },
		{ "a,b,c\n1,2,3\n2.5,2,3\n",
		  "bad.csv:3:1: label 2.5 is not a whole number" },
		{ "a,b,c\n-1,2,3\n",
		  "bad.csv:2:1: label -1 is negative" },
		{ "a,b,c\n2000000,2,3\n",
		  "bad.csv:2:1: label 2000000 is over the limit of 1000000" },
		{ "a,b,c\ncat,2,3\n",
		  "bad.csv:2:1: label 'cat' is not a number" },
		{ "a,b,c\n,2,3\n",
		  "bad.csv:2:1: empty label" },
	};
	expect_csv_fails(field_cases, sizeof field_cases / sizeof field_cases[0], &o);
	/* Underflow is not out of range: it reads as 0 (and -0), as strtod rounds it. */
	static const float under[4] = { 0.0f, 3.0f, -0.0f, 5.0f };
	got_t g;
	read_text("a,b,c\n1,1e-999,3\n2,-1e-400,5\n", &o, &g);
	assert_int_equal(g.rows, 2);
	assert_memory_equal(g.x, under, sizeof under);
	assert_int_equal(g.y[0], 1);
	assert_int_equal(g.y[1], 2);
	got_free(&g);
	o.n_classes = 10;
	expect_csv_fail("a,b,c\n9,2,3\n12,2,3\n", &o, "bad.csv:3:1: label 12 is outside the model's 10 outputs");
	expect_csv_fail("12,2,3\n", &o, "bad.csv:1:1: label 12 is outside the model's 10 outputs");
	o.n_classes = 0;
	o.label = NNP_LABEL_LAST;
	expect_csv_fail("1,2,3.5\n", &o, "bad.csv:1:5: label 3.5 is not a whole number");
	expect_csv_fail("a,b,c\n1,2,-4\n", &o, "bad.csv:2:5: label -4 is negative");
	o.label = NNP_LABEL_FIRST;
	o.expect_features = 3;
	expect_csv_fail("a,b,c\n1,2,3\n", &o,
	                "bad.csv:1:1: 2 feature columns (3 fields, less the label) but the model has 3 inputs");
	o.expect_features = 2;
	read_text("a,b,c\n1,2,3\n", &o, &g);
	got_free(&g);
	o.expect_features = 0;
	/* Zero data rows: an empty file, only a header, only empty lines. */
	expect_csv_fail("", &o, "bad.csv: no data rows");
	expect_csv_fail("a,b,c\n", &o, "bad.csv: no data rows");
	expect_csv_fail("a,b,c\n\n\r\n", &o, "bad.csv: no data rows");
	expect_csv_fail("\n\r\n\n", &o, "bad.csv: no data rows");
	expect_csv_fail("a,b\n1,2\n\rx\n", &o, "bad.csv:3:1: carriage return without a line feed");

	/* A field longer than the cap, on both paths. */
	nnp_tbuf b = { 0 };
	nnp_tb_putn(&b, "a,b\n1,", 6);
	tb_repeat(&b, "7", 5000);
	nnp_tb_putn(&b, "\n", 1);
	expect_csv_fail(b.p, &o, "bad.csv:2:3: field longer than 4096 bytes");
	b.len = 0;
	nnp_tb_putn(&b, "a,b\n1,\"", 7);
	tb_repeat(&b, "\"\"", 5000);
	nnp_tb_putn(&b, "\"\n", 2);
	expect_csv_fail(b.p, &o, "bad.csv:2:3: field longer than 4096 bytes");
	/* 4096 digits is still a field, and a number. */
	b.len = 0;
	nnp_tb_putn(&b, "a,b\n1,", 6);
	tb_repeat(&b, "0", 4060);
	tb_repeat(&b, "1", 4096 - 4060);
	float want = ref(b.p + 6);
	nnp_tb_putn(&b, "\n", 1);
	read_text(b.p, &o, &g);
	assert_int_equal(g.rows, 1);
	assert_true(g.x[0] == want);
	got_free(&g);

	/* Over the column cap. */
	b.len = 0;
	tb_repeat(&b, "0,", NNP_MAX_COLUMNS + 1);
	b.p[b.len - 1] = '\n';
	o.header = NNP_HEADER_YES;
	expect_csv_fail(b.p, &o, "bad.csv:1:2000001: more than 1000000 fields");
	free(b.p);
}

static void test_bad_options(void **state)
{
	(void)state;
	char *p = put_str("o.csv", "a,b\n1,2\n");
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.label = NNP_LABEL_NAME;
	expect_fail(p, &o, NNP_EUSAGE, "needs the name");
	o.label_name = "a";
	o.header = NNP_HEADER_NO;
	expect_fail(p, &o, NNP_EUSAGE, "no header");
	nnp_data_opts o2 = NNP_DATA_OPTS_INIT;
	o2.delimiter = '"';
	expect_fail(p, &o2, NNP_EUSAGE, "delimiter");
	o2.delimiter = '.';
	expect_fail(p, &o2, NNP_EUSAGE, "delimiter");
	nnp_data_opts o3 = NNP_DATA_OPTS_INIT;
	o3.labels_path = p;
	expect_fail(p, &o3, NNP_EUSAGE, "a labels file is for IDX data");
	free(p);
	char *missing = tu_path(g_dir, "missing.csv");
	nnp_data_opts o4 = NNP_DATA_OPTS_INIT;
	expect_fail(missing, &o4, NNP_EINPUT, "missing.csv: cannot open");
	free(missing);
}

/* After an error the reader repeats it rather than resuming mid-record. */
static void test_error_sticks(void **state)
{
	(void)state;
	char *p = put_str("s.csv", "a,b\n1,2\n1,x\n1,3\n");
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.label = NNP_LABEL_FIRST; /* headers here name no label column */
	nnp_reader *r;
	nnp_err err;
	float x[8];
	int32_t y[8];
	size_t got;
	assert_int_equal(nnp_reader_open(&r, p, &o, &err), 0);
	assert_int_equal(nnp_reader_read(r, x, y, 8, &got, &err), NNP_EINPUT);
	tu_expect_msg(&err, "s.csv:3:3: field 'x' is not a number");
	nnp_err_clear(&err);
	assert_int_equal(nnp_reader_read(r, x, y, 8, &got, &err), NNP_EINPUT);
	assert_int_equal(got, 0);
	tu_expect_msg(&err, "s.csv:3:3:");
	nnp_reader_close(r);
	free(p);
}

/* ---- CSV: batches, buffers, gzip -------------------------------------- */

/* A labelled CSV text and the values it holds. */
typedef struct csv_t {
	float *x;     /* [rows][cols] */
	int32_t *y;   /* [rows] */
	char *text;
	size_t len;
} csv_t;

static void csv_free(csv_t *c)
{
	free(c->x);
	free(c->y);
	free(c->text);
}

/* A labelled CSV of rows x cols with assorted number spellings, with the
 * values it should read back as. */
static csv_t make_csv(size_t rows, size_t cols, uint64_t seed, int crlf)
{
	csv_t c = { malloc(rows * cols * sizeof(float)), malloc(rows * sizeof(int32_t)), NULL, 0 };
	assert_true(c.x && c.y);
	float *x = c.x;
	int32_t *y = c.y;
	tu_rng rng = { seed };
	nnp_tbuf b = { 0 };
	nnp_tb_putn(&b, "label", 5);
	for (size_t j = 0; j < cols; j++)
		nnp_tb_printf(&b, ",p%zu", j);
	nnp_tb_putn(&b, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
	for (size_t i = 0; i < rows; i++) {
		y[i] = (int32_t)(tu_next(&rng) % 10);
		nnp_tb_printf(&b, "%d", y[i]);
		for (size_t j = 0; j < cols; j++) {
			char f[64];
			switch (tu_next(&rng) % 7) {
			case 0: snprintf(f, sizeof f, "0"); break;
			case 1: snprintf(f, sizeof f, "%d", (int)(tu_next(&rng) % 256)); break;
			case 2: snprintf(f, sizeof f, "%.9g", tu_uniform(&rng, -1e3, 1e3)); break;
			case 3: snprintf(f, sizeof f, "%.3e", tu_uniform(&rng, -1, 1)); break;
			case 4: snprintf(f, sizeof f, "%llu", (unsigned long long)(tu_next(&rng) >> 1)); break;
			case 5: snprintf(f, sizeof f, "-%d", (int)(tu_next(&rng) % 100000)); break;
			default: snprintf(f, sizeof f, "%.17g", tu_uniform(&rng, 0, 1)); break;
			}
			x[i * cols + j] = ref(f);
			if (tu_next(&rng) % 13 == 0)
				nnp_tb_printf(&b, ",\"%s\"", f);
			else
				nnp_tb_printf(&b, ",%s", f);
		}
		nnp_tb_putn(&b, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
	}
	assert_false(b.oom);
	c.text = b.p;
	c.len = b.len;
	return c;
}

static void check_against(const got_t *g, const float *x, const int32_t *y, size_t rows,
                          size_t cols)
{
	assert_int_equal(g->rows, rows);
	assert_int_equal(g->nf, cols);
	for (size_t i = 0; i < rows * cols; i++)
		if (memcmp(&g->x[i], &x[i], sizeof(float)))
			fail_msg("value %zu (row %zu): %.9g != %.9g", i, i / cols, (double)g->x[i],
			         (double)x[i]);
	assert_memory_equal(g->y, y, rows * sizeof *y);
}

static void test_csv_batches(void **state)
{
	(void)state;
	const size_t rows = 50, cols = 9;
	csv_t c = make_csv(rows, cols, 7, 0);
	char *p = put("b.csv", c.text, c.len);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	got_t whole, part;
	nnp_err err;
	assert_int_equal(slurp(p, &o, 1000, 0, &whole, &err), 0);
	check_against(&whole, c.x, c.y, rows, cols);
	assert_int_equal(whole.offset, c.len);
	const size_t batches[] = { 1, 3, 7, 49, 50, 51 };
	for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
		assert_int_equal(slurp(p, &o, batches[i], 0, &part, &err), 0);
		same_data(&whole, &part);
		got_free(&part);
	}
	/* Without a label buffer the labels are still checked. */
	nnp_reader *r;
	float xb[9];
	size_t got, total = 0;
	o.n_classes = 5;
	assert_int_equal(nnp_reader_open(&r, p, &o, &err), 0);
	int rc;
	while ((rc = nnp_reader_read(r, xb, NULL, 1, &got, &err)) == 0 && got)
		total += got;
	assert_int_equal(rc, NNP_EINPUT);
	tu_expect_msg(&err, "outside the model's 5 outputs");
	nnp_reader_close(r);
	got_free(&whole);
	free(p);
	csv_free(&c);
}

static void test_csv_buffer_boundaries(void **state)
{
	(void)state;
	/* Long lines through the smallest buffer: records, fields, quotes and
	 * CRLF pairs land on every side of the buffer end. */
	const size_t rows = 120, cols = 700;
	for (int crlf = 0; crlf < 2; crlf++) {
		csv_t c = make_csv(rows, cols, 11 + (uint64_t)crlf, crlf);
		size_t len = c.len;
		char *p = put("long.csv", c.text, len);
		nnp_data_opts o = NNP_DATA_OPTS_INIT;
		got_t g;
		nnp_err err;
		assert_true(len > 20 * NNP_DATA_BUF_MIN);
		if (slurp(p, &o, 5, NNP_DATA_BUF_MIN, &g, &err))
			fail_msg("%s", err.msg);
		check_against(&g, c.x, c.y, rows, cols);
		assert_int_equal(g.offset, len);
		got_free(&g);
		if (slurp(p, &o, 5, NNP_DATA_BUF_MIN + 37, &g, &err))
			fail_msg("%s", err.msg);
		check_against(&g, c.x, c.y, rows, cols);
		got_free(&g);
		/* An error after many refills still names its line and column. */
		char *bad = malloc(len + 64);
		memcpy(bad, c.text, len);
		size_t blen = len + (size_t)sprintf(bad + len, "1,2%s", crlf ? "\r\n" : "\n");
		char *pb = put("longbad.csv", bad, blen);
		assert_int_equal(slurp(pb, &o, 5, NNP_DATA_BUF_MIN, &g, &err), NNP_EINPUT);
		char want[128];
		snprintf(want, sizeof want, "longbad.csv:%zu:4: expected %zu fields as in line 1, found 2",
		         rows + 2, cols + 1);
		tu_expect_msg(&err, want);
		got_free(&g);
		free(pb);
		free(bad);
		csv_free(&c);
		free(p);
	}

	/* A file larger than the default buffer, plain and gzip'd. */
	const size_t rows2 = 2000, cols2 = 100;
	csv_t c = make_csv(rows2, cols2, 5, 0);
	size_t len = c.len;
	assert_true(len > NNP_DATA_BUF + NNP_DATA_BUF / 2);
	char *p = put("big.csv", c.text, len);
	char *pz = put_gz("big.csv.gz", c.text, len);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	got_t g, gz;
	read_ok(p, &o, &g);
	check_against(&g, c.x, c.y, rows2, cols2);
	read_ok(pz, &o, &gz);
	same_data(&g, &gz);
	assert_int_equal(gz.offset, len);

	/* A gzip file cut short is an error, wherever the cut. */
	size_t zlen;
	unsigned char *z = tu_read(pz, &zlen);
	const size_t cuts[] = { 10, 30, zlen / 3, zlen / 2, zlen - 9, zlen - 4, zlen - 1 };
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		char *pt = put("cut.csv.gz", z, cuts[i]);
		expect_fail(pt, &o, NNP_EINPUT, "truncated");
		free(pt);
	}
	free(z);
	got_free(&g);
	got_free(&gz);
	csv_free(&c);
	free(p);
	free(pz);
}

/* Integer-only rows: the fast paths (one row and two rows at a time). */
static char *make_int_csv(size_t rows, size_t cols, uint64_t seed, int crlf, int label_last,
                          float *x, int32_t *y, size_t *len)
{
	tu_rng rng = { seed };
	nnp_tbuf b = { 0 };
	const char *eol = crlf ? "\r\n" : "\n";
	for (size_t i = 0; i < rows; i++) {
		y[i] = (int32_t)(tu_next(&rng) % 10);
		if (!label_last)
			nnp_tb_printf(&b, "%d,", y[i]);
		for (size_t j = 0; j < cols; j++) {
			char f[64];
			uint64_t k = tu_next(&rng) % 20;
			if (k < 9)
				snprintf(f, sizeof f, "0");
			else if (k < 18)
				snprintf(f, sizeof f, "%d", (int)(tu_next(&rng) % 256));
			else if (k < 19)   /* 1 to 19 digits: both sides of the 8 and 15 limits */
				snprintf(f, sizeof f, "%llu", (unsigned long long)(tu_next(&rng) >>
				                                                    (tu_next(&rng) % 64)));
			else
				snprintf(f, sizeof f, "%07d", (int)(tu_next(&rng) % 10000000));
			x[i * cols + j] = ref(f);
			nnp_tb_printf(&b, "%s%s", f, j + 1 < cols ? "," : "");
		}
		if (label_last)
			nnp_tb_printf(&b, ",%d", y[i]);
		nnp_tb_putn(&b, eol, strlen(eol));
	}
	*len = b.len;
	return b.p;
}

static void test_csv_integer_rows(void **state)
{
	(void)state;
	const size_t rows = 301, cols = 37;
	float *x = malloc(rows * cols * sizeof *x);
	int32_t *y = malloc(rows * sizeof *y);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.header = NNP_HEADER_NO;
	for (int v = 0; v < 4; v++) {
		size_t len;
		char *text = make_int_csv(rows, cols, 100 + (uint64_t)v, v & 1, v >> 1, x, y, &len);
		char *p = put("int.csv", text, len);
		o.label = v >> 1 ? NNP_LABEL_LAST : NNP_LABEL_FIRST;
		const size_t batches[] = { 1, 2, 3, 7, 64, 400 };
		for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
			for (int small = 0; small < 2; small++) {
				got_t g;
				nnp_err err;
				if (slurp(p, &o, batches[i], small ? NNP_DATA_BUF_MIN : 0, &g, &err))
					fail_msg("%s", err.msg);
				check_against(&g, x, y, rows, cols);
				assert_int_equal(g.offset, len);
				got_free(&g);
			}
		}
		free(p);
		free(text);
	}
	/* Errors in either row of a pair, reported by the one-row path. */
	o.label = NNP_LABEL_FIRST;
	o.n_classes = 4;
	/* Each: a file, the error it gets. */
	static const char *const pair_cases[][2] = {
		{ "1,2,3\n4,5,6\n3,8,9\n",
		  "bad.csv:2:1: label 4 is outside the model's 4" },
		{ "1,2,3\n3,5,6\n7,8,9\n",
		  "bad.csv:3:1: label 7 is outside the model's 4" },
		{ "1,2,3\n3,5,6\n3,8,9\n4,8,9\n",
		  "bad.csv:4:1: label 4 is outside the model's 4" },
		{ "1,2,3\n3,5,6\n3,8\n2,8,9\n",
		  "bad.csv:3:4: expected 3 fields as in line 1, found 2" },
		{ "1,2,3\n3,5,6\n3,8,9,1\n2,8,9\n",
		  "bad.csv:3:7: expected 3 fields as in line 1, found 4" },
		{ "1,2,3\n3,5,6\n3,8,9\n2,8,9.\n1,x,1\n",
		  "bad.csv:5:3: field 'x' is not a number" },
	};
	expect_csv_fails(pair_cases, sizeof pair_cases / sizeof pair_cases[0], &o);
	got_t g;
	read_text("1,2,3\n3,5,6\n\n3,8,9\r\n2,8,9.5\n1,1,1\n", &o, &g);
	assert_int_equal(g.rows, 5);
	assert_true(g.x[7] == 9.5f);
	assert_int_equal(g.y[4], 1);
	got_free(&g);
	free(x);
	free(y);
}

static void test_csv_gzip_small_and_stdin(void **state)
{
	(void)state;
	const char *text = "label,a,b\r\n1,2,3.25\r\n0,\"4\",5\r\n";
	char *p = put_str("s.csv", text);
	char *pz = put_gz("s.csv.gz", text, strlen(text));
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	got_t a, b, c;
	read_ok(p, &o, &a);
	read_ok(pz, &o, &b);
	same_data(&a, &b);
	/* "-" reads standard input (here the .gz file, so it inflates too). */
	int saved = dup(0);
	int fd = open(pz, O_RDONLY);
	assert_true(saved >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, 0), 0);
	close(fd);
	read_ok("-", &o, &c);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	same_data(&a, &c);
	got_free(&a);
	got_free(&b);
	got_free(&c);
	free(p);
	free(pz);
}

/* Buffers sized to the input: an empty or small file or memory costs 64
 * bytes, a 3,000-byte one 3,001 (its bytes and one to see the end), a pipe
 * or a file over the buffer the buffer asked for. */
static void test_buffers_sized_to_input(void **state)
{
	(void)state;
	nnp_err err;
	nnp_src s;
	char *empty = put("empty.csv", "", 0);
	char big[3000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = i % 4 == 3 ? '\n' : i % 2 ? ',' : '1';
	char *p3k = put("3k.csv", big, sizeof big);
	assert_int_equal(nnp_src_open(&s, empty, NNP_DATA_BUF, &err), NNP_OK);
	assert_int_equal(s.cap, 64);
	nnp_src_close(&s);
	assert_int_equal(nnp_src_open(&s, p3k, NNP_DATA_BUF, &err), NNP_OK);
	assert_int_equal(s.cap, 3001);
	nnp_src_close(&s);
	assert_int_equal(nnp_src_open(&s, p3k, NNP_DATA_BUF_MIN, &err), NNP_OK);
	assert_int_equal(s.cap, 3001);
	nnp_src_close(&s);
	assert_int_equal(nnp_src_open_mem(&s, "m", "1,2\n", 4, NNP_DATA_BUF, &err), NNP_OK);
	assert_int_equal(s.cap, 64);
	nnp_src_close(&s);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	char dev[32];
	snprintf(dev, sizeof dev, "/dev/fd/%d", fds[0]);
	assert_int_equal(write(fds[1], "1\n", 2), 2);
	close(fds[1]);
	assert_int_equal(nnp_src_open(&s, dev, NNP_DATA_BUF, &err), NNP_OK);
	assert_int_equal(s.cap, NNP_DATA_BUF);
	nnp_src_close(&s);
	close(fds[0]);
	/* A quoted field with escapes and a label in a small file: the field
	 * copies are sized to the buffer too. */
	char *q = put_str("quoted_small.csv", "\"y\",\"a\"\"b\"\n\"1\",2\n");
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	got_t g;
	read_ok(q, &o, &g);
	assert_int_equal(g.rows, 1);
	assert_int_equal(g.nf, 1);
	assert_true(g.x[0] == 2.0f && g.y[0] == 1);
	got_free(&g);
	free(empty);
	free(p3k);
	free(q);
}

/* ---- IDX -------------------------------------------------------------- */

static void be32put(unsigned char *b, uint32_t v)
{
	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

/* An IDX file of type `type` with the given dims; values from vals. */
static unsigned char *make_idx(unsigned char type, unsigned nd, const uint32_t *dims,
                               const double *vals, size_t nvals, size_t *len)
{
	size_t isz = type == 0x08 || type == 0x09 ? 1 : type == 0x0B ? 2 : type == 0x0E ? 8 : 4;
	size_t n = 4 + 4 * nd + nvals * isz;
	unsigned char *b = calloc(1, n + 1);
	assert_non_null(b);
	b[2] = type;
	b[3] = (unsigned char)nd;
	for (unsigned i = 0; i < nd; i++)
		be32put(b + 4 + 4 * i, dims[i]);
	unsigned char *d = b + 4 + 4 * nd;
	for (size_t i = 0; i < nvals; i++) {
		double v = vals[i];
		switch (type) {
		case 0x08: d[i] = (unsigned char)v; break;
		case 0x09: d[i] = (unsigned char)(int8_t)v; break;
		case 0x0B: {
			uint16_t u = (uint16_t)(int16_t)v;
			d[2 * i] = (unsigned char)(u >> 8);
			d[2 * i + 1] = (unsigned char)u;
			break;
		}
		case 0x0C: be32put(d + 4 * i, (uint32_t)(int32_t)v); break;
		case 0x0D: {
			float f = (float)v;
			uint32_t u;
			memcpy(&u, &f, 4);
			be32put(d + 4 * i, u);
			break;
		}
		default: {
			uint64_t u;
			memcpy(&u, &v, 8);
			be32put(d + 8 * i, (uint32_t)(u >> 32));
			be32put(d + 8 * i + 4, (uint32_t)u);
			break;
		}
		}
	}
	*len = n;
	return b;
}

#define NIMG 5
#define NH 3
#define NW 4

static double img_vals[NIMG * NH * NW];
static double lab_vals[NIMG] = { 3, 1, 4, 1, 5 };

static void fill_images(int signed_vals, int fractional)
{
	for (size_t i = 0; i < NIMG * NH * NW; i++) {
		double v = (double)((i * 37) % 256);
		if (signed_vals)
			v -= 128;
		if (fractional)
			v = v / 7.0 - 3.25;
		img_vals[i] = v;
	}
}

/* Reads path with the smallest and with the default buffer: both must fail
 * with the same status and message, which must contain sub. */
static void expect_same_fail(const char *path, const nnp_data_opts *o, const char *sub)
{
	got_t g;
	nnp_err small, whole;
	assert_int_equal(slurp(path, o, 7, NNP_DATA_BUF_MIN, &g, &small), NNP_EINPUT);
	got_free(&g);
	assert_int_equal(slurp(path, o, 7, 0, &g, &whole), NNP_EINPUT);
	got_free(&g);
	assert_string_equal(small.msg, whole.msg);
	tu_expect_msg(&whole, sub);
}

/* Damage in a gzip stream after good bytes: the reader sees those bytes
 * first, so the first error in the stream is reported, whether the buffer
 * reached the damage at once (the default, sized to a small file) or only
 * after many refills (the smallest). */
static void test_gzip_damage_after_rows(void **state)
{
	(void)state;
	nnp_tbuf t = { 0 };
	for (int i = 0; i < 4000; i++)
		nnp_tb_printf(&t, "%d,%d,%d\n", i % 10, i, 2 * i);
	size_t at_long = t.len;
	nnp_tb_putc(&t, '1');
	nnp_tb_putc(&t, ',');
	for (int i = 0; i < 5000; i++)
		nnp_tb_putc(&t, '7');
	nnp_tb_printf(&t, ",1\n");
	for (int i = 0; i < 2000; i++)
		nnp_tb_printf(&t, "%d,%d,%d\n", i % 10, i, 2 * i);
	assert_true(at_long > 4 * NNP_DATA_BUF_MIN);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	/* The stream's CRC-32 (its last 8 bytes but 4) broken: the long field
	 * on line 4001 comes first. */
	char *p = put_gz("dmg.csv.gz", t.p, t.len);
	size_t zlen;
	unsigned char *z = tu_read(p, &zlen);
	z[zlen - 8] ^= 1;
	tu_write(p, z, zlen);
	expect_same_fail(p, &o, "dmg.csv.gz:4001:3: field longer than 4096 bytes");
	/* Cut short instead: the same. */
	tu_write(p, z, zlen - 200);
	expect_same_fail(p, &o, "dmg.csv.gz:4001:3: field longer than 4096 bytes");
	free(z);
	free(p);
	/* Without the long field, the damage itself, at the same byte both ways. */
	t.len = at_long;
	p = put_gz("dmg2.csv.gz", t.p, t.len);
	z = tu_read(p, &zlen);
	z[zlen - 8] ^= 1;
	tu_write(p, z, zlen);
	expect_same_fail(p, &o, "invalid gzip data (incorrect data check)");
	free(z);
	free(p);
	/* IDX: images cut short inside the gzip stream, labels with a wrong
	 * magic: the images' header is good, so the labels' is checked first. */
	uint32_t dims[3] = { 40, 28, 28 };
	double *vals = calloc(40 * 28 * 28, sizeof *vals);
	assert_non_null(vals);
	for (size_t i = 0; i < 40 * 28 * 28; i++)
		vals[i] = (double)((i * 131) % 256);
	size_t ilen;
	unsigned char *img = make_idx(0x08, 3, dims, vals, 40 * 28 * 28, &ilen);
	assert_true(ilen > 2 * NNP_DATA_BUF_MIN);
	char *pi = put_gz("dmg.idx.gz", img, ilen);
	z = tu_read(pi, &zlen);
	tu_write(pi, z, zlen / 2);
	const unsigned char badlab[12] = { 0, 0, 0x07, 1, 0, 0, 0, 40 };
	char *pl = put("dmgl.idx", badlab, sizeof badlab);
	o.labels_path = pl;
	expect_same_fail(pi, &o, "dmgl.idx: byte 2: unknown IDX type 0x07");
	free(z);
	free(img);
	free(vals);
	free(pi);
	free(pl);
	nnp_tb_free(&t);
}

/* The bytes zlib itself inflates from a gzip stream before it runs out of
 * input: with all the room it wants, in one call (the reference for the
 * truncation's offset, computed without the reader). */
static size_t zlib_inflated(const unsigned char *z, size_t zlen, size_t room)
{
	unsigned char *out = malloc(room);
	assert_non_null(out);
	z_stream s;
	memset(&s, 0, sizeof s);
	assert_int_equal(inflateInit2(&s, 15 + 16), Z_OK);
	s.next_in = (unsigned char *)z;
	s.avail_in = (uInt)zlen;
	s.next_out = out;
	s.avail_out = (uInt)room;
	int zr = inflate(&s, Z_NO_FLUSH);
	assert_true(zr == Z_OK || zr == Z_BUF_ERROR);
	size_t n = room - s.avail_out;
	inflateEnd(&s);
	free(out);
	return n;
}

/* A gzip stream cut short where inflate still holds output the reader's
 * buffer had no room for (long runs of one byte: a few input bytes make
 * kilobytes): every byte inflated reaches the reader before the stream is
 * called truncated, so the offset in the message is zlib's own count, with
 * the smallest buffer and the default one, at every cut. */
static void test_gzip_truncated_offset(void **state)
{
	(void)state;
	uint32_t dims[1] = { 5 * NNP_DATA_BUF_MIN };
	double *vals = calloc(dims[0], sizeof *vals);
	assert_non_null(vals);
	for (size_t i = 0; i < dims[0]; i++)
		vals[i] = (double)(0xce ^ (i / 4000));
	size_t ilen;
	unsigned char *img = make_idx(0x08, 1, dims, vals, dims[0], &ilen);
	char *p = put_gz("cut.idx.gz", img, ilen);
	size_t zlen;
	unsigned char *z = tu_read(p, &zlen);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.label = NNP_LABEL_NONE;
	/* From just after the 10-byte header to just before the 8-byte trailer. */
	for (size_t cut = 12; cut + 8 < zlen; cut++) {
		tu_write(p, z, cut);
		size_t want = zlib_inflated(z, cut, ilen + 64);
		char sub[96];
		snprintf(sub, sizeof sub, "cut.idx.gz: byte %zu: truncated gzip data", want);
		expect_same_fail(p, &o, sub);
	}
	free(z);
	free(p);
	free(img);
	free(vals);
}

typedef struct idx_pair {
	char *img, *lab;
	size_t img_len, lab_len;
	unsigned char *img_bytes, *lab_bytes;
} idx_pair;

static void make_pair(idx_pair *p, unsigned char type, int gz)
{
	uint32_t dims[3] = { NIMG, NH, NW };
	uint32_t ldims[1] = { NIMG };
	p->img_bytes = make_idx(type, 3, dims, img_vals, NIMG * NH * NW, &p->img_len);
	p->lab_bytes = make_idx(0x08, 1, ldims, lab_vals, NIMG, &p->lab_len);
	if (gz) {
		p->img = put_gz("img.idx.gz", p->img_bytes, p->img_len);
		p->lab = put_gz("lab.idx.gz", p->lab_bytes, p->lab_len);
	} else {
		p->img = put("img.idx", p->img_bytes, p->img_len);
		p->lab = put("lab.idx", p->lab_bytes, p->lab_len);
	}
}

static void free_pair(idx_pair *p)
{
	free(p->img);
	free(p->lab);
	free(p->img_bytes);
	free(p->lab_bytes);
}

/* The same data as CSV, for comparison. */
static char *pair_as_csv(void)
{
	nnp_tbuf b = { 0 };
	for (size_t i = 0; i < NIMG; i++) {
		nnp_tb_printf(&b, "%d", (int)lab_vals[i]);
		for (size_t j = 0; j < NH * NW; j++)
			nnp_tb_printf(&b, ",%.17g", (double)(float)img_vals[i * NH * NW + j]);
		nnp_tb_putn(&b, "\n", 1);
	}
	char *p = put("pair.csv", b.p, b.len);
	free(b.p);
	return p;
}

static void test_idx_matches_csv(void **state)
{
	(void)state;
	static const struct { unsigned char type; int sign, frac; } types[] = {
		{ 0x08, 0, 0 }, { 0x09, 1, 0 }, { 0x0B, 1, 0 }, { 0x0C, 1, 0 },
		{ 0x0D, 1, 1 }, { 0x0E, 1, 1 },
	};
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		fill_images(types[t].sign, types[t].frac);
		char *csv = pair_as_csv();
		nnp_data_opts oc = NNP_DATA_OPTS_INIT;
		got_t gc;
		read_ok(csv, &oc, &gc);
		for (int gz = 0; gz < 2; gz++) {
			idx_pair p;
			make_pair(&p, types[t].type, gz);
			nnp_data_opts o = NNP_DATA_OPTS_INIT;
			o.labels_path = p.lab;
			o.n_classes = 6;
			o.expect_features = NH * NW;
			got_t gi;
			nnp_err err;
			for (size_t batch = 1; batch <= 6; batch += 2) {
				assert_int_equal(slurp(p.img, &o, batch, 0, &gi, &err), 0);
				same_data(&gc, &gi);
				assert_int_equal(gi.offset, p.img_len);
				got_free(&gi);
			}
			nnp_reader *r;
			assert_int_equal(nnp_reader_open(&r, p.img, &o, &err), 0);
			assert_string_equal(nnp_reader_format(r), "idx");
			assert_int_equal(nnp_reader_total_rows(r), NIMG);
			assert_int_equal(nnp_reader_features(r), NH * NW);
			nnp_reader_close(r);
			/* Unlabelled reading ignores the labels. */
			o.label = NNP_LABEL_NONE;
			assert_int_equal(slurp(p.img, &o, 2, 0, &gi, &err), 0);
			assert_false(gi.labelled);
			assert_memory_equal(gi.x, gc.x, NIMG * NH * NW * sizeof(float));
			got_free(&gi);
			free_pair(&p);
		}
		got_free(&gc);
		free(csv);
	}
	/* Two dimensions: items are flat vectors. */
	{
		uint32_t dims[2] = { NIMG, NH * NW }, ld[1] = { NIMG };
		size_t ni, nl;
		fill_images(1, 1);
		unsigned char *bi = make_idx(0x0D, 2, dims, img_vals, NIMG * NH * NW, &ni);
		unsigned char *bl = make_idx(0x08, 1, ld, lab_vals, NIMG, &nl);
		char *pi = put("flat.idx", bi, ni), *pl = put("flatl.idx", bl, nl);
		nnp_data_opts o = NNP_DATA_OPTS_INIT;
		o.labels_path = pl;
		got_t g;
		read_ok(pi, &o, &g);
		assert_int_equal(g.nf, NH * NW);
		for (size_t i = 0; i < NIMG * NH * NW; i++)
			assert_true(g.x[i] == (float)img_vals[i]);
		got_free(&g);
		o.expect_features = 7;
		expect_fail(pi, &o, NNP_EINPUT, "items of 12 = 12 values but the model has 7 inputs");
		free(pi);
		free(pl);
		free(bi);
		free(bl);
	}
	/* u8 values are exact. */
	fill_images(0, 0);
	idx_pair p;
	make_pair(&p, 0x08, 0);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.labels_path = p.lab;
	got_t g;
	read_ok(p.img, &o, &g);
	for (size_t i = 0; i < NIMG * NH * NW; i++)
		assert_true(g.x[i] == (float)((i * 37) % 256));
	assert_int_equal(g.y[2], 4);
	got_free(&g);
	free_pair(&p);
}

static void test_idx_rejections(void **state)
{
	(void)state;
	fill_images(0, 0);
	idx_pair p;
	make_pair(&p, 0x08, 0);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	o.labels_path = p.lab;
	unsigned char *b = malloc(p.img_len + 16);
	assert_non_null(b);

	/* Hostile headers. */
	memcpy(b, p.img_bytes, p.img_len);
	b[2] = 0x07;
	char *q = put("h.idx", b, p.img_len);
	expect_fail(q, &o, NNP_EINPUT, "h.idx: byte 2: unknown IDX type 0x07");
	free(q);
	memcpy(b, p.img_bytes, p.img_len);
	b[3] = 0;
	q = put("h.idx", b, p.img_len);
	expect_fail(q, &o, NNP_EINPUT, "h.idx: byte 3: 0 dimensions");
	free(q);
	b[3] = 4;
	q = put("h.idx", b, p.img_len);
	expect_fail(q, &o, NNP_EINPUT, "h.idx: byte 3: 4 dimensions");
	free(q);
	memcpy(b, p.img_bytes, p.img_len);
	be32put(b + 4, 0xFFFFFFFFu);
	be32put(b + 8, 0xFFFFFFFFu);
	be32put(b + 12, 0xFFFFFFFFu);
	q = put("h.idx", b, p.img_len);
	expect_fail(q, &o, NNP_EINPUT, "h.idx: byte 8: items of 4294967295x4294967295 values are over the limit");
	free(q);
	be32put(b + 8, 0);
	q = put("h.idx", b, p.img_len);
	expect_fail(q, &o, NNP_EINPUT, "h.idx: byte 8: items of 0x4294967295 hold no values");
	free(q);
	/* A huge count with a short file: truncated, not a huge allocation. */
	memcpy(b, p.img_bytes, p.img_len);
	be32put(b + 4, 0xFFFFFFFFu);
	q = put("h.idx", b, p.img_len);
	nnp_data_opts ou = NNP_DATA_OPTS_INIT;
	ou.label = NNP_LABEL_NONE;
	expect_fail(q, &ou, NNP_EINPUT, "h.idx: byte 76: truncated: the header announces 51539607556 bytes");
	free(q);
	nnp_dataset *ds = (nnp_dataset *)1;
	nnp_err err;
	assert_int_equal(nnp_dataset_load(&ds, q = put("h.idx", b, p.img_len), &ou, 0, &err), NNP_EINPUT);
	assert_null(ds);
	free(q);

	/* Truncated at every byte, images and labels. */
	for (size_t k = 0; k < p.img_len; k++) {
		q = put("t.idx", p.img_bytes, k);
		expect_fail(q, &o, NNP_EINPUT,
		            k == 0 ? "no data rows" : k < 16 ? "truncated IDX header" : "truncated");
		free(q);
	}
	for (size_t k = 0; k < p.lab_len; k++) {
		q = put("tl.idx", p.lab_bytes, k);
		o.labels_path = q;
		expect_fail(p.img, &o, NNP_EINPUT, k < 8 ? "tl.idx: byte" : "truncated");
		free(q);
	}
	o.labels_path = p.lab;

	/* Trailing bytes. */
	memcpy(b, p.img_bytes, p.img_len);
	b[p.img_len] = 0;
	q = put("tr.idx", b, p.img_len + 1);
	expect_fail(q, &o, NNP_EINPUT, "tr.idx: byte 76: trailing data");
	free(q);
	memcpy(b, p.lab_bytes, p.lab_len);
	b[p.lab_len] = 1;
	q = put("trl.idx", b, p.lab_len + 1);
	o.labels_path = q;
	expect_fail(p.img, &o, NNP_EINPUT, "trl.idx: byte 13: trailing data");
	free(q);

	/* Count mismatch, wrong labels type or shape. */
	memcpy(b, p.lab_bytes, p.lab_len);
	be32put(b + 4, 4);
	q = put("cm.idx", b, p.lab_len - 1);
	o.labels_path = q;
	expect_fail(p.img, &o, NNP_EINPUT, "cm.idx: byte 4: 4 labels but");
	expect_fail(p.img, &o, NNP_EINPUT, "img.idx has 5 images");
	free(q);
	memcpy(b, p.lab_bytes, p.lab_len);
	b[2] = 0x0D;
	q = put("lt.idx", b, p.lab_len);
	o.labels_path = q;
	expect_fail(p.img, &o, NNP_EINPUT, "lt.idx: byte 2: labels must be unsigned bytes (type 08), found f32");
	free(q);
	o.labels_path = p.img;
	expect_fail(p.img, &o, NNP_EINPUT, "img.idx: byte 3: a labels file has 1 dimension, found 3");
	q = put_str("l.csv", "1\n2\n3\n4\n5\n");
	o.labels_path = q;
	expect_fail(p.img, &o, NNP_EINPUT, "l.csv: byte 0: not an IDX file");
	free(q);

	/* Labels out of range, feature count, options. */
	o.labels_path = p.lab;
	o.n_classes = 5;
	expect_fail(p.img, &o, NNP_EINPUT, "lab.idx: byte 12: label 5 is outside the model's 5 outputs");
	o.n_classes = 0;
	o.expect_features = 784;
	expect_fail(p.img, &o, NNP_EINPUT, "img.idx: byte 4: items of 3x4 = 12 values but the model has 784 inputs");
	o.expect_features = 0;
	o.labels_path = NULL;
	expect_fail(p.img, &o, NNP_EUSAGE, "need their labels file");
	o.labels_path = p.lab;
	o.label = NNP_LABEL_NAME;
	o.label_name = "y";
	expect_fail(p.img, &o, NNP_EUSAGE, "not a column");
	o.label = NNP_LABEL_FIRST;

	/* Zero rows. */
	uint32_t d0[3] = { 0, 28, 28 }, l0[1] = { 0 };
	size_t n0, nl0;
	unsigned char *z = make_idx(0x08, 3, d0, NULL, 0, &n0);
	unsigned char *zl = make_idx(0x08, 1, l0, NULL, 0, &nl0);
	q = put("z.idx", z, n0);
	char *ql = put("zl.idx", zl, nl0);
	o.labels_path = ql;
	expect_fail(q, &o, NNP_EINPUT, "z.idx: no data rows");
	free(q);
	free(ql);
	free(z);
	free(zl);

	/* Non-finite floats and doubles beyond float. */
	double bad[NIMG * NH * NW] = { 0 };
	uint32_t dims[3] = { NIMG, NH, NW };
	size_t nb;
	bad[7] = NAN;
	unsigned char *fb = make_idx(0x0D, 3, dims, bad, NIMG * NH * NW, &nb);
	q = put("nan.idx", fb, nb);
	o.labels_path = p.lab;
	expect_fail(q, &o, NNP_EINPUT, "nan.idx: byte 44: value nan is not a finite number");
	free(q);
	free(fb);
	bad[7] = 1e300;
	fb = make_idx(0x0E, 3, dims, bad, NIMG * NH * NW, &nb);
	q = put("big.idx", fb, nb);
	expect_fail(q, &o, NNP_EINPUT, "big.idx: byte 72: value 1e+300 is beyond the float32 range");
	free(q);
	free(fb);

	/* Truncated gzip. */
	char *gzp = put_gz("g.idx.gz", p.img_bytes, p.img_len);
	size_t zlen;
	unsigned char *zb = tu_read(gzp, &zlen);
	for (size_t k = 10; k < zlen; k += 3) {
		q = put("gcut.idx.gz", zb, k);
		expect_fail(q, &o, NNP_EINPUT, "gcut.idx.gz: byte");
		free(q);
	}
	free(zb);
	free(gzp);
	free(b);
	free_pair(&p);
}

/* ---- whole-file loading ----------------------------------------------- */

static void test_dataset_load(void **state)
{
	(void)state;
	const size_t rows = 3000, cols = 4;
	csv_t c = make_csv(rows, cols, 3, 0);
	char *p = put("d.csv", c.text, c.len);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	nnp_dataset *d;
	nnp_err err;
	assert_int_equal(nnp_dataset_load(&d, p, &o, 0, &err), 0);
	assert_int_equal(d->rows, rows);
	assert_int_equal(d->features, cols);
	assert_memory_equal(d->x, c.x, rows * cols * sizeof *c.x);
	assert_memory_equal(d->y, c.y, rows * sizeof *c.y);
	nnp_dataset_free(d);

	/* Exactly enough memory, then one byte less. */
	size_t need = rows * (cols * sizeof(float) + sizeof(int32_t));
	assert_int_equal(nnp_dataset_load(&d, p, &o, need, &err), 0);
	assert_int_equal(d->rows, rows);
	nnp_dataset_free(d);
	d = (nnp_dataset *)1;
	assert_int_equal(nnp_dataset_load(&d, p, &o, need - 1, &err), NNP_ETOOBIG);
	assert_null(d);
	tu_expect_msg(&err, "d.csv: the rows need more than");

	o.label = NNP_LABEL_NONE;
	assert_int_equal(nnp_dataset_load(&d, p, &o, 0, &err), 0);
	assert_null(d->y);
	assert_int_equal(d->features, cols + 1);
	assert_true(d->x[1] == c.x[0]);
	nnp_dataset_free(d);
	nnp_dataset_free(NULL);
	nnp_reader_close(NULL);

	char *e = put_str("e.csv", "a,b\n");
	d = (nnp_dataset *)1;
	assert_int_equal(nnp_dataset_load(&d, e, &o, 0, &err), NNP_EINPUT);
	assert_null(d);
	tu_expect_msg(&err, "e.csv: no data rows");
	free(e);
	free(p);
	csv_free(&c);
}

/* max_rows ends the reader after that many rows: the rest is neither read
 * nor checked; counting agrees with loading. */
static void test_max_rows(void **state)
{
	(void)state;
	const size_t rows = 700, cols = 3;
	csv_t c = make_csv(rows, cols, 3, 0);
	nnp_tbuf b = { 0 };
	nnp_tb_putn(&b, c.text, c.len);
	nnp_tb_printf(&b, "1,2,oops,4\n");
	char *p = put("m.csv", b.p, b.len);
	nnp_data_opts o = NNP_DATA_OPTS_INIT;
	nnp_err err;
	uint64_t n;
	/* A header, 700 rows, a bad row: reading it all meets the bad row. */
	assert_int_equal(nnp_data_count_rows(p, &o, &n, &err), NNP_EINPUT);
	tu_expect_msg(&err, "m.csv:702:5: field 'oops' is not a number");
	const size_t limits[] = { 1, 255, 256, 257, 700 };
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		o.max_rows = limits[i];
		nnp_dataset *d;
		assert_int_equal(nnp_dataset_load(&d, p, &o, 0, &err), 0);
		assert_int_equal(d->rows, limits[i]);
		assert_memory_equal(d->x, c.x, limits[i] * cols * sizeof *c.x);
		assert_memory_equal(d->y, c.y, limits[i] * sizeof *c.y);
		nnp_dataset_free(d);
		assert_int_equal(nnp_data_count_rows(p, &o, &n, &err), 0);
		assert_int_equal(n, limits[i]);
	}
	/* nnp_reader_fill: whole buffers through a small read buffer, short only at the end. */
	o.max_rows = 300;
	nnp_reader *fr;
	assert_int_equal(nnp_reader_open_buf(&fr, p, &o, NNP_DATA_BUF_MIN, &err), 0);
	float *fx = malloc(256 * cols * sizeof *fx);
	int32_t fy[256];
	size_t fgot;
	const size_t want[3] = { 256, 44, 0 };
	for (size_t k = 0; k < 3; k++) {
		assert_int_equal(nnp_reader_fill(fr, fx, fy, 256, &fgot, &err), 0);
		assert_int_equal(fgot, want[k]);
		if (fgot) {
			assert_memory_equal(fx, c.x + k * 256 * cols, fgot * cols * sizeof *fx);
			assert_memory_equal(fy, c.y + k * 256, fgot * sizeof *fy);
		}
	}
	nnp_reader_close(fr);
	free(fx);
	/* Beyond the file: all of it, so the bad row is met. */
	o.max_rows = 10000;
	assert_int_equal(nnp_data_count_rows(p, &o, &n, &err), NNP_EINPUT);

	/* IDX: the header's count is clamped, the rows are the first ones. */
	fill_images(0, 0);
	idx_pair ip;
	make_pair(&ip, 0x08, 1);
	nnp_data_opts io = NNP_DATA_OPTS_INIT;
	io.labels_path = ip.lab;
	io.max_rows = 3;
	nnp_reader *r;
	assert_int_equal(nnp_reader_open(&r, ip.img, &io, &err), 0);
	assert_int_equal(nnp_reader_total_rows(r), 3);
	float xb[4 * NH * NW];
	int32_t yb[4];
	size_t got;
	assert_int_equal(nnp_reader_read(r, xb, yb, 4, &got, &err), 0);
	assert_int_equal(got, 3);
	for (size_t i = 0; i < 3 * NH * NW; i++)
		assert_true(xb[i] == (float)img_vals[i]);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(yb[i], lab_vals[i]);
	assert_int_equal(nnp_reader_read(r, xb, yb, 4, &got, &err), 0);
	assert_int_equal(got, 0);
	nnp_reader_close(r);
	assert_int_equal(nnp_data_count_rows(ip.img, &io, &n, &err), 0);
	assert_int_equal(n, 3);
	io.max_rows = 0;
	assert_int_equal(nnp_data_count_rows(ip.img, &io, &n, &err), 0);
	assert_int_equal(n, NIMG);
	free_pair(&ip);
	free(b.p);
	free(p);
	csv_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_header_auto),
		cmocka_unit_test(test_csv_header_yes_no),
		cmocka_unit_test(test_csv_label_auto),
		cmocka_unit_test(test_csv_label_modes),
		cmocka_unit_test(test_csv_delimiter_crlf_bom),
		cmocka_unit_test(test_csv_quoted),
		cmocka_unit_test(test_csv_exact_values),
		cmocka_unit_test(test_parse_number_random),
		cmocka_unit_test(test_reader_identity),
		cmocka_unit_test(test_csv_rejections),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_error_sticks),
		cmocka_unit_test(test_csv_batches),
		cmocka_unit_test(test_csv_buffer_boundaries),
		cmocka_unit_test(test_gzip_damage_after_rows),
		cmocka_unit_test(test_gzip_truncated_offset),
		cmocka_unit_test(test_csv_integer_rows),
		cmocka_unit_test(test_csv_gzip_small_and_stdin),
		cmocka_unit_test(test_buffers_sized_to_input),
		cmocka_unit_test(test_idx_matches_csv),
		cmocka_unit_test(test_idx_rejections),
		cmocka_unit_test(test_dataset_load),
		cmocka_unit_test(test_max_rows),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
