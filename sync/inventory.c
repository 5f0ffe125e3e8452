#include "sync/inventory.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SUBNETS 4096

void inventory_label(const char *s, char *out, size_t outlen)
{
	size_t n = 0;
	bool dash = false;

	for (const char *p = s; *p != '\0' && n + 1 < outlen && n < 63; p++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*p);
		if (isalnum(c)) {
			out[n++] = (char)c;
			dash = false;
		} else if (n > 0 && !dash) {
			out[n++] = '-';
			dash = true;
		}
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
}

/* True when word is in the comma/space separated list. */
static bool in_list(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; p != NULL && *p != '\0';) {
		size_t n;
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		n = strcspn(p, ", \t");
		if (n == wl && strncasecmp(p, word, n) == 0)
			return true;
		p += n;
	}
	return false;
}

/* Fills {name} {tier} {id} {ip} in a template; "" when a field it needs is empty. */
static void expand(const char *tmpl, const char *name, const char *tier, const char *id,
		   const char *ip, const char *zone, char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	if (tmpl == NULL || *tmpl == '\0')
		return;
	for (const char *p = tmpl; *p != '\0' && n + 1 < outlen;) {
		const char *v = NULL;
		if (strncmp(p, "{name}", 6) == 0)
			v = name, p += 6;
		else if (strncmp(p, "{tier}", 6) == 0)
			v = tier, p += 6;
		else if (strncmp(p, "{id}", 4) == 0)
			v = id, p += 4;
		else if (strncmp(p, "{ip}", 4) == 0)
			v = ip, p += 4;
		if (v != NULL) {
			if (*v == '\0') {
				out[0] = '\0';
				return;
			}
			n += (size_t)snprintf(out + n, outlen - n, "%s", v);
			continue;
		}
		out[n++] = *p++;
		out[n] = '\0';
	}
	if (n + strlen(zone) + 3 < outlen)
		snprintf(out + n, outlen - n, ".%s.", zone);
}

/* ---- DescribeSubnets ---- */

struct subnet {
	char id[64];
	char tier[64];
};

struct subnets {
	struct subnet v[MAX_SUBNETS];
	size_t n;
	struct subnet cur;
	char key[256];
	const char *tier_tag;
	char next[1024];
	size_t page_start;
};

static void subnets_reset(void *arg)
{
	struct subnets *s = arg;

	s->n = s->page_start;
	s->next[0] = '\0';
}

static void subnets_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct subnets *s = arg;

	(void)depth;
	if (xml_path_ends(path, "subnetSet/item/subnetId"))
		snprintf(s->cur.id, sizeof(s->cur.id), "%s", text);
	else if (xml_path_ends(path, "subnetSet/item/tagSet/item/key"))
		snprintf(s->key, sizeof(s->key), "%s", text);
	else if (xml_path_ends(path, "subnetSet/item/tagSet/item/value")) {
		if (strcmp(s->key, s->tier_tag) == 0)
			inventory_label(text, s->cur.tier, sizeof(s->cur.tier));
	} else if (xml_path_ends(path, "DescribeSubnetsResponse/subnetSet/item")) {
		if (s->n < MAX_SUBNETS)
			s->v[s->n++] = s->cur;
		memset(&s->cur, 0, sizeof(s->cur));
	} else if (xml_path_ends(path, "DescribeSubnetsResponse/nextToken"))
		snprintf(s->next, sizeof(s->next), "%s", text);
}

/* Adds "Filter.N.Name=vpc-id&Filter.N.Value.M=..." for every VPC of the list. */
static int vpc_filter(const char *vpcs, int n, char *out, size_t outlen)
{
	size_t len = strlen(out);
	int m = 0;

	len += (size_t)snprintf(out + len, outlen - len, "&Filter.%d.Name=vpc-id", n);
	for (const char *p = vpcs; *p != '\0';) {
		size_t l;
		char id[64], *enc;
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		l = strcspn(p, ", \t");
		if (l == 0)
			break;
		if (l >= sizeof(id))
			return -1;
		memcpy(id, p, l);
		id[l] = '\0';
		p += l;
		enc = aws_encode(id);
		if (enc == NULL)
			return -1;
		len += (size_t)snprintf(out + len, outlen - len, "&Filter.%d.Value.%d=%s", n, ++m,
					enc);
		free(enc);
	}
	return len < outlen ? 0 : -1;
}

/* Appends "&key=value" (value encoded) to a form body. 0, or -1 if it does not fit. */
static int add_param(char *body, size_t size, const char *key, const char *value)
{
	size_t len = strlen(body);
	char *enc = aws_encode(value);
	int n;

	if (enc == NULL)
		return -1;
	n = snprintf(body + len, size - len, "&%s=%s", key, enc);
	free(enc);
	return n < 0 || (size_t)n >= size - len ? -1 : 0;
}

/* ---- DescribeInstances ---- */

struct instance {
	char id[64], subnet[64], ip[64], name[256], state[32];
	char ipv6[8][64];
	size_t nipv6;
	char key[256];
};

struct instances {
	const struct inventory_policy *p;
	const struct subnets *subnets;
	struct records *out;
	struct records page; /* this page's records: kept only when the page is whole */
	struct instance cur;
	char next[1024];
};

static void instances_reset(void *arg)
{
	struct instances *s = arg;

	records_free(&s->page);
	records_init(&s->page);
	s->next[0] = '\0';
	memset(&s->cur, 0, sizeof(s->cur));
}

static const char *tier_of(const struct subnets *s, const char *subnet)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].id, subnet) == 0)
			return s->v[i].tier;
	return "";
}

static void add_instance(struct instances *s)
{
	const struct inventory_policy *p = s->p;
	struct instance *in = &s->cur;
	const char *tier = tier_of(s->subnets, in->subnet);
	char label[64], dashed[64], name[600];

	if (strcmp(in->state, "running") != 0 || in->ip[0] == '\0')
		return;
	inventory_label(in->name, label, sizeof(label));
	snprintf(dashed, sizeof(dashed), "%s", in->ip);
	for (char *c = dashed; *c != '\0'; c++)
		if (*c == '.')
			*c = '-';
	/* NAME.TIER: only for the tiers the zone publishes. */
	if (tier[0] != '\0' && in_list(p->tiers, tier)) {
		expand(p->instance_name, label, tier, in->id, dashed, p->zone, name, sizeof(name));
		if (name[0] != '\0') {
			records_add(&s->page, name, p->ttl, "A", in->ip, SOURCE_INVENTORY);
			for (size_t i = 0; i < in->nipv6; i++)
				records_add(&s->page, name, p->ttl, "AAAA", in->ipv6[i],
					    SOURCE_INVENTORY);
		}
	} else if (tier[0] == '\0' && label[0] != '\0') {
		records_problem(&s->page, "%s (%s): subnet %s has no %s tag; no name published",
				in->id, in->name, in->subnet, p->tier_tag);
	}
	expand(p->address_name, label, tier, in->id, dashed, p->zone, name, sizeof(name));
	if (name[0] != '\0')
		records_add(&s->page, name, p->ttl, "A", in->ip, SOURCE_INVENTORY);
	expand(p->id_name, label, tier, in->id, dashed, p->zone, name, sizeof(name));
	if (name[0] != '\0') {
		records_add(&s->page, name, p->ttl, "A", in->ip, SOURCE_INVENTORY);
		for (size_t i = 0; i < in->nipv6; i++)
			records_add(&s->page, name, p->ttl, "AAAA", in->ipv6[i], SOURCE_INVENTORY);
	}
}

static void instances_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct instances *s = arg;
	struct instance *in = &s->cur;

	/* Instance fields sit right under reservationSet/item/instancesSet/item (depth 5). */
	if (depth == 6 && xml_path_ends(path, "instancesSet/item/instanceId"))
		snprintf(in->id, sizeof(in->id), "%s", text);
	else if (depth == 6 && xml_path_ends(path, "instancesSet/item/subnetId"))
		snprintf(in->subnet, sizeof(in->subnet), "%s", text);
	else if (depth == 6 && xml_path_ends(path, "instancesSet/item/privateIpAddress"))
		snprintf(in->ip, sizeof(in->ip), "%s", text);
	else if (depth == 7 && xml_path_ends(path, "instancesSet/item/instanceState/name"))
		snprintf(in->state, sizeof(in->state), "%s", text);
	else if (depth == 8 && xml_path_ends(path, "instancesSet/item/tagSet/item/key"))
		snprintf(in->key, sizeof(in->key), "%s", text);
	else if (depth == 8 && xml_path_ends(path, "instancesSet/item/tagSet/item/value")) {
		if (strcmp(in->key, "Name") == 0)
			snprintf(in->name, sizeof(in->name), "%s", text);
	} else if (xml_path_ends(path, "ipv6AddressesSet/item/ipv6Address")) {
		bool seen = false;
		for (size_t i = 0; i < in->nipv6; i++)
			seen |= strcmp(in->ipv6[i], text) == 0;
		if (!seen && in->nipv6 < 8)
			snprintf(in->ipv6[in->nipv6++], sizeof(in->ipv6[0]), "%s", text);
	} else if (depth == 6 && xml_path_ends(path, "instancesSet/item/ipv6Address")) {
		bool seen = false;
		for (size_t i = 0; i < in->nipv6; i++)
			seen |= strcmp(in->ipv6[i], text) == 0;
		if (!seen && in->nipv6 < 8)
			snprintf(in->ipv6[in->nipv6++], sizeof(in->ipv6[0]), "%s", text);
	} else if (depth == 5 && xml_path_ends(path, "instancesSet/item")) {
		add_instance(s);
		memset(in, 0, sizeof(*in));
	} else if (depth == 2 && xml_path_ends(path, "DescribeInstancesResponse/nextToken"))
		snprintf(s->next, sizeof(s->next), "%s", text);
}

/* ---- DescribeDBInstances ---- */

struct dbs {
	const struct inventory_policy *p;
	struct records page;
	char id[256], address[512], vpc[64], status[64];
	char marker[1024];
};

static void dbs_reset(void *arg)
{
	struct dbs *d = arg;

	records_free(&d->page);
	records_init(&d->page);
	d->marker[0] = '\0';
}

static void dbs_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct dbs *d = arg;

	(void)depth;
	if (xml_path_ends(path, "DBInstance/DBInstanceIdentifier"))
		snprintf(d->id, sizeof(d->id), "%s", text);
	else if (xml_path_ends(path, "DBInstance/Endpoint/Address"))
		snprintf(d->address, sizeof(d->address), "%s", text);
	else if (xml_path_ends(path, "DBInstance/DBSubnetGroup/VpcId"))
		snprintf(d->vpc, sizeof(d->vpc), "%s", text);
	else if (xml_path_ends(path, "DBInstances/DBInstance")) {
		/* RDS has no VPC filter: keep ours here. No endpoint yet (creating): no name yet. */
		if (in_list(d->p->vpcs, d->vpc) && d->address[0] != '\0') {
			char label[64], name[600], target[600];
			inventory_label(d->id, label, sizeof(label));
			expand(d->p->db_name, label, "", label, "", d->p->zone, name, sizeof(name));
			snprintf(target, sizeof(target), "%s%s", d->address,
				 d->address[strlen(d->address) - 1] == '.' ? "" : ".");
			if (name[0] != '\0')
				records_add(&d->page, name, d->p->ttl, "CNAME", target,
					    SOURCE_INVENTORY);
		}
		d->id[0] = d->address[0] = d->vpc[0] = '\0';
	} else if (xml_path_ends(path, "DescribeDBInstancesResult/Marker"))
		snprintf(d->marker, sizeof(d->marker), "%s", text);
}

int inventory_fetch(struct aws_client *c, const struct inventory_policy *p, struct records *out,
		    struct aws_error *err)
{
	static const char form[] = "application/x-www-form-urlencoded; charset=utf-8";
	struct subnets *sn = calloc(1, sizeof(*sn));
	struct instances in;
	struct dbs db;
	char body[8192];
	int rc = -1;

	memset(&in, 0, sizeof(in));
	memset(&db, 0, sizeof(db));
	records_init(&in.page);
	records_init(&db.page);
	if (sn == NULL)
		return -1;
	sn->tier_tag = p->tier_tag;
	/* Subnets first: they say which tier an instance is in. */
	for (unsigned page = 0; page < 10000; page++) {
		struct xml_handler h = {NULL, subnets_end, sn};
		struct aws_call call = {AWS_EC2, "POST", "/",           NULL, body,
					form,    &h,     subnets_reset, sn};
		snprintf(body, sizeof(body),
			 "Action=DescribeSubnets&Version=2016-11-15&MaxResults=1000");
		if (vpc_filter(p->vpcs, 1, body, sizeof(body)) < 0)
			goto out;
		if (sn->next[0] != '\0' && add_param(body, sizeof(body), "NextToken", sn->next) < 0)
			goto out;
		sn->page_start = sn->n;
		if (aws_client_call(c, &call, err) < 0)
			goto out;
		if (sn->next[0] == '\0')
			break;
	}
	in.p = p;
	in.subnets = sn;
	in.out = out;
	for (unsigned page = 0; page < 100000; page++) {
		struct xml_handler h = {NULL, instances_end, &in};
		struct aws_call call = {AWS_EC2, "POST",          "/", NULL, body, form,
					&h,      instances_reset, &in};
		char next[1024];
		snprintf(next, sizeof(next), "%s", in.next);
		snprintf(body, sizeof(body),
			 "Action=DescribeInstances&Version=2016-11-15&MaxResults=1000"
			 "&Filter.2.Name=instance-state-name&Filter.2.Value.1=running");
		if (vpc_filter(p->vpcs, 1, body, sizeof(body)) < 0)
			goto out;
		if (next[0] != '\0' && add_param(body, sizeof(body), "NextToken", next) < 0)
			goto out;
		if (aws_client_call(c, &call, err) < 0)
			goto out;
		if (records_take(out, &in.page) < 0)
			goto out;
		records_init(&in.page);
		if (in.next[0] == '\0')
			break;
	}
	if (p->db_name != NULL && *p->db_name != '\0') {
		db.p = p;
		for (unsigned page = 0; page < 100000; page++) {
			struct xml_handler h = {NULL, dbs_end, &db};
			struct aws_call call = {AWS_RDS, "POST", "/",       NULL, body,
						form,    &h,     dbs_reset, &db};
			char marker[1024];
			snprintf(marker, sizeof(marker), "%s", db.marker);
			snprintf(body, sizeof(body),
				 "Action=DescribeDBInstances&Version=2014-10-31&MaxRecords=100");
			if (marker[0] != '\0' &&
			    add_param(body, sizeof(body), "Marker", marker) < 0)
				goto out;
			if (aws_client_call(c, &call, err) < 0)
				goto out;
			if (records_take(out, &db.page) < 0)
				goto out;
			records_init(&db.page);
			if (db.marker[0] == '\0')
				break;
		}
	}
	rc = 0;
out:
	records_free(&in.page);
	records_free(&db.page);
	free(sn);
	return rc;
}
