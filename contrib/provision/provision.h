/*
 * provision: the two backends of vpcdns-provision behind one call each.
 *
 * Both take the checked network and a command. PROVISION_PLAN only looks and
 * prints the steps; PROVISION_APPLY creates, changes and deletes until what
 * exists matches the network (and is a no-op when it already does);
 * PROVISION_DESTROY deletes everything tagged with the stack, in dependency
 * order, whether or not the network file still names it. Both return 0, or -1
 * after logging what failed; a failed apply leaves what it made tagged, so the
 * next apply or destroy finishes the job.
 */
#ifndef PROVISION_PROVISION_H
#define PROVISION_PROVISION_H

#include <stdio.h>

#include "contrib/provision/network.h"

enum provision_cmd { PROVISION_PLAN, PROVISION_APPLY, PROVISION_DESTROY };

struct provision_opts {
	FILE *out;           /* steps and summaries */
	const char *vpcdnsd; /* netns: the vpcdnsd binary to start in the lab */
	const char *run_dir; /* netns: state, configs, zones and logs of the lab */
	unsigned wait_s;     /* aws: how long to wait for NAT gateways and peering */
	unsigned poll_ms;    /* aws: how often to poll while waiting */
};

int provision_aws(const struct network *net, enum provision_cmd cmd,
		  const struct provision_opts *opts);
int provision_netns(const struct network *net, enum provision_cmd cmd,
		    const struct provision_opts *opts);

#endif
