/*
 * blas.h — every matrix product of trmx goes through here (one file decides the BLAS and its
 * threads). Row-major throughout: C[M,N] = alpha * op(A)[M,K] . op(B)[K,N] + beta * C.
 */
#ifndef TRMX_BLAS_H
#define TRMX_BLAS_H

#include <stdbool.h>

/* Split across the kernel threads (trmx_get_threads), each part a single-threaded BLAS call. */
void trmx_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
	       const float *B, int ldb, float beta, float *C, int ldc);

/* In the calling thread only: for use inside a parallel region. */
void trmx_gemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
		      int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* A plain triple loop, the reference the tests compare the BLAS path against. */
void trmx_gemm_ref(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
		   int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The bf16 product (gemm_bf16.c): operands rounded to bfloat16, accumulated in fp32. Only call when
 * trmx_bf16_cpu(); returns -1 (C untouched) when its packing buffers cannot be allocated. */
int trmx_gemm_bf16_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
			  int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Whether this CPU (and the OS) runs AVX-512 BF16: cpuid leaf 7 subleaf 1, EAX bit 5. */
bool trmx_bf16_cpu(void);

/* Make OpenBLAS single-threaded (our threads call it in parallel). Idempotent. */
void trmx_blas_init(void);

#endif
