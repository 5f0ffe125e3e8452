/*
 * policy: the vpcdnsd zone policy that follows from a network: one zone per
 * environment and one per tier below it ("private.prod.internal"), each with
 * the allow list of the subnets whose tier and environment may see it, and a
 * server allow list of every VPC in the stack. The same description builds the
 * network and decides who may query which names.
 *
 * For the lab the zones get files (written by policy_write_zones); on AWS
 * each environment's zone is its private hosted zone (route53 = ID) and each
 * tier zone comes from the VPC inventory of that tier.
 */
#ifndef PROVISION_POLICY_H
#define PROVISION_POLICY_H

#include <stdio.h>

#include "contrib/provision/network.h"

struct policy_env_source {
	const char *hosted_zone_id; /* NULL: not known (not built yet, or the lab) */
	const char *vpc_id;         /* NULL: not known */
};

struct policy_opts {
	const char *zone_dir; /* lab: zones are files ZONE_DIR/NAME.zone; NULL: none */
	const struct policy_env_source *sources; /* aws: per env (net->nenvs), or NULL */
};

/* Writes the [zone:...] sections (and a commented [server] allow) to out. */
void policy_write(const struct network *net, const struct policy_opts *opts, FILE *out);

/*
 * Writes "LEAD KEY = a, b, c" with a long list continued on indented lines
 * (each starting with lead: "; " keeps a commented list commented).
 */
void policy_write_list(FILE *out, const char *lead, const char *key, const char *list);

/* The allow list of the server: every VPC of the stack, comma separated. */
void policy_server_allow(const struct network *net, char *buf, size_t len);

/*
 * Lab: writes one zone file per environment zone and tier zone into dir, with
 * the hosts of the network (and the vpcdnsd hosts as "dns-ENV-N") in their
 * tier zones, and in the environment zone a CNAME per host to its tier name
 * (short names through the search domain). 0 or -1 (errno).
 */
int policy_write_zones(const struct network *net, const char *dir);

#endif
