/*
 * CSV reader (RFC 4180): records end in LF or CRLF, fields may be quoted with
 * "" escapes, embedded delimiters and line breaks; a leading UTF-8 BOM is
 * skipped and empty lines are ignored. Every field must be a decimal number.
 *
 * Speed: rows are parsed straight from the input buffer. Unquoted integers of
 * up to 15 digits (pixel data) and digits.digits decimals take an inline
 * fast path (csv_row), and two all-integer records at a time are parsed in
 * step when both are in the buffer (csv_pair); every other field goes
 * through csv_next_field and nnp_parse_number, which handle quotes, signs,
 * exponents, errors and the buffer end. The zero bytes after the buffer's
 * data stop every digit scan, so the fast paths never check bounds.
 *
 * Numbers and the locale: nnp_parse_number checks the syntax itself and
 * computes the exactly rounded double for up to 19 significant digits and
 * powers of ten up to 22 (Clinger's fast path: both operands are exact
 * doubles, so one IEEE operation rounds correctly). Only the rest goes to
 * strtod, on a NUL-terminated copy that already passed the syntax check.
 * strtod follows LC_NUMERIC, which nnprune never changes from the "C" locale
 * (it never calls setlocale); should an embedding program set a locale with a
 * decimal comma, strtod would stop at the '.', and the end-pointer check
 * turns that into an error rather than a wrong value.
 * A value is (float)(double)text, as numpy's float32(float(s)). The parser lives in
 * src/util/num.c, shared with the JSON model reader.
 */
#include <errno.h>
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_priv.h"

/* How a field ends. */
enum { T_DELIM, T_EOL, T_EOF, T_NEED, T_CR, T_OTHER };

/* One field as csv_next_field returns it. */
typedef struct csv_field {
	const unsigned char *s;   /* content, unquoted: in the buffer or scratch */
	size_t n;
	uint64_t line, col;       /* where the field starts */
	uint64_t eline, ecol;     /* where its terminator is */
	int term;                 /* T_DELIM, T_EOL or T_EOF */
} csv_field;

/* ---- messages --------------------------------------------------------- */

/* Field text for a message: at most 40 bytes, unprintable bytes as \xNN. */
static const char *show(const unsigned char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0, lim = n > 40 ? 40 : n;
	for (size_t i = 0; i < lim && k + 8 < cap; i++) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[k++] = (char)c;
		else
			k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
	}
	if (n > lim && k + 4 < cap) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

static int csv_err(const nnp_reader *r, nnp_err *err, uint64_t line, uint64_t col,
                   const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 5, 6)))
#endif
	;

/* Records "path:line:col: what". */
static int csv_err(const nnp_reader *r, nnp_err *err, uint64_t line, uint64_t col,
                   const char *fmt, ...)
{
	char what[NNP_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return nnp_err_set(err, NNP_EINPUT, "%s:%llu:%llu: %s", r->in.path, (unsigned long long)line,
	                   (unsigned long long)col, what);
}

static int lower_eq(const unsigned char *s, size_t n, const char *word)
{
	size_t i = 0;
	for (; i < n && word[i]; i++) {
		unsigned char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)word[i])
			return 0;
	}
	return i == n && !word[i];
}

/* Tokens that spreadsheets and data frames write for a missing value. */
static int is_missing(const unsigned char *s, size_t n)
{
	static const char *const tokens[] = { "na", "n/a", "#n/a", "null", "none", "nil",
	                                      "missing", "?", "-", "." };
	for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
		if (lower_eq(s, n, tokens[i]))
			return 1;
	return 0;
}

static int is_nonfinite(const unsigned char *s, size_t n)
{
	if (n && (*s == '+' || *s == '-')) {
		s++;
		n--;
	}
	return lower_eq(s, n, "inf") || lower_eq(s, n, "infinity") || lower_eq(s, n, "nan");
}

static int is_hex(const unsigned char *s, size_t n)
{
	if (n && (*s == '+' || *s == '-')) {
		s++;
		n--;
	}
	return n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

/* 1 if a field that is not a number looks like a column name: the evidence
 * for a header. Missing-value tokens are data gone wrong, not names. */
static int is_name_like(const unsigned char *s, size_t n, int kind)
{
	return kind == NNP_NUM_SYNTAX && !is_missing(s, n) && !is_nonfinite(s, n) && !is_hex(s, n);
}

/* 1 if a header field names the label column: label, target, class or y,
 * in any case. */
static int is_label_name(const unsigned char *s, size_t n)
{
	static const char *const names[] = { "label", "target", "class", "y" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t k = strlen(names[i]);
		if (n != k)
			continue;
		size_t j = 0;
		while (j < k && tolower(s[j]) == names[i][j])
			j++;
		if (j == k)
			return 1;
	}
	return 0;
}

/* Records why the field (line, col, s[0..n)) is not a usable number:
 * kind from nnp_parse_number, or NNP_NUM_OK when the value is beyond float. */
static int number_error(const nnp_reader *r, uint64_t line, uint64_t col, const unsigned char *s,
                        size_t n, int kind, int is_label, nnp_err *err)
{
	char t[256];
	const char *what = is_label ? "label" : "field";
	show(s, n, t, sizeof t);
	if (kind == NNP_NUM_EMPTY)
		return csv_err(r, err, line, col, "empty %s", what);
	if (kind == NNP_NUM_RANGE)
		return csv_err(r, err, line, col, "%s '%s' is out of range", what, t);
	if (kind == NNP_NUM_OK)
		return csv_err(r, err, line, col, "%s '%s' is beyond the float32 range", what, t);
	if (is_missing(s, n))
		return csv_err(r, err, line, col, "missing value '%s' in a %s", t, what);
	if (is_nonfinite(s, n))
		return csv_err(r, err, line, col, "%s '%s' is not a finite number", what, t);
	if (is_hex(s, n))
		return csv_err(r, err, line, col, "%s '%s' is hexadecimal; only decimal numbers are read",
		               what, t);
	if (r->csv.delim != '\t' && memchr(s, '\t', n))
		return csv_err(r, err, line, col, "%s '%s' is not a number (the file looks "
		               "tab-separated: --delimiter tab)", what, t);
	return csv_err(r, err, line, col, "%s '%s' is not a number", what, t);
}

/* Checks a label value; s[0..n) is its text as written. */
static int label_check(const nnp_reader *r, uint64_t line, uint64_t col, const unsigned char *s,
                       size_t n, double v, int32_t *y, nnp_err *err)
{
	char t[256];
	if (v < 0)
		return csv_err(r, err, line, col, "label %s is negative", show(s, n, t, sizeof t));
	if (v > NNP_MAX_LABEL)
		return csv_err(r, err, line, col, "label %s is over the limit of %d",
		               show(s, n, t, sizeof t), NNP_MAX_LABEL);
	int32_t k = (int32_t)v;
	if ((double)k != v)
		return csv_err(r, err, line, col, "label %s is not a whole number",
		               show(s, n, t, sizeof t));
	if (r->n_classes && (size_t)k == r->n_classes)
		return csv_err(r, err, line, col, "label %s is outside the model's %zu outputs "
		               "(labels run from 0 to %zu; if the file counts classes from 1, "
		               "subtract 1)", show(s, n, t, sizeof t), r->n_classes, r->n_classes - 1);
	if (r->n_classes && (size_t)k >= r->n_classes)
		return csv_err(r, err, line, col, "label %s is outside the model's %zu outputs",
		               show(s, n, t, sizeof t), r->n_classes);
	*y = k;
	return NNP_OK;
}

/* ---- fields and records ----------------------------------------------- */

static uint64_t col_at(const nnp_reader *r, size_t i)
{
	return nnp_src_at(&r->in, i) - r->csv.line_start + 1;
}

/* Classifies buf[i], the byte after a field's content; *adv = its length. */
static int term_at(const nnp_src *in, size_t i, unsigned char delim, size_t *adv)
{
	*adv = 1;
	if (i == in->len) {
		*adv = 0;
		return in->eof ? T_EOF : T_NEED;
	}
	unsigned char c = in->buf[i];
	if (c == delim)
		return T_DELIM;
	if (c == '\n')
		return T_EOL;
	if (c != '\r')
		return T_OTHER;
	if (i + 1 == in->len)
		return in->eof ? T_EOL : T_NEED;
	if (in->buf[i + 1] != '\n')
		return T_CR;
	*adv = 2;
	return T_EOL;
}

/* Refills keeping buf[from..]: for a field that the buffer end cut. */
static int csv_more(nnp_reader *r, size_t from, nnp_err *err)
{
	size_t added;
	int rc = nnp_src_refill(&r->in, from, &added, err);
	if (rc)
		return rc;
	if (added == 0 && !r->in.eof)   /* cannot happen: fields are capped */
		return csv_err(r, err, r->csv.line, col_at(r, 0), "record does not fit the buffer");
	return NNP_OK;
}

/* Scans an unquoted field from buf[start]; *end receives where it stops. */
static int scan_plain(nnp_reader *r, size_t start, size_t *end, size_t *adv, csv_field *f,
                      nnp_err *err)
{
	const nnp_src *in = &r->in;
	size_t i = start;
	int t;
	while ((t = term_at(in, i, r->csv.delim, adv)) == T_OTHER) {
		if (in->buf[i] == '\0')
			return csv_err(r, err, f->line, f->col, "NUL byte in a field");
		if (i - start >= NNP_MAX_FIELD_BYTES)
			return csv_err(r, err, f->line, f->col, "field longer than %u bytes",
			               NNP_MAX_FIELD_BYTES);
		i++;
	}
	*end = i;
	f->s = in->buf + start;
	f->n = i - start;
	return t;
}

/* Scans a quoted field from buf[start] (the opening quote), unescaping into
 * scratch; *line and *ls follow the line breaks inside it. */
static int scan_quoted(nnp_reader *r, size_t start, size_t *end, size_t *adv, csv_field *f,
                       uint64_t *line, uint64_t *ls, nnp_err *err)
{
	const nnp_src *in = &r->in;
	char *out = r->csv.scratch;
	size_t i = start + 1, k = 0;
	for (;;) {
		if (i == in->len) {
			if (!in->eof)
				return T_NEED;
			return csv_err(r, err, f->line, f->col, "unterminated quote");
		}
		unsigned char c = in->buf[i];
		if (c == '"') {
			if (i + 1 == in->len && !in->eof)
				return T_NEED;
			if (in->buf[i + 1] != '"') {
				i++;
				break;
			}
			i++;   /* "" is one quote */
		} else if (c == '\0') {
			return csv_err(r, err, f->line, f->col, "NUL byte in a field");
		} else if (c == '\n') {
			++*line;
			*ls = nnp_src_at(in, i + 1);
		}
		if (k == NNP_MAX_FIELD_BYTES)
			return csv_err(r, err, f->line, f->col, "field longer than %u bytes",
			               NNP_MAX_FIELD_BYTES);
		out[k++] = (char)c;
		i++;
	}
	int t = term_at(in, i, r->csv.delim, adv);
	if (t == T_OTHER)
		return csv_err(r, err, f->line, f->col, "text after a closing quote");
	*end = i;
	f->s = (const unsigned char *)out;
	f->n = k;
	return t;
}

/*
 * Reads the field at in->pos, refilling the buffer as needed, and moves past
 * its terminator (updating the line count). f->s stays valid until the next
 * call. Errors: NNP_EINPUT for a malformed field or a read error.
 */
static int csv_next_field(nnp_reader *r, csv_field *f, nnp_err *err)
{
	nnp_src *in = &r->in;
	nnp_csv *c = &r->csv;
	for (;;) {
		size_t start = in->pos, end = start, adv = 0;
		uint64_t line = c->line, ls = c->line_start;
		int t;
		f->line = line;
		f->col = nnp_src_at(in, start) - ls + 1;
		if (start < in->len && in->buf[start] == '"')
			t = scan_quoted(r, start, &end, &adv, f, &line, &ls, err);
		else
			t = scan_plain(r, start, &end, &adv, f, err);
		if (t < 0)
			return t;
		if (t == T_NEED) {
			/* Keep the field, read on, and scan it again from its start. */
			int rc = csv_more(r, start, err);
			if (rc)
				return rc;
			continue;
		}
		f->eline = line;
		f->ecol = nnp_src_at(in, end) - ls + 1;
		if (t == T_CR)
			return csv_err(r, err, f->eline, f->ecol, "carriage return without a line feed");
		if (t == T_EOL) {
			line++;
			ls = nnp_src_at(in, end + adv);
		}
		f->term = t;
		in->pos = end + adv;
		c->line = line;
		c->line_start = ls;
		return NNP_OK;
	}
}

/*
 * Moves to the start of the next record, skipping empty lines. Returns 1 if
 * a record starts at in->pos, 0 at the end of the input, or an error.
 */
static int csv_record_begin(nnp_reader *r, nnp_err *err)
{
	nnp_src *in = &r->in;
	nnp_csv *c = &r->csv;
	for (;;) {
		size_t adv, i = in->pos;
		int t = term_at(in, i, c->delim, &adv);
		if (t == T_EOF)
			return 0;
		if (t == T_NEED) {
			int rc = csv_more(r, i, err);
			if (rc)
				return rc;
			continue;
		}
		if (t == T_CR)
			return csv_err(r, err, c->line, col_at(r, i), "carriage return without a line feed");
		if (t != T_EOL)
			return 1;
		in->pos = i + adv;
		c->line++;
		c->line_start = nnp_src_at(in, in->pos);
	}
}

/* Message for a record with the wrong number of fields; counts the rest of
 * the record when it is too long. */
static int count_error(nnp_reader *r, uint64_t line, uint64_t col, size_t found, int more,
                       nnp_err *err)
{
	nnp_csv *c = &r->csv;
	if (more) {
		csv_field f;
		nnp_err ignore;
		int exact = 1;
		for (;;) {
			if (csv_next_field(r, &f, &ignore) < 0) {
				exact = 0;
				break;
			}
			found++;
			if (f.term != T_DELIM || found > NNP_MAX_COLUMNS)
				break;
		}
		if (!exact)
			return csv_err(r, err, line, col, "expected %zu fields as in line %llu, found more",
			               c->ncols, (unsigned long long)c->first_line);
	}
	return csv_err(r, err, line, col, "expected %zu fields as in line %llu, found %zu", c->ncols,
	               (unsigned long long)c->first_line, found);
}

/* ---- the hot loop ----------------------------------------------------- */

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CSV_SWAR 1
#else
#define CSV_SWAR 0
#endif

/*
 * Counts the digits at p and puts their value (modulo 2^64) in *val. The
 * byte after the run must be readable, as the buffer's zero padding ensures.
 * Little-endian GCC/Clang: most fields are 1 to 7 digits, found and converted
 * from one 8-byte load without a data-dependent loop (SWAR).
 */
static inline size_t lead_digits(const unsigned char *p, uint64_t *val)
{
	size_t n = 0;
	uint64_t acc = 0;
	*val = 0;
#if CSV_SWAR
	const uint64_t ones = UINT64_C(0x0101010101010101);
	uint64_t w;
	memcpy(&w, p, 8);
	/* A byte is a digit iff its high nibble is 3 and adding 6 keeps it so.
	 * A carry out of a byte >= 0xFA only disturbs the bytes after it, and
	 * that byte is already a non-digit: the first non-digit stays exact. */
	uint64_t bad = ((w & 0xF0 * ones) ^ 0x30 * ones) |
	               (((w + 0x06 * ones) & 0xF0 * ones) ^ 0x30 * ones);
	if (bad) {
		n = (size_t)__builtin_ctzll(bad) >> 3;
		if (n == 0)
			return 0;
		/* Digit values, the first one most significant, shifted up so the
		 * n digits fill the top bytes below zeros: an 8-digit number with
		 * leading zeros. Bytes past the run may borrow, but only upwards,
		 * and the shift drops them. */
		uint64_t d = (w - 0x30 * ones) << (64 - 8 * n);
		/* Byte k becomes 10*d_k + d_{k+1}: even bytes hold two-digit pairs. */
		d = d * 10 + (d >> 8);
		/* Pairs P0..P3 at bytes 0, 2, 4, 6: P0*10^6 + P1*10^4 + P2*10^2 + P3,
		 * as two 32-bit lanes multiplied at once. */
		const uint64_t m = UINT64_C(0x000000FF000000FF);
		d = ((d & m) * (100 + (UINT64_C(1000000) << 32)) +
		     ((d >> 16) & m) * (1 + (UINT64_C(10000) << 32))) >> 32;
		*val = d;
		return n;
	}
#endif
	unsigned c;
	while ((c = (unsigned)p[n] - '0') < 10u) {
		acc = acc * 10 + c;
		n++;
	}
	*val = acc;
	return n;
}

/*
 * Parses the record at in->pos into xo (features) and *y (label). Fields are
 * stored as they are read; a record with too many fields stops before
 * writing past the row.
 */
static int csv_row(nnp_reader *r, float *restrict xo, int32_t *y, nnp_err *err)
{
	nnp_src *in = &r->in;
	nnp_csv *c = &r->csv;
	const size_t ncols = c->ncols, lab = c->label_col;
	const unsigned char delim = c->delim;
	const unsigned char *p = in->buf + in->pos;
	size_t j = 0;
	csv_field f;
	int rc;
	for (;;) {
		uint64_t acc;
		size_t nd = lead_digits(p, &acc);
		/* The common case, kept minimal: an integer feature that is not the
		 * record's last field. 15 digits stay below 2^53 (and 2^63), so the
		 * conversion is one correct rounding, as through a double. */
		if (nd - 1 < 15 && p[nd] == delim && j != lab && j + 1 < ncols) {
			*xo++ = (float)(int64_t)acc;
			p += nd + 1;
			j++;
			continue;
		}
		const unsigned char *s = p, *e = NULL;   /* e: end of a fast field */
		const unsigned char *eol = NULL;         /* fast line end, still to count */
		double v = 0;
		int term = T_DELIM;
		if (nd - 1 < 15) {
			const unsigned char *t = p + nd;
			v = (double)acc;
			if (*t == '.') {
				/* digits.digits as in normalised pixels: Clinger's case with
				 * at most 15 digits, i.e. exact integers and one division. */
				uint64_t frac;
				size_t k = lead_digits(t + 1, &frac);
				if (k - 1 < 15 && nd + k <= 15) {
					v = (v * nnp_pow10_exact[k] + (double)frac) / nnp_pow10_exact[k];
					t += 1 + k;
				} else {
					t = p;   /* not a terminator: the general path decides */
				}
			}
			if (*t == delim) {
				e = t;
				p = t + 1;
			} else if (*t == '\n') {
				eol = e = t;
				p = t + 1;
				term = T_EOL;
			} else if (*t == '\r' && t[1] == '\n') {
				eol = e = t;
				p = t + 2;
				term = T_EOL;
			}
		}
		if (!e) {
			/* Anything else: quotes, signs, decimals, errors, buffer end. */
			in->pos = (size_t)(s - in->buf);
			rc = csv_next_field(r, &f, err);
			if (rc)
				return rc;
			int kind = nnp_parse_number(f.s, f.n, &v);
			if (kind == NNP_NUM_OK && j != lab && fabs(v) > FLT_MAX)
				kind = -1;
			if (kind)
				return number_error(r, f.line, f.col, f.s, f.n, kind < 0 ? NNP_NUM_OK : kind,
				                    j == lab, err);
			term = f.term;
			p = in->buf + in->pos;
		}
		if (j != lab) {
			*xo++ = (float)v;
		} else if (e) {
			rc = label_check(r, c->line, col_at(r, (size_t)(s - in->buf)), s, (size_t)(e - s), v,
			                 y, err);
			if (rc)
				return rc;
		} else {
			rc = label_check(r, f.line, f.col, f.s, f.n, v, y, err);
			if (rc)
				return rc;
		}
		j++;
		if (term == T_DELIM) {
			if (j < ncols)
				continue;
			in->pos = (size_t)(p - in->buf);
			return count_error(r, c->line, col_at(r, in->pos), j, 1, err);
		}
		if (j != ncols) {
			if (eol)
				return count_error(r, c->line, col_at(r, (size_t)(eol - in->buf)), j, 0, err);
			return count_error(r, f.eline, f.ecol, j, 0, err);
		}
		in->pos = (size_t)(p - in->buf);
		if (eol) {
			c->line++;
			c->line_start = nnp_src_at(in, in->pos);
		}
		return NNP_OK;
	}
}

/* 1 if p (inside the buffer) ends a record: LF or CRLF; *adv = its length. */
static inline int is_eol(const unsigned char *p, size_t *adv)
{
	if (p[0] == '\n') {
		*adv = 1;
		return 1;
	}
	*adv = 2;
	return p[0] == '\r' && p[1] == '\n';
}

/*
 * The two-row fast path. One field's parse is a chain of dependent steps
 * (load, find the first non-digit, move past it); two records parsed in
 * step give the processor two independent chains to overlap. It applies
 * when both records lie in the buffer and every field is a short unsigned
 * integer with a valid label. Otherwise it changes nothing and returns 0 when
 * the records are not in the buffer yet, -1 when a field is not plain: then
 * csv_row parses (and reports on) the records one by one.
 */
static int csv_pair(nnp_reader *r, float *restrict xa, float *restrict xb, int32_t *ya,
                    int32_t *yb)
{
	nnp_src *in = &r->in;
	nnp_csv *c = &r->csv;
	const size_t ncols = c->ncols, lab = c->label_col;
	const unsigned char delim = c->delim;
	const unsigned char *pa = in->buf + in->pos, *end = in->buf + in->len;
	const unsigned char *nl = memchr(pa, '\n', (size_t)(end - pa));
	if (!nl || !memchr(nl + 1, '\n', (size_t)(end - nl - 1)))
		return 0;   /* at the buffer end: no reason to rest */
	const unsigned char *pb = nl + 1;
	const double max_y = r->n_classes ? (double)r->n_classes - 1 : NNP_MAX_LABEL;
	size_t adv_a = 0, adv_b = 0;
	for (size_t j = 0; j < ncols; j++) {
		uint64_t va, vb;
		size_t na = lead_digits(pa, &va), nb = lead_digits(pb, &vb);
		if (na - 1 >= 15 || nb - 1 >= 15)
			return -1;
		if (j + 1 < ncols) {
			if (pa[na] != delim || pb[nb] != delim)
				return -1;
		} else if (!is_eol(pa + na, &adv_a) || !is_eol(pb + nb, &adv_b)) {
			return -1;
		}
		if (j != lab) {
			*xa++ = (float)(int64_t)va;
			*xb++ = (float)(int64_t)vb;
		} else {
			if ((double)va > max_y || (double)vb > max_y)
				return -1;
			*ya = (int32_t)va;
			*yb = (int32_t)vb;
		}
		pa += na + 1;
		pb += nb + 1;
	}
	/* pa, pb are one past each record's last field: skip the line ends. */
	pb += adv_b - 1;
	in->pos = (size_t)(pb - in->buf);
	c->line += 2;
	c->line_start = nnp_src_at(in, in->pos);
	return 1;
}

int nnp_csv_read(nnp_reader *r, float *x, int32_t *labels, size_t max_rows, size_t *got,
                 nnp_err *err)
{
	nnp_csv *c = &r->csv;
	const size_t nf = r->features;
	size_t n = 0;
	int32_t y = 0, y2 = 0;
	if (c->pending) {
		memcpy(x, c->pend_x, nf * sizeof *x);
		if (labels && r->has_labels)
			labels[0] = c->pend_y;
		c->pending = 0;
		n = 1;
	}
	while (n < max_rows) {
		int rc = csv_record_begin(r, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (n == 0 && r->rows == 0)
				return nnp_err_set(err, NNP_EINPUT, "%s: no data rows", r->in.path);
			r->done = 1;
			break;
		}
		/* After a miss, the pair path rests a while: a file whose rows are
		 * not plain integers would otherwise be parsed twice. */
		if (n + 1 < max_rows && c->pair_rest == 0) {
			int pr = csv_pair(r, x + n * nf, x + (n + 1) * nf, &y, &y2);
			if (pr > 0) {
				if (labels && r->has_labels) {
					labels[n] = y;
					labels[n + 1] = y2;
				}
				n += 2;
				continue;
			}
			if (pr < 0)
				c->pair_rest = 256;
		} else if (c->pair_rest) {
			c->pair_rest--;
		}
		rc = csv_row(r, x + n * nf, &y, err);
		if (rc)
			return rc;
		if (labels && r->has_labels)
			labels[n] = y;
		n++;
	}
	*got = n;
	return NNP_OK;
}

/* ---- opening: header, first record, label column ----------------------- */

/* What the first record told. */
typedef struct first_rec {
	size_t n;              /* fields */
	double *vals;          /* [n] values when the record may be data */
	size_t cap;
	int name_like;         /* some field looks like a column name */
	size_t numbers;        /* fields that parse as numbers */
	int first_num, last_num, index_num;  /* first / last / label_index field is a number */
	int have_bad;          /* `bad` holds the first field that is no number */
	nnp_err bad;
	size_t big_at;         /* first field beyond the float range, SIZE_MAX if none */
	nnp_err big;
	size_t name_col;       /* NNP_LABEL_NAME: the matching column */
	size_t auto_col;       /* NNP_LABEL_AUTO: the column named like a label, */
	size_t auto_col2;      /*   and a second one (ambiguous) */
	char auto_name[8];     /*   the first one's text */
	uint64_t line;         /* line where the record starts */
	/* the label candidate's text and place (for messages) */
	unsigned char *lab_text;
	size_t lab_n;
	uint64_t lab_line, lab_col;
} first_rec;

static int label_is_number(const first_rec *fr, const nnp_data_opts *o)
{
	switch (o->label) {
	case NNP_LABEL_FIRST: return fr->first_num;
	case NNP_LABEL_LAST: return fr->last_num;
	case NNP_LABEL_INDEX: return fr->index_num;
	case NNP_LABEL_NONE: return fr->numbers > 0;
	/* A column named like a label makes the record a header. */
	case NNP_LABEL_AUTO: return fr->first_num && fr->auto_col == SIZE_MAX;
	default: return 0;
	}
}

static int first_add(nnp_reader *r, first_rec *fr, const nnp_data_opts *o, const csv_field *f,
                     nnp_err *err)
{
	size_t j = fr->n;
	if (j == NNP_MAX_COLUMNS)
		return csv_err(r, err, f->line, f->col, "more than %u fields", NNP_MAX_COLUMNS);
	if (o->label == NNP_LABEL_NAME && f->n == strlen(o->label_name) &&
	    memcmp(f->s, o->label_name, f->n) == 0) {
		if (fr->name_col != SIZE_MAX)
			return csv_err(r, err, f->line, f->col,
			               "the label column name '%s' appears twice (columns %zu and %zu)",
			               o->label_name, fr->name_col + 1, j + 1);
		fr->name_col = j;
	}
	if (o->label == NNP_LABEL_AUTO && is_label_name(f->s, f->n)) {
		if (fr->auto_col == SIZE_MAX) {
			fr->auto_col = j;
			memcpy(fr->auto_name, f->s, f->n);  /* at most 6 bytes */
			fr->auto_name[f->n] = '\0';
		} else if (fr->auto_col2 == SIZE_MAX)
			fr->auto_col2 = j;
	}
	int is_lab = ((o->label == NNP_LABEL_FIRST || o->label == NNP_LABEL_AUTO) && j == 0) ||
	             (o->label == NNP_LABEL_INDEX && j == o->label_index) ||
	             o->label == NNP_LABEL_LAST;
	if (is_lab) {
		memcpy(fr->lab_text, f->s, f->n);
		fr->lab_n = f->n;
		fr->lab_line = f->line;
		fr->lab_col = f->col;
	}
	if (o->header != NNP_HEADER_YES) {
		if (j == fr->cap) {
			size_t ncap = fr->cap ? fr->cap * 2 : 64;
			double *v = realloc(fr->vals, ncap * sizeof *v);
			if (!v)
				return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", r->in.path);
			fr->vals = v;
			fr->cap = ncap;
		}
		double v = 0;
		int kind = nnp_parse_number(f->s, f->n, &v);
		/* Errors are kept for later: they count only if the record is data.
		 * A value beyond float is fine in the label column, whose own check
		 * then rejects it, so it is decided once that column is known. */
		if (!kind)
			fr->numbers++;
		if (j == 0)
			fr->first_num = !kind;
		fr->last_num = !kind;
		if (o->label == NNP_LABEL_INDEX && j == o->label_index)
			fr->index_num = !kind;
		if (kind) {
			fr->name_like |= is_name_like(f->s, f->n, kind);
			if (!fr->have_bad) {
				number_error(r, f->line, f->col, f->s, f->n, kind,
				             is_lab && o->label != NNP_LABEL_LAST, &fr->bad);
				fr->have_bad = 1;
			}
		} else if (fabs(v) > FLT_MAX && fr->big_at == SIZE_MAX) {
			number_error(r, f->line, f->col, f->s, f->n, NNP_NUM_OK, 0, &fr->big);
			fr->big_at = j;
		}
		fr->vals[j] = v;
	}
	fr->n = j + 1;
	return NNP_OK;
}

/* 1 when the first line of the file holds a tab but the delimiter is not one. */
static int looks_tabbed(const nnp_reader *r)
{
	if (r->csv.delim == '\t')
		return 0;
	for (size_t i = 0; i < r->in.len && i < 65536; i++) {
		if (r->in.buf[i] == '\n')
			return 0;
		if (r->in.buf[i] == '\t')
			return 1;
	}
	return 0;
}

/* Resolves the label column and the feature count from the first record. */
static int csv_columns(nnp_reader *r, const first_rec *fr, const nnp_data_opts *o, int header,
                       nnp_err *err)
{
	nnp_csv *c = &r->csv;
	size_t n = fr->n;
	const char *tab_hint = looks_tabbed(r) ? " (the file looks tab-separated: --delimiter tab)"
	                                       : "";
	c->ncols = n;
	switch (o->label) {
	case NNP_LABEL_AUTO:
		c->label_col = 0;
		if (!header)
			break;
		if (fr->auto_col2 != SIZE_MAX)
			return csv_err(r, err, fr->line, 1, "columns %zu and %zu of the header could both "
			               "be the label: say which with --label-col N (0-based) or NAME",
			               fr->auto_col, fr->auto_col2);
		if (fr->auto_col == SIZE_MAX)
			return csv_err(r, err, fr->line, 1, "no header column is named label, target, "
			               "class or y: say which column is the label with --label-col "
			               "first|last|N|NAME, or --no-label%s", tab_hint);
		c->label_col = fr->auto_col;
		r->label_col = fr->auto_col;
		snprintf(r->label_name, sizeof r->label_name, "%s", fr->auto_name);
		break;
	case NNP_LABEL_FIRST: c->label_col = 0; break;
	case NNP_LABEL_LAST: c->label_col = n - 1; break;
	case NNP_LABEL_INDEX:
		if (o->label_index >= n)
			return csv_err(r, err, fr->line, 1,
			               "label column %zu (0-based) but records have %zu fields",
			               o->label_index, n);
		c->label_col = o->label_index;
		break;
	case NNP_LABEL_NAME:
		if (fr->name_col == SIZE_MAX)
			return csv_err(r, err, fr->line, 1, "no column named '%s' in the header",
			               o->label_name);
		c->label_col = fr->name_col;
		break;
	case NNP_LABEL_NONE:
	default: c->label_col = SIZE_MAX; break;
	}
	r->has_labels = c->label_col != SIZE_MAX;
	r->features = n - (r->has_labels ? 1u : 0u);
	if (r->features == 0)
		return csv_err(r, err, fr->line, 1, "no feature columns: the only field is the "
		               "label%s", tab_hint);
	if (o->expect_features && r->features != o->expect_features)
		return csv_err(r, err, fr->line, 1,
		               "%zu feature columns (%zu fields, %s) but the model has %zu inputs%s",
		               r->features, n, r->has_labels ? "less the label" : "no label column",
		               o->expect_features, tab_hint);
	return NNP_OK;
}

/* The first record is data: keep it for the first read. */
static int csv_pend(nnp_reader *r, const first_rec *fr, nnp_err *err)
{
	nnp_csv *c = &r->csv;
	if (fr->big_at != SIZE_MAX && fr->big_at != c->label_col) {
		if (err)
			*err = fr->big;
		return fr->big.status;
	}
	c->pend_x = malloc(r->features * sizeof *c->pend_x);
	if (!c->pend_x)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", r->in.path);
	size_t k = 0;
	for (size_t j = 0; j < fr->n; j++)
		if (j != c->label_col)
			c->pend_x[k++] = (float)fr->vals[j];
	if (r->has_labels) {
		int rc = label_check(r, fr->lab_line, fr->lab_col, fr->lab_text, fr->lab_n,
		                     fr->vals[c->label_col], &c->pend_y, err);
		if (rc)
			return rc;
	}
	c->pending = 1;
	return NNP_OK;
}

int nnp_csv_open(nnp_reader *r, const nnp_data_opts *o, nnp_err *err)
{
	nnp_src *in = &r->in;
	nnp_csv *c = &r->csv;
	first_rec fr;
	int rc;
	memset(&fr, 0, sizeof fr);
	fr.name_col = SIZE_MAX;
	fr.auto_col = fr.auto_col2 = SIZE_MAX;
	fr.big_at = SIZE_MAX;
	c->delim = (unsigned char)o->delimiter;
	c->line = 1;
	/* A field fits the buffer: a small input needs small copies. */
	size_t fmax = in->cap < NNP_MAX_FIELD_BYTES ? in->cap : NNP_MAX_FIELD_BYTES;
	c->scratch = malloc(fmax + 1);
	fr.lab_text = malloc(fmax + 1);
	if (!c->scratch || !fr.lab_text) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", in->path);
		goto done;
	}
	/* data.c buffered at least 4 bytes unless the file is shorter. Columns
	 * are counted after the BOM, as an editor shows them. */
	if (in->len >= 3 && memcmp(in->buf, "\xEF\xBB\xBF", 3) == 0) {
		in->pos = 3;
		c->line_start = 3;
	}
	rc = csv_record_begin(r, err);
	if (rc <= 0) {
		if (rc == 0)
			rc = nnp_err_set(err, NNP_EINPUT, "%s: no data rows", in->path);
		goto done;
	}
	fr.line = c->line;
	c->first_line = c->line;
	for (;;) {
		csv_field f;
		rc = csv_next_field(r, &f, err);
		if (!rc)
			rc = first_add(r, &fr, o, &f, err);
		if (rc)
			goto done;
		if (f.term != T_DELIM)
			break;
	}
	int header = o->header == NNP_HEADER_YES ||
	             (o->header == NNP_HEADER_AUTO &&
	              (o->label == NNP_LABEL_NAME || (fr.name_like && !label_is_number(&fr, o))));
	/* Auto: the record is a header only if its label field is text too (or, for
	 * unlabelled data, no field is a number), so a data row with one typo ("O"
	 * for "0") is reported, not silently dropped as a header. */
	if (!header && fr.have_bad) {
		rc = fr.bad.status;
		if (err)
			*err = fr.bad;
		goto done;
	}
	rc = csv_columns(r, &fr, o, header, err);
	if (!rc && !header)
		rc = csv_pend(r, &fr, err);
done:
	free(fr.vals);
	free(fr.lab_text);
	return rc;
}

void nnp_csv_free(nnp_reader *r)
{
	free(r->csv.scratch);
	free(r->csv.pend_x);
	r->csv.scratch = NULL;
	r->csv.pend_x = NULL;
}
