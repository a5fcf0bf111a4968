/* Shared by the parts of the config parser (config.c: the table and the
 * walk; config-check.c: what is checked across keys once parsed). Not for
 * other users: config.h is the interface. */
#ifndef TRANSCRIBE_CONFIG_INTERNAL_H
#define TRANSCRIBE_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spa/utils/defs.h>

#include "config.h"

struct config_parser {
	struct transcribe_config *cfg;
	bool url_given;		/* service.url was set (maybe to ""): no default */
	bool model_given;	/* service.model was set: not the dialect's default */
	bool max_session_given;	/* service.max-session-sec was set: likewise */
	bool stall_given;	/* liveness.stall-timeout-ms was set: likewise */
	char *err;
	size_t err_size;
};

/* Writes "key: reason" (one line, control characters shown as '?') into
 * the parser's err and returns -EINVAL. */
int config_fail(struct config_parser *p, const char *key, const char *fmt, ...) SPA_PRINTF_FUNC(3, 4);

/* taps[idx] once parsed: name, mode against target/match, absolute
 * debug.record-file; fills in the default description. */
int config_check_tap(struct config_parser *p, uint32_t idx);
/* The service and the rest of the global keys, once parsed: the default
 * URL, URL syntax, no key in clear text, absolute paths, names. */
int config_check_service(struct config_parser *p);

#endif
