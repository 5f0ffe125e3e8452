#include "resolver/dot.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conf/log.h"
#include "zones/dns.h"

#define DOT_IDLE_SECONDS    10
#define DOT_CONNECT_SECONDS 3

struct dot_conn;

struct dot_req {
	struct dot_req *next;
	struct dot_conn *conn;
	uint16_t id;
	dot_reply_fn on_reply;
	dot_error_fn on_error;
	void *arg;
};

struct dot_conn {
	struct dot_conn *next;
	struct dot_pool *pool;
	struct netaddr addr;
	char tls_name[256];
	char tls_ca[512];
	SSL_CTX *ctx;
	struct bufferevent *bev;
	struct dot_req *reqs;
	struct event idle;
	uint8_t buf[65535];
};

struct dot_pool {
	struct event_base *base;
	struct dot_conn *conns;
};

struct dot_pool *dot_pool_new(struct event_base *base)
{
	struct dot_pool *p = calloc(1, sizeof(*p));

	if (p != NULL)
		p->base = base;
	return p;
}

static void conn_free(struct dot_conn *c)
{
	struct dot_conn **pp = &c->pool->conns;

	while (*pp != NULL && *pp != c)
		pp = &(*pp)->next;
	if (*pp == c)
		*pp = c->next;
	event_del(&c->idle);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	free(c);
}

/* The connection is gone: every query on it is told, and retried elsewhere by its owner. */
static void conn_fail(struct dot_conn *c)
{
	struct dot_req *r = c->reqs;

	c->reqs = NULL;
	conn_free(c);
	while (r != NULL) {
		struct dot_req *next = r->next;
		dot_error_fn fn = r->on_error;
		void *arg = r->arg;
		free(r);
		fn(arg);
		r = next;
	}
}

void dot_pool_free(struct dot_pool *p)
{
	if (p == NULL)
		return;
	while (p->conns != NULL) {
		struct dot_conn *c = p->conns;
		while (c->reqs != NULL) {
			struct dot_req *r = c->reqs;
			c->reqs = r->next;
			free(r);
		}
		conn_free(c);
	}
	free(p);
}

static void arm_idle(struct dot_conn *c)
{
	struct timeval tv = {DOT_IDLE_SECONDS, 0};

	if (c->reqs == NULL)
		evtimer_add(&c->idle, &tv);
	else
		evtimer_del(&c->idle);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct dot_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->reqs == NULL)
		conn_free(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct dot_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		uint8_t lenbuf[2];
		size_t len;
		struct dot_req **pp, *r;

		if (evbuffer_copyout(in, lenbuf, 2) < 2)
			break;
		len = dns_get16(lenbuf);
		if (evbuffer_get_length(in) < len + 2)
			break;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, c->buf, len);
		if (len < DNS_HEADER_LEN)
			continue;
		for (pp = &c->reqs; *pp != NULL && (*pp)->id != dns_get16(c->buf);
		     pp = &(*pp)->next)
			;
		if (*pp == NULL)
			continue; /* nobody asked (cancelled, or not ours): drop */
		r = *pp;
		*pp = r->next;
		arm_idle(c);
		{
			dot_reply_fn fn = r->on_reply;
			void *rarg = r->arg;
			free(r);
			/* The callback may send more on c; it cannot free c. */
			fn(rarg, c->buf, len);
		}
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct dot_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		bufferevent_set_timeouts(bev, NULL, NULL);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char name[80];
		netaddr_format(&c->addr, name, sizeof(name));
		if (e != 0)
			log_warnx("dot %s (%s): %s", name, c->tls_name, ERR_error_string(e, NULL));
		else
			log_warnx("dot %s (%s): connection failed", name, c->tls_name);
	}
	conn_fail(c);
}

static struct dot_conn *conn_open(struct dot_pool *p, const struct netaddr *addr,
				  const char *tls_name, const char *tls_ca)
{
	struct dot_conn *c = calloc(1, sizeof(*c));
	struct timeval connect_timeout = {DOT_CONNECT_SECONDS, 0};
	SSL *ssl = NULL;

	if (c == NULL)
		return NULL;
	c->pool = p;
	c->addr = *addr;
	snprintf(c->tls_name, sizeof(c->tls_name), "%s", tls_name);
	snprintf(c->tls_ca, sizeof(c->tls_ca), "%s", tls_ca != NULL ? tls_ca : "");
	evtimer_assign(&c->idle, p->base, on_idle, c);
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if ((tls_ca != NULL && tls_ca[0] != '\0'
		 ? SSL_CTX_load_verify_locations(c->ctx, tls_ca, NULL)
		 : SSL_CTX_set_default_verify_paths(c->ctx)) != 1) {
		log_warnx("dot: cannot load trust anchors%s%s", tls_ca ? " from " : "",
			  tls_ca ? tls_ca : "");
		goto fail;
	}
	ssl = SSL_new(c->ctx);
	if (ssl == NULL)
		goto fail;
	/* RFC 7858 4.2 / RFC 8310: the name we expect, checked in the certificate, and SNI. */
	SSL_set_tlsext_host_name(ssl, tls_name);
	if (SSL_set1_host(ssl, tls_name) != 1)
		goto fail;
	c->bev = bufferevent_openssl_socket_new(p->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		goto fail;
	ssl = NULL; /* owned by the bufferevent */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_set_timeouts(c->bev, &connect_timeout, &connect_timeout);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&addr->ss, (int)addr->len) <
	    0)
		goto fail;
	c->next = p->conns;
	p->conns = c;
	return c;
fail:
	if (ssl != NULL)
		SSL_free(ssl);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	free(c);
	return NULL;
}

struct dot_req *dot_send(struct dot_pool *p, const struct netaddr *addr, const char *tls_name,
			 const char *tls_ca, const uint8_t *msg, size_t len, uint16_t id,
			 dot_reply_fn on_reply, dot_error_fn on_error, void *arg)
{
	struct dot_conn *c;
	struct dot_req *r;
	uint8_t lenbuf[2];

	for (c = p->conns; c != NULL; c = c->next)
		if (c->addr.len == addr->len && memcmp(&c->addr.ss, &addr->ss, addr->len) == 0 &&
		    strcmp(c->tls_name, tls_name) == 0 &&
		    strcmp(c->tls_ca, tls_ca != NULL ? tls_ca : "") == 0)
			break;
	if (c == NULL && (c = conn_open(p, addr, tls_name, tls_ca)) == NULL)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->conn = c;
	r->id = id;
	r->on_reply = on_reply;
	r->on_error = on_error;
	r->arg = arg;
	r->next = c->reqs;
	c->reqs = r;
	arm_idle(c);
	dns_put16(lenbuf, (uint16_t)len);
	bufferevent_write(c->bev, lenbuf, 2);
	bufferevent_write(c->bev, msg, len);
	return r;
}

void dot_cancel(struct dot_req *req)
{
	struct dot_conn *c = req->conn;
	struct dot_req **pp = &c->reqs;

	while (*pp != NULL && *pp != req)
		pp = &(*pp)->next;
	if (*pp == req)
		*pp = req->next;
	free(req);
	arm_idle(c);
}
