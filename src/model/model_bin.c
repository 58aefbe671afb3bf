/*
 * The binary model format, version 1. All integers are unsigned 32-bit and
 * all floats IEEE-754 binary32, little-endian. Offsets in bytes.
 *
 *   0   8  magic 89 4E 4E 50 0D 0A 1A 0A ("\x89NNP\r\n\x1a\n": the high byte
 *          and the CR/LF/^Z catch 7-bit and text-mode transfers)
 *   8   4  format version = 1
 *  12   4  flags = 0 (reserved; a reader rejects any bit it does not know)
 *  16   4  input size (1 .. NNP_MAX_WIDTH)
 *  20   4  number of layers L (1 .. NNP_MAX_LAYERS)
 *  24   4  metadata size M in bytes (0 .. NNP_MAX_META_BYTES)
 *  28   4  reserved = 0
 *  32  16L layer table, per layer: u32 outputs (1 .. NNP_MAX_WIDTH),
 *          u32 activation (0 linear, 1 relu, 2 leaky_relu, 3 sigmoid,
 *          4 tanh, 5 softmax), f32 alpha (leaky_relu's slope, else 0.0),
 *          u32 reserved = 0
 *  32+16L  M bytes: metadata, a UTF-8 JSON object like the JSON format's
 *          "metadata" (absent when M = 0)
 *  then    zero bytes up to the next multiple of 8 (weights start aligned)
 *  D       per layer l: W (out*in f32, row-major [out][in]) then b (out f32)
 *  end-4   CRC-32 (zlib's crc32) of every byte before it
 *
 * The file size must be exactly D + 4 * params + 4. Everything the sizes
 * depend on is checked, against the limits and against the real file size,
 * before the weights are allocated.
 *
 * Version 2 (written only when some layer is stored sparse; a model whose
 * layers are all dense is written as version 1, byte for byte): the same but
 * 24-byte layer table entries, u32 outputs, u32 activation, f32 alpha,
 * u32 encoding (0 dense, 1 CSR with u16 column indices, 2 CSR with u32
 * ones), u32 nnz (stored entries; 0 for dense), u32 reserved = 0; and a
 * sparse layer's data is
 *          row_ptr (out+1 u32: row r's entries are row_ptr[r] .. row_ptr[r+1]-1),
 *          cols (nnz u16 or u32, increasing within a row), zero bytes up to a
 *          multiple of 4, values (nnz f32), b (out f32)
 * A layer is written sparse when that is strictly smaller than dense (CSR16
 * when in <= 65536). See model_sparse.c for what the entries are.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nnprune/text.h"
#include "model_priv.h"
#include "num.h"
#include "mem.h"

static int host_le(void)
{
	const uint16_t one = 1;
	unsigned char b;
	memcpy(&b, &one, 1);
	return b == 1;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void swap32(void *p, size_t n)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i++, b += 4) {
		unsigned char t = b[0];
		b[0] = b[3];
		b[3] = t;
		t = b[1];
		b[1] = b[2];
		b[2] = t;
	}
}

/* Bytes come from memory or from a file; both keep a running CRC-32. */
typedef struct bin_src {
	FILE *fp;
	const unsigned char *mem;
	uint64_t size;   /* the buffer's length or the file's size from fstat */
	uint64_t pos;
	unsigned long crc;
} bin_src;

/* What the header and layer table say, checked against the real size. */
typedef struct bin_shape {
	size_t input, n, msize;
	size_t *sizes;
	nnp_act *acts;
	float *alphas;
	uint64_t params, meta_at, data_at;
	uint32_t version;
	nnpm_enc *enc;        /* [n] how each layer is stored */
	uint64_t *nnz;        /* [n] stored entries of the sparse layers */
	uint64_t data_bytes;  /* weights and biases, as stored */
} bin_shape;

static void shape_free(bin_shape *sh)
{
	NNP_FREE_ALL(sh->sizes, sh->acts, sh->alphas, sh->enc, sh->nnz);
}

static int src_read(bin_src *s, void *dst, size_t n)
{
	if (n == 0)
		return 0;
	if (s->mem) {
		if (n > s->size - s->pos)
			return -1;
		memcpy(dst, s->mem + s->pos, n);
	} else if (fread(dst, 1, n, s->fp) != n) {
		return -1;
	}
	s->crc = nnpm_crc(s->crc, dst, n);
	s->pos += n;
	return 0;
}

/* A read came up short although the size matched: the file shrank under us. */
static int short_read(const bin_src *s, const char *label, uint64_t want, nnp_err *err)
{
	return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: truncated: unexpected end of file "
	                   "(expected %llu bytes)", label, (unsigned long long)s->pos,
	                   (unsigned long long)want);
}

/* Bytes of one layer table entry in a file of the given version. */
static size_t entry_size(uint32_t version)
{
	return version == NNPM_BIN_VERSION_SPARSE ? NNPM_BIN_LAYER_V2 : NNPM_BIN_LAYER;
}

/* Header fields after the magic: version, flags, sizes, reserved. */
static int check_header(const unsigned char *h, uint64_t size, const char *label,
                        nnp_err *err)
{
	if (memcmp(h, NNPM_BIN_MAGIC, 8) != 0) {
		if (memcmp(h, NNPM_BIN_MAGIC, 4) == 0)
			return nnp_err_set(err, NNP_EINPUT, "%s: byte 4: not an nnprune model (bad magic: "
			                   "line endings were changed, was it copied in text mode?)",
			                   label);
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 0: not an nnprune model (bad magic)",
		                   label);
	}
	uint32_t version = get32(h + 8), flags = get32(h + 12), input = get32(h + 16);
	uint32_t layers = get32(h + 20), meta = get32(h + 24), reserved = get32(h + 28);
	if (version != NNPM_BIN_VERSION && version != NNPM_BIN_VERSION_SPARSE)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 8: unsupported version %u (this "
		                   "nnprune reads versions %u and %u)", label, version, NNPM_BIN_VERSION,
		                   NNPM_BIN_VERSION_SPARSE);
	if (flags != 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 12: unknown flags 0x%08x (this "
		                   "nnprune knows none)", label, flags);
	if (input < 1 || input > NNP_MAX_WIDTH)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 16: input size %u is out of range "
		                   "(1 to %u)", label, input, NNP_MAX_WIDTH);
	if (layers < 1 || layers > NNP_MAX_LAYERS)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 20: layer count %u is out of range "
		                   "(1 to %u)", label, layers, NNP_MAX_LAYERS);
	if (meta > NNP_MAX_META_BYTES)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 24: metadata size %u is over the limit "
		                   "of %u bytes", label, meta, NNP_MAX_META_BYTES);
	if (reserved != 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 28: reserved field is %u, expected 0",
		                   label, reserved);
	uint64_t need = NNPM_BIN_HEADER + (uint64_t)entry_size(version) * layers;
	if (size < need)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: truncated: file is %llu bytes, "
		                   "expected at least %llu bytes for the header and layer table",
		                   label, (unsigned long long)size, (unsigned long long)size,
		                   (unsigned long long)need);
	return NNP_OK;
}

/* One layer table entry; adds its parameters to *params (64-bit: no overflow,
 * as widths are at most 2^24 and layers 2^10). */
static int check_layer(const unsigned char *e, size_t esize, size_t l, uint64_t in,
                       size_t *out, nnp_act *act, float *alpha, uint64_t *params,
                       const char *label, nnp_err *err)
{
	unsigned long long at = NNPM_BIN_HEADER + (unsigned long long)esize * l;
	uint32_t o = get32(e), code = get32(e + 4), abits = get32(e + 8);
	uint32_t reserved = get32(e + esize - 4);
	if (o < 1 || o > NNP_MAX_WIDTH)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: layer %zu: %u outputs is out of "
		                   "range (1 to %u)", label, at, l, o, NNP_MAX_WIDTH);
	if (code >= NNP_ACT_COUNT)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: layer %zu: unknown activation "
		                   "code %u", label, at + 4, l, code);
	float a = nnp_bits_float(abits);
	if (code == NNP_ACT_LEAKY_RELU && !isfinite(a))
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: layer %zu: alpha is not a finite "
		                   "number", label, at + 8, l);
	if (code != NNP_ACT_LEAKY_RELU && abits != 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: layer %zu: alpha must be 0 for %s "
		                   "(found bits 0x%08x)", label, at + 8, l,
		                   nnp_act_name((nnp_act)code), abits);
	if (reserved != 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: layer %zu: reserved field is %u, "
		                   "expected 0", label, at + esize - 4, l, reserved);
	*params += in * o + o;
	if (*params > NNP_MAX_PARAMS)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: layer %zu: the model would have "
		                   "more than %zu parameters (the limit)", label, at, l,
		                   NNP_MAX_PARAMS);
	*out = o;
	*act = (nnp_act)code;
	*alpha = code == NNP_ACT_LEAKY_RELU ? a : 0.0f;
	return NNP_OK;
}

/* The computed size must match the real one before anything big is allocated. */
static int check_size(uint64_t size, uint64_t want, const char *label, nnp_err *err)
{
	if (size < want)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: truncated: file is %llu bytes, "
		                   "expected %llu bytes", label, (unsigned long long)size,
		                   (unsigned long long)size, (unsigned long long)want);
	if (size > want)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: %llu trailing bytes after the "
		                   "CRC-32 (file is %llu bytes, expected %llu)", label,
		                   (unsigned long long)want, (unsigned long long)(size - want),
		                   (unsigned long long)size, (unsigned long long)want);
	return NNP_OK;
}

static int read_padding(bin_src *s, size_t pad, const char *label, nnp_err *err)
{
	unsigned char z[8];
	if (src_read(s, z, pad))
		return short_read(s, label, s->size, err);
	for (size_t i = 0; i < pad; i++)
		if (z[i] != 0)
			return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: padding byte is 0x%02x, "
			                   "expected 0", label,
			                   (unsigned long long)(s->pos - pad + i), z[i]);
	return NNP_OK;
}

/*
 * A sparse layer's row pointers, columns and values, scattered into its dense
 * weights. Wrong index arrays are recorded in *bad (the first only) and the
 * layer left zero: the caller reports them once the CRC has been checked.
 */
static int read_csr(bin_src *s, nnp_layer *L, size_t l, nnpm_enc enc, uint64_t nnz,
                    const char *label, int *bad, nnp_err *bad_err, nnp_err *err)
{
	size_t isz = enc == NNPM_ENC_CSR16 ? 2 : 4, n = (size_t)nnz;
	uint32_t *ptr = malloc((L->out + 1) * sizeof *ptr);
	uint32_t *cols = malloc((n ? n : 1) * sizeof *cols);
	float *vals = malloc((n ? n : 1) * sizeof *vals);
	int rc = NNP_OK;
	if (!ptr || !cols || !vals) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: layer %zu: out of memory", label, l);
		goto done;
	}
	uint64_t ptr_at = s->pos, cols_at = ptr_at + 4 * ((uint64_t)L->out + 1);
	/* Little-endian words decoded in place; the 16-bit columns from the back,
	 * so that each is read before a wider one is written over it. */
	unsigned char *pb = (unsigned char *)ptr, *cb = (unsigned char *)cols;
	if (src_read(s, ptr, (L->out + 1) * 4) || src_read(s, cols, n * isz)) {
		rc = short_read(s, label, s->size, err);
		goto done;
	}
	for (size_t i = 0; i <= L->out; i++)
		ptr[i] = get32(pb + 4 * i);
	for (size_t i = n; i-- > 0;)
		cols[i] = isz == 2 ? (uint32_t)cb[2 * i] | (uint32_t)cb[2 * i + 1] << 8 :
		                     get32(cb + 4 * i);
	rc = read_padding(s, (4 - n * isz % 4) % 4, label, err);
	if (rc)
		goto done;
	if (src_read(s, vals, n * sizeof *vals)) {
		rc = short_read(s, label, s->size, err);
		goto done;
	}
	if (!host_le())
		swap32(vals, n);
	nnpm_csr_fault f;
	if (nnpm_csr_check(L->in, L->out, nnz, ptr, cols, &f) == 0) {
		nnpm_csr_scatter(L, ptr, cols, vals);
	} else if (!*bad) {
		*bad = 1;
		nnp_err_set(bad_err, NNP_EINPUT, "%s: byte %llu: layer %zu: %s", label,
		            (unsigned long long)(f.array ? cols_at + isz * f.index : ptr_at + 4 * f.index),
		            l, f.what);
	}
done:
	free(ptr);
	free(cols);
	free(vals);
	return rc;
}

/* Weights and biases straight into the model's arrays, then the CRC. */
static int read_values(bin_src *s, nnp_model *m, const bin_shape *sh, const char *label,
                       nnp_err *err)
{
	int bad = 0;
	nnp_err bad_err;
	nnp_err_clear(&bad_err);
	for (size_t l = 0; l < m->n_layers; l++) {
		nnp_layer *L = &m->layers[l];
		if (sh->enc[l] != NNPM_ENC_DENSE) {
			int rc = read_csr(s, L, l, sh->enc[l], sh->nnz[l], label, &bad, &bad_err, err);
			if (rc)
				return rc;
		} else if (src_read(s, L->w, L->in * L->out * sizeof(float))) {
			return short_read(s, label, s->size, err);
		} else if (!host_le()) {
			swap32(L->w, L->in * L->out);
		}
		if (src_read(s, L->b, L->out * sizeof(float)))
			return short_read(s, label, s->size, err);
		if (!host_le())
			swap32(L->b, L->out);
	}
	unsigned long computed = s->crc;
	unsigned char tail[4];
	if (src_read(s, tail, 4))
		return short_read(s, label, s->size, err);
	uint32_t stored = get32(tail);
	if (stored != (uint32_t)computed)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: CRC-32 mismatch: stored %08x, "
		                   "computed %08x (the file is corrupt)", label,
		                   (unsigned long long)(s->pos - 4), stored, (unsigned)computed);
	/* Report the stored CRC, not the running one: a CRC taken over data that
	 * ends in its own CRC is the same constant for every file. */
	s->crc = computed;
	if (bad && err)
		*err = bad_err;
	return bad ? NNP_EINPUT : NNP_OK;
}

static int parse_meta(nnp_model *m, const char *meta, size_t n, uint64_t at, const char *label,
                      nnp_err *err)
{
	const char *end = NULL;
	char place[48];
	size_t bad;
	if (nnp_json_check_ws(meta, n, &bad))
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: metadata is not valid JSON "
		                   "(control byte 0x%02x)", label, (unsigned long long)(at + bad),
		                   (unsigned char)meta[bad]);
	cJSON *j = cJSON_ParseWithLengthOpts(meta, n, &end, 0);
	size_t pos = end && end >= meta && end <= meta + n ? (size_t)(end - meta) : 0;
	while (j && pos < n && meta[pos] && strchr(" \t\r\n", meta[pos]))
		pos++;
	int rc;
	if (!j || pos < n) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: metadata is not valid JSON", label,
		                 (unsigned long long)(at + pos));
	} else {
		snprintf(place, sizeof place, "byte %llu: ", (unsigned long long)at);
		rc = nnpm_meta_from_cjson(m, j, label, place, err);
	}
	cJSON_Delete(j);
	return rc;
}

/* A version 2 table entry's encoding and entry count (bytes 12 and 16). */
static int check_encoding(const unsigned char *e, size_t l, uint64_t in, bin_shape *sh,
                          const char *label, nnp_err *err)
{
	unsigned long long at = NNPM_BIN_HEADER + (unsigned long long)NNPM_BIN_LAYER_V2 * l;
	uint32_t enc = get32(e + 12), nnz = get32(e + 16);
	uint64_t size = in * sh->sizes[l];
	if (enc > NNPM_ENC_CSR32)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: layer %zu: unknown weight "
		                   "encoding %u (0 dense, 1 and 2 sparse)", label, at + 12, l, enc);
	if (enc == NNPM_ENC_DENSE && nnz != 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: layer %zu: entry count is %u for "
		                   "a dense layer, expected 0", label, at + 16, l, nnz);
	if (nnz > size)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: layer %zu: %u stored entries, "
		                   "more than the layer's %llu weights", label, at + 16, l, nnz,
		                   (unsigned long long)size);
	sh->enc[l] = (nnpm_enc)enc;
	sh->nnz[l] = nnz;
	return NNP_OK;
}

static int read_shape(bin_shape *sh, bin_src *s, const char *label, nnp_err *err)
{
	unsigned char hdr[NNPM_BIN_HEADER], *table = NULL;
	if (s->size < NNPM_BIN_HEADER)
		return nnp_err_set(err, NNP_EINPUT, "%s: byte 0: file is %llu bytes, too short for "
		                   "the %u-byte header", label, (unsigned long long)s->size,
		                   NNPM_BIN_HEADER);
	if (src_read(s, hdr, sizeof hdr))
		return short_read(s, label, s->size, err);
	int rc = check_header(hdr, s->size, label, err);
	if (rc)
		return rc;
	/* check_header bounded these: at most 1024 layers, a 16 KiB table. */
	sh->input = get32(hdr + 16);
	sh->n = get32(hdr + 20);
	sh->msize = get32(hdr + 24);
	sh->version = get32(hdr + 8);
	size_t esize = entry_size(sh->version);
	table = malloc(sh->n * esize);
	sh->sizes = malloc(sh->n * sizeof *sh->sizes);
	sh->acts = malloc(sh->n * sizeof *sh->acts);
	sh->alphas = malloc(sh->n * sizeof *sh->alphas);
	sh->enc = calloc(sh->n, sizeof *sh->enc);
	sh->nnz = calloc(sh->n, sizeof *sh->nnz);
	if (!table || !sh->sizes || !sh->acts || !sh->alphas || !sh->enc || !sh->nnz)
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
	else if (src_read(s, table, sh->n * esize))
		rc = short_read(s, label, s->size, err);
	uint64_t in = sh->input;
	for (size_t l = 0; l < sh->n && !rc; l++) {
		rc = check_layer(table + l * esize, esize, l, in, &sh->sizes[l], &sh->acts[l],
		                 &sh->alphas[l], &sh->params, label, err);
		if (!rc && sh->version == NNPM_BIN_VERSION_SPARSE)
			rc = check_encoding(table + l * esize, l, in, sh, label, err);
		sh->data_bytes += nnpm_bin_layer_bytes(in, sh->sizes[l], sh->enc[l], sh->nnz[l]);
		in = sh->sizes[l];
	}
	free(table);
	if (rc)
		return rc;
	sh->meta_at = NNPM_BIN_HEADER + (uint64_t)esize * sh->n;
	sh->data_at = (sh->meta_at + sh->msize + 7) / 8 * 8;
	return check_size(s->size, sh->data_at + sh->data_bytes + 4, label, err);
}

static int read_bin(nnp_model **out, bin_src *s, const char *label, nnp_err *err)
{
	bin_shape sh;
	char *meta = NULL;
	nnp_model *m = NULL;
	memset(&sh, 0, sizeof sh);
	*out = NULL;
	int rc = read_shape(&sh, s, label, err);
	if (rc)
		goto done;
	meta = malloc(sh.msize + 1);
	if (!meta) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
		goto done;
	}
	if (src_read(s, meta, sh.msize)) {
		rc = short_read(s, label, s->size, err);
		goto done;
	}
	rc = read_padding(s, (size_t)(sh.data_at - sh.meta_at - sh.msize), label, err);
	if (rc)
		goto done;
	if (nnpm_alloc(&m, sh.input, sh.n, sh.sizes, sh.acts)) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory for %llu parameters", label,
		                 (unsigned long long)sh.params);
		goto done;
	}
	for (size_t l = 0; l < sh.n; l++)
		m->layers[l].alpha = sh.alphas[l];
	/* The CRC comes before the metadata's syntax and the values: a damaged
	 * file is reported as damaged, not as whatever the damage looks like. */
	rc = read_values(s, m, &sh, label, err);
	if (!rc && sh.msize)
		rc = parse_meta(m, meta, sh.msize, sh.meta_at, label, err);
	if (!rc)
		rc = nnpm_check(m, label, NNP_EINPUT, err);
done:
	shape_free(&sh);
	free(meta);
	return nnpm_hand_over(m, rc, out);
}

int nnp_model_from_bin(nnp_model **out, const unsigned char *buf, size_t len,
                       const char *label, nnp_err *err)
{
	bin_src s;
	memset(&s, 0, sizeof s);
	s.mem = buf ? buf : (const unsigned char *)"";
	s.size = buf ? len : 0;
	s.crc = crc32(0L, Z_NULL, 0);
	return read_bin(out, &s, label ? label : "model", err);
}

int nnpm_read_bin_file(nnp_model **out, FILE *fp, uint64_t size, const char *label,
                       uint32_t *crc, nnp_err *err)
{
	bin_src s;
	memset(&s, 0, sizeof s);
	s.fp = fp;
	s.size = size;
	s.crc = crc32(0L, Z_NULL, 0);
	int rc = read_bin(out, &s, label, err);
	if (rc)
		return rc;
	if (fgetc(fp) != EOF) {
		nnp_model_free(*out);
		*out = NULL;
		return nnp_err_set(err, NNP_EINPUT, "%s: byte %llu: the file grew while being read",
		                   label, (unsigned long long)s.pos);
	}
	*crc = (uint32_t)s.crc;
	return NNP_OK;
}

/* ---- writer ---- */

static void put_floats(nnpm_sink *s, const float *v, size_t n)
{
	if (host_le()) {
		nnpm_sink_put(s, v, n * sizeof(float));
		return;
	}
	float tmp[1024];
	while (n) {
		size_t k = n < 1024 ? n : 1024;
		memcpy(tmp, v, k * sizeof(float));
		swap32(tmp, k);
		nnpm_sink_put(s, tmp, k * sizeof(float));
		v += k;
		n -= k;
	}
}

/* A sparse layer's row pointers, columns, padding and values (see the top). */
static void put_csr(nnpm_sink *s, const nnp_layer *L, nnpm_enc enc)
{
	enum { CHUNK = 256 };
	uint32_t idx[CHUNK];
	float vals[CHUNK];
	unsigned char bytes[4 * CHUNK];
	size_t isz = enc == NNPM_ENC_CSR16 ? 2 : 4, k, pos = 0, nnz = 0;
	uint32_t first = 0;
	put32(bytes, 0);
	nnpm_sink_put(s, bytes, 4);
	for (size_t r0 = 0; r0 < L->out; r0 += k) {
		k = L->out - r0 < CHUNK ? L->out - r0 : CHUNK;
		nnpm_csr_row_ptr(L, r0, k, first, idx);
		first = idx[k - 1];
		for (size_t i = 0; i < k; i++)
			put32(bytes + 4 * i, idx[i]);
		nnpm_sink_put(s, bytes, 4 * k);
	}
	while ((k = nnpm_csr_next(L, &pos, CHUNK, idx, NULL)) > 0) {
		for (size_t i = 0; i < k; i++) {
			if (isz == 2) {
				bytes[2 * i] = (unsigned char)idx[i];
				bytes[2 * i + 1] = (unsigned char)(idx[i] >> 8);
			} else {
				put32(bytes + 4 * i, idx[i]);
			}
		}
		nnpm_sink_put(s, bytes, isz * k);
		nnz += k;
	}
	memset(bytes, 0, 4);
	nnpm_sink_put(s, bytes, (4 - nnz * isz % 4) % 4);
	pos = 0;
	while ((k = nnpm_csr_next(L, &pos, CHUNK, NULL, vals)) > 0)
		put_floats(s, vals, k);
}

void nnpm_write_bin(nnpm_sink *s, const nnp_model *m)
{
	unsigned char h[NNPM_BIN_HEADER], e[NNPM_BIN_LAYER_V2];
	static const unsigned char zeros[8] = { 0 };
	size_t msize = nnpm_meta_size(m);
	/* Each layer's encoding; version 1 (byte-identical to files written
	 * before sparse layers existed) unless one of them is sparse. */
	size_t *nnz = malloc(m->n_layers * sizeof *nnz);
	nnpm_enc *enc = malloc(m->n_layers * sizeof *enc);
	if (!nnz || !enc) {
		free(nnz);
		free(enc);
		s->failed = NNP_ENOMEM;
		return;
	}
	int sparse = 0;
	for (size_t l = 0; l < m->n_layers; l++) {
		nnz[l] = nnpm_layer_stored(&m->layers[l]);
		enc[l] = nnpm_bin_pick(&m->layers[l], nnz[l]);
		sparse |= enc[l] != NNPM_ENC_DENSE;
	}
	uint32_t version = sparse ? NNPM_BIN_VERSION_SPARSE : NNPM_BIN_VERSION;
	size_t esize = entry_size(version);
	s->crc_on = 1;
	s->crc = crc32(0L, Z_NULL, 0);
	memcpy(h, NNPM_BIN_MAGIC, 8);
	put32(h + 8, version);
	put32(h + 12, 0);
	put32(h + 16, (uint32_t)m->input_size);
	put32(h + 20, (uint32_t)m->n_layers);
	put32(h + 24, (uint32_t)msize);
	put32(h + 28, 0);
	nnpm_sink_put(s, h, sizeof h);
	for (size_t l = 0; l < m->n_layers; l++) {
		const nnp_layer *L = &m->layers[l];
		put32(e, (uint32_t)L->out);
		put32(e + 4, (uint32_t)L->act);
		put32(e + 8, L->act == NNP_ACT_LEAKY_RELU ? nnp_float_bits(L->alpha) : 0);
		memset(e + 12, 0, sizeof e - 12);
		if (sparse) {
			put32(e + 12, (uint32_t)enc[l]);
			put32(e + 16, enc[l] == NNPM_ENC_DENSE ? 0 : (uint32_t)nnz[l]);
		}
		nnpm_sink_put(s, e, esize);
	}
	nnpm_meta_print(s, m, 0, "");
	size_t at = NNPM_BIN_HEADER + esize * m->n_layers + msize;
	nnpm_sink_put(s, zeros, (8 - at % 8) % 8);
	for (size_t l = 0; l < m->n_layers; l++) {
		if (enc[l] == NNPM_ENC_DENSE)
			put_floats(s, m->layers[l].w, m->layers[l].in * m->layers[l].out);
		else
			put_csr(s, &m->layers[l], enc[l]);
		put_floats(s, m->layers[l].b, m->layers[l].out);
	}
	free(nnz);
	free(enc);
	unsigned char tail[4];
	put32(tail, (uint32_t)s->crc);
	s->crc_on = 0;
	nnpm_sink_put(s, tail, 4);
}
