#include "sync/aws.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "conf/log.h"
#include "sync/sigv4.h"

#define REFRESH_BEFORE_S 600 /* renew temporary credentials this long before they expire */
#define BACKOFF_CAP_MS   20000
#define HTTP_TIMEOUT_S   30
#define IMDS_TIMEOUT_S   2

static const char *const service_names[AWS_NSERVICES] = {"route53", "ec2", "rds", "sts"};
static const char *const service_env[AWS_NSERVICES] = {
    "AWS_ENDPOINT_URL_ROUTE_53", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_RDS",
    "AWS_ENDPOINT_URL_STS"};

struct creds {
	char access_key[256];
	char secret_key[256];
	char *session_token;
	int64_t expiration; /* 0: does not expire */
	bool from_imds, assumed;
};

struct aws_client {
	CURL *curl;
	char *region;
	char *profile;
	char *role_arn;
	char *endpoint[AWS_NSERVICES];
	char *imds;
	unsigned max_attempts, backoff_ms;
	double r53_rate;
	double r53_tokens;
	struct timespec r53_last;
	struct creds creds;
	bool have_creds;
	struct aws_stats stats;
};

static char *dup_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? strdup(s) : NULL;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

char *aws_encode(const char *s)
{
	return sigv4_uri_encode(s, strlen(s), false);
}

/* ---- HTTP plumbing ---- */

struct response {
	struct aws_client *c;
	long status;
	bool checked;
	struct xml_stream *body;  /* the caller's, for 2xx */
	struct xml_stream *error; /* AWS error documents */
	struct aws_error *err;
	char raw[512]; /* the start of a non-XML body, for the message */
	size_t raw_len;
	bool xml_failed;
	char xml_error[160];
	/* plain text (IMDS) */
	char *text;
	size_t text_len, text_cap;
};

static void error_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct aws_error *e = arg;

	(void)depth;
	/* Route 53: ErrorResponse/Error/Code; EC2: Response/Errors/Error/Code; Query: ErrorResponse. */
	if (xml_path_ends(path, "Error/Code"))
		snprintf(e->code, sizeof(e->code), "%s", text);
	else if (xml_path_ends(path, "Error/Message"))
		snprintf(e->message, sizeof(e->message), "%s", text);
	else if (xml_path_ends(path, "RequestId") || xml_path_ends(path, "RequestID"))
		snprintf(e->request_id, sizeof(e->request_id), "%s", text);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct response *r = arg;
	size_t len = size * nmemb;

	if (!r->checked) {
		curl_easy_getinfo(r->c->curl, CURLINFO_RESPONSE_CODE, &r->status);
		r->checked = true;
	}
	if (r->text != NULL || r->text_cap > 0) {
		if (r->text_len + len + 1 > r->text_cap) {
			size_t cap = (r->text_len + len + 1) * 2;
			char *grown = realloc(r->text, cap);
			if (grown == NULL)
				return 0;
			r->text = grown;
			r->text_cap = cap;
		}
		memcpy(r->text + r->text_len, data, len);
		r->text_len += len;
		r->text[r->text_len] = '\0';
		return len;
	}
	if (r->raw_len < sizeof(r->raw) - 1) {
		size_t n =
		    len < sizeof(r->raw) - 1 - r->raw_len ? len : sizeof(r->raw) - 1 - r->raw_len;
		memcpy(r->raw + r->raw_len, data, n);
		r->raw_len += n;
		r->raw[r->raw_len] = '\0';
	}
	if (r->status >= 200 && r->status < 300) {
		if (r->body != NULL && !r->xml_failed &&
		    xml_stream_feed(r->body, data, len, false) < 0) {
			r->xml_failed = true;
			snprintf(r->xml_error, sizeof(r->xml_error), "%s",
				 xml_stream_error(r->body));
		}
	} else if (r->error != NULL) {
		xml_stream_feed(r->error, data, len, false);
	}
	return len;
}

/* Splits "http://host:port/base" into the URL prefix and the Host header value. */
static int endpoint_host(const char *url, char *host, size_t hostlen)
{
	const char *p = strstr(url, "://");
	size_t n;

	if (p == NULL)
		return -1;
	p += 3;
	n = strcspn(p, "/?");
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, p, n);
	host[n] = '\0';
	/* The default port is not part of the Host header curl sends. */
	if (strncmp(url, "https://", 8) == 0 && n > 4 && strcmp(host + n - 4, ":443") == 0)
		host[n - 4] = '\0';
	else if (strncmp(url, "http://", 7) == 0 && n > 3 && strcmp(host + n - 3, ":80") == 0)
		host[n - 3] = '\0';
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint32_t rand32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)random();
	return v;
}

/* Route 53 allows about five requests a second per account: pace ours (token bucket). */
static void route53_pace(struct aws_client *c)
{
	struct timespec now;
	double elapsed;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (c->r53_last.tv_sec == 0) {
		c->r53_tokens = c->r53_rate;
	} else {
		elapsed = (double)(now.tv_sec - c->r53_last.tv_sec) +
			  (double)(now.tv_nsec - c->r53_last.tv_nsec) / 1e9;
		c->r53_tokens += elapsed * c->r53_rate;
		if (c->r53_tokens > c->r53_rate)
			c->r53_tokens = c->r53_rate;
	}
	c->r53_last = now;
	if (c->r53_tokens < 1.0) {
		unsigned wait = (unsigned)((1.0 - c->r53_tokens) / c->r53_rate * 1000.0) + 1;
		sleep_ms(wait);
		clock_gettime(CLOCK_MONOTONIC, &c->r53_last);
		c->r53_tokens = 1.0;
	}
	c->r53_tokens -= 1.0;
}

/* ---- credentials ---- */

static void creds_clear(struct creds *k)
{
	free(k->session_token);
	memset(k, 0, sizeof(*k));
}

struct ini_lookup {
	const char *section;
	const char *alt_section;
	struct creds *k;
	char region[64];
	bool found_keys;
};

static int ini_creds(void *user, const char *section, const char *name, const char *value)
{
	struct ini_lookup *l = user;

	if (strcmp(section, l->section) != 0 &&
	    (l->alt_section == NULL || strcmp(section, l->alt_section) != 0))
		return 1;
	if (strcmp(name, "aws_access_key_id") == 0) {
		snprintf(l->k->access_key, sizeof(l->k->access_key), "%s", value);
		l->found_keys = true;
	} else if (strcmp(name, "aws_secret_access_key") == 0) {
		snprintf(l->k->secret_key, sizeof(l->k->secret_key), "%s", value);
	} else if (strcmp(name, "aws_session_token") == 0 ||
		   strcmp(name, "aws_security_token") == 0) {
		free(l->k->session_token);
		l->k->session_token = strdup(value);
	} else if (strcmp(name, "region") == 0) {
		snprintf(l->region, sizeof(l->region), "%s", value);
	}
	return 1;
}

/*
 * The AWS shared files are INI-like, but their values (session tokens) run to
 * well over a thousand characters, past what Debian's inih reads in a line
 * (200). So they get this small reader: "[section]" and "key = value" lines,
 * comments from # or ;, indented lines (nested settings) ignored.
 */
static int aws_ini_parse(const char *path,
			 int (*fn)(void *, const char *, const char *, const char *), void *arg)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, section[256] = "";
	size_t cap = 0;

	if (f == NULL)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		char *p = line, *eq, *end;
		if (*p == ' ' || *p == '\t')
			continue;
		p[strcspn(p, "\r\n")] = '\0';
		if (*p == '#' || *p == ';' || *p == '\0')
			continue;
		if (*p == '[') {
			end = strchr(p, ']');
			if (end != NULL) {
				*end = '\0';
				snprintf(section, sizeof(section), "%s", p + 1);
			}
			continue;
		}
		eq = strchr(p, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		for (end = eq; end > p && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		for (eq++; isspace((unsigned char)*eq);)
			eq++;
		for (end = eq + strlen(eq); end > eq && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		fn(arg, section, p, eq);
	}
	free(line);
	fclose(f);
	return 0;
}

static void home_path(const char *envname, const char *rel, char *out, size_t len)
{
	const char *e = env(envname), *home = env("HOME");

	if (e != NULL)
		snprintf(out, len, "%s", e);
	else
		snprintf(out, len, "%s/%s", home != NULL ? home : "/root", rel);
}

/* The shared files: credentials [profile], then config [profile NAME] / [default]. */
static bool creds_from_files(struct aws_client *c, struct creds *k, char *region, size_t rlen)
{
	char path[1024], section[300];
	struct ini_lookup l;
	bool ok = false;

	memset(&l, 0, sizeof(l));
	l.k = k;
	l.section = c->profile;
	home_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", path, sizeof(path));
	if (aws_ini_parse(path, ini_creds, &l) >= 0 && l.found_keys && k->secret_key[0] != '\0')
		ok = true;
	/* The config file names profiles "[profile NAME]", except "[default]". */
	snprintf(section, sizeof(section), "profile %s", c->profile);
	l.section = section;
	l.alt_section = strcmp(c->profile, "default") == 0 ? "default" : NULL;
	l.found_keys = false;
	home_path("AWS_CONFIG_FILE", ".aws/config", path, sizeof(path));
	if (!ok) {
		if (aws_ini_parse(path, ini_creds, &l) >= 0 && l.found_keys &&
		    k->secret_key[0] != '\0')
			ok = true;
	} else {
		struct creds scratch = {0};
		l.k = &scratch;
		aws_ini_parse(path, ini_creds, &l);
		creds_clear(&scratch);
	}
	if (region != NULL && l.region[0] != '\0')
		snprintf(region, rlen, "%s", l.region);
	return ok;
}

/* Reads the string value of "key" in a flat JSON object (IMDS credentials). */
static bool json_string(const char *json, const char *key, char *out, size_t outlen)
{
	char pat[64];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(json, pat);
	if (p == NULL)
		return false;
	p += strlen(pat);
	while (isspace((unsigned char)*p))
		p++;
	if (*p++ != ':')
		return false;
	while (isspace((unsigned char)*p))
		p++;
	if (*p++ != '"')
		return false;
	while (*p != '\0' && *p != '"') {
		if (*p == '\\' && p[1] != '\0')
			p++; /* credentials hold no \u escapes; keep the escaped character */
		if (n + 1 >= outlen)
			return false;
		out[n++] = *p++;
	}
	out[n] = '\0';
	return *p == '"';
}

static int64_t parse_iso8601(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* A plain HTTP exchange with the instance metadata service. Returns the body or NULL. */
static char *imds_get(struct aws_client *c, const char *method, const char *path, const char *token)
{
	char url[1024], hdr[1200];
	struct curl_slist *h = NULL;
	struct response r;
	CURLcode rc;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.text_cap = 1; /* collect text */
	r.text = calloc(1, 1);
	if (r.text == NULL)
		return NULL;
	snprintf(url, sizeof(url), "%s%s", c->imds, path);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long)IMDS_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "*");
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
		h = curl_slist_append(h, "x-aws-ec2-metadata-token-ttl-seconds: 21600");
	}
	if (token != NULL) {
		snprintf(hdr, sizeof(hdr), "x-aws-ec2-metadata-token: %s", token);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r.status);
	if (rc != CURLE_OK || r.status != 200) {
		free(r.text);
		return NULL;
	}
	return r.text;
}

/* IMDSv2: a session token, the instance role's name, then its credentials. */
static bool creds_from_imds(struct aws_client *c, struct creds *k)
{
	char *token, *role, *json, path[512], buf[4096];
	bool ok = false;

	if (env("AWS_EC2_METADATA_DISABLED") != NULL &&
	    strcasecmp(env("AWS_EC2_METADATA_DISABLED"), "true") == 0)
		return false;
	token = imds_get(c, "PUT", "/latest/api/token", NULL);
	if (token == NULL)
		return false;
	role = imds_get(c, "GET", "/latest/meta-data/iam/security-credentials/", token);
	if (role != NULL) {
		role[strcspn(role, "\r\n")] = '\0';
		snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", role);
		json = imds_get(c, "GET", path, token);
		if (json != NULL &&
		    json_string(json, "AccessKeyId", k->access_key, sizeof(k->access_key)) &&
		    json_string(json, "SecretAccessKey", k->secret_key, sizeof(k->secret_key)) &&
		    json_string(json, "Token", buf, sizeof(buf))) {
			k->session_token = strdup(buf);
			if (json_string(json, "Expiration", buf, sizeof(buf)))
				k->expiration = parse_iso8601(buf);
			k->from_imds = true;
			ok = k->session_token != NULL;
		}
		free(json);
	}
	free(role);
	free(token);
	return ok;
}

static int call_signed(struct aws_client *c, const struct aws_call *call, struct aws_error *err);

struct assume_state {
	struct creds *k;
};

static void assume_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct assume_state *a = arg;

	(void)depth;
	if (xml_path_ends(path, "Credentials/AccessKeyId"))
		snprintf(a->k->access_key, sizeof(a->k->access_key), "%s", text);
	else if (xml_path_ends(path, "Credentials/SecretAccessKey"))
		snprintf(a->k->secret_key, sizeof(a->k->secret_key), "%s", text);
	else if (xml_path_ends(path, "Credentials/SessionToken")) {
		free(a->k->session_token);
		a->k->session_token = strdup(text);
	} else if (xml_path_ends(path, "Credentials/Expiration"))
		a->k->expiration = parse_iso8601(text);
}

/* STS AssumeRole with the base credentials: a management account reading other accounts. */
static bool assume_role(struct aws_client *c, struct aws_error *err)
{
	struct creds k = {0};
	struct assume_state a = {&k};
	struct xml_handler h = {NULL, assume_end, &a};
	char *arn = aws_encode(c->role_arn), body[2048];
	struct aws_call call = {AWS_STS, "POST", "/",
				NULL,    body,   "application/x-www-form-urlencoded; charset=utf-8",
				&h,      NULL,   NULL};
	int rc;

	if (arn == NULL)
		return false;
	snprintf(body, sizeof(body),
		 "Action=AssumeRole&Version=2011-06-15&RoleArn=%s&RoleSessionName=vpcdns-sync&"
		 "DurationSeconds=3600",
		 arn);
	free(arn);
	rc = call_signed(c, &call, err);
	if (rc < 0 || k.access_key[0] == '\0' || k.session_token == NULL) {
		creds_clear(&k);
		return false;
	}
	creds_clear(&c->creds);
	c->creds = k;
	c->creds.assumed = true;
	return true;
}

static int load_credentials(struct aws_client *c, struct aws_error *err)
{
	struct creds k = {0};
	bool ok = false;

	if (env("AWS_ACCESS_KEY_ID") != NULL && env("AWS_SECRET_ACCESS_KEY") != NULL) {
		snprintf(k.access_key, sizeof(k.access_key), "%s", env("AWS_ACCESS_KEY_ID"));
		snprintf(k.secret_key, sizeof(k.secret_key), "%s", env("AWS_SECRET_ACCESS_KEY"));
		if (env("AWS_SESSION_TOKEN") != NULL)
			k.session_token = strdup(env("AWS_SESSION_TOKEN"));
		else if (env("AWS_SECURITY_TOKEN") != NULL)
			k.session_token = strdup(env("AWS_SECURITY_TOKEN"));
		ok = true;
	}
	if (!ok)
		ok = creds_from_files(c, &k, NULL, 0);
	if (!ok)
		ok = creds_from_imds(c, &k);
	if (!ok) {
		creds_clear(&k);
		snprintf(err->code, sizeof(err->code), "CredentialsError");
		snprintf(err->message, sizeof(err->message),
			 "no AWS credentials: not in the environment, not in the shared files for "
			 "profile %s, not from instance metadata",
			 c->profile);
		return -1;
	}
	creds_clear(&c->creds);
	c->creds = k;
	c->have_creds = true;
	if (c->role_arn != NULL && !assume_role(c, err)) {
		c->have_creds = false;
		if (err->code[0] == '\0')
			snprintf(err->code, sizeof(err->code), "AssumeRoleFailed");
		return -1;
	}
	return 0;
}

static int ensure_credentials(struct aws_client *c, struct aws_error *err)
{
	if (c->have_creds && (c->creds.expiration == 0 ||
			      (int64_t)time(NULL) < c->creds.expiration - REFRESH_BEFORE_S))
		return 0;
	return load_credentials(c, err);
}

/* ---- the call ---- */

static const char *endpoint_for(struct aws_client *c, enum aws_service svc, char *buf, size_t len)
{
	if (c->endpoint[svc] != NULL)
		return c->endpoint[svc];
	switch (svc) {
	case AWS_ROUTE53:
		snprintf(buf, len, "https://route53.amazonaws.com");
		break;
	default:
		snprintf(buf, len, "https://%s.%s.amazonaws.com", service_names[svc], c->region);
	}
	return buf;
}

static bool is_throttle(const char *code)
{
	static const char *const codes[] = {"Throttling",
					    "ThrottlingException",
					    "ThrottledException",
					    "RequestThrottledException",
					    "TooManyRequestsException",
					    "RequestLimitExceeded",
					    "BandwidthLimitExceeded",
					    "RequestThrottled",
					    "SlowDown",
					    "PriorRequestNotComplete",
					    "EC2ThrottledException",
					    NULL};

	for (size_t i = 0; codes[i] != NULL; i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/* One signed HTTP exchange. 0: 2xx; 1: failed, retryable; -1: failed for good. */
static int attempt(struct aws_client *c, const struct aws_call *call, struct aws_error *err)
{
	char base[512], url[4096], host[300], date[17], h_host[320], h_date[64], h_auth[1024],
	    h_ctype[256], *h_token = NULL;
	const char *ep = endpoint_for(c, call->service, base, sizeof(base));
	const char *region = call->service == AWS_ROUTE53 ? "us-east-1" : c->region;
	struct sigv4_header sh[4];
	size_t nsh = 0;
	struct sigv4_request req;
	struct sigv4_credentials cred = {c->creds.access_key, c->creds.secret_key,
					 c->creds.session_token};
	struct sigv4_result sig;
	struct curl_slist *hl = NULL;
	struct response r;
	struct xml_handler eh = {NULL, error_end, err};
	CURLcode rc;
	int result;
	size_t blen = call->body != NULL ? strlen(call->body) : 0;

	memset(&r, 0, sizeof(r));
	memset(err, 0, sizeof(*err));
	if (endpoint_host(ep, host, sizeof(host)) < 0) {
		snprintf(err->code, sizeof(err->code), "InvalidEndpoint");
		snprintf(err->message, sizeof(err->message), "bad endpoint URL %.400s", ep);
		return -1;
	}
	snprintf(url, sizeof(url), "%s%s%s%s", ep, call->path,
		 call->query != NULL && *call->query ? "?" : "",
		 call->query != NULL ? call->query : "");
	sigv4_amz_date((int64_t)time(NULL), date);
	sh[nsh++] = (struct sigv4_header){"host", host};
	sh[nsh++] = (struct sigv4_header){"x-amz-date", date};
	if (call->content_type != NULL)
		sh[nsh++] = (struct sigv4_header){"content-type", call->content_type};
	req = (struct sigv4_request){
	    call->method, call->path, call->query, sh, nsh, (const uint8_t *)call->body, blen};
	if (sigv4_sign(&req, &cred, region, service_names[call->service], date, &sig) < 0) {
		snprintf(err->code, sizeof(err->code), "SigningError");
		return -1;
	}
	snprintf(h_host, sizeof(h_host), "Host: %s", host);
	snprintf(h_date, sizeof(h_date), "X-Amz-Date: %s", date);
	snprintf(h_auth, sizeof(h_auth), "Authorization: %s", sig.authorization);
	sigv4_result_free(&sig);
	hl = curl_slist_append(hl, h_host);
	hl = curl_slist_append(hl, h_date);
	hl = curl_slist_append(hl, h_auth);
	/* libcurl must not add headers that would change what was signed. */
	hl = curl_slist_append(hl, "Expect:");
	if (call->content_type != NULL) {
		snprintf(h_ctype, sizeof(h_ctype), "Content-Type: %s", call->content_type);
		hl = curl_slist_append(hl, h_ctype);
	} else if (call->body != NULL) {
		hl = curl_slist_append(hl, "Content-Type:");
	}
	if (c->creds.session_token != NULL) {
		size_t n = strlen(c->creds.session_token) + 32;
		h_token = malloc(n);
		if (h_token != NULL) {
			snprintf(h_token, n, "X-Amz-Security-Token: %s", c->creds.session_token);
			hl = curl_slist_append(hl, h_token);
		}
	}
	r.c = c;
	r.err = err;
	r.body = call->handler != NULL ? xml_stream_new(call->handler) : NULL;
	r.error = xml_stream_new(&eh);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long)HTTP_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "vpcdns-sync/" VPCDNS_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(call->method, "POST") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, call->body != NULL ? call->body : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)blen);
	} else if (strcmp(call->method, "GET") != 0) {
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, call->method);
	}
	if (call->reset != NULL)
		call->reset(call->reset_arg);
	c->stats.calls++;
	rc = curl_easy_perform(c->curl);
	if (rc == CURLE_OK && !r.checked)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r.status);
	err->http_status = r.status;
	if (rc != CURLE_OK) {
		snprintf(err->code, sizeof(err->code), "ConnectionError");
		snprintf(err->message, sizeof(err->message), "%.300s: %.200s", ep,
			 curl_easy_strerror(rc));
		result = 1;
	} else if (r.status >= 200 && r.status < 300) {
		if (r.body != NULL && !r.xml_failed && xml_stream_feed(r.body, "", 0, true) < 0) {
			r.xml_failed = true;
			snprintf(r.xml_error, sizeof(r.xml_error), "%s", xml_stream_error(r.body));
		}
		if (r.xml_failed) {
			/* A cut or garbled answer: as good as none. */
			snprintf(err->code, sizeof(err->code), "MalformedResponse");
			snprintf(err->message, sizeof(err->message), "%s", r.xml_error);
			result = 1;
		} else {
			result = 0;
		}
	} else {
		xml_stream_feed(r.error, "", 0, true);
		if (err->code[0] == '\0') {
			snprintf(err->code, sizeof(err->code), "HTTP%ld", r.status);
			snprintf(err->message, sizeof(err->message), "%.200s", r.raw);
		}
		if (is_throttle(err->code)) {
			c->stats.throttles++;
			result = 1;
		} else if (r.status >= 500 || r.status == 429 ||
			   strcmp(err->code, "RequestTimeout") == 0 ||
			   strcmp(err->code, "RequestTimeoutException") == 0) {
			result = 1;
		} else if (strcmp(err->code, "ExpiredToken") == 0 ||
			   strcmp(err->code, "RequestExpired") == 0) {
			/* Fetch credentials again and retry. */
			c->have_creds = false;
			result = 1;
		} else {
			result = -1;
		}
	}
	xml_stream_free(r.body);
	xml_stream_free(r.error);
	curl_slist_free_all(hl);
	free(h_token);
	return result;
}

static int call_signed(struct aws_client *c, const struct aws_call *call, struct aws_error *err)
{
	for (unsigned n = 1;; n++) {
		int rc;
		if (call->service == AWS_ROUTE53)
			route53_pace(c);
		rc = attempt(c, call, err);
		if (rc == 0)
			return 0;
		if (rc < 0 || n >= c->max_attempts) {
			c->stats.errors++;
			return -1;
		}
		/* Full jitter: a random wait up to base * 2^n, throttling from a higher base. */
		{
			unsigned base = is_throttle(err->code) ? c->backoff_ms * 5 : c->backoff_ms;
			uint64_t cap = (uint64_t)base << (n < 10 ? n : 10);
			if (cap > BACKOFF_CAP_MS)
				cap = BACKOFF_CAP_MS;
			c->stats.retries++;
			log_debug("aws %s: %s (%s), retry %u", service_names[call->service],
				  err->code, err->message, n);
			sleep_ms((unsigned)(rand32() % (cap + 1)));
		}
		if (!c->have_creds) {
			struct aws_error e2 = {0};
			if (load_credentials(c, &e2) < 0) {
				*err = e2;
				c->stats.errors++;
				return -1;
			}
		}
	}
}

int aws_client_call(struct aws_client *c, const struct aws_call *call, struct aws_error *err)
{
	memset(err, 0, sizeof(*err));
	if (c->region[0] == '\0' && call->service != AWS_ROUTE53) {
		snprintf(err->code, sizeof(err->code), "NoRegion");
		snprintf(err->message, sizeof(err->message),
			 "no AWS region: set [aws] region, AWS_REGION or run on an instance");
		return -1;
	}
	if (ensure_credentials(c, err) < 0)
		return -1;
	return call_signed(c, call, err);
}

const char *aws_client_region(struct aws_client *c)
{
	return c->region;
}

void aws_client_stats(const struct aws_client *c, struct aws_stats *out)
{
	*out = c->stats;
}

struct aws_client *aws_client_new(const struct aws_settings *s, char *err, size_t errlen)
{
	struct aws_client *c = calloc(1, sizeof(*c));
	char region[64] = "";
	const char *e;

	if (c == NULL)
		goto oom;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c->curl = curl_easy_init();
	if (c->curl == NULL)
		goto oom;
	c->profile = strdup(s->profile != NULL   ? s->profile
			    : env("AWS_PROFILE") ? env("AWS_PROFILE")
						 : "default");
	c->role_arn = dup_or_null(s->role_arn);
	c->imds = strdup(s->imds_endpoint_url != NULL ? s->imds_endpoint_url
			 : env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
			     ? env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
			     : "http://169.254.169.254");
	if (c->profile == NULL || c->imds == NULL)
		goto oom;
	/* Trailing slashes would double up with request paths. */
	while (strlen(c->imds) > 1 && c->imds[strlen(c->imds) - 1] == '/')
		c->imds[strlen(c->imds) - 1] = '\0';
	for (int i = 0; i < AWS_NSERVICES; i++) {
		const char *ep = s->service_endpoint[i] != NULL ? s->service_endpoint[i]
				 : env(service_env[i]) != NULL  ? env(service_env[i])
				 : s->endpoint_url != NULL      ? s->endpoint_url
								: env("AWS_ENDPOINT_URL");
		c->endpoint[i] = dup_or_null(ep);
		if (c->endpoint[i] != NULL)
			while (strlen(c->endpoint[i]) > 8 &&
			       c->endpoint[i][strlen(c->endpoint[i]) - 1] == '/')
				c->endpoint[i][strlen(c->endpoint[i]) - 1] = '\0';
	}
	c->max_attempts = s->max_attempts != 0 ? s->max_attempts : 5;
	c->backoff_ms = s->backoff_base_ms != 0 ? s->backoff_base_ms : 100;
	c->r53_rate = s->route53_rate > 0 ? s->route53_rate : 5.0;
	/* Region: configured, environment (AWS_REGION first, as awscli v2), files, IMDS. */
	if (s->region != NULL && *s->region != '\0')
		snprintf(region, sizeof(region), "%s", s->region);
	else if ((e = env("AWS_REGION")) != NULL || (e = env("AWS_DEFAULT_REGION")) != NULL)
		snprintf(region, sizeof(region), "%s", e);
	else {
		struct creds scratch = {0};
		creds_from_files(c, &scratch, region, sizeof(region));
		creds_clear(&scratch);
		if (region[0] == '\0') {
			char *token = imds_get(c, "PUT", "/latest/api/token", NULL);
			char *r =
			    token != NULL
				? imds_get(c, "GET", "/latest/meta-data/placement/region", token)
				: NULL;
			if (r != NULL)
				snprintf(region, sizeof(region), "%.*s", (int)strcspn(r, "\r\n"),
					 r);
			free(r);
			free(token);
		}
	}
	c->region = strdup(region);
	if (c->region == NULL)
		goto oom;
	return c;
oom:
	snprintf(err, errlen, "aws: out of memory");
	aws_client_free(c);
	return NULL;
}

void aws_client_free(struct aws_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	creds_clear(&c->creds);
	free(c->region);
	free(c->profile);
	free(c->role_arn);
	free(c->imds);
	for (int i = 0; i < AWS_NSERVICES; i++)
		free(c->endpoint[i]);
	free(c);
}
