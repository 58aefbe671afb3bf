/*
 * nnprune (private): the pruning methods' linear algebra, the context's
 * layout and the streaming passes over the calibration rows.
 */
#ifndef NNPRUNE_METHOD_PRIV_H
#define NNPRUNE_METHOD_PRIV_H

#include <stddef.h>
#include "nnprune/method.h"
#include "nnprune/parallel.h"

/* ---- linear algebra (method_linalg.c), row-major, double -------------- */

/*
 * Cholesky factorisation in place: the lower triangle of the n x n matrix a
 * becomes L (A = L L^T), the strict upper triangle is zeroed. Reads only the
 * lower triangle. Returns 0, or -1 if a pivot is not positive (or NaN).
 */
int nnp_mth_chol(double *a, size_t n);

/* Solves L L^T X = B in place; b is n x nrhs, row-major. */
void nnp_mth_chol_solve(const double *l, size_t n, double *b, size_t nrhs);

/*
 * The ridge refit over the kept inputs (kept[k] indices into n; NULL = all):
 * w (k x m) = (cov[K][K] + lambda I)^-1 cross[K][:], cov n x n, cross n x m.
 * a is k*k scratch. *lambda is raised tenfold after a failed factorisation
 * (at most 12 tries). Returns 0 or -1.
 */
int nnp_mth_ridge(const double *cov, const double *cross, size_t n, size_t m,
                  const size_t *kept, size_t k, double *lambda, double *w, double *a);

/* Doubles of scratch nnp_mth_obs_order needs. */
size_t nnp_mth_obs_work(size_t n, size_t m);

/*
 * Greedy backward elimination (Optimal Brain Surgeon on the ridge refit):
 * order[s] is the input removed at step s (all n of them, the last one the
 * most valuable); inc[s] (may be NULL) the rise of the squared error it cost.
 * Ties: the higher index goes first. *lambda as nnp_mth_ridge.
 * Returns 0 or -1 (no factorisation).
 */
int nnp_mth_obs_order(const double *cov, const double *cross, size_t n, size_t m,
                      double *lambda, size_t *order, double *inc, double *work);

typedef struct nnp_mth_rank {
	double s;
	size_t j;
} nnp_mth_rank;

/*
 * Removal order by the score std_j * ||w[:, j]|| (w: the next layer's weights,
 * m x n row-major, var: the activations' variances): lowest score first, equal
 * scores higher index first. rank is n entries of scratch.
 */
void nnp_mth_score_order(const double *var, const float *w, size_t n, size_t m, size_t *order,
                         nnp_mth_rank *rank);

/* Removal order from scores rank[j] = { s_j, j }: lowest first, equal
 * scores higher index first (the lower index stays), NaN as +inf. Sorts
 * rank in place. */
void nnp_mth_rank_order(nnp_mth_rank *rank, size_t n, size_t *order);

/* The last k of a removal order, ascending. */
void nnp_mth_kept_from_order(const size_t *order, size_t n, size_t k, size_t *kept);

/* ---- the context (method.c) and its passes (method_pass.c) ------------ */

/* Accumulated statistics of one hidden layer in a network pruned so far. */
typedef struct mth_entry {
	int valid;
	size_t layer, n, m;
	size_t *key;          /* counts then kept indices of the layers before: what they came from */
	size_t key_len;
	double *mean, *var;   /* [n] */
	double *cov;          /* [n][n] (full statistics only) */
	double *zmean;        /* [m] original next pre-activations' mean (full only) */
	double *cross;        /* [n][m] Cov(h', z) (full only) */
	double *zero;         /* [n] share of rows where the activation is exactly 0 */
	double *taylor;       /* [n] mean |a * dL/da| (criteria that need gradients) */
	double lambda;
	int have_order;
	size_t *order;        /* [n] removal order */
} mth_entry;

/* Hidden layer `layer` pruned alone to k neurons, for the sensitivity curves. */
typedef struct mth_variant {
	size_t layer, k;
	size_t *idx;          /* [k] kept */
	float *w, *b;         /* the next layer over the kept inputs: [m][k], [m] */
} mth_variant;

/* One thread's buffers for a batch. */
typedef struct mth_ws {
	float **z, **a;       /* [L] the original's pre- and post-activations, [batch][out_l] */
	float *g, *p, *q;     /* [batch][maxw]: gathered inputs and a ping-pong pair */
	const float *h;       /* the activations a WORK pass accumulates, after a forward */
	double *hd, *zd;      /* [batch][maxw] shifted copies */
	double *part;         /* [part_len] this batch's sums */
} mth_ws;

/* INPUT: the calibration rows themselves against the original layer 0's
 * pre-activations (the unstructured refit's first layer). */
enum { MTH_PASS_ORIG = 0, MTH_PASS_WORK = 1, MTH_PASS_EVAL = 2, MTH_PASS_INPUT = 3 };

/* The layer index of the statistics of the input rows (an entry's layer). */
#define MTH_INPUT ((size_t)-1)

struct nnp_method_ctx {
	const nnp_model *m;
	const nnp_dataset *d;  /* rows in memory; NULL: streamed from path at every pass */
	const char *path;      /* streamed calibration: the file (borrowed) */
	nnp_data_opts sopts;   /*   its reader options (string fields borrowed) */
	nnp_file_stamp stamp;  /*   the version every pass must find */
	size_t chunk_rows;     /*   rows a pass holds at once */
	size_t rows;           /* calibration rows */
	nnp_method_opts o;
	size_t L, H;           /* layers, hidden layers */
	size_t batch, n_batches, maxw, maxh;
	unsigned threads;      /* workspaces; passes run min(threads, batches) threads */
	int full;              /* covariances needed (obs or ls), else means and variances */
	int sparse;            /* unstructured (magnitude + ls): surviving weights refit in
	                          c->wl[0..L), every layer full width; in0 the inputs' entry */
	mth_entry in0;
	int have_orig;
	mth_entry *orig;       /* [H] statistics of the unpruned network */
	mth_entry *work;       /* [H] the latest pruned-prefix statistics per layer */
	size_t *off, *soff;    /* [H] accumulator and shift offsets of each layer in an ORIG pass */
	size_t orig_len, shift_len, part_len, max_var;
	/* the candidate being built */
	size_t *count;         /* [H] */
	size_t **kept;         /* [H][width] */
	nnp_layer *wl;         /* [L] layer l >= 1: over kept inputs, buffers of layer l's size */
	/* scratch */
	double *sa, *sw, *obs_work;
	nnp_mth_rank *rank;
	size_t *removed;       /* [maxh] a layer's removed neurons, for folding; [maxw]
	                          sparse: a row's surviving inputs */
	double *xcol, *bias;   /* [maxw] a column of a cross-covariance, a refit's biases */
	double *rw;            /* [maxw] sparse: a row's weights over its surviving inputs */
	double *acc, *shift;   /* a pass's totals and reference shifts */
	mth_ws *ws;            /* [threads], one per worker of the pool */
	nnp_pool *pool;        /* the passes' threads */
};

/*
 * The ridge refit (compensation ls) of outputs [i0, i0 + mm) of e's next
 * layer over the kept inputs kept[0..k): weights into c->sw ([k][mm]),
 * biases into c->bias ([mm]): b = mean(z) - w . mean(h'_K). Structured
 * compensation refits all e->m outputs over one kept set; the unstructured
 * refit one output (mm 1) over its row's surviving weights. Errors:
 * NNP_EINPUT (no factorisation, even with lambda raised).
 */
int nnp_mth_ls_fit(nnp_method_ctx *c, const mth_entry *e, const size_t *kept, size_t k,
                   size_t i0, size_t mm, nnp_err *err);

/* NNP_EINPUT naming layer l if a weight (w[0..nw)) or a bias (b[0..nb)) is
 * not finite. */
int nnp_mth_check_finite(size_t l, const float *w, size_t nw, const float *b, size_t nb,
                         nnp_err *err);

/* Turns a pass's sums (c->acc, shifted by c->shift) into e's means,
 * covariances and lambda. Errors: NNP_EINPUT (not finite). */
int nnp_mth_finalize(const nnp_method_ctx *c, mth_entry *e, nnp_err *err);

/* Statistics sizes of hidden layer l (MTH_INPUT: the input rows):
 * accumulator doubles (sums, products). */
size_t nnp_mth_stat_len(const nnp_method_ctx *c, size_t l);
/* Shift doubles of hidden layer l (MTH_INPUT: the input rows). */
size_t nnp_mth_shift_len(const nnp_method_ctx *c, size_t l);

/*
 * Runs one pass over the calibration rows. ORIG: every hidden layer of the
 * unpruned network, totals at c->off[l]. WORK: hidden layer `layer` of the
 * network in c->wl / c->kept (sparse: c->wl[0..layer], full width), totals at
 * 0. INPUT: the rows against the original layer 0, totals at 0. EVAL: sum over rows of each
 * variant's divergence from the original, totals[v]. Totals land in c->acc,
 * shifts in c->shift. Batches run on c->pool, their sums added in batch order.
 * Streamed rows are read a chunk (a whole number of batches) at a time, so
 * the batches and their sums are those of the rows held in memory. Errors
 * (streamed only): the reader's, or NNP_EINPUT if the file no longer has the
 * rows it had.
 */
int nnp_mth_pass(nnp_method_ctx *c, int kind, size_t layer, const mth_variant *var,
                 size_t n_var, nnp_err *err);

/*
 * Taylor scores of hidden layers [l0, l1) of m (taylor.c): mean over the
 * source's rows of |a_j * dL_row/da_j| into scores[l][j], blocks of `batch`
 * rows on the pool, added in block order (the source's chunks must be whole
 * blocks). Errors: NNP_EINPUT (no rows or labels, a label out of range,
 * non-finite scores), the reader's, NNP_ENOMEM.
 */
struct nnp_rows_spec;
int nnp_mth_taylor(const nnp_model *m, const struct nnp_rows_spec *src, nnp_pool *pool,
                   size_t batch, size_t l0, size_t l1, double *const *scores, nnp_err *err);

/* The context's calibration rows as a row source: in memory (one chunk), or
 * streamed from the file (c->chunk_rows at a time, the stamp and count
 * checked). */
void nnp_mth_rows_spec(const nnp_method_ctx *c, struct nnp_rows_spec *sp);

/* Batches a streamed pass would like to hold at once (and two per thread). */
#define MTH_CHUNK_BATCHES 8u

/* The calibration rows d fit model m: some rows, as wide as m's input.
 * NNP_EINPUT naming who's calibration set otherwise (who "" or "taylor: "). */
int nnp_mth_check_rows(const nnp_model *m, const nnp_dataset *d, const char *who, nnp_err *err);

#endif
