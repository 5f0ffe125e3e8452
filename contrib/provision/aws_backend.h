/*
 * aws_backend: the AWS backend of vpcdns-provision, split in four files that
 * share what is declared here.
 *
 *   aws.c           provision_aws and provision_aws_sources; the inventory
 *   aws_want.c      what the network wants, and which found resource is it
 *   aws_build.c     makes or changes what is missing or different
 *   aws_teardown.c  deletes what exists but is not wanted (all of it on destroy)
 *   aws_ec2.c       EC2 Query requests, and the Describe calls that list every
 *                   resource tagged vpcdns:stack = the stack
 *   aws_zone.c      Route 53 private hosted zones of the stack
 *
 * Every EC2 resource is tagged when it is made (TagSpecification) with
 * vpcdns:stack, vpcdns:name and Name, so an interrupted apply is finished by
 * the next one (or destroy). Hosted zones are found by their CallerReference, which starts
 * with "vpcdns:STACK:ENV:" and is fixed when the zone is made (tags on Route 53
 * take a second call that an interruption could miss); they are tagged too.
 *
 * Error convention: functions return 0, or -1 after logging
 * "context: Code: Message" to stderr.
 */
#ifndef PROVISION_AWS_BACKEND_H
#define PROVISION_AWS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "contrib/provision/network.h"
#include "contrib/provision/plan.h"
#include "contrib/provision/policy.h"
#include "contrib/provision/provision.h"
#include "sync/aws.h"

/*
 * Looks up the VPC id and the hosted zone id of every environment by their
 * tags (and CallerReference), for `vpcdns-provision policy --backend aws`.
 * out has net->nenvs entries; found ids are malloc'ed strings the caller
 * frees, the others stay NULL. 0, or -1 with a message in err.
 */
int provision_aws_sources(const struct network *net, struct policy_env_source *out, char *err,
			  size_t errlen);

/* ---- shared by the backend's files ---- */

#define AWS_ID_LEN      64
#define AWS_MAX_RULES   256                     /* ingress rules of one security group */
#define AWS_NAME_LEN    (2 * NET_NAME_LEN + 16) /* vpcdns:name values */
#define AWS_CONTEXT_LEN 768                     /* "CreateSubnet production-public-1" */

enum aws_kind {
	AWS_KIND_VPC,
	AWS_KIND_SUBNET,
	AWS_KIND_IGW,
	AWS_KIND_EIP,
	AWS_KIND_NAT,
	AWS_KIND_RTB,
	AWS_KIND_SG,
	AWS_KIND_DHCP,
	AWS_KIND_PCX,
	AWS_KIND_ZONE,
	AWS_NKINDS
};

struct aws_route {
	char dest[NET_CIDR_TEXT];
	char target[AWS_ID_LEN]; /* igw-, nat-, pcx-, "local", ... */
	char state[16];          /* active, blackhole */
};

struct aws_assoc {
	char id[AWS_ID_LEN]; /* rtbassoc- */
	char subnet[AWS_ID_LEN];
	bool main;
};

struct aws_rule {
	char proto[8];           /* tcp, udp, icmp, -1 */
	int from, to;            /* -1 when the protocol has no ports */
	char source[AWS_ID_LEN]; /* a CIDR, or sg- for a group reference */
};

struct aws_option {
	char key[32]; /* domain-name-servers, domain-name, ... */
	char value[NET_ZONE_LEN];
};

/* One resource found (or planned: id "" in plan mode, or made by this run). */
struct aws_res {
	enum aws_kind kind;
	char id[AWS_ID_LEN];
	char name[AWS_NAME_LEN]; /* vpcdns:name; the env for zones */
	char vpc[AWS_ID_LEN];    /* its VPC; a peering's requester */
	char peer[AWS_ID_LEN];   /* a peering's accepter VPC */
	char cidr[NET_CIDR_TEXT];
	char az[NET_NAME_LEN];
	char state[32];
	char subnet[AWS_ID_LEN];         /* a NAT gateway's */
	char alloc[AWS_ID_LEN];          /* a NAT gateway's address */
	char assoc[AWS_ID_LEN];          /* an address's association */
	char dhcp[AWS_ID_LEN];           /* a VPC's DHCP options */
	char label[NET_ZONE_LEN + 2];    /* a group's name, a zone's name (no dot) */
	bool dns_support, dns_hostnames; /* a VPC's attributes */
	struct aws_route *routes;
	size_t nroutes;
	struct aws_assoc *assocs;
	size_t nassocs;
	struct aws_rule *rules;
	size_t nrules;
	struct aws_option *options;
	size_t noptions;
	char (*vpcs)[AWS_ID_LEN]; /* a gateway's attachments, a zone's VPCs */
	size_t nvpcs;
	bool tagged; /* a zone carries the stack's tags */
	bool keep;   /* wanted by the network: not deleted */
	bool gone;   /* deleted by this run (or would be, in plan mode) */
};

/* Resources are allocated one by one: pointers to them stay valid. */
struct aws_inventory {
	struct aws_res **v;
	size_t n;
};

struct aws_run {
	const struct network *net;
	enum provision_cmd cmd;
	const struct provision_opts *opts;
	struct aws_client *client;
	struct plan plan;
	struct aws_inventory inv;
	char callerref[NET_NAME_LEN + 16]; /* "vpcdns:STACK:" */
};

/* True when the run changes things (apply, destroy), false for plan. */
bool aws_doing(const struct aws_run *r);

/* Logs "context: Code: Message". Returns -1. */
int aws_fail(const char *context, const struct aws_error *e);

/* A new zeroed resource at the end of the inventory (NULL: out of memory). */
struct aws_res *aws_res_add(struct aws_inventory *inv, enum aws_kind kind);
/* Frees what a resource holds (its lists), and zeroes it. */
void aws_res_clear(struct aws_res *x);
void aws_inventory_free(struct aws_inventory *inv);

/* Grows an array of n elements of size by one; the new element zeroed. NULL: no memory. */
void *aws_grow(void *array, size_t *n, size_t size);

/* The resource of kind and name the network wants (found or planned), or NULL. */
struct aws_res *aws_kept(const struct aws_run *r, enum aws_kind kind, const char *name);
/* Its id: "" when it is not known (planned, or not wanted). */
const char *aws_kept_id(const struct aws_run *r, enum aws_kind kind, const char *name);
/*
 * A wanted resource that does not exist yet, added to the inventory: the
 * caller fills in the id once it is made (it stays "" in plan mode).
 */
struct aws_res *aws_planned(struct aws_run *r, enum aws_kind kind, const char *name);
/* True when vpc is among x's VPCs (a gateway's attachments, a zone's VPCs). */
bool aws_has_vpc(const struct aws_res *x, const char *vpc);

/* ---- aws_want.c ---- */

/* Whether env e has subnets of tier t; of a tier with internet how; a vpcdnsd address. */
bool aws_want_tier(const struct network *net, size_t e, size_t t);
bool aws_want_internet(const struct network *net, size_t e, enum net_internet how);
bool aws_want_vpcdnsd(const struct network *net, size_t e);
/* The NAT gateway's subnet: the first subnet of the first igw tier (NULL: none). */
const struct net_subnet *aws_want_nat_subnet(const struct network *net, size_t e);

/* vpcdns:name values: "ENV-TIER-rt", "REQUESTER-ACCEPTER", "ENV-nat". */
void aws_want_rt_name(const struct network *net, size_t e, size_t t, char *buf, size_t len);
void aws_want_pcx_name(const struct network *net, size_t a, size_t b, char *buf, size_t len);
void aws_want_eip_name(const struct network *net, size_t e, char *buf, size_t len);
/* The wanted peering between a and b, whichever requested it; NULL if none. */
struct aws_res *aws_want_pcx(const struct aws_run *r, size_t a, size_t b);

/* Env e's DHCP options (out holds NET_MAX_DNS + 1), in the order AWS lists them. */
size_t aws_want_options(const struct network *net, size_t e, struct aws_option *out);
/* Ingress of "ENV-TIER" (t < ntiers) or "ENV-vpcdnsd" (t == ntiers); v holds AWS_MAX_RULES. */
size_t aws_want_rules(const struct network *net, size_t e, size_t t, struct aws_rule *v);
bool aws_want_rule_eq(const struct aws_rule *a, const struct aws_rule *b);

/*
 * Marks keep on the found resource that each wanted one is (by vpcdns:name,
 * and its VPC, CIDR, zone...); of two of one name the better fitting one.
 */
void aws_want_claim(struct aws_run *r);

/* ---- aws_build.c ---- */

/* Makes or changes (or in plan mode, prints) all that is missing or different. */
int aws_build(struct aws_run *r);

/* ---- aws_ec2.c ---- */

/* An EC2 Query form body: "Action=...&Version=2016-11-15&key=value...". */
struct aws_form {
	char *buf;
	size_t len, cap;
	bool failed; /* out of memory: the call is refused */
	int ntags;
};

void aws_ec2_form_init(struct aws_form *f, const char *action);
/* Appends "&KEY=value", value encoded; the key is printf-formatted. */
void aws_ec2_form_add(struct aws_form *f, const char *value, const char *key_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* TagSpecification.1 for resource_type: vpcdns:stack, vpcdns:name and Name. */
void aws_ec2_form_tags(struct aws_form *f, const struct aws_run *r, const char *resource_type,
		       const char *name);
void aws_ec2_form_free(struct aws_form *f);

/*
 * Sends the form (and frees it). When want is not NULL, the text of the first
 * element whose path ends with want ("vpc/vpcId") goes to out. 0, or -1
 * after logging "context: Code: Message".
 */
int aws_ec2_call(struct aws_run *r, struct aws_form *f, const char *context, const char *want,
		 char *out, size_t outlen);

/* Like aws_ec2_call, but finding nothing is no error: out is then "". */
int aws_ec2_find(struct aws_run *r, struct aws_form *f, const char *context, const char *want,
		 char *out, size_t outlen);

/* Appends every EC2 resource tagged with the stack to r->inv (VPC attributes included). */
int aws_ec2_describe(struct aws_run *r);

/*
 * Polls a NAT gateway or peering connection until its state is one of
 * states ("available", "active|pending-acceptance", ...; '|' separated), for at
 * most opts->wait_s seconds. 0, or -1 logged (a failed state, or time out).
 */
int aws_ec2_wait(struct aws_run *r, enum aws_kind kind, const char *id, const char *states);

/* ---- aws_zone.c ---- */

/* Appends the stack's private hosted zones (with their VPCs) to r->inv. */
int aws_zone_describe(struct aws_run *r);

/*
 * Creates the private zone z->label for env z->name with vpc, and tags it;
 * the new id goes to z->id.
 */
int aws_zone_create(struct aws_run *r, struct aws_res *z, const char *vpc);
/* Adds the stack's tags (vpcdns:stack, vpcdns:name, Name). */
int aws_zone_tag(struct aws_run *r, struct aws_res *z);
int aws_zone_associate(struct aws_run *r, struct aws_res *z, const char *vpc);
int aws_zone_disassociate(struct aws_run *r, const struct aws_res *z, const char *vpc);
/* Deletes every record set but the apex SOA and NS, then the zone. */
int aws_zone_delete(struct aws_run *r, const struct aws_res *z);

/* ---- aws_teardown.c ---- */

/*
 * Deletes, in dependency order, every resource of r->inv not marked keep, and
 * what ties kept resources to them (routes, attachments, associations).
 * DHCP options still associated with a kept VPC wait for the final pass
 * (final = true), after the new options are associated.
 */
int aws_teardown(struct aws_run *r, bool final);

#endif
