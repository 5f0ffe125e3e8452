/*
 * The built zone (see zones/zone.h): names in and out of wire form, the
 * lookup the query path makes, weighted sets, the accessors and references.
 * Building it is zones/zone_builder.c; the layout it shares is zone_impl.h.
 */
#include "zones/zone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zones/dns.h"
#include "zones/zone_impl.h"

size_t zone_name_to_wire(const char *text, uint8_t *wire)
{
	size_t out = 0, len = strlen(text);
	const char *p = text;

	if (len == 0 || strcmp(text, ".") == 0) {
		wire[0] = 0;
		return 1;
	}
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63 || out + l + 2 > DNS_MAX_NAME)
			return 0;
		wire[out++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++)
			wire[out++] = dns_lower((uint8_t)p[i]);
		p += l;
		if (*p == '.')
			p++;
	}
	wire[out++] = 0;
	return out;
}

void zone_name_to_text(const uint8_t *wire, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	if (*wire == 0 && outlen > 1) {
		out[o++] = '.';
	}
	while (*wire != 0) {
		uint8_t l = *wire++;
		for (uint8_t i = 0; i < l; i++, wire++) {
			char tmp[5];
			uint8_t c = *wire;
			if (c == '.' || c == '\\')
				snprintf(tmp, sizeof(tmp), "\\%c", c);
			else if (c <= 32 || c >= 127)
				snprintf(tmp, sizeof(tmp), "\\%03u", c);
			else
				snprintf(tmp, sizeof(tmp), "%c", c);
			for (char *t = tmp; *t != '\0' && o + 1 < outlen; t++)
				out[o++] = *t;
		}
		if (o + 1 < outlen)
			out[o++] = '.';
	}
	out[o] = '\0';
}

void zone_destroy(struct zone *z)
{
	for (size_t i = 0; i < z->nfiles; i++)
		free(z->files[i].path);
	arena_free(&z->arena);
	free(z->table);
	free(z->name);
	free(z->file);
	free(z);
}

/* Turns the node's ZONE_TYPE_WEIGHTED records into weighted sets per record type. */
struct zone *zone_load(const char *apex, const char *path, char *err, size_t errlen)
{
	struct zone_builder *b = zone_builder_new(apex);

	if (b == NULL) {
		set_err(err, errlen, "zone %s: not a valid name", apex);
		return NULL;
	}
	if (zone_builder_load_file(b, path, err, errlen) < 0) {
		zone_builder_free(b);
		return NULL;
	}
	return zone_builder_finish(b, err, errlen);
}

bool zone_files_unchanged(const struct zone *z)
{
	if (z->nfiles == 0)
		return false;
	for (size_t i = 0; i < z->nfiles; i++) {
		struct stat st;
		const struct file_stamp *f = &z->files[i];
		if (stat(f->path, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino ||
		    st.st_size != f->size || st.st_mtim.tv_sec != f->mtime.tv_sec ||
		    st.st_mtim.tv_nsec != f->mtime.tv_nsec)
			return false;
	}
	return true;
}

struct zone *zone_ref(struct zone *z)
{
	__atomic_add_fetch(&z->refs, 1, __ATOMIC_RELAXED);
	return z;
}

void zone_unref(struct zone *z)
{
	if (z != NULL && __atomic_sub_fetch(&z->refs, 1, __ATOMIC_ACQ_REL) == 0)
		zone_destroy(z);
}

const uint8_t *zone_apex(const struct zone *z, size_t *len)
{
	*len = z->apex_len;
	return z->apex;
}

unsigned zone_apex_labels(const struct zone *z)
{
	return z->apex_labels;
}

const struct zone_node *zone_apex_node(const struct zone *z)
{
	return z->apex_node;
}

const char *zone_name(const struct zone *z)
{
	return z->name;
}

const char *zone_file(const struct zone *z)
{
	return z->file;
}

size_t zone_record_count(const struct zone *z)
{
	return z->nrecords;
}

uint32_t zone_serial(const struct zone *z)
{
	return z->serial;
}

const struct zone_negative *zone_negative(const struct zone *z)
{
	return z->negative;
}

const struct zone_node *zone_find(const struct zone *z, const uint8_t *name, size_t len)
{
	return table_find(z, name, len, dns_name_hash(name, len));
}

void zone_prefetch(const struct zone *z, uint32_t hash, unsigned stage)
{
	const struct zone_slot *slot = &z->table[slot_index(hash, z->size)];
	const struct zone_node *n;

	if (stage == 0) {
		__builtin_prefetch(slot);
		return;
	}
	n = slot->node;
	if (n == NULL || slot->hash != hash)
		return;
	if (stage == 1) {
		/*
		 * The node is one block with its RRsets, their rdata pointers and
		 * the rdata (zone_builder.c, build_group): a host with an A and
		 * an AAAA record spans three or four lines.
		 */
		for (unsigned i = 0; i < 4; i++)
			__builtin_prefetch((const char *)n + 64 * i);
		return;
	}
	/* What was rendered for the node, apart from the block. */
	if (n->ready != NULL)
		__builtin_prefetch(n->ready);
}

const struct zone_node *zone_find_hash(const struct zone *z, const uint8_t *name, size_t len,
				       uint32_t hash)
{
	return table_find(z, name, len, hash);
}

const struct zone_rrset *zone_node_pick(const struct zone_node *node, uint16_t type, uint32_t rnd)
{
	const struct zone_rrset *plain = zone_node_rrset(node, type);

	if (plain != NULL || node->nweighted == 0)
		return plain;
	for (size_t i = 0; i < node->nweighted; i++) {
		const struct zone_weighted *w = &node->weighted[i];
		if (w->type != type)
			continue;
		if (w->total == 0)
			return &w->sets[rnd % w->nsets].rrset;
		rnd %= w->total;
		for (size_t k = 0; k < w->nsets; k++) {
			if (rnd < w->sets[k].weight)
				return &w->sets[k].rrset;
			rnd -= w->sets[k].weight;
		}
		return &w->sets[w->nsets - 1].rrset;
	}
	return NULL;
}

const struct zone_rrset *zone_node_rrset(const struct zone_node *node, uint16_t type)
{
	for (size_t i = 0; i < node->nrrsets; i++)
		if (node->rrsets[i].type == type)
			return &node->rrsets[i];
	return NULL;
}

void zone_foreach(const struct zone *z, void (*fn)(const struct zone_node *, void *), void *arg)
{
	for (size_t i = 0; i < z->size; i++)
		if (z->table[i].node != NULL)
			fn(z->table[i].node, arg);
}
