/*
 * route53: what a private hosted zone holds, read with ListResourceRecordSets
 * (every page: name, type and identifier markers), turned into master-file
 * records. Route 53's octal escapes are undone (\052 is '*'); alias records
 * become the target's addresses (same-zone targets from the zone itself,
 * AWS resource targets looked up at sync time); routing policies are reduced
 * to what one resolver answers: multivalue and weighted give every value
 * (weight 0 excluded), failover gives PRIMARY, latency and geolocation give
 * the record for our region, else the default location.
 */
#ifndef SYNC_ROUTE53_H
#define SYNC_ROUTE53_H

#include <stddef.h>
#include <stdint.h>

#include "sync/aws.h"
#include "sync/records.h"

/* Finds the private hosted zone named zone (no trailing dot) associated with vpc. */
int route53_find_zone(struct aws_client *c, const char *zone, const char *vpc,
		      const char *vpc_region, char *id, size_t idlen, struct aws_error *err);

/*
 * Appends the records of hosted zone id (apex zone) to out. A record that
 * cannot be used is skipped and reported in out's problems. 0, or -1 with err
 * when a page could not be fetched (out is then incomplete: do not use it).
 */
int route53_fetch(struct aws_client *c, const char *id, const char *zone, const char *region,
		  uint32_t alias_ttl, struct records *out, struct aws_error *err);

/*
 * Where alias targets outside the zone (load balancers) are looked up at sync
 * time: "addr[:port]" of a resolver, or NULL for the system's (the default).
 */
void route53_set_resolver(const char *addr);

/* Undoes Route 53's escaping of a name ("\\052.example.com." -> "*.example.com."). */
void route53_unescape(const char *in, char *out, size_t outlen);

#endif
