/* Module arguments: one table of keys with types, ranges, defaults and docs.
 *
 * Nested objects are flattened into dotted keys, so `audio = { rate = 16000 }`
 * and `audio.rate = 16000` mean the same. Every error names the full key
 * (e.g. `taps[1].mode`) and the reason, in one line.
 */
#include "config.h"
#include "transcribe-api.h"
#include "config-internal.h"
#include "config-json.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

#include <spa/debug/types.h>
#include <spa/param/audio/type-info.h>
#include <spa/utils/defs.h>
#include <spa/utils/json.h>
#include <spa/utils/string.h>

enum opt_type {
	OPT_UINT,
	OPT_BOOL,
	OPT_STRING,
	OPT_HINTS,
	OPT_MODE,
	OPT_POSITION,
	OPT_MATCH,
	OPT_TAPS,
};

struct opt {
	const char *key;
	enum opt_type type;
	size_t offset;
	size_t size;		/* OPT_STRING: capacity */
	int64_t min, max;	/* OPT_UINT: inclusive range */
	const char *def;	/* SPA-JSON text, applied before parsing; NULL = none */
	const char *doc;
};

#define G(f)	offsetof(struct transcribe_config, f)
#define GS(f)	sizeof(((struct transcribe_config *)0)->f)
#define SV(f)	offsetof(struct transcribe_config, service.f)
#define SS(f)	sizeof(((struct transcribe_config *)0)->service.f)
#define T(f)	offsetof(struct tap_config, f)
#define S(f)	sizeof(((struct tap_config *)0)->f)

static const struct opt global_opts[] = {
	{ "audio.rate", OPT_UINT, G(rate), 0, 8000, 48000, "16000",
	  "sample rate (Hz) of the audio sent to the service; PipeWire resamples to it" },
	{ "audio.channels", OPT_UINT, G(channels), 0, 1, 8, "1",
	  "channels sent to the service; PipeWire downmixes to them" },
	{ "buffer.ring-ms", OPT_UINT, G(ring_ms), 0, 200, 60000, "2000",
	  "size of the RT-to-worker ring; audio beyond it while the worker is stalled is dropped and counted" },
	{ "buffer.wake-ms", OPT_UINT, G(wake_ms), 0, 1, 500, "20",
	  "audio that collects in the ring before the RT thread wakes the worker" },
	{ "buffer.memory-sec", OPT_UINT, G(memory_sec), 0, 1, 3600, "120",
	  "audio kept in memory while the service is unreachable, sent in order when it is back" },
	{ "buffer.spool.max-mb", OPT_UINT, G(spool_max_mb), 0, 0, 1048576, "1024",
	  "beyond buffer.memory-sec, older audio waits in a disk spool in journal.dir of at most this size; 0: none" },
	{ "buffer.speaker-overlap-ms", OPT_UINT, G(speaker_overlap_ms), 0, 0, 10000, "2500",
	  "with service.diarization, a new session hears this much before the last final word again, to map its speaker labels onto the earlier ones" },
	{ "buffer.replay-speed", OPT_UINT, G(replay_speed), 0, 1, 50, "4",
	  "a new connection gets the audio since the last final word at up to this many times real time, then live" },
	{ "service.dialect", OPT_STRING, SV(dialect), SS(dialect), 0, 0, "soniox",
	  "wire protocol of the service: soniox, deepgram, openai-realtime or vosk" },
	{ "service.url", OPT_STRING, SV(url), SS(url), 0, 0, NULL,
	  "ws://, wss:// or ws+unix:///path.sock:/resource URL of the streaming endpoint; default: "
	  "the embedded pw-transcribe-server, ws+unix://$XDG_RUNTIME_DIR/" CONFIG_EMBEDDED_SOCKET
	  ":" CONFIG_EMBEDDED_RESOURCE "; \"\": capture only, no transcription" },
	{ "service.allow-insecure", OPT_BOOL, SV(allow_insecure), 0, 0, 0, "false",
	  "let the API key go over plain ws:// to a host other than this machine (logged at load)" },
	{ "service.max-message-kb", OPT_UINT, SV(max_message_kb), 0, 16, 65536, "1024",
	  "a message from the service bigger than this (KiB) is dropped and the connection "
	  "closed (1009) and opened again" },
	{ "service.model", OPT_STRING, SV(model), SS(model), 0, 0, "stt-rt-v5",
	  "model name sent to the service; default per dialect: stt-rt-v5 (soniox), nova-3 (deepgram), "
	  "gpt-4o-transcribe (openai-realtime), none (vosk: the server's own)" },
	{ "service.language.hints", OPT_HINTS, 0, 0, 0, 0, NULL,
	  "expected languages, e.g. [ en de ]" },
	{ "service.diarization", OPT_BOOL, SV(diarization), 0, 0, 0, "false",
	  "ask for speaker labels" },
	{ "service.language-identification", OPT_BOOL, SV(language_identification), 0, 0, 0, "false",
	  "ask for a language per token" },
	{ "service.endpoint-detection", OPT_BOOL, SV(endpoint_detection), 0, 0, 0, "false",
	  "ask the service to finalize at pauses" },
	{ "service.api-key.file", OPT_STRING, SV(key_file), SS(key_file), 0, 0, "\"\"",
	  "file with the API key (must not be readable by group or others)" },
	{ "service.api-key.env", OPT_STRING, SV(key_env), SS(key_env), 0, 0, "\"\"",
	  "environment variable with the API key" },
	{ "service.api-key.command", OPT_STRING, SV(key_command), SS(key_command), 0, 0, "\"\"",
	  "command whose first output line is the API key" },
	{ "service.temporary-key.url", OPT_STRING, SV(temporary_key_url), SS(temporary_key_url), 0, 0, "\"\"",
	  "fetch a short-lived key here before every connect" },
	{ "service.max-session-sec", OPT_UINT, SV(max_session_sec), 0, 0, 2000000, "17400",
	  "roll over to a new connection before one is this old, at a pause in speech; 0: never; default "
	  "per dialect: 17400 (Soniox caps a session at 300 min), 3300 (openai-realtime: 60 min), 17400 otherwise" },
	{ "service.tls.ca-file", OPT_STRING, SV(ca_file), SS(ca_file), 0, 0, "\"\"",
	  "extra CA certificate for wss:// (e.g. a test server); verification stays on" },
	{ "reconnect.fast-attempts", OPT_UINT, G(fast_attempts), 0, 1, 100, "6",
	  "attempts with exponential backoff before going offline" },
	{ "reconnect.base-ms", OPT_UINT, G(base_ms), 0, 10, 60000, "1000",
	  "backoff base: attempt n waits up to base·2^(n−2)" },
	{ "reconnect.cap-ms", OPT_UINT, G(cap_ms), 0, 100, 600000, "16000",
	  "longest backoff wait" },
	{ "reconnect.stable-ms", OPT_UINT, G(stable_ms), 0, 0, 3600000, "30000",
	  "a connection the service kept answering this long counts as progress even without words; 0: only words and progress count" },
	{ "reconnect.offline-probe-ms", OPT_UINT, G(offline_probe_ms), 0, 1000, 3600000, "30000",
	  "mean time between probes when offline (jittered ±50 %)" },
	{ "liveness.ping-ms", OPT_UINT, G(ping_ms), 0, 100, 60000, "500",
	  "WebSocket ping this often on a live connection (with a number the pong must echo)" },
	{ "liveness.pong-timeout-ms", OPT_UINT, G(pong_timeout_ms), 0, 100, 60000, "2000",
	  "hang up when a ping got no pong for this long: a dead path is found within ping-ms + pong-timeout-ms" },
	{ "liveness.connect-timeout-ms", OPT_UINT, G(connect_timeout_ms), 0, 1000, 120000, "10000",
	  "credentials, DNS, TCP, TLS, upgrade and readiness must finish within this" },
	{ "liveness.stall-timeout-ms", OPT_UINT, G(stall_timeout_ms), 0, 2000, 600000, "10000",
	  "no progress from the service for this long while audio flows: reconnect" },
	{ "liveness.idle-finalize-ms", OPT_UINT, G(idle_finalize_ms), 0, 0, 600000, "1500",
	  "no speech (or no audio) for this long: make the last words final and stop expecting progress; 0: never" },
	{ "liveness.idle-close-sec", OPT_UINT, G(idle_close_sec), 0, 0, 86400, "60",
	  "and this much longer: close the connection until speech returns (then reopen and replay); 0: never" },
	{ "liveness.network-events", OPT_BOOL, G(network_events), 0, 0, 0, "true",
	  "react to network changes (reconnect at once, check the path) and to suspend/resume" },
	{ "journal.enabled", OPT_BOOL, G(journal), 0, 0, 0, "true",
	  "write every final segment (and gaps and state changes) to a crash-safe JSONL journal per tap session" },
	{ "journal.dir", OPT_STRING, G(journal_dir), GS(journal_dir), 0, 0, "\"\"",
	  "absolute path of where the journals go; \"\": $XDG_STATE_HOME/pipewire-transcribe (~/.local/state/pipewire-transcribe)" },
	{ "journal.max-mb", OPT_UINT, G(journal_max_mb), 0, 1, 65536, "64",
	  "a tap session's journal stops at this size (MiB) with a gap line; the words are still published" },
	{ "publish.metadata-name", OPT_STRING, G(metadata_name), GS(metadata_name), 0, 0, TRANSCRIBE_METADATA_NAME,
	  "metadata.name of the PipeWire metadata object with each tap's state and words; \"\": none" },
	{ "publish.dbus-name", OPT_STRING, G(dbus_name), GS(dbus_name), 0, 0,
	  TRANSCRIBE_DBUS_NAME,
	  "well-known name of the D-Bus API on the session bus (another for a second instance); \"\": none" },
	{ "taps", OPT_TAPS, 0, 0, 0, 0, NULL,
	  "list of taps; default: one sink tap `captions` described \"Live transcription\"" },
};

static const struct opt tap_opts[] = {
	{ "name", OPT_STRING, T(name), S(name), 0, 0, NULL,
	  "required; letters, digits, '-', '_' and '.'; the node is named transcribe.<name>" },
	{ "mode", OPT_MODE, T(mode), 0, 0, 0, "tap",
	  "tap (an app's output or a sink's monitor), sink (a virtual sink that plays through) or source (a microphone)" },
	{ "target", OPT_STRING, T(target), S(target), 0, 0, "\"\"",
	  "tap/source: node.name or object.serial to capture from; sink: node to play through to (default output if empty)" },
	{ "match", OPT_MATCH, 0, 0, 0, 0, NULL,
	  "tap/source: node properties that pick what to capture, e.g. { application.name = \"Firefox\" }" },
	{ "description", OPT_STRING, T(description), S(description), 0, 0, "\"\"",
	  "node description shown in pavucontrol and patchbays; default \"Transcribe: <name>\"" },
	{ "capture.position", OPT_POSITION, 0, 0, 0, 0, "[ FL FR ]",
	  "input ports of the tap node; PipeWire downmixes them to audio.channels" },
	{ "debug.record-file", OPT_STRING, T(record_file), S(record_file), 0, 0, "\"\"",
	  "write the audio the worker receives to this WAV file, an absolute path (debugging aid)" },
};

static const char *const mode_names[] = {
	[TAP_MODE_TAP] = "tap",
	[TAP_MODE_SINK] = "sink",
	[TAP_MODE_SOURCE] = "source",
};

int config_fail(struct config_parser *p, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->err_size, "%s: ", key);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->err_size)
		vsnprintf(p->err + n, p->err_size - n, fmt, ap);
	va_end(ap);
	/* User text is quoted in messages: keep them on one line. */
	for (char *c = p->err; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return -EINVAL;
}

const char *config_mode_name(enum tap_mode mode)
{
	return mode < SPA_N_ELEMENTS(mode_names) ? mode_names[mode] : "unknown";
}

/* A value token as text for messages (bounded, never the whole document). */
static const char *shown(const char *val, int len, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s%s", SPA_MIN(len, 40), val, len > 40 ? "…" : "");
	return buf;
}

static int set_uint(struct config_parser *p, const struct opt *o, const char *key,
		void *base, const char *val, int len)
{
	char tmp[64], num[32], *end;
	long long v;

	if (spa_json_is_container(val, len) || len <= 0 || len >= (int)sizeof(num))
		return config_fail(p, key, "expected an integer, got %s", shown(val, len, tmp, sizeof(tmp)));
	memcpy(num, val, len);
	num[len] = '\0';
	errno = 0;
	v = strtoll(num, &end, 10);
	if (end == num || *end != '\0')
		return config_fail(p, key, "expected an integer, got %s", shown(val, len, tmp, sizeof(tmp)));
	if (errno == ERANGE || v < o->min || v > o->max)
		return config_fail(p, key, "%s is out of range %" PRIi64 "..%" PRIi64, num, o->min, o->max);
	*(uint32_t *)SPA_PTROFF(base, o->offset, void) = (uint32_t)v;
	return 0;
}

static int set_bool(struct config_parser *p, const struct opt *o, const char *key,
		void *base, const char *val, int len)
{
	char tmp[64];
	bool v;

	if (spa_json_is_container(val, len) || spa_json_parse_bool(val, len, &v) <= 0)
		return config_fail(p, key, "expected true or false, got %s", shown(val, len, tmp, sizeof(tmp)));
	*(bool *)SPA_PTROFF(base, o->offset, void) = v;
	return 0;
}

static int set_hints(struct config_parser *p, const char *key, const char *val, int len)
{
	struct service_config *svc = &p->cfg->service;
	struct spa_json it[2];
	const char *v;
	int l;

	if (!spa_json_is_array(val, len))
		return config_fail(p, key, "expected an array of language codes such as [ en de ]");
	spa_json_init(&it[0], val, len);
	spa_json_enter_array(&it[0], &it[1]);
	svc->n_hints = 0;
	while ((l = spa_json_next(&it[1], &v)) > 0) {
		if (svc->n_hints == CONFIG_MAX_HINTS)
			return config_fail(p, key, "more than %d languages", CONFIG_MAX_HINTS);
		if (spa_json_is_container(v, l) || l >= (int)sizeof(svc->hints[0]))
			return config_fail(p, key, "%.*s is not a language code", SPA_MIN(l, 40), v);
		spa_json_parse_stringn(v, l, svc->hints[svc->n_hints++], sizeof(svc->hints[0]));
	}
	return l < 0 ? config_fail(p, key, "syntax error") : 0;
}

static int parse_string(struct config_parser *p, const char *key, const char *val, int len,
		char *dst, size_t size)
{
	char tmp[64];
	char *s;

	if (spa_json_is_container(val, len) || spa_json_is_null(val, len))
		return config_fail(p, key, "expected a string, got %s", shown(val, len, tmp, sizeof(tmp)));
	/* The token may carry quotes and escapes: decode, then measure. */
	if ((s = malloc(len + 1)) == NULL)
		return config_fail(p, key, "out of memory");
	spa_json_parse_stringn(val, len, s, len + 1);
	if (strlen(s) >= size) {
		free(s);
		return config_fail(p, key, "longer than %zu characters", size - 1);
	}
	memcpy(dst, s, strlen(s) + 1);
	free(s);
	return 0;
}

static int set_mode(struct config_parser *p, const char *key, struct tap_config *tap,
		const char *val, int len)
{
	char s[32];
	uint32_t i;

	if (parse_string(p, key, val, len, s, sizeof(s)) < 0)
		return config_fail(p, key, "expected one of tap, sink, source");
	for (i = 0; i < SPA_N_ELEMENTS(mode_names); i++) {
		if (spa_streq(s, mode_names[i])) {
			tap->mode = (enum tap_mode)i;
			return 0;
		}
	}
	return config_fail(p, key, "\"%s\" is not one of tap, sink, source", s);
}

static int set_position(struct config_parser *p, const char *key, struct tap_config *tap,
		const char *val, int len)
{
	struct spa_json it[2];
	char name[16];
	const char *v;
	uint32_t ch;
	int l;

	if (!spa_json_is_array(val, len))
		return config_fail(p, key, "expected an array of channel names such as [ FL FR ]");
	spa_json_init(&it[0], val, len);
	spa_json_enter_array(&it[0], &it[1]);
	tap->n_position = 0;
	while ((l = spa_json_next(&it[1], &v)) > 0) {
		if (spa_json_is_container(v, l) || l >= (int)sizeof(name))
			return config_fail(p, key, "%.*s is not a channel name (FL, FR, MONO, FC, …)",
					SPA_MIN(l, 40), v);
		spa_json_parse_stringn(v, l, name, sizeof(name));
		ch = spa_debug_type_find_type_short(spa_type_audio_channel, name);
		if (ch == SPA_ID_INVALID || ch == SPA_AUDIO_CHANNEL_UNKNOWN)
			return config_fail(p, key, "\"%s\" is not a channel name (FL, FR, MONO, FC, …)", name);
		if (tap->n_position == SPA_AUDIO_MAX_CHANNELS)
			return config_fail(p, key, "more than %d channels", SPA_AUDIO_MAX_CHANNELS);
		tap->position[tap->n_position++] = ch;
	}
	if (l < 0)
		return config_fail(p, key, "syntax error");
	if (tap->n_position == 0)
		return config_fail(p, key, "needs at least one channel");
	return 0;
}

static int next_key(struct config_parser *p, struct spa_json *it, const char *where,
		char *key, size_t size);

static int set_match(struct config_parser *p, const char *key, struct tap_config *tap,
		const char *val, int len)
{
	struct spa_json it[2];
	const char *v;
	char sub[CONFIG_STR_MAX + 16];
	int l;

	if (!spa_json_is_object(val, len))
		return config_fail(p, key, "expected an object of node properties, e.g. { application.name = \"Firefox\" }");
	spa_json_init(&it[0], val, len);
	spa_json_enter_object(&it[0], &it[1]);
	tap->n_match = 0;
	while (tap->n_match < CONFIG_MAX_MATCH) {
		struct config_match *m = &tap->match[tap->n_match];
		if ((l = next_key(p, &it[1], key, m->key, sizeof(m->key))) < 0)
			return l;
		if (l == 0)
			break;
		snprintf(sub, sizeof(sub), "%s.%s", key, m->key);
		if ((l = spa_json_next(&it[1], &v)) <= 0)
			return config_fail(p, sub, "missing value");
		if (parse_string(p, sub, v, l, m->value, sizeof(m->value)) < 0)
			return -EINVAL;
		tap->n_match++;
	}
	if (spa_json_next(&it[1], &v) > 0)
		return config_fail(p, key, "more than %d properties", CONFIG_MAX_MATCH);
	if (tap->n_match == 0)
		return config_fail(p, key, "is empty; give at least one property");
	return 0;
}

static int parse_taps(struct config_parser *p, const char *key, const char *val, int len);

static int set_value(struct config_parser *p, const struct opt *o, const char *key,
		void *base, const char *val, int len)
{
	switch (o->type) {
	case OPT_UINT:
		return set_uint(p, o, key, base, val, len);
	case OPT_BOOL:
		return set_bool(p, o, key, base, val, len);
	case OPT_HINTS:
		return set_hints(p, key, val, len);
	case OPT_STRING:
		return parse_string(p, key, val, len, SPA_PTROFF(base, o->offset, char), o->size);
	case OPT_MODE:
		return set_mode(p, key, base, val, len);
	case OPT_POSITION:
		return set_position(p, key, base, val, len);
	case OPT_MATCH:
		return set_match(p, key, base, val, len);
	case OPT_TAPS:
		return parse_taps(p, key, val, len);
	}
	return -EINVAL;
}

static const struct opt *find_opt(const struct opt *opts, size_t n, const char *flat)
{
	for (size_t i = 0; i < n; i++)
		if (spa_streq(opts[i].key, flat))
			return &opts[i];
	return NULL;
}

static bool is_prefix_of_opt(const struct opt *opts, size_t n, const char *flat)
{
	size_t l = strlen(flat);
	for (size_t i = 0; i < n; i++)
		if (strncmp(opts[i].key, flat, l) == 0 && opts[i].key[l] == '.')
			return true;
	return false;
}

/* Reads the next key of an object: >0 a key, 0 the end, <0 an error
 * (already reported) — so broken input is never silently cut short. */
static int next_key(struct config_parser *p, struct spa_json *it, const char *where,
		char *key, size_t size)
{
	const char *v;
	int l = spa_json_next(it, &v);

	if (l == 0)
		return 0;
	if (l < 0)
		return config_fail(p, *where ? where : "arguments", "syntax error");
	if (spa_json_is_container(v, l))
		return config_fail(p, *where ? where : "arguments", "expected a key, got %.*s",
				SPA_MIN(l, 40), v);
	if (l >= (int)size)
		return config_fail(p, *where ? where : "arguments", "key %.40s… is too long", v);
	spa_json_parse_stringn(v, l, key, (int)size);
	return 1;
}

/* Walks one object; `prefix` is the flattened key so far ("" at the top),
 * `where` the user-visible path prefix for messages ("" or "taps[2]."). */
static int parse_object(struct config_parser *p, const struct opt *opts, size_t n_opts,
		void *base, const char *where, const char *prefix,
		const char *text, int text_len)
{
	struct spa_json it[2];
	char key[CONFIG_STR_MAX], flat[CONFIG_STR_MAX * 2], shown_key[CONFIG_STR_MAX * 3];
	const char *val;
	const struct opt *o;
	int len, res;

	spa_json_init(&it[0], text, text_len);
	if (spa_json_enter_object(&it[0], &it[1]) <= 0)
		spa_json_init(&it[1], text, text_len);

	while ((len = next_key(p, &it[1], where, key, sizeof(key))) > 0) {
		snprintf(flat, sizeof(flat), "%s%s%s", prefix, *prefix ? "." : "", key);
		if (config_json_key_is_plain(key, strlen(key)))
			snprintf(shown_key, sizeof(shown_key), "%s%s", where, flat);
		else
			snprintf(shown_key, sizeof(shown_key), "%s%s%s\"%s\"", where, prefix,
					*prefix ? "." : "", key);
		if ((len = spa_json_next(&it[1], &val)) <= 0)
			return config_fail(p, shown_key, "missing value");
		if (spa_json_is_container(val, len))
			len = spa_json_container_len(&it[1], val, len);

		if ((o = find_opt(opts, n_opts, flat)) != NULL) {
			if ((res = set_value(p, o, shown_key, base, val, len)) < 0)
				return res;
			p->url_given |= spa_streq(o->key, "service.url") && opts == global_opts;
			p->model_given |= spa_streq(o->key, "service.model") && opts == global_opts;
			p->max_session_given |= spa_streq(o->key, "service.max-session-sec") &&
				opts == global_opts;
			p->stall_given |= spa_streq(o->key, "liveness.stall-timeout-ms") &&
				opts == global_opts;
		} else if (is_prefix_of_opt(opts, n_opts, flat)) {
			if (!spa_json_is_object(val, len))
				return config_fail(p, shown_key, "expected an object { … }");
			if ((res = parse_object(p, opts, n_opts, base, where, flat, val, len)) < 0)
				return res;
		} else {
			return config_fail(p, shown_key, "unknown key (see the module's documentation for the keys)");
		}
	}
	return len;
}

static int apply_defaults(struct config_parser *p, const struct opt *opts, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		if (opts[i].def == NULL)
			continue;
		if (set_value(p, &opts[i], opts[i].key, base, opts[i].def, (int)strlen(opts[i].def)) < 0)
			return -EINVAL;
	}
	return 0;
}

static int parse_taps(struct config_parser *p, const char *key, const char *val, int len)
{
	struct spa_json it[2];
	const char *item;
	char where[64];
	int l, res;

	if (!spa_json_is_array(val, len))
		return config_fail(p, key, "expected an array of tap objects");
	spa_json_init(&it[0], val, len);
	spa_json_enter_array(&it[0], &it[1]);
	p->cfg->n_taps = 0;
	while ((l = spa_json_next(&it[1], &item)) > 0) {
		uint32_t idx = p->cfg->n_taps;
		struct tap_config *tap = &p->cfg->taps[idx];

		snprintf(where, sizeof(where), "%s[%u]", key, idx);
		if (idx == CONFIG_MAX_TAPS)
			return config_fail(p, key, "more than %d taps", CONFIG_MAX_TAPS);
		if (!spa_json_is_object(item, l))
			return config_fail(p, where, "expected an object { name = … mode = … }");
		l = spa_json_container_len(&it[1], item, l);
		memset(tap, 0, sizeof(*tap));
		if ((res = apply_defaults(p, tap_opts, SPA_N_ELEMENTS(tap_opts), tap)) < 0)
			return res;
		strcat(where, ".");
		if ((res = parse_object(p, tap_opts, SPA_N_ELEMENTS(tap_opts), tap,
						where, "", item, l)) < 0)
			return res;
		p->cfg->n_taps++;
		if ((res = config_check_tap(p, idx)) < 0)
			return res;
	}
	if (p->cfg->n_taps == 0)
		return config_fail(p, key, "is empty; leave it out for the default sink tap");
	return 0;
}

static void default_tap(struct config_parser *p)
{
	struct tap_config *tap = &p->cfg->taps[0];

	memset(tap, 0, sizeof(*tap));
	apply_defaults(p, tap_opts, SPA_N_ELEMENTS(tap_opts), tap);
	snprintf(tap->name, sizeof(tap->name), "captions");
	snprintf(tap->description, sizeof(tap->description), "Live transcription");
	tap->mode = TAP_MODE_SINK;
	p->cfg->n_taps = 1;
}

int config_parse(const char *args, struct transcribe_config *cfg,
		char *err, size_t err_size)
{
	struct config_parser p = { .cfg = cfg, .err = err, .err_size = err_size };
	int res;

	memset(cfg, 0, sizeof(*cfg));
	if (err_size > 0)
		err[0] = '\0';
	if ((res = apply_defaults(&p, global_opts, SPA_N_ELEMENTS(global_opts), cfg)) < 0)
		return res;
	if (args != NULL && *args != '\0') {
		size_t len = strlen(args);
		/* spa_json trusts its input: only whole, well-formed text goes on. */
		if (len > INT_MAX)
			return config_fail(&p, "arguments", "longer than %d bytes", INT_MAX);
		if ((res = config_json_check(args, len, &len, err, err_size)) < 0)
			return res;
		if ((res = parse_object(&p, global_opts, SPA_N_ELEMENTS(global_opts), cfg,
					"", "", args, (int)len)) < 0)
			return res;
	}
	if (cfg->n_taps == 0)
		default_tap(&p);
	return config_check_service(&p);
}

static void print_table(FILE *f, const char *prefix, const struct opt *opts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %s%-22s default %-12s %s\n", prefix, opts[i].key,
				opts[i].def ? opts[i].def : "-", opts[i].doc);
}

void config_print_reference(FILE *f)
{
	print_table(f, "", global_opts, SPA_N_ELEMENTS(global_opts));
	print_table(f, "taps[].", tap_opts, SPA_N_ELEMENTS(tap_opts));
}
