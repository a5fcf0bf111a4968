/* A tap as the service publishes it: its object path and the properties of
 * io.github.pw_transcribe.Transcribe1.Tap, read from D-Bus messages. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <systemd/sd-bus.h>

/* A plain record: the commands read every field. Strings are never NULL
 * ("" until the service says otherwise). */
struct cli_tap {
	char *path;
	char *name;
	uint32_t node_id;
	char *mode;
	char *target;
	char *state;
	uint32_t attempt;
	uint32_t max_attempts;
	int64_t next_retry_ms;		/* -1: no retry scheduled */
	char *last_error;
	char *session_id;
	uint64_t buffered_ms;
	uint64_t spooled_ms;
	uint64_t dropped_ms;
	char *journal_path;
	char *source;			/* what the tap hears: node names, "" none */
};

/* One bit per property, for "which ones did this message carry". */
enum cli_tap_prop {
	CLI_TAP_NAME = 1u << 0,
	CLI_TAP_NODE_ID = 1u << 1,
	CLI_TAP_MODE = 1u << 2,
	CLI_TAP_TARGET = 1u << 3,
	CLI_TAP_STATE = 1u << 4,
	CLI_TAP_ATTEMPT = 1u << 5,
	CLI_TAP_MAX_ATTEMPTS = 1u << 6,
	CLI_TAP_NEXT_RETRY_MS = 1u << 7,
	CLI_TAP_LAST_ERROR = 1u << 8,
	CLI_TAP_SESSION_ID = 1u << 9,
	CLI_TAP_BUFFERED_MS = 1u << 10,
	CLI_TAP_SPOOLED_MS = 1u << 11,
	CLI_TAP_DROPPED_MS = 1u << 12,
	CLI_TAP_JOURNAL_PATH = 1u << 13,
	CLI_TAP_SOURCE = 1u << 14,
};

/* What a "state" event of follow shows. */
#define CLI_TAP_STATE_PROPS (CLI_TAP_STATE | CLI_TAP_ATTEMPT | \
			     CLI_TAP_NEXT_RETRY_MS | CLI_TAP_LAST_ERROR)

/* The taps of one GetManagedObjects answer, sorted by name. */
struct cli_tap_list {
	struct cli_tap *taps;
	size_t n;
};

/* Returns 0 or -ENOMEM; cli_tap_clear() frees t either way. */
int cli_tap_init(struct cli_tap *t, const char *path);
void cli_tap_clear(struct cli_tap *t);

/* Reads the a{sv} at m into t. Unknown keys and values of the wrong type
 * are skipped (a newer service may add some). *read (may be NULL) gets the
 * properties found. Returns 0 or a negative errno. */
int cli_tap_read_props(struct cli_tap *t, sd_bus_message *m, uint32_t *read);

/* Reads the a{sa{sv}} of one object at m (GetManagedObjects,
 * InterfacesAdded): returns 1 when it has the Tap interface (read into t),
 * 0 when it has not, or a negative errno. */
int cli_tap_read_interfaces(struct cli_tap *t, sd_bus_message *m);

/* The bit of a property name, 0 when unknown. */
uint32_t cli_tap_prop_bit(const char *name);

/* status --json: every property, keys in snake_case; the caller owns it. */
struct json_object *cli_tap_to_json(const struct cli_tap *t);

/* Reads a GetManagedObjects reply (a{oa{sa{sv}}}) into list, sorted by
 * name. Returns 0 or a negative errno (list is empty then). */
int cli_tap_list_read(struct cli_tap_list *list, sd_bus_message *m);
void cli_tap_list_clear(struct cli_tap_list *list);
const struct cli_tap *cli_tap_list_find(const struct cli_tap_list *list,
					const char *name);

/* "a, b, c" (or "none"), for error messages; the caller frees it.
 * NULL when out of memory. */
char *cli_tap_list_names(const struct cli_tap_list *list);
