#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <urcu.h>

#include "conf/log.h"
#include "resolver/forward.h"
#include "resolver/worker.h"
#include "zones/dns.h"

#define TCP_BACKLOG    256
#define TCP_OUTPUT_MAX (256 * 1024) /* stop reading while this much is unsent */

/* One client connection (RFC 7766): length-prefixed queries, answered in order of completion. */
struct tcp_conn {
	struct bufferevent *bev;
	struct worker *worker;
	struct sockaddr_storage peer;
	struct tcp_conn *prev, *next;
	bool closing;  /* peer finished sending: close once the replies are out */
	bool closed;   /* socket gone; the struct waits for forwarded queries to let go */
	unsigned refs; /* forwarded queries still to answer on this connection */
};

int tcp_socket_open(const struct netaddr *addr, char *err, size_t errlen)
{
	int family = addr->ss.ss_family;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	char name[80];

	netaddr_format(addr, name, sizeof(name));
	if (fd < 0) {
		snprintf(err, errlen, "tcp %s: socket (%s)", name, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
	    listen(fd, TCP_BACKLOG) < 0) {
		snprintf(err, errlen, "tcp %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void list_remove(struct worker *w, struct tcp_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conn_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		w->conn_tail = c->prev;
	c->prev = c->next = NULL;
}

static void list_append(struct worker *w, struct tcp_conn *c)
{
	c->prev = w->conn_tail;
	c->next = NULL;
	if (w->conn_tail != NULL)
		w->conn_tail->next = c;
	else
		w->conn_head = c;
	w->conn_tail = c;
}

static void conn_close(struct tcp_conn *c)
{
	struct worker *w = c->worker;

	list_remove(w, c);
	w->nconns--;
	bufferevent_free(c->bev);
	c->bev = NULL;
	c->closed = true;
	if (c->refs == 0)
		free(c);
}

void tcp_conn_hold(struct tcp_conn *c)
{
	c->refs++;
}

void tcp_conn_release(struct tcp_conn *c)
{
	if (--c->refs > 0)
		return;
	if (c->closed)
		free(c);
	else if (c->closing && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_close(c);
}

bool tcp_conn_closed(const struct tcp_conn *c)
{
	return c->closed;
}

void tcp_conn_reply(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	uint8_t lenbuf[2];

	if (c->closed)
		return;
	dns_put16(lenbuf, (uint16_t)len);
	bufferevent_write(c->bev, lenbuf, 2);
	bufferevent_write(c->bev, msg, len);
}

void tcp_close_all(struct worker *w)
{
	while (w->conn_head != NULL)
		conn_close(w->conn_head);
}

/* Answers every complete message in the input; false when the peer must be cut off. */
static bool conn_serve(struct tcp_conn *c)
{
	struct worker *w = c->worker;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct view *view;
	bool ok = true;

	rcu_read_lock();
	view = worker_view();
	while (evbuffer_get_length(out) < TCP_OUTPUT_MAX) {
		uint8_t lenbuf[2];
		size_t msglen, reply_len;
		struct query_source src = {(const struct sockaddr *)&c->peer, true, w->cache,
					   w->now_ms};

		if (evbuffer_copyout(in, lenbuf, 2) < 2)
			break;
		msglen = dns_get16(lenbuf);
		/* RFC 7766 8: a message too short for a header is not DNS. */
		if (msglen < DNS_HEADER_LEN) {
			ok = false;
			break;
		}
		if (evbuffer_get_length(in) < msglen + 2)
			break;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, w->tcp_buf + 2, msglen);
		struct query_forward fwd;
		enum query_fate fate = query_process(view, w->tcp_buf + 2, msglen, TCP_BUF_SIZE - 2,
						     &src, &reply_len, &w->stats, &fwd);
		if (fate == QUERY_DROPPED) {
			ok = false; /* garbage: a peer that sends it is not a DNS client */
			break;
		}
		if (fate == QUERY_FORWARD || fwd.prefetch) {
			struct forward_client client = {
			    .udp_fd = -1, .conn = fate == QUERY_FORWARD ? c : NULL, .home = w};
			/* Answered later, in the order upstream answers come (RFC 7766 6.2.1.1). */
			worker_forward(w, fwd.rule, &fwd.q, w->tcp_buf + 2 + DNS_HEADER_LEN,
				       fate == QUERY_FORWARD ? &client : NULL, NULL);
			if (fate == QUERY_FORWARD)
				continue;
		}
		dns_put16(w->tcp_buf, (uint16_t)reply_len);
		evbuffer_add(out, w->tcp_buf, reply_len + 2);
	}
	rcu_read_unlock();
	if (evbuffer_get_length(out) >= TCP_OUTPUT_MAX)
		bufferevent_disable(c->bev, EV_READ); /* resumed by on_write */
	return ok;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	struct worker *w = c->worker;

	(void)bev;
	w->now_ms = worker_clock();
	/* Most recently active last: the head is the one to close when full. */
	list_remove(w, c);
	list_append(w, c);
	if (!conn_serve(c))
		conn_close(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;

	if (c->closing) {
		if (c->refs == 0)
			conn_close(c);
		return;
	}
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		if (!conn_serve(c))
			conn_close(c);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *c = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    (evbuffer_get_length(bufferevent_get_output(bev)) > 0 || c->refs > 0)) {
		/* The client closed its side after its last query: deliver the replies. */
		c->closing = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	/* EOF, an error, or the idle timeout (RFC 7766 6.2.3). */
	conn_close(c);
}

void tcp_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct tcp_listener *l = arg;
	struct worker *w = l->worker;

	(void)what;
	for (int i = 0; i < 32; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct tcp_conn *c;
		struct timeval idle = {(time_t)w->idle_timeout, 0};
		int fd =
		    accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED &&
			    errno != EINTR)
				log_warn("tcp: accept");
			return;
		}
		/* Full: make room by closing the connection idle the longest (RFC 7766 6.2.3). */
		if (w->nconns >= w->max_conns && w->conn_head != NULL)
			conn_close(w->conn_head);
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->worker = w;
		memcpy(&c->peer, &peer, sizeof(peer));
		c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			close(fd);
			free(c);
			continue;
		}
		{
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
		bufferevent_set_timeouts(c->bev, &idle, &idle);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		list_append(w, c);
		w->nconns++;
	}
}
