/* ws:// and wss:// URLs. Pure; any thread. */
#ifndef TRANSCRIBE_URL_H
#define TRANSCRIBE_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_HOST_MAX	256
#define URL_PATH_MAX	512

struct url {
	bool tls;
	char host[URL_HOST_MAX];
	uint16_t port;
	char path[URL_PATH_MAX];	/* with query */
};

/* Parses ws:// and wss:// URLs. Returns 0 or -EINVAL with err filled. */
int url_parse(const char *text, struct url *u, char *err, size_t err_size);

#endif
