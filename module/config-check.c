/* Checks across keys once the arguments are parsed (see config-internal.h):
 * a tap's mode against its target and match, the service URL and its
 * default, the key never in clear text, absolute paths, bus names. */
#include "config-internal.h"
#include "url.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spa/utils/string.h>

/* Paths are opened by the daemon, whose working directory is nobody's
 * business: a relative one would land anywhere. */
static int check_absolute(struct config_parser *p, const char *key, const char *path, bool tilde)
{
	if (path[0] == '\0' || path[0] == '/' || (tilde && path[0] == '~' && path[1] == '/'))
		return 0;
	return config_fail(p, key, "\"%s\" is a relative path; give an absolute one%s", path,
			tilde ? " (or ~/...)" : "");
}

static bool valid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

int config_check_tap(struct config_parser *p, uint32_t idx)
{
	struct tap_config *tap = &p->cfg->taps[idx];
	char where[48];

	snprintf(where, sizeof(where), "taps[%u]", idx);
	if (tap->name[0] == '\0')
		return config_fail(p, where, "needs a name");
	if (!valid_name(tap->name))
		return config_fail(p, where, "name \"%s\" may only have letters, digits, '-', '_' and '.'", tap->name);
	for (uint32_t i = 0; i < idx; i++)
		if (spa_streq(p->cfg->taps[i].name, tap->name))
			return config_fail(p, where, "name \"%s\" is used by taps[%u] too", tap->name, i);
	if (tap->mode == TAP_MODE_TAP && tap->target[0] == '\0' && tap->n_match == 0)
		return config_fail(p, where, "mode tap needs a target (node.name or object.serial) or match "
				"rules; for a node you link yourself use mode source");
	if (tap->mode == TAP_MODE_SINK && tap->n_match > 0)
		return config_fail(p, where, "match is for modes tap and source; a sink receives what is routed to it");
	if (tap->target[0] != '\0' && tap->n_match > 0)
		return config_fail(p, where, "give either target or match, not both");
	strcat(where, ".debug.record-file");
	if (check_absolute(p, where, tap->record_file, false) < 0)
		return -EINVAL;
	if (tap->description[0] == '\0') {
		char name[sizeof(tap->name)];
		memcpy(name, tap->name, sizeof(name));
		snprintf(tap->description, sizeof(tap->description), "Transcribe: %s", name);
	}
	return 0;
}

/* The D-Bus specification's rule for well-known names. */
static bool valid_bus_name(const char *name)
{
	uint32_t elements = 0;
	bool start = true;

	for (const char *c = name; *c; c++) {
		if (*c == '.') {
			if (start)
				return false;
			start = true;
			continue;
		}
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
			return false;
		if (start && isdigit((unsigned char)*c))
			return false;
		elements += start;
		start = false;
	}
	return !start && elements >= 2 && strlen(name) <= 255;
}

/* ws+unix://$XDG_RUNTIME_DIR/pipewire-transcribe/server.sock:/transcribe-websocket,
 * or -ENOENT without an absolute XDG_RUNTIME_DIR. */
static int embedded_url(char *buf, size_t size)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int n;

	if (dir == NULL || dir[0] != '/')
		return -ENOENT;
	n = snprintf(buf, size, "ws+unix://%s/" CONFIG_EMBEDDED_SOCKET ":" CONFIG_EMBEDDED_RESOURCE,
			dir);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The key must not cross the network in clear text. */
static int check_key_transport(struct config_parser *p, const struct url *u, bool has_key)
{
	struct transcribe_config *cfg = p->cfg;

	if (!has_key || u->tls || url_is_loopback(u))
		return 0;
	if (!cfg->service.allow_insecure)
		return config_fail(p, "service.url", "ws:// would send the API key in clear text to %s, "
				"which is not this machine; use wss://, or set "
				"service.allow-insecure = true", u->host);
	snprintf(cfg->warning, sizeof(cfg->warning), "service.allow-insecure: the API key goes "
			"in clear text (ws://) to %.160s", u->host);
	return 0;
}

static int check_url(struct config_parser *p, bool has_key)
{
	struct service_config *svc = &p->cfg->service;
	char def[sizeof(svc->url)], why[256];
	bool have_def = embedded_url(def, sizeof(def)) == 0;
	struct url u;

	if (!p->url_given) {
		if (!have_def)
			return config_fail(p, "service.url", "no default without XDG_RUNTIME_DIR (the "
					"embedded server's socket is under it): set XDG_RUNTIME_DIR "
					"to an absolute path, or set service.url");
		memcpy(svc->url, def, sizeof(def));
	}
	svc->embedded = have_def && spa_streq(svc->url, def);
	if (svc->url[0] == '\0')
		return 0;
	if (url_parse(svc->url, &u, why, sizeof(why)) < 0)
		return config_fail(p, "service.url", "%s", why);
	return check_key_transport(p, &u, has_key);
}

/* What differs per dialect in the defaults and the checks. The caps and
 * rates are the dialects' own facts (dialect_ops max_session_sec and
 * required_rate; test-config checks they agree), kept here so that the
 * config parser needs no JSON library. */
static const struct dialect_defaults {
	const char *name;
	const char *model;		/* "": the service picks */
	uint32_t max_session_sec;	/* the rollover before the service's cap */
	uint32_t rate;			/* the only rate it takes; 0: any */
	uint32_t stall_timeout_ms;	/* 0: the table's default */
	bool mono;			/* takes one channel only */
} dialect_defaults[] = {
	{ "soniox", "stt-rt-v5", 17400, 0, 0, false },
	{ "deepgram", "nova-3", 17400, 0, 0, false },
	/* 60 min cap; the GA transcription session takes audio/pcm at 24 kHz
	 * mono only; it says nothing until the voice detector ends an utterance. */
	{ "openai-realtime", "gpt-4o-transcribe", 3300, 24000, 30000, true },
	{ "vosk", "", 17400, 0, 0, true },
};

static int check_dialect(struct config_parser *p)
{
	struct service_config *svc = &p->cfg->service;
	const struct dialect_defaults *d = NULL;

	for (size_t i = 0; i < SPA_N_ELEMENTS(dialect_defaults); i++)
		if (spa_streq(svc->dialect, dialect_defaults[i].name))
			d = &dialect_defaults[i];
	if (d == NULL)
		return config_fail(p, "service.dialect", "\"%s\" is not one of soniox, deepgram, "
				"openai-realtime, vosk", svc->dialect);
	if (!p->model_given)
		snprintf(svc->model, sizeof(svc->model), "%s", d->model);
	if (!p->max_session_given)
		svc->max_session_sec = d->max_session_sec;
	if (!p->stall_given && d->stall_timeout_ms != 0)
		p->cfg->stall_timeout_ms = d->stall_timeout_ms;
	if (d->mono && p->cfg->channels != 1)
		return config_fail(p, "audio.channels", "%s takes mono only, not %u channels; "
				"PipeWire downmixes, so leave audio.channels at 1", d->name,
				p->cfg->channels);
	if (d->rate != 0 && p->cfg->rate != d->rate)
		return config_fail(p, "audio.rate", "%s takes %u Hz only, not %u; PipeWire resamples, "
				"so set audio.rate = %u", d->name, d->rate, p->cfg->rate, d->rate);
	return 0;
}

int config_check_service(struct config_parser *p)
{
	struct service_config *svc = &p->cfg->service;
	int n_sources = (svc->key_file[0] != '\0') + (svc->key_env[0] != '\0') +
		(svc->key_command[0] != '\0'), res;

	if ((res = check_dialect(p)) < 0)
		return res;
	if ((res = check_url(p, n_sources > 0)) < 0)
		return res;
	/* The server would refuse the stream; say so while the user is looking.
	 * The one on the default socket speaks soniox at 16 kHz; the others
	 * (pw-transcribe-server --dialect) live on sockets of their own. */
	if (svc->embedded && !spa_streq(svc->dialect, "soniox"))
		return config_fail(p, "service.dialect", "the embedded service (pw-transcribe-server "
				"on its default socket) speaks soniox, not %s; run "
				"`pw-transcribe-server --dialect %s --socket PATH` and set service.url "
				"= \"ws+unix://PATH:/transcribe-websocket\"", svc->dialect, svc->dialect);
	if (svc->embedded && p->cfg->rate != CONFIG_EMBEDDED_RATE)
		return config_fail(p, "audio.rate", "the embedded service (pw-transcribe-server) takes %u Hz, "
				"not %u; PipeWire resamples, so leave audio.rate at %u or set service.url",
				CONFIG_EMBEDDED_RATE, p->cfg->rate, CONFIG_EMBEDDED_RATE);
	if (n_sources > 1)
		return config_fail(p, "service.api-key", "give only one of file, env and command");
	if (svc->temporary_key_url[0] != '\0' && n_sources == 0)
		return config_fail(p, "service.temporary-key.url", "needs a long-lived key from "
				"service.api-key.file, .env or .command");
	if ((res = check_absolute(p, "service.api-key.file", svc->key_file, true)) < 0 ||
	    (res = check_absolute(p, "service.tls.ca-file", svc->ca_file, false)) < 0 ||
	    (res = check_absolute(p, "journal.dir", p->cfg->journal_dir, false)) < 0)
		return res;
	if (p->cfg->dbus_name[0] != '\0' && !valid_bus_name(p->cfg->dbus_name))
		return config_fail(p, "publish.dbus-name", "\"%s\" is not a D-Bus name (two or more "
				"dot-separated elements of letters, digits, '_' and '-', "
				"not starting with a digit)", p->cfg->dbus_name);
	if (p->cfg->cap_ms < p->cfg->base_ms)
		return config_fail(p, "reconnect.cap-ms", "%u is below reconnect.base-ms %u",
				p->cfg->cap_ms, p->cfg->base_ms);
	return 0;
}

