#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <urcu.h>

#include "conf/log.h"
#include "resolver/forward.h"
#include "resolver/worker.h"
#include "zones/dns.h"

#define UDP_RCVBUF (4 * 1024 * 1024)

static int set_opt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

bool udp_addr_is_wildcard(const struct netaddr *addr)
{
	if (addr->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&addr->ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&addr->ss)->sin6_addr);
}

void udp_batch_init(struct udp_batch *b)
{
	for (unsigned i = 0; i < UDP_BATCH; i++) {
		struct msghdr *h = &b->in[i].msg_hdr;
		b->iov[i].iov_base = b->buf[i];
		b->iov[i].iov_len = UDP_BUF_SIZE;
		h->msg_name = &b->addr[i];
		h->msg_namelen = sizeof(b->addr[i]);
		h->msg_iov = &b->iov[i];
		h->msg_iovlen = 1;
		h->msg_control = b->ctrl[i];
		h->msg_controllen = sizeof(b->ctrl[i]);
		h->msg_flags = 0;
	}
}

int udp_socket_open(const struct netaddr *addr, char *err, size_t errlen)
{
	int family = addr->ss.ss_family;
	/* Blocking, for udp_serve; the event loop's receives and all sends pass MSG_DONTWAIT. */
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char name[80];

	netaddr_format(addr, name, sizeof(name));
	if (fd < 0) {
		snprintf(err, errlen, "udp %s: socket (%s)", name, strerror(errno));
		return -1;
	}
	/* Each worker binds its own socket; the kernel spreads clients over them. */
	if (set_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
		goto fail;
	if (family == AF_INET6 && set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0)
		goto fail;
	/*
	 * Room for the queries that arrive while the worker is off the CPU (a
	 * reload, a busy host): with the default buffer (some 200 datagrams) the
	 * kernel dropped a few per million at full load. Best effort: the kernel
	 * caps it at net.core.rmem_max.
	 */
	set_opt(fd, SOL_SOCKET, SO_RCVBUF, UDP_RCVBUF);
	/*
	 * On a wildcard address, replies must leave from the address each query
	 * came to: ask for it with every datagram. A socket bound to one address
	 * needs nothing of the kind.
	 */
	if (udp_addr_is_wildcard(addr)) {
		if (family == AF_INET6 ? set_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0
				       : set_opt(fd, IPPROTO_IP, IP_PKTINFO, 1) < 0)
			goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "udp %s: %s", name, strerror(errno));
	close(fd);
	return -1;
}

/*
 * Answers from the address the query was sent to, which matters when the
 * socket is bound to a wildcard address on a host with several addresses.
 */
static void reply_source(struct msghdr *in, struct msghdr *out, uint8_t *ctrl, size_t ctrl_len)
{
	struct cmsghdr *c;

	out->msg_control = NULL;
	out->msg_controllen = 0;
	for (c = CMSG_FIRSTHDR(in); c != NULL; c = CMSG_NXTHDR(in, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			memset(ctrl, 0, ctrl_len);
			out->msg_control = ctrl;
			out->msg_controllen = CMSG_SPACE(sizeof(pi));
			c = CMSG_FIRSTHDR(out);
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			return;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(ctrl, 0, ctrl_len);
			out->msg_control = ctrl;
			out->msg_controllen = CMSG_SPACE(sizeof(pi));
			c = CMSG_FIRSTHDR(out);
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			return;
		}
	}
}

static void send_all(int fd, struct mmsghdr *msgs, unsigned n)
{
	unsigned sent = 0;

	while (sent < n) {
		/* The socket blocks for receiving only: a full send buffer drops, never waits. */
		int r = sendmmsg(fd, msgs + sent, n - sent, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* A full socket buffer or an unreachable client: drop this reply. */
			sent++;
			continue;
		}
		sent += (unsigned)r;
	}
}

/* Answers the n datagrams in the slots, sends the replies in one sendmmsg, restores the slots. */
static void udp_answer(struct udp_socket *sock, unsigned n)
{
	struct worker *w = sock->worker;
	struct udp_batch *b = sock->batch;
	const struct view *view;
	uint64_t now_ms = worker_clock();
	unsigned nout = 0;

	rcu_read_lock();
	view = worker_view();
	/*
	 * In passes: parse every query and ask for the first data its answer
	 * reads (a table slot), then for what that points at, and so on, then
	 * answer. The memory reads of the batch overlap instead of stalling one
	 * by one: a random name of a large zone or cache is a miss in the CPU's
	 * caches at every level. A datagram cut short (MSG_TRUNC) is parsed
	 * within what was received, and dropped by the last pass.
	 */
	struct query_source common = {NULL, false, w->cache, now_ms};
	for (unsigned i = 0; i < n; i++)
		query_prepare(view, b->buf[i], b->in[i].msg_len, &common, true, &b->ctx[i]);
	for (unsigned stage = 1; n > 1 && stage < QUERY_PREFETCH_STAGES; stage++)
		for (unsigned i = 0; i < n; i++)
			query_prefetch(&b->ctx[i], &common, stage);
	for (unsigned i = 0; i < n; i++) {
		struct msghdr *h = &b->in[i].msg_hdr;
		struct query_source src = {(const struct sockaddr *)&b->addr[i], false, w->cache,
					   now_ms};
		struct query_forward fwd;
		enum query_fate fate;
		size_t reply_len;

		/* A datagram larger than our buffer was cut short: not a query we can trust. */
		if (h->msg_flags & MSG_TRUNC) {
			sock->stats.dropped++;
			continue;
		}
		fate = query_answer(view, &b->ctx[i], b->buf[i], UDP_BUF_SIZE, &src, &reply_len,
				    &sock->stats, &fwd);
		if (fate == QUERY_FORWARD || fwd.prefetch) {
			struct forward_client client;
			if (fate == QUERY_FORWARD) {
				struct msghdr tmp = {.msg_control = client.ctrl,
						     .msg_controllen = sizeof(client.ctrl)};
				client.udp_fd = sock->fd;
				client.conn = NULL;
				client.home = w;
				memcpy(&client.addr, &b->addr[i], sizeof(client.addr));
				client.addr_len = h->msg_namelen;
				reply_source(h, &tmp, client.ctrl, sizeof(client.ctrl));
				client.ctrl_len = tmp.msg_controllen;
			}
			/* From a UDP thread, and to another worker, posted with the batch. */
			if (!worker_forward(w, fwd.rule, &fwd.q, b->buf[i] + DNS_HEADER_LEN,
					    fate == QUERY_FORWARD ? &client : NULL,
					    &sock->outbox) &&
			    fate == QUERY_FORWARD)
				sock->stats.dropped++;
		}
		if (fate != QUERY_ANSWERED)
			continue;
		struct msghdr *o = &b->out[nout].msg_hdr;
		b->iov[i].iov_len = reply_len;
		o->msg_name = &b->addr[i];
		o->msg_namelen = h->msg_namelen;
		o->msg_iov = &b->iov[i];
		o->msg_iovlen = 1;
		o->msg_flags = 0;
		/* The control buffer of slot i is reused for the reply's source address. */
		reply_source(h, o, b->ctrl[i], sizeof(b->ctrl[i]));
		nout++;
	}
	rcu_read_unlock();
	if (nout > 0)
		send_all(sock->fd, b->out, nout);
	/*
	 * The queries to forward go over after the replies, all at once: one
	 * wake-up of an event thread per batch rather than per query, which on a
	 * shared CPU would preempt this thread each time.
	 */
	if (sock->outbox.head != NULL)
		worker_post_batch(&sock->outbox);
	/* Give back what this round changed in the slots it used. */
	for (unsigned i = 0; i < n; i++) {
		struct msghdr *h = &b->in[i].msg_hdr;
		b->iov[i].iov_len = UDP_BUF_SIZE;
		h->msg_namelen = sizeof(b->addr[i]);
		h->msg_controllen = sizeof(b->ctrl[i]);
		h->msg_flags = 0;
	}
}

/*
 * The loop of the UDP reflector the benchmark measures against: one recvmmsg
 * that sleeps until a datagram comes and then takes whatever else is queued
 * (MSG_WAITFORONE), a plain call per message, one sendmmsg. No epoll: a socket
 * registered with epoll has a waiter on its queue at all times, and then every
 * reply sent costs a write-space wake-up of that waiter (sock_wfree), ~2% of
 * the CPU per query at full load, besides the epoll_wait per batch.
 */
void *udp_serve(void *arg)
{
	struct udp_socket *sock = arg;
	struct worker *w = sock->worker;
	bool warned = false;

	rcu_register_thread();
	for (;;) {
		int n = recvmmsg(sock->fd, sock->batch->in, UDP_BATCH, MSG_WAITFORONE, NULL);

		/* udp_stop wakes the receive after setting the flag. */
		if (__atomic_load_n(&w->stopping, __ATOMIC_ACQUIRE))
			break;
		if (n > 0) {
			udp_answer(sock, (unsigned)n);
			continue;
		}
		if (n < 0 && errno != EINTR) {
			/* Out of memory, or worse: say so once, and do not spin on it. */
			if (!warned)
				log_warn("worker %u: udp receive", w->id);
			warned = true;
			usleep(1000);
		}
	}
	rcu_unregister_thread();
	return NULL;
}

/*
 * In the event loop a UDP socket is in one of two states. Idle, it is in the
 * epoll set and this callback answers what woke it. When more than one
 * datagram was waiting, the socket is busy: it leaves the epoll set and the
 * worker's loop receives from it between rounds of the event loop
 * (udp_poll) until it runs dry, when it goes back. A socket in an epoll set
 * has a waiter on its queue at all times, and every reply sent then costs a
 * write-space wake-up of that waiter (sock_wfree); under load that is paid
 * per datagram, so busy sockets stay out of the set. One query at a time
 * (light load) keeps the socket where it is: no epoll_ctl per query.
 */
void udp_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct udp_socket *sock = arg;
	struct worker *w = sock->worker;
	int n;

	(void)what;
	n = recvmmsg(fd, sock->batch->in, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	udp_answer(sock, (unsigned)n);
	if (n > 1 && event_del(&sock->ev) == 0) {
		sock->polled = true;
		w->npolled++;
	}
}

bool udp_poll(struct worker *w)
{
	bool any = false;

	for (size_t a = 0; a < w->nsockets; a++) {
		struct udp_socket *sock = &w->udp[a];
		int n;
		if (!sock->polled)
			continue;
		n = recvmmsg(sock->fd, sock->batch->in, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n > 0) {
			udp_answer(sock, (unsigned)n);
			any = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* Dry (or failing: then epoll says when to try again). */
		if (event_add(&sock->ev, NULL) == 0) {
			sock->polled = false;
			w->npolled--;
		}
	}
	return any;
}

void udp_stop(struct udp_socket *sock)
{
	/*
	 * Wakes the thread sleeping in recvmmsg: on an unconnected UDP socket
	 * shutdown fails with ENOTCONN but still marks the receive side shut and
	 * wakes its waiters, and every later receive returns at once.
	 */
	shutdown(sock->fd, SHUT_RD);
}
