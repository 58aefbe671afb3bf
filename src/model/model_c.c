/*
 * The C header export: one self-contained C99 file that needs only <math.h>,
 * for microcontrollers. Sizes as #defines, weights as static const float
 * [out][in] printed with %.9g (they read back bit-identical), the input
 * preprocessing inside, and one static inline predict function that writes
 * the outputs and returns the argmax, working in a scratch buffer the caller
 * passes (PREFIX_SCRATCH floats): no malloc, no global written. With int8,
 * weights are per-row symmetric int8 with a float scale per row, accumulated
 * in float. A float layer whose compressed sparse rows take fewer bytes than
 * its dense matrix (a magnitude-pruned one) is written as CSR arrays
 * (values, columns, row pointers; 16-bit indices where they fit) with a
 * loop over the stored entries only; it computes the same bits as the dense
 * loop, since the products it skips are zeros.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_priv.h"

/* A float literal: %.9g round-trips float32; make sure it reads as a float. */
static void put_float(nnpm_sink *s, float v)
{
	char b[48];
	int n = snprintf(b, sizeof b - 4, "%.9g", (double)v);
	if (n < 0)
		n = 0;
	/* Locale-proof: the decimal point must be '.'. */
	for (int i = 0; i < n; i++)
		if (b[i] == ',')
			b[i] = '.';
	if (!strpbrk(b, ".en"))
		b[n++] = '.', b[n++] = '0';
	b[n++] = 'f';
	nnpm_sink_put(s, b, (size_t)n);
}

static void put_floats(nnpm_sink *s, const float *v, size_t n, const char *indent)
{
	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			nnpm_sink_puts(s, i ? ",\n" : "");
		else
			nnpm_sink_puts(s, ", ");
		if (i % 8 == 0)
			nnpm_sink_puts(s, indent);
		put_float(s, v[i]);
	}
}

static int valid_ident(const char *p)
{
	if (!p || !*p || !(isalpha((unsigned char)*p) || *p == '_') || strlen(p) > 64)
		return 0;
	for (; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return 0;
	return 1;
}

static void upper(char *dst, const char *src)
{
	while (*src)
		*dst++ = (char)toupper((unsigned char)*src++);
	*dst = '\0';
}

/* Row o of w quantised: q[i] and the scale. */
static float quantize_row(const float *w, size_t n, signed char *q)
{
	float mx = 0.0f;
	for (size_t i = 0; i < n; i++)
		mx = fabsf(w[i]) > mx ? fabsf(w[i]) : mx;
	float sc = mx / 127.0f;
	for (size_t i = 0; i < n; i++)
		q[i] = (signed char)(sc > 0.0f ? lrintf(w[i] / sc) : 0);
	return sc;
}

/* A float layer in CSR: its entries are the weights that are not zero. */
typedef struct c_csr {
	size_t nnz;
	int wide_cols, wide_ptr;   /* 32-bit indices where 16 bits do not hold them */
	size_t bytes;
} c_csr;

static c_csr csr_plan(const nnp_layer *L)
{
	c_csr c;
	c.nnz = nnp_layer_nonzeros(L);
	c.wide_cols = L->in > 65536;
	c.wide_ptr = c.nnz > 65535;
	c.bytes = c.nnz * (4 + (c.wide_cols ? 4 : 2)) + (L->out + 1) * (c.wide_ptr ? 4 : 2);
	return c;
}

/* 1 if the layer is written as CSR: smaller than dense (float weights only). */
static int use_csr(const nnp_layer *L, int int8)
{
	return !int8 && csr_plan(L).bytes < L->in * L->out * sizeof(float);
}

static void put_csr(nnpm_sink *s, const nnp_layer *L, size_t l, const char *p)
{
	c_csr c = csr_plan(L);
	size_t n = c.nnz ? c.nnz : 1;   /* C has no empty arrays */
	float *v = calloc(n, sizeof *v);
	unsigned long *col = calloc(n, sizeof *col), *ptr = calloc(L->out + 1, sizeof *ptr);
	if (!v || !col || !ptr) {
		s->failed = NNP_ENOMEM;
		goto done;
	}
	size_t k = 0;
	for (size_t o = 0; o < L->out; o++) {
		for (size_t i = 0; i < L->in; i++)
			if (L->w[o * L->in + i] != 0.0f) {
				v[k] = L->w[o * L->in + i];
				col[k++] = (unsigned long)i;
			}
		ptr[o + 1] = (unsigned long)k;
	}
	nnpm_sink_printf(s, "/* layer %zu in compressed sparse rows: %zu of %zu weights stored */\n", l,
	        c.nnz, L->in * L->out);
	nnpm_sink_printf(s, "static const float %s_v%zu[%zu] = {\n", p, l, n);
	put_floats(s, v, n, "\t");
	nnpm_sink_puts(s, "\n};\n");
	nnpm_sink_printf(s, "static const unsigned %s %s_c%zu[%zu] = {\n\t", c.wide_cols ? "long" : "short",
	        p, l, n);
	for (size_t i = 0; i < n; i++)
		nnpm_sink_printf(s, "%s%lu", i ? (i % 16 ? ", " : ",\n\t") : "", col[i]);
	nnpm_sink_puts(s, "\n};\n");
	nnpm_sink_printf(s, "static const unsigned %s %s_r%zu[%zu] = {\n\t", c.wide_ptr ? "long" : "short",
	        p, l, L->out + 1);
	for (size_t i = 0; i <= L->out; i++)
		nnpm_sink_printf(s, "%s%lu", i ? (i % 16 ? ", " : ",\n\t") : "", ptr[i]);
	nnpm_sink_puts(s, "\n};\n");
done:
	free(v);
	free(col);
	free(ptr);
}

static void put_layer(nnpm_sink *s, const nnp_layer *L, size_t l, const char *p, int int8)
{
	if (use_csr(L, int8)) {
		put_csr(s, L, l, p);
	} else if (!int8) {
		nnpm_sink_printf(s, "static const float %s_w%zu[%zu][%zu] = {\n", p, l, L->out, L->in);
		for (size_t o = 0; o < L->out; o++) {
			nnpm_sink_puts(s, "\t{\n");
			put_floats(s, L->w + o * L->in, L->in, "\t\t");
			nnpm_sink_puts(s, o + 1 < L->out ? "\n\t},\n" : "\n\t}\n");
		}
		nnpm_sink_puts(s, "};\n");
	} else {
		signed char *q = malloc(L->in ? L->in : 1);
		float *sc = malloc(L->out * sizeof *sc);
		nnpm_sink_printf(s, "static const signed char %s_q%zu[%zu][%zu] = {\n", p, l, L->out,
		                 L->in);
		for (size_t o = 0; q && sc && o < L->out; o++) {
			sc[o] = quantize_row(L->w + o * L->in, L->in, q);
			nnpm_sink_puts(s, "\t{");
			for (size_t i = 0; i < L->in; i++)
				nnpm_sink_printf(s, "%s%d", i ? (i % 24 ? ", " : ",\n\t ") : "", q[i]);
			nnpm_sink_puts(s, o + 1 < L->out ? "},\n" : "}\n");
		}
		nnpm_sink_puts(s, "};\n");
		nnpm_sink_printf(s, "static const float %s_s%zu[%zu] = {\n", p, l, L->out);
		if (q && sc)
			put_floats(s, sc, L->out, "\t");
		else
			s->failed = NNP_ENOMEM;
		nnpm_sink_puts(s, "\n};\n");
		free(q);
		free(sc);
	}
	nnpm_sink_printf(s, "static const float %s_b%zu[%zu] = {\n", p, l, L->out);
	put_floats(s, L->b, L->out, "\t");
	nnpm_sink_puts(s, "\n};\n");
}

static void put_act(nnpm_sink *s, const nnp_layer *L, const char *v)
{
	switch (L->act) {
	case NNP_ACT_RELU:
		nnpm_sink_printf(s, "\t\t%s = %s > 0.0f ? %s : 0.0f;\n", v, v, v);
		break;
	case NNP_ACT_LEAKY_RELU:
		nnpm_sink_printf(s, "\t\t%s = %s > 0.0f ? %s : %s * ", v, v, v, v);
		put_float(s, L->alpha);
		nnpm_sink_puts(s, ";\n");
		break;
	case NNP_ACT_SIGMOID:
		nnpm_sink_printf(s, "\t\t%s = 1.0f / (1.0f + expf(-%s));\n", v, v);
		break;
	case NNP_ACT_TANH:
		nnpm_sink_printf(s, "\t\t%s = tanhf(%s);\n", v, v);
		break;
	default:
		break;
	}
}

int nnpm_c_write(nnpm_sink *s, const nnp_model *m, const nnp_export_opts *o, nnp_err *err)
{
	const char *p = o && o->prefix ? o->prefix : "nnp_model";
	int int8 = o && o->int8;
	if (!valid_ident(p))
		return nnp_err_set(err, NNP_EUSAGE, "C header: prefix \"%.70s\" is not a C identifier "
		                   "(letters, digits and _, not starting with a digit)", p);
	char P[80];
	upper(P, p);
	size_t L = m->n_layers, wmax = 0, params = nnp_model_params(m);
	for (size_t l = 0; l + 1 < L; l++)
		wmax = m->layers[l].out > wmax ? m->layers[l].out : wmax;
	size_t in = m->input_size, out = nnp_model_outputs(m);
	/* Scratch: the preprocessed input and two hidden buffers. */
	size_t scratch = in + 2 * (wmax ? wmax : 1);
	size_t bytes = int8 ? (nnp_model_macs(m) + (params - nnp_model_macs(m)) * 4 +
	                       4 * (params - nnp_model_macs(m)))
	                    : params * 4;
	int any_csr = 0;
	for (size_t l = 0; l < L; l++) {
		const nnp_layer *Ly = &m->layers[l];
		if (use_csr(Ly, int8)) {
			any_csr = 1;
			bytes -= Ly->in * Ly->out * sizeof(float) - csr_plan(Ly).bytes;
		}
	}
	nnpm_sink_printf(s, "/*\n * %s.h: a %zu-layer dense network", p, L);
	if (m->name) {
		nnpm_sink_puts(s, " (");
		for (const char *c = m->name; *c; c++)
			if (*c != '*' && *c != '/' && (unsigned char)*c >= 0x20)
				nnpm_sink_put(s, c, 1);
		nnpm_sink_puts(s, ")");
	}
	nnpm_sink_printf(s, ", written by nnprune. C99, needs only <math.h>.\n"
	                 " * %zu inputs -> %zu outputs; %zu parameters, about %zu bytes of %s "
	                 "weights.\n", in, out, params, bytes, int8 ? "int8 + float" : "float");
	nnpm_sink_printf(s, " *\n * Use: float scratch[%s_SCRATCH], y[%s_OUTPUTS];\n"
	                 " *      int cls = %s_predict(x, y, scratch);\n"
	                 " * x: %s_INPUTS raw inputs (the model's preprocessing is applied here);\n"
	                 " * y: the outputs (%s); cls: the index of the largest.\n"
	                 " * The scratch buffer is the caller's (a static array, the stack, ...);\n"
	                 " * predict writes nothing else and allocates nothing. Weights are laid\n"
	                 " * out [out][in] as in PyTorch%s.\n */\n",
	                 P, P, p, P,
	                 nnp_model_logits(m) ? "logits"
	                 : m->layers[L - 1].act == NNP_ACT_SOFTMAX ? "probabilities"
	                                                            : "values",
	                 any_csr ? ", sparse layers in compressed sparse rows" : "");
	nnpm_sink_printf(s, "#ifndef %s_H\n#define %s_H\n\n#include <math.h>\n\n", P, P);
	nnpm_sink_puts(s, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
	nnpm_sink_printf(s, "#define %s_INPUTS %zu\n#define %s_OUTPUTS %zu\n#define %s_LAYERS %zu\n",
	                 P, in, P, out, P, L);
	for (size_t l = 0; l < L; l++)
		nnpm_sink_printf(s, "#define %s_LAYER%zu_OUT %zu\n", P, l, m->layers[l].out);
	nnpm_sink_printf(s, "#define %s_SCRATCH %zu\n\n", P, scratch);
	const nnp_layer *L0 = &m->layers[0];
	if (L0->pre_offset) {
		nnpm_sink_printf(s, "static const float %s_offset[%zu] = {\n", p, in);
		put_floats(s, L0->pre_offset, in, "\t");
		nnpm_sink_puts(s, "\n};\n");
	}
	if (L0->pre_scale) {
		nnpm_sink_printf(s, "static const float %s_scale[%zu] = {\n", p, in);
		put_floats(s, L0->pre_scale, in, "\t");
		nnpm_sink_puts(s, "\n};\n");
	}
	for (size_t l = 0; l < L; l++)
		put_layer(s, &m->layers[l], l, p, int8);
	nnpm_sink_printf(s, "\n/* Writes %s_OUTPUTS outputs to y; returns the argmax. */\n"
	                 "static inline int %s_predict(const float *x, float *y, float *scratch)\n{\n"
	                 "\tfloat *in = scratch, *a = scratch + %zu, *b = a + %zu, *t;\n"
	                 "\tint i, o, best = 0;\n\n"
	                 "\tfor (i = 0; i < %zu; i++)\n\t\tin[i] = ", P, p, in, wmax ? wmax : 1, in);
	nnpm_sink_puts(s, L0->pre_offset ? "(x[i] - " : "x[i]");
	if (L0->pre_offset)
		nnpm_sink_printf(s, "%s_offset[i])", p);
	if (L0->pre_scale)
		nnpm_sink_printf(s, " * %s_scale[i]", p);
	nnpm_sink_puts(s, ";\n\t(void)t;\n");
	if (any_csr)
		nnpm_sink_puts(s, "\tunsigned long k;\n");
	for (size_t l = 0; l < L; l++) {
		const nnp_layer *Ly = &m->layers[l];
		const char *src = l == 0 ? "in" : "a", *dst = l + 1 == L ? "y" : "b";
		nnpm_sink_printf(s, "\t/* layer %zu: %zu -> %zu, %s */\n", l, Ly->in, Ly->out,
		                 nnp_act_name(Ly->act));
		nnpm_sink_printf(s, "\tfor (o = 0; o < %zu; o++) {\n\t\tfloat acc = 0.0f;\n", Ly->out);
		if (use_csr(Ly, int8))
			nnpm_sink_printf(s, "\t\tfor (k = %s_r%zu[o]; k < %s_r%zu[o + 1]; k++)\n\t\t\tacc += "
			        "%s_v%zu[k] * %s[%s_c%zu[k]];\n\t\tacc += %s_b%zu[o];\n", p, l, p, l, p,
			        l, src, p, l, p, l);
		else if (int8)
			nnpm_sink_printf(s, "\t\tfor (i = 0; i < %zu; i++)\n\t\t\tacc += (float)%s_q%zu[o][i]"
			                 " * %s[i];\n\t\tacc = acc * %s_s%zu[o] + %s_b%zu[o];\n", Ly->in,
			                 p, l, src, p, l, p, l);
		else
			nnpm_sink_printf(s, "\t\tfor (i = 0; i < %zu; i++)\n\t\t\tacc += %s_w%zu[o][i] * "
			                 "%s[i];\n\t\tacc += %s_b%zu[o];\n", Ly->in, p, l, src, p, l);
		put_act(s, Ly, "acc");
		nnpm_sink_printf(s, "\t\t%s[o] = acc;\n\t}\n", dst);
		if (l + 1 < L)
			nnpm_sink_puts(s, "\tt = a;\n\ta = b;\n\tb = t;\n");
	}
	if (m->layers[L - 1].act == NNP_ACT_SOFTMAX)
		nnpm_sink_printf(s, "\t{\n\t\tfloat mx = y[0], sum = 0.0f;\n"
		                 "\t\tfor (o = 1; o < %zu; o++)\n\t\t\tmx = y[o] > mx ? y[o] : mx;\n"
		                 "\t\tfor (o = 0; o < %zu; o++) {\n\t\t\ty[o] = expf(y[o] - mx);\n"
		                 "\t\t\tsum += y[o];\n\t\t}\n\t\tfor (o = 0; o < %zu; o++)\n"
		                 "\t\t\ty[o] /= sum;\n\t}\n", out, out, out);
	nnpm_sink_printf(s, "\tfor (o = 1; o < %zu; o++)\n\t\tif (y[o] > y[best])\n"
	                 "\t\t\tbest = o;\n\treturn best;\n}\n\n", out);
	nnpm_sink_printf(s, "#ifdef __cplusplus\n}\n#endif\n#endif /* %s_H */\n", P);
	return NNP_OK;
}
