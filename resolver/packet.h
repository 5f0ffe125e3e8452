/*
 * packet: the wire format of one query and of the reply written over it.
 *
 * packet_parse reads the header, the question and the OPT record of a query
 * in place with bounds checks and no allocation. The reply is built in the
 * same buffer: header and question are kept, then packet_writer appends
 * records with name compression under a size budget. The writer owns
 * compression, the budget and the TC bit; it never leaves half an RRset.
 */
#ifndef RESOLVER_PACKET_H
#define RESOLVER_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zones/dns.h"

enum packet_status {
	PACKET_OK,
	PACKET_DROP,    /* no reply: too short to have a header, or QR=1 */
	PACKET_FORMERR, /* a header we can answer, a body we cannot parse */
	PACKET_NOTIMP,  /* opcode other than QUERY */
};

struct packet_query {
	uint16_t id;
	uint16_t flags;
	uint16_t opcode;
	uint16_t qtype;
	uint16_t qclass;
	bool has_question;           /* question parsed and echoed in the reply */
	size_t question_end;         /* offset just after the question */
	uint8_t qname[DNS_MAX_NAME]; /* lower-cased wire name */
	size_t qname_len;
	uint8_t qname_labels;              /* not counting the root */
	uint8_t label_off[DNS_MAX_LABELS]; /* offset of each label in qname */
	/* dns_name_hash of qname from label i on; [qname_labels]: the root's */
	uint32_t label_hash[DNS_MAX_LABELS + 1];
	/* EDNS (RFC 6891) */
	bool edns;
	uint16_t edns_udp_size;
	uint8_t edns_version;
	bool edns_do;
};

/* Parses a query of len bytes. Fills q as far as it could get. */
enum packet_status packet_parse(const uint8_t *buf, size_t len, struct packet_query *q);

enum packet_section { PACKET_ANSWER, PACKET_AUTHORITY, PACKET_ADDITIONAL };

#define PACKET_COMP_MAX 64

struct packet_writer {
	uint8_t *buf;
	size_t pos;
	size_t limit; /* size budget for the records (EDNS OPT space already held back) */
	size_t cap;
	uint16_t count[3];
	bool truncated; /* an answer or authority RRset did not fit: TC=1 */
	/*
	 * Offsets of names written so far, for compression. The question's come
	 * first; they are put in by the first name written (while ncomp is 0),
	 * so an answer that writes no name does not pay for them.
	 */
	size_t ncomp;
	uint16_t comp[PACKET_COMP_MAX];
	const uint8_t *qlabel_off; /* the question's labels (packet_query.label_off) */
	unsigned nqlabels;
};

/*
 * Starts a reply in buf (cap bytes) after the question of q (copied as sent),
 * with the given budget (512, or the EDNS size) less room for the OPT record.
 */
void packet_writer_init(struct packet_writer *w, uint8_t *buf, size_t cap, size_t budget,
			const struct packet_query *q);

/*
 * Writes one RR. owner is an uncompressed wire name, or NULL with owner_ptr
 * the offset of a name already in the packet. rdata is uncompressed wire
 * rdata; names in the rdata of RFC 1035 types are compressed. Returns false
 * (and writes nothing) when the RR does not fit the budget.
 */
bool packet_put_rr(struct packet_writer *w, enum packet_section section, const uint8_t *owner,
		   uint16_t owner_ptr, uint16_t type, uint16_t rclass, uint32_t ttl,
		   const uint8_t *rdata, uint16_t rdlen);

/*
 * Appends len bytes of records rendered for this very position (their
 * compression pointers already point into the packet): an answer, ns
 * authority and ar additional records. Names in them are not offered for
 * compression to records written later. Returns false (and writes nothing)
 * when they do not fit the budget.
 */
bool packet_put_rendered(struct packet_writer *w, const uint8_t *wire, size_t len, uint16_t an,
			 uint16_t ns, uint16_t ar);

/* Remembers the writer's position, to roll back an RRset that did not fit. */
struct packet_mark {
	size_t pos;
	size_t ncomp;
	uint16_t count[3];
};

static inline struct packet_mark packet_mark(const struct packet_writer *w)
{
	struct packet_mark m = {w->pos, w->ncomp, {w->count[0], w->count[1], w->count[2]}};
	return m;
}

static inline void packet_rollback(struct packet_writer *w, struct packet_mark m)
{
	w->pos = m.pos;
	w->ncomp = m.ncomp;
	w->count[0] = m.count[0];
	w->count[1] = m.count[1];
	w->count[2] = m.count[2];
}

/*
 * Finishes the reply: section counts, rcode (extended bits go to the OPT
 * record), flags, and the OPT record when the query had one. Returns the
 * reply length.
 */
size_t packet_finish(struct packet_writer *w, const struct packet_query *q, unsigned rcode,
		     uint16_t flags, uint16_t edns_size);

/*
 * Writes a reply with no records (FORMERR, NOTIMP, REFUSED, ...) for a query
 * whose header, and perhaps question, parsed. Returns its length.
 */
size_t packet_error_reply(uint8_t *buf, size_t cap, const struct packet_query *q, unsigned rcode,
			  uint16_t edns_size);

/* Length of the uncompressed wire name at p (at most max bytes), or 0 if malformed. */
size_t packet_name_len(const uint8_t *p, size_t max);

#endif
