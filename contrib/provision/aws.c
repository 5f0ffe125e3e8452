/*
 * aws: provision_aws. What exists is listed by the stack tag (aws_ec2.c,
 * aws_zone.c); each resource the network wants claims the one that fits it
 * (aws_want.c); what nobody claimed is deleted (aws_teardown.c); what is
 * missing or different is made or changed (aws_build.c); DHCP options the
 * network replaced are deleted last, once the new ones are associated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/log.h"
#include "contrib/provision/aws_backend.h"

bool aws_doing(const struct aws_run *r)
{
	return r->cmd != PROVISION_PLAN;
}

int aws_fail(const char *context, const struct aws_error *e)
{
	log_errx("%s: %s: %s", context, e->code[0] != '\0' ? e->code : "Error",
		 e->message[0] != '\0' ? e->message : "(no message)");
	return -1;
}

void *aws_grow(void *array, size_t *n, size_t size)
{
	char *grown = realloc(array, (*n + 1) * size);

	if (grown == NULL)
		return NULL;
	memset(grown + *n * size, 0, size);
	(*n)++;
	return grown;
}

struct aws_res *aws_res_add(struct aws_inventory *inv, enum aws_kind kind)
{
	struct aws_res **grown = realloc(inv->v, (inv->n + 1) * sizeof(*grown));
	struct aws_res *x;

	if (grown == NULL)
		return NULL;
	inv->v = grown;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->kind = kind;
	inv->v[inv->n++] = x;
	return x;
}

void aws_res_clear(struct aws_res *x)
{
	free(x->routes);
	free(x->assocs);
	free(x->rules);
	free(x->options);
	free(x->vpcs);
	memset(x, 0, sizeof(*x));
}

void aws_inventory_free(struct aws_inventory *inv)
{
	for (size_t i = 0; i < inv->n; i++) {
		aws_res_clear(inv->v[i]);
		free(inv->v[i]);
	}
	free(inv->v);
	inv->v = NULL;
	inv->n = 0;
}
/* ---- finding and claiming ---- */

/* The resource of kind and name the network wants (found or planned), or NULL. */
struct aws_res *aws_kept(const struct aws_run *r, enum aws_kind kind, const char *name)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		if (x->kind == kind && x->keep && strcmp(x->name, name) == 0)
			return x;
	}
	return NULL;
}

const char *aws_kept_id(const struct aws_run *r, enum aws_kind kind, const char *name)
{
	const struct aws_res *x = aws_kept(r, kind, name);

	return x != NULL ? x->id : "";
}

/* A resource that does not exist yet: planned (id "" in plan mode) or about to be made. */
struct aws_res *aws_planned(struct aws_run *r, enum aws_kind kind, const char *name)
{
	struct aws_res *x = aws_res_add(&r->inv, kind);

	if (x == NULL) {
		log_errx("%s: out of memory", name);
		return NULL;
	}
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->keep = true;
	return x;
}

bool aws_has_vpc(const struct aws_res *x, const char *vpc)
{
	for (size_t i = 0; i < x->nvpcs; i++)
		if (strcmp(x->vpcs[i], vpc) == 0)
			return true;
	return false;
}
/* What the AWS backend cannot build from an otherwise valid network. */
static int check_network(const struct network *net)
{
	int rc = 0;

	for (size_t t = 0; t < net->ntiers; t++)
		if (strcmp(net->tiers[t].name, "vpcdnsd") == 0) {
			log_errx("%s: tier vpcdnsd: the name is taken by the DNS security group",
				 net->path);
			rc = -1;
		}
	for (size_t e = 0; e < net->nenvs; e++)
		if (aws_want_internet(net, e, NET_INTERNET_NAT) &&
		    aws_want_nat_subnet(net, e) == NULL) {
			log_errx("%s: env %s: a tier has internet = nat but no tier has "
				 "internet = igw to hold the NAT gateway",
				 net->path, net->envs[e].name);
			rc = -1;
		}
	return rc;
}

static struct aws_client *client_for(const struct network *net, char *err, size_t errlen)
{
	struct aws_settings s;

	memset(&s, 0, sizeof(s));
	/* AWS_REGION (then AWS_DEFAULT_REGION) wins, as in every AWS tool; else the network's. */
	if (getenv("AWS_REGION") == NULL && getenv("AWS_DEFAULT_REGION") == NULL)
		s.region = net->region;
	return aws_client_new(&s, err, errlen);
}

static void print_ids(const struct aws_run *r)
{
	for (size_t e = 0; e < r->net->nenvs; e++) {
		const char *name = r->net->envs[e].name;
		fprintf(r->opts->out, "%s: vpc %s, hosted zone %s (%s)\n", name,
			aws_kept_id(r, AWS_KIND_VPC, name), aws_kept_id(r, AWS_KIND_ZONE, name),
			r->net->envs[e].zone);
	}
}

/*
 * Destroy stops before deleting anything while instances still run in the
 * stack's VPCs: deleting their subnets would fail halfway, after the NAT
 * gateways, peering and security groups were already gone.
 */
static int refuse_busy_vpcs(struct aws_run *r)
{
	int rc = 0;

	for (size_t i = 0; i < r->inv.n && rc == 0; i++) {
		const struct aws_res *vpc = r->inv.v[i];
		char context[AWS_CONTEXT_LEN], instance[AWS_ID_LEN];
		struct aws_form f;

		if (vpc->kind != AWS_KIND_VPC)
			continue;
		aws_ec2_form_init(&f, "DescribeInstances");
		aws_ec2_form_add(&f, "vpc-id", "Filter.1.Name");
		aws_ec2_form_add(&f, vpc->id, "Filter.1.Value.1");
		aws_ec2_form_add(&f, "instance-state-name", "Filter.2.Name");
		aws_ec2_form_add(&f, "pending", "Filter.2.Value.1");
		aws_ec2_form_add(&f, "running", "Filter.2.Value.2");
		aws_ec2_form_add(&f, "stopping", "Filter.2.Value.3");
		aws_ec2_form_add(&f, "stopped", "Filter.2.Value.4");
		snprintf(context, sizeof(context), "DescribeInstances %s", vpc->name);
		if (aws_ec2_find(r, &f, context, "instancesSet/item/instanceId", instance,
				 sizeof(instance)) < 0)
			return -1;
		if (instance[0] != '\0') {
			log_errx("destroy: vpc %s (%s) still has instances (%s first); terminate "
				 "them, then destroy again. Nothing was deleted.",
				 vpc->name, vpc->id, instance);
			rc = -1;
		}
	}
	return rc;
}

int provision_aws(const struct network *net, enum provision_cmd cmd,
		  const struct provision_opts *opts)
{
	static const char *const verbs[] = {"Plan", "Apply", "Destroy"};
	struct aws_run r;
	char err[512];
	int rc = -1;

	memset(&r, 0, sizeof(r));
	r.net = net;
	r.cmd = cmd;
	r.opts = opts;
	r.plan.out = opts->out;
	snprintf(r.callerref, sizeof(r.callerref), "vpcdns:%s:", net->stack);
	if (check_network(net) < 0)
		return -1;
	if ((r.client = client_for(net, err, sizeof(err))) == NULL) {
		log_errx("%s", err);
		return -1;
	}
	if (aws_ec2_describe(&r) < 0 || aws_zone_describe(&r) < 0)
		goto out;
	if (cmd == PROVISION_DESTROY) {
		if (refuse_busy_vpcs(&r) < 0 || aws_teardown(&r, true) < 0)
			goto out;
	} else {
		aws_want_claim(&r);
		if (aws_teardown(&r, false) < 0 || aws_build(&r) < 0 || aws_teardown(&r, true) < 0)
			goto out;
	}
	plan_summary(&r.plan, verbs[cmd]);
	if (cmd == PROVISION_APPLY)
		print_ids(&r);
	rc = 0;
out:
	aws_inventory_free(&r.inv);
	aws_client_free(r.client);
	return rc;
}

int provision_aws_sources(const struct network *net, struct policy_env_source *out, char *err,
			  size_t errlen)
{
	struct aws_run r;
	struct provision_opts opts = {.out = stdout};
	int rc = -1;

	memset(&r, 0, sizeof(r));
	r.net = net;
	r.cmd = PROVISION_PLAN;
	r.opts = &opts;
	snprintf(r.callerref, sizeof(r.callerref), "vpcdns:%s:", net->stack);
	if ((r.client = client_for(net, err, errlen)) == NULL)
		return -1;
	if (aws_ec2_describe(&r) < 0 || aws_zone_describe(&r) < 0) {
		snprintf(err, errlen, "looking up the stack %s failed (see above)", net->stack);
		goto out;
	}
	aws_want_claim(&r);
	for (size_t e = 0; e < net->nenvs; e++) {
		const char *vpc = aws_kept_id(&r, AWS_KIND_VPC, net->envs[e].name);
		const char *zone = aws_kept_id(&r, AWS_KIND_ZONE, net->envs[e].name);
		out[e].vpc_id = vpc[0] != '\0' ? strdup(vpc) : NULL;
		out[e].hosted_zone_id = zone[0] != '\0' ? strdup(zone) : NULL;
	}
	/* A policy without its sources would fail later, in vpcdnsd -t: say it now. */
	rc = 0;
	for (size_t e = 0; e < net->nenvs && rc == 0; e++)
		if (out[e].vpc_id == NULL || out[e].hosted_zone_id == NULL) {
			snprintf(err, errlen,
				 "environment %s of stack %s has no %s yet (run apply first)",
				 net->envs[e].name, net->stack,
				 out[e].vpc_id == NULL ? "VPC" : "hosted zone");
			rc = -1;
		}
out:
	aws_inventory_free(&r.inv);
	aws_client_free(r.client);
	return rc;
}
