/* Main-thread publishing (see publish.h). */
#include "publish.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <pipewire/pipewire.h>

#include "clock.h"
#include "publish-dbus.h"
#include "publish-metadata.h"
#include "publish-queue.h"
#include "transcribe-api.h"

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

#define KEY_STATE	TRANSCRIBE_KEY_STATE
#define KEY_PARTIAL	TRANSCRIBE_KEY_PARTIAL
#define KEY_FINAL	TRANSCRIBE_KEY_FINAL

/* main thread only */
struct publish_tap {
	uint32_t node_id;		/* SPA_ID_INVALID until registered */
	char *state_json;		/* latest values, re-set when the id changes */
	char *partial_json;
	char *final_json;
	bool partial_pending;
	struct publish_segment partial;
	uint64_t partial_sent_ms;
	struct publish_state state;	/* the session's, as the worker last said */
	char graph_error[SESSION_TEXT_MAX];	/* "" or why the tap hears nothing */
	char source[256];		/* what the tap hears, from the linker */
};

struct publish {
	struct pw_loop *loop;
	const struct publish_events *events;
	void *events_data;
	struct spa_source *wake;
	struct spa_source *timer;	/* flushes rate-limited partials */
	struct publish_queue *queue;
	struct publish_metadata *meta;
	struct publish_dbus *dbus;
	struct worker *worker;
	uint32_t n_taps;
	struct publish_tap taps[CONFIG_MAX_TAPS];
	struct publish_event ev;	/* scratch: too big for the stack's comfort */
};

static char *to_json(struct json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	return s;
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static char *state_json(const struct publish_state *st)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "state", st->capture_only ? "capture-only" : session_state_name(st->state));
	add_int(o, "attempt", st->attempt);
	add_int(o, "max_attempts", st->max_attempts);
	add_int(o, "next_retry_ms", st->next_retry_ms);
	add_str(o, "error", st->error);
	add_str(o, "session_id", st->session_id);
	add_int(o, "buffered_ms", (int64_t)st->buffered_ms);
	add_int(o, "spooled_ms", (int64_t)st->spooled_ms);
	add_int(o, "dropped_ms", (int64_t)st->dropped_ms);
	add_str(o, "source", st->source);
	return to_json(o);
}

static char *segment_json(const struct publish_segment *seg, bool final)
{
	struct json_object *o = json_object_new_object();

	if (final)
		add_int(o, "seq", (int64_t)seg->seq);
	add_str(o, "text", seg->text);
	add_int(o, "start_ms", seg->start_ms);
	add_int(o, "end_ms", seg->end_ms);
	if (final) {
		add_str(o, "speaker", seg->speaker);
		add_str(o, "language", seg->language);
	}
	return to_json(o);
}

/* Keeps json as the key's latest value and sets it (when the node id is known). */
static void set_key(struct publish *p, struct publish_tap *t, char **slot, const char *key,
		char *json)
{
	free(*slot);
	*slot = json;
	publish_metadata_set(p->meta, t->node_id, key, json);
}

static void send_partial(struct publish *p, uint32_t tap)
{
	struct publish_tap *t = &p->taps[tap];

	t->partial_pending = false;
	t->partial_sent_ms = clock_now_ms();
	set_key(p, t, &t->partial_json, KEY_PARTIAL, segment_json(&t->partial, false));
	publish_dbus_partial(p->dbus, tap, &t->partial);
}

static void arm_partial_timer(struct publish *p)
{
	uint64_t due = UINT64_MAX;
	struct timespec ts;

	for (uint32_t i = 0; i < p->n_taps; i++)
		if (p->taps[i].partial_pending)
			due = SPA_MIN(due, p->taps[i].partial_sent_ms + PUBLISH_PARTIAL_MS);
	if (due == UINT64_MAX) {
		pw_loop_update_timer(p->loop, p->timer, NULL, NULL, false);
		return;
	}
	/* clock_now_ms() is CLOCK_MONOTONIC, as the loop's absolute timers. */
	ts.tv_sec = (time_t)(due / 1000);
	ts.tv_nsec = (long)(due % 1000) * 1000000 + 1;
	pw_loop_update_timer(p->loop, p->timer, &ts, NULL, true);
}

static void on_partial(struct publish *p, uint32_t tap, const struct publish_segment *seg)
{
	struct publish_tap *t = &p->taps[tap];

	t->partial = *seg;
	t->partial_pending = true;
	if (clock_now_ms() >= t->partial_sent_ms + PUBLISH_PARTIAL_MS)
		send_partial(p, tap);
}

static void on_final(struct publish *p, uint32_t tap, const struct publish_segment *seg)
{
	struct publish_tap *t = &p->taps[tap];

	/* A partial still waiting is older than this final: its words are in it. */
	t->partial_pending = false;
	set_key(p, t, &t->final_json, KEY_FINAL, segment_json(seg, true));
	publish_dbus_final(p->dbus, tap, seg);
}

/* A tap whose node is in error transcribes nothing, whatever the session
 * says: it shows as failed, with the graph's reason, until the node is back. */
static void send_state(struct publish *p, uint32_t tap)
{
	struct publish_tap *t = &p->taps[tap];
	struct publish_state st = t->state;

	snprintf(st.source, sizeof(st.source), "%s", t->source);
	if (t->graph_error[0] != '\0') {
		st.state = SESSION_FAILED;
		st.capture_only = false;
		snprintf(st.error, sizeof(st.error), "%s", t->graph_error);
	}
	set_key(p, t, &t->state_json, KEY_STATE, state_json(&st));
	publish_dbus_set_state(p->dbus, tap, &st);
}

static void dispatch(struct publish *p, const struct publish_event *ev)
{
	struct publish_tap *t = &p->taps[ev->tap];

	if (ev->tap >= p->n_taps)
		return;
	switch (ev->kind) {
	case PUBLISH_STATE:
		t->state = ev->state;
		send_state(p, ev->tap);
		break;
	case PUBLISH_PARTIAL:
		on_partial(p, ev->tap, &ev->segment);
		break;
	case PUBLISH_FINAL:
		on_final(p, ev->tap, &ev->segment);
		break;
	case PUBLISH_ANSWER:
		publish_dbus_answer(p->dbus, &ev->answer);
		break;
	}
}

static void on_wake(void *data, uint64_t count)
{
	struct publish *p = data;

	while (publish_queue_pop(p->queue, &p->ev))
		dispatch(p, &p->ev);
	arm_partial_timer(p);
}

static void on_timer(void *data, uint64_t expirations)
{
	struct publish *p = data;
	uint64_t now = clock_now_ms();

	for (uint32_t i = 0; i < p->n_taps; i++)
		if (p->taps[i].partial_pending && now >= p->taps[i].partial_sent_ms + PUBLISH_PARTIAL_MS)
			send_partial(p, i);
	arm_partial_timer(p);
}

/* Worker thread (or wherever a push happens): the loop's event is thread-safe. */
static void wake_main(void *data)
{
	struct publish *p = data;

	pw_loop_signal_event(p->loop, p->wake);
}

static int on_command(void *data, const struct worker_command *cmd)
{
	struct publish *p = data;

	return worker_command(p->worker, cmd);
}

/* Another instance holds our names: the module says so and goes. */
static void on_taken(void *data, const char *why)
{
	struct publish *p = data;

	if (p->events && p->events->names_taken)
		p->events->names_taken(p->events_data, why);
}

static const struct publish_dbus_events dbus_events = {
	.command = on_command,
	.name_taken = on_taken,
};

struct publish_queue *publish_queue_of(struct publish *p)
{
	return p->queue;
}

static void publish_capture_only(struct publish *p)
{
	struct publish_state st = { .capture_only = true, .next_retry_ms = -1 };

	for (uint32_t i = 0; i < p->n_taps; i++)
		publish_queue_push_state(p->queue, i, &st);
}

struct publish *publish_new(struct pw_context *context, struct pw_core *core,
		const struct transcribe_config *cfg, struct worker *worker,
		const struct publish_events *events, void *data)
{
	struct pw_loop *loop = pw_context_get_main_loop(context);
	struct publish *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->loop = loop;
	p->worker = worker;
	p->events = events;
	p->events_data = data;
	p->n_taps = cfg->n_taps;
	for (uint32_t i = 0; i < p->n_taps; i++) {
		p->taps[i].node_id = SPA_ID_INVALID;
		p->taps[i].state.next_retry_ms = -1;
	}
	p->wake = pw_loop_add_event(loop, on_wake, p);
	p->timer = pw_loop_add_timer(loop, on_timer, p);
	p->queue = publish_queue_new(wake_main, p);
	if (p->wake == NULL || p->timer == NULL || p->queue == NULL) {
		publish_destroy(p);
		errno = ENOMEM;
		return NULL;
	}
	if (cfg->metadata_name[0] != '\0')
		p->meta = publish_metadata_new(context, core, cfg->metadata_name, on_taken, p);
	if (cfg->dbus_name[0] != '\0')
		p->dbus = publish_dbus_new(loop, cfg->dbus_name, &dbus_events, p);
	for (uint32_t i = 0; i < p->n_taps; i++)
		publish_dbus_add_tap(p->dbus, i, cfg->taps[i].name,
				config_mode_name(cfg->taps[i].mode), cfg->taps[i].target);
	if (cfg->service.url[0] == '\0')
		publish_capture_only(p);
	return p;
}

void publish_set_node_id(struct publish *p, uint32_t tap, uint32_t node_id)
{
	struct publish_tap *t;

	if (p == NULL || tap >= p->n_taps || p->taps[tap].node_id == node_id)
		return;
	t = &p->taps[tap];
	publish_metadata_clear(p->meta, t->node_id);
	t->node_id = node_id;
	publish_metadata_set(p->meta, node_id, KEY_STATE, t->state_json);
	publish_metadata_set(p->meta, node_id, KEY_PARTIAL, t->partial_json);
	publish_metadata_set(p->meta, node_id, KEY_FINAL, t->final_json);
	publish_dbus_set_node_id(p->dbus, tap, node_id == SPA_ID_INVALID ? 0 : node_id);
}

void publish_set_graph_error(struct publish *p, uint32_t tap, const char *why)
{
	struct publish_tap *t;

	if (p == NULL || tap >= p->n_taps)
		return;
	t = &p->taps[tap];
	snprintf(t->graph_error, sizeof(t->graph_error), "%s", why ? why : "");
	send_state(p, tap);
}

void publish_set_source(struct publish *p, uint32_t tap, const char *names)
{
	if (p == NULL || tap >= p->n_taps || strcmp(p->taps[tap].source, names) == 0)
		return;
	snprintf(p->taps[tap].source, sizeof(p->taps[tap].source), "%s", names);
	send_state(p, tap);
}

void publish_release_graph(struct publish *p)
{
	if (p == NULL || p->meta == NULL)
		return;
	/* Its export lives on the connection: once that is gone, a value set
	 * would be marshalled onto freed memory. */
	for (uint32_t i = 0; i < p->n_taps; i++)
		publish_metadata_clear(p->meta, p->taps[i].node_id);
	publish_metadata_destroy(p->meta);
	p->meta = NULL;
}

void publish_destroy(struct publish *p)
{
	if (p == NULL)
		return;
	/* What the worker said while stopping (the last finals, the waiters'
	 * answers) still goes out; a worker still finishing on its own keeps
	 * pushing into a queue nobody reads (its journal has it all). */
	if (p->queue != NULL)
		publish_queue_detach(p->queue);
	while (p->queue != NULL && publish_queue_pop(p->queue, &p->ev))
		dispatch(p, &p->ev);
	publish_release_graph(p);
	for (uint32_t i = 0; i < p->n_taps; i++) {
		free(p->taps[i].state_json);
		free(p->taps[i].partial_json);
		free(p->taps[i].final_json);
	}
	publish_dbus_destroy(p->dbus);
	if (p->wake != NULL)
		pw_loop_destroy_source(p->loop, p->wake);
	if (p->timer != NULL)
		pw_loop_destroy_source(p->loop, p->timer);
	publish_queue_free(p->queue);
	free(p);
}
