/* The blocking half of a connection attempt, run on the helper thread:
 * credentials (file, env, command, temporary key) and DNS. It also builds
 * what needs the key (the Authorization header, the dialect's first
 * message), so the key itself stays in the job. The result goes back to
 * the session shell, which feeds it to the state machine.
 *
 * A job that is superseded (its owner started a newer attempt) stops
 * before its next step: no key command, no temporary key minted, no
 * lookup for an attempt that is over. The lookup itself is bounded: a
 * resolver that hangs is left behind after dns_timeout_ms.
 */
#ifndef TRANSCRIBE_CONNECT_JOB_H
#define TRANSCRIBE_CONNECT_JOB_H

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "blocking.h"
#include "creds.h"
#include "dialect.h"
#include "url.h"

#define CONNECT_JOB_MAX_ADDRESSES	8
#define CONNECT_JOB_AUTH_MAX		(CREDS_KEY_MAX + 16)

/* What an attempt needs to open its socket: the Authorization value and
 * the dialect's first message (both may hold the key: wipe them with
 * connect_result_wipe()), and every address of the service. */
struct connect_result {
	char auth[CONNECT_JOB_AUTH_MAX];	/* "" when the key does not go in a header */
	char *config;			/* malloc'd; NULL: none */
	size_t config_len;
	const char *key_source;		/* "file", "env", …, "none" (static) */
	uint32_t n_addresses;		/* in the resolver's order */
	char addresses[CONNECT_JOB_MAX_ADDRESSES][INET6_ADDRSTRLEN];
};

struct connect_job_params {
	struct creds_config creds;
	char host[URL_HOST_MAX];
	uint16_t port;
	uint32_t dns_timeout_ms;
	const struct dialect_ops *dialect;
	const struct dialect_params *dialect_params;	/* must outlive the job */
};

/* Collecting thread, once per job (not for a cancelled or superseded one):
 * res 0 and r filled (take what you keep, e.g. r->config, and NULL it; the
 * rest is wiped after), or res < 0 and err. */
typedef void (*connect_job_done_fn)(void *owner, uint64_t attempt, int res,
		const struct creds_error *err, struct connect_result *r);

/* Submits attempt's job to the helper thread; it stops before each step
 * once *current no longer names it. -ENOMEM: nothing was submitted. */
int connect_job_submit(struct blocking *b, const struct connect_job_params *p, uint64_t attempt,
		const _Atomic uint64_t *current, connect_job_done_fn done, void *owner);
void connect_result_wipe(struct connect_result *r);

#endif
