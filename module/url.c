/* URL parsing for the service address. */
#include "url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int url_parse(const char *text, struct url *u, char *err, size_t err_size)
{
	const char *p, *host, *end, *colon;
	size_t hl;
	char *e;
	long port;

	memset(u, 0, sizeof(*u));
	if (strncmp(text, "wss://", 6) == 0) {
		u->tls = true;
		p = text + 6;
	} else if (strncmp(text, "ws://", 5) == 0) {
		p = text + 5;
	} else {
		snprintf(err, err_size, "\"%s\" is not a ws:// or wss:// URL", text);
		return -EINVAL;
	}
	host = p;
	end = host + strcspn(host, "/?");
	if (*host == '[') {		/* [v6]:port */
		const char *rb = memchr(host, ']', end - host);
		if (rb == NULL) {
			snprintf(err, err_size, "\"%s\": unterminated IPv6 address", text);
			return -EINVAL;
		}
		hl = rb - host - 1;
		colon = rb[1] == ':' ? rb + 1 : NULL;
		host++;
	} else {
		colon = memchr(host, ':', end - host);
		hl = (colon ? colon : end) - host;
	}
	if (hl == 0 || hl >= sizeof(u->host)) {
		snprintf(err, err_size, "\"%s\": missing or too long host", text);
		return -EINVAL;
	}
	memcpy(u->host, host, hl);
	u->port = u->tls ? 443 : 80;
	if (colon != NULL) {
		port = strtol(colon + 1, &e, 10);
		if (e != end || port < 1 || port > 65535) {
			snprintf(err, err_size, "\"%s\": bad port", text);
			return -EINVAL;
		}
		u->port = (uint16_t)port;
	}
	snprintf(u->path, sizeof(u->path), "%s%s", *end == '/' ? "" : "/", end);
	if (strlen(end) + 1 >= sizeof(u->path)) {
		snprintf(err, err_size, "\"%s\": path too long", text);
		return -EINVAL;
	}
	return 0;
}
