/*
 * inventory: names for what runs in a VPC, from the EC2 and RDS APIs.
 *
 * DescribeSubnets gives each subnet's tier (the tier tag, e.g. Tier=private);
 * DescribeInstances (running instances, every page) gives, per instance,
 * NAME.TIER.ZONE from its Name tag (sanitized to DNS rules), ip-A-B-C-D.ZONE
 * and INSTANCE-ID.ZONE, with A and AAAA records; several instances with one
 * Name give several addresses under one name. DescribeDBInstances gives
 * IDENTIFIER.db.ZONE as a CNAME to the database endpoint. Which tiers are
 * published and the name templates are zone policy.
 */
#ifndef SYNC_INVENTORY_H
#define SYNC_INVENTORY_H

#include "sync/aws.h"
#include "sync/records.h"

struct inventory_policy {
	const char *zone;          /* "prod.internal" */
	const char *vpcs;          /* "vpc-1, vpc-2" */
	const char *tier_tag;      /* "Tier" */
	const char *tiers;         /* published tiers: "private, persistence" */
	const char *instance_name; /* template: "{name}.{tier}" */
	const char *address_name;  /* "ip-{ip}" (dots become dashes); "" for none */
	const char *id_name;       /* "{id}"; "" for none */
	const char *db_name;       /* "{id}.db"; "" for none */
	unsigned ttl;
};

/* Appends the inventory's records to out. 0, or -1 with err when a call failed. */
int inventory_fetch(struct aws_client *c, const struct inventory_policy *p, struct records *out,
		    struct aws_error *err);

/* Lower-cases s and turns what DNS labels cannot hold into '-' (Name tags are free text). */
void inventory_label(const char *s, char *out, size_t outlen);

#endif
