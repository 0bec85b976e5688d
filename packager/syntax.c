/*
 * syntax.c — the syntaxes of a manifest's scalar fields (docs/FORMAT.md): module names and
 * identifiers, semantic versions (validity and precedence, SemVer 2.0.0), SPDX license
 * expressions, engine ABI ranges and URLs. Split from manifest.c, which walks the YAML tree and
 * calls these (package_int.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "package_int.h"

/* ---- Scalar syntaxes --------------------------------------------------------------------- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]+(-[a-z0-9]+)* */
bool trmx_syntax_name(const char *s, size_t n)
{
	if (n == 0 || n > TRMX_MANIFEST_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-' ? s[i + 1] == '-' : !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

/* 1 to TRMX_MANIFEST_NAME_MAX characters, each a letter or digit (lower case only unless
 * upper) or one of extra */
static bool chars_in(const char *s, size_t n, bool upper, const char *extra)
{
	if (n == 0 || n > TRMX_MANIFEST_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(upper ? is_alnum(s[i]) : is_lower_alnum(s[i])) && (s[i] == '\0' || !strchr(extra, s[i])))
			return false;
	return true;
}

/* [a-z0-9_-]+ */
bool trmx_syntax_ident(const char *s, size_t n)
{
	return chars_in(s, n, false, "_-");
}

/* [A-Za-z0-9._-]+ */
bool trmx_syntax_setname(const char *s, size_t n)
{
	return chars_in(s, n, true, "._-");
}

/* SemVer 2.0: a numeric identifier (0 or no leading zero), and identifier lists. */
static bool semver_num(const char *s, size_t n)
{
	if (n == 0 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool semver_idents(const char *s, size_t n, bool pre)
{
	size_t i = 0;
	if (n == 0)
		return false;
	while (i <= n) {
		size_t j = i;
		bool digits = true;
		while (j < n && s[j] != '.') {
			if (!is_alnum(s[j]) && s[j] != '-')
				return false;
			if (s[j] < '0' || s[j] > '9')
				digits = false;
			j++;
		}
		if (j == i)
			return false;
		if (pre && digits && !semver_num(s + i, j - i))
			return false;
		i = j + 1;
	}
	return true;
}

bool trmx_semver_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(s), i = 0;
	if (n == 0 || n > TRMX_MANIFEST_VERSION_MAX)
		return false;
	for (int part = 0; part < 3; part++) {
		size_t j = i;
		while (j < n && s[j] >= '0' && s[j] <= '9')
			j++;
		if (!semver_num(s + i, j - i))
			return false;
		if (part < 2) {
			if (j >= n || s[j] != '.')
				return false;
			j++;
		}
		i = j;
	}
	const char *plus = memchr(s + i, '+', n - i);
	size_t pre_end = plus ? (size_t)(plus - s) : n;
	if (i < pre_end) {
		if (s[i] != '-' || !semver_idents(s + i + 1, pre_end - i - 1, true))
			return false;
	}
	if (plus && !semver_idents(plus + 1, n - pre_end - 1, false))
		return false;
	return true;
}

/* Compare two digit strings without leading zeros (any length). */
static int cmp_digits(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return an < bn ? -1 : 1;
	int c = memcmp(a, b, an);
	return c < 0 ? -1 : c > 0;
}

int trmx_semver_compare(const char *a, const char *b)
{
	bool va = trmx_semver_valid(a), vb = trmx_semver_valid(b);
	if (!va || !vb)
		return va == vb ? 0 : va ? 1 : -1;
	size_t an = strcspn(a, "+"), bn = strcspn(b, "+");
	size_t ai = 0, bi = 0;
	/* major.minor.patch */
	for (int part = 0; part < 3; part++) {
		size_t aj = ai, bj = bi;
		while (aj < an && a[aj] >= '0' && a[aj] <= '9')
			aj++;
		while (bj < bn && b[bj] >= '0' && b[bj] <= '9')
			bj++;
		int c = cmp_digits(a + ai, aj - ai, b + bi, bj - bi);
		if (c)
			return c;
		ai = aj + (part < 2);
		bi = bj + (part < 2);
	}
	bool apre = ai < an, bpre = bi < bn;
	if (!apre || !bpre)
		return apre == bpre ? 0 : apre ? -1 : 1; /* a pre-release sorts before its release */
	ai++, bi++;
	for (;;) {
		size_t aj = ai, bj = bi;
		while (aj < an && a[aj] != '.')
			aj++;
		while (bj < bn && b[bj] != '.')
			bj++;
		bool anum = semver_num(a + ai, aj - ai), bnum = semver_num(b + bi, bj - bi);
		int c;
		if (anum && bnum)
			c = cmp_digits(a + ai, aj - ai, b + bi, bj - bi);
		else if (anum != bnum)
			c = anum ? -1 : 1; /* numeric identifiers sort before alphanumeric ones */
		else {
			size_t k = aj - ai < bj - bi ? aj - ai : bj - bi;
			c = memcmp(a + ai, b + bi, k);
			c = c ? (c < 0 ? -1 : 1) : (aj - ai == bj - bi ? 0 : aj - ai < bj - bi ? -1 : 1);
		}
		if (c)
			return c;
		bool amore = aj < an, bmore = bj < bn;
		if (!amore || !bmore)
			return amore == bmore ? 0 : amore ? 1 : -1;
		ai = aj + 1;
		bi = bj + 1;
	}
}

/* SPDX license expression: id ["+"] ["WITH" id], joined by AND / OR, with parentheses. Ids are
 * [A-Za-z0-9.-]+ or LicenseRef-..., DocumentRef-...:LicenseRef-...; the list of known ids is
 * not checked (it changes every few months). */
struct spdx {
	const char *s;
	size_t n, i;
	int depth;
};

static void spdx_ws(struct spdx *p)
{
	while (p->i < p->n && p->s[p->i] == ' ')
		p->i++;
}

/* Read a word of id characters; its length, 0 when none. */
static size_t spdx_word(struct spdx *p)
{
	size_t j = p->i;
	while (j < p->n && (is_alnum(p->s[j]) || p->s[j] == '.' || p->s[j] == '-' || p->s[j] == ':'))
		j++;
	return j - p->i;
}

static bool spdx_is(const struct spdx *p, size_t len, const char *kw)
{
	return len == strlen(kw) && !memcmp(p->s + p->i, kw, len);
}

static bool spdx_expr(struct spdx *p);

static bool spdx_term(struct spdx *p)
{
	spdx_ws(p);
	if (p->i < p->n && p->s[p->i] == '(') {
		if (++p->depth > 8)
			return false;
		p->i++;
		if (!spdx_expr(p))
			return false;
		spdx_ws(p);
		if (p->i >= p->n || p->s[p->i] != ')')
			return false;
		p->i++;
		p->depth--;
		return true;
	}
	size_t w = spdx_word(p);
	if (w == 0 || spdx_is(p, w, "AND") || spdx_is(p, w, "OR") || spdx_is(p, w, "WITH"))
		return false;
	const char *colon = memchr(p->s + p->i, ':', w);
	if (colon && (strncmp(p->s + p->i, "DocumentRef-", 12) ||
		      strncmp(colon + 1, "LicenseRef-", 11)))
		return false;
	p->i += w;
	if (p->i < p->n && p->s[p->i] == '+')
		p->i++;
	size_t save = p->i;
	spdx_ws(p);
	w = spdx_word(p);
	if (spdx_is(p, w, "WITH")) {
		p->i += w;
		spdx_ws(p);
		w = spdx_word(p);
		if (w == 0 || memchr(p->s + p->i, ':', w))
			return false;
		p->i += w;
	} else {
		p->i = save;
	}
	return true;
}

static bool spdx_expr(struct spdx *p)
{
	if (!spdx_term(p))
		return false;
	for (;;) {
		size_t save = p->i;
		spdx_ws(p);
		size_t w = spdx_word(p);
		if (spdx_is(p, w, "AND") || spdx_is(p, w, "OR")) {
			p->i += w;
			if (!spdx_term(p))
				return false;
		} else {
			p->i = save;
			return true;
		}
	}
}

bool trmx_syntax_spdx(const char *s, size_t n)
{
	struct spdx p = { s, n, 0, 0 };
	if (!spdx_expr(&p))
		return false;
	spdx_ws(&p);
	return p.i == n;
}

/* A version range: comparators split by spaces, each [op]N with op one of >= <= > < =. */

int trmx_syntax_range_parse(const char *s, trmx_range_term *t, size_t *nt)
{
	size_t i = 0, n = strlen(s), k = 0;
	while (i < n) {
		while (i < n && s[i] == ' ')
			i++;
		if (i >= n)
			break;
		if (k >= TRMX_RANGE_TERMS_MAX)
			return -1;
		char op = '=';
		if (s[i] == '>' || s[i] == '<') {
			bool eq = i + 1 < n && s[i + 1] == '=';
			op = s[i] == '>' ? (eq ? 'g' : 'G') : (eq ? 'l' : 'L');
			i += eq ? 2 : 1;
		} else if (s[i] == '=') {
			i++;
		}
		size_t j = i;
		while (j < n && s[j] >= '0' && s[j] <= '9')
			j++;
		if (j == i || j - i > 9 || (j < n && s[j] != ' '))
			return -1;
		t[k].op = op;
		t[k].v = strtoul(s + i, NULL, 10);
		k++;
		i = j;
	}
	if (k == 0)
		return -1;
	*nt = k;
	return 0;
}

bool trmx_syntax_range_accepts(const char *s, unsigned long v)
{
	trmx_range_term t[TRMX_RANGE_TERMS_MAX];
	size_t n;
	if (!s || trmx_syntax_range_parse(s, t, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool ok = t[i].op == 'g' ? v >= t[i].v : t[i].op == 'G' ? v > t[i].v
			  : t[i].op == 'l' ? v <= t[i].v : t[i].op == 'L' ? v < t[i].v
			  : v == t[i].v;
		if (!ok)
			return false;
	}
	return true;
}

bool trmx_syntax_url(const char *s, size_t n)
{
	size_t p = !strncmp(s, "https://", 8) ? 8 : !strncmp(s, "http://", 7) ? 7 : 0;
	if (p == 0 || n <= p)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

