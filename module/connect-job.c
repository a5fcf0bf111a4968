/* Credentials and DNS for one connection attempt (helper thread). */
#include "connect-job.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <spa/utils/defs.h>

static void resolve(struct connect_job *j)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char port[8];
	int r;

	snprintf(port, sizeof(port), "%u", j->port);
	if ((r = getaddrinfo(j->host, port, &hints, &res)) != 0) {
		j->res = -EHOSTUNREACH;
		/* The network may just be down: retry, with a message that says so. */
		j->err.cls = ERR_TRANSIENT;
		j->err.retry_after_ms = -1;
		snprintf(j->err.message, sizeof(j->err.message), "cannot resolve %.160s: %s",
				j->host, gai_strerror(r));
		return;
	}
	if (res->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr,
				j->address, sizeof(j->address));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
				j->address, sizeof(j->address));
	freeaddrinfo(res);
}

void connect_job_run(struct blocking_job *base)
{
	struct connect_job *j = SPA_CONTAINER_OF(base, struct connect_job, base);
	struct creds_secret long_key;

	j->err.retry_after_ms = -1;
	if ((j->res = creds_load(&j->creds, &j->secret, &j->err)) < 0)
		return;
	if (j->creds.temporary_key_url[0] != '\0') {
		long_key = j->secret;
		creds_wipe(&j->secret);
		j->res = creds_fetch_temporary(&j->creds, &long_key, &j->secret, &j->err);
		creds_wipe(&long_key);
		if (j->res < 0)
			return;
	}
	/* ws+unix: no DNS; the transport connects to the socket path. */
	if (j->port == URL_PORT_UNIX)
		return;
	resolve(j);
}
