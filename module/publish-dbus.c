/* The D-Bus API (see publish-dbus.h and doc/io.github.pw_transcribe.Transcribe1.Tap.xml).
 *
 * sd-bus does the protocol work (Properties, ObjectManager, Introspectable
 * come from the vtable); this file maps taps onto objects and keeps every
 * method call answered exactly once: at once, or for WaitReady when the
 * session answers the waiter, or Cancelled at destroy.
 */
#include "publish-dbus.h"
#include "transcribe-api.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pipewire/log.h>
#include <spa/utils/defs.h>
#include <systemd/sd-bus.h>

#include "clock.h"
#include "config.h"

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

#define DBUS_ROOT	TRANSCRIBE_DBUS_ROOT
#define DBUS_TAPS	TRANSCRIBE_DBUS_TAPS
#define DBUS_IFACE	TRANSCRIBE_DBUS_TAP_IFACE
#define DBUS_MAX_WAITERS	64
/* At unload, how long what we still have to say may take to leave. */
#define DBUS_FLUSH_MS		20

/* sd-bus reads an "s" property through a char *: each points at its buffer. */
struct dbus_tap {
	struct publish_dbus *d;
	uint32_t index;
	char *path;			/* NULL: slot unused */
	sd_bus_slot *slot;
	bool capture_only;

	char *name, *mode, *target, *state, *last_error, *session_id, *journal, *source;
	char name_buf[CONFIG_NAME_MAX], mode_buf[16], target_buf[CONFIG_STR_MAX];
	char state_buf[32], error_buf[SESSION_TEXT_MAX], session_buf[40], journal_buf[512];
	char source_buf[256];
	uint32_t node_id, attempt, max_attempts;
	int64_t next_retry_ms;
	uint64_t buffered_ms, spooled_ms, dropped_ms;
};

struct waiter {
	uint64_t id;
	sd_bus_message *call;
};

struct publish_dbus {
	struct pw_loop *loop;
	sd_bus *bus;
	struct spa_source *io;
	struct spa_source *timer;
	sd_bus_slot *manager_slot;
	sd_bus_slot *name_slot;
	char name[256];
	const struct publish_dbus_events *events;
	void *data;
	struct dbus_tap taps[CONFIG_MAX_TAPS];
	uint64_t last_waiter;
	uint32_t n_waiters;
	struct waiter waiters[DBUS_MAX_WAITERS];
};

static void watch(struct publish_dbus *d)
{
	struct timespec ts;
	uint64_t usec;
	int ev;

	if (d->bus == NULL || (ev = sd_bus_get_events(d->bus)) < 0)
		return;
	pw_loop_update_io(d->loop, d->io, ((ev & POLLIN) ? SPA_IO_IN : 0) |
			((ev & POLLOUT) ? SPA_IO_OUT : 0));
	if (sd_bus_get_timeout(d->bus, &usec) < 0 || usec == UINT64_MAX) {
		pw_loop_update_timer(d->loop, d->timer, NULL, NULL, false);
		return;
	}
	/* Absolute CLOCK_MONOTONIC, as the loop's timers; 0 means now. */
	ts.tv_sec = (time_t)(usec / SPA_USEC_PER_SEC);
	ts.tv_nsec = (long)(usec % SPA_USEC_PER_SEC) * 1000 + (usec == 0);
	pw_loop_update_timer(d->loop, d->timer, &ts, NULL, true);
}

static void process(struct publish_dbus *d)
{
	int r;

	while ((r = sd_bus_process(d->bus, NULL)) > 0)
		;
	if (r < 0) {
		pw_log_warn("dbus: connection lost (%s); the D-Bus API is off", strerror(-r));
		pw_loop_update_io(d->loop, d->io, 0);
		pw_loop_update_timer(d->loop, d->timer, NULL, NULL, false);
		return;
	}
	watch(d);
}

static void on_io(void *data, int fd, uint32_t mask)
{
	process(data);
}

static void on_timer(void *data, uint64_t expirations)
{
	process(data);
}

/* ---- methods ---- */

static int not_here(const struct dbus_tap *t, sd_bus_error *err)
{
	return sd_bus_error_setf(err, TRANSCRIBE_DBUS_ERROR_INVALID_ARGS,
			"tap %s has no service (service.url is \"\"): it only captures", t->name);
}

static int command(struct dbus_tap *t, const struct worker_command *cmd, sd_bus_error *err)
{
	int r = t->d->events->command(t->d->data, cmd);

	if (r == -EBUSY)
		return sd_bus_error_setf(err, SD_BUS_ERROR_LIMITS_EXCEEDED,
				"tap %s: too many requests waiting; try again", t->name);
	if (r < 0)
		return not_here(t, err);
	return 0;
}

static int simple_method(sd_bus_message *m, struct dbus_tap *t, enum worker_cmd cmd,
		sd_bus_error *err)
{
	struct worker_command c = { .cmd = cmd, .tap = t->index };
	int r;

	if (t->capture_only)
		return not_here(t, err);
	if (cmd == WORKER_CMD_FINALIZE && strcmp(t->state, "streaming") != 0)
		return sd_bus_error_setf(err, TRANSCRIBE_DBUS_ERROR_INVALID_ARGS,
				"tap %s is %s, not streaming: nothing to finalize", t->name, t->state);
	if ((r = command(t, &c, err)) < 0)
		return r;
	return sd_bus_reply_method_return(m, "");
}

static int method_start(sd_bus_message *m, void *data, sd_bus_error *err)
{
	return simple_method(m, data, WORKER_CMD_START, err);
}

static int method_stop(sd_bus_message *m, void *data, sd_bus_error *err)
{
	return simple_method(m, data, WORKER_CMD_STOP, err);
}

static int method_reconnect(sd_bus_message *m, void *data, sd_bus_error *err)
{
	return simple_method(m, data, WORKER_CMD_RECONNECT, err);
}

static int method_finalize(sd_bus_message *m, void *data, sd_bus_error *err)
{
	return simple_method(m, data, WORKER_CMD_FINALIZE, err);
}

static int method_wait_ready(sd_bus_message *m, void *data, sd_bus_error *err)
{
	struct dbus_tap *t = data;
	struct publish_dbus *d = t->d;
	struct worker_command c = { .cmd = WORKER_CMD_WAIT, .tap = t->index };
	uint32_t timeout_ms;
	int r;

	if ((r = sd_bus_message_read(m, "u", &timeout_ms)) < 0)
		return r;
	if (timeout_ms > PUBLISH_DBUS_MAX_WAIT_MS)
		return sd_bus_error_setf(err, TRANSCRIBE_DBUS_ERROR_INVALID_ARGS,
				"timeout_ms %u is over %u", timeout_ms, PUBLISH_DBUS_MAX_WAIT_MS);
	if (t->capture_only)
		return not_here(t, err);
	if (d->n_waiters == DBUS_MAX_WAITERS)
		return sd_bus_error_setf(err, SD_BUS_ERROR_LIMITS_EXCEEDED,
				"too many WaitReady calls waiting");
	c.waiter = ++d->last_waiter;
	c.timeout_ms = timeout_ms;
	if ((r = command(t, &c, err)) < 0)
		return r;
	/* Answered by publish_dbus_answer() (or Cancelled at destroy). */
	d->waiters[d->n_waiters++] = (struct waiter){ c.waiter, sd_bus_message_ref(m) };
	return 1;
}

static const sd_bus_vtable tap_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Name", "s", NULL, offsetof(struct dbus_tap, name), SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("NodeId", "u", NULL, offsetof(struct dbus_tap, node_id), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Mode", "s", NULL, offsetof(struct dbus_tap, mode), SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Target", "s", NULL, offsetof(struct dbus_tap, target), SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("State", "s", NULL, offsetof(struct dbus_tap, state), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Attempt", "u", NULL, offsetof(struct dbus_tap, attempt), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("MaxAttempts", "u", NULL, offsetof(struct dbus_tap, max_attempts), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("NextRetryMs", "x", NULL, offsetof(struct dbus_tap, next_retry_ms), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("LastError", "s", NULL, offsetof(struct dbus_tap, last_error), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("SessionId", "s", NULL, offsetof(struct dbus_tap, session_id), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("BufferedMs", "t", NULL, offsetof(struct dbus_tap, buffered_ms), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("SpooledMs", "t", NULL, offsetof(struct dbus_tap, spooled_ms), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("DroppedMs", "t", NULL, offsetof(struct dbus_tap, dropped_ms), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("JournalPath", "s", NULL, offsetof(struct dbus_tap, journal), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Source", "s", NULL, offsetof(struct dbus_tap, source), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_METHOD("Start", "", "", method_start, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Stop", "", "", method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Reconnect", "", "", method_reconnect, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Finalize", "", "", method_finalize, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("WaitReady", SD_BUS_ARGS("u", timeout_ms), SD_BUS_NO_RESULT,
			method_wait_ready, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_ARGS("Partial", SD_BUS_ARGS("s", text, "t", start_ms, "t", end_ms), 0),
	SD_BUS_SIGNAL_WITH_ARGS("Final", SD_BUS_ARGS("s", text, "t", start_ms, "t", end_ms,
			"a{sv}", extra), 0),
	SD_BUS_VTABLE_END
};

/* ---- lifecycle ---- */

/* The RequestName reply: DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER (1) or
 * ALREADY_OWNER (4) is ours; EXISTS (3, we never queue) is another
 * instance's. */
static int on_name(sd_bus_message *m, void *data, sd_bus_error *err)
{
	struct publish_dbus *d = data;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	char why[512];
	uint32_t reply = 0;

	if (e == NULL && sd_bus_message_read(m, "u", &reply) >= 0 && (reply == 1 || reply == 4)) {
		pw_log_info("dbus: name=%s path=%s", d->name, DBUS_ROOT);
		return 0;
	}
	snprintf(why, sizeof(why), "publish.dbus-name: %s is already owned on the session bus "
			"(%s): is another instance running? Give this one its own publish.dbus-name "
			"and publish.metadata-name", d->name,
			e != NULL ? e->message : "the name exists");
	if (d->events && d->events->name_taken)
		d->events->name_taken(d->data, why);
	else
		pw_log_error("%s", why);
	return 0;
}

struct publish_dbus *publish_dbus_new(struct pw_loop *loop, const char *bus_name,
		const struct publish_dbus_events *events, void *data)
{
	struct publish_dbus *d = calloc(1, sizeof(*d));
	int r;

	if (d == NULL)
		return NULL;
	d->loop = loop;
	d->events = events;
	d->data = data;
	snprintf(d->name, sizeof(d->name), "%s", bus_name);
	if ((r = sd_bus_open_user(&d->bus)) < 0) {
		pw_log_info("dbus: no session bus (%s); running without the D-Bus API", strerror(-r));
		free(d);
		return NULL;
	}
	d->io = pw_loop_add_io(loop, sd_bus_get_fd(d->bus), SPA_IO_IN, false, on_io, d);
	d->timer = pw_loop_add_timer(loop, on_timer, d);
	if (d->io == NULL || d->timer == NULL ||
	    (r = sd_bus_add_object_manager(d->bus, &d->manager_slot, DBUS_ROOT)) < 0 ||
	    (r = sd_bus_request_name_async(d->bus, &d->name_slot, d->name, 0, on_name, d)) < 0) {
		pw_log_warn("dbus: cannot set up %s: %s; running without the D-Bus API", d->name,
				strerror(d->io && d->timer ? -r : ENOMEM));
		publish_dbus_destroy(d);
		return NULL;
	}
	watch(d);
	return d;
}

int publish_dbus_add_tap(struct publish_dbus *d, uint32_t tap, const char *name,
		const char *mode, const char *target)
{
	struct dbus_tap *t;
	int r;

	if (d == NULL)
		return 0;
	if (tap >= CONFIG_MAX_TAPS)
		return -EINVAL;
	t = &d->taps[tap];
	t->d = d;
	t->index = tap;
	t->name = t->name_buf;
	t->mode = t->mode_buf;
	t->target = t->target_buf;
	t->state = t->state_buf;
	t->last_error = t->error_buf;
	t->session_id = t->session_buf;
	t->journal = t->journal_buf;
	t->source = t->source_buf;
	t->next_retry_ms = -1;
	snprintf(t->name_buf, sizeof(t->name_buf), "%s", name);
	snprintf(t->mode_buf, sizeof(t->mode_buf), "%s", mode);
	snprintf(t->target_buf, sizeof(t->target_buf), "%s", target);
	snprintf(t->state_buf, sizeof(t->state_buf), "idle");
	if ((r = sd_bus_path_encode(DBUS_TAPS, name, &t->path)) < 0 ||
	    (r = sd_bus_add_object_vtable(d->bus, &t->slot, t->path, DBUS_IFACE, tap_vtable, t)) < 0) {
		pw_log_warn("dbus: tap=%s: cannot add its object: %s", name, strerror(-r));
		free(t->path);
		t->path = NULL;
		return r;
	}
	sd_bus_emit_object_added(d->bus, t->path);
	watch(d);
	return 0;
}

static struct dbus_tap *tap_of(struct publish_dbus *d, uint32_t tap)
{
	return d != NULL && tap < CONFIG_MAX_TAPS && d->taps[tap].path != NULL ? &d->taps[tap] : NULL;
}

void publish_dbus_set_node_id(struct publish_dbus *d, uint32_t tap, uint32_t node_id)
{
	struct dbus_tap *t = tap_of(d, tap);

	if (t == NULL || t->node_id == node_id)
		return;
	t->node_id = node_id;
	sd_bus_emit_properties_changed(d->bus, t->path, DBUS_IFACE, "NodeId", NULL);
	watch(d);
}

static void set_str(char *buf, size_t size, const char *value, const char *prop,
		char **names, uint32_t *n)
{
	if (strncmp(buf, value, size) == 0)
		return;
	snprintf(buf, size, "%s", value);
	names[(*n)++] = (char *)prop;
}

void publish_dbus_set_state(struct publish_dbus *d, uint32_t tap, const struct publish_state *st)
{
	struct dbus_tap *t = tap_of(d, tap);
	char *names[16];
	uint32_t n = 0;

	if (t == NULL)
		return;
	t->capture_only = st->capture_only;
	set_str(t->state_buf, sizeof(t->state_buf),
			st->capture_only ? "capture-only" : session_state_name(st->state), "State", names, &n);
	set_str(t->error_buf, sizeof(t->error_buf), st->error, "LastError", names, &n);
	set_str(t->session_buf, sizeof(t->session_buf), st->session_id, "SessionId", names, &n);
	set_str(t->journal_buf, sizeof(t->journal_buf), st->journal_path, "JournalPath", names, &n);
	set_str(t->source_buf, sizeof(t->source_buf), st->source, "Source", names, &n);
	if (t->attempt != st->attempt) { t->attempt = st->attempt; names[n++] = "Attempt"; }
	if (t->max_attempts != st->max_attempts) { t->max_attempts = st->max_attempts; names[n++] = "MaxAttempts"; }
	if (t->next_retry_ms != st->next_retry_ms) { t->next_retry_ms = st->next_retry_ms; names[n++] = "NextRetryMs"; }
	if (t->buffered_ms != st->buffered_ms) { t->buffered_ms = st->buffered_ms; names[n++] = "BufferedMs"; }
	if (t->spooled_ms != st->spooled_ms) { t->spooled_ms = st->spooled_ms; names[n++] = "SpooledMs"; }
	if (t->dropped_ms != st->dropped_ms) { t->dropped_ms = st->dropped_ms; names[n++] = "DroppedMs"; }
	if (n == 0)
		return;
	names[n] = NULL;
	sd_bus_emit_properties_changed_strv(d->bus, t->path, DBUS_IFACE, names);
	watch(d);
}

static uint64_t ms_arg(int64_t ms)
{
	return ms < 0 ? 0 : (uint64_t)ms;
}

void publish_dbus_partial(struct publish_dbus *d, uint32_t tap, const struct publish_segment *seg)
{
	struct dbus_tap *t = tap_of(d, tap);

	if (t == NULL)
		return;
	sd_bus_emit_signal(d->bus, t->path, DBUS_IFACE, "Partial", "stt", seg->text,
			ms_arg(seg->start_ms), ms_arg(seg->end_ms));
	watch(d);
}

void publish_dbus_final(struct publish_dbus *d, uint32_t tap, const struct publish_segment *seg)
{
	struct dbus_tap *t = tap_of(d, tap);
	sd_bus_message *s = NULL;
	int r;

	if (t == NULL)
		return;
	if ((r = sd_bus_message_new_signal(d->bus, &s, t->path, DBUS_IFACE, "Final")) < 0 ||
	    (r = sd_bus_message_append(s, "stt", seg->text, ms_arg(seg->start_ms),
			ms_arg(seg->end_ms))) < 0 ||
	    (r = sd_bus_message_open_container(s, 'a', "{sv}")) < 0 ||
	    (r = sd_bus_message_append(s, "{sv}{sv}{sv}{sv}", "seq", "t", seg->seq,
			"speaker", "s", seg->speaker, "language", "s", seg->language,
			"session_id", "s", seg->session_id)) < 0 ||
	    (seg->confidence >= 0 &&
	     (r = sd_bus_message_append(s, "{sv}", "confidence", "d", seg->confidence)) < 0) ||
	    (r = sd_bus_message_close_container(s)) < 0 ||
	    (r = sd_bus_send(d->bus, s, NULL)) < 0)
		pw_log_warn("dbus: tap=%s seq=%" PRIu64 " Final not sent: %s", t->name, seg->seq,
				strerror(-r));
	sd_bus_message_unref(s);
	watch(d);
}

static void reply(struct publish_dbus *d, sd_bus_message *call, enum session_answer answer,
		const char *message)
{
	static const char *const names[] = {
		[SESSION_ANSWER_ERROR] = TRANSCRIBE_DBUS_ERROR_FATAL,
		[SESSION_ANSWER_TIMEOUT] = TRANSCRIBE_DBUS_ERROR_TIMEOUT,
		[SESSION_ANSWER_CANCELLED] = TRANSCRIBE_DBUS_ERROR_CANCELLED,
	};

	if (answer == SESSION_ANSWER_READY)
		sd_bus_reply_method_return(call, "");
	else
		sd_bus_reply_method_errorf(call, names[answer], "%s",
				message && *message ? message : "no reason given");
	sd_bus_message_unref(call);
}

void publish_dbus_answer(struct publish_dbus *d, const struct publish_answer *a)
{
	if (d == NULL)
		return;
	for (uint32_t i = 0; i < d->n_waiters; i++) {
		if (d->waiters[i].id != a->waiter)
			continue;
		reply(d, d->waiters[i].call, a->answer, a->message);
		d->waiters[i] = d->waiters[--d->n_waiters];
		watch(d);
		return;
	}
}

/* sd_bus_flush() has no deadline, and this runs on the (daemon's) main
 * loop: a bus that stopped reading gets DBUS_FLUSH_MS, then we hang up. */
static void flush_bounded(sd_bus *bus, uint64_t ms)
{
	uint64_t end = clock_now_ms() + ms, now;
	int ev;

	while ((ev = sd_bus_get_events(bus)) > 0 && (ev & POLLOUT) &&
	       (now = clock_now_ms()) < end) {
		if (sd_bus_process(bus, NULL) > 0)
			continue;
		if (sd_bus_wait(bus, (end - now) * 1000) < 0)
			break;
	}
}

void publish_dbus_destroy(struct publish_dbus *d)
{
	if (d == NULL)
		return;
	for (uint32_t i = 0; i < d->n_waiters; i++)
		reply(d, d->waiters[i].call, SESSION_ANSWER_CANCELLED, "the module is unloading");
	d->n_waiters = 0;
	for (uint32_t i = 0; i < CONFIG_MAX_TAPS; i++) {
		struct dbus_tap *t = &d->taps[i];
		if (t->path == NULL)
			continue;
		sd_bus_emit_object_removed(d->bus, t->path);
		sd_bus_slot_unref(t->slot);
		free(t->path);
	}
	sd_bus_slot_unref(d->name_slot);
	sd_bus_slot_unref(d->manager_slot);
	if (d->io != NULL)
		pw_loop_destroy_source(d->loop, d->io);
	if (d->timer != NULL)
		pw_loop_destroy_source(d->loop, d->timer);
	/* The replies above must reach their callers before we hang up. */
	flush_bounded(d->bus, DBUS_FLUSH_MS);
	sd_bus_close_unref(d->bus);
	free(d);
}
