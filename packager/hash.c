/*
 * hash.c — SHA-256 (libsodium), hex and small string checks
 * shared by the manifest reader and the packager.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "package_int.h"

void trmx__pkg_sha256_init(pkg_sha256 *h)
{
	crypto_hash_sha256_init(&h->state);
}

void trmx__pkg_sha256_update(pkg_sha256 *h, const void *data, size_t len)
{
	crypto_hash_sha256_update(&h->state, data, len);
}

void trmx__pkg_sha256_final_hex(pkg_sha256 *h, char out[TRMX_SHA256_HEX_SIZE])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&h->state, d);
	trmx__pkg_hex(d, sizeof d, out);
}

void trmx__pkg_hex(const unsigned char *bin, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool trmx__pkg_unhex(const char *hex, size_t hexlen, unsigned char *bin, size_t len)
{
	if (hexlen != 2 * len)
		return false;
	for (size_t i = 0; i < len; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		bin[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

bool trmx__pkg_is_sha256_hex(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (hexval(s[i]) < 0)
			return false;
	return true;
}

bool trmx__pkg_has_control(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return true;
		/* C1 controls U+0080..U+009F are encoded C2 80..C2 9F. */
		if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

void trmx_sha256_hex(const void *data, size_t len, char out[TRMX_SHA256_HEX_SIZE])
{
	pkg_sha256 h;
	trmx__pkg_sha256_init(&h);
	trmx__pkg_sha256_update(&h, data, len);
	trmx__pkg_sha256_final_hex(&h, out);
}

int trmx_sha256_file(const char *path, char out[TRMX_SHA256_HEX_SIZE], trmx_error *err)
{
	unsigned char *buf = NULL;
	pkg_sha256 h;
	int fd, rc = 0;

	if (!path || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_sha256_file: NULL argument");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO,
				      "%s: cannot open: %s", path, strerror(errno));
	if (!(buf = trmx_xmalloc(1 << 16))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	trmx__pkg_sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 16);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = trmx_error_set(err, TRMX_EIO, "%s: cannot read: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		trmx__pkg_sha256_update(&h, buf, (size_t)n);
	}
	trmx__pkg_sha256_final_hex(&h, out);
done:
	free(buf);
	close(fd);
	return rc;
}
