/*
 * SigV4 against AWS's published test suite (tests/unit/sigv4, Apache-2.0, see
 * its LICENSE and NOTICE): for each case the canonical request, string to sign
 * and Authorization header must match byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sync/sigv4.h"

#define SUITE "tests/unit/sigv4"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return s;
}

struct parsed {
	char *method, *path, *query;
	struct sigv4_header headers[16];
	char *names[16], *values[16];
	size_t nheaders;
	const char *body;
	size_t body_len;
	char date[17];
};

/* The .req format: request line, header lines (indented lines continue a value), blank line, body. */
static void parse_req(char *text, struct parsed *p)
{
	char *line = text, *next, *sp, *http;

	memset(p, 0, sizeof(*p));
	next = strchr(line, '\n');
	assert_non_null(next);
	*next = '\0';
	sp = strchr(line, ' ');
	http = strstr(line, " HTTP/");
	assert_non_null(sp);
	assert_non_null(http);
	*sp = '\0';
	*http = '\0';
	p->method = line;
	p->path = sp + 1;
	p->query = strchr(p->path, '?');
	if (p->query != NULL)
		*p->query++ = '\0';
	line = next + 1;
	while (*line != '\0' && *line != '\n') {
		next = strchr(line, '\n');
		if (next != NULL)
			*next = '\0';
		if ((*line == ' ' || *line == '\t') && p->nheaders > 0) {
			size_t i = p->nheaders - 1, l = strlen(p->values[i]);
			p->values[i] = realloc(p->values[i], l + strlen(line) + 2);
			p->values[i][l] = '\n';
			strcpy(p->values[i] + l + 1, line);
		} else {
			char *colon = strchr(line, ':');
			assert_non_null(colon);
			*colon = '\0';
			p->names[p->nheaders] = strdup(line);
			p->values[p->nheaders] = strdup(colon + 1);
			p->nheaders++;
		}
		if (next == NULL) {
			line += strlen(line);
			break;
		}
		line = next + 1;
	}
	for (size_t i = 0; i < p->nheaders; i++) {
		p->headers[i].name = p->names[i];
		p->headers[i].value = p->values[i];
		if (strcasecmp(p->names[i], "x-amz-date") == 0)
			snprintf(p->date, sizeof(p->date), "%s", p->values[i]);
	}
	if (*line == '\n')
		line++;
	p->body = line;
	p->body_len = strlen(line);
}

static void parsed_free(struct parsed *p)
{
	for (size_t i = 0; i < p->nheaders; i++) {
		free(p->names[i]);
		free(p->values[i]);
	}
}

static void check_case(const char *dir, const char *name, const char *token)
{
	char path[512], *req, *creq, *sts, *authz;
	struct parsed p;
	struct sigv4_credentials cred = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
					 token};
	struct sigv4_request r;
	struct sigv4_result out;

	snprintf(path, sizeof(path), "%s/%s/%s.req", dir, name, name);
	req = slurp(path, NULL);
	if (req == NULL)
		fail_msg("cannot read %s (run from the repository root)", path);
	snprintf(path, sizeof(path), "%s/%s/%s.creq", dir, name, name);
	creq = slurp(path, NULL);
	snprintf(path, sizeof(path), "%s/%s/%s.sts", dir, name, name);
	sts = slurp(path, NULL);
	snprintf(path, sizeof(path), "%s/%s/%s.authz", dir, name, name);
	authz = slurp(path, NULL);
	assert_non_null(creq);
	assert_non_null(sts);
	assert_non_null(authz);
	parse_req(req, &p);
	r.method = p.method;
	r.path = p.path;
	r.query = p.query;
	r.headers = p.headers;
	r.nheaders = p.nheaders;
	r.body = (const uint8_t *)p.body;
	r.body_len = p.body_len;
	assert_int_equal(sigv4_sign(&r, &cred, "us-east-1", "service", p.date, &out), 0);
	if (strcmp(out.canonical_request, creq) != 0)
		fail_msg("%s: canonical request\n--- got\n%s\n--- want\n%s", name,
			 out.canonical_request, creq);
	assert_string_equal(out.string_to_sign, sts);
	assert_string_equal(out.authorization, authz);
	sigv4_result_free(&out);
	parsed_free(&p);
	free(req);
	free(creq);
	free(sts);
	free(authz);
}

static const char *const plain_cases[] = {
    "get-header-key-duplicate",
    "get-header-value-multiline",
    "get-header-value-order",
    "get-header-value-trim",
    "get-unreserved",
    "get-utf8",
    "get-vanilla",
    "get-vanilla-empty-query-key",
    "get-vanilla-query",
    "get-vanilla-query-order-encoded",
    "get-vanilla-query-order-key",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-order-value",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-vanilla",
    "post-vanilla-empty-query-value",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
};

static const char *const path_cases[] = {
    "get-relative",        "get-relative-relative",   "get-slash",
    "get-slash-dot-slash", "get-slash-pointless-dot", "get-slashes",
    "get-space",           "get-special-character",
};

static void test_suite_plain(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++)
		check_case(SUITE, plain_cases[i], NULL);
}

static void test_suite_normalize_path(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++)
		check_case(SUITE "/normalize-path", path_cases[i], NULL);
}

/* The session token is signed (as botocore and awscli do): the "header-before" variant. */
static void test_suite_session_token(void **state)
{
	(void)state;
	check_case(SUITE, "get-vanilla-with-session-token",
		   "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267");
	check_case(
	    SUITE "/post-sts-token", "post-sts-header-before",
	    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAe"
	    "MicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8p"
	    "hUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKw"
	    "T38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJa"
	    "bIQwj2ICCR/oLxBA==");
}

static void test_uri_encode(void **state)
{
	char *s;

	(void)state;
	s = sigv4_uri_encode("a b/c*~", 7, false);
	assert_string_equal(s, "a%20b%2Fc%2A~");
	free(s);
	s = sigv4_uri_encode("/a%20b", 6, true);
	assert_string_equal(s, "/a%2520b");
	free(s);
}

static void test_amz_date(void **state)
{
	char buf[17];

	(void)state;
	sigv4_amz_date(1440938160, buf); /* 2015-08-30 12:36:00 UTC */
	assert_string_equal(buf, "20150830T123600Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_suite_plain),
	    cmocka_unit_test(test_suite_normalize_path),
	    cmocka_unit_test(test_suite_session_token),
	    cmocka_unit_test(test_uri_encode),
	    cmocka_unit_test(test_amz_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
