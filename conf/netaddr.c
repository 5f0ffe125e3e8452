#include "conf/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *text, uint16_t *port)
{
	char *end;
	long v;

	if (*text == '\0' || !isdigit((unsigned char)*text))
		return -1;
	v = strtol(text, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int netaddr_parse(const char *text, uint16_t defport, struct netaddr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *portstr = NULL;
	uint16_t port = defport;
	size_t hostlen;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL)
			return -1;
		hostlen = (size_t)(close - text - 1);
		if (hostlen >= sizeof(host))
			return -1;
		memcpy(host, text + 1, hostlen);
		host[hostlen] = '\0';
		if (close[1] == ':')
			portstr = close + 2;
		else if (close[1] != '\0')
			return -1;
	} else {
		const char *colon = strchr(text, ':');
		/* More than one colon without brackets: a bare IPv6 address. */
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hostlen = (size_t)(colon - text);
			portstr = colon + 1;
		} else {
			hostlen = strlen(text);
		}
		if (hostlen >= sizeof(host))
			return -1;
		memcpy(host, text, hostlen);
		host[hostlen] = '\0';
	}
	if (portstr != NULL && parse_port(portstr, &port) < 0)
		return -1;

	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

void netaddr_format(const struct netaddr *addr, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (addr->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&addr->ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&addr->ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	}
}

const char *netaddr_next_item(const char *p, char *item, size_t len)
{
	size_t n = 0;

	while (*p == ',' || isspace((unsigned char)*p))
		p++;
	if (*p == '\0')
		return NULL;
	while (*p != '\0' && *p != ',' && !isspace((unsigned char)*p)) {
		if (n + 1 < len)
			item[n++] = *p;
		p++;
	}
	item[n] = '\0';
	return p;
}

int acl_entry_parse(const char *text, struct acl_entry *entry)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hostlen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	long prefix = -1;

	memset(entry, 0, sizeof(*entry));
	if (hostlen == 0 || hostlen >= sizeof(host))
		return -1;
	memcpy(host, text, hostlen);
	host[hostlen] = '\0';
	if (slash != NULL) {
		char *end;
		if (!isdigit((unsigned char)slash[1]))
			return -1;
		prefix = strtol(slash + 1, &end, 10);
		if (*end != '\0')
			return -1;
	}
	if (inet_pton(AF_INET, host, entry->addr) == 1) {
		entry->family = AF_INET;
		if (prefix > 32)
			return -1;
		entry->prefix = (uint8_t)(prefix < 0 ? 32 : prefix);
	} else if (inet_pton(AF_INET6, host, entry->addr) == 1) {
		entry->family = AF_INET6;
		if (prefix > 128)
			return -1;
		entry->prefix = (uint8_t)(prefix < 0 ? 128 : prefix);
	} else {
		return -1;
	}
	return 0;
}

struct acl *acl_parse(const char *text, char *bad, size_t badlen)
{
	size_t cap = 4;
	struct acl *acl = malloc(sizeof(*acl) + cap * sizeof(acl->entries[0]));
	const char *p = text;

	if (acl == NULL)
		return NULL;
	acl->count = 0;
	for (char item[128]; (p = netaddr_next_item(p, item, sizeof(item))) != NULL;) {
		if (acl->count == cap) {
			struct acl *bigger;
			cap *= 2;
			bigger = realloc(acl, sizeof(*acl) + cap * sizeof(acl->entries[0]));
			if (bigger == NULL)
				goto fail;
			acl = bigger;
		}
		if (acl_entry_parse(item, &acl->entries[acl->count]) < 0) {
			snprintf(bad, badlen, "%s", item);
			goto fail;
		}
		acl->count++;
	}
	return acl;
fail:
	free(acl);
	return NULL;
}

int acl_extend(struct acl **dst, const struct acl *src)
{
	size_t count = (*dst != NULL ? (*dst)->count : 0) + src->count;
	struct acl *acl = realloc(*dst, sizeof(*acl) + count * sizeof(acl->entries[0]));

	if (acl == NULL)
		return -1;
	if (*dst == NULL)
		acl->count = 0;
	memcpy(&acl->entries[acl->count], src->entries, src->count * sizeof(src->entries[0]));
	acl->count = count;
	*dst = acl;
	return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - bits));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool acl_match(const struct acl *acl, const struct sockaddr *addr)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const uint8_t *bytes;
	int family = addr->sa_family;

	if (acl == NULL)
		return false;
	if (family == AF_INET) {
		bytes = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
	} else if (family == AF_INET6) {
		bytes = ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;
		if (memcmp(bytes, v4mapped, sizeof(v4mapped)) == 0) {
			family = AF_INET;
			bytes += 12;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < acl->count; i++) {
		const struct acl_entry *e = &acl->entries[i];
		if (e->family == family && prefix_equal(e->addr, bytes, e->prefix))
			return true;
	}
	return false;
}
