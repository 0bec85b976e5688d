/*
 * gemm_bf16.c — the bf16 matrix product: C[M,N] = alpha * op(A) . op(B) + beta * C with the
 * operands rounded to bfloat16 (round to nearest even) and every product accumulated in fp32
 * (AVX-512 BF16's vdpbf16ps). Chosen by trmx_set_matmul(TRMX_MATMUL_BF16); blas.c dispatches here.
 *
 * Why our own: Debian's OpenBLAS 0.3.21 is built without BUILD_BFLOAT16, so cblas_sbgemm is
 * declared in its cblas.h but not exported by libopenblas.so.
 *
 * Only this file's kernels are compiled for avx512bf16 (a target pragma), so the rest of the build
 * keeps ARCHFLAGS; trmx_bf16_cpu() (cpuid leaf 7 subleaf 1, EAX bit 5, and the OS saving the ZMM
 * state) is checked before any of them runs.
 *
 * Layout: vdpbf16ps multiplies pairs of bf16 (k, k+1) in each 32-bit lane. Both operands are packed
 * into such pairs: A as rows [M][ka] of pairs along k, B as [Kp][nc] — pair kp of column n at
 * [kp * nc + n], so 16 columns are one vector and a row of A is broadcast one pair at a time.
 * A is packed once per call, B in blocks of KC pairs x NC columns (L2-resident); an operand stored
 * the other way round is transposed in registers, 16 x 16 pairs at a time. The micro-kernel
 * computes 6 rows x 64 columns (24 accumulators). An odd K is padded with a zero pair half. Buffers
 * are per thread and grow to the largest shape seen, so a training loop allocates nothing after its
 * first step. tests/test_kernels.c checks the result against the error bound bf16 allows.
 */
#include <cpuid.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "tensor/blas.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16")
#include <immintrin.h>
#pragma GCC pop_options

bool trmx_bf16_cpu(void)
{
	static int known = -1;
	if (known >= 0)
		return known;
	unsigned a, b, c, d;
	int ok = 0;
	if (__get_cpuid_count(1, 0, &a, &b, &c, &d) && (c & bit_OSXSAVE)) {
		unsigned lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		/* XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM saved by the OS */
		if ((lo & 0xe6) == 0xe6 && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
		    (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512VL) &&
		    __get_cpuid_count(7, 1, &a, &b, &c, &d))
			ok = (a >> 5) & 1; /* AVX512_BF16 */
	}
	known = ok;
	return ok;
}

/* ---- Per-thread packing buffers -------------------------------------------------------------- */

struct bufs {
	uint32_t *a, *b;
	size_t na, nb; /* capacities in uint32 */
};

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void bufs_free(void *p)
{
	struct bufs *s = p;
	if (s) {
		free(s->a);
		free(s->b);
		free(s);
	}
}

static void key_make(void)
{
	(void)pthread_key_create(&key, bufs_free);
}

static uint32_t *grow(uint32_t **p, size_t *cap, size_t n)
{
	if (n > *cap) {
		void *q = NULL;
		if (posix_memalign(&q, 64, n * sizeof(uint32_t)) != 0)
			return NULL;
		free(*p);
		*p = q;
		*cap = n;
	}
	return *p;
}

static struct bufs *bufs_get(void)
{
	pthread_once(&key_once, key_make);
	struct bufs *s = pthread_getspecific(key);
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s || pthread_setspecific(key, s) != 0) {
			free(s);
			return NULL;
		}
	}
	return s;
}

/* ---- Kernels ---------------------------------------------------------------------------------- */

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16")

#define MR 6
#define NR 64
#define NC 256
#define KC 256 /* pairs: a packed block of B is KC x NC x 4 bytes = 256 KiB */

static inline __mmask16 tail16(int n)
{
	return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* Two fp32 vectors (x0: k, x1: k+1, 16 columns each) to 16 pairs, column j in lane j. */
static inline __m512i pairs(__m512 x0, __m512 x1)
{
	static const uint16_t idx[32] = { 0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
					  8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31 };
	__m512i v = (__m512i)_mm512_cvtne2ps_pbh(x1, x0); /* low half bf16(x0), high half bf16(x1) */
	return _mm512_permutexvar_epi16(_mm512_loadu_si512(idx), v);
}

/* Transpose 16 x 16 32-bit elements in registers: v[a] lane b becomes v[b] lane a. */
static inline void transpose16(__m512i v[16])
{
	__m512i t[16], u[16];
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
	}
	for (int i = 0; i < 4; i++) { /* u[4i + j], 128-bit lane L: element 4L + j of rows 4i..4i+3 */
		u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
	for (int j = 0; j < 4; j++) {
		__m512i p0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44), p1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xee);
		__m512i q0 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44);
		__m512i q1 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xee);
		v[j] = _mm512_shuffle_i32x4(p0, q0, 0x88);
		v[4 + j] = _mm512_shuffle_i32x4(p0, q0, 0xdd);
		v[8 + j] = _mm512_shuffle_i32x4(p1, q1, 0x88);
		v[12 + j] = _mm512_shuffle_i32x4(p1, q1, 0xdd);
	}
}

/* Rows of pairs along k: out[r * ldo + kp] for r < rows, from X(r, k) = x[r * ldx + k]
 * (k contiguous). ldo is a multiple of 16; pairs past K are zero. */
static void pack_kcontig(uint32_t *out, int ldo, const float *x, int ldx, int rows, int K)
{
	for (int r = 0; r < rows; r++) {
		const float *s = x + (size_t)r * ldx;
		uint32_t *o = out + (size_t)r * ldo;
		for (int k = 0; k < 2 * ldo; k += 32) {
			__m512 lo = _mm512_maskz_loadu_ps(tail16(K - k > 0 ? K - k : 0), s + k);
			__m512 hi = _mm512_maskz_loadu_ps(tail16(K - k - 16 > 0 ? K - k - 16 : 0), s + k + 16);
			_mm512_store_si512(o + k / 2, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
		}
	}
}

/* The same rows-of-pairs layout out[r * ldo + kp] from X(r, k) = x[k * ldx + r] (r contiguous):
 * 32 rows of x at a time swept along r, transposed in registers 16 x 16 pairs at a time, so reads
 * and writes are whole vectors. */
static void pack_rcontig_rows(uint32_t *out, int ldo, const float *x, int ldx, int rows, int K)
{
	for (int kp0 = 0; kp0 < ldo; kp0 += 16) {
		for (int r = 0; r < rows; r += 16) {
			__mmask16 m = tail16(rows - r);
			int n = rows - r < 16 ? rows - r : 16;
			__m512i v[16];
			for (int q = 0; q < 16; q++) {
				int k = 2 * (kp0 + q);
				__m512 x0 = k < K ? _mm512_maskz_loadu_ps(m, x + (size_t)k * ldx + r) : _mm512_setzero_ps();
				__m512 x1 = k + 1 < K ? _mm512_maskz_loadu_ps(m, x + (size_t)(k + 1) * ldx + r)
						      : _mm512_setzero_ps();
				v[q] = pairs(x0, x1);
			}
			transpose16(v);
			for (int j = 0; j < n; j++)
				_mm512_store_si512(out + (size_t)(r + j) * ldo + kp0, v[j]);
		}
	}
}

/* Columns of pairs: out[kp * nc + n] for n < cols (nc a multiple of 16, the pad columns zero),
 * kp < Kp, from X(k, n) = x[k * ldx + n] (n contiguous). */
static void pack_ncontig_cols(uint32_t *out, int nc, const float *x, int ldx, int cols, int K, int Kp)
{
	for (int kp = 0; kp < Kp; kp++) {
		int k = 2 * kp;
		for (int n = 0; n < nc; n += 16) {
			__mmask16 m = tail16(cols - n > 0 ? cols - n : 0);
			__m512 x0 = _mm512_maskz_loadu_ps(m, x + (size_t)k * ldx + n);
			__m512 x1 = k + 1 < K ? _mm512_maskz_loadu_ps(m, x + (size_t)(k + 1) * ldx + n)
					      : _mm512_setzero_ps();
			_mm512_store_si512(out + (size_t)kp * nc + n, pairs(x0, x1));
		}
	}
}

/* The same columns-of-pairs layout from X(k, n) = x[n * ldx + k] (k contiguous): 16 columns are
 * converted along k and transposed in registers 16 x 16 pairs at a time. */
static void pack_kcontig_cols(uint32_t *out, int nc, const float *x, int ldx, int cols, int K, int Kp)
{
	for (int n = 0; n < nc; n += 16) {
		int w = cols - n < 16 ? (cols - n > 0 ? cols - n : 0) : 16;
		for (int kp = 0; kp < Kp; kp += 16) {
			int k = 2 * kp;
			__mmask16 m0 = tail16(K - k > 0 ? K - k : 0), m1 = tail16(K - k - 16 > 0 ? K - k - 16 : 0);
			__m512i v[16];
			for (int j = 0; j < 16; j++) {
				const float *s = x + (size_t)(n + j) * ldx + k;
				__m512 lo = j < w ? _mm512_maskz_loadu_ps(m0, s) : _mm512_setzero_ps();
				__m512 hi = j < w ? _mm512_maskz_loadu_ps(m1, s + 16) : _mm512_setzero_ps();
				v[j] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
			}
			transpose16(v);
			int e = Kp - kp < 16 ? Kp - kp : 16;
			for (int q = 0; q < e; q++)
				_mm512_store_si512(out + (size_t)(kp + q) * nc + n, v[q]);
		}
	}
}

/* C[mr, 16 * nv] tile: a = packed rows (stride lda pairs), b = packed columns (stride nc), Kp pairs.
 * The last vector stores only `last` columns; first = this tile's C is scaled by beta. */
static inline __attribute__((always_inline)) void tile(const int mr, const int nv, int Kp, const uint32_t *a,
							 int lda, const uint32_t *b, int nc, float *C, int ldc,
							 float alpha, float beta, int last)
{
	__m512 acc[MR][4];
	for (int i = 0; i < MR; i++)
		for (int v = 0; v < 4; v++)
			acc[i][v] = _mm512_setzero_ps();
	for (int kp = 0; kp < Kp; kp++) {
		__m512bh bv[4];
		for (int v = 0; v < 4; v++)
			if (v < nv)
				bv[v] = (__m512bh)_mm512_load_si512(b + (size_t)kp * nc + 16 * v);
		for (int i = 0; i < MR; i++) {
			if (i >= mr)
				break;
			__m512bh av = (__m512bh)_mm512_set1_epi32((int)a[(size_t)i * lda + kp]);
			for (int v = 0; v < 4; v++)
				if (v < nv)
					acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, bv[v]);
		}
	}
	__m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
	for (int i = 0; i < MR; i++) {
		if (i >= mr)
			break;
		float *c = C + (size_t)i * ldc;
		for (int v = 0; v < 4; v++) {
			if (v >= nv)
				break;
			__mmask16 m = v == nv - 1 ? tail16(last) : (__mmask16)0xffff;
			__m512 r = _mm512_mul_ps(va, acc[i][v]);
			if (beta != 0.0f)
				r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, c + 16 * v), r);
			_mm512_mask_storeu_ps(c + 16 * v, m, r);
		}
	}
}

#define TILE(mr, nv) tile(mr, nv, Kp, a, lda, b, nc, C, ldc, alpha, beta, last)

static void tile_any(int mr, int nv, int Kp, const uint32_t *a, int lda, const uint32_t *b, int nc, float *C,
		     int ldc, float alpha, float beta, int last)
{
	if (mr == MR && nv == 4) {
		TILE(MR, 4);
		return;
	}
#define NVCASE(m)                        \
	switch (nv) {                    \
	case 1: TILE(m, 1); break;       \
	case 2: TILE(m, 2); break;       \
	case 3: TILE(m, 3); break;       \
	default: TILE(m, 4); break;      \
	}
	switch (mr) {
	case 1: NVCASE(1); break;
	case 2: NVCASE(2); break;
	case 3: NVCASE(3); break;
	case 4: NVCASE(4); break;
	case 5: NVCASE(5); break;
	default: NVCASE(6); break;
	}
#undef NVCASE
}

int trmx_gemm_bf16_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
			  int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
	if (M <= 0 || N <= 0)
		return 0;
	if (K <= 0) { /* C = beta * C, as BLAS does */
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++)
				C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
		return 0;
	}
	struct bufs *s = bufs_get();
	int Kp = (K + 1) / 2, ka = (Kp + 15) & ~15; /* pairs per packed row of A, padded to a vector */
	int ncmax = N < NC ? (N + 15) & ~15 : NC, kcmax = Kp < KC ? Kp : KC;
	if (!s || !grow(&s->a, &s->na, (size_t)M * ka) || !grow(&s->b, &s->nb, (size_t)kcmax * ncmax))
		return -1;
	uint32_t *pa = s->a, *pb = s->b;
	if (trans_a) /* op(A)[i][k] = A[k * lda + i] */
		pack_rcontig_rows(pa, ka, A, lda, M, K);
	else
		pack_kcontig(pa, ka, A, lda, M, K);
	for (int n0 = 0; n0 < N; n0 += NC) {
		int cols = N - n0 < NC ? N - n0 : NC, nc = (cols + 15) & ~15;
		for (int kp0 = 0; kp0 < Kp; kp0 += KC) { /* B's block stays in L2 for every row block */
			int k0 = 2 * kp0, kk = K - k0 < 2 * KC ? K - k0 : 2 * KC, kpc = (kk + 1) / 2;
			if (trans_b) /* op(B)[k][n] = B[n * ldb + k] */
				pack_kcontig_cols(pb, nc, B + (size_t)n0 * ldb + k0, ldb, cols, kk, kpc);
			else
				pack_ncontig_cols(pb, nc, B + (size_t)k0 * ldb + n0, ldb, cols, kk, kpc);
			float bk = kp0 == 0 ? beta : 1.0f; /* later blocks add to C */
			for (int i0 = 0; i0 < M; i0 += MR) {
				int mr = M - i0 < MR ? M - i0 : MR;
				for (int j0 = 0; j0 < cols; j0 += NR) {
					int w = cols - j0 < NR ? cols - j0 : NR, nv = (w + 15) / 16;
					tile_any(mr, nv, kpc, pa + (size_t)i0 * ka + kp0, ka, pb + j0, nc,
						 C + (size_t)i0 * ldc + n0 + j0, ldc, alpha, bk, w - 16 * (nv - 1));
				}
			}
		}
	}
	return 0;
}

#pragma GCC pop_options
