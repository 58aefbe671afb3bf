/*
 * Sparse layer encoding, shared by the binary and JSON formats.
 *
 * In memory a layer is always dense [out][in]; pruned weights are zeros. A
 * file may store a layer as CSR instead, when that is smaller: row_ptr
 * [out + 1] (row r's entries are row_ptr[r] .. row_ptr[r+1]-1), cols [nnz]
 * (strictly increasing within a row) and values [nnz]. The entries are the
 * weights whose bit pattern is not +0.0, so -0.0 survives a round trip and
 * reading a CSR layer back gives the same bits as the dense layer.
 */
#include <string.h>

#include "model_priv.h"

static int stored(float v)
{
	uint32_t u;
	memcpy(&u, &v, sizeof u);
	return u != 0;
}

size_t nnpm_layer_stored(const nnp_layer *L)
{
	size_t n = 0, total = L->in * L->out;
	for (size_t i = 0; i < total; i++)
		n += (size_t)stored(L->w[i]);
	return n;
}

size_t nnp_layer_nonzeros(const nnp_layer *L)
{
	size_t n = 0, total = L->in * L->out;
	for (size_t i = 0; i < total; i++)
		n += (size_t)(L->w[i] != 0.0f);
	return n;
}

size_t nnp_model_nonzeros(const nnp_model *m)
{
	size_t n = 0;
	for (size_t l = 0; l < m->n_layers; l++)
		n += nnp_layer_nonzeros(&m->layers[l]);
	return n;
}

int nnp_model_file_size(const nnp_model *m, nnp_format fmt, uint64_t *bytes, nnp_err *err)
{
	nnpm_sink s;
	memset(&s, 0, sizeof s);
	s.count_only = 1;
	*bytes = 0;
	if (fmt == NNP_FMT_JSON)
		nnpm_write_json(&s, m);
	else if (fmt == NNP_FMT_BIN)
		nnpm_write_bin(&s, m);
	else
		return nnp_err_set(err, NNP_EUSAGE, "model: unknown model format %d", (int)fmt);
	*bytes = s.len;
	return NNP_OK;
}

uint64_t nnpm_bin_layer_bytes(size_t in, size_t out, nnpm_enc enc, uint64_t nnz)
{
	if (enc == NNPM_ENC_DENSE)
		return 4 * ((uint64_t)in * out + out);
	uint64_t isz = enc == NNPM_ENC_CSR16 ? 2 : 4;
	uint64_t cols = (isz * nnz + 3) / 4 * 4;   /* zero-padded: the values stay aligned */
	return 4 * ((uint64_t)out + 1) + cols + 4 * nnz + 4 * (uint64_t)out;
}

nnpm_enc nnpm_bin_pick(const nnp_layer *L, size_t nnz)
{
	nnpm_enc enc = L->in <= 65536 ? NNPM_ENC_CSR16 : NNPM_ENC_CSR32;
	uint64_t dense = nnpm_bin_layer_bytes(L->in, L->out, NNPM_ENC_DENSE, 0);
	return nnpm_bin_layer_bytes(L->in, L->out, enc, nnz) < dense ? enc : NNPM_ENC_DENSE;
}

void nnpm_csr_row_ptr(const nnp_layer *L, size_t r0, size_t n, uint32_t first, uint32_t *ptr)
{
	uint32_t acc = first;
	for (size_t r = r0; r < r0 + n; r++) {
		const float *w = L->w + r * L->in;
		for (size_t c = 0; c < L->in; c++)
			acc += (uint32_t)stored(w[c]);
		ptr[r - r0] = acc;
	}
}

size_t nnpm_csr_next(const nnp_layer *L, size_t *pos, size_t max, uint32_t *cols, float *vals)
{
	size_t total = L->in * L->out, k = 0;
	while (*pos < total && k < max) {
		float v = L->w[*pos];
		if (stored(v)) {
			if (cols)
				cols[k] = (uint32_t)(*pos % L->in);
			if (vals)
				vals[k] = v;
			k++;
		}
		(*pos)++;
	}
	return k;
}

int nnpm_csr_check(size_t in, size_t out, uint64_t nnz, const uint32_t *row_ptr,
                   const uint32_t *cols, nnpm_csr_fault *f)
{
	if (row_ptr[0] != 0) {
		f->array = 0;
		f->index = 0;
		snprintf(f->what, sizeof f->what, "row_ptr[0] is %u, expected 0", row_ptr[0]);
		return -1;
	}
	for (size_t r = 0; r < out; r++) {
		uint32_t a = row_ptr[r], b = row_ptr[r + 1];
		f->array = 0;
		f->index = r + 1;
		if (b < a) {
			snprintf(f->what, sizeof f->what, "row_ptr[%zu] = %u is less than row_ptr[%zu] = "
			         "%u (row pointers must not decrease)", r + 1, b, r, a);
			return -1;
		}
		if (b - a > in) {
			snprintf(f->what, sizeof f->what, "row %zu has %u entries, more than the layer's "
			         "%zu inputs", r, b - a, in);
			return -1;
		}
		if (b > nnz) {
			snprintf(f->what, sizeof f->what, "row_ptr[%zu] = %u is over the %llu stored "
			         "entries", r + 1, b, (unsigned long long)nnz);
			return -1;
		}
	}
	if (row_ptr[out] != nnz) {
		f->array = 0;
		f->index = out;
		snprintf(f->what, sizeof f->what, "row_ptr[%zu] = %u but the layer stores %llu "
		         "entries (the counts disagree)", out, row_ptr[out], (unsigned long long)nnz);
		return -1;
	}
	f->array = 1;
	for (size_t r = 0; r < out; r++)
		for (uint32_t k = row_ptr[r]; k < row_ptr[r + 1]; k++) {
			f->index = k;
			if (cols[k] >= in) {
				snprintf(f->what, sizeof f->what, "row %zu: column %u is out of range (the "
				         "layer has %zu inputs)", r, cols[k], in);
				return -1;
			}
			if (k > row_ptr[r] && cols[k] <= cols[k - 1]) {
				snprintf(f->what, sizeof f->what, "row %zu: column %u after column %u (%s)",
				         r, cols[k], cols[k - 1],
				         cols[k] == cols[k - 1] ? "duplicate column" :
				                                  "columns must increase within a row");
				return -1;
			}
		}
	return 0;
}

void nnpm_csr_scatter(nnp_layer *L, const uint32_t *row_ptr, const uint32_t *cols,
                      const float *vals)
{
	memset(L->w, 0, L->in * L->out * sizeof *L->w);
	for (size_t r = 0; r < L->out; r++)
		for (uint32_t k = row_ptr[r]; k < row_ptr[r + 1]; k++)
			L->w[r * L->in + cols[k]] = vals[k];
}
