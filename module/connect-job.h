/* The blocking half of a connection attempt, run on the helper thread:
 * credentials (file, env, command, temporary key) and DNS. The result goes
 * back to the session shell, which feeds it to the state machine. */
#ifndef TRANSCRIBE_CONNECT_JOB_H
#define TRANSCRIBE_CONNECT_JOB_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>

#include "blocking.h"
#include "creds.h"
#include "url.h"

struct shell;

struct connect_job {
	struct blocking_job base;
	struct shell *sh;		/* owner; read on the collecting thread only */
	uint64_t attempt;
	struct creds_config creds;
	char host[URL_HOST_MAX];
	uint16_t port;
	int res;
	struct creds_secret secret;
	struct creds_error err;
	char address[INET6_ADDRSTRLEN];
};

/* Helper thread: fills res/secret/address or res/err. */
void connect_job_run(struct blocking_job *base);

#endif
