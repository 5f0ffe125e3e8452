/*
 * vpcdns-provision: builds the network around vpcdnsd from one INI file, on
 * AWS (EC2 and Route 53 through the shared AWS client) or as a lab of Linux
 * network namespaces on this machine.
 *
 *   vpcdns-provision plan|apply|destroy -f network.ini [--backend aws|netns]
 *   vpcdns-provision policy -f network.ini [--backend aws|netns]
 *   vpcdns-provision check -f network.ini
 */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/log.h"
#include "contrib/provision/aws_backend.h"
#include "contrib/provision/policy.h"
#include "contrib/provision/provision.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vpcdns-provision plan|apply|destroy|policy|check -f network.ini "
		"[options]\n"
		"  -f, --file FILE       the network INI (see contrib/provision/examples)\n"
		"  -b, --backend NAME    aws (EC2 and Route 53; default) or netns (a local lab)\n"
		"      --vpcdnsd PATH    netns: the vpcdnsd to start (default: next to this "
		"program)\n"
		"      --run-dir DIR     netns: configs, zones, logs and state of the lab\n"
		"                        (default /run/vpcdns-provision/STACK)\n"
		"      --wait SECONDS    aws: how long to wait for NAT gateways and peering "
		"(default 600)\n"
		"  -d, --debug           log more\n"
		"  -h, --help\n"
		"plan prints what apply would create, change or delete; apply makes it so;\n"
		"destroy removes everything tagged with the stack; policy prints the vpcdnsd\n"
		"zone policy for the network; check only reads the file.\n");
}

/* bin/vpcdnsd next to /proc/self/exe, if it is there. */
static void default_vpcdnsd(char *buf, size_t len)
{
	char self[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	snprintf(buf, len, "vpcdnsd");
	if (n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	snprintf(buf, len, "%s/vpcdnsd", self);
}

static int print_policy(const struct network *net, bool aws, const struct provision_opts *o)
{
	struct policy_env_source src[NET_MAX_ENVS];
	struct policy_opts popts = {0};
	char zone_dir[PATH_MAX + 8], err[1024];
	int rc = 0;

	memset(src, 0, sizeof(src));
	if (aws) {
		if (provision_aws_sources(net, src, err, sizeof(err)) < 0) {
			log_errx("policy: %s", err);
			rc = -1;
		}
		popts.sources = src;
	} else {
		snprintf(zone_dir, sizeof(zone_dir), "%s/zones", o->run_dir);
		popts.zone_dir = zone_dir;
	}
	if (rc == 0)
		policy_write(net, &popts, stdout);
	for (size_t i = 0; i < NET_MAX_ENVS; i++) {
		free((char *)src[i].hosted_zone_id);
		free((char *)src[i].vpc_id);
	}
	return rc;
}

/* 0 done, -1 failed, -2 unknown command. */
static int run_command(const struct network *net, const char *cmd, bool aws, const char *file,
		       const struct provision_opts *opts)
{
	if (strcmp(cmd, "check") == 0) {
		printf("%s: stack %s, %zu environments, %zu subnets, %zu hosts: ok\n", file,
		       net->stack, net->nenvs, net->nsubnets, net->nhosts);
		return 0;
	}
	if (strcmp(cmd, "policy") == 0)
		return print_policy(net, aws, opts);
	if (strcmp(cmd, "plan") == 0)
		return aws ? provision_aws(net, PROVISION_PLAN, opts)
			   : provision_netns(net, PROVISION_PLAN, opts);
	if (strcmp(cmd, "apply") == 0)
		return aws ? provision_aws(net, PROVISION_APPLY, opts)
			   : provision_netns(net, PROVISION_APPLY, opts);
	if (strcmp(cmd, "destroy") == 0)
		return aws ? provision_aws(net, PROVISION_DESTROY, opts)
			   : provision_netns(net, PROVISION_DESTROY, opts);
	log_errx("unknown command '%s' (plan, apply, destroy, policy or check)", cmd);
	return -2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"file", required_argument, NULL, 'f'},    {"backend", required_argument, NULL, 'b'},
	    {"vpcdnsd", required_argument, NULL, 'V'}, {"run-dir", required_argument, NULL, 'R'},
	    {"wait", required_argument, NULL, 'W'},    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	const char *file = NULL, *backend = "aws", *cmd;
	char vpcdnsd[PATH_MAX], run_dir[PATH_MAX], err[8192];
	struct provision_opts opts = {.out = stdout, .wait_s = 600, .poll_ms = 2000};
	struct network *net = NULL;
	enum log_level level = LOG_LEVEL_INFO;
	int c, rc;

	default_vpcdnsd(vpcdnsd, sizeof(vpcdnsd));
	run_dir[0] = '\0';
	while ((c = getopt_long(argc, argv, "f:b:dh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'b':
			backend = optarg;
			break;
		case 'V':
			snprintf(vpcdnsd, sizeof(vpcdnsd), "%s", optarg);
			break;
		case 'R':
			snprintf(run_dir, sizeof(run_dir), "%s", optarg);
			break;
		case 'W':
			opts.wait_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			level = LOG_LEVEL_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	log_init("vpcdns-provision", level);
	if (optind + 1 != argc || file == NULL) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (strcmp(backend, "aws") != 0 && strcmp(backend, "netns") != 0) {
		log_errx("--backend: expected aws or netns, got '%s'", backend);
		return 2;
	}
	if (network_load(file, &net, err, sizeof(err)) < 0) {
		fputs(err, stderr);
		return 1;
	}
	if (run_dir[0] == '\0')
		snprintf(run_dir, sizeof(run_dir), "/run/vpcdns-provision/%s", net->stack);
	opts.vpcdnsd = vpcdnsd;
	opts.run_dir = run_dir;
	if (getenv("VPCDNS_PROVISION_POLL_MS") != NULL)
		opts.poll_ms = (unsigned)strtoul(getenv("VPCDNS_PROVISION_POLL_MS"), NULL, 10);

	rc = run_command(net, cmd, strcmp(backend, "aws") == 0, file, &opts);
	network_free(net);
	return rc == 0 ? 0 : rc == -2 ? 2 : 1;
}
