#include "sync/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#define XML_MAX_PATH  1024
#define XML_MAX_TEXT  (64 * 1024) /* a Route 53 value is at most 4000 characters */
#define XML_MAX_DEPTH 64

struct xml_stream {
	XML_Parser parser;
	struct xml_handler h;
	char path[XML_MAX_PATH];
	size_t path_len;
	size_t marks[XML_MAX_DEPTH]; /* path length before each open element */
	size_t depth;
	char *text;
	size_t text_len;
	bool leaf;
	bool failed;
	char error[160];
};

/* With namespace processing, names arrive as "URI|local": keep the local part. */
static const char *local_name(const char *name)
{
	const char *bar = strrchr(name, '|');

	return bar != NULL ? bar + 1 : name;
}

static void XMLCALL on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_stream *x = arg;
	const char *local = local_name(name);
	size_t n = strlen(local);

	(void)attrs;
	if (x->failed)
		return;
	if (x->depth >= XML_MAX_DEPTH || x->path_len + n + 2 > XML_MAX_PATH) {
		snprintf(x->error, sizeof(x->error), "XML nested too deep");
		x->failed = true;
		XML_StopParser(x->parser, XML_FALSE);
		return;
	}
	x->marks[x->depth++] = x->path_len;
	if (x->path_len > 0)
		x->path[x->path_len++] = '/';
	memcpy(x->path + x->path_len, local, n + 1);
	x->path_len += n;
	x->text_len = 0;
	x->text[0] = '\0';
	x->leaf = true;
	if (x->h.start != NULL)
		x->h.start(x->h.arg, x->path, x->depth);
}

static void XMLCALL on_end(void *arg, const XML_Char *name)
{
	struct xml_stream *x = arg;

	(void)name;
	if (x->failed || x->depth == 0)
		return;
	if (x->h.end != NULL)
		x->h.end(x->h.arg, x->path, x->depth, x->leaf ? x->text : "");
	x->path_len = x->marks[--x->depth];
	x->path[x->path_len] = '\0';
	/* The parent has children: its own text, if any, is not a value. */
	x->leaf = false;
	x->text_len = 0;
	x->text[0] = '\0';
}

static void XMLCALL on_text(void *arg, const XML_Char *s, int len)
{
	struct xml_stream *x = arg;

	if (x->failed)
		return;
	if (x->text_len + (size_t)len >= XML_MAX_TEXT) {
		snprintf(x->error, sizeof(x->error), "XML text longer than %d bytes", XML_MAX_TEXT);
		x->failed = true;
		XML_StopParser(x->parser, XML_FALSE);
		return;
	}
	memcpy(x->text + x->text_len, s, (size_t)len);
	x->text_len += (size_t)len;
	x->text[x->text_len] = '\0';
}

struct xml_stream *xml_stream_new(const struct xml_handler *h)
{
	struct xml_stream *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->text = malloc(XML_MAX_TEXT);
	x->parser = XML_ParserCreateNS(NULL, '|');
	if (x->text == NULL || x->parser == NULL) {
		xml_stream_free(x);
		return NULL;
	}
	x->text[0] = '\0';
	x->h = *h;
	XML_SetUserData(x->parser, x);
	XML_SetElementHandler(x->parser, on_start, on_end);
	XML_SetCharacterDataHandler(x->parser, on_text);
	return x;
}

int xml_stream_feed(struct xml_stream *x, const char *data, size_t len, bool final)
{
	if (x->failed)
		return -1;
	if (XML_Parse(x->parser, data, (int)len, final) == XML_STATUS_ERROR) {
		if (!x->failed)
			snprintf(x->error, sizeof(x->error), "XML line %lu: %s",
				 (unsigned long)XML_GetCurrentLineNumber(x->parser),
				 XML_ErrorString(XML_GetErrorCode(x->parser)));
		x->failed = true;
		return -1;
	}
	return x->failed ? -1 : 0;
}

const char *xml_stream_error(const struct xml_stream *x)
{
	return x->error;
}

void xml_stream_free(struct xml_stream *x)
{
	if (x == NULL)
		return;
	if (x->parser != NULL)
		XML_ParserFree(x->parser);
	free(x->text);
	free(x);
}

bool xml_path_ends(const char *path, const char *suffix)
{
	size_t p = strlen(path), s = strlen(suffix);

	return p >= s && strcmp(path + p - s, suffix) == 0 && (p == s || path[p - s - 1] == '/');
}
