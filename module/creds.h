/* Credentials: where the API key comes from, and temporary keys.
 *
 * Every function here may block (file, command, HTTP): call them from the
 * helper thread, never from the worker's service loop or the RT thread.
 * Keys live only in struct creds_secret, which is wiped on release; no
 * function logs a key, and messages name only the source ("key=<redacted:file>").
 */
#ifndef TRANSCRIBE_CREDS_H
#define TRANSCRIBE_CREDS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "errclass.h"

#define CREDS_KEY_MAX		1024
#define CREDS_PATH_MAX		512
#define CREDS_MSG_MAX		256

struct creds_config {
	char file[CREDS_PATH_MAX];	/* key file; "~/" expanded; must not be group/other readable */
	char env[128];			/* environment variable holding the key */
	char command[CREDS_PATH_MAX];	/* run with /bin/sh -c; stdout's first line is the key */
	char temporary_key_url[CREDS_PATH_MAX];	/* POST here for a short-lived key; "" = none */
	uint32_t connect_timeout_ms;	/* temporary-key request: connect phase */
	uint32_t total_timeout_ms;	/* temporary-key request: whole transfer; also key command */
	uint32_t temporary_key_ttl_s;
	/* Set (by another thread): give up now; the key command's process
	 * group gets SIGTERM, then SIGKILL, the request is aborted. NULL: never. */
	const atomic_bool *cancel;
};

struct creds_secret {
	char key[CREDS_KEY_MAX];
	size_t len;
	const char *source;		/* "file", "env", "command", "temporary" (static) */
};

struct creds_error {
	enum err_class cls;
	long http_status;		/* 0 when no HTTP response */
	int64_t retry_after_ms;		/* -1 when not given */
	char message[CREDS_MSG_MAX];	/* one line, never contains the key */
};

/* Exactly one of file/env/command may be set (0 sources: no key, returns 0
 * with len 0). Returns 0 or -errno with err filled. */
int creds_load(const struct creds_config *cfg, struct creds_secret *out, struct creds_error *err);
/* Exchanges a long-lived key for a temporary one (libcurl, bounded by the
 * configured timeouts). Returns 0 or -errno with err classified. */
int creds_fetch_temporary(const struct creds_config *cfg, const struct creds_secret *long_key,
		struct creds_secret *out, struct creds_error *err);
/* Zeroes the key. */
void creds_wipe(struct creds_secret *s);

#endif
