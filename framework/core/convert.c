/*
 * convert.c — floating-point formats to float32: F32 (possibly unaligned), BF16, F16, F64.
 */
#include <math.h>
#include <string.h>

#include "core_int.h"

static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
	if (exp == 0) {
		float f = ldexpf((float)man, -24); /* zero or subnormal */
		return sign ? -f : f;
	} else if (exp == 31) {
		bits = sign | 0x7F800000u | (man << 13);
	} else {
		bits = sign | ((exp + 112) << 23) | (man << 13);
	}
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

bool trmx_to_f32(float *dst, const void *src, trmx_dtype dtype, size_t n)
{
	const unsigned char *p = src;
	switch (dtype) {
	case TRMX_DTYPE_F32:
		memcpy(dst, src, n * 4);
		return true;
	case TRMX_DTYPE_BF16:
		for (size_t i = 0; i < n; i++) {
			uint16_t b;
			memcpy(&b, p + 2 * i, 2);
			uint32_t bits = (uint32_t)b << 16;
			memcpy(&dst[i], &bits, 4);
		}
		return true;
	case TRMX_DTYPE_F16:
		for (size_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			dst[i] = half_to_float(h);
		}
		return true;
	case TRMX_DTYPE_F64:
		for (size_t i = 0; i < n; i++) {
			double d;
			memcpy(&d, p + 8 * i, 8);
			dst[i] = (float)d;
		}
		return true;
	default:
		return false;
	}
}
