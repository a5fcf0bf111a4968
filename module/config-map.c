/* Module arguments to subsystem configurations (see config-map.h). */
#include "config-map.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <spa/utils/defs.h>

/* The end of stream must be acknowledged this long after it went out. */
#define MAP_STOP_TIMEOUT_MS	3000
/* An ending stream's backlog (paced) must be out within this. */
#define MAP_DRAIN_TIMEOUT_MS	30000
/* A sleep whose resume signal never comes (the system bus went away) is
 * over after this much time awake. */
#define MAP_RESUME_TIMEOUT_MS	30000
/* A Start within this long of a Stop resumes exactly where Stop left off. */
#define MAP_HOLD_MS		10000
#define MAP_FRAME_MS		100	/* audio per WebSocket message */
#define MAP_MAX_QUEUED		3	/* audio messages handed to lws at once */
#define MAP_TCP_SLACK_MS	1000
#define MAP_TEMPORARY_KEY_TTL_S	60

void config_map_session(const struct transcribe_config *cfg, const struct dialect_ops *dialect,
		const char *tap, const char *session_id, uint64_t seed, struct session_config *out)
{
	spa_zero(*out);
	out->fast_attempts = cfg->fast_attempts;
	out->base_ms = cfg->base_ms;
	out->cap_ms = cfg->cap_ms;
	out->offline_probe_ms = cfg->offline_probe_ms;
	out->connect_timeout_ms = cfg->connect_timeout_ms;
	out->stall_timeout_ms = cfg->stall_timeout_ms;
	out->ping_ms = cfg->ping_ms;
	out->pong_timeout_ms = cfg->pong_timeout_ms;
	out->stop_timeout_ms = MAP_STOP_TIMEOUT_MS;
	out->drain_timeout_ms = MAP_DRAIN_TIMEOUT_MS;
	out->stable_ms = cfg->stable_ms;
	out->idle_finalize_ms = cfg->idle_finalize_ms;
	out->idle_close_ms = cfg->idle_finalize_ms > 0 ? cfg->idle_close_sec * 1000u : 0;
	out->max_session_ms = (uint32_t)SPA_MIN((uint64_t)cfg->service.max_session_sec * 1000,
			(uint64_t)UINT32_MAX);
	out->resume_timeout_ms = MAP_RESUME_TIMEOUT_MS;
	out->hold_ms = MAP_HOLD_MS;
	out->ready_on_open = dialect->ready_without_ack;
	out->seed = seed;
	out->tap = tap;
	out->session_id = session_id;
}

void config_map_transport(const struct transcribe_config *cfg, const struct url *url,
		const struct dialect_ops *dialect, struct transport_config *out)
{
	spa_zero(*out);
	out->url = *url;
	/* The session pings (with a number the pong echoes) and decides;
	 * lws's own validity pings would answer for the wrong ping. */
	out->ping_s = 0;
	out->hangup_s = 0;
	out->tcp_user_timeout_ms = cfg->ping_ms + cfg->pong_timeout_ms + MAP_TCP_SLACK_MS;
	out->max_message = cfg->service.max_message_kb * 1024u;
	out->error_header = dialect->upgrade_error_header;
}

void config_map_datapath(const struct transcribe_config *cfg, struct datapath_config *out)
{
	spa_zero(*out);
	out->rate = cfg->rate;
	out->channels = cfg->channels;
	out->memory_sec = cfg->memory_sec;
	out->replay_speed = cfg->replay_speed;
	out->spool_bytes = (uint64_t)cfg->spool_max_mb << 20;
	out->spool_dir = cfg->journal_dir;
	out->overlap_ms = cfg->service.diarization ? cfg->speaker_overlap_ms : 0;
	out->frame_ms = MAP_FRAME_MS;
	out->max_queued = MAP_MAX_QUEUED;
}

void config_map_dialect(const struct transcribe_config *cfg, struct dialect_params *out)
{
	const struct service_config *svc = &cfg->service;

	spa_zero(*out);
	out->model = svc->model;
	out->rate = cfg->rate;
	out->channels = cfg->channels;
	out->n_language_hints = SPA_MIN(svc->n_hints, (uint32_t)DIALECT_MAX_HINTS);
	for (uint32_t i = 0; i < out->n_language_hints; i++)
		out->language_hints[i] = svc->hints[i];
	out->diarization = svc->diarization;
	out->language_identification = svc->language_identification;
	out->endpoint_detection = svc->endpoint_detection;
}

static void map_creds(const struct transcribe_config *cfg, struct creds_config *out)
{
	const struct service_config *svc = &cfg->service;

	spa_zero(*out);
	snprintf(out->file, sizeof(out->file), "%s", svc->key_file);
	snprintf(out->env, sizeof(out->env), "%s", svc->key_env);
	snprintf(out->command, sizeof(out->command), "%s", svc->key_command);
	snprintf(out->temporary_key_url, sizeof(out->temporary_key_url), "%s", svc->temporary_key_url);
	/* The helper's work must fit in the connect deadline. */
	out->connect_timeout_ms = cfg->connect_timeout_ms / 2;
	out->total_timeout_ms = cfg->connect_timeout_ms - 500;
	out->temporary_key_ttl_s = MAP_TEMPORARY_KEY_TTL_S;
}

void config_map_job(const struct transcribe_config *cfg, const struct url *url,
		const struct dialect_ops *dialect, const struct dialect_params *dialect_params,
		struct connect_job_params *out)
{
	spa_zero(*out);
	map_creds(cfg, &out->creds);
	snprintf(out->host, sizeof(out->host), "%s", url->host);
	out->port = url->port;
	/* Credentials and the lookup share the connect deadline. */
	out->dns_timeout_ms = cfg->connect_timeout_ms / 2;
	out->dialect = dialect;
	out->dialect_params = dialect_params;
}

/* Config that travels in the query (Deepgram) goes after the URL's path. */
static int add_query(const struct dialect_ops *dialect, const struct dialect_params *params,
		struct url *url, char *err, size_t err_size)
{
	size_t used = strlen(url->path);
	int n;

	if (dialect->build_query == NULL)
		return 0;
	n = dialect->build_query(params, strchr(url->path, '?') != NULL, url->path + used,
			sizeof(url->path) - used);
	if (n < 0) {
		url->path[used] = '\0';
		snprintf(err, err_size, "service.url: no room for %s's query after the path, or a "
				"value it can not carry (service.model, service.language.hints: "
				"letters, digits, '.', '-', '_'): %s", dialect->name, strerror(-n));
		return -EINVAL;
	}
	return 0;
}

int config_map_all(const struct transcribe_config *cfg, const char *tap, const char *session_id,
		uint64_t seed, struct dialect_params *params, struct config_map *out,
		char *err, size_t err_size)
{
	struct url url;

	if ((out->dialect = dialect_find(cfg->service.dialect)) == NULL) {
		snprintf(err, err_size, "service.dialect: unknown dialect %s (one of %s)",
				cfg->service.dialect, dialect_names());
		return -EINVAL;
	}
	if (url_parse(cfg->service.url, &url, err, err_size) < 0)
		return -EINVAL;
	config_map_dialect(cfg, params);
	if (add_query(out->dialect, params, &url, err, err_size) < 0)
		return -EINVAL;
	config_map_job(cfg, &url, out->dialect, params, &out->job);
	config_map_transport(cfg, &url, out->dialect, &out->transport);
	config_map_datapath(cfg, &out->datapath);
	config_map_session(cfg, out->dialect, tap, session_id, seed, &out->session);
	return 0;
}
