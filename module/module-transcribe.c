/* libpipewire-module-transcribe: live speech-to-text taps.
 *
 * ## Module arguments (SPA-JSON; nested objects and dotted keys are equal)
 *
 * Every key, its default and its meaning: config.c's table, printed in
 * libpipewire-module-transcribe(7) and README's key table (a test keeps
 * both in step with it). The groups:
 *
 *   audio.{rate,channels}        what the service receives (16000 Hz mono);
 *                                PipeWire resamples and downmixes to it
 *   buffer.*                     RT ring, wake-ups, memory and disk spool kept
 *                                while the service is away, replay speed
 *   service.*                    dialect, url (default: the embedded server on
 *                                $XDG_RUNTIME_DIR/pipewire-transcribe/server.sock),
 *                                model, options, api-key.{file,env,command},
 *                                temporary-key.url, tls.ca-file, limits
 *   reconnect.*                  fast attempts, full-jitter backoff, offline probes
 *   liveness.*                   pings, connect/stall timeouts, silence (idle
 *                                finalize/close), network and sleep awareness
 *   journal.*                    the crash-safe transcript journal
 *   publish.{metadata,dbus}-name the metadata object and the D-Bus name
 *   taps = [ { name mode target match description capture.position
 *              debug.record-file } ]   one sink tap `captions` by default
 *
 * A tap with target/match is linked by the module itself (and relinked when
 * the app comes back), with or without a session manager.
 *
 * ## Examples
 *
 * In the daemon (~/.config/pipewire/pipewire.conf.d/transcribe.conf; the
 * flags keep PipeWire starting whatever happens to the module):
 *
 *   context.modules = [
 *     { name = libpipewire-module-transcribe
 *       flags = [ ifexists nofail ]
 *       args = {
 *         taps = [
 *           { name = browser  mode = tap   match = { application.name = "Firefox" } }
 *           { name = captions mode = sink  description = "Live transcription" }
 *         ]
 *       }
 *     }
 *   ]
 *
 * A cloud service instead of the embedded one (the key file chmod 600):
 *
 *   args = { service = { url = "wss://stt-rt.soniox.com/transcribe-websocket"
 *                        api-key.file = "/home/me/.config/pipewire-transcribe/soniox.key" }
 *            taps = [ { name = mic mode = source } ] }
 *
 * Threads: the PipeWire main thread (this file, streams, linker), the data
 * thread (process() in spa-node/, ring writes only) and the worker
 * (module/worker.c: drains rings, owns network and files; after an unload
 * it may finish on its own, see impl_destroy()).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spa/utils/result.h>
#include <pipewire/impl.h>
#include <pipewire/pipewire.h>
#include <libwebsockets.h>

#include "capture.h"
#include "clock.h"
#include "config.h"
#include "linker.h"
#include "publish.h"
#include "session.h"
#include "worker.h"
#include "ring.h"
#include "tap-stream.h"

PW_LOG_TOPIC(mod_topic, "mod.transcribe");
#define PW_LOG_TOPIC_DEFAULT mod_topic

#define WORKER_POLL_MS		100u
#define WORKER_STATS_MS		10000u
/* How long unloading waits for the worker on the (daemon's) main loop. */
#define WORKER_UNLOAD_WAIT_MS	30u
/* The process is ending: the worker's stop grace (4 s) and a margin. */
#define WORKER_EXIT_WAIT_MS	5000u
/* A tap whose nodes were destroyed is made again after this, doubling up
 * to the max while it keeps failing. */
#define TAP_REMAKE_MIN_MS	200u
#define TAP_REMAKE_MAX_MS	30000u
#define TAP_REMAKE_CALM_MS	10000u	/* gone again within this: not calm, back off */

static const struct spa_dict_item module_props[] = {
	{ PW_KEY_MODULE_AUTHOR, "pipewire-transcribe developers" },
	{ PW_KEY_MODULE_DESCRIPTION, "Live speech-to-text for PipeWire streams" },
	{ PW_KEY_MODULE_USAGE, "{ audio = { rate = 16000 channels = 1 } "
		"taps = [ { name = <name> mode = tap|sink|source target = <node> "
		"match = { <prop> = <value> } } ] }" },
	{ PW_KEY_MODULE_VERSION, TRANSCRIBE_VERSION },
};

struct impl;

struct tap {
	struct impl *impl;
	uint32_t index;
	const struct tap_config *cfg;
	struct tap_ring *ring;		/* shared: data thread writes, worker reads */
	struct capture *capture;	/* worker thread */
	struct tap_stream *stream;	/* main thread */
	struct tap_stream_params params;
	struct spa_source *remake;	/* makes the nodes again after they were destroyed */
	uint32_t remake_ms;		/* next delay; doubles while the nodes keep going */
	uint64_t gone_at_ms;		/* when they last went */
	char error_node[CONFIG_STR_MAX + 16];	/* node whose error is published; "" none */
};

/* main thread only */
struct impl {
	struct pw_context *context;
	struct spa_hook context_listener;
	struct pw_impl_module *module;
	struct spa_hook module_listener;
	bool graph_released;
	bool exiting;			/* the context is going: the process ends */

	struct pw_core *core;
	struct spa_hook core_listener;
	struct spa_hook core_proxy_listener;
	bool do_disconnect;
	bool daemon_gone;
	bool names_taken;

	struct transcribe_config cfg;
	struct worker *worker;
	struct publish *publish;	/* metadata + D-Bus */
	struct linker *linker;
	uint32_t n_taps;
	struct tap taps[CONFIG_MAX_TAPS];
	bool warned_unlocked;		/* a ring could not be mlock()ed: said once */
};

/* Everything that lives on the PipeWire connection: the metadata, links, then streams
 * (deactivated before they are destroyed, so after this no process() runs
 * and no ring is written), then our own connection. Idempotent. */
static void release_graph(struct impl *impl)
{
	uint32_t i;

	if (impl->graph_released)
		return;
	impl->graph_released = true;
	publish_release_graph(impl->publish);
	linker_destroy(impl->linker);
	impl->linker = NULL;
	for (i = 0; i < impl->n_taps; i++) {
		struct tap *tap = &impl->taps[i];
		if (tap->remake != NULL)
			pw_loop_destroy_source(pw_context_get_main_loop(impl->context), tap->remake);
		tap->remake = NULL;
		tap_stream_destroy(tap->stream);
		tap->stream = NULL;
	}
	if (impl->core != NULL) {
		spa_hook_remove(&impl->core_listener);
		spa_hook_remove(&impl->core_proxy_listener);
		if (impl->do_disconnect)
			pw_core_disconnect(impl->core);
		impl->core = NULL;
	}
}

/* What the worker borrowed (the config, captures, rings) goes once it let
 * go of them: at once, or on its own thread when it ends after the unload. */
static void impl_free(void *data)
{
	struct impl *impl = data;

	for (uint32_t i = 0; i < impl->n_taps; i++) {
		capture_destroy(impl->taps[i].capture);
		ring_free(impl->taps[i].ring);
	}
	free(impl);
}

/* In the daemon this runs on its main loop, which every client waits on:
 * the worker gets WORKER_UNLOAD_WAIT_MS to finish (then what it said goes
 * out below before the bus closes); else it finishes its sessions and
 * journals on its own thread (the helper's key command is terminated, a
 * temporary-key request or a lookup abandoned; a session's finalize waits
 * for the service up to the stop grace) and frees what it holds. The
 * module is linked -z nodelete so the code it runs stays mapped after
 * dlclose. When the process itself is ending, nobody waits on this loop
 * any more and the thread would die with the process: it gets its whole
 * grace. */
static void impl_destroy(struct impl *impl)
{
	struct publish *publish = impl->publish;
	uint32_t wait_ms = impl->exiting ? WORKER_EXIT_WAIT_MS : WORKER_UNLOAD_WAIT_MS;

	spa_hook_remove(&impl->context_listener);
	release_graph(impl);
	/* impl may be gone from here on. */
	worker_destroy(impl->worker, wait_ms, impl_free, impl);
	publish_destroy(publish);
}

/* pw_context_destroy() tells its listeners before it disconnects the
 * cores and destroys modules: release our streams while the core that
 * carries them is still intact. */
static void context_destroy(void *data)
{
	struct impl *impl = data;

	impl->exiting = true;
	release_graph(impl);
}

static const struct pw_context_events context_events = {
	PW_VERSION_CONTEXT_EVENTS,
	.destroy = context_destroy,
};

static void module_destroy(void *data)
{
	struct impl *impl = data;

	spa_hook_remove(&impl->module_listener);
	impl_destroy(impl);
}

static const struct pw_impl_module_events module_events = {
	PW_VERSION_IMPL_MODULE_EVENTS,
	.destroy = module_destroy,
};

/* The daemon went away under our own connection. The module unloads; in a
 * host process of its own (`pipewire -c pw-transcribe.conf`, where
 * PipeWire sets PIPEWIRE_INTERNAL), nothing is left for the process to do:
 * ask it to quit the way a SIGTERM would, so the worker finishes the
 * journals and the process ends cleanly for its unit to start it again
 * with the daemon. */
static void daemon_gone(struct impl *impl, const char *why)
{
	if (impl->daemon_gone)
		return;
	impl->daemon_gone = true;
	pw_impl_module_schedule_destroy(impl->module);
	if (impl->do_disconnect && getenv("PIPEWIRE_INTERNAL") != NULL) {
		pw_log_error("the PipeWire daemon is gone (%s): finishing the journals and "
				"ending this process (its unit starts it again with the daemon)", why);
		raise(SIGTERM);
	} else {
		pw_log_info("connection to PipeWire closed (%s); unloading", why);
	}
}

static void core_error(void *data, uint32_t id, int seq, int res, const char *message)
{
	struct impl *impl = data;

	pw_log(res == -ENOENT ? SPA_LOG_LEVEL_INFO : SPA_LOG_LEVEL_WARN,
			"error id:%u seq:%d res:%d (%s): %s", id, seq, res, spa_strerror(res), message);
	if (id == PW_ID_CORE && res == -EPIPE)
		daemon_gone(impl, message ? message : spa_strerror(res));
}

static const struct pw_core_events core_events = {
	PW_VERSION_CORE_EVENTS,
	.error = core_error,
};

/* The core went away (daemon gone, context shutting down): it destroyed
 * every proxy with it, so only the module itself is left to unload. */
static void core_proxy_destroy(void *data)
{
	struct impl *impl = data;

	spa_hook_remove(&impl->core_listener);
	spa_hook_remove(&impl->core_proxy_listener);
	impl->core = NULL;
	daemon_gone(impl, "connection closed");
}

static const struct pw_proxy_events core_proxy_events = {
	PW_VERSION_PROXY_EVENTS,
	.destroy = core_proxy_destroy,
};

/* A node in error (or destroyed) means the tap hears nothing: that shows
 * as the tap's state until the same node recovers. */
static void set_graph_error(struct tap *tap, const char *node, const char *why)
{
	char msg[SESSION_TEXT_MAX];

	if (why == NULL) {
		if (tap->error_node[0] == '\0' || (node != NULL && strcmp(node, tap->error_node) != 0))
			return;
		pw_log_info("tap=%s node=%s recovered", tap->cfg->name, tap->error_node);
		tap->error_node[0] = '\0';
		publish_set_graph_error(tap->impl->publish, tap->index, NULL);
		return;
	}
	snprintf(tap->error_node, sizeof(tap->error_node), "%s", node);
	snprintf(msg, sizeof(msg), "PipeWire node %s: %s", node, why);
	publish_set_graph_error(tap->impl->publish, tap->index, msg);
}

static void stream_state_changed(void *data, const char *node, enum pw_stream_state state,
		const char *error)
{
	struct tap *tap = data;

	if (state == PW_STREAM_STATE_ERROR) {
		pw_log_error("tap=%s node=%s stream error: %s", tap->cfg->name, node,
				error ? error : "unknown");
		set_graph_error(tap, node, error ? error : "error");
	} else {
		pw_log_debug("tap=%s node=%s state=%s", tap->cfg->name, node,
				pw_stream_state_as_string(state));
		if (state == PW_STREAM_STATE_PAUSED || state == PW_STREAM_STATE_STREAMING)
			set_graph_error(tap, node, NULL);
	}
	if (tap->stream != NULL)
		publish_set_node_id(tap->impl->publish, tap->index, tap_stream_node_id(tap->stream));
}

static void arm_remake(struct tap *tap)
{
	struct timespec ts = { .tv_sec = tap->remake_ms / 1000,
		.tv_nsec = (long)(tap->remake_ms % 1000) * SPA_NSEC_PER_MSEC };

	pw_loop_update_timer(pw_context_get_main_loop(tap->impl->context), tap->remake,
			&ts, NULL, false);
}

/* A session manager's policy (or a user) destroyed one of our nodes: the
 * tap is deaf until its nodes exist again. Never from inside the stream's
 * own callback: a timer does it. */
static void stream_gone(void *data, const char *node)
{
	struct tap *tap = data;
	uint64_t now = clock_now_ms();

	/* Destroyed again soon after being made again: wait longer. */
	tap->remake_ms = now - tap->gone_at_ms < TAP_REMAKE_CALM_MS ?
		SPA_MIN(tap->remake_ms * 2, TAP_REMAKE_MAX_MS) : TAP_REMAKE_MIN_MS;
	tap->gone_at_ms = now;
	pw_log_warn("tap=%s node=%s was destroyed by someone else (a session manager's "
			"policy, pw-cli destroy?): making the tap's nodes again in %u ms",
			tap->cfg->name, node, tap->remake_ms);
	set_graph_error(tap, node, "destroyed; the tap is being made again");
	publish_set_node_id(tap->impl->publish, tap->index, SPA_ID_INVALID);
	arm_remake(tap);
}

static const struct tap_stream_events tap_stream_events = {
	.state_changed = stream_state_changed,
	.gone = stream_gone,
};

static void linked_sources(void *data, const char *tap_name, const char *names)
{
	struct impl *impl = data;

	for (uint32_t i = 0; i < impl->n_taps; i++) {
		struct tap *tap = &impl->taps[i];
		if (strcmp(tap->cfg->name, tap_name) != 0)
			continue;
		pw_log_info("tap=%s hears=\"%s\"", tap_name, names);
		publish_set_source(impl->publish, tap->index, names);
	}
}

/* A second instance with the first one's names would answer for taps that
 * are not its own and double every transcript: it fails, loudly, and goes. */
static void names_taken(void *data, const char *why)
{
	struct impl *impl = data;

	if (impl->names_taken)
		return;
	impl->names_taken = true;
	pw_log_error("%s; unloading this instance", why);
	pw_impl_module_schedule_destroy(impl->module);
}

static const struct publish_events publish_events = {
	.names_taken = names_taken,
};

static const struct linker_events linker_events = {
	.sources = linked_sources,
};

static int connect_core(struct impl *impl)
{
	impl->core = pw_context_get_object(impl->context, PW_TYPE_INTERFACE_Core);
	if (impl->core == NULL) {
		impl->core = pw_context_connect(impl->context, NULL, 0);
		impl->do_disconnect = true;
	}
	if (impl->core == NULL)
		return -errno;
	pw_proxy_add_listener((struct pw_proxy *)impl->core, &impl->core_proxy_listener,
			&core_proxy_events, impl);
	pw_core_add_listener(impl->core, &impl->core_listener, &core_events, impl);
	return 0;
}

/* The captures are the module's to link (in any graph, with or without a
 * session manager); the sink's play-through is the session manager's, as
 * for any app stream (target is its hint). A tap only listens: its links
 * never keep a graph running (link.passive); a source tap is what makes a
 * microphone run, so its links are active. */
static int add_links(struct impl *impl, struct tap *tap)
{
	const struct tap_config *c = tap->cfg;
	const char *capture = tap_stream_capture_node(tap->stream);
	const char *sink = tap_stream_sink_node(tap->stream);
	bool passive = c->mode != TAP_MODE_SOURCE;
	struct config_match m;
	int res;

	/* What a sink tap hears is what plays into the sink. */
	if ((res = linker_watch(impl->linker, c->name, sink ? sink : capture)) < 0)
		return res;
	if (sink != NULL) {
		linker_target_match(sink, &m);
		return linker_add_rule(impl->linker, c->name, &m, 1, capture,
				c->position, c->n_position, true);
	}
	if (c->n_match > 0)
		return linker_add_rule(impl->linker, c->name, c->match, c->n_match, capture,
				c->position, c->n_position, passive);
	if (c->target[0] != '\0') {
		linker_target_match(c->target, &m);
		return linker_add_rule(impl->linker, c->name, &m, 1, capture,
				c->position, c->n_position, passive);
	}
	return 0;
}

static void set_params(struct tap *tap, const struct transcribe_config *g,
		const struct tap_config *c)
{
	static const enum tap_stream_mode modes[] = {
		[TAP_MODE_TAP] = TAP_STREAM_TAP,
		[TAP_MODE_SINK] = TAP_STREAM_SINK,
		[TAP_MODE_SOURCE] = TAP_STREAM_SOURCE,
	};
	struct tap_stream_params *p = &tap->params;

	p->name = c->name;
	p->mode = modes[c->mode];
	p->module_links = c->target[0] != '\0' || c->n_match > 0;
	p->description = c->description;
	p->target = c->target;
	p->rate = g->rate;
	p->channels = g->channels;
	p->n_position = c->n_position;
	p->position = c->position;
}

/* Drops what is left of the old nodes and makes them again; the linker
 * relinks them by name. */
static void on_remake(void *data, uint64_t expirations)
{
	struct tap *tap = data;

	tap_stream_destroy(tap->stream);
	/* Making the new nodes reports their states at once: nothing may
	 * reach the old ones through tap->stream then. */
	tap->stream = NULL;
	tap->stream = tap_stream_new(tap->impl->core, &tap->params, tap->ring,
			&tap_stream_events, tap);
	if (tap->stream == NULL) {
		tap->remake_ms = SPA_MIN(tap->remake_ms * 2, TAP_REMAKE_MAX_MS);
		pw_log_error("tap=%s cannot make its nodes again: %m; next try in %u ms",
				tap->cfg->name, tap->remake_ms);
		arm_remake(tap);
	} else {
		pw_log_info("tap=%s nodes made again", tap->cfg->name);
	}
}

static int setup_tap(struct impl *impl, struct tap *tap, const struct tap_config *c)
{
	const struct transcribe_config *g = &impl->cfg;
	uint32_t frame_bytes = g->channels * sizeof(int16_t);
	char err[256];
	int res;

	tap->impl = impl;
	tap->index = (uint32_t)(tap - impl->taps);
	tap->cfg = c;
	tap->remake_ms = TAP_REMAKE_MIN_MS;
	set_params(tap, g, c);
	tap->ring = ring_new(g->ring_ms * g->rate / 1000, frame_bytes,
			g->wake_ms * g->rate / 1000, worker_wake_fd(impl->worker));
	if (tap->ring == NULL)
		return -errno;
	if (ring_lock_error(tap->ring) != 0 && !impl->warned_unlocked) {
		impl->warned_unlocked = true;
		pw_log_warn("tap=%s the %u ms ring is not locked in memory (mlock: %s; raise "
				"RLIMIT_MEMLOCK, e.g. LimitMEMLOCK= in the unit): an idle tap's ring "
				"may be swapped out", c->name, g->ring_ms,
				strerror(ring_lock_error(tap->ring)));
	}
	tap->capture = capture_new(c->name, tap->ring, g->rate, g->channels, c->record_file);
	if (tap->capture == NULL) {
		res = -errno;
		pw_log_error("taps: %s: debug.record-file \"%s\": %s", c->name, c->record_file,
				spa_strerror(res));
		return res;
	}
	if ((res = worker_add_capture(impl->worker, tap->capture, err, sizeof(err))) < 0) {
		pw_log_error("tap=%s: %s", c->name, err);
		return res;
	}
	tap->remake = pw_loop_add_timer(pw_context_get_main_loop(impl->context), on_remake, tap);
	if (tap->remake == NULL)
		return -errno;
	tap->stream = tap_stream_new(impl->core, &tap->params, tap->ring, &tap_stream_events, tap);
	if (tap->stream == NULL)
		return -errno;
	pw_log_info("tap=%s mode=%s node=%s rate=%u channels=%u ring_ms=%u", c->name,
			config_mode_name(c->mode), tap_stream_capture_node(tap->stream),
			g->rate, g->channels, g->ring_ms);
	return add_links(impl, tap);
}

SPA_EXPORT int pipewire__module_init(struct pw_impl_module *module, const char *args);

SPA_EXPORT
int pipewire__module_init(struct pw_impl_module *module, const char *args)
{
	struct pw_context *context = pw_impl_module_get_context(module);
	char err[512];
	struct impl *impl;
	uint32_t i;
	int res;

	PW_LOG_TOPIC_INIT(mod_topic);

	if ((impl = calloc(1, sizeof(*impl))) == NULL)
		return -errno;
	impl->module = module;
	impl->context = context;
	pw_context_add_listener(context, &impl->context_listener, &context_events, impl);

	pw_log_info("pipewire-transcribe %s (libpipewire %s, libwebsockets %s)", TRANSCRIBE_VERSION,
			pw_get_library_version(), lws_get_library_version());
	if ((res = config_parse(args, &impl->cfg, err, sizeof(err))) < 0) {
		pw_log_error("invalid argument %s", err);
		goto error;
	}
	if (impl->cfg.warning[0] != '\0')
		pw_log_warn("%s", impl->cfg.warning);
	if ((impl->worker = worker_new(&impl->cfg, WORKER_POLL_MS, WORKER_STATS_MS, err, sizeof(err))) == NULL) {
		pw_log_error("%s", err);
		res = -ENOMEM;
		goto error;
	}
	if ((res = connect_core(impl)) < 0) {
		pw_log_error("cannot connect to PipeWire: %s", spa_strerror(res));
		goto error;
	}
	if ((impl->linker = linker_new(impl->core, &linker_events, impl)) == NULL) {
		res = -errno;
		goto error;
	}
	for (i = 0; i < impl->cfg.n_taps; i++) {
		impl->n_taps++;
		if ((res = setup_tap(impl, &impl->taps[i], &impl->cfg.taps[i])) < 0) {
			pw_log_error("tap=%s setup failed: %s", impl->cfg.taps[i].name, spa_strerror(res));
			goto error;
		}
	}
	if ((impl->publish = publish_new(context, impl->core,
			&impl->cfg, impl->worker, &publish_events, impl)) == NULL) {
		res = -errno;
		goto error;
	}
	worker_set_output(impl->worker, publish_queue_of(impl->publish));
	if ((res = worker_start(impl->worker)) < 0) {
		pw_log_error("cannot start the worker thread: %s", spa_strerror(res));
		goto error;
	}
	pw_impl_module_add_listener(module, &impl->module_listener, &module_events, impl);
	pw_impl_module_update_properties(module, &SPA_DICT_INIT_ARRAY(module_props));
	return 0;

error:
	impl_destroy(impl);
	return res;
}
