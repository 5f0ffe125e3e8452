/*
 * dot: DNS over TLS to upstream resolvers (RFC 7858), for one worker.
 *
 * One TLS connection per upstream, opened on first use, kept while in use
 * and closed after a while idle; queries are pipelined on it and replies
 * matched by ID (RFC 7766 6.2.1.1: they may come in any order). The server's
 * certificate must chain to the system trust store (or the configured CA
 * file) and name tls_name; anything else fails the connection, and with it
 * every query on it, which the forwarder then retries elsewhere.
 */
#ifndef RESOLVER_DOT_H
#define RESOLVER_DOT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf/netaddr.h"

struct dot_pool;
struct dot_req;

typedef void (*dot_reply_fn)(void *arg, const uint8_t *msg, size_t len);
typedef void (*dot_error_fn)(void *arg);

struct dot_pool *dot_pool_new(struct event_base *base);
void dot_pool_free(struct dot_pool *pool);

/*
 * Sends msg (its ID is id) to addr over TLS. on_reply gets the reply with
 * that ID; on_error is called if the connection fails first. Exactly one of
 * them is called, later, unless dot_cancel comes first. NULL if the query
 * could not even be queued.
 */
struct dot_req *dot_send(struct dot_pool *pool, const struct netaddr *addr, const char *tls_name,
			 const char *tls_ca, const uint8_t *msg, size_t len, uint16_t id,
			 dot_reply_fn on_reply, dot_error_fn on_error, void *arg);

/* Forgets a request whose answer is no longer wanted. */
void dot_cancel(struct dot_req *req);

#endif
