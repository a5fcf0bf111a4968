/* Module arguments: parsing, validation and the table of defaults.
 *
 * Pure code (no daemon needed): config_parse() turns the SPA-JSON argument
 * string into a struct transcribe_config or fails with one line that names
 * the offending key and says why. Any thread; no global state.
 */
#ifndef TRANSCRIBE_CONFIG_H
#define TRANSCRIBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <spa/param/audio/raw.h>

#define CONFIG_MAX_TAPS		16
#define CONFIG_MAX_MATCH	8
#define CONFIG_NAME_MAX		64
#define CONFIG_STR_MAX		256

enum tap_mode {
	TAP_MODE_TAP,		/* passive input on a node's output (an app, a sink monitor) */
	TAP_MODE_SINK,		/* virtual sink that plays through */
	TAP_MODE_SOURCE,	/* microphone or any source */
};

struct config_match {
	char key[CONFIG_STR_MAX];
	char value[CONFIG_STR_MAX];
};

struct tap_config {
	char name[CONFIG_NAME_MAX];
	enum tap_mode mode;
	char target[CONFIG_STR_MAX];		/* node.name or object.serial; "" = none */
	char description[CONFIG_STR_MAX];
	uint32_t n_match;
	struct config_match match[CONFIG_MAX_MATCH];
	uint32_t n_position;			/* input ports of the tap node */
	uint32_t position[SPA_AUDIO_MAX_CHANNELS];
	char record_file[CONFIG_STR_MAX];	/* debug WAV of what the worker drained */
};

#define CONFIG_MAX_HINTS	8

/* The embedded default service: pw-transcribe-server on a Unix socket in
 * the user's private runtime directory (no other user can reach it or
 * stand in for it): ws+unix://$XDG_RUNTIME_DIR/<CONFIG_EMBEDDED_SOCKET>:
 * <CONFIG_EMBEDDED_RESOURCE>, computed at load. */
#define CONFIG_EMBEDDED_SOCKET		"pipewire-transcribe/server.sock"
#define CONFIG_EMBEDDED_RESOURCE	"/transcribe-websocket"
#define CONFIG_EMBEDDED_RATE		16000	/* its en-us model's rate */

struct service_config {
	char dialect[32];
	char url[CONFIG_STR_MAX * 2];		/* "" = no session (capture only) */
	bool embedded;				/* url is the embedded default */
	uint32_t max_message_kb;		/* a bigger message ends the connection */
	bool allow_insecure;			/* a key may go over ws:// to another host */
	char model[64];
	uint32_t n_hints;
	char hints[CONFIG_MAX_HINTS][16];
	bool diarization;
	bool language_identification;
	bool endpoint_detection;
	char key_file[CONFIG_STR_MAX * 2];
	char key_env[128];
	char key_command[CONFIG_STR_MAX * 2];
	char temporary_key_url[CONFIG_STR_MAX * 2];
	char ca_file[CONFIG_STR_MAX * 2];	/* extra CA for wss:// (test servers) */
	uint32_t max_session_sec;		/* roll over before; 0: never */
};

struct transcribe_config {
	uint32_t rate;		/* what the service receives */
	uint32_t channels;
	uint32_t ring_ms;
	uint32_t wake_ms;
	uint32_t memory_sec;	/* audio kept while the service is away */
	uint32_t replay_speed;	/* × real time when a connection catches up */
	uint32_t spool_max_mb;	/* disk spool beyond memory_sec; 0: none */
	uint32_t speaker_overlap_ms;	/* replayed before C to map speaker labels */
	struct service_config service;
	uint32_t fast_attempts;
	uint32_t base_ms;
	uint32_t cap_ms;
	uint32_t offline_probe_ms;
	uint32_t stable_ms;	/* answered this long counts as progress; 0: never */
	uint32_t ping_ms;
	uint32_t pong_timeout_ms;
	uint32_t connect_timeout_ms;
	uint32_t stall_timeout_ms;
	uint32_t idle_finalize_ms;	/* no speech: finalize; 0: never */
	uint32_t idle_close_sec;	/* and then close; 0: never */
	bool network_events;	/* rtnetlink + logind sleep awareness */
	bool journal;				/* a JSONL journal per tap session */
	char journal_dir[CONFIG_STR_MAX * 2];	/* "" = $XDG_STATE_HOME/pipewire-transcribe */
	uint32_t journal_max_mb;		/* per tap session */
	char metadata_name[CONFIG_NAME_MAX];	/* "" = no metadata object */
	char dbus_name[CONFIG_STR_MAX];		/* "" = no D-Bus API */
	uint32_t n_taps;
	struct tap_config taps[CONFIG_MAX_TAPS];
	/* One line to log (warn) at load, or "": a setting that is allowed
	 * but weakens something (service.allow-insecure in use). */
	char warning[CONFIG_STR_MAX];
};

/* Parses args (NULL or "" means all defaults). On error returns -EINVAL and
 * writes one line "key: reason" into err; a syntax error also says at which
 * byte. Reads XDG_RUNTIME_DIR for the default service.url. */
int config_parse(const char *args, struct transcribe_config *cfg,
		char *err, size_t err_size);

const char *config_mode_name(enum tap_mode mode);

/* Writes every key with its default and meaning (for docs and --help). */
void config_print_reference(FILE *f);

#endif
