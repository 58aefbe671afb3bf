/*
 * ONNX, read and written through libprotobuf-c with the message code that
 * protoc-c generates from onnx.proto at build time.
 *
 * Read: the graphs torch.onnx.export writes for an nn.Sequential MLP, walked
 * from the input by tensor names: Gemm (transA 0, transB 0 or 1, alpha,
 * beta) or MatMul + Add (bias on either side) per layer; Relu, LeakyRelu,
 * Sigmoid, Tanh, Softmax and Identity after a layer; Flatten, Reshape,
 * Identity and Sub/Add/Mul/Div by constants before the first layer (the
 * constants become the input preprocessing). Initializers and Constant
 * nodes, float32 in raw_data or float_data. Anything else: refused, naming
 * the node and its op type.
 *
 * Written: opset 13, IR version 7, input "x" [N, in] with a symbolic batch,
 * preprocessing as Sub/Mul nodes, one Gemm (transB = 1) per layer named like
 * an nn.Sequential's parameters, the activation nodes (softmax included),
 * output "y"; nnprune's metadata as metadata_props.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "model_priv.h"
#include "mem.h"

#define ONNX_FLOAT 1
#define ONNX_DOUBLE 11

/* ---- reading ---- */

typedef struct cvec {
	size_t n;        /* elements */
	size_t ndim;
	int64_t dims[8];
	float *v;        /* owned */
} cvec;

typedef struct onnx_rd {
	const Onnx__GraphProto *g;
	const char *label;
	nnp_err *err;
	/* constants: initializers and Constant nodes' outputs */
	const char **cname;
	const Onnx__TensorProto **ct;
	size_t n_const;
} onnx_rd;

static const Onnx__TensorProto *find_const(const onnx_rd *r, const char *name)
{
	for (size_t i = 0; name && i < r->n_const; i++)
		if (!strcmp(r->cname[i], name))
			return r->ct[i];
	return NULL;
}

/* A float tensor's values (raw_data or float_data; doubles converted). */
static int tensor_floats(const onnx_rd *r, const Onnx__TensorProto *t, const char *what,
                         cvec *out)
{
	memset(out, 0, sizeof *out);
	uint64_t count = 1;
	if (t->n_dims > 8)
		return nnp_err_set(r->err, NNP_EINPUT, "%s: tensor \"%.80s\": %zu dimensions", r->label,
		                   what, t->n_dims);
	for (size_t i = 0; i < t->n_dims; i++) {
		if (t->dims[i] < 0 || (t->dims[i] && count > ((uint64_t)1 << 40) / (uint64_t)t->dims[i]))
			return nnp_err_set(r->err, NNP_EINPUT, "%s: tensor \"%.80s\": bad dimension %lld",
			                   r->label, what, (long long)t->dims[i]);
		count *= (uint64_t)t->dims[i];
		out->dims[i] = t->dims[i];
	}
	out->ndim = t->n_dims;
	int dt = t->has_data_type ? t->data_type : 0;
	if (dt != ONNX_FLOAT && dt != ONNX_DOUBLE)
		return nnp_err_set(r->err, NNP_EINPUT, "%s: tensor \"%.80s\": data type %d is not "
		                   "supported (float and double are)", r->label, what, dt);
	if (t->n_external_data || (t->has_data_location && t->data_location != 0))
		return nnp_err_set(r->err, NNP_EINPUT, "%s: tensor \"%.80s\": external data is not "
		                   "supported", r->label, what);
	size_t isz = dt == ONNX_FLOAT ? 4 : 8;
	int raw = t->has_raw_data && t->raw_data.len;
	uint64_t have = raw ? t->raw_data.len / isz
	                    : dt == ONNX_FLOAT ? t->n_float_data : t->n_double_data;
	if ((raw && t->raw_data.len % isz) || have != count)
		return nnp_err_set(r->err, NNP_EINPUT, "%s: tensor \"%.80s\": %llu values for a shape "
		                   "of %llu", r->label, what, (unsigned long long)have,
		                   (unsigned long long)count);
	out->v = malloc((count ? count : 1) * sizeof(float));
	if (!out->v)
		return nnp_err_set(r->err, NNP_ENOMEM, "%s: out of memory", r->label);
	for (uint64_t i = 0; i < count; i++) {
		double d;
		if (raw && dt == ONNX_FLOAT) {
			const unsigned char *q = t->raw_data.data + 4 * i;
			uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
			             (uint32_t)q[3] << 24;
			float f;
			memcpy(&f, &u, 4);
			d = f;
		} else if (raw) {
			const unsigned char *q = t->raw_data.data + 8 * i;
			uint64_t u = 0;
			for (int b = 7; b >= 0; b--)
				u = u << 8 | q[b];
			memcpy(&d, &u, 8);
		} else {
			d = dt == ONNX_FLOAT ? (double)t->float_data[i] : t->double_data[i];
		}
		if (!isfinite(d) || fabs(d) > 3.4028235e38) {
			free(out->v);
			out->v = NULL;
			return nnp_err_set(r->err, NNP_EINPUT, "%s: tensor \"%.80s\": element %llu is not "
			                   "a finite float32", r->label, what, (unsigned long long)i);
		}
		out->v[i] = (float)d;
	}
	out->n = (size_t)count;
	return NNP_OK;
}

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
	for (size_t i = 0; i < n->n_attribute; i++)
		if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name))
			return n->attribute[i];
	return NULL;
}

static float attr_f(const Onnx__NodeProto *n, const char *name, float def)
{
	const Onnx__AttributeProto *a = attr(n, name);
	return a && a->has_f ? a->f : def;
}

static int64_t attr_i(const Onnx__NodeProto *n, const char *name, int64_t def)
{
	const Onnx__AttributeProto *a = attr(n, name);
	return a && a->has_i ? a->i : def;
}

static const char *op(const Onnx__NodeProto *n)
{
	return n->op_type ? n->op_type : "";
}

/* The one node that reads `name`; NULL if none. *many if more than one. */
static const Onnx__NodeProto *consumer(const onnx_rd *r, const char *name, size_t *idx,
                                       int *many)
{
	const Onnx__NodeProto *found = NULL;
	*many = 0;
	for (size_t i = 0; i < r->g->n_node; i++) {
		const Onnx__NodeProto *n = r->g->node[i];
		if (!strcmp(op(n), "Constant"))
			continue;
		for (size_t k = 0; k < n->n_input; k++)
			if (n->input[k] && !strcmp(n->input[k], name)) {
				if (found && found != n)
					*many = 1;
				if (!found) {
					found = n;
					*idx = i;
				}
			}
	}
	return found;
}

static int unsupported(const onnx_rd *r, size_t i, const Onnx__NodeProto *n, const char *why)
{
	return nnp_err_set(r->err, NNP_EINPUT, "%s: node %zu (\"%.60s\"): op %.40s %s (supported: "
	                   "Gemm, MatMul + Add, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, "
	                   "Identity, Flatten/Reshape of the input, Sub/Add/Mul/Div of the input "
	                   "by constants)", r->label, i, n->name ? n->name : "", op(n), why);
}

/* The other input of a binary node, which must be a constant. */
static const Onnx__TensorProto *other_const(const onnx_rd *r, const Onnx__NodeProto *n,
                                            const char *cur, int *cur_first)
{
	if (n->n_input != 2)
		return NULL;
	*cur_first = !strcmp(n->input[0], cur);
	return find_const(r, *cur_first ? n->input[1] : n->input[0]);
}

typedef struct olayer {
	size_t in, out;
	float *w, *b;      /* owned, [out][in] and [out] */
	nnp_act act;
	float alpha;
} olayer;

/* The preprocessing so far, x' = (x - c) * a per feature (vectors of n, 1 or in):
 * a is the scale and c the offset, so that our own Sub-then-Mul export reads
 * back bit-exact. */
typedef struct oprep {
	size_t n;
	float *a, *c;
} oprep;

static int prep_op(const onnx_rd *r, oprep *p, const char *opn, const cvec *k, int k_first,
                   size_t ni, const Onnx__NodeProto *node)
{
	size_t kn = k->n;
	if (kn == 0 || (kn != 1 && p->n != 1 && kn != p->n))
		return unsupported(r, ni, node, "has a constant of a size that does not fit the input");
	if (kn > p->n) {  /* widen scalars to vectors */
		float *a = malloc(kn * sizeof *a), *c = malloc(kn * sizeof *c);
		if (!a || !c) {
			free(a);
			free(c);
			return nnp_err_set(r->err, NNP_ENOMEM, "%s: out of memory", r->label);
		}
		for (size_t i = 0; i < kn; i++) {
			a[i] = p->a[0];
			c[i] = p->c[0];
		}
		free(p->a);
		free(p->c);
		p->a = a;
		p->c = c;
		p->n = kn;
	}
	for (size_t i = 0; i < p->n; i++) {
		float v = k->v[kn == 1 ? 0 : i];
		if (!strcmp(opn, "Sub") && k_first)
			return unsupported(r, ni, node, "subtracts the input from a constant");
		if (!strcmp(opn, "Div") && k_first)
			return unsupported(r, ni, node, "divides a constant by the input");
		if (!strcmp(opn, "Sub") || !strcmp(opn, "Add")) {
			/* (x - c) a - v = (x - (c + v / a)) a */
			float d = p->a[i] == 1.0f ? v : v / p->a[i];
			p->c[i] += !strcmp(opn, "Sub") ? d : -d;
		} else if (!strcmp(opn, "Mul")) {
			p->a[i] *= v;
		} else if (v == 0.0f) {
			return unsupported(r, ni, node, "divides by zero");
		} else {
			p->a[i] /= v;
		}
		if (p->a[i] == 0.0f || !isfinite(p->a[i]) || !isfinite(p->c[i]))
			return unsupported(r, ni, node, "makes the preprocessing zero or not finite");
	}
	return NNP_OK;
}

static int act_of(const Onnx__NodeProto *n, nnp_act *a, float *alpha)
{
	const char *o = op(n);
	*alpha = 0.0f;
	if (!strcmp(o, "Relu"))
		*a = NNP_ACT_RELU;
	else if (!strcmp(o, "LeakyRelu"))
		*a = NNP_ACT_LEAKY_RELU, *alpha = attr_f(n, "alpha", 0.01f);
	else if (!strcmp(o, "Sigmoid"))
		*a = NNP_ACT_SIGMOID;
	else if (!strcmp(o, "Tanh"))
		*a = NNP_ACT_TANH;
	else if (!strcmp(o, "Softmax"))
		*a = NNP_ACT_SOFTMAX;
	else
		return -1;
	return 0;
}

/* A Gemm or MatMul (+ Add) layer starting at node n; *cur advances past it. */
static int read_layer(const onnx_rd *r, const Onnx__NodeProto *n, size_t ni, const char **cur,
                      olayer *L)
{
	cvec W, B;
	memset(&B, 0, sizeof B);
	int cf;
	int gemm = !strcmp(op(n), "Gemm");
	if (n->n_input < 2 || strcmp(n->input[0], *cur) || !find_const(r, n->input[1]))
		return unsupported(r, ni, n, "does not multiply the activations by a constant weight");
	if (n->n_output != 1)
		return unsupported(r, ni, n, "has several outputs");
	int rc = tensor_floats(r, find_const(r, n->input[1]), n->input[1], &W);
	if (rc)
		return rc;
	int transB = gemm ? (int)attr_i(n, "transB", 0) : 0;
	float alpha = gemm ? attr_f(n, "alpha", 1.0f) : 1.0f, beta = gemm ? attr_f(n, "beta", 1.0f) : 1.0f;
	if (W.ndim != 2 || (gemm && attr_i(n, "transA", 0))) {
		free(W.v);
		return unsupported(r, ni, n, "has a weight that is not 2-D, or transA");
	}
	L->out = (size_t)W.dims[transB ? 0 : 1];
	L->in = (size_t)W.dims[transB ? 1 : 0];
	const char *bias = gemm && n->n_input > 2 ? n->input[2] : NULL;
	*cur = n->output[0];
	if (!gemm) {  /* MatMul: an Add of a constant may follow, on either side */
		size_t j;
		int many;
		const Onnx__NodeProto *a = consumer(r, *cur, &j, &many);
		if (a && !many && !strcmp(op(a), "Add") && a->n_output == 1 &&
		    other_const(r, a, *cur, &cf)) {
			bias = cf ? a->input[1] : a->input[0];
			*cur = a->output[0];
		}
	}
	if (bias && bias[0]) {
		const Onnx__TensorProto *bt = find_const(r, bias);
		if (!bt) {
			free(W.v);
			return unsupported(r, ni, n, "has a bias that is not a constant");
		}
		if ((rc = tensor_floats(r, bt, bias, &B)) != 0) {
			free(W.v);
			return rc;
		}
		if (B.n != L->out && B.n != 1) {
			free(W.v);
			free(B.v);
			return nnp_err_set(r->err, NNP_EINPUT, "%s: node %zu: bias \"%.60s\" has %zu values "
			                   "for %zu outputs", r->label, ni, bias, B.n, L->out);
		}
	}
	L->w = malloc(((L->in * L->out) > 0 ? L->in * L->out : 1) * sizeof(float));
	L->b = calloc(L->out ? L->out : 1, sizeof(float));
	if (!L->w || !L->b) {
		free(W.v);
		free(B.v);
		return nnp_err_set(r->err, NNP_ENOMEM, "%s: out of memory", r->label);
	}
	for (size_t o = 0; o < L->out; o++) {
		for (size_t i = 0; i < L->in; i++)
			L->w[o * L->in + i] = alpha * W.v[transB ? o * L->in + i : i * L->out + o];
		if (B.v)
			L->b[o] = beta * B.v[B.n == 1 ? 0 : o];
	}
	free(W.v);
	free(B.v);
	L->act = NNP_ACT_LINEAR;
	return NNP_OK;
}

static int walk(onnx_rd *r, const char *input, const char *output, olayer **layers_out,
                size_t *n_layers, oprep *prep)
{
	olayer *ls = calloc(r->g->n_node + 1, sizeof *ls);
	size_t nl = 0;
	const char *cur = input;
	int rc = ls ? NNP_OK : nnp_err_set(r->err, NNP_ENOMEM, "%s: out of memory", r->label);
	/* Each step passes at least one node: more steps than nodes is a cycle. */
	for (size_t steps = 0; !rc && strcmp(cur, output); steps++) {
		size_t ni = 0;
		int many, cf;
		const Onnx__NodeProto *n = consumer(r, cur, &ni, &many);
		if (n && steps >= r->g->n_node) {
			rc = unsupported(r, ni, n, "is reached again (the graph has a cycle)");
			break;
		}
		if (!n) {
			rc = nnp_err_set(r->err, NNP_EINPUT, "%s: nothing reads \"%.60s\" and it is not the "
			                 "graph's output", r->label, cur);
			break;
		}
		if (many) {
			rc = unsupported(r, ni, n, "shares its input with another node (a branch)");
			break;
		}
		const char *o = op(n);
		nnp_act a;
		float alpha;
		if (!strcmp(o, "Gemm") || !strcmp(o, "MatMul")) {
			rc = read_layer(r, n, ni, &cur, &ls[nl]);
			if (!rc)
				nl++;
			continue;
		}
		if (n->n_output != 1) {
			rc = unsupported(r, ni, n, "has several outputs");
			break;
		}
		if (!strcmp(o, "Identity")) {
			cur = n->output[0];
		} else if (nl == 0 && (!strcmp(o, "Flatten") || !strcmp(o, "Reshape"))) {
			cur = n->output[0];
		} else if (nl == 0 && (!strcmp(o, "Sub") || !strcmp(o, "Add") || !strcmp(o, "Mul") ||
		                       !strcmp(o, "Div"))) {
			const Onnx__TensorProto *k = other_const(r, n, cur, &cf);
			cvec kv;
			if (!k) {
				rc = unsupported(r, ni, n, "has a second input that is not a constant");
				break;
			}
			if ((rc = tensor_floats(r, k, cf ? n->input[1] : n->input[0], &kv)) != 0)
				break;
			rc = prep_op(r, prep, o, &kv, !cf, ni, n);
			free(kv.v);
			cur = n->output[0];
		} else if (nl > 0 && !act_of(n, &a, &alpha)) {
			if (ls[nl - 1].act != NNP_ACT_LINEAR) {
				rc = unsupported(r, ni, n, "follows another activation");
				break;
			}
			if (a == NNP_ACT_SOFTMAX) {
				int64_t ax = attr_i(n, "axis", -1);
				if (ax != -1 && ax != 1) {
					rc = unsupported(r, ni, n, "is taken over another axis than the last");
					break;
				}
			}
			ls[nl - 1].act = a;
			ls[nl - 1].alpha = alpha;
			cur = n->output[0];
		} else {
			rc = unsupported(r, ni, n, nl ? "is not supported here" : "is not supported before "
			                 "the first layer");
		}
	}
	if (!rc && nl == 0)
		rc = nnp_err_set(r->err, NNP_EINPUT, "%s: the graph has no Gemm or MatMul layer",
		                 r->label);
	if (rc) {
		for (size_t l = 0; ls && l < nl + 1; l++) {
			free(ls[l].w);
			free(ls[l].b);
		}
		free(ls);
		return rc;
	}
	*layers_out = ls;
	*n_layers = nl;
	return NNP_OK;
}

static int build(onnx_rd *r, olayer *ls, size_t nl, const oprep *p, const nnp_import_opts *o,
                 nnp_model **out)
{
	size_t *sizes = calloc(nl, sizeof *sizes);
	nnp_act *acts = calloc(nl, sizeof *acts);
	nnp_model *m = NULL;
	int rc = sizes && acts ? NNP_OK : nnp_err_set(r->err, NNP_ENOMEM, "%s: out of memory",
	                                              r->label);
	uint64_t params = 0;
	for (size_t l = 0; !rc && l < nl; l++) {
		if (l && ls[l].in != ls[l - 1].out)
			rc = nnp_err_set(r->err, NNP_EINPUT, "%s: layer %zu takes %zu inputs but layer %zu "
			                 "gives %zu", r->label, l, ls[l].in, l - 1, ls[l - 1].out);
		else if (ls[l].in < 1 || ls[l].out < 1 || ls[l].in > NNP_MAX_WIDTH ||
		         ls[l].out > NNP_MAX_WIDTH)
			rc = nnp_err_set(r->err, NNP_EINPUT, "%s: layer %zu: %zux%zu is out of range",
			                 r->label, l, ls[l].out, ls[l].in);
		sizes[l] = ls[l].out;
		acts[l] = ls[l].act;
		params += (uint64_t)ls[l].in * ls[l].out + ls[l].out;
	}
	if (!rc && (nl > NNP_MAX_LAYERS || params > NNP_MAX_PARAMS))
		rc = nnp_err_set(r->err, NNP_EINPUT, "%s: the model is over the size limits", r->label);
	if (!rc && p->n != 1 && p->n != ls[0].in)
		rc = nnp_err_set(r->err, NNP_EINPUT, "%s: the preprocessing constants have %zu values "
		                 "for %zu inputs", r->label, p->n, ls[0].in);
	if (!rc && nnpm_alloc(&m, ls[0].in, nl, sizes, acts))
		rc = nnp_err_set(r->err, NNP_ENOMEM, "%s: out of memory", r->label);
	for (size_t l = 0; !rc && l < nl; l++) {
		free(m->layers[l].w);
		free(m->layers[l].b);
		m->layers[l].w = ls[l].w;
		m->layers[l].b = ls[l].b;
		m->layers[l].alpha = ls[l].alpha;
		ls[l].w = ls[l].b = NULL;
	}
	/* A linear last layer: logits unless --output says it is plain values. */
	if (!rc && acts[nl - 1] == NNP_ACT_LINEAR)
		m->logits = !(o && o->output && !strcmp(o->output, "linear"));
	int has_prep = 0;
	for (size_t i = 0; !rc && i < p->n; i++)
		has_prep |= p->a[i] != 1.0f || p->c[i] != 0.0f;
	if (!rc && has_prep) {
		int any_off = 0, any_sc = 0;
		for (size_t i = 0; i < p->n; i++) {
			any_off |= p->c[i] != 0.0f;
			any_sc |= p->a[i] != 1.0f;
		}
		rc = nnp_model_set_prep(m, any_off ? p->c : NULL, p->n, any_sc ? p->a : NULL, p->n,
		                        r->err);
	}
	free(sizes);
	free(acts);
	return nnpm_hand_over(m, rc, out);
}

static int is_initializer(const Onnx__GraphProto *g, const char *name)
{
	for (size_t i = 0; i < g->n_initializer; i++)
		if (g->initializer[i]->name && !strcmp(g->initializer[i]->name, name))
			return 1;
	return 0;
}

int nnpm_onnx_read(nnp_model **out, const unsigned char *buf, size_t len, const char *label,
                   const nnp_import_opts *o, int *assumed, nnp_err *err)
{
	*out = NULL;
	*assumed = 0;
	if (o && o->activations)
		return nnp_err_set(err, NNP_EUSAGE, "%s: an ONNX graph has its own activations: "
		                   "--activations is for weights files", label);
	Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
	if (!mp)
		return nnp_err_set(err, NNP_EINPUT, "%s: not a valid ONNX protobuf (ModelProto)", label);
	onnx_rd r;
	memset(&r, 0, sizeof r);
	r.g = mp->graph;
	r.label = label;
	r.err = err;
	olayer *ls = NULL;
	size_t nl = 0;
	oprep p = { 1, NULL, NULL };
	const char *input = NULL;
	int rc = NNP_OK;
	if (!r.g) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: the model has no graph", label);
		goto done;
	}
	for (size_t i = 0; i < r.g->n_input; i++) {
		const char *nm = r.g->input[i]->name;
		if (!nm || is_initializer(r.g, nm))
			continue;
		if (input) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: the graph has several inputs (\"%.40s\", "
			                 "\"%.40s\")", label, input, nm);
			goto done;
		}
		input = nm;
	}
	if (!input || r.g->n_output != 1 || !r.g->output[0]->name) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: the graph must have one input and one output",
		                 label);
		goto done;
	}
	r.cname = calloc(r.g->n_initializer + r.g->n_node + 1, sizeof *r.cname);
	r.ct = calloc(r.g->n_initializer + r.g->n_node + 1, sizeof *r.ct);
	p.a = malloc(sizeof *p.a);
	p.c = malloc(sizeof *p.c);
	if (!r.cname || !r.ct || !p.a || !p.c) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
		goto done;
	}
	p.a[0] = 1.0f;
	p.c[0] = 0.0f;
	for (size_t i = 0; i < r.g->n_initializer; i++)
		if (r.g->initializer[i]->name) {
			r.cname[r.n_const] = r.g->initializer[i]->name;
			r.ct[r.n_const++] = r.g->initializer[i];
		}
	for (size_t i = 0; i < r.g->n_node; i++) {
		const Onnx__NodeProto *n = r.g->node[i];
		if (strcmp(op(n), "Constant"))
			continue;
		const Onnx__AttributeProto *v = attr(n, "value");
		if (!v || !v->t || n->n_output != 1) {
			rc = unsupported(&r, i, n, "is a Constant without a tensor value");
			goto done;
		}
		r.cname[r.n_const] = n->output[0];
		r.ct[r.n_const++] = v->t;
	}
	rc = walk(&r, input, r.g->output[0]->name, &ls, &nl, &p);
	if (!rc)
		rc = build(&r, ls, nl, &p, o, out);
	if (!rc && mp->n_metadata_props) {
		/* Our own files: name, classes, provenance as metadata_props. */
		cJSON *meta = cJSON_CreateObject();
		for (size_t i = 0; meta && i < mp->n_metadata_props; i++)
			if (mp->metadata_props[i]->key && mp->metadata_props[i]->value)
				cJSON_AddStringToObject(meta, mp->metadata_props[i]->key,
				                        mp->metadata_props[i]->value);
		/* The graph's preprocessing wins over a copy in the metadata. */
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "preprocessing");
		rc = meta ? nnpm_meta_strings_apply(*out, meta, label, err)
		          : nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", label);
		cJSON_Delete(meta);
		if (rc) {
			nnp_model_free(*out);
			*out = NULL;
		}
	}
done:
	for (size_t l = 0; ls && l < nl; l++) {
		free(ls[l].w);
		free(ls[l].b);
	}
	NNP_FREE_ALL(ls, p.a, p.c, r.cname, r.ct);
	onnx__model_proto__free_unpacked(mp, NULL);
	return rc;
}

/* ---- writing ---- */

/* Everything allocated for the message, freed together. */
typedef struct arena {
	void **p;
	size_t n, cap;
	int failed;
} arena;

static void *get(arena *a, size_t size)
{
	if (a->failed)
		return NULL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void **np = realloc(a->p, cap * sizeof *np);
		if (!np) {
			a->failed = 1;
			return NULL;
		}
		a->p = np;
		a->cap = cap;
	}
	void *q = calloc(1, size ? size : 1);
	if (!q) {
		a->failed = 1;
		return NULL;
	}
	return a->p[a->n++] = q;
}

static char *str(arena *a, const char *s)
{
	char *d = get(a, strlen(s) + 1);
	if (d)
		strcpy(d, s);
	return d;
}

static Onnx__TensorProto *tensor(arena *a, const char *name, const float *v, size_t d0,
                                 size_t d1)
{
	Onnx__TensorProto *t = get(a, sizeof *t);
	size_t n = d1 ? d0 * d1 : d0;
	if (!t)
		return NULL;
	onnx__tensor_proto__init(t);
	t->name = str(a, name);
	t->n_dims = d1 ? 2 : 1;
	t->dims = get(a, 2 * sizeof *t->dims);
	unsigned char *raw = get(a, n * 4);
	if (!t->dims || !raw)
		return NULL;
	t->dims[0] = (int64_t)d0;
	t->dims[1] = (int64_t)d1;
	t->has_data_type = 1;
	t->data_type = ONNX_FLOAT;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		raw[4 * i] = (unsigned char)u;
		raw[4 * i + 1] = (unsigned char)(u >> 8);
		raw[4 * i + 2] = (unsigned char)(u >> 16);
		raw[4 * i + 3] = (unsigned char)(u >> 24);
	}
	t->has_raw_data = 1;
	t->raw_data.len = n * 4;
	t->raw_data.data = raw;
	return t;
}

static Onnx__NodeProto *node(arena *a, const char *opn, const char *name, const char *in0,
                             const char *in1, const char *in2, const char *outn)
{
	Onnx__NodeProto *n = get(a, sizeof *n);
	if (!n)
		return NULL;
	onnx__node_proto__init(n);
	n->op_type = str(a, opn);
	n->name = str(a, name);
	n->input = get(a, 3 * sizeof *n->input);
	n->output = get(a, sizeof *n->output);
	if (!n->input || !n->output)
		return NULL;
	n->input[n->n_input++] = str(a, in0);
	if (in1)
		n->input[n->n_input++] = str(a, in1);
	if (in2)
		n->input[n->n_input++] = str(a, in2);
	n->output[n->n_output++] = str(a, outn);
	return n;
}

static void add_attr(arena *a, Onnx__NodeProto *n, const char *name, int is_float, float f,
                     int64_t i)
{
	Onnx__AttributeProto *at = get(a, sizeof *at);
	Onnx__AttributeProto **list = get(a, (n->n_attribute + 1) * sizeof *list);
	if (!at || !list)
		return;
	onnx__attribute_proto__init(at);
	at->name = str(a, name);
	at->has_type = 1;
	if (is_float) {
		at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
		at->has_f = 1;
		at->f = f;
	} else {
		at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
		at->has_i = 1;
		at->i = i;
	}
	for (size_t k = 0; k < n->n_attribute; k++)
		list[k] = n->attribute[k];
	list[n->n_attribute++] = at;
	n->attribute = list;
}

/* A float tensor value [N, width] with a symbolic batch dimension. */
static Onnx__ValueInfoProto *value(arena *a, const char *name, size_t width)
{
	Onnx__ValueInfoProto *v = get(a, sizeof *v);
	Onnx__TypeProto *t = get(a, sizeof *t);
	Onnx__TypeProto__Tensor *tt = get(a, sizeof *tt);
	Onnx__TensorShapeProto *sh = get(a, sizeof *sh);
	Onnx__TensorShapeProto__Dimension **dims = get(a, 2 * sizeof *dims);
	Onnx__TensorShapeProto__Dimension *d0 = get(a, sizeof *d0), *d1 = get(a, sizeof *d1);
	if (!v || !t || !tt || !sh || !dims || !d0 || !d1)
		return NULL;
	onnx__value_info_proto__init(v);
	onnx__type_proto__init(t);
	onnx__type_proto__tensor__init(tt);
	onnx__tensor_shape_proto__init(sh);
	onnx__tensor_shape_proto__dimension__init(d0);
	onnx__tensor_shape_proto__dimension__init(d1);
	d0->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
	d0->dim_param = str(a, "N");
	d1->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
	d1->dim_value = (int64_t)width;
	dims[0] = d0;
	dims[1] = d1;
	sh->n_dim = 2;
	sh->dim = dims;
	tt->has_elem_type = 1;
	tt->elem_type = ONNX_FLOAT;
	tt->shape = sh;
	t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	t->tensor_type = tt;
	v->name = str(a, name);
	v->type = t;
	return v;
}

typedef struct props {
	arena *a;
	Onnx__StringStringEntryProto **e;
	size_t n;
} props;

static void put_prop(void *ctx, const char *key, const char *json)
{
	props *p = ctx;
	Onnx__StringStringEntryProto *e = get(p->a, sizeof *e);
	if (!e || p->n >= 32)
		return;
	onnx__string_string_entry_proto__init(e);
	e->key = str(p->a, key);
	e->value = str(p->a, json);
	p->e[p->n++] = e;
}

int nnpm_onnx_write(nnpm_sink *s, const nnp_model *m, const nnp_export_opts *o, nnp_err *err)
{
	(void)o;
	arena a = { NULL, 0, 0, 0 };
	size_t L = m->n_layers, max_nodes = 2 * L + 2, k = 0, ki = 0;
	Onnx__ModelProto mp;
	Onnx__GraphProto g;
	Onnx__OperatorSetIdProto ops;
	Onnx__OperatorSetIdProto *opsp = &ops;
	onnx__model_proto__init(&mp);
	onnx__graph_proto__init(&g);
	onnx__operator_set_id_proto__init(&ops);
	ops.domain = (char *)"";
	ops.has_version = 1;
	ops.version = 13;
	mp.has_ir_version = 1;
	mp.ir_version = 7;
	mp.n_opset_import = 1;
	mp.opset_import = &opsp;
	mp.producer_name = (char *)"nnprune";
	mp.graph = &g;
	g.name = (char *)"nnprune";
	g.node = get(&a, max_nodes * sizeof *g.node);
	g.initializer = get(&a, (2 * L + 2) * sizeof *g.initializer);
	g.input = get(&a, sizeof *g.input);
	g.output = get(&a, sizeof *g.output);
	props pr = { &a, get(&a, 32 * sizeof(Onnx__StringStringEntryProto *)), 0 };
	char cur[48] = "x", nx[48], wn[48], bn[48], nm[48];
	const nnp_layer *L0 = &m->layers[0];
	if (!g.node || !g.initializer || !g.input || !g.output || !pr.e)
		goto nomem;
	g.input[0] = value(&a, "x", m->input_size);
	g.n_input = 1;
	if (L0->pre_offset) {
		g.initializer[ki++] = tensor(&a, "input_offset", L0->pre_offset, m->input_size, 0);
		g.node[k++] = node(&a, "Sub", "preprocess_offset", cur, "input_offset", NULL, "x_centred");
		strcpy(cur, "x_centred");
	}
	if (L0->pre_scale) {
		g.initializer[ki++] = tensor(&a, "input_scale", L0->pre_scale, m->input_size, 0);
		g.node[k++] = node(&a, "Mul", "preprocess_scale", cur, "input_scale", NULL, "x_scaled");
		strcpy(cur, "x_scaled");
	}
	for (size_t l = 0; l < L; l++) {
		const nnp_layer *Ly = &m->layers[l];
		int last = l + 1 == L, act = Ly->act != NNP_ACT_LINEAR;
		snprintf(wn, sizeof wn, "%zu.weight", 2 * l);
		snprintf(bn, sizeof bn, "%zu.bias", 2 * l);
		snprintf(nm, sizeof nm, "layer%zu", l);
		if (last && !act)
			strcpy(nx, "y");
		else
			snprintf(nx, sizeof nx, "z%zu", l);
		g.initializer[ki++] = tensor(&a, wn, Ly->w, Ly->out, Ly->in);
		g.initializer[ki++] = tensor(&a, bn, Ly->b, Ly->out, 0);
		Onnx__NodeProto *gm = node(&a, "Gemm", nm, cur, wn, bn, nx);
		if (!gm)
			goto nomem;
		add_attr(&a, gm, "transB", 0, 0.0f, 1);
		g.node[k++] = gm;
		strcpy(cur, nx);
		if (!act)
			continue;
		static const char *const opn[NNP_ACT_COUNT] = { "", "Relu", "LeakyRelu", "Sigmoid",
			                                        "Tanh", "Softmax" };
		if (last)
			strcpy(nx, "y");
		else
			snprintf(nx, sizeof nx, "a%zu", l);
		snprintf(nm, sizeof nm, "act%zu", l);
		Onnx__NodeProto *an = node(&a, opn[Ly->act], nm, cur, NULL, NULL, nx);
		if (!an)
			goto nomem;
		if (Ly->act == NNP_ACT_LEAKY_RELU)
			add_attr(&a, an, "alpha", 1, Ly->alpha, 0);
		if (Ly->act == NNP_ACT_SOFTMAX)
			add_attr(&a, an, "axis", 0, 0.0f, -1);
		g.node[k++] = an;
		strcpy(cur, nx);
	}
	g.n_node = k;
	g.n_initializer = ki;
	g.output[0] = value(&a, "y", nnp_model_outputs(m));
	g.n_output = 1;
	nnpm_meta_strings(m, put_prop, &pr);
	mp.n_metadata_props = pr.n;
	mp.metadata_props = pr.e;
	if (a.failed)
		goto nomem;
	size_t n = onnx__model_proto__get_packed_size(&mp);
	unsigned char *buf = malloc(n ? n : 1);
	if (!buf)
		goto nomem;
	onnx__model_proto__pack(&mp, buf);
	nnpm_sink_put(s, buf, n);
	free(buf);
	for (size_t i = 0; i < a.n; i++)
		free(a.p[i]);
	free(a.p);
	return NNP_OK;
nomem:
	for (size_t i = 0; i < a.n; i++)
		free(a.p[i]);
	free(a.p);
	return nnp_err_set(err, NNP_ENOMEM, "ONNX: out of memory");
}
