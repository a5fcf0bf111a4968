/* The dialect table and what all dialects share (see dialect.h). */
#include "dialect.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <spa/utils/defs.h>

static const struct dialect_ops *const dialects[] = {
	&dialect_soniox, &dialect_deepgram, &dialect_openai_realtime, &dialect_vosk,
};

const struct dialect_ops *dialect_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < SPA_N_ELEMENTS(dialects); i++)
		if (strcmp(name, dialects[i]->name) == 0)
			return dialects[i];
	return NULL;
}

const char *dialect_names(void)
{
	return "soniox, deepgram, openai-realtime, vosk";
}

int dialect_auth_value(const char *scheme, const char *api_key, char *buf, size_t size)
{
	const char *c;
	int n;

	if (api_key == NULL || api_key[0] == '\0')
		return -EINVAL;
	/* A header value can not hold control characters (CR/LF would inject). */
	for (c = api_key; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -EINVAL;
	if (buf == NULL || size == 0)
		return -ENOSPC;
	n = snprintf(buf, size, "%s %s", scheme, api_key);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size) {
		explicit_bzero(buf, size);
		return -ENOSPC;
	}
	return n;
}

void dialect_conn_reset(struct dialect_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->heard_ms = -1;
}
