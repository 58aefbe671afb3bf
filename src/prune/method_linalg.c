/* The dense linear algebra of the pruning methods, in double: Cholesky,
 * solves, the ridge refit, and the orders in which neurons are removed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "method_priv.h"

/* Attempts at a factorisation: lambda grows tenfold after each failure. */
#define MTH_CHOL_TRIES 12

int nnp_mth_chol(double *a, size_t n)
{
	/* Row-oriented (Cholesky-Crout): each entry is a dot product of two
	 * contiguous row prefixes, which the compiler vectorises. */
	for (size_t i = 0; i < n; i++) {
		double *ri = a + i * n;
		for (size_t j = 0; j <= i; j++) {
			const double *rj = a + j * n;
			double s = ri[j];
			for (size_t k = 0; k < j; k++)
				s -= ri[k] * rj[k];
			if (j < i) {
				ri[j] = s / rj[j];
			} else {
				/* Written as !(s > 0) so that NaN fails too. */
				if (!(s > 0.0) || !isfinite(s))
					return -1;
				ri[i] = sqrt(s);
			}
		}
		for (size_t j = i + 1; j < n; j++)
			ri[j] = 0.0;
	}
	return 0;
}

void nnp_mth_chol_solve(const double *l, size_t n, double *b, size_t nrhs)
{
	/* L Y = B, row by row: each step is an axpy over a contiguous row of B. */
	for (size_t i = 0; i < n; i++) {
		double *bi = b + i * nrhs;
		const double *li = l + i * n;
		for (size_t k = 0; k < i; k++) {
			double f = li[k];
			const double *bk = b + k * nrhs;
			for (size_t c = 0; c < nrhs; c++)
				bi[c] -= f * bk[c];
		}
		double inv = 1.0 / li[i];
		for (size_t c = 0; c < nrhs; c++)
			bi[c] *= inv;
	}
	/* L^T X = Y from the bottom up. */
	for (size_t i = n; i-- > 0;) {
		double *bi = b + i * nrhs;
		for (size_t k = i + 1; k < n; k++) {
			double f = l[k * n + i];
			const double *bk = b + k * nrhs;
			for (size_t c = 0; c < nrhs; c++)
				bi[c] -= f * bk[c];
		}
		double inv = 1.0 / l[i * n + i];
		for (size_t c = 0; c < nrhs; c++)
			bi[c] *= inv;
	}
}

/*
 * a = cov[K][K] + lambda I, factorised; on failure lambda grows tenfold and
 * the matrix is rebuilt. K NULL means all n. Returns 0 or -1.
 */
static int chol_reg(const double *cov, size_t n, const size_t *kept, size_t k, double *lambda,
                    double *a)
{
	for (int t = 0; t < MTH_CHOL_TRIES; t++) {
		for (size_t r = 0; r < k; r++) {
			const double *src = cov + (kept ? kept[r] : r) * n;
			for (size_t c = 0; c < k; c++)
				a[r * k + c] = src[kept ? kept[c] : c];
			a[r * k + r] += *lambda;
		}
		if (nnp_mth_chol(a, k) == 0)
			return 0;
		*lambda *= 10.0;
	}
	return -1;
}

int nnp_mth_ridge(const double *cov, const double *cross, size_t n, size_t m,
                  const size_t *kept, size_t k, double *lambda, double *w, double *a)
{
	if (chol_reg(cov, n, kept, k, lambda, a))
		return -1;
	for (size_t r = 0; r < k; r++)
		memcpy(w + r * m, cross + (kept ? kept[r] : r) * m, m * sizeof *w);
	nnp_mth_chol_solve(a, k, w, m);
	return 0;
}

/* Cost of removing input j: ||B_j||^2 / P_jj; +inf if P_jj lost its sign
 * to round-off, so such an input goes last rather than first. */
static double obs_cost(const double *P, const double *B, size_t n, size_t m, size_t j)
{
	double pjj = P[j * n + j];
	if (!(pjj > 0.0) || !isfinite(pjj))
		return INFINITY;
	const double *bj = B + j * m;
	double s = 0.0;
	for (size_t c = 0; c < m; c++)
		s += bj[c] * bj[c];
	return s / pjj;
}

int nnp_mth_obs_order(const double *cov, const double *cross, size_t n, size_t m,
                      double *lambda, size_t *order, double *inc, double *work)
{
	double *L = work;              /* [n][n] the factor */
	double *P = L + n * n;         /* [n][n] */
	double *B = P + n * n;         /* [n][m] */
	double *pj = B + n * m;        /* [n] */
	double *bj = pj + n;           /* [m] */
	unsigned char *gone = (unsigned char *)(bj + m);   /* [n] */
	/* P = (C + lambda I)^-1 by solving against the identity. */
	if (chol_reg(cov, n, NULL, n, lambda, L))
		return -1;
	for (size_t i = 0; i < n * n; i++)
		P[i] = 0.0;
	for (size_t i = 0; i < n; i++)
		P[i * n + i] = 1.0;
	nnp_mth_chol_solve(L, n, P, n);
	/* B = P X, the refit over all inputs. */
	if (m)
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)m, (int)n, 1.0, P,
		            (int)n, cross, (int)m, 0.0, B, (int)m);
	memset(gone, 0, n);
	for (size_t s = 0; s < n; s++) {
		size_t best = n;
		double bc = INFINITY;
		for (size_t j = 0; j < n; j++) {
			if (gone[j])
				continue;
			double c = obs_cost(P, B, n, m, j);
			/* <= : among equal costs the higher index goes, the lower stays. */
			if (best == n || c <= bc) {
				best = j;
				bc = c;
			}
		}
		order[s] = best;
		if (inc)
			inc[s] = bc;
		gone[best] = 1;
		double pbb = P[best * n + best];
		if (!(pbb > 0.0) || !isfinite(pbb))
			continue;
		/* Rank-one downdates: P loses input best, B becomes the refit
		 * without it. The row of P is copied first since dger rewrites it. */
		memcpy(pj, P + best * n, n * sizeof *pj);
		memcpy(bj, B + best * m, m * sizeof *bj);
		cblas_dger(CblasRowMajor, (int)n, (int)n, -1.0 / pbb, pj, 1, pj, 1, P, (int)n);
		if (m)
			cblas_dger(CblasRowMajor, (int)n, (int)m, -1.0 / pbb, pj, 1, bj, 1, B, (int)m);
	}
	return 0;
}

size_t nnp_mth_obs_work(size_t n, size_t m)
{
	/* L, P, B, pj, bj, then n flag bytes rounded up to doubles. */
	return 2 * n * n + n * m + n + m + (n + sizeof(double) - 1) / sizeof(double);
}

/* Lowest score first; equal scores: the higher index first, so it goes first. */
static int rank_cmp(const void *pa, const void *pb)
{
	const nnp_mth_rank *a = pa, *b = pb;
	if (a->s < b->s)
		return -1;
	if (a->s > b->s)
		return 1;
	return (a->j < b->j) - (a->j > b->j);
}

void nnp_mth_score_order(const double *var, const float *w, size_t n, size_t m, size_t *order,
                         nnp_mth_rank *rank)
{
	for (size_t j = 0; j < n; j++)
		rank[j] = (nnp_mth_rank){ 0.0, j };
	/* Column norms of the row-major [m][n] weights, row by row for locality. */
	for (size_t i = 0; i < m; i++) {
		const float *wi = w + i * n;
		for (size_t j = 0; j < n; j++)
			rank[j].s += (double)wi[j] * (double)wi[j];
	}
	for (size_t j = 0; j < n; j++) {
		double v = var[j] > 0.0 ? var[j] : 0.0;
		rank[j].s = sqrt(v) * sqrt(rank[j].s);
		/* NaN scores sort as +inf: such a neuron stays. */
		if (isnan(rank[j].s))
			rank[j].s = INFINITY;
	}
	nnp_mth_rank_order(rank, n, order);
}

void nnp_mth_rank_order(nnp_mth_rank *rank, size_t n, size_t *order)
{
	for (size_t j = 0; j < n; j++)
		/* NaN scores sort as +inf: such a neuron stays. */
		if (isnan(rank[j].s))
			rank[j].s = INFINITY;
	qsort(rank, n, sizeof *rank, rank_cmp);
	for (size_t j = 0; j < n; j++)
		order[j] = rank[j].j;
}

static int size_cmp(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	return (a > b) - (a < b);
}

void nnp_mth_kept_from_order(const size_t *order, size_t n, size_t k, size_t *kept)
{
	/* The last k of the removal order stay. */
	memcpy(kept, order + (n - k), k * sizeof *kept);
	qsort(kept, k, sizeof *kept, size_cmp);
}
