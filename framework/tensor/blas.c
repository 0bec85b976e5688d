/*
 * blas.c — the only file that calls BLAS (OpenBLAS's cblas_sgemm).
 *
 * OpenBLAS runs single-threaded; trmx_gemm splits the product across trmx's own kernel threads
 * (rows of C when there are enough, else columns) so every kernel thread has FTZ/DAZ set and no
 * second thread pool competes for the cores. bench/ compares this with OpenBLAS's own threading.
 */
#include <cblas.h>
#include <stddef.h>

#include "tensor/blas.h"
#include "tensor/parallel.h"
#include "trmx/trmx.h"

void trmx_blas_init(void)
{
	static int done;
	if (!done) {
		openblas_set_num_threads(1);
		done = 1;
	}
}

static trmx_matmul matmul_mode = TRMX_MATMUL_FP32;

bool trmx_matmul_available(trmx_matmul mode)
{
	return mode == TRMX_MATMUL_FP32 || (mode == TRMX_MATMUL_BF16 && trmx_bf16_cpu());
}

int trmx_set_matmul(trmx_matmul mode)
{
	if (!trmx_matmul_available(mode))
		return TRMX_EINVAL;
	matmul_mode = mode;
	return 0;
}

trmx_matmul trmx_get_matmul(void)
{
	return matmul_mode;
}

void trmx_gemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
		      int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
	if (M <= 0 || N <= 0)
		return;
	if (matmul_mode == TRMX_MATMUL_BF16 &&
	    trmx_gemm_bf16_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == 0)
		return;
	cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
		    M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

struct gemm_job {
	bool ta, tb, split_rows;
	int M, N, K, lda, ldb, ldc;
	float alpha, beta;
	const float *A, *B;
	float *C;
};

static void gemm_part(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct gemm_job *j = ctx;
	int n = (int)(hi - lo);
	if (j->split_rows) {
		const float *a = j->ta ? j->A + lo : j->A + lo * (size_t)j->lda;
		trmx_gemm_serial(j->ta, j->tb, n, j->N, j->K, j->alpha, a, j->lda, j->B, j->ldb, j->beta,
				 j->C + lo * (size_t)j->ldc, j->ldc);
	} else {
		const float *b = j->tb ? j->B + lo * (size_t)j->ldb : j->B + lo;
		trmx_gemm_serial(j->ta, j->tb, j->M, n, j->K, j->alpha, j->A, j->lda, b, j->ldb, j->beta,
				 j->C + lo, j->ldc);
	}
}

void trmx_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
	       const float *B, int ldb, float beta, float *C, int ldc)
{
	if (M <= 0 || N <= 0)
		return;
	int nt = trmx_get_threads();
	struct gemm_job j = { trans_a, trans_b, true, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C };
	double work = 2.0 * M * N * K;
	if (nt <= 1 || work < 64 * TRMX_PARALLEL_MIN_WORK) {
		unsigned fp = trmx_fpmode_enter();
		trmx_gemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
		trmx_fpmode_leave(fp);
		return;
	}
	/* Rows when each thread gets at least 32 of them (OpenBLAS's kernels tile rows by 16 on
	 * AVX2), columns otherwise; both keep tiles whole. */
	j.split_rows = M >= 32 * nt;
	/* bf16 packs both operands in every part: split the side whose other operand is the smaller
	 * one to pack twice (rows repack all of op(B), K x N; columns all of op(A), M x K). */
	size_t grain = 16;
	if (matmul_mode == TRMX_MATMUL_BF16 && N >= 64 * nt) {
		j.split_rows = M >= 32 * nt && M >= N;
		grain = j.split_rows ? 16 : 64; /* the micro-kernel's 64 columns */
	}
	trmx_parallel_for(j.split_rows ? (size_t)M : (size_t)N, grain, gemm_part, &j);
}

void trmx_gemm_ref(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
		   int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
	for (int i = 0; i < M; i++) {
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < K; k++) {
				float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
				float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
				s += (double)a * b;
			}
			float *c = &C[(size_t)i * ldc + j];
			*c = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *c));
		}
	}
}
