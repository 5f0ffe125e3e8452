/*
 * aws: the AWS client shared by vpcdns-sync and vpcdns-provision.
 *
 * HTTPS with libcurl (one handle, connections reused), requests signed with
 * our SigV4, responses streamed through expat into the caller's handler.
 * Credentials are looked up as the AWS CLI does: environment, the shared
 * credentials and config files (AWS_PROFILE), then IMDSv2 instance role
 * credentials (refreshed before they expire); with role_arn, STS AssumeRole
 * on top. Throttling, 5xx and connection errors are retried with exponential
 * backoff and full jitter; Route 53 calls share one client-side rate budget
 * (5 per second per account). Other errors come back with AWS's code and
 * message.
 */
#ifndef SYNC_AWS_H
#define SYNC_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/xml.h"

enum aws_service { AWS_ROUTE53, AWS_EC2, AWS_RDS, AWS_STS, AWS_NSERVICES };

struct aws_settings {
	const char *region;       /* NULL: AWS_REGION, AWS_DEFAULT_REGION, the config file, IMDS */
	const char *profile;      /* NULL: AWS_PROFILE, then "default" */
	const char *role_arn;     /* assume this role with the credentials found */
	const char *endpoint_url; /* every service; NULL: AWS_ENDPOINT_URL or AWS's */
	const char *service_endpoint[AWS_NSERVICES]; /* per service, wins over endpoint_url */
	const char
	    *imds_endpoint_url;   /* NULL: AWS_EC2_METADATA_SERVICE_ENDPOINT or 169.254.169.254 */
	unsigned max_attempts;    /* 0: 5 */
	unsigned backoff_base_ms; /* 0: 100 (transient errors); throttling uses 5x */
	double route53_rate;      /* requests per second; 0: 5 */
};

struct aws_error {
	long http_status; /* 0: no HTTP answer (connection failed) */
	char code[128]; /* AWS error code, or a local one: "ConnectionError", "CredentialsError" */
	char message[512];
	char request_id[128];
};

struct aws_stats {
	unsigned long calls; /* HTTP requests sent, retries included */
	unsigned long retries;
	unsigned long throttles; /* throttling errors received */
	unsigned long errors;    /* calls that failed in the end */
};

struct aws_call {
	enum aws_service service;
	const char *method; /* "GET" or "POST" */
	const char *path;   /* "/2013-04-01/hostedzone/Z1/rrset", "/" */
	const char *query;  /* encoded, without '?'; NULL if none */
	const char *body;   /* form body (Query APIs) or XML; NULL if none */
	const char *content_type;
	const struct xml_handler *handler; /* gets the body of a 2xx answer */
	void (*reset)(void *arg); /* before each attempt: drop what a failed one delivered */
	void *reset_arg;
};

struct aws_client;

/* A client for settings (strings are copied). NULL with err on failure. */
struct aws_client *aws_client_new(const struct aws_settings *s, char *err, size_t errlen);
void aws_client_free(struct aws_client *c);

/* Makes one API call, with retries. 0, or -1 with err filled. */
int aws_client_call(struct aws_client *c, const struct aws_call *call, struct aws_error *err);

/* The region in use ("" if none could be found). */
const char *aws_client_region(struct aws_client *c);

void aws_client_stats(const struct aws_client *c, struct aws_stats *out);

/* Encodes s for a query string or form body (RFC 3986 unreserved kept). malloc'ed. */
char *aws_encode(const char *s);

#endif
