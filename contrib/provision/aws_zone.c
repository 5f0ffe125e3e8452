/*
 * aws_zone: the stack's Route 53 private hosted zones (see aws_backend.h).
 * A zone is the stack's when its CallerReference starts "vpcdns:STACK:ENV:";
 * it is also tagged (ChangeTagsForResource) for people and other tools.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "contrib/provision/aws_backend.h"

#define R53_NS    "https://route53.amazonaws.com/doc/2013-04-01/"
#define R53_BATCH 100 /* changes per ChangeResourceRecordSets */

/* ---- a growing string ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *grown = realloc(b->p, cap);
		if (grown == NULL) {
			b->failed = true;
			return;
		}
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Element text, escaped for XML. */
static void sb_text(struct sbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '&')
			sb_str(b, "&amp;");
		else if (*s == '<')
			sb_str(b, "&lt;");
		else if (*s == '>')
			sb_str(b, "&gt;");
		else
			sb_add(b, s, 1);
	}
}

static void sb_elem(struct sbuf *b, const char *name, const char *text)
{
	sb_str(b, "<");
	sb_str(b, name);
	sb_str(b, ">");
	sb_text(b, text);
	sb_str(b, "</");
	sb_str(b, name);
	sb_str(b, ">");
}

/* ---- calls ---- */

static int r53_call(struct aws_run *r, const char *method, const char *path, const char *query,
		    const struct sbuf *body, const struct xml_handler *h, void (*reset)(void *),
		    void *arg, const char *context)
{
	struct aws_call call = {AWS_ROUTE53, method, path,  query, body != NULL ? body->p : NULL,
				NULL,        h,      reset, arg};
	struct aws_error e = {0};

	if (body != NULL && body->failed) {
		snprintf(e.code, sizeof(e.code), "LocalError");
		snprintf(e.message, sizeof(e.message), "out of memory building the request");
		return aws_fail(context, &e);
	}
	if (aws_client_call(r->client, &call, &e) < 0)
		return aws_fail(context, &e);
	return 0;
}

static const char *bare_id(const char *id)
{
	const char *slash = strrchr(id, '/');

	return slash != NULL ? slash + 1 : id;
}

/* ---- listing the stack's zones ---- */

struct zone_list {
	struct aws_run *r;
	size_t start;
	char id[AWS_ID_LEN], name[NET_ZONE_LEN + 2], ref[160];
	bool private_zone;
	bool truncated;
	char marker[AWS_ID_LEN];
	bool failed;
};

static void zone_list_reset(void *arg)
{
	struct zone_list *l = arg;

	while (l->r->inv.n > l->start) {
		struct aws_res *x = l->r->inv.v[--l->r->inv.n];
		aws_res_clear(x);
		free(x);
	}
	l->truncated = false;
	l->marker[0] = '\0';
}

/* A zone of the stack: private, CallerReference "vpcdns:STACK:ENV:...". */
static void zone_found(struct zone_list *l)
{
	const char *ref = l->r->callerref, *env, *colon;
	size_t n = strlen(ref), len = strlen(l->name);
	struct aws_res *x;

	if (!l->private_zone || strncmp(l->ref, ref, n) != 0)
		return;
	env = l->ref + n;
	colon = strchr(env, ':');
	if (colon == NULL || (size_t)(colon - env) >= AWS_NAME_LEN)
		return;
	if ((x = aws_res_add(&l->r->inv, AWS_KIND_ZONE)) == NULL) {
		l->failed = true;
		return;
	}
	snprintf(x->id, sizeof(x->id), "%s", bare_id(l->id));
	snprintf(x->name, sizeof(x->name), "%.*s", (int)(colon - env), env);
	if (len > 0 && l->name[len - 1] == '.')
		l->name[len - 1] = '\0';
	snprintf(x->label, sizeof(x->label), "%s", l->name);
}

static void zone_list_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct zone_list *l = arg;

	(void)depth;
	if (xml_path_ends(path, "HostedZones/HostedZone/Id"))
		snprintf(l->id, sizeof(l->id), "%s", text);
	else if (xml_path_ends(path, "HostedZones/HostedZone/Name"))
		snprintf(l->name, sizeof(l->name), "%s", text);
	else if (xml_path_ends(path, "HostedZones/HostedZone/CallerReference"))
		snprintf(l->ref, sizeof(l->ref), "%s", text);
	else if (xml_path_ends(path, "HostedZone/Config/PrivateZone"))
		l->private_zone = strcmp(text, "true") == 0;
	else if (xml_path_ends(path, "HostedZones/HostedZone")) {
		zone_found(l);
		l->id[0] = l->name[0] = l->ref[0] = '\0';
		l->private_zone = false;
	} else if (xml_path_ends(path, "ListHostedZonesResponse/IsTruncated"))
		l->truncated = strcmp(text, "true") == 0;
	else if (xml_path_ends(path, "ListHostedZonesResponse/NextMarker"))
		snprintf(l->marker, sizeof(l->marker), "%s", text);
}

struct zone_detail {
	struct aws_res *z;
	const char *stack;
	char key[128];
	bool failed;
};

static void zone_detail_reset(void *arg)
{
	struct zone_detail *d = arg;

	d->z->nvpcs = 0;
	d->z->tagged = false;
}

static void zone_detail_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct zone_detail *d = arg;
	struct aws_res *z = d->z;

	(void)depth;
	if (xml_path_ends(path, "GetHostedZoneResponse/VPCs/VPC/VPCId")) {
		char(*grown)[AWS_ID_LEN] = aws_grow(z->vpcs, &z->nvpcs, sizeof(*grown));
		if (grown == NULL) {
			d->failed = true;
			return;
		}
		z->vpcs = grown;
		snprintf(z->vpcs[z->nvpcs - 1], sizeof(z->vpcs[0]), "%s", text);
	} else if (xml_path_ends(path, "Tags/Tag/Key")) {
		snprintf(d->key, sizeof(d->key), "%s", text);
	} else if (xml_path_ends(path, "Tags/Tag/Value")) {
		if (strcmp(d->key, "vpcdns:stack") == 0 && strcmp(text, d->stack) == 0)
			z->tagged = true;
	}
}

/* Its VPCs (GetHostedZone) and whether it carries the stack's tag (ListTagsForResource). */
static int zone_details(struct aws_run *r, struct aws_res *z)
{
	struct zone_detail d = {z, r->net->stack, "", false};
	struct xml_handler h = {NULL, zone_detail_end, &d};
	char path[160], context[AWS_CONTEXT_LEN];

	snprintf(path, sizeof(path), "/2013-04-01/hostedzone/%s", z->id);
	snprintf(context, sizeof(context), "GetHostedZone %s", z->id);
	if (r53_call(r, "GET", path, NULL, NULL, &h, zone_detail_reset, &d, context) < 0)
		return -1;
	snprintf(path, sizeof(path), "/2013-04-01/tags/hostedzone/%s", z->id);
	snprintf(context, sizeof(context), "ListTagsForResource %s", z->id);
	if (r53_call(r, "GET", path, NULL, NULL, &h, NULL, NULL, context) < 0)
		return -1;
	return d.failed ? -1 : 0;
}

int aws_zone_describe(struct aws_run *r)
{
	struct zone_list l;
	struct xml_handler h = {NULL, zone_list_end, &l};
	char query[256] = "maxitems=100";
	size_t first = r->inv.n;

	memset(&l, 0, sizeof(l));
	l.r = r;
	for (unsigned page = 0; page < 10000; page++) {
		l.start = r->inv.n;
		if (r53_call(r, "GET", "/2013-04-01/hostedzone", query, NULL, &h, zone_list_reset,
			     &l, "ListHostedZones") < 0)
			return -1;
		if (l.failed)
			return -1;
		if (!l.truncated || l.marker[0] == '\0')
			break;
		snprintf(query, sizeof(query), "marker=%s&maxitems=100", l.marker);
	}
	for (size_t i = first; i < r->inv.n; i++)
		if (zone_details(r, r->inv.v[i]) < 0)
			return -1;
	return 0;
}

/* ---- changing zones ---- */

int aws_zone_tag(struct aws_run *r, struct aws_res *z)
{
	struct sbuf b = {0};
	char path[160], context[AWS_CONTEXT_LEN];
	int rc;

	sb_str(&b, "<ChangeTagsForResourceRequest xmlns=\"" R53_NS "\"><AddTags><Tag>");
	sb_elem(&b, "Key", "vpcdns:stack");
	sb_elem(&b, "Value", r->net->stack);
	sb_str(&b, "</Tag><Tag>");
	sb_elem(&b, "Key", "vpcdns:name");
	sb_elem(&b, "Value", z->name);
	sb_str(&b, "</Tag><Tag>");
	sb_elem(&b, "Key", "Name");
	sb_elem(&b, "Value", z->name);
	sb_str(&b, "</Tag></AddTags></ChangeTagsForResourceRequest>");
	snprintf(path, sizeof(path), "/2013-04-01/tags/hostedzone/%s", z->id);
	snprintf(context, sizeof(context), "ChangeTagsForResource %s", z->name);
	rc = r53_call(r, "POST", path, NULL, &b, NULL, NULL, NULL, context);
	free(b.p);
	if (rc == 0)
		z->tagged = true;
	return rc;
}

static void vpc_elem(struct sbuf *b, struct aws_run *r, const char *vpc)
{
	sb_str(b, "<VPC>");
	sb_elem(b, "VPCRegion", aws_client_region(r->client));
	sb_elem(b, "VPCId", vpc);
	sb_str(b, "</VPC>");
}

static void push_vpc(struct aws_res *z, const char *vpc)
{
	char(*grown)[AWS_ID_LEN] = aws_grow(z->vpcs, &z->nvpcs, sizeof(*grown));

	if (grown == NULL)
		return; /* only bookkeeping: the next run lists the zone again */
	z->vpcs = grown;
	snprintf(z->vpcs[z->nvpcs - 1], sizeof(z->vpcs[0]), "%s", vpc);
}

static void created_end(void *arg, const char *path, size_t depth, const char *text)
{
	char *id = arg;

	(void)depth;
	if (xml_path_ends(path, "CreateHostedZoneResponse/HostedZone/Id"))
		snprintf(id, AWS_ID_LEN, "%s", bare_id(text));
}

int aws_zone_create(struct aws_run *r, struct aws_res *z, const char *vpc)
{
	struct sbuf b = {0};
	char ref[AWS_CONTEXT_LEN], zone[NET_ZONE_LEN + 4], context[AWS_CONTEXT_LEN],
	    comment[AWS_CONTEXT_LEN];
	struct xml_handler h = {NULL, created_end, z->id};
	uint32_t nonce = 0;
	int rc;

	/* The CallerReference finds the zone again; it must be new on every create. */
	if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
		nonce = (uint32_t)clock();
	snprintf(ref, sizeof(ref), "%s%s:%lld-%08x", r->callerref, z->name, (long long)time(NULL),
		 nonce);
	snprintf(zone, sizeof(zone), "%s.", z->label);
	snprintf(comment, sizeof(comment), "vpcdns %s %s", r->net->stack, z->name);
	sb_str(&b, "<CreateHostedZoneRequest xmlns=\"" R53_NS "\">");
	sb_elem(&b, "Name", zone);
	vpc_elem(&b, r, vpc);
	sb_elem(&b, "CallerReference", ref);
	sb_str(&b, "<HostedZoneConfig>");
	sb_elem(&b, "Comment", comment);
	sb_str(&b, "<PrivateZone>true</PrivateZone></HostedZoneConfig></CreateHostedZoneRequest>");
	snprintf(context, sizeof(context), "CreateHostedZone %s (%s)", z->name, z->label);
	z->id[0] = '\0';
	rc = r53_call(r, "POST", "/2013-04-01/hostedzone", NULL, &b, &h, NULL, NULL, context);
	free(b.p);
	if (rc < 0)
		return -1;
	if (z->id[0] == '\0') {
		struct aws_error e = {.code = "MalformedResponse"};
		snprintf(e.message, sizeof(e.message), "the answer has no HostedZone/Id");
		return aws_fail(context, &e);
	}
	push_vpc(z, vpc);
	return aws_zone_tag(r, z);
}

/* AssociateVPCWithHostedZone or DisassociateVPCFromHostedZone. */
static int zone_vpc(struct aws_run *r, const struct aws_res *z, const char *vpc, bool add)
{
	const char *op = add ? "AssociateVPCWithHostedZone" : "DisassociateVPCFromHostedZone";
	struct sbuf b = {0};
	char path[160], context[AWS_CONTEXT_LEN];
	int rc;

	sb_str(&b, "<");
	sb_str(&b, op);
	sb_str(&b, "Request xmlns=\"" R53_NS "\">");
	vpc_elem(&b, r, vpc);
	sb_str(&b, "</");
	sb_str(&b, op);
	sb_str(&b, "Request>");
	snprintf(path, sizeof(path), "/2013-04-01/hostedzone/%s/%s", z->id,
		 add ? "associatevpc" : "disassociatevpc");
	snprintf(context, sizeof(context), "%s %s %s", op, z->name, vpc);
	rc = r53_call(r, "POST", path, NULL, &b, NULL, NULL, NULL, context);
	free(b.p);
	return rc;
}

int aws_zone_associate(struct aws_run *r, struct aws_res *z, const char *vpc)
{
	if (zone_vpc(r, z, vpc, true) < 0)
		return -1;
	push_vpc(z, vpc);
	return 0;
}

int aws_zone_disassociate(struct aws_run *r, const struct aws_res *z, const char *vpc)
{
	return zone_vpc(r, z, vpc, false);
}

/* ---- emptying and deleting a zone ---- */

/*
 * Record sets are copied from the listing element by element, so a DELETE
 * matches them exactly whatever routing fields they carry.
 */
struct rrsets {
	char apex[NET_ZONE_LEN + 4];
	struct sbuf cur;
	size_t set_depth; /* 0: not inside a ResourceRecordSet */
	char name[1100], type[16];
	char **v; /* <ResourceRecordSet>...</ResourceRecordSet> to delete */
	size_t n;
	size_t page_start;
	bool truncated;
	char next_name[1100], next_type[16], next_id[160];
	bool failed;
};

static const char *last_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

static void rrsets_reset(void *arg)
{
	struct rrsets *s = arg;

	while (s->n > s->page_start)
		free(s->v[--s->n]);
	free(s->cur.p);
	memset(&s->cur, 0, sizeof(s->cur));
	s->set_depth = 0;
	s->truncated = false;
	s->next_name[0] = s->next_type[0] = s->next_id[0] = '\0';
}

static void rrsets_start(void *arg, const char *path, size_t depth)
{
	struct rrsets *s = arg;

	if (s->set_depth == 0 && xml_path_ends(path, "ResourceRecordSets/ResourceRecordSet")) {
		s->set_depth = depth;
		s->name[0] = s->type[0] = '\0';
		s->cur.len = 0;
	}
	if (s->set_depth == 0)
		return;
	sb_str(&s->cur, "<");
	sb_str(&s->cur, last_name(path));
	sb_str(&s->cur, ">");
}

/* A whole record set: kept for deletion unless it is the apex SOA or NS. */
static void rrset_done(struct rrsets *s)
{
	char **grown;

	s->set_depth = 0;
	if (s->cur.failed) {
		s->failed = true;
		return;
	}
	if (strcmp(s->type, "SOA") == 0 ||
	    (strcmp(s->type, "NS") == 0 && strcmp(s->name, s->apex) == 0))
		return;
	grown = aws_grow(s->v, &s->n, sizeof(*grown));
	if (grown == NULL || (grown[s->n - 1] = strdup(s->cur.p)) == NULL) {
		s->failed = true;
		if (grown != NULL) {
			s->v = grown;
			s->n--;
		}
		return;
	}
	s->v = grown;
}

static void rrsets_end(void *arg, const char *path, size_t depth, const char *text)
{
	struct rrsets *s = arg;

	if (s->set_depth != 0) {
		sb_text(&s->cur, text);
		sb_str(&s->cur, "</");
		sb_str(&s->cur, last_name(path));
		sb_str(&s->cur, ">");
		if (depth == s->set_depth + 1 && strcmp(last_name(path), "Name") == 0)
			snprintf(s->name, sizeof(s->name), "%s", text);
		else if (depth == s->set_depth + 1 && strcmp(last_name(path), "Type") == 0)
			snprintf(s->type, sizeof(s->type), "%s", text);
		else if (depth == s->set_depth)
			rrset_done(s);
		return;
	}
	if (xml_path_ends(path, "ListResourceRecordSetsResponse/IsTruncated"))
		s->truncated = strcmp(text, "true") == 0;
	else if (xml_path_ends(path, "ListResourceRecordSetsResponse/NextRecordName"))
		snprintf(s->next_name, sizeof(s->next_name), "%s", text);
	else if (xml_path_ends(path, "ListResourceRecordSetsResponse/NextRecordType"))
		snprintf(s->next_type, sizeof(s->next_type), "%s", text);
	else if (xml_path_ends(path, "ListResourceRecordSetsResponse/NextRecordIdentifier"))
		snprintf(s->next_id, sizeof(s->next_id), "%s", text);
}

/* The query of the next page: the cursor handed back byte for byte, encoded. */
static int next_query(const struct rrsets *s, char *query, size_t len)
{
	char *n = aws_encode(s->next_name), *t = aws_encode(s->next_type);
	char *i = s->next_id[0] != '\0' ? aws_encode(s->next_id) : NULL;
	int rc = n != NULL && t != NULL && (s->next_id[0] == '\0' || i != NULL) ? 0 : -1;

	if (rc == 0)
		snprintf(query, len, "name=%s&type=%s%s%s&maxitems=300", n, t,
			 i != NULL ? "&identifier=" : "", i != NULL ? i : "");
	free(n);
	free(t);
	free(i);
	return rc;
}

static int list_rrsets(struct aws_run *r, const struct aws_res *z, struct rrsets *s)
{
	struct xml_handler h = {rrsets_start, rrsets_end, s};
	char path[160], query[4096] = "maxitems=300", context[AWS_CONTEXT_LEN];

	snprintf(path, sizeof(path), "/2013-04-01/hostedzone/%s/rrset", z->id);
	snprintf(context, sizeof(context), "ListResourceRecordSets %s", z->name);
	for (unsigned page = 0; page < 100000; page++) {
		s->page_start = s->n;
		if (r53_call(r, "GET", path, query, NULL, &h, rrsets_reset, s, context) < 0)
			return -1;
		if (s->failed) {
			struct aws_error e = {.code = "LocalError", .message = "out of memory"};
			return aws_fail(context, &e);
		}
		if (!s->truncated)
			return 0;
		if (next_query(s, query, sizeof(query)) < 0)
			return -1;
	}
	return 0;
}

static int delete_rrsets(struct aws_run *r, const struct aws_res *z, char **v, size_t n)
{
	struct sbuf b = {0};
	char path[160], context[AWS_CONTEXT_LEN];
	int rc;

	sb_str(&b, "<ChangeResourceRecordSetsRequest xmlns=\"" R53_NS "\"><ChangeBatch><Changes>");
	for (size_t i = 0; i < n; i++) {
		sb_str(&b, "<Change><Action>DELETE</Action>");
		sb_str(&b, v[i]);
		sb_str(&b, "</Change>");
	}
	sb_str(&b, "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>");
	snprintf(path, sizeof(path), "/2013-04-01/hostedzone/%s/rrset/", z->id);
	snprintf(context, sizeof(context), "ChangeResourceRecordSets %s (deleting %zu records)",
		 z->name, n);
	rc = r53_call(r, "POST", path, NULL, &b, NULL, NULL, NULL, context);
	free(b.p);
	return rc;
}

int aws_zone_delete(struct aws_run *r, const struct aws_res *z)
{
	struct rrsets s;
	char path[160], context[AWS_CONTEXT_LEN];
	int rc = -1;

	memset(&s, 0, sizeof(s));
	snprintf(s.apex, sizeof(s.apex), "%s.", z->label);
	if (list_rrsets(r, z, &s) < 0)
		goto out;
	for (size_t i = 0; i < s.n; i += R53_BATCH)
		if (delete_rrsets(r, z, s.v + i, s.n - i < R53_BATCH ? s.n - i : R53_BATCH) < 0)
			goto out;
	snprintf(path, sizeof(path), "/2013-04-01/hostedzone/%s", z->id);
	snprintf(context, sizeof(context), "DeleteHostedZone %s (%s)", z->name, z->label);
	rc = r53_call(r, "DELETE", path, NULL, NULL, NULL, NULL, NULL, context);
out:
	for (size_t i = 0; i < s.n; i++)
		free(s.v[i]);
	free(s.v);
	free(s.cur.p);
	return rc;
}
