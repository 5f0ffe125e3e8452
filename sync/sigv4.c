#include "sync/sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/* A growing string; every append either fits or sets failed. */
struct buf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *grown;
		while (b->len + n + 1 > cap)
			cap *= 2;
		grown = realloc(b->s, cap);
		if (grown == NULL) {
			b->failed = true;
			return;
		}
		b->s = grown;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

char *sigv4_uri_encode(const char *s, size_t len, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = {0};

	buf_add(&b, "", 0);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			buf_add(&b, (const char *)&c, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			buf_add(&b, e, 3);
		}
	}
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes %XX and '+' (form encoding, as botocore's parse_qsl reads the query). */
static size_t url_decode(const char *s, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[n++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else if (s[i] == '+') {
			out[n++] = ' ';
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	return n;
}

/*
 * RFC 3986 5.2.4 dot-segment removal plus collapsing of repeated slashes, as
 * botocore normalizes the path of every service but S3.
 */
static char *normalize_path(const char *path)
{
	size_t len = strlen(path);
	char *out = malloc(len + 2);
	size_t n = 0;
	const char *p = path;
	bool trailing;

	if (out == NULL)
		return NULL;
	if (len == 0) {
		strcpy(out, "/");
		return out;
	}
	trailing = path[len - 1] == '/';
	out[n++] = '/';
	while (*p != '\0') {
		const char *seg;
		size_t sl;
		while (*p == '/')
			p++;
		seg = p;
		while (*p != '\0' && *p != '/')
			p++;
		sl = (size_t)(p - seg);
		if (sl == 0 || (sl == 1 && seg[0] == '.'))
			continue;
		if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
			/* Drop the last segment written, if any. */
			if (n > 1) {
				n--;
				while (n > 1 && out[n - 1] != '/')
					n--;
			}
			continue;
		}
		memcpy(out + n, seg, sl);
		n += sl;
		out[n++] = '/';
	}
	if (!trailing && n > 1)
		n--;
	out[n] = '\0';
	return out;
}

struct param {
	char *name;
	char *value;
};

static int cmp_param(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/* Query parameters decoded, encoded again the AWS way, sorted by name then value. */
static int canonical_query(const char *query, struct buf *b)
{
	size_t count = 0, n = 0;
	struct param *params;
	const char *p;
	int rc = -1;

	if (query == NULL || *query == '\0')
		return 0;
	for (p = query; *p != '\0'; p++)
		count += *p == '&';
	params = calloc(count + 1, sizeof(*params));
	if (params == NULL)
		return -1;
	for (p = query; *p != '\0' || p == query;) {
		const char *end = strchr(p, '&'), *eq;
		size_t len;
		char *tmp;
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		if (len > 0) {
			size_t nl, vl;
			eq = memchr(p, '=', len);
			nl = eq != NULL ? (size_t)(eq - p) : len;
			vl = eq != NULL ? len - nl - 1 : 0;
			tmp = malloc(len + 1);
			if (tmp == NULL)
				goto out;
			nl = url_decode(p, nl, tmp);
			params[n].name = sigv4_uri_encode(tmp, nl, false);
			vl = url_decode(eq != NULL ? eq + 1 : "", vl, tmp);
			params[n].value = sigv4_uri_encode(tmp, vl, false);
			free(tmp);
			if (params[n].name == NULL || params[n].value == NULL)
				goto out;
			n++;
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}
	qsort(params, n, sizeof(*params), cmp_param);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_str(b, "&");
		buf_str(b, params[i].name);
		buf_str(b, "=");
		buf_str(b, params[i].value);
	}
	rc = 0;
out:
	for (size_t i = 0; i <= count; i++) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
	return rc;
}

struct hdr {
	char *name;  /* lower case */
	char *value; /* trimmed, inner whitespace collapsed */
	size_t order;
};

static int cmp_hdr(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : (x->order > y->order) - (x->order < y->order);
}

static char *trim_value(const char *v)
{
	size_t len = strlen(v), n = 0;
	char *out = malloc(len + 1);
	bool space = false;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (isspace((unsigned char)v[i])) {
			space = n > 0;
			continue;
		}
		if (space)
			out[n++] = ' ';
		space = false;
		out[n++] = v[i];
	}
	out[n] = '\0';
	return out;
}

void sigv4_sha256_hex(const uint8_t *data, size_t len, char hex[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void hmac(const uint8_t *key, size_t keylen, const char *msg, uint8_t out[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, (int)keylen, (const uint8_t *)msg, strlen(msg), out, &n);
}

void sigv4_amz_date(int64_t t, char buf[17])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void sigv4_result_free(struct sigv4_result *r)
{
	free(r->canonical_request);
	free(r->string_to_sign);
	free(r->signature);
	free(r->authorization);
	memset(r, 0, sizeof(*r));
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
	       const char *region, const char *service, const char *amz_date,
	       struct sigv4_result *out)
{
	struct buf cr = {0}, sts = {0}, signed_names = {0}, auth = {0};
	size_t nh = 0;
	struct hdr *h = calloc(req->nheaders + 1, sizeof(*h));
	char *path = NULL, *cpath = NULL, hash[65];
	bool have_token = false;
	uint8_t k[32], k2[32], sig[32];
	char date[9], secret[256], sighex[65];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (h == NULL || strlen(amz_date) != 16 || strlen(cred->secret_key) + 5 > sizeof(secret))
		goto out;
	for (size_t i = 0; i < req->nheaders; i++) {
		h[nh].name = strdup(req->headers[i].name);
		h[nh].value = trim_value(req->headers[i].value);
		h[nh].order = i;
		if (h[nh].name == NULL || h[nh].value == NULL) {
			nh++;
			goto out;
		}
		for (char *c = h[nh].name; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		if (strcmp(h[nh].name, "x-amz-security-token") == 0)
			have_token = true;
		nh++;
	}
	if (cred->session_token != NULL && !have_token) {
		/* RFC-less but universal: the token is a signed header (botocore, awscli). */
		h[nh].name = strdup("x-amz-security-token");
		h[nh].value = trim_value(cred->session_token);
		h[nh].order = nh;
		nh++;
		if (h[nh - 1].name == NULL || h[nh - 1].value == NULL)
			goto out;
	}
	qsort(h, nh, sizeof(*h), cmp_hdr);

	/* 1. The canonical request. */
	path = normalize_path(req->path);
	cpath = path != NULL ? sigv4_uri_encode(path, strlen(path), true) : NULL;
	if (cpath == NULL)
		goto out;
	buf_str(&cr, req->method);
	buf_str(&cr, "\n");
	buf_str(&cr, cpath);
	buf_str(&cr, "\n");
	if (canonical_query(req->query, &cr) < 0)
		goto out;
	buf_str(&cr, "\n");
	for (size_t i = 0; i < nh;) {
		size_t j = i;
		buf_str(&cr, h[i].name);
		buf_str(&cr, ":");
		/* Repeated headers: one line, values joined with commas in the order sent. */
		for (; j < nh && strcmp(h[j].name, h[i].name) == 0; j++) {
			if (j > i)
				buf_str(&cr, ",");
			buf_str(&cr, h[j].value);
		}
		buf_str(&cr, "\n");
		if (signed_names.len > 0)
			buf_str(&signed_names, ";");
		buf_str(&signed_names, h[i].name);
		i = j;
	}
	buf_str(&cr, "\n");
	buf_str(&cr, signed_names.s != NULL ? signed_names.s : "");
	buf_str(&cr, "\n");
	sigv4_sha256_hex(req->body != NULL ? req->body : (const uint8_t *)"", req->body_len, hash);
	buf_str(&cr, hash);
	if (cr.failed || signed_names.failed)
		goto out;

	/* 2. The string to sign. */
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	buf_str(&sts, "AWS4-HMAC-SHA256\n");
	buf_str(&sts, amz_date);
	buf_str(&sts, "\n");
	buf_str(&sts, date);
	buf_str(&sts, "/");
	buf_str(&sts, region);
	buf_str(&sts, "/");
	buf_str(&sts, service);
	buf_str(&sts, "/aws4_request\n");
	sigv4_sha256_hex((const uint8_t *)cr.s, cr.len, hash);
	buf_str(&sts, hash);

	/* 3. The signing key, then the signature. */
	snprintf(secret, sizeof(secret), "AWS4%s", cred->secret_key);
	hmac((const uint8_t *)secret, strlen(secret), date, k);
	hmac(k, 32, region, k2);
	hmac(k2, 32, service, k);
	hmac(k, 32, "aws4_request", k2);
	if (sts.failed)
		goto out;
	hmac(k2, 32, sts.s, sig);
	for (size_t i = 0; i < 32; i++)
		snprintf(sighex + 2 * i, 3, "%02x", sig[i]);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(k2, sizeof(k2));

	buf_str(&auth, "AWS4-HMAC-SHA256 Credential=");
	buf_str(&auth, cred->access_key);
	buf_str(&auth, "/");
	buf_str(&auth, date);
	buf_str(&auth, "/");
	buf_str(&auth, region);
	buf_str(&auth, "/");
	buf_str(&auth, service);
	buf_str(&auth, "/aws4_request, SignedHeaders=");
	buf_str(&auth, signed_names.s);
	buf_str(&auth, ", Signature=");
	buf_str(&auth, sighex);
	if (auth.failed)
		goto out;
	out->canonical_request = cr.s;
	out->string_to_sign = sts.s;
	out->signature = strdup(sighex);
	out->authorization = auth.s;
	cr.s = sts.s = auth.s = NULL;
	rc = out->signature != NULL ? 0 : -1;
out:
	for (size_t i = 0; h != NULL && i < nh; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	free(path);
	free(cpath);
	free(cr.s);
	free(sts.s);
	free(auth.s);
	free(signed_names.s);
	if (rc < 0)
		sigv4_result_free(out);
	return rc;
}
