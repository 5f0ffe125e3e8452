/*
 * worker.c: what workers do for each other. A forwarded question belongs to
 * the worker its hash picks; the others post it there. Replies for TCP
 * clients go back to the worker that owns the connection, because a
 * connection is only ever touched by its own thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <urcu.h>

#include "conf/log.h"
#include "resolver/forward.h"
#include "resolver/worker.h"
#include "zones/dns.h"

enum mail_kind { MAIL_FORWARD, MAIL_TCP_REPLY, MAIL_TCP_RELEASE };

struct mail {
	struct mail *next;
	struct worker *to; /* while in a struct mail_batch */
	enum mail_kind kind;
	struct forward_client client;
	bool has_client;
	struct packet_query q;
	uint8_t question[DNS_MAX_NAME + 4];
	size_t len;
	uint8_t data[]; /* MAIL_TCP_REPLY: the reply */
};

static __thread struct worker *self;

static void worker_client_release_now(const struct forward_client *c);

struct worker *worker_self(void)
{
	return self;
}

void worker_set_self(struct worker *w)
{
	self = w;
}

/* Appends the chain first..last to the mailbox of to. */
static void post_chain(struct worker *to, struct mail *first, struct mail *last)
{
	bool was_empty;

	last->next = NULL;
	pthread_mutex_lock(&to->mail_lock);
	was_empty = to->mail_head == NULL;
	if (to->mail_tail != NULL)
		to->mail_tail->next = first;
	else
		to->mail_head = first;
	to->mail_tail = last;
	pthread_mutex_unlock(&to->mail_lock);
	/* For the owner's loop, which skips epoll while its UDP sockets are busy (server.c). */
	__atomic_store_n(&to->mail_posted, true, __ATOMIC_RELEASE);
	/*
	 * Wakes the owner's loop; libevent itself runs without locks. Mail added
	 * to a box that was not empty rides on the wake-up already sent: on_mail
	 * reads the eventfd before it takes the whole list.
	 */
	if (was_empty)
		worker_wake(to);
}

static void post(struct worker *to, struct mail *m)
{
	post_chain(to, m, m);
}

void worker_post_batch(struct mail_batch *batch)
{
	/* Each round takes the mail for one worker out of the batch, in order. */
	while (batch->head != NULL) {
		struct worker *to = batch->head->to;
		struct mail *first = NULL, *last = NULL, **pp = &batch->head;
		while (*pp != NULL) {
			struct mail *m = *pp;
			if (m->to != to) {
				pp = &m->next;
				continue;
			}
			*pp = m->next;
			if (last != NULL)
				last->next = m;
			else
				first = m;
			last = m;
		}
		post_chain(to, first, last);
	}
	batch->tail = NULL;
}

static void deliver(struct worker *w, struct mail *m)
{
	switch (m->kind) {
	case MAIL_FORWARD: {
		const struct view *v = worker_view();
		const struct forward_rule *rule =
		    v->forwards != NULL
			? forward_table_find(v->forwards, m->q.qname, m->q.qname_len,
					     m->q.label_off, m->q.qname_labels)
			: NULL;
		if (rule == NULL) {
			/* Recursion was switched off by a reload meanwhile. */
			if (m->has_client) {
				size_t len;
				uint8_t buf[DNS_HEADER_LEN + DNS_MAX_NAME + 4 + 11];
				memcpy(buf + DNS_HEADER_LEN, m->question,
				       m->q.question_end - DNS_HEADER_LEN);
				len = packet_error_reply(buf, sizeof(buf), &m->q, DNS_RCODE_REFUSED,
							 (uint16_t)v->config->edns_udp_size);
				worker_client_reply(&m->client, buf, len);
				worker_client_release(&m->client);
			}
			break;
		}
		forwarder_query(w->forwarder, rule, &m->q, m->question,
				m->has_client ? &m->client : NULL);
		break;
	}
	case MAIL_TCP_REPLY:
		tcp_conn_reply(m->client.conn, m->data, m->len);
		break;
	case MAIL_TCP_RELEASE:
		tcp_conn_release(m->client.conn);
		break;
	}
}

void worker_wake(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->mail_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("worker %u: wake-up", w->id);
}

static void on_mail(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct mail *m;
	uint64_t count;

	(void)what;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("worker %u: mailbox", w->id);
	if (__atomic_load_n(&w->stopping, __ATOMIC_ACQUIRE)) {
		event_base_loopbreak(w->base);
		return;
	}
	__atomic_store_n(&w->mail_posted, false, __ATOMIC_RELAXED);
	pthread_mutex_lock(&w->mail_lock);
	m = w->mail_head;
	w->mail_head = w->mail_tail = NULL;
	pthread_mutex_unlock(&w->mail_lock);
	w->now_ms = worker_clock();
	rcu_read_lock();
	while (m != NULL) {
		struct mail *next = m->next;
		deliver(w, m);
		free(m);
		m = next;
	}
	rcu_read_unlock();
}

int worker_mail_init(struct worker *w, struct worker *all, unsigned nworkers)
{
	w->all = all;
	w->nworkers = nworkers;
	pthread_mutex_init(&w->mail_lock, NULL);
	/* An eventfd wakes the loop for mail and for shutdown. */
	w->mail_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->mail_fd < 0)
		return -1;
	if (event_assign(&w->mail_ev, w->base, w->mail_fd, EV_READ | EV_PERSIST, on_mail, w) < 0)
		return -1;
	return event_add(&w->mail_ev, NULL);
}

void worker_mail_free(struct worker *w)
{
	/* Shutting down, single-threaded: only the holds on connections still matter. */
	while (w->mail_head != NULL) {
		struct mail *m = w->mail_head;
		w->mail_head = m->next;
		if (m->kind == MAIL_TCP_RELEASE || (m->kind == MAIL_FORWARD && m->has_client))
			worker_client_release_now(&m->client);
		free(m);
	}
	pthread_mutex_destroy(&w->mail_lock);
	if (w->mail_fd >= 0) {
		event_del(&w->mail_ev);
		close(w->mail_fd);
		w->mail_fd = -1;
	}
}

static uint32_t owner_hash(const struct packet_query *q)
{
	uint32_t h = dns_name_hash(q->qname, q->qname_len);

	return ((h ^ q->qtype) * 16777619u) ^ q->edns_do;
}

bool worker_forward(struct worker *w, const struct forward_rule *rule, const struct packet_query *q,
		    const uint8_t *question, const struct forward_client *client,
		    struct mail_batch *batch)
{
	struct worker *owner = &w->all[owner_hash(q) % w->nworkers];
	struct mail *m;

	if (client != NULL && client->conn != NULL)
		tcp_conn_hold(client->conn);
	/* Only an event thread may touch its forwarder; a UDP thread has no worker_self. */
	if (owner == worker_self()) {
		forwarder_query(w->forwarder, rule, q, question, client);
		return true;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		/* No memory to hand it over: on the event thread, resolve it here, uncoalesced. */
		if (w == worker_self()) {
			forwarder_query(w->forwarder, rule, q, question, client);
			return true;
		}
		return false;
	}
	m->kind = MAIL_FORWARD;
	m->q = *q;
	memcpy(m->question, question, q->question_end - DNS_HEADER_LEN);
	if (client != NULL) {
		m->client = *client;
		m->has_client = true;
	}
	if (batch == NULL) {
		post(owner, m);
		return true;
	}
	m->to = owner;
	m->next = NULL;
	if (batch->tail != NULL)
		batch->tail->next = m;
	else
		batch->head = m;
	batch->tail = m;
	return true;
}

void worker_client_reply(const struct forward_client *c, const uint8_t *msg, size_t len)
{
	if (c->conn != NULL) {
		struct mail *m;
		if (c->home == worker_self()) {
			tcp_conn_reply(c->conn, msg, len);
			return;
		}
		m = malloc(sizeof(*m) + len);
		if (m == NULL)
			return;
		m->kind = MAIL_TCP_REPLY;
		m->client = *c;
		m->len = len;
		memcpy(m->data, msg, len);
		post(c->home, m);
		return;
	}
	/* UDP: the socket is shared by nothing but the kernel; any thread may send on it. */
	struct iovec iov = {(void *)msg, len};
	struct msghdr h = {.msg_name = (void *)&c->addr,
			   .msg_namelen = c->addr_len,
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = c->ctrl_len > 0 ? (void *)c->ctrl : NULL,
			   .msg_controllen = c->ctrl_len};
	if (sendmsg(c->udp_fd, &h, MSG_DONTWAIT) < 0)
		log_debug("forward: reply to client (%s)", strerror(errno));
}

/* Releases a TCP client's hold on this thread, whoever owns it (teardown only). */
static void worker_client_release_now(const struct forward_client *c)
{
	if (c->conn != NULL)
		tcp_conn_release(c->conn);
}

void worker_client_release(const struct forward_client *c)
{
	struct mail *m;

	if (c->conn == NULL)
		return;
	if (c->home == worker_self()) {
		tcp_conn_release(c->conn);
		return;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		log_warnx("forward: no memory to release a TCP connection; it stays open");
		return;
	}
	m->kind = MAIL_TCP_RELEASE;
	m->client = *c;
	post(c->home, m);
}
