#include "sync/route53.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "conf/netaddr.h"

#define MAX_VALUES 400 /* Route 53's limit per record set */

void route53_unescape(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	for (const char *p = in; *p != '\0' && n + 1 < outlen; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			out[n++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			out[n++] = (char)tolower((unsigned char)*p);
		}
	}
	out[n] = '\0';
}

/* Master-file form of a raw name: '\.' and '\DDD' (decimal) where needed, '*' kept. */
static void zone_escape(const char *raw, char *out, size_t outlen)
{
	size_t n = 0;

	for (const char *p = raw; *p != '\0' && n + 5 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '*' || c == '/')
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, outlen - n, "\\%03u", c);
	}
	out[n] = '\0';
}

struct rrset {
	char *name;
	char type[16];
	char set_id[160];
	long ttl;
	long weight;
	bool has_weight;
	char region[40];
	char failover[16];
	char country[8], continent[8], subdivision[8];
	bool geo;
	bool multivalue;
	char *alias_dns;
	char alias_zone[64];
	char **values;
	size_t nvalues, cap;
};

struct page {
	struct rrset cur;
	struct rrset *sets;
	size_t nsets, cap;
	bool truncated;
	char next_name[1100], next_type[16], next_id[160];
	bool failed;
};

static void rrset_clear(struct rrset *s)
{
	for (size_t i = 0; i < s->nvalues; i++)
		free(s->values[i]);
	free(s->values);
	free(s->name);
	free(s->alias_dns);
	memset(s, 0, sizeof(*s));
}

static void set_str(char **dst, const char *text)
{
	free(*dst);
	*dst = strdup(text);
}

static void page_reset(void *arg)
{
	struct page *p = arg;

	for (size_t i = 0; i < p->nsets; i++)
		rrset_clear(&p->sets[i]);
	rrset_clear(&p->cur);
	p->nsets = 0;
	p->truncated = false;
	p->next_name[0] = p->next_type[0] = p->next_id[0] = '\0';
	p->failed = false;
}

static void page_start(void *arg, const char *path, size_t depth)
{
	struct page *p = arg;

	(void)depth;
	if (xml_path_ends(path, "ResourceRecordSets/ResourceRecordSet"))
		rrset_clear(&p->cur);
}

static void page_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct page *p = arg;
	struct rrset *s = &p->cur;

	(void)depth;
	if (xml_path_ends(path, "ListResourceRecordSetsResponse/IsTruncated"))
		p->truncated = strcmp(text, "true") == 0;
	else if (xml_path_ends(path, "ListResourceRecordSetsResponse/NextRecordName"))
		snprintf(p->next_name, sizeof(p->next_name), "%s", text);
	else if (xml_path_ends(path, "ListResourceRecordSetsResponse/NextRecordType"))
		snprintf(p->next_type, sizeof(p->next_type), "%s", text);
	else if (xml_path_ends(path, "ListResourceRecordSetsResponse/NextRecordIdentifier"))
		snprintf(p->next_id, sizeof(p->next_id), "%s", text);
	else if (xml_path_ends(path, "ResourceRecordSet/Name"))
		set_str(&s->name, text);
	else if (xml_path_ends(path, "ResourceRecordSet/Type"))
		snprintf(s->type, sizeof(s->type), "%s", text);
	else if (xml_path_ends(path, "ResourceRecordSet/SetIdentifier"))
		snprintf(s->set_id, sizeof(s->set_id), "%s", text);
	else if (xml_path_ends(path, "ResourceRecordSet/TTL"))
		s->ttl = atol(text);
	else if (xml_path_ends(path, "ResourceRecordSet/Weight")) {
		s->weight = atol(text);
		s->has_weight = true;
	} else if (xml_path_ends(path, "ResourceRecordSet/Region"))
		snprintf(s->region, sizeof(s->region), "%s", text);
	else if (xml_path_ends(path, "ResourceRecordSet/Failover"))
		snprintf(s->failover, sizeof(s->failover), "%s", text);
	else if (xml_path_ends(path, "ResourceRecordSet/MultiValueAnswer"))
		s->multivalue = strcmp(text, "true") == 0;
	else if (xml_path_ends(path, "GeoLocation/CountryCode")) {
		snprintf(s->country, sizeof(s->country), "%s", text);
		s->geo = true;
	} else if (xml_path_ends(path, "GeoLocation/ContinentCode")) {
		snprintf(s->continent, sizeof(s->continent), "%s", text);
		s->geo = true;
	} else if (xml_path_ends(path, "GeoLocation/SubdivisionCode"))
		snprintf(s->subdivision, sizeof(s->subdivision), "%s", text);
	else if (xml_path_ends(path, "AliasTarget/DNSName"))
		set_str(&s->alias_dns, text);
	else if (xml_path_ends(path, "AliasTarget/HostedZoneId"))
		snprintf(s->alias_zone, sizeof(s->alias_zone), "%s", text);
	else if (xml_path_ends(path, "ResourceRecords/ResourceRecord/Value")) {
		if (s->nvalues == s->cap && s->nvalues < MAX_VALUES) {
			size_t cap = s->cap ? s->cap * 2 : 4;
			char **grown = realloc(s->values, cap * sizeof(*grown));
			if (grown == NULL) {
				p->failed = true;
				return;
			}
			s->values = grown;
			s->cap = cap;
		}
		if (s->nvalues < s->cap && (s->values[s->nvalues] = strdup(text)) != NULL)
			s->nvalues++;
	} else if (xml_path_ends(path, "ResourceRecordSets/ResourceRecordSet")) {
		if (s->name == NULL) {
			p->failed = true; /* a record set without a name: a broken page */
			return;
		}
		if (p->nsets == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 64;
			struct rrset *grown = realloc(p->sets, cap * sizeof(*grown));
			if (grown == NULL) {
				p->failed = true;
				return;
			}
			p->sets = grown;
			p->cap = cap;
		}
		p->sets[p->nsets++] = *s;
		memset(s, 0, sizeof(*s)); /* the values now belong to the page */
	}
}

/* Appends a list of sets to another (all pages of the zone). */
struct zone_sets {
	struct rrset *v;
	size_t n, cap;
};

static int sets_take(struct zone_sets *z, struct page *p)
{
	for (size_t i = 0; i < p->nsets; i++) {
		if (z->n == z->cap) {
			size_t cap = z->cap ? z->cap * 2 : 256;
			struct rrset *grown = realloc(z->v, cap * sizeof(*grown));
			if (grown == NULL)
				return -1;
			z->v = grown;
			z->cap = cap;
		}
		z->v[z->n++] = p->sets[i];
	}
	p->nsets = 0;
	return 0;
}

/* Values of name-bearing types are fully qualified in Route 53, dot or no dot. */
static void qualify(const char *type, const char *value, char *out, size_t outlen)
{
	size_t n = strlen(value);
	bool ends_name = strcmp(type, "CNAME") == 0 || strcmp(type, "NS") == 0 ||
			 strcmp(type, "PTR") == 0 || strcmp(type, "MX") == 0 ||
			 strcmp(type, "SRV") == 0;

	if (ends_name && n > 0 && value[n - 1] != '.')
		snprintf(out, outlen, "%s.", value);
	else
		snprintf(out, outlen, "%s", value);
}

/*
 * Which record sets of a name and type one resolver should answer with
 * (README: routing policies).
 */
static bool wanted(const struct rrset *s, const struct zone_sets *all, const char *region)
{
	if (s->set_id[0] == '\0' || s->multivalue)
		return true;
	if (s->has_weight)
		return true; /* chosen per query by vpcdnsd (see weighted_group) */
	if (s->failover[0] != '\0')
		return strcmp(s->failover, "PRIMARY") == 0;
	if (s->region[0] != '\0') {
		/* Latency: ours, else the first region listed for that name and type. */
		if (strcmp(s->region, region) == 0)
			return true;
		for (size_t i = 0; i < all->n; i++)
			if (strcmp(all->v[i].name, s->name) == 0 &&
			    strcmp(all->v[i].type, s->type) == 0 &&
			    strcmp(all->v[i].region, region) == 0)
				return false;
		for (size_t i = 0; i < all->n; i++)
			if (strcmp(all->v[i].name, s->name) == 0 &&
			    strcmp(all->v[i].type, s->type) == 0 && all->v[i].region[0] != '\0')
				return &all->v[i] == s;
		return false;
	}
	if (s->geo)
		return strcmp(s->country, "*") == 0; /* the default location */
	return true;
}

static const char *alias_resolver; /* "addr[:port]"; NULL: the system's resolver */

void route53_set_resolver(const char *addr)
{
	alias_resolver = addr;
}

/* The target's addresses, from the configured resolver or the system's. */
static int resolve_target(const char *target, bool v6, char addrs[][INET6_ADDRSTRLEN], int max)
{
	int n = 0;

	if (alias_resolver != NULL) {
		struct netaddr na;
		ldns_resolver *res = ldns_resolver_new();
		ldns_rdf *ns = NULL, *name = ldns_dname_new_frm_str(target);
		ldns_pkt *pkt = NULL;
		if (res == NULL || name == NULL || netaddr_parse(alias_resolver, 53, &na) < 0)
			goto done;
		if (na.ss.ss_family == AF_INET)
			ns = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4,
						   &((struct sockaddr_in *)&na.ss)->sin_addr);
		else
			ns = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16,
						   &((struct sockaddr_in6 *)&na.ss)->sin6_addr);
		if (ns == NULL || ldns_resolver_push_nameserver(res, ns) != LDNS_STATUS_OK)
			goto done;
		ldns_resolver_set_port(res, ntohs(((struct sockaddr_in *)&na.ss)->sin_port));
		ldns_resolver_set_retry(res, 2);
		ldns_resolver_set_recursive(res, true);
		pkt = ldns_resolver_query(res, name, v6 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A,
					  LDNS_RR_CLASS_IN, LDNS_RD);
		if (pkt != NULL) {
			ldns_rr_list *ans = ldns_pkt_answer(pkt);
			for (size_t i = 0; i < ldns_rr_list_rr_count(ans) && n < max; i++) {
				ldns_rr *rr = ldns_rr_list_rr(ans, i);
				if (ldns_rr_get_type(rr) !=
				    (v6 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A))
					continue;
				inet_ntop(v6 ? AF_INET6 : AF_INET,
					  ldns_rdf_data(ldns_rr_rdf(rr, 0)), addrs[n++],
					  INET6_ADDRSTRLEN);
			}
		}
	done:
		if (pkt != NULL)
			ldns_pkt_free(pkt);
		if (ns != NULL)
			ldns_rdf_deep_free(ns);
		if (name != NULL)
			ldns_rdf_deep_free(name);
		if (res != NULL) {
			/* the nameserver list holds copies; free the resolver alone */
			ldns_resolver_deep_free(res);
		}
		return n;
	}
	{
		struct addrinfo hints, *ai = NULL;
		int family = v6 ? AF_INET6 : AF_INET;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = family;
		hints.ai_socktype = SOCK_DGRAM;
		if (getaddrinfo(target, NULL, &hints, &ai) != 0)
			return 0;
		for (struct addrinfo *a = ai; a != NULL && n < max; a = a->ai_next) {
			const void *src =
			    family == AF_INET
				? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
				: (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
			inet_ntop(family, src, addrs[n++], INET6_ADDRSTRLEN);
		}
		freeaddrinfo(ai);
	}
	return n;
}

/* Alias: the target's records, answered with the alias's name (as Route 53 does). */
static void add_alias(const struct zone_sets *all, const struct rrset *s, const char *owner,
		      const char *zone, const char *region, uint32_t alias_ttl,
		      struct records *out);

/* A weighted set with weight 0 gets no answers, unless every set of its name and type has 0. */
static bool weight_live(const struct zone_sets *all, const struct rrset *t)
{
	if (!t->has_weight || t->weight > 0)
		return true;
	for (size_t i = 0; i < all->n; i++)
		if (all->v[i].has_weight && all->v[i].weight > 0 &&
		    strcmp(all->v[i].name, t->name) == 0 && strcmp(all->v[i].type, t->type) == 0)
			return false;
	return true;
}

/*
 * The values behind a same-zone alias target: every wanted record set of that
 * name and type (weighted, multivalue), following aliases to aliases.
 */
static int alias_values(const struct zone_sets *all, const char *target, const char *type,
			const char *owner, const char *zone, const char *region, uint32_t alias_ttl,
			unsigned depth, struct records *out)
{
	int n = 0;

	if (depth > 8)
		return 0; /* a loop of aliases: nothing */
	for (size_t i = 0; i < all->n; i++) {
		const struct rrset *t = &all->v[i];
		char name[1100];
		route53_unescape(t->name, name, sizeof(name));
		if (strcmp(name, target) != 0 || strcmp(t->type, type) != 0 ||
		    !wanted(t, all, region) || !weight_live(all, t))
			continue;
		if (t->alias_dns != NULL) {
			char next[1100];
			route53_unescape(t->alias_dns, next, sizeof(next));
			n += alias_values(all, next, type, owner, zone, region, alias_ttl,
					  depth + 1, out);
			continue;
		}
		for (size_t v = 0; v < t->nvalues; v++) {
			records_add(out, owner, (uint32_t)t->ttl, type, t->values[v],
				    SOURCE_ROUTE53);
			n++;
		}
	}
	return n;
}

static void add_alias(const struct zone_sets *all, const struct rrset *s, const char *owner,
		      const char *zone, const char *region, uint32_t alias_ttl, struct records *out)
{
	char target[1100];
	size_t zl = strlen(zone), tl;

	route53_unescape(s->alias_dns, target, sizeof(target));
	tl = strlen(target);
	/* A target in this zone: copy its values now. */
	if ((tl == zl + 1 && strncmp(target, zone, zl) == 0) ||
	    (tl > zl + 1 && strncmp(target + tl - zl - 1, zone, zl) == 0 &&
	     target[tl - zl - 2] == '.')) {
		if (alias_values(all, target, s->type, owner, zone, region, alias_ttl, 0, out) == 0)
			records_problem(out, "%s %s: alias target %s has no %s records", owner,
					s->type, target, s->type);
		return;
	}
	/* An AWS resource (load balancer, ...): its addresses now, for at most one interval. */
	{
		char addrs[64][INET6_ADDRSTRLEN];
		int n = resolve_target(target, strcmp(s->type, "AAAA") == 0, addrs, 64);
		if (n <= 0) {
			records_problem(out, "%s %s: alias target %s does not resolve now", owner,
					s->type, target);
			return;
		}
		for (int i = 0; i < n; i++)
			records_add(out, owner, alias_ttl, s->type, addrs[i], SOURCE_ROUTE53);
	}
}

/*
 * A weighted record set becomes records of the private type
 * ZONE_TYPE_WEIGHTED (weight, set number, type, rdata) that vpcdnsd turns
 * back into one choice per query, as Route 53 answers. Weight 0 gets no
 * answers unless every set of the name has weight 0 (then all are equal).
 */
static int add_weighted(const struct zone_sets *all, const struct rrset *s, const char *owner,
			const char *zone, const char *region, uint32_t alias_ttl,
			struct records *out)
{
	struct records tmp;
	unsigned setno = 0, weight = (unsigned)(s->weight > 255 ? 255 : s->weight);
	bool all_zero = true;
	int rc = 0;

	for (size_t i = 0; i < all->n; i++) {
		const struct rrset *o = &all->v[i];
		if (!o->has_weight || strcmp(o->name, s->name) != 0 ||
		    strcmp(o->type, s->type) != 0)
			continue;
		if (o->weight > 0)
			all_zero = false;
		if (o < s)
			setno++;
	}
	if (weight == 0 && !all_zero)
		return 0;
	if (setno > 255) {
		records_problem(out, "%s %s %s: more than 256 weighted sets", owner, s->type,
				s->set_id);
		return 0;
	}
	records_init(&tmp);
	if (s->alias_dns != NULL) {
		add_alias(all, s, owner, zone, region, alias_ttl, &tmp);
	} else {
		for (size_t v = 0; v < s->nvalues; v++) {
			char value[4200];
			qualify(s->type, s->values[v], value, sizeof(value));
			records_add(&tmp, owner, (uint32_t)s->ttl, s->type, value, SOURCE_ROUTE53);
		}
	}
	for (size_t i = 0; i < tmp.n && rc == 0; i++) {
		char line[8192], *hex;
		ldns_rr *rr = NULL;
		size_t len = 4;
		uint8_t wire[4096];
		snprintf(line, sizeof(line), "x. 0 IN %s %s", tmp.v[i].type, tmp.v[i].rdata);
		if (ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL) != LDNS_STATUS_OK) {
			records_problem(out, "%s %s %s: not a valid %s record", owner, s->type,
					tmp.v[i].rdata, s->type);
			continue;
		}
		wire[0] = (uint8_t)weight;
		wire[1] = (uint8_t)setno;
		wire[2] = (uint8_t)(ldns_rr_get_type(rr) >> 8);
		wire[3] = (uint8_t)ldns_rr_get_type(rr);
		for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
			ldns_rdf *f = ldns_rr_rdf(rr, k);
			if (len + ldns_rdf_size(f) > sizeof(wire))
				break;
			memcpy(wire + len, ldns_rdf_data(f), ldns_rdf_size(f));
			len += ldns_rdf_size(f);
		}
		ldns_rr_free(rr);
		hex = malloc(len * 2 + 32);
		if (hex == NULL) {
			rc = -1;
			break;
		}
		{
			size_t n = (size_t)sprintf(hex, "\\# %zu ", len);
			for (size_t k = 0; k < len; k++)
				n += (size_t)sprintf(hex + n, "%02x", wire[k]);
		}
		if (records_add(out, owner, tmp.v[i].ttl, "TYPE65432", hex, SOURCE_ROUTE53) < 0)
			rc = -1;
		free(hex);
	}
	for (size_t i = 0; i < tmp.nproblems; i++)
		records_problem(out, "%s", tmp.problems[i]);
	records_free(&tmp);
	return rc;
}

int route53_fetch(struct aws_client *c, const char *id, const char *zone, const char *region,
		  uint32_t alias_ttl, struct records *out, struct aws_error *err)
{
	struct page p;
	struct zone_sets all = {0};
	struct xml_handler h = {page_start, page_end, &p};
	char path[256], query[2048];
	const char *bare = strrchr(id, '/') != NULL ? strrchr(id, '/') + 1 : id;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	snprintf(path, sizeof(path), "/2013-04-01/hostedzone/%s/rrset", bare);
	snprintf(query, sizeof(query), "maxitems=300");
	for (unsigned pages = 0; pages < 100000; pages++) {
		struct aws_call call = {AWS_ROUTE53, "GET", path,       query, NULL,
					NULL,        &h,    page_reset, &p};
		if (aws_client_call(c, &call, err) < 0 || p.failed)
			goto out;
		if (sets_take(&all, &p) < 0)
			goto out;
		if (!p.truncated)
			break;
		/* The next page starts where Route 53 said, names handed back byte for byte. */
		{
			char *n = aws_encode(p.next_name), *t = aws_encode(p.next_type);
			char *i = p.next_id[0] != '\0' ? aws_encode(p.next_id) : NULL;
			if (n == NULL || t == NULL) {
				free(n);
				free(t);
				free(i);
				goto out;
			}
			snprintf(query, sizeof(query), "name=%s&type=%s%s%s&maxitems=300", n, t,
				 i != NULL ? "&identifier=" : "", i != NULL ? i : "");
			free(n);
			free(t);
			free(i);
		}
		p.truncated = false;
	}
	for (size_t i = 0; i < all.n; i++) {
		const struct rrset *s = &all.v[i];
		char raw[1100], owner[2200];
		route53_unescape(s->name, raw, sizeof(raw));
		zone_escape(raw, owner, sizeof(owner));
		if (strcmp(s->type, "SOA") == 0)
			continue; /* ours replaces it: its negative TTL is zone policy */
		if (!wanted(s, &all, region))
			continue;
		if (s->has_weight && s->set_id[0] != '\0') {
			if (add_weighted(&all, s, owner, zone, region, alias_ttl, out) < 0)
				goto out;
			continue;
		}
		if (s->alias_dns != NULL) {
			if (strcmp(s->type, "A") != 0 && strcmp(s->type, "AAAA") != 0) {
				records_problem(out, "%s %s: alias of this type is not supported",
						owner, s->type);
				continue;
			}
			add_alias(&all, s, owner, zone, region, alias_ttl, out);
			continue;
		}
		for (size_t v = 0; v < s->nvalues; v++) {
			char value[4200];
			qualify(s->type, s->values[v], value, sizeof(value));
			if (records_add(out, owner, (uint32_t)s->ttl, s->type, value,
					SOURCE_ROUTE53) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	page_reset(&p);
	free(p.sets);
	for (size_t i = 0; i < all.n; i++)
		rrset_clear(&all.v[i]);
	free(all.v);
	return rc;
}

struct zones_page {
	const char *want;
	char found[64];
	char next[512];
	char cur_id[64], cur_name[1100];
};

static void zones_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct zones_page *z = arg;

	(void)depth;
	if (xml_path_ends(path, "HostedZoneSummary/HostedZoneId"))
		snprintf(z->cur_id, sizeof(z->cur_id), "%s", text);
	else if (xml_path_ends(path, "HostedZoneSummary/Name"))
		snprintf(z->cur_name, sizeof(z->cur_name), "%s", text);
	else if (xml_path_ends(path, "HostedZoneSummaries/HostedZoneSummary")) {
		char raw[1100];
		size_t n;
		route53_unescape(z->cur_name, raw, sizeof(raw));
		n = strlen(raw);
		if (n > 0 && raw[n - 1] == '.')
			raw[n - 1] = '\0';
		if (strcmp(raw, z->want) == 0 && z->found[0] == '\0')
			snprintf(z->found, sizeof(z->found), "%s", z->cur_id);
	} else if (xml_path_ends(path, "ListHostedZonesByVPCResponse/NextToken"))
		snprintf(z->next, sizeof(z->next), "%s", text);
}

static void zones_reset(void *arg)
{
	struct zones_page *z = arg;

	z->next[0] = '\0';
}

int route53_find_zone(struct aws_client *c, const char *zone, const char *vpc,
		      const char *vpc_region, char *id, size_t idlen, struct aws_error *err)
{
	struct zones_page z;
	struct xml_handler h = {NULL, zones_end, &z};
	char query[1024];

	memset(&z, 0, sizeof(z));
	z.want = zone;
	snprintf(query, sizeof(query), "vpcid=%s&vpcregion=%s", vpc, vpc_region);
	/* Only zones associated with the VPC: never a public zone of the same name. */
	for (unsigned pages = 0; pages < 1000; pages++) {
		struct aws_call call = {AWS_ROUTE53, "GET",       "/2013-04-01/hostedzonesbyvpc",
					query,       NULL,        NULL,
					&h,          zones_reset, &z};
		if (aws_client_call(c, &call, err) < 0)
			return -1;
		if (z.found[0] != '\0' || z.next[0] == '\0')
			break;
		{
			char *t = aws_encode(z.next);
			if (t == NULL)
				return -1;
			snprintf(query, sizeof(query), "vpcid=%s&vpcregion=%s&nexttoken=%s", vpc,
				 vpc_region, t);
			free(t);
		}
	}
	if (z.found[0] == '\0') {
		snprintf(err->code, sizeof(err->code), "NoSuchHostedZone");
		snprintf(err->message, sizeof(err->message),
			 "no private hosted zone %s is associated with %s", zone, vpc);
		return -1;
	}
	snprintf(id, idlen, "%s", z.found);
	return 0;
}
