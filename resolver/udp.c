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
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
		int r = sendmmsg(fd, msgs + sent, n - sent, 0);
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

/* One recvmmsg, a plain call per message, one sendmmsg (STYLE: batch the syscalls). */
static int udp_round(struct udp_socket *sock)
{
	struct worker *w = sock->worker;
	struct udp_batch *b = w->batch;
	const struct view *view;
	unsigned nout = 0;
	int n;

	/* The slots were set up once (udp_batch_init) and are restored after each round. */
	n = recvmmsg(sock->fd, b->in, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return n;

	w->now_ms = worker_clock();
	rcu_read_lock();
	view = worker_view();
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &b->in[i].msg_hdr;
		struct query_source src = {(const struct sockaddr *)&b->addr[i], false, w->cache,
					   w->now_ms};
		struct query_forward fwd;
		enum query_fate fate;
		size_t reply_len;

		/* A datagram larger than our buffer was cut short: not a query we can trust. */
		if (h->msg_flags & MSG_TRUNC) {
			w->stats.dropped++;
			continue;
		}
		fate = query_process(view, b->buf[i], b->in[i].msg_len, UDP_BUF_SIZE, &src,
				     &reply_len, &w->stats, &fwd);
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
			worker_forward(w, fwd.rule, &fwd.q, b->buf[i] + DNS_HEADER_LEN,
				       fate == QUERY_FORWARD ? &client : NULL);
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
	/* Give back what this round changed in the slots it used. */
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &b->in[i].msg_hdr;
		b->iov[i].iov_len = UDP_BUF_SIZE;
		h->msg_namelen = sizeof(b->addr[i]);
		h->msg_controllen = sizeof(b->ctrl[i]);
		h->msg_flags = 0;
	}
	return n;
}

void udp_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct udp_socket *sock = arg;

	(void)fd;
	(void)what;
	/* A few rounds per wakeup, then let the loop serve TCP too. */
	for (int round = 0; round < 4; round++)
		if (udp_round(sock) < UDP_BATCH)
			break;
}
