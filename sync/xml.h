/*
 * xml: AWS responses parsed as a stream with expat.
 *
 * The caller sees each element as its path of local names from the root
 * ("ListResourceRecordSetsResponse/ResourceRecordSets/ResourceRecordSet/Name"),
 * namespaces dropped, with the text of leaf elements. Memory is bounded by
 * the nesting depth and the longest text, never by the size of the document.
 */
#ifndef SYNC_XML_H
#define SYNC_XML_H

#include <stdbool.h>
#include <stddef.h>

struct xml_handler {
	/* An element opens (path includes it). May be NULL. */
	void (*start)(void *arg, const char *path, size_t depth);
	/* An element closes, with its text (leaf elements; "" otherwise). */
	void (*end)(void *arg, const char *path, size_t depth, const char *text);
	void *arg;
};

struct xml_stream;

struct xml_stream *xml_stream_new(const struct xml_handler *h);
/* Feeds len bytes; 0, or -1 on malformed XML (message from xml_stream_error). */
int xml_stream_feed(struct xml_stream *x, const char *data, size_t len, bool final);
const char *xml_stream_error(const struct xml_stream *x);
void xml_stream_free(struct xml_stream *x);

/* True when path ends with the element names in suffix ("ResourceRecordSet/Name"). */
bool xml_path_ends(const char *path, const char *suffix);

#endif
