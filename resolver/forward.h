/*
 * forward: names outside our zones, resolved through upstream resolvers.
 *
 * The forward table (part of the published view) maps a domain to its
 * upstreams; the longest suffix wins, "." is the default. Each worker has a
 * forwarder: the upstream queries in flight, keyed by question so that
 * identical questions share one upstream query (coalescing), and what it
 * learned of each upstream (smoothed RTT, failures, back-off).
 *
 * An upstream query goes out over UDP from a fresh socket (random source
 * port) with a random ID; only a reply from that address and port, with that
 * ID and that question, is taken (anything else is counted as spoofed). TC=1
 * retries over TCP. A timed-out upstream is retried on the next; when the
 * time budget is spent, the clients get a stale answer (RFC 8767) or SERVFAIL.
 */
#ifndef RESOLVER_FORWARD_H
#define RESOLVER_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf/config.h"
#include "resolver/packet.h"

#define FORWARD_MAX_UPSTREAMS 8

struct forward_rule {
	uint8_t name[DNS_MAX_NAME]; /* lower-cased wire */
	size_t name_len;
	unsigned labels;
	bool is_default;
	bool ordered; /* policy = ordered; otherwise fastest */
	struct netaddr upstreams[FORWARD_MAX_UPSTREAMS];
	size_t nupstreams;
	bool tls; /* DNS over TLS (RFC 7858) */
	char tls_name[256];
	char tls_ca[512]; /* empty: the system trust store */
};

struct forward_table;

/* Builds the rules of config. NULL with err on failure (or no memory). */
struct forward_table *forward_table_build(const struct config *config, char *err, size_t errlen);
void forward_table_free(struct forward_table *t);
size_t forward_table_count(const struct forward_table *t);

/* The most specific rule for a lower-cased wire name, or NULL. */
const struct forward_rule *forward_table_find(const struct forward_table *t, const uint8_t *qname,
					      size_t qname_len, const uint8_t *label_off,
					      unsigned nlabels);

/* Where the reply to a forwarded query goes. */
struct forward_client {
	int udp_fd; /* UDP: the socket the query came in on; -1 for TCP */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	/* IP_PKTINFO / IPV6_PKTINFO: answer from the address asked */
	uint8_t ctrl[64] __attribute__((aligned(8)));
	size_t ctrl_len;
	struct tcp_conn *conn; /* TCP: held until worker_client_release */
	struct worker *home;   /* the worker that owns conn */
};

struct forward_stats {
	uint64_t forwarded; /* client queries that went upstream */
	uint64_t coalesced; /* ... that joined a query already in flight */
	uint64_t upstream_sent;
	uint64_t upstream_tcp;
	uint64_t timeouts;
	uint64_t spoofed; /* replies that did not match what we asked */
	uint64_t servfail;
	uint64_t stale_answers;
	uint64_t over_limit; /* SERVFAIL because too many queries were in flight */
	uint64_t prefetches;
	uint64_t peak_pps; /* most upstream packets sent in one second */
};

struct forwarder;
struct cache;

struct forwarder *forwarder_new(struct event_base *base, struct cache *cache);
void forwarder_free(struct forwarder *f);

/*
 * Resolves q (parsed from the client's query; question holds the question
 * bytes as sent) through rule, and answers client when done; the forwarder
 * then lets go of the client with worker_client_release. client NULL: only
 * refresh the cache (prefetch).
 */
void forwarder_query(struct forwarder *f, const struct forward_rule *rule,
		     const struct packet_query *q, const uint8_t *question,
		     const struct forward_client *client);

void forwarder_get_stats(const struct forwarder *f, struct forward_stats *out);

/* Upstream queries in flight: replies or timeouts to come. */
size_t forwarder_pending(const struct forwarder *f);

#endif
