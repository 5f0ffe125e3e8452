/*
 * netns: the lab backend of vpcdns-provision. The network becomes network
 * namespaces on this machine, all named "STACK.ROLE" (a stack name has no
 * dot, so one stack's namespaces are never another's):
 *
 *   STACK.internet    a bridge playing the internet, with the upstream resolver
 *   STACK.r-ENV       the VPC router: one bridge per subnet at the subnet's .1,
 *                     nftables for NAT and the persistence tier's security group
 *   STACK.h-HOST      a host: eth0 on its subnet's bridge, /etc/netns/NS/resolv.conf
 *                     from the DHCP options (vpcdnsd's addresses, the env's zone)
 *
 * Links: "wan" from each router to the internet bridge (NAT for igw and nat
 * tiers, nothing out for tiers with internet = none) and one veth pair per
 * peering with routes both ways. vpcdnsd (this build) runs in each vpcdnsd
 * host with the generated zone policy, and a second vpcdnsd plays the upstream
 * resolver on the internet.
 *
 * Every resource has a spec (the text that says how it is built); after it is
 * built the spec is stored in RUN_DIR/state/ID. plan compares the wanted specs
 * with the stored ones and with what exists (namespaces, live processes); a
 * resource whose spec changed is rebuilt, and so is everything built on it.
 * A stored spec is written before anything is built: an interrupted apply leaves
 * a spec that the next apply or destroy finds.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/log.h"
#include "contrib/provision/plan.h"
#include "contrib/provision/policy.h"
#include "contrib/provision/provision.h"

#define NETNS_RUN  "/run/netns"
#define NETNS_ETC  "/etc/netns"
#define MAX_DEPS   4
#define STOP_WAIT  5000 /* ms a process gets to stop after SIGTERM */
#define START_WAIT 5000 /* ms vpcdnsd gets to write its pidfile */

enum res_kind { RES_NETNS, RES_LINK, RES_PROCESS };
enum res_action { ACT_NONE, ACT_CREATE, ACT_CHANGE, ACT_DELETE };

struct res {
	enum res_kind kind;
	char id[256];     /* file name under state/: "ns-r-production", "proc-dns-x-1" */
	char label[256];  /* what plan prints after the kind */
	char ns[256];     /* the namespace it is in (a netns: itself) */
	char detail[512]; /* what plan prints in parentheses */
	char *spec;
	int deps[MAX_DEPS];
	size_t ndeps;
	enum res_action action;
	const char *why;
	/* what it is built from */
	size_t env, peer;
	const struct net_host *host; /* NULL for routers, the internet and links */
	bool router, internet, uplink, upstream;
};

struct lab {
	const struct network *net;
	const struct provision_opts *opts;
	struct res *res;
	size_t nres;
	struct res *gone; /* found stored or existing but not wanted */
	size_t ngone;
	struct plan plan;
};

/* ---- small helpers ---- */

static void ns_name(const struct lab *lab, const char *role, char *buf, size_t len)
{
	snprintf(buf, len, "%.63s.%.150s", lab->net->stack, role);
}

static void path_in(const struct lab *lab, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void path_in(const struct lab *lab, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, len, "%s/", lab->opts->run_dir);

	va_start(ap, fmt);
	vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
}

static uint32_t gateway_of(const struct net_subnet *s)
{
	return s->cidr.addr + 1;
}

/* A stable interface name for a host's router-side veth (IFNAMSIZ is 16). */
static void host_ifname(const struct net_host *h, char *buf, size_t len)
{
	uint32_t hash = 2166136261u;

	for (const char *p = h->name; *p != '\0'; p++)
		hash = (hash ^ (unsigned char)*p) * 16777619u;
	snprintf(buf, len, "v%08x", hash);
}

/*
 * Runs a command (argv split at spaces: nothing we pass has one) and waits.
 * 0, or -1 after logging the command and how it ended.
 */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static bool run_quietly; /* a failure is expected: do not log it */

static int run(const char *fmt, ...)
{
	char cmd[1024], *argv[64], *save = NULL, *tok;
	size_t argc = 0;
	va_list ap;
	pid_t pid;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	log_debug("run: %s", cmd);
	char copy[sizeof(cmd)];
	memcpy(copy, cmd, sizeof(cmd));
	for (tok = strtok_r(copy, " ", &save); tok != NULL && argc < 63;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0) {
		log_warn("run %s", cmd);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			if (run_quietly)
				dup2(null, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (run_quietly)
		return -1;
	log_warnx("'%s' failed (%s %d)", cmd, WIFEXITED(status) ? "exit" : "signal",
		  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -1;
}

static int write_file(const char *path, const char *text)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL) {
		log_warn("write %s", tmp);
		return -1;
	}
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		log_warn("write %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The whole file (malloc'ed), or NULL. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (f == NULL)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

static bool ns_exists(const char *ns)
{
	char path[512];

	snprintf(path, sizeof(path), NETNS_RUN "/%s", ns);
	return access(path, F_OK) == 0;
}

static int mkdirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* "%s" formats into a growing spec. */
static void spec_add(char **spec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void spec_add(char **spec, const char *fmt, ...)
{
	size_t used = *spec != NULL ? strlen(*spec) : 0;
	char *line = NULL, *grown;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory");
	grown = realloc(*spec, used + (size_t)n + 1);
	if (grown == NULL)
		fatalx("out of memory");
	memcpy(grown + used, line, (size_t)n + 1);
	*spec = grown;
	free(line);
}

/* ---- what the lab should hold ---- */

static struct res *add_res(struct lab *lab, enum res_kind kind, const char *id)
{
	struct res *r = realloc(lab->res, (lab->nres + 1) * sizeof(*r));

	if (r == NULL)
		fatalx("out of memory");
	lab->res = r;
	r = &lab->res[lab->nres++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	snprintf(r->id, sizeof(r->id), "%s", id);
	return r;
}

static int find_res(const struct lab *lab, const char *id)
{
	for (size_t i = 0; i < lab->nres; i++)
		if (strcmp(lab->res[i].id, id) == 0)
			return (int)i;
	return -1;
}

static void add_dep(struct lab *lab, struct res *r, const char *id)
{
	int d = find_res(lab, id);

	if (d >= 0 && r->ndeps < MAX_DEPS)
		r->deps[r->ndeps++] = d;
}

static bool env_goes_out(const struct network *net, size_t env)
{
	if (net->internet.prefix == 0)
		return false;
	for (size_t i = 0; i < net->nsubnets; i++)
		if (net->subnets[i].env == env &&
		    net->tiers[net->subnets[i].tier].internet != NET_INTERNET_NONE)
			return true;
	return false;
}

/* Appends the env's subnets whose tier matches want() to buf, comma separated. */
static void subnet_list(const struct network *net, size_t env,
			bool (*want)(const struct network *, const struct net_subnet *, size_t),
			size_t arg, char *buf, size_t len)
{
	char text[NET_CIDR_TEXT];
	size_t used = strlen(buf);

	for (size_t i = 0; i < net->nsubnets && used < len; i++) {
		const struct net_subnet *s = &net->subnets[i];
		if (s->env != env || !want(net, s, arg))
			continue;
		net_cidr_text(&s->cidr, text, sizeof(text));
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", text);
	}
}

static bool tier_offline(const struct network *net, const struct net_subnet *s, size_t arg)
{
	(void)arg;
	return net->tiers[s->tier].internet == NET_INTERNET_NONE;
}

static bool tier_online(const struct network *net, const struct net_subnet *s, size_t arg)
{
	return !tier_offline(net, s, arg);
}

static bool tier_is(const struct network *net, const struct net_subnet *s, size_t tier)
{
	(void)net;
	return s->tier == tier;
}

static bool tier_sees(const struct network *net, const struct net_subnet *s, size_t tier)
{
	return (net->tiers[s->tier].sees >> tier) & 1u;
}

/*
 * The router's nftables: NAT out of "wan" for tiers that reach the internet,
 * nothing out for tiers that must not, and the security group of each such
 * tier: only tiers that see it (in this VPC or a peered one that sees this
 * environment) may open connections to it. DNS to vpcdnsd hosts is left to
 * their own group.
 */
static void router_rules(const struct lab *lab, size_t env, char **spec)
{
	const struct network *net = lab->net;
	char list[2048], from[4096], text[NET_CIDR_TEXT];

	spec_add(spec, "table inet vpcdns {\n\tchain forward {\n"
		       "\t\ttype filter hook forward priority 0; policy accept;\n"
		       "\t\tct state established,related accept\n");
	for (size_t t = 0; t < net->ntiers; t++) {
		if (net->tiers[t].internet != NET_INTERNET_NONE)
			continue;
		list[0] = from[0] = '\0';
		subnet_list(net, env, tier_is, t, list, sizeof(list));
		if (list[0] == '\0')
			continue;
		subnet_list(net, env, tier_sees, t, from, sizeof(from));
		for (size_t j = 0; j < net->nenvs; j++)
			if (network_peered(net, env, j) && ((net->envs[j].sees >> env) & 1u))
				subnet_list(net, j, tier_sees, t, from, sizeof(from));
		spec_add(spec, "\t\tip daddr { %s } ip saddr != { %s } drop\n", list,
			 from[0] != '\0' ? from : "127.0.0.1");
	}
	if (env_goes_out(net, env)) {
		list[0] = '\0';
		subnet_list(net, env, tier_offline, 0, list, sizeof(list));
		if (list[0] != '\0')
			spec_add(spec, "\t\toifname \"wan\" ip saddr { %s } drop\n", list);
	}
	spec_add(spec, "\t}\n");
	if (env_goes_out(net, env)) {
		list[0] = '\0';
		subnet_list(net, env, tier_online, 0, list, sizeof(list));
		net_cidr_text(&net->envs[env].cidr, text, sizeof(text));
		spec_add(spec,
			 "\tchain postrouting {\n"
			 "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
			 "\t\toifname \"wan\" ip saddr { %s } masquerade\n\t}\n",
			 list);
	}
	spec_add(spec, "}\n");
}

static void want_router(struct lab *lab, size_t env)
{
	const struct network *net = lab->net;
	char id[256], role[100], gw[16], cidr[NET_CIDR_TEXT];
	struct res *r;

	snprintf(role, sizeof(role), "r-%s", net->envs[env].name);
	snprintf(id, sizeof(id), "ns-%s", role);
	r = add_res(lab, RES_NETNS, id);
	r->router = true;
	r->env = env;
	ns_name(lab, role, r->ns, sizeof(r->ns));
	snprintf(r->label, sizeof(r->label), "%s", r->ns);
	net_cidr_text(&net->envs[env].cidr, cidr, sizeof(cidr));
	snprintf(r->detail, sizeof(r->detail), "router of %s %s", net->envs[env].name, cidr);
	spec_add(&r->spec, "router %s\n", net->envs[env].name);
	for (size_t i = 0; i < net->nsubnets; i++) {
		const struct net_subnet *s = &net->subnets[i];
		if (s->env != env)
			continue;
		net_addr_text(gateway_of(s), gw, sizeof(gw));
		spec_add(&r->spec, "bridge br%zu %s/%u %s\n", i, gw, s->cidr.prefix, s->name);
	}
	router_rules(lab, env, &r->spec);
}

static void want_internet(struct lab *lab)
{
	const struct network *net = lab->net;
	char gw[16], up[16];
	struct res *r;

	if (net->internet.prefix == 0)
		return;
	r = add_res(lab, RES_NETNS, "ns-internet");
	r->internet = true;
	ns_name(lab, "internet", r->ns, sizeof(r->ns));
	snprintf(r->label, sizeof(r->label), "%s", r->ns);
	net_addr_text(net->internet.addr + 1, gw, sizeof(gw));
	net_addr_text(net->upstream, up, sizeof(up));
	snprintf(r->detail, sizeof(r->detail), "internet %s/%u, upstream resolver %s", gw,
		 net->internet.prefix, up);
	spec_add(&r->spec, "internet br0 %s/%u upstream %s/%u\n", gw, net->internet.prefix, up,
		 net->internet.prefix);
}

static void want_uplink(struct lab *lab, size_t env)
{
	const struct network *net = lab->net;
	char id[256], router[100], wan[16], gw[16];
	struct res *r;

	if (!env_goes_out(net, env))
		return;
	snprintf(id, sizeof(id), "link-uplink-%s", net->envs[env].name);
	r = add_res(lab, RES_LINK, id);
	r->uplink = true;
	r->env = env;
	snprintf(router, sizeof(router), "r-%s", net->envs[env].name);
	ns_name(lab, router, r->ns, sizeof(r->ns));
	snprintf(r->label, sizeof(r->label), "uplink %s", net->envs[env].name);
	net_addr_text(net->internet.addr + 10 + (uint32_t)env, wan, sizeof(wan));
	net_addr_text(net->internet.addr + 1, gw, sizeof(gw));
	snprintf(r->detail, sizeof(r->detail), "wan %s/%u, default via %s", wan,
		 net->internet.prefix, gw);
	spec_add(&r->spec, "ns=%s dev=wan\nuplink %s/%u via %s peer u%zu\n", r->ns, wan,
		 net->internet.prefix, gw, env);
	add_dep(lab, r, "ns-internet");
	snprintf(id, sizeof(id), "ns-%s", router);
	add_dep(lab, r, id);
}

static void want_peering(struct lab *lab, size_t a, size_t b)
{
	const struct network *net = lab->net;
	char id[256], role[100], ca[NET_CIDR_TEXT], cb[NET_CIDR_TEXT];
	struct res *r;

	snprintf(id, sizeof(id), "link-peer-%s-%s", net->envs[a].name, net->envs[b].name);
	r = add_res(lab, RES_LINK, id);
	r->env = a;
	r->peer = b;
	snprintf(role, sizeof(role), "r-%s", net->envs[a].name);
	ns_name(lab, role, r->ns, sizeof(r->ns));
	snprintf(r->label, sizeof(r->label), "peering %s-%s", net->envs[a].name, net->envs[b].name);
	net_cidr_text(&net->envs[a].cidr, ca, sizeof(ca));
	net_cidr_text(&net->envs[b].cidr, cb, sizeof(cb));
	snprintf(r->detail, sizeof(r->detail), "%s <-> %s", ca, cb);
	spec_add(&r->spec, "ns=%s dev=p%zu\npeering 169.254.%zu.%zu/30 %s <-> %s\n", r->ns, b, a,
		 4 * b, ca, cb);
	snprintf(id, sizeof(id), "ns-%s", role);
	add_dep(lab, r, id);
	snprintf(id, sizeof(id), "ns-r-%s", net->envs[b].name);
	add_dep(lab, r, id);
}

/* The vpcdnsd security group: DNS only from its VPC and the VPCs peered with it. */
static void dns_rules(const struct lab *lab, size_t env, char **spec)
{
	const struct network *net = lab->net;
	char from[2048] = "", text[NET_CIDR_TEXT];

	for (size_t j = 0; j < net->nenvs; j++) {
		if (j != env && !network_peered(net, env, j))
			continue;
		net_cidr_text(&net->envs[j].cidr, text, sizeof(text));
		snprintf(from + strlen(from), sizeof(from) - strlen(from), "%s%s",
			 from[0] ? ", " : "", text);
	}
	spec_add(spec,
		 "table inet vpcdns {\n\tchain input {\n"
		 "\t\ttype filter hook input priority 0; policy accept;\n"
		 "\t\tiifname \"lo\" accept\n"
		 "\t\tudp dport 53 ip saddr != { %s } drop\n"
		 "\t\ttcp dport 53 ip saddr != { %s } drop\n\t}\n}\n",
		 from, from);
}

static void want_host(struct lab *lab, const struct net_host *h)
{
	const struct network *net = lab->net;
	const struct net_subnet *s = &net->subnets[h->subnet];
	const struct net_env *e = &net->envs[h->env];
	char id[256], role[100], addr[16], gw[16], ifname[16];
	struct res *r;

	snprintf(role, sizeof(role), "h-%s", h->name);
	snprintf(id, sizeof(id), "ns-%s", role);
	r = add_res(lab, RES_NETNS, id);
	r->host = h;
	r->env = h->env;
	ns_name(lab, role, r->ns, sizeof(r->ns));
	snprintf(r->label, sizeof(r->label), "%s", r->ns);
	net_addr_text(h->address, addr, sizeof(addr));
	net_addr_text(gateway_of(s), gw, sizeof(gw));
	host_ifname(h, ifname, sizeof(ifname));
	snprintf(r->detail, sizeof(r->detail), "%s%s/%u in %s", h->vpcdnsd ? "vpcdnsd " : "", addr,
		 s->cidr.prefix, s->name);
	spec_add(&r->spec, "host %s eth0 %s/%u via %s on br%zu as %s\n", h->name, addr,
		 s->cidr.prefix, gw, h->subnet, ifname);
	/* The DHCP options of its VPC, as the resolver library reads them. */
	spec_add(&r->spec, "resolv.conf:\n");
	for (size_t d = 0; d < e->ndns; d++) {
		net_addr_text(e->dns[d], addr, sizeof(addr));
		spec_add(&r->spec, "nameserver %s\n", addr);
	}
	spec_add(&r->spec, "search %s\noptions timeout:2 attempts:2\n", e->zone);
	if (h->vpcdnsd)
		dns_rules(lab, h->env, &r->spec);
	snprintf(id, sizeof(id), "ns-r-%s", e->name);
	add_dep(lab, r, id);
}

/* The vpcdnsd config of a lab host (or of the upstream when h is NULL). */
static void vpcdnsd_config(const struct lab *lab, const struct net_host *h, char **spec)
{
	const struct network *net = lab->net;
	char addr[16], allow[4096], zones[4200], *frag = NULL;
	size_t fraglen = 0;
	FILE *f;

	path_in(lab, zones, sizeof(zones), "zones");
	net_addr_text(h != NULL ? h->address : net->upstream, addr, sizeof(addr));
	spec_add(spec, "; made by vpcdns-provision for the lab of stack %s\n[server]\n",
		 net->stack);
	spec_add(spec, "listen = %s:53\nworkers = 1\npidfile = %s/pids/%s.pid\n", addr,
		 lab->opts->run_dir, h != NULL ? h->name : "upstream");
	if (h == NULL) {
		spec_add(spec,
			 "recursion = no\nallow = 0.0.0.0/0\n\n[zone:%s]\nfile = %s/%s.zone\n",
			 net->upstream_zone, zones, net->upstream_zone);
		return;
	}
	policy_server_allow(net, allow, sizeof(allow));
	f = open_memstream(&frag, &fraglen);
	if (f == NULL)
		return;
	policy_write_list(f, "", "allow", allow);
	fclose(f);
	spec_add(spec, "%s", frag);
	free(frag);
	frag = NULL;
	if (net->upstream != 0) {
		net_addr_text(net->upstream, addr, sizeof(addr));
		spec_add(spec, "\n[forward]\nupstream = %s\n", addr);
	} else {
		spec_add(spec, "recursion = no\n");
	}
	f = open_memstream(&frag, &fraglen);
	if (f == NULL)
		return;
	policy_write(net, &(struct policy_opts){.zone_dir = zones}, f);
	fclose(f);
	spec_add(spec, "\n%s", frag);
	free(frag);
}

static void want_process(struct lab *lab, const struct net_host *h)
{
	const struct network *net = lab->net;
	char id[256], role[100], addr[16];
	struct res *r;

	snprintf(id, sizeof(id), "proc-%s", h != NULL ? h->name : "upstream");
	r = add_res(lab, RES_PROCESS, id);
	r->host = h;
	r->upstream = h == NULL;
	snprintf(r->label, sizeof(r->label), "vpcdnsd %s", h != NULL ? h->name : "upstream");
	snprintf(role, sizeof(role), "%s%s", h != NULL ? "h-" : "internet",
		 h != NULL ? h->name : "");
	ns_name(lab, role, r->ns, sizeof(r->ns));
	net_addr_text(h != NULL ? h->address : net->upstream, addr, sizeof(addr));
	snprintf(r->detail, sizeof(r->detail), "%s:53 in %s", addr, r->ns);
	vpcdnsd_config(lab, h, &r->spec);
	/* The zone files follow from the hosts: a new host restarts vpcdnsd. */
	for (size_t i = 0; h != NULL && i < net->nhosts; i++) {
		net_addr_text(net->hosts[i].address, addr, sizeof(addr));
		spec_add(&r->spec, "; host %s %s %s\n", net->hosts[i].name, addr,
			 net->tiers[net->hosts[i].tier].name);
	}
	spec_add(&r->spec, "; binary %s\n", lab->opts->vpcdnsd);
	snprintf(id, sizeof(id), "ns-%s", role);
	add_dep(lab, r, id);
}

static void want_all(struct lab *lab)
{
	const struct network *net = lab->net;

	want_internet(lab);
	for (size_t e = 0; e < net->nenvs; e++)
		want_router(lab, e);
	for (size_t e = 0; e < net->nenvs; e++)
		want_uplink(lab, e);
	for (size_t a = 0; a < net->nenvs; a++)
		for (size_t b = 0; b < net->nenvs; b++)
			if ((net->envs[a].peers >> b) & 1u)
				want_peering(lab, a, b);
	for (size_t i = 0; i < net->nhosts; i++)
		want_host(lab, &net->hosts[i]);
	if (net->internet.prefix != 0 && net->upstream != 0 && net->upstream_zone[0] != '\0')
		want_process(lab, NULL);
	for (size_t i = 0; i < net->nhosts; i++)
		if (net->hosts[i].vpcdnsd)
			want_process(lab, &net->hosts[i]);
}

/* ---- what the lab holds ---- */

static void stored_path(const struct lab *lab, const char *id, bool building, char *buf, size_t len)
{
	path_in(lab, buf, len, "state/%s%s", id, building ? ".building" : "");
}

static char *stored_spec(const struct lab *lab, const char *id, bool *interrupted)
{
	char path[4200];

	stored_path(lab, id, true, path, sizeof(path));
	*interrupted = access(path, F_OK) == 0;
	stored_path(lab, id, false, path, sizeof(path));
	return read_file(path);
}

/* The PID in RUN_DIR/pids/NAME.pid when that process is a live vpcdnsd, else 0. */
static pid_t running_pid(const struct lab *lab, const struct res *r)
{
	char path[4200], comm[64] = "", *text;
	pid_t pid;
	FILE *f;

	path_in(lab, path, sizeof(path), "pids/%s.pid", r->id + strlen("proc-"));
	text = read_file(path);
	if (text == NULL)
		return 0;
	pid = (pid_t)strtol(text, NULL, 10);
	free(text);
	if (pid <= 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "vpcdnsd", 7) == 0 ? pid : 0;
}

static void decide(const struct lab *lab, struct res *r)
{
	bool interrupted;
	char *stored = stored_spec(lab, r->id, &interrupted);
	bool present = r->kind == RES_PROCESS ? running_pid(lab, r) != 0 : ns_exists(r->ns);

	r->action = ACT_NONE;
	if (!present || (r->kind == RES_LINK && stored == NULL)) {
		r->action = ACT_CREATE;
	} else if (interrupted) {
		r->action = ACT_CHANGE;
		r->why = "an earlier apply stopped while building it";
	} else if (stored == NULL || strcmp(stored, r->spec) != 0) {
		r->action = ACT_CHANGE;
		r->why = "its description changed";
	}
	free(stored);
}

/* A resource rebuilt takes down what is built on it: rebuild that too. */
static void propagate(struct lab *lab)
{
	for (size_t i = 0; i < lab->nres; i++) {
		struct res *r = &lab->res[i];
		for (size_t d = 0; d < r->ndeps && r->action == ACT_NONE; d++) {
			const struct res *dep = &lab->res[r->deps[d]];
			if (dep->action == ACT_CREATE || dep->action == ACT_CHANGE) {
				r->action = ACT_CHANGE;
				r->why = dep->kind == RES_NETNS ? "its namespace is rebuilt"
								: "what it runs on is rebuilt";
			}
		}
	}
}

static void add_gone(struct lab *lab, enum res_kind kind, const char *id, const char *ns)
{
	struct res *g;

	for (size_t i = 0; i < lab->ngone; i++)
		if (strcmp(lab->gone[i].id, id) == 0)
			return;
	g = realloc(lab->gone, (lab->ngone + 1) * sizeof(*g));
	if (g == NULL)
		fatalx("out of memory");
	lab->gone = g;
	g = &lab->gone[lab->ngone++];
	memset(g, 0, sizeof(*g));
	g->kind = kind;
	g->action = ACT_DELETE;
	snprintf(g->id, sizeof(g->id), "%s", id);
	snprintf(g->ns, sizeof(g->ns), "%s", ns);
	if (kind == RES_NETNS)
		snprintf(g->label, sizeof(g->label), "%s", ns);
	else if (kind == RES_LINK)
		snprintf(g->label, sizeof(g->label), "%s", id + strlen("link-"));
	else
		snprintf(g->label, sizeof(g->label), "vpcdnsd %s", id + strlen("proc-"));
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct res *)a)->id, ((const struct res *)b)->id);
}

/* Stored specs that are no longer wanted. */
static void find_gone_stored(struct lab *lab)
{
	char dir[4200], path[4500];
	struct dirent *de;
	DIR *d;

	path_in(lab, dir, sizeof(dir), "state");
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char id[256], ns[256] = "", *dot, *spec;
		enum res_kind kind;
		if (de->d_name[0] == '.')
			continue;
		snprintf(id, sizeof(id), "%s", de->d_name);
		if ((dot = strstr(id, ".building")) != NULL)
			*dot = '\0';
		if (find_res(lab, id) >= 0)
			continue;
		if (strncmp(id, "ns-", 3) == 0) {
			kind = RES_NETNS;
			ns_name(lab, id + 3, ns, sizeof(ns));
		} else if (strncmp(id, "link-", 5) == 0) {
			kind = RES_LINK;
			snprintf(path, sizeof(path), "%s/%s", dir, id);
			spec = read_file(path);
			if (spec != NULL && sscanf(spec, "ns=%255s", ns) != 1)
				ns[0] = '\0';
			free(spec);
		} else if (strncmp(id, "proc-", 5) == 0) {
			kind = RES_PROCESS;
		} else {
			continue;
		}
		add_gone(lab, kind, id, ns);
	}
	closedir(d);
}

/* Namespaces of the stack that nothing wants (an apply that stopped early). */
static void find_gone_netns(struct lab *lab)
{
	size_t plen = strlen(lab->net->stack);
	struct dirent *de;
	DIR *d = opendir(NETNS_RUN);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char id[256];
		if (strncmp(de->d_name, lab->net->stack, plen) != 0 || de->d_name[plen] != '.')
			continue;
		snprintf(id, sizeof(id), "ns-%s", de->d_name + plen + 1);
		if (find_res(lab, id) < 0)
			add_gone(lab, RES_NETNS, id, de->d_name);
	}
	closedir(d);
}

static const char *kind_name(enum res_kind kind)
{
	return kind == RES_NETNS ? "netns" : kind == RES_LINK ? "link" : "process";
}

/* ---- building and removing ---- */

static int write_rules(const struct lab *lab, const struct res *r)
{
	const char *rules = strstr(r->spec, "table inet vpcdns");
	char path[4200];

	if (rules == NULL)
		return 0;
	path_in(lab, path, sizeof(path), "nft/%s.nft", r->ns);
	if (write_file(path, rules) < 0)
		return -1;
	return run("ip netns exec %s nft -f %s", r->ns, path);
}

static int build_host(const struct lab *lab, const struct res *r)
{
	const struct network *net = lab->net;
	const struct net_host *h = r->host;
	const struct net_subnet *s = &net->subnets[h->subnet];
	char router[200], role[100], ifname[16], addr[16], gw[16], path[512];
	const char *resolv = strstr(r->spec, "resolv.conf:\n");
	const char *end;

	snprintf(role, sizeof(role), "r-%s", net->envs[h->env].name);
	ns_name(lab, role, router, sizeof(router));
	host_ifname(h, ifname, sizeof(ifname));
	net_addr_text(h->address, addr, sizeof(addr));
	net_addr_text(gateway_of(s), gw, sizeof(gw));
	if (run("ip -n %s link add %s type veth peer name eth0 netns %s", router, ifname, r->ns) <
		0 ||
	    run("ip -n %s link set %s master br%zu up", router, ifname, h->subnet) < 0 ||
	    run("ip -n %s addr add %s/%u dev eth0", r->ns, addr, s->cidr.prefix) < 0 ||
	    run("ip -n %s link set eth0 up", r->ns) < 0 ||
	    run("ip -n %s route add default via %s", r->ns, gw) < 0)
		return -1;
	/* /etc/netns/NS/resolv.conf: what `ip netns exec` shows the host as /etc/resolv.conf. */
	snprintf(path, sizeof(path), NETNS_ETC "/%s", r->ns);
	if (resolv == NULL || mkdirs(path) < 0) {
		log_warn("mkdir %s", path);
		return -1;
	}
	resolv += strlen("resolv.conf:\n");
	end = strstr(resolv, "table inet");
	{
		char text[2048];
		snprintf(text, sizeof(text), "# the DHCP options of %s (vpcdns-provision)\n%.*s",
			 net->envs[h->env].name,
			 (int)(end != NULL ? (size_t)(end - resolv) : strlen(resolv)), resolv);
		snprintf(path, sizeof(path), NETNS_ETC "/%s/resolv.conf", r->ns);
		if (write_file(path, text) < 0)
			return -1;
	}
	return write_rules(lab, r);
}

static int build_netns(const struct lab *lab, const struct res *r)
{
	const struct network *net = lab->net;
	char a[16], b[16];

	if (run("ip netns add %s", r->ns) < 0 || run("ip -n %s link set lo up", r->ns) < 0)
		return -1;
	if (r->internet) {
		net_addr_text(net->internet.addr + 1, a, sizeof(a));
		net_addr_text(net->upstream, b, sizeof(b));
		return run("ip -n %s link add br0 type bridge", r->ns) < 0 ||
			       run("ip -n %s addr add %s/%u dev br0", r->ns, a,
				   net->internet.prefix) < 0 ||
			       run("ip -n %s addr add %s/%u dev br0", r->ns, b,
				   net->internet.prefix) < 0 ||
			       run("ip -n %s link set br0 up", r->ns) < 0
			   ? -1
			   : 0;
	}
	if (r->host != NULL)
		return build_host(lab, r);
	if (run("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1", r->ns) < 0)
		return -1;
	for (size_t i = 0; i < net->nsubnets; i++) {
		const struct net_subnet *s = &net->subnets[i];
		if (s->env != r->env)
			continue;
		net_addr_text(gateway_of(s), a, sizeof(a));
		if (run("ip -n %s link add br%zu type bridge", r->ns, i) < 0 ||
		    run("ip -n %s addr add %s/%u dev br%zu", r->ns, a, s->cidr.prefix, i) < 0 ||
		    run("ip -n %s link set br%zu up", r->ns, i) < 0)
			return -1;
	}
	return write_rules(lab, r);
}

static int build_link(const struct lab *lab, const struct res *r)
{
	const struct network *net = lab->net;
	char other[200], role[100], a[16], b[16], cidr[NET_CIDR_TEXT];

	if (r->uplink) {
		ns_name(lab, "internet", other, sizeof(other));
		net_addr_text(net->internet.addr + 10 + (uint32_t)r->env, a, sizeof(a));
		net_addr_text(net->internet.addr + 1, b, sizeof(b));
		return run("ip -n %s link add wan type veth peer name u%zu netns %s", r->ns, r->env,
			   other) < 0 ||
			       run("ip -n %s link set u%zu master br0 up", other, r->env) < 0 ||
			       run("ip -n %s addr add %s/%u dev wan", r->ns, a,
				   net->internet.prefix) < 0 ||
			       run("ip -n %s link set wan up", r->ns) < 0 ||
			       run("ip -n %s route add default via %s", r->ns, b) < 0
			   ? -1
			   : 0;
	}
	snprintf(role, sizeof(role), "r-%s", net->envs[r->peer].name);
	ns_name(lab, role, other, sizeof(other));
	snprintf(a, sizeof(a), "169.254.%zu.%zu", r->env, 4 * r->peer + 1);
	snprintf(b, sizeof(b), "169.254.%zu.%zu", r->env, 4 * r->peer + 2);
	if (run("ip -n %s link add p%zu type veth peer name p%zu netns %s", r->ns, r->peer, r->env,
		other) < 0 ||
	    run("ip -n %s addr add %s/30 dev p%zu", r->ns, a, r->peer) < 0 ||
	    run("ip -n %s addr add %s/30 dev p%zu", other, b, r->env) < 0 ||
	    run("ip -n %s link set p%zu up", r->ns, r->peer) < 0 ||
	    run("ip -n %s link set p%zu up", other, r->env) < 0)
		return -1;
	net_cidr_text(&net->envs[r->peer].cidr, cidr, sizeof(cidr));
	if (run("ip -n %s route add %s via %s", r->ns, cidr, b) < 0)
		return -1;
	net_cidr_text(&net->envs[r->env].cidr, cidr, sizeof(cidr));
	return run("ip -n %s route add %s via %s", other, cidr, a);
}

static int write_upstream_zone(const struct lab *lab)
{
	const struct network *net = lab->net;
	char path[4200], text[2048], up[16], web[16];

	net_addr_text(net->upstream, up, sizeof(up));
	net_addr_text(net->internet.addr + 80, web, sizeof(web));
	snprintf(
	    text, sizeof(text),
	    "; the lab's stand-in for a public zone (vpcdns-provision)\n$ORIGIN %s.\n$TTL 300\n"
	    "@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300\n@ IN NS ns.%s.\n"
	    "ns IN A %s\n@ IN A %s\nwww IN A %s\n",
	    net->upstream_zone, net->upstream_zone, net->upstream_zone, net->upstream_zone, up, web,
	    web);
	path_in(lab, path, sizeof(path), "zones/%s.zone", net->upstream_zone);
	return write_file(path, text);
}

/* Starts vpcdnsd inside r->ns and waits for its pidfile. */
static int start_vpcdnsd(const struct lab *lab, const struct res *r, const char *conf)
{
	char netns[512], log[4200], pidfile[4200];
	const char *name = r->id + strlen("proc-");
	pid_t pid;

	snprintf(netns, sizeof(netns), NETNS_RUN "/%s", r->ns);
	path_in(lab, log, sizeof(log), "logs/%s.log", name);
	path_in(lab, pidfile, sizeof(pidfile), "pids/%s.pid", name);
	unlink(pidfile);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(netns, O_RDONLY | O_CLOEXEC), out;
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(126);
		setsid();
		out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (out >= 0) {
			dup2(out, STDOUT_FILENO);
			dup2(out, STDERR_FILENO);
		}
		execl(lab->opts->vpcdnsd, "vpcdnsd", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int waited = 0; waited < START_WAIT; waited += 20) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			log_warnx("%s: vpcdnsd exited at start (status %d); see %s", r->label,
				  WIFEXITED(status) ? WEXITSTATUS(status) : -1, log);
			return -1;
		}
		if (running_pid(lab, r) == pid)
			return 0;
		nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
	}
	log_warnx("%s: no pidfile after %d ms; see %s", r->label, START_WAIT, log);
	kill(pid, SIGKILL);
	return -1;
}

static int build_process(const struct lab *lab, const struct res *r)
{
	char conf[4200], zones[4200];

	path_in(lab, zones, sizeof(zones), "zones");
	if (r->upstream ? write_upstream_zone(lab) < 0 : policy_write_zones(lab->net, zones) < 0) {
		log_warn("zones in %s", zones);
		return -1;
	}
	path_in(lab, conf, sizeof(conf), "conf/%s.ini", r->id + strlen("proc-"));
	if (write_file(conf, r->spec) < 0)
		return -1;
	return start_vpcdnsd(lab, r, conf);
}

static void stop_process(const struct lab *lab, const struct res *r)
{
	pid_t pid = running_pid(lab, r);
	char pidfile[4200];

	if (pid != 0) {
		kill(pid, SIGTERM);
		for (int waited = 0; waited < STOP_WAIT && kill(pid, 0) == 0; waited += 20) {
			waitpid(pid, NULL, WNOHANG); /* ours when started by this run */
			nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
		}
		if (kill(pid, 0) == 0 && running_pid(lab, r) == pid)
			kill(pid, SIGKILL);
		waitpid(pid, NULL, WNOHANG);
	}
	path_in(lab, pidfile, sizeof(pidfile), "pids/%s.pid", r->id + strlen("proc-"));
	unlink(pidfile);
}

static int remove_res(const struct lab *lab, const struct res *r)
{
	char path[4200], ns[256] = "", dev[32] = "";
	int rc = 0;

	if (r->kind == RES_PROCESS) {
		stop_process(lab, r);
	} else if (r->kind == RES_LINK) {
		char *spec = r->spec;
		bool stored = spec == NULL;
		if (stored) {
			stored_path(lab, r->id, false, path, sizeof(path));
			spec = read_file(path);
		}
		if (spec != NULL && sscanf(spec, "ns=%255s dev=%31s", ns, dev) == 2 &&
		    ns_exists(ns)) {
			/* Gone already when the namespace at its other end went. */
			run_quietly = true;
			run("ip -n %s link del %s", ns, dev);
			run_quietly = false;
		}
		if (stored)
			free(spec);
	} else if (ns_exists(r->ns)) {
		rc = run("ip netns del %s", r->ns);
	}
	if (r->kind == RES_NETNS) {
		snprintf(path, sizeof(path), NETNS_ETC "/%s/resolv.conf", r->ns);
		unlink(path);
		snprintf(path, sizeof(path), NETNS_ETC "/%s", r->ns);
		rmdir(path);
	}
	stored_path(lab, r->id, false, path, sizeof(path));
	unlink(path);
	stored_path(lab, r->id, true, path, sizeof(path));
	unlink(path);
	return rc;
}

static int build_res(const struct lab *lab, const struct res *r)
{
	char path[4200];
	int rc;

	if (r->kind == RES_LINK)
		remove_res(lab, r); /* what an interrupted apply may have left */
	stored_path(lab, r->id, true, path, sizeof(path));
	if (write_file(path, "") < 0)
		return -1;
	if (r->kind == RES_NETNS)
		rc = build_netns(lab, r);
	else if (r->kind == RES_LINK)
		rc = build_link(lab, r);
	else
		rc = build_process(lab, r);
	if (rc < 0)
		return -1;
	stored_path(lab, r->id, false, path, sizeof(path));
	if (write_file(path, r->spec) < 0)
		return -1;
	stored_path(lab, r->id, true, path, sizeof(path));
	unlink(path);
	return 0;
}

/* ---- plan, apply, destroy ---- */

static void step(struct lab *lab, const struct res *r)
{
	const char *label = r->label[0] != '\0' ? r->label : r->id;

	if (r->action == ACT_CREATE)
		plan_step(&lab->plan, PLAN_CREATE, kind_name(r->kind), label, "%s", r->detail);
	else if (r->action == ACT_CHANGE)
		plan_step(&lab->plan, PLAN_CHANGE, kind_name(r->kind), label, "%s; %s", r->detail,
			  r->why);
	else if (r->action == ACT_DELETE)
		plan_step(&lab->plan, PLAN_DELETE, kind_name(r->kind), label, NULL);
}

/* Deletes what is not wanted, processes first, namespaces last. */
static int remove_gone(struct lab *lab, bool doit)
{
	static const enum res_kind order[] = {RES_PROCESS, RES_LINK, RES_NETNS};
	int rc = 0;

	for (size_t o = 0; o < 3; o++)
		for (size_t i = 0; i < lab->ngone; i++) {
			if (lab->gone[i].kind != order[o])
				continue;
			step(lab, &lab->gone[i]);
			if (doit && remove_res(lab, &lab->gone[i]) < 0)
				rc = -1;
		}
	return rc;
}

static int converge(struct lab *lab, bool doit)
{
	int rc = remove_gone(lab, doit);

	/* Take down what is rebuilt, from the top (processes) down to namespaces. */
	for (size_t i = lab->nres; doit && i-- > 0;)
		if (lab->res[i].action == ACT_CHANGE)
			remove_res(lab, &lab->res[i]);
	for (size_t i = 0; i < lab->nres && rc == 0; i++) {
		struct res *r = &lab->res[i];
		if (r->action == ACT_NONE)
			continue;
		step(lab, r);
		if (doit && build_res(lab, r) < 0) {
			log_warnx("apply: %s %s failed; run apply again to finish, or destroy",
				  kind_name(r->kind), r->label);
			rc = -1;
		}
	}
	return rc;
}

/* A host of env that tier t of env may not see (the policy's REFUSED), or NULL. */
static const struct net_host *hidden_from(const struct network *net, const struct net_host *h)
{
	for (size_t i = 0; i < net->nhosts; i++) {
		const struct net_host *o = &net->hosts[i];
		if (o->env == h->env && !o->vpcdnsd &&
		    !((net->tiers[h->tier].sees >> o->tier) & 1u))
			return o;
	}
	return NULL;
}

static void print_tries(const struct lab *lab)
{
	const struct network *net = lab->net;
	FILE *out = lab->opts->out;

	fprintf(out, "\nThe lab is up. Ask from any host, for example:\n");
	for (size_t i = 0; i < net->nhosts; i++) {
		const struct net_host *h = &net->hosts[i], *o;
		if (h->vpcdnsd)
			continue;
		fprintf(out, "  ip netns exec %s.h-%s dig +short %s.%s.%s\n", net->stack, h->name,
			h->name, net->tiers[h->tier].name, net->envs[h->env].zone);
		if ((o = hidden_from(net, h)) != NULL)
			fprintf(
			    out,
			    "  ip netns exec %s.h-%s dig %s.%s.%s   # REFUSED: %s does not see %s\n",
			    net->stack, h->name, o->name, net->tiers[o->tier].name,
			    net->envs[o->env].zone, net->tiers[h->tier].name,
			    net->tiers[o->tier].name);
	}
	for (size_t i = 0; i < net->nhosts; i++)
		if (!net->hosts[i].vpcdnsd) {
			fprintf(
			    out,
			    "  ip netns exec %s.h-%s getent hosts %s   # short name, search %s\n",
			    net->stack, net->hosts[i].name, net->hosts[i].name,
			    net->envs[net->hosts[i].env].zone);
			break;
		}
	if (net->upstream_zone[0] != '\0' && net->nhosts > 0)
		fprintf(out, "  ip netns exec %s.h-%s dig +short www.%s   # forwarded upstream\n",
			net->stack, net->hosts[0].name, net->upstream_zone);
	fprintf(out, "vpcdnsd logs: %s/logs/\n", lab->opts->run_dir);
}

/* After destroy: the run folder and any /etc/netns folder of the stack. */
static void remove_leftovers(const struct lab *lab)
{
	size_t plen = strlen(lab->net->stack);
	struct dirent *de;
	DIR *d = opendir(NETNS_ETC);

	while (d != NULL && (de = readdir(d)) != NULL) {
		char path[512];
		if (strncmp(de->d_name, lab->net->stack, plen) != 0 || de->d_name[plen] != '.')
			continue;
		snprintf(path, sizeof(path), NETNS_ETC "/%s/resolv.conf", de->d_name);
		unlink(path);
		snprintf(path, sizeof(path), NETNS_ETC "/%s", de->d_name);
		rmdir(path);
	}
	if (d != NULL)
		closedir(d);
	run("rm -rf %s", lab->opts->run_dir);
}

static int make_dirs(const struct lab *lab)
{
	static const char *const dirs[] = {"state", "conf", "zones", "logs", "pids", "nft"};
	char path[4200];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		path_in(lab, path, sizeof(path), "%s", dirs[i]);
		if (mkdirs(path) < 0) {
			log_warn("mkdir %s", path);
			return -1;
		}
	}
	return 0;
}

int provision_netns(const struct network *net, enum provision_cmd cmd,
		    const struct provision_opts *opts)
{
	struct lab lab = {.net = net, .opts = opts, .plan = {.out = opts->out}};
	bool doit = cmd != PROVISION_PLAN;
	int rc = 0;

	if (strchr(opts->run_dir, ' ') != NULL) {
		log_warnx("--run-dir: no spaces, please (%s)", opts->run_dir);
		return -1;
	}
	if (doit && geteuid() != 0) {
		log_warnx("the netns backend needs root to make network namespaces");
		return -1;
	}
	if (cmd != PROVISION_DESTROY) {
		want_all(&lab);
		for (size_t i = 0; i < lab.nres; i++)
			decide(&lab, &lab.res[i]);
		propagate(&lab);
	}
	find_gone_stored(&lab);
	find_gone_netns(&lab);
	if (lab.ngone > 0) /* hosts ("ns-h-") before the routers they hang on */
		qsort(lab.gone, lab.ngone, sizeof(*lab.gone), by_id);
	if (doit && cmd == PROVISION_APPLY && make_dirs(&lab) < 0)
		rc = -1;
	if (rc == 0)
		rc = converge(&lab, doit);
	if (cmd == PROVISION_DESTROY && rc == 0)
		remove_leftovers(&lab);
	plan_summary(&lab.plan, cmd == PROVISION_PLAN    ? "Plan"
				: cmd == PROVISION_APPLY ? "Applied"
							 : "Destroyed");
	if (cmd == PROVISION_APPLY && rc == 0)
		print_tries(&lab);
	for (size_t i = 0; i < lab.nres; i++)
		free(lab.res[i].spec);
	free(lab.res);
	free(lab.gone);
	return rc;
}
