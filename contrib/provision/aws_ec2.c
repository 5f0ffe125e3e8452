/* aws_ec2: EC2 Query requests and the stack's inventory (see aws_backend.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/log.h"
#include "contrib/provision/aws_backend.h"

static const char form_type[] = "application/x-www-form-urlencoded; charset=utf-8";

/* ---- form bodies ---- */

static void form_append(struct aws_form *f, const char *s)
{
	size_t n = strlen(s);

	if (f->failed)
		return;
	if (f->len + n + 1 > f->cap) {
		size_t cap = (f->len + n + 1) * 2;
		char *grown = realloc(f->buf, cap);
		if (grown == NULL) {
			f->failed = true;
			return;
		}
		f->buf = grown;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, s, n + 1);
	f->len += n;
}

void aws_ec2_form_init(struct aws_form *f, const char *action)
{
	memset(f, 0, sizeof(*f));
	form_append(f, "Action=");
	form_append(f, action);
	form_append(f, "&Version=2016-11-15");
}

void aws_ec2_form_add(struct aws_form *f, const char *value, const char *key_fmt, ...)
{
	char key[256];
	char *enc = aws_encode(value);
	va_list ap;

	va_start(ap, key_fmt);
	vsnprintf(key, sizeof(key), key_fmt, ap);
	va_end(ap);
	if (enc == NULL) {
		f->failed = true;
		return;
	}
	form_append(f, "&");
	form_append(f, key);
	form_append(f, "=");
	form_append(f, enc);
	free(enc);
}

void aws_ec2_form_tags(struct aws_form *f, const struct aws_run *r, const char *resource_type,
		       const char *name)
{
	aws_ec2_form_add(f, resource_type, "TagSpecification.1.ResourceType");
	aws_ec2_form_add(f, "vpcdns:stack", "TagSpecification.1.Tag.1.Key");
	aws_ec2_form_add(f, r->net->stack, "TagSpecification.1.Tag.1.Value");
	aws_ec2_form_add(f, "vpcdns:name", "TagSpecification.1.Tag.2.Key");
	aws_ec2_form_add(f, name, "TagSpecification.1.Tag.2.Value");
	aws_ec2_form_add(f, "Name", "TagSpecification.1.Tag.3.Key");
	aws_ec2_form_add(f, name, "TagSpecification.1.Tag.3.Value");
}

void aws_ec2_form_free(struct aws_form *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

/* ---- one call ---- */

struct capture {
	const char *want;
	char *out;
	size_t outlen;
	bool found;
};

static void capture_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct capture *c = arg;

	(void)depth;
	if (c->want != NULL && !c->found && xml_path_ends(path, c->want)) {
		snprintf(c->out, c->outlen, "%s", text);
		c->found = true;
	}
}

static void capture_reset(void *arg)
{
	struct capture *c = arg;

	c->found = false;
	if (c->out != NULL && c->outlen > 0)
		c->out[0] = '\0';
}

/* Sends f (kept); 0, or -1 with e filled (nothing logged). */
static int ec2_call_raw(struct aws_run *r, const struct aws_form *f, const char *want, char *out,
			size_t outlen, struct aws_error *e)
{
	struct capture cap = {want, out, outlen, false};
	struct xml_handler h = {NULL, capture_end, &cap};
	struct aws_call call = {AWS_EC2,   "POST", "/",           NULL, f->buf,
				form_type, &h,     capture_reset, &cap};

	memset(e, 0, sizeof(*e));
	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (f->failed) {
		snprintf(e->code, sizeof(e->code), "LocalError");
		snprintf(e->message, sizeof(e->message), "out of memory building the request");
		return -1;
	}
	return aws_client_call(r->client, &call, e);
}

int aws_ec2_call(struct aws_run *r, struct aws_form *f, const char *context, const char *want,
		 char *out, size_t outlen)
{
	struct aws_error e;
	char scratch[AWS_ID_LEN];
	int rc = 0;

	if (want != NULL && out == NULL) {
		out = scratch;
		outlen = sizeof(scratch);
	}
	if (ec2_call_raw(r, f, want, out, outlen, &e) < 0) {
		rc = aws_fail(context, &e);
	} else if (want != NULL && out[0] == '\0') {
		snprintf(e.code, sizeof(e.code), "MalformedResponse");
		snprintf(e.message, sizeof(e.message), "the answer has no %s", want);
		rc = aws_fail(context, &e);
	}
	aws_ec2_form_free(f);
	return rc;
}

int aws_ec2_find(struct aws_run *r, struct aws_form *f, const char *context, const char *want,
		 char *out, size_t outlen)
{
	struct aws_error e;
	int rc = 0;

	if (ec2_call_raw(r, f, want, out, outlen, &e) < 0)
		rc = aws_fail(context, &e);
	aws_ec2_form_free(f);
	return rc;
}

/* ---- Describe* of every kind, into the inventory ---- */

struct describe_op {
	enum aws_kind kind;
	const char *action;
	const char *set;   /* the list element of the answer */
	unsigned max;      /* MaxResults; 0: the call does not page */
	const char *extra; /* a second filter; NULL: none */
};

static const struct describe_op describe_ops[] = {
    {AWS_KIND_VPC, "DescribeVpcs", "vpcSet", 1000, NULL},
    {AWS_KIND_SUBNET, "DescribeSubnets", "subnetSet", 1000, NULL},
    {AWS_KIND_IGW, "DescribeInternetGateways", "internetGatewaySet", 1000, NULL},
    {AWS_KIND_EIP, "DescribeAddresses", "addressesSet", 0, NULL},
    /* Deleted gateways stay listed for an hour; they need nothing. */
    {AWS_KIND_NAT, "DescribeNatGateways", "natGatewaySet", 1000,
     "&Filter.2.Name=state&Filter.2.Value.1=pending&Filter.2.Value.2=available"
     "&Filter.2.Value.3=deleting&Filter.2.Value.4=failed"},
    {AWS_KIND_RTB, "DescribeRouteTables", "routeTableSet", 100, NULL},
    {AWS_KIND_SG, "DescribeSecurityGroups", "securityGroupInfo", 1000, NULL},
    {AWS_KIND_DHCP, "DescribeDhcpOptions", "dhcpOptionsSet", 1000, NULL},
    /* Deleted, rejected, failed and expired connections cannot be deleted again. */
    {AWS_KIND_PCX, "DescribeVpcPeeringConnections", "vpcPeeringConnectionSet", 1000,
     "&Filter.2.Name=status-code&Filter.2.Value.1=initiating-request"
     "&Filter.2.Value.2=pending-acceptance&Filter.2.Value.3=provisioning"
     "&Filter.2.Value.4=active"},
};

struct describe {
	const struct describe_op *op;
	struct aws_inventory *inv;
	size_t page_start;
	char item[128]; /* "DescribeVpcsResponse/vpcSet/item" */
	size_t item_len;
	struct aws_res cur;
	char tag_key[128];
	struct aws_route route;
	struct aws_assoc assoc;
	struct aws_rule perm;        /* ipPermissions/item being read */
	char (*sources)[AWS_ID_LEN]; /* its ipRanges and groups */
	size_t nsources;
	char option_key[32];
	char (*values)[NET_ZONE_LEN]; /* dhcpConfigurationSet/item values */
	size_t nvalues;
	char next[1024];
	bool failed; /* out of memory */
};

static void describe_reset(void *arg)
{
	struct describe *d = arg;

	while (d->inv->n > d->page_start) {
		struct aws_res *x = d->inv->v[--d->inv->n];
		aws_res_clear(x);
		free(x);
	}
	aws_res_clear(&d->cur);
	d->next[0] = '\0';
	d->nsources = d->nvalues = 0;
}

/* The path below the resource's <item>, or NULL when path is not inside one. */
static const char *below_item(const struct describe *d, const char *path)
{
	if (strncmp(path, d->item, d->item_len) != 0 || path[d->item_len] != '/')
		return NULL;
	return path + d->item_len + 1;
}

static void describe_start(void *arg, const char *path, size_t depth)
{
	struct describe *d = arg;
	const char *rel;

	(void)depth;
	if (strcmp(path, d->item) == 0) {
		aws_res_clear(&d->cur);
		d->cur.kind = d->op->kind;
		return;
	}
	rel = below_item(d, path);
	if (rel == NULL)
		return;
	if (strcmp(rel, "routeSet/item") == 0)
		memset(&d->route, 0, sizeof(d->route));
	else if (strcmp(rel, "associationSet/item") == 0)
		memset(&d->assoc, 0, sizeof(d->assoc));
	else if (strcmp(rel, "ipPermissions/item") == 0) {
		memset(&d->perm, 0, sizeof(d->perm));
		d->perm.from = d->perm.to = -1;
		d->nsources = 0;
	} else if (strcmp(rel, "dhcpConfigurationSet/item") == 0) {
		d->option_key[0] = '\0';
		d->nvalues = 0;
	}
}

#define COPY(dst, text) snprintf((dst), sizeof(dst), "%s", (text))

static void push_source(struct describe *d, const char *text)
{
	char(*grown)[AWS_ID_LEN] = aws_grow(d->sources, &d->nsources, sizeof(*grown));

	if (grown == NULL) {
		d->failed = true;
		return;
	}
	d->sources = grown;
	COPY(d->sources[d->nsources - 1], text);
}

static void push_value(struct describe *d, const char *text)
{
	char(*grown)[NET_ZONE_LEN] = aws_grow(d->values, &d->nvalues, sizeof(*grown));

	if (grown == NULL) {
		d->failed = true;
		return;
	}
	d->values = grown;
	COPY(d->values[d->nvalues - 1], text);
}

/* A route, association, permission or option is complete: add it to the resource. */
static void push_sub(struct describe *d, const char *rel)
{
	struct aws_res *x = &d->cur;
	bool ok = true;

	if (strcmp(rel, "routeSet/item") == 0 && d->route.dest[0] != '\0') {
		struct aws_route *v = aws_grow(x->routes, &x->nroutes, sizeof(*v));
		if ((ok = v != NULL)) {
			x->routes = v;
			v[x->nroutes - 1] = d->route;
		}
	} else if (strcmp(rel, "associationSet/item") == 0) {
		struct aws_assoc *v = aws_grow(x->assocs, &x->nassocs, sizeof(*v));
		if ((ok = v != NULL)) {
			x->assocs = v;
			v[x->nassocs - 1] = d->assoc;
		}
	} else if (strcmp(rel, "ipPermissions/item") == 0) {
		/* One rule per source; IPv6 ranges and prefix lists are not ours to manage. */
		for (size_t i = 0; i < d->nsources && ok; i++) {
			struct aws_rule *v = aws_grow(x->rules, &x->nrules, sizeof(*v));
			if ((ok = v != NULL)) {
				x->rules = v;
				v[x->nrules - 1] = d->perm;
				COPY(v[x->nrules - 1].source, d->sources[i]);
			}
		}
	} else if (strcmp(rel, "dhcpConfigurationSet/item") == 0) {
		for (size_t i = 0; i < d->nvalues && ok; i++) {
			struct aws_option *v = aws_grow(x->options, &x->noptions, sizeof(*v));
			if ((ok = v != NULL)) {
				x->options = v;
				COPY(v[x->noptions - 1].key, d->option_key);
				COPY(v[x->noptions - 1].value, d->values[i]);
			}
		}
	}
	if (!ok)
		d->failed = true;
}

static void push_vpc(struct describe *d, const char *text)
{
	struct aws_res *x = &d->cur;
	char(*grown)[AWS_ID_LEN] = aws_grow(x->vpcs, &x->nvpcs, sizeof(*grown));

	if (grown == NULL) {
		d->failed = true;
		return;
	}
	x->vpcs = grown;
	COPY(x->vpcs[x->nvpcs - 1], text);
}

/* Fields that name the resource or its place, whatever its kind. */
static bool common_field(struct describe *d, const char *rel, const char *text)
{
	struct aws_res *x = &d->cur;
	enum aws_kind k = x->kind;

	if (strcmp(rel, "tagSet/item/key") == 0)
		COPY(d->tag_key, text);
	else if (strcmp(rel, "tagSet/item/value") == 0) {
		if (strcmp(d->tag_key, "vpcdns:name") == 0)
			COPY(x->name, text);
	} else if (strcmp(rel, "vpcId") == 0) {
		if (k == AWS_KIND_VPC)
			COPY(x->id, text);
		else
			COPY(x->vpc, text);
	} else if (strcmp(rel, "subnetId") == 0) {
		if (k == AWS_KIND_SUBNET)
			COPY(x->id, text);
		else
			COPY(x->subnet, text);
	} else if (strcmp(rel, "dhcpOptionsId") == 0) {
		if (k == AWS_KIND_DHCP)
			COPY(x->id, text);
		else
			COPY(x->dhcp, text);
	} else if (strcmp(rel, "cidrBlock") == 0)
		COPY(x->cidr, text);
	else if (strcmp(rel, "availabilityZone") == 0)
		COPY(x->az, text);
	else if (strcmp(rel, "state") == 0 || strcmp(rel, "status/code") == 0)
		COPY(x->state, text);
	else
		return false;
	return true;
}

/* Fields of one kind, and the lists inside a resource. */
static void kind_field(struct describe *d, const char *rel, const char *text)
{
	struct aws_res *x = &d->cur;

	if (strcmp(rel, "internetGatewayId") == 0 || strcmp(rel, "natGatewayId") == 0 ||
	    strcmp(rel, "routeTableId") == 0 || strcmp(rel, "groupId") == 0 ||
	    strcmp(rel, "vpcPeeringConnectionId") == 0 ||
	    (x->kind == AWS_KIND_EIP && strcmp(rel, "allocationId") == 0))
		COPY(x->id, text);
	else if (strcmp(rel, "associationId") == 0)
		COPY(x->assoc, text);
	else if (strcmp(rel, "publicIp") == 0 || strcmp(rel, "groupName") == 0)
		COPY(x->label, text);
	else if (strcmp(rel, "natGatewayAddressSet/item/allocationId") == 0)
		COPY(x->alloc, text);
	else if (strcmp(rel, "attachmentSet/item/vpcId") == 0)
		push_vpc(d, text);
	else if (strcmp(rel, "requesterVpcInfo/vpcId") == 0)
		COPY(x->vpc, text);
	else if (strcmp(rel, "accepterVpcInfo/vpcId") == 0)
		COPY(x->peer, text);
	else if (strcmp(rel, "routeSet/item/destinationCidrBlock") == 0)
		COPY(d->route.dest, text);
	else if (strncmp(rel, "routeSet/item/", 14) == 0 && strlen(rel) > 16 &&
		 strcmp(rel + strlen(rel) - 2, "Id") == 0 && strstr(rel, "OwnerId") == NULL)
		COPY(d->route.target, text); /* gatewayId, natGatewayId, ... */
	else if (strcmp(rel, "routeSet/item/state") == 0)
		COPY(d->route.state, text);
	else if (strcmp(rel, "associationSet/item/routeTableAssociationId") == 0)
		COPY(d->assoc.id, text);
	else if (strcmp(rel, "associationSet/item/subnetId") == 0)
		COPY(d->assoc.subnet, text);
	else if (strcmp(rel, "associationSet/item/main") == 0)
		d->assoc.main = strcmp(text, "true") == 0;
	else if (strcmp(rel, "ipPermissions/item/ipProtocol") == 0)
		COPY(d->perm.proto, text);
	else if (strcmp(rel, "ipPermissions/item/fromPort") == 0)
		d->perm.from = atoi(text);
	else if (strcmp(rel, "ipPermissions/item/toPort") == 0)
		d->perm.to = atoi(text);
	else if (strcmp(rel, "ipPermissions/item/ipRanges/item/cidrIp") == 0 ||
		 strcmp(rel, "ipPermissions/item/groups/item/groupId") == 0)
		push_source(d, text);
	else if (strcmp(rel, "dhcpConfigurationSet/item/key") == 0)
		COPY(d->option_key, text);
	else if (strcmp(rel, "dhcpConfigurationSet/item/valueSet/item/value") == 0)
		push_value(d, text);
	else
		push_sub(d, rel);
}

static void describe_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct describe *d = arg;
	const char *rel;

	(void)depth;
	if (strcmp(path, d->item) == 0) {
		struct aws_res *x = d->cur.id[0] != '\0' ? aws_res_add(d->inv, d->op->kind) : NULL;
		if (x != NULL) {
			*x = d->cur;
			memset(&d->cur, 0, sizeof(d->cur));
		} else if (d->cur.id[0] != '\0') {
			d->failed = true;
		}
		aws_res_clear(&d->cur);
		return;
	}
	if (xml_path_ends(path, "Response/nextToken") && depth == 2) {
		COPY(d->next, text);
		return;
	}
	rel = below_item(d, path);
	if (rel != NULL && !common_field(d, rel, text))
		kind_field(d, rel, text);
}

/* One Describe call, every page, filtered on the stack tag. */
static int describe_kind(struct aws_run *r, const struct describe_op *op)
{
	struct describe d;
	struct xml_handler h = {describe_start, describe_end, &d};
	int rc = 0;

	memset(&d, 0, sizeof(d));
	d.op = op;
	d.inv = &r->inv;
	d.item_len =
	    (size_t)snprintf(d.item, sizeof(d.item), "%sResponse/%s/item", op->action, op->set);
	for (unsigned page = 0; rc == 0 && page < 10000; page++) {
		struct aws_form f;
		struct aws_call call = {AWS_EC2, "POST",         "/", NULL, NULL, form_type,
					&h,      describe_reset, &d};
		struct aws_error e = {0};
		char next[sizeof(d.next)];

		COPY(next, d.next);
		aws_ec2_form_init(&f, op->action);
		aws_ec2_form_add(&f, "tag:vpcdns:stack", "Filter.1.Name");
		aws_ec2_form_add(&f, r->net->stack, "Filter.1.Value.1");
		if (op->extra != NULL)
			form_append(&f, op->extra);
		if (op->max != 0) {
			char max[16];
			snprintf(max, sizeof(max), "%u", op->max);
			aws_ec2_form_add(&f, max, "MaxResults");
		}
		if (next[0] != '\0')
			aws_ec2_form_add(&f, next, "NextToken");
		call.body = f.buf;
		d.page_start = r->inv.n;
		if (f.failed || aws_client_call(r->client, &call, &e) < 0 || d.failed) {
			if (f.failed || d.failed) {
				snprintf(e.code, sizeof(e.code), "LocalError");
				snprintf(e.message, sizeof(e.message), "out of memory");
			}
			rc = aws_fail(op->action, &e);
		}
		aws_ec2_form_free(&f);
		if (d.next[0] == '\0' || op->max == 0)
			break;
	}
	aws_res_clear(&d.cur);
	free(d.sources);
	free(d.values);
	return rc;
}

/* enableDnsSupport / enableDnsHostnames of a VPC (one attribute per call). */
static int vpc_attribute(struct aws_run *r, const char *vpc, const char *attr, bool *out)
{
	struct aws_form f;
	char want[64], value[16] = "", context[128];

	aws_ec2_form_init(&f, "DescribeVpcAttribute");
	aws_ec2_form_add(&f, vpc, "VpcId");
	aws_ec2_form_add(&f, attr, "Attribute");
	snprintf(want, sizeof(want), "%s/value", attr);
	snprintf(context, sizeof(context), "DescribeVpcAttribute %s %s", vpc, attr);
	if (aws_ec2_call(r, &f, context, want, value, sizeof(value)) < 0)
		return -1;
	*out = strcmp(value, "true") == 0;
	return 0;
}

int aws_ec2_describe(struct aws_run *r)
{
	size_t first = r->inv.n;

	for (size_t i = 0; i < sizeof(describe_ops) / sizeof(describe_ops[0]); i++)
		if (describe_kind(r, &describe_ops[i]) < 0)
			return -1;
	for (size_t i = first; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		if (x->kind != AWS_KIND_VPC)
			continue;
		if (vpc_attribute(r, x->id, "enableDnsSupport", &x->dns_support) < 0 ||
		    vpc_attribute(r, x->id, "enableDnsHostnames", &x->dns_hostnames) < 0)
			return -1;
	}
	return 0;
}

/* ---- waiting ---- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool state_in(const char *state, const char *states)
{
	size_t n = strlen(state);

	for (const char *p = states; *p != '\0';) {
		size_t l = strcspn(p, "|");
		if (l == n && strncmp(p, state, n) == 0)
			return true;
		p += l;
		if (*p == '|')
			p++;
	}
	return false;
}

/* States a NAT gateway or peering connection never leaves. */
static bool state_final(const char *state)
{
	return state_in(state, "failed|rejected|expired|deleted");
}

/* The state of one NAT gateway or peering connection; "deleted" when it is gone. */
static int poll_state(struct aws_run *r, enum aws_kind kind, const char *id, char *state,
		      size_t len, struct aws_error *e)
{
	bool nat = kind == AWS_KIND_NAT;
	struct aws_form f;
	int rc;

	state[0] = '\0';
	aws_ec2_form_init(&f, nat ? "DescribeNatGateways" : "DescribeVpcPeeringConnections");
	aws_ec2_form_add(&f, id, nat ? "NatGatewayId.1" : "VpcPeeringConnectionId.1");
	rc = ec2_call_raw(r, &f, nat ? "natGatewaySet/item/state" : "item/status/code", state, len,
			  e);
	aws_ec2_form_free(&f);
	if (rc < 0 && strstr(e->code, "NotFound") == NULL)
		return -1;
	if (state[0] == '\0')
		snprintf(state, len, "deleted");
	return 0;
}

int aws_ec2_wait(struct aws_run *r, enum aws_kind kind, const char *id, const char *states)
{
	const char *what = kind == AWS_KIND_NAT ? "NAT gateway" : "peering connection";
	struct timespec start, now;
	struct aws_error e = {0};
	char state[32] = "", context[AWS_CONTEXT_LEN];

	clock_gettime(CLOCK_MONOTONIC, &start);
	snprintf(context, sizeof(context), "waiting for %s %s", what, id);
	for (;;) {
		if (poll_state(r, kind, id, state, sizeof(state), &e) < 0)
			return aws_fail(context, &e);
		if (state_in(state, states))
			return 0;
		if (state_final(state))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)r->opts->wait_s)
			break;
		sleep_ms(r->opts->poll_ms != 0 ? r->opts->poll_ms : 2000);
	}
	memset(&e, 0, sizeof(e));
	snprintf(e.code, sizeof(e.code), state_final(state) ? "UnexpectedState" : "Timeout");
	snprintf(e.message, sizeof(e.message), "%s after %u s (waiting for %s)", state,
		 state_final(state) ? 0 : r->opts->wait_s, states);
	return aws_fail(context, &e);
}
