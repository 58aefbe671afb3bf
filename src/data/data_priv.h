/*
 * nnprune: internals of the data readers (data.c, data_csv.c, data_idx.c).
 *
 * Every input goes through an nnp_src: a gzFile and one fixed buffer that is
 * refilled in place, so memory never depends on the number of rows. The
 * buffer always has NNP_SRC_PAD zero bytes after its valid data: the CSV fast
 * path relies on that sentinel to stop its digit loop without bounds checks.
 */
#ifndef NNPRUNE_DATA_PRIV_H
#define NNPRUNE_DATA_PRIV_H

#include <stdint.h>
#include <zlib.h>

#include "nnprune/data.h"
#include "num.h"   /* nnp_parse_number, shared with the JSON model reader */

#define NNP_DATA_BUF (1u << 20)       /* input buffer of a data file */
#define NNP_LABELS_BUF (1u << 16)     /* input buffer of an IDX labels file */
/* Smallest buffer that still holds any one CSV field, quoted with every
 * character doubled, plus its terminator. */
#define NNP_DATA_BUF_MIN (2u * NNP_MAX_FIELD_BYTES + 16u)
#define NNP_SRC_PAD 16u

/* Bytes in memory standing for a file (borrowed: they must outlive the reader). */
typedef struct nnp_bytes {
	const void *data;
	size_t len;
} nnp_bytes;

/* A buffered, decompressing input stream. Raw bytes come from a file
 * descriptor or from memory; input that starts with the gzip magic is
 * inflated on the way (several members in a row allowed, anything else
 * after the last is an error). Buffers are sized to the input: a small file
 * costs a few kilobytes, not the full buffer. */
typedef struct nnp_src {
	int fd;                /* raw input, or -1 when reading memory (or closed) */
	const unsigned char *mem; /* raw input in memory (borrowed), or NULL */
	size_t mem_len, mem_pos;
	int raw_eof;           /* no more raw bytes */
	uint64_t raw_read;     /* raw bytes taken from fd or memory */
	int gz;                /* 1: the input is gzip */
	int gz_member_end;     /* the last gzip member read is complete */
	char gz_bad[128];      /* a gzip error met after bytes that came before it:
	                        * reported by the next fill (empty: none) */
	z_stream z;            /* inflate state when gz */
	unsigned char *zin;    /* compressed bytes for inflate [zin_cap] */
	size_t zin_cap;
	char *path;            /* name used in messages, owned ("stdin" for "-") */
	unsigned char *buf;    /* [cap + NNP_SRC_PAD]; buf[len..len+PAD) are zero */
	size_t cap;
	size_t pos;            /* next byte to consume */
	size_t len;            /* valid bytes in buf */
	uint64_t base;         /* stream offset of buf[0] */
	int eof;               /* the stream has no more bytes */
	uint32_t crc;          /* CRC-32 of the bytes read so far */
	int open;              /* 1 once opened (until closed) */
} nnp_src;

/* Opens path ("-" = standard input) with a buffer of at most cap bytes (less
 * for a small regular file). The caller releases it with nnp_src_close, also
 * after a failure. NNP_EINPUT/ENOMEM. */
int nnp_src_open(nnp_src *s, const char *path, size_t cap, nnp_err *err);
/* The same over len bytes of memory (borrowed until close); `label` names it. */
int nnp_src_open_mem(nnp_src *s, const char *label, const void *data, size_t len, size_t cap,
                     nnp_err *err);
/* Closes the stream and frees its buffer. A zeroed or closed src is fine. */
void nnp_src_close(nnp_src *s);
/*
 * Drops the bytes before buf[from] (moving the rest to the buffer start, and
 * pos with them), then reads until the buffer is full or the input ends.
 * *added receives the bytes read: 0 means the end of the input (s->eof set).
 * A truncated or corrupt .gz is NNP_EINPUT "path: byte N: ...", returned
 * once every byte inflated before the damage has been handed out, so that
 * the first error in the stream is the one reported whatever the buffer size.
 */
int nnp_src_refill(nnp_src *s, size_t from, size_t *added, nnp_err *err);

/* Stream offset of buf[i]. */
static inline uint64_t nnp_src_at(const nnp_src *s, size_t i)
{
	return s->base + i;
}

enum nnp_fmt { NNP_FMT_CSV = 1, NNP_FMT_IDX = 2 };

/* CSV state (data_csv.c). */
typedef struct nnp_csv {
	size_t ncols;          /* fields per record, from the first record */
	size_t label_col;      /* column of the label, SIZE_MAX if none */
	unsigned char delim;
	uint64_t line;         /* line of the next byte to parse, 1-based */
	uint64_t line_start;   /* stream offset of that line's first byte */
	uint64_t first_line;   /* line of the first record, for messages */
	char *scratch;         /* [NNP_MAX_FIELD_BYTES + 1]: quoted field text */
	float *pend_x;         /* the first record when it is data: [features] */
	int32_t pend_y;
	int pending;           /* 1 while pend_x/pend_y are still to be returned */
	unsigned pair_rest;    /* rows to parse singly before trying pairs again */
} nnp_csv;

/* IDX state (data_idx.c). */
typedef struct nnp_idx {
	nnp_src lab;           /* the labels file; lab.open == 0 when unlabelled */
	unsigned char type;    /* IDX type code of the images */
	size_t itemsize;       /* bytes per value */
	uint64_t count;        /* images (= labels) */
	uint64_t data_bytes;   /* expected decompressed size of the images file */
	uint64_t lab_bytes;    /* expected decompressed size of the labels file */
} nnp_idx;

struct nnp_reader {
	int fmt;
	nnp_src in;            /* the data file */
	size_t features;
	int has_labels;
	size_t n_classes;      /* 0 = unchecked */
	uint64_t rows;         /* rows returned so far */
	uint64_t max_rows;     /* > 0: the end comes after this many rows */
	uint64_t total;        /* rows the header announces (IDX), else 0 */
	int done;              /* the end was reached cleanly */
	int failed;            /* an error stopped the reader: `fail` repeats it */
	char label_name[16];   /* NNP_LABEL_AUTO: the header name taken as the label, or "" */
	size_t label_col;      /*   and its column */
	nnp_err fail;
	nnp_csv csv;
	nnp_idx idx;
	const nnp_bytes *lab_mem; /* the labels file's bytes when reading memory */
	size_t bufsize;        /* buffer size asked for (labels included) */
};

/* Opening with an explicit buffer size (>= NNP_DATA_BUF_MIN): tests use a
 * small one to cross buffer boundaries often. Otherwise as nnp_reader_open. */
int nnp_reader_open_buf(nnp_reader **out, const char *path, const nnp_data_opts *opts,
                        size_t bufsize, nnp_err *err);

/*
 * nnp_reader_open_buf over bytes in memory: `data` is the data file, named
 * `path` in messages; `labels` (may be NULL) the IDX labels file, named
 * opts->labels_path (which must then be set). Same rows, same messages as
 * the same bytes in files. Used by the fuzz harnesses.
 */
int nnp_reader_open_mem(nnp_reader **out, const char *path, const nnp_bytes *data,
                        const nnp_bytes *labels, const nnp_data_opts *opts, size_t bufsize,
                        nnp_err *err);

/* Format back ends: called by data.c once r->in is open and its first bytes
 * are buffered. They fill r->features, r->has_labels and their own state. */
int nnp_csv_open(nnp_reader *r, const nnp_data_opts *o, nnp_err *err);
int nnp_csv_read(nnp_reader *r, float *x, int32_t *labels, size_t max_rows, size_t *got,
                 nnp_err *err);
void nnp_csv_free(nnp_reader *r);
int nnp_idx_open(nnp_reader *r, const nnp_data_opts *o, nnp_err *err);
int nnp_idx_read(nnp_reader *r, float *x, int32_t *labels, size_t max_rows, size_t *got,
                 nnp_err *err);
void nnp_idx_free(nnp_reader *r);

#endif
