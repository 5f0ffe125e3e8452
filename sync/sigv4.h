/*
 * sigv4: AWS Signature Version 4 for requests vpcdns makes (Route 53, EC2,
 * RDS, STS), on OpenSSL's SHA-256 and HMAC.
 *
 * Header-based signing as botocore does it: the canonical request (method,
 * path normalized and percent-encoded once more, query parameters decoded,
 * re-encoded and sorted by name then value, the signed headers lower-cased,
 * trimmed and sorted, the SHA-256 of the body), the string to sign, and the
 * key derived from the secret, date, region and service. A session token is
 * added as X-Amz-Security-Token and signed. Own code because libcurl 7.88's
 * built-in signer does not sort query parameters.
 */
#ifndef SYNC_SIGV4_H
#define SYNC_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_request {
	const char *method;
	const char *path;  /* as sent on the wire, without the query */
	const char *query; /* as sent on the wire, without '?'; NULL or "" if none */
	const struct sigv4_header *headers; /* every header to sign: host, x-amz-date, ... */
	size_t nheaders;
	const uint8_t *body;
	size_t body_len;
};

struct sigv4_credentials {
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL for long-term keys */
};

/* Everything a signature is made of; each string is malloc'ed (sigv4_result_free). */
struct sigv4_result {
	char *canonical_request;
	char *string_to_sign;
	char *signature;     /* 64 lower-case hex digits */
	char *authorization; /* the Authorization header's value */
};

/*
 * Signs req at amz_date ("20150830T123600Z", UTC) for region and service.
 * With a session token, the caller must also send the header
 * "X-Amz-Security-Token: TOKEN" (it is signed here whether or not req lists
 * it). Returns 0, or -1 on a malformed request or no memory.
 */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
	       const char *region, const char *service, const char *amz_date,
	       struct sigv4_result *out);

void sigv4_result_free(struct sigv4_result *r);

/* Writes the X-Amz-Date form of t (seconds since the epoch) into buf[17]. */
void sigv4_amz_date(int64_t t, char buf[17]);

/* Lower-case hex SHA-256 of data into hex[65]. */
void sigv4_sha256_hex(const uint8_t *data, size_t len, char hex[65]);

/*
 * Percent-encodes s (len bytes) for AWS: only A-Z a-z 0-9 - _ . ~ stay, and
 * '/' too when keep_slash. Returns a malloc'ed string or NULL.
 */
char *sigv4_uri_encode(const char *s, size_t len, bool keep_slash);

#endif
