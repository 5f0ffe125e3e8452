#include "resolver/query.h"

#include <string.h>

#include "resolver/answer.h"
#include "resolver/cache.h"
#include "resolver/forward.h"
#include "resolver/packet.h"
#include "zones/dns.h"

#define UDP_PLAIN_LIMIT 512 /* RFC 1035 4.2.1, without EDNS */

/* CHAOS class names operators use to ask which server answered (RFC 4892). */
static size_t chaos_answer(const struct view *v, const struct packet_query *q, uint8_t *buf,
			   size_t cap, size_t budget)
{
	static const uint8_t id_server[] = "\2id\6server";
	static const uint8_t hostname_bind[] = "\10hostname\4bind";
	static const uint8_t version_bind[] = "\7version\4bind";
	static const uint8_t version_server[] = "\7version\6server";
	const char *text = NULL;
	struct packet_writer w;
	uint8_t rdata[256];
	size_t n;

	if (!v->config->chaos || (q->qtype != DNS_TYPE_TXT && q->qtype != DNS_TYPE_ANY))
		return packet_error_reply(buf, cap, q, DNS_RCODE_REFUSED, v->config->edns_udp_size);
	if ((q->qname_len == sizeof(id_server) && memcmp(q->qname, id_server, q->qname_len) == 0) ||
	    (q->qname_len == sizeof(hostname_bind) &&
	     memcmp(q->qname, hostname_bind, q->qname_len) == 0))
		text = v->identity;
	else if ((q->qname_len == sizeof(version_bind) &&
		  memcmp(q->qname, version_bind, q->qname_len) == 0) ||
		 (q->qname_len == sizeof(version_server) &&
		  memcmp(q->qname, version_server, q->qname_len) == 0))
		text = v->config->version;
	if (text == NULL)
		return packet_error_reply(buf, cap, q, DNS_RCODE_REFUSED, v->config->edns_udp_size);
	n = strlen(text);
	if (n > 255)
		n = 255;
	rdata[0] = (uint8_t)n;
	memcpy(rdata + 1, text, n);
	packet_writer_init(&w, buf, cap, budget, q);
	if (!packet_put_rr(&w, PACKET_ANSWER, NULL, DNS_HEADER_LEN, DNS_TYPE_TXT, DNS_CLASS_CH, 0,
			   rdata, (uint16_t)(n + 1)))
		w.truncated = true;
	return packet_finish(&w, q, DNS_RCODE_NOERROR, DNS_FLAG_AA, v->config->edns_udp_size);
}

static size_t udp_budget(const struct view *v, const struct packet_query *q)
{
	size_t size;

	if (!q->edns)
		return UDP_PLAIN_LIMIT;
	/* RFC 6891 6.2.5: the lesser of the requestor's size and ours, never below 512. */
	size = q->edns_udp_size < v->config->edns_udp_size ? q->edns_udp_size
							   : v->config->edns_udp_size;
	return size < UDP_PLAIN_LIMIT ? UDP_PLAIN_LIMIT : size;
}

static enum query_fate reply_error(const struct view *v, uint8_t *buf, size_t cap,
				   const struct packet_query *q, unsigned rcode, size_t *reply_len)
{
	*reply_len = packet_error_reply(buf, cap, q, rcode, v->config->edns_udp_size);
	return QUERY_ANSWERED;
}

/* RA: this server recurses for the client (RFC 1035 4.1.1). */
static void set_ra(uint8_t *buf)
{
	buf[3] |= DNS_FLAG_RA & 0xff;
}

static unsigned zone_labels(const struct zonedb_entry *e)
{
	unsigned n = 0;

	for (size_t p = 0; e->apex[p] != 0; p += 1 + e->apex[p])
		n++;
	return n;
}

/*
 * A name goes upstream when a forward rule is more specific than any zone we
 * serve; the default rule (".") only takes names outside every zone.
 */
static const struct forward_rule *route(const struct view *v, const struct packet_query *q,
					const struct zonedb_entry *entry)
{
	const struct forward_rule *rule;

	if (v->forwards == NULL)
		return NULL;
	rule =
	    forward_table_find(v->forwards, q->qname, q->qname_len, q->label_off, q->qname_labels);
	if (rule == NULL)
		return NULL;
	if (entry == NULL || (!rule->is_default && rule->labels > zone_labels(entry)))
		return rule;
	return NULL;
}

void query_prepare(const struct view *v, const uint8_t *buf, size_t len,
		   const struct query_source *src, bool can_forward, struct query_ctx *ctx)
{
	const struct packet_query *q = &ctx->q;

	ctx->entry = NULL;
	ctx->rule = NULL;
	ctx->status = packet_parse(buf, len, &ctx->q);
	if (ctx->status != PACKET_OK || q->qclass != DNS_CLASS_IN)
		return;
	ctx->entry = zonedb_find(v->zones, q->qname, q->qname_len, q->label_off, q->label_hash,
				 q->qname_labels);
	ctx->rule = can_forward ? route(v, q, ctx->entry) : NULL;
	query_prefetch(ctx, src, 0);
}

void query_prefetch(const struct query_ctx *ctx, const struct query_source *src, unsigned stage)
{
	if (ctx->rule != NULL) {
		if (src->cache != NULL)
			cache_prefetch(src->cache, &ctx->q, stage);
	} else if (ctx->entry != NULL && ctx->entry->zone != NULL) {
		zone_prefetch(ctx->entry->zone, ctx->q.label_hash[0], stage);
	}
}

enum query_fate query_answer(const struct view *v, const struct query_ctx *ctx, uint8_t *buf,
			     size_t cap, const struct query_source *src, size_t *reply_len,
			     struct query_stats *stats, struct query_forward *fwd)
{
	const struct packet_query *qp = &ctx->q;
	struct packet_writer w;
	struct answer ans;
	const struct zonedb_entry *entry = ctx->entry;
	const struct forward_rule *rule = ctx->rule;
	bool ra;
	size_t budget;

	if (fwd != NULL)
		fwd->prefetch = false;
	stats->queries++;
	switch (ctx->status) {
	case PACKET_DROP:
		stats->dropped++;
		return QUERY_DROPPED;
	case PACKET_FORMERR:
		stats->formerr++;
		return reply_error(v, buf, cap, qp, DNS_RCODE_FORMERR, reply_len);
	case PACKET_NOTIMP:
		return reply_error(v, buf, cap, qp, DNS_RCODE_NOTIMP, reply_len);
	case PACKET_OK:
		break;
	}
	/* RFC 6891 6.1.3: a version we do not implement gets BADVERS. */
	if (qp->edns && qp->edns_version > 0)
		return reply_error(v, buf, cap, qp, DNS_RCODE_BADVERS, reply_len);
	if (!acl_match(v->config->allow, src->addr)) {
		stats->refused++;
		return reply_error(v, buf, cap, qp, DNS_RCODE_REFUSED, reply_len);
	}
	budget = src->tcp ? DNS_MAX_UDP : udp_budget(v, qp);
	if (qp->qclass == DNS_CLASS_CH) {
		*reply_len = chaos_answer(v, qp, buf, cap, budget);
		return QUERY_ANSWERED;
	}
	if (qp->qclass != DNS_CLASS_IN) {
		stats->refused++;
		return reply_error(v, buf, cap, qp, DNS_RCODE_REFUSED, reply_len);
	}
	/* Other meta types (OPT, MAILA, ...) find no data, as in Knot DNS and NSD. */
	switch (qp->qtype) {
	case DNS_TYPE_AXFR:
	case DNS_TYPE_IXFR:
		/* Zone transfers are not offered (yet): refuse rather than answer half. */
		stats->refused++;
		return reply_error(v, buf, cap, qp, DNS_RCODE_REFUSED, reply_len);
	default:
		break;
	}
	ra = fwd != NULL && v->forwards != NULL;
	if (rule != NULL) {
		bool prefetch;
		if (src->cache != NULL &&
		    cache_answer(src->cache, qp, buf, cap, budget, src->now_ms,
				 v->config->serve_stale ? v->config->stale_ttl : 0, false,
				 (uint16_t)v->config->edns_udp_size, reply_len,
				 &prefetch) == CACHE_FRESH) {
			/* The hit path: the stored answer rewritten over the query. */
			stats->cache_hits++;
			if (prefetch && v->config->prefetch) {
				fwd->q = *qp;
				fwd->rule = rule;
				fwd->prefetch = true;
			}
			return QUERY_ANSWERED;
		}
		stats->cache_misses++;
		fwd->q = *qp;
		fwd->rule = rule;
		return QUERY_FORWARD;
	}
	if (entry == NULL || (entry->allow != NULL && !acl_match(entry->allow, src->addr))) {
		stats->refused++;
		reply_error(v, buf, cap, qp, DNS_RCODE_REFUSED, reply_len);
		if (ra)
			set_ra(buf);
		return QUERY_ANSWERED;
	}
	if (entry->zone == NULL) {
		/* A synced zone before its first snapshot: not known to be empty. */
		reply_error(v, buf, cap, qp, DNS_RCODE_SERVFAIL, reply_len);
		if (ra)
			set_ra(buf);
		return QUERY_ANSWERED;
	}
	packet_writer_init(&w, buf, cap, budget, qp);
	answer_zone(entry, qp, src->addr, src->tcp, v->zones, ra && (qp->flags & DNS_FLAG_RD), &w,
		    &ans);
	if (w.truncated)
		stats->truncated++;
	if (ans.rcode == DNS_RCODE_NXDOMAIN)
		stats->nxdomain++;
	*reply_len = packet_finish(&w, qp, ans.rcode, ans.flags | (ra ? DNS_FLAG_RA : 0),
				   v->config->edns_udp_size);
	return QUERY_ANSWERED;
}

enum query_fate query_process(const struct view *v, uint8_t *buf, size_t len, size_t cap,
			      const struct query_source *src, size_t *reply_len,
			      struct query_stats *stats, struct query_forward *fwd)
{
	struct query_ctx ctx;

	query_prepare(v, buf, len, src, fwd != NULL, &ctx);
	return query_answer(v, &ctx, buf, cap, src, reply_len, stats, fwd);
}
