/* pw-transcribe follow: live captions and state changes of one tap, or of
 * every tap, until the tap goes away, the service leaves the bus, a signal
 * or --exit-after-final.
 *
 * Nothing is missed between the snapshot and the stream of signals: the
 * matches are in place before GetManagedObjects, and the service's own
 * serial numbers order what it sent: a property or object signal with a
 * serial below the snapshot's reply (or the tap's last GetAll) is already
 * part of what we know and is skipped; Partial and Final are never part of
 * a snapshot, so all of them are shown. */
#include "cli.h"
#include "cli-bus.h"
#include "cli-caption.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#define PROPS_IFACE	"org.freedesktop.DBus.Properties"
#define OM_IFACE	"org.freedesktop.DBus.ObjectManager"
#define LOCAL_NAME	"org.freedesktop.DBus.Local"
#define MATCH_MAX	512

struct follow_tap {
	struct cli_tap t;
	uint64_t fresh_cookie;	/* signals below this serial are in t already */
	char *shown;		/* the state event last printed, as a key */
};

struct follow {
	struct cli_bus cb;
	sd_event *event;
	struct cli_caption *out;
	struct follow_tap **taps;
	size_t n_taps;
	bool all;		/* every tap, also those added later */
	uint64_t snapshot_cookie;
	unsigned finals_left;	/* 0: no limit */
	bool done;		/* exiting: print nothing more */
};

static void follow_exit(struct follow *f, int code)
{
	f->done = true;
	sd_event_exit(f->event, code);
}

static void follow_oom(struct follow *f)
{
	cli_error("out of memory");
	follow_exit(f, CLI_EXIT_FAIL);
}

static struct follow_tap *find_tap(struct follow *f, const char *path, size_t *index)
{
	size_t i;

	for (i = 0; i < f->n_taps; i++) {
		if (strcmp(f->taps[i]->t.path, path) == 0) {
			if (index)
				*index = i;
			return f->taps[i];
		}
	}
	return NULL;
}

static void free_tap(struct follow_tap *ft)
{
	cli_tap_clear(&ft->t);
	free(ft->shown);
	free(ft);
}

/* Takes over t (its fields are moved, t is left zeroed). */
static struct follow_tap *add_tap(struct follow *f, struct cli_tap *t, uint64_t cookie)
{
	struct follow_tap **taps, *ft;

	taps = realloc(f->taps, (f->n_taps + 1) * sizeof(*taps));
	if (!taps)
		return NULL;
	f->taps = taps;
	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return NULL;
	ft->t = *t;
	memset(t, 0, sizeof(*t));
	ft->fresh_cookie = cookie;
	f->taps[f->n_taps++] = ft;
	return ft;
}

static void remove_tap(struct follow *f, size_t index)
{
	free_tap(f->taps[index]);
	memmove(&f->taps[index], &f->taps[index + 1],
		(f->n_taps - index - 1) * sizeof(*f->taps));
	f->n_taps--;
}

/* Prints a state event unless it would repeat the last one. */
static void show_state(struct follow *f, struct follow_tap *ft)
{
	const struct cli_tap *t = &ft->t;
	char *key;

	if (asprintf(&key, "%s\n%u\n%u\n%lld\n%s", t->state, t->attempt,
		     t->max_attempts, (long long)t->next_retry_ms, t->last_error) < 0) {
		follow_oom(f);
		return;
	}
	if (ft->shown && strcmp(ft->shown, key) == 0) {
		free(key);
		return;
	}
	free(ft->shown);
	ft->shown = key;
	if (cli_caption_state(f->out, t) < 0)
		follow_oom(f);
}

static uint64_t message_cookie(sd_bus_message *m)
{
	uint64_t cookie = 0;

	sd_bus_message_get_cookie(m, &cookie);
	return cookie;
}

/* Final's extra a{sv}: seq, speaker, language, confidence, session_id;
 * other keys (and values of another type) are skipped. */
static int read_extra(sd_bus_message *m, struct cli_final *fin)
{
	const char *key, *contents;
	int r;

	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		r = sd_bus_message_read_basic(m, 's', &key);
		if (r >= 0)
			r = sd_bus_message_peek_type(m, NULL, &contents);
		if (r < 0)
			break;
		if (strcmp(key, "seq") == 0 && strcmp(contents, "t") == 0)
			r = sd_bus_message_read(m, "v", "t", &fin->seq);
		else if (strcmp(key, "speaker") == 0 && strcmp(contents, "s") == 0)
			r = sd_bus_message_read(m, "v", "s", &fin->speaker);
		else if (strcmp(key, "language") == 0 && strcmp(contents, "s") == 0)
			r = sd_bus_message_read(m, "v", "s", &fin->language);
		else if (strcmp(key, "session_id") == 0 && strcmp(contents, "s") == 0)
			r = sd_bus_message_read(m, "v", "s", &fin->session_id);
		else if (strcmp(key, "confidence") == 0 && strcmp(contents, "d") == 0) {
			r = sd_bus_message_read(m, "v", "d", &fin->confidence);
			fin->has_confidence = true;
		} else
			r = sd_bus_message_skip(m, "v");
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	return r;
}

static void on_final(struct follow *f, struct follow_tap *ft, sd_bus_message *m)
{
	struct cli_final fin = { .speaker = "", .language = "", .session_id = "" };

	if (sd_bus_message_read(m, "stt", &fin.text, &fin.start_ms, &fin.end_ms) < 0 ||
	    read_extra(m, &fin) < 0)
		return;		/* not the contract's signature: not ours */
	if (cli_caption_final(f->out, ft->t.name, &fin) < 0) {
		follow_oom(f);
		return;
	}
	if (f->finals_left > 0 && --f->finals_left == 0)
		follow_exit(f, CLI_EXIT_OK);
}

static int on_tap_signal(sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
	struct follow *f = data;
	struct follow_tap *ft;
	uint64_t start_ms, end_ms;
	const char *text;

	ft = find_tap(f, sd_bus_message_get_path(m), NULL);
	if (f->done || !ft)
		return 0;
	if (sd_bus_message_is_signal(m, CLI_TAP_IFACE, "Final")) {
		on_final(f, ft, m);
	} else if (sd_bus_message_is_signal(m, CLI_TAP_IFACE, "Partial") &&
		   sd_bus_message_read(m, "stt", &text, &start_ms, &end_ms) >= 0) {
		if (cli_caption_partial(f->out, ft->t.name, text, start_ms, end_ms) < 0)
			follow_oom(f);
	}
	return 0;
}

static int read_invalidated(sd_bus_message *m, uint32_t *bits)
{
	const char *name;
	int r;

	*bits = 0;
	r = sd_bus_message_enter_container(m, 'a', "s");
	while (r >= 0 && (r = sd_bus_message_read_basic(m, 's', &name)) > 0)
		*bits |= cli_tap_prop_bit(name);
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	return r;
}

/* The service sent only the names of some properties: fetch them. A
 * failure (the tap is going away) keeps what we had. */
static void refresh(struct follow *f, struct follow_tap *ft)
{
	sd_bus_message *reply = NULL;
	uint64_t cookie;

	if (sd_bus_call_method(f->cb.bus, f->cb.owner, ft->t.path, PROPS_IFACE,
			       "GetAll", NULL, &reply, "s", CLI_TAP_IFACE) >= 0 &&
	    cli_tap_read_props(&ft->t, reply, NULL) >= 0 &&
	    sd_bus_message_get_cookie(reply, &cookie) >= 0)
		ft->fresh_cookie = cookie;
	sd_bus_message_unref(reply);
}

static int on_props_changed(sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
	struct follow *f = data;
	struct follow_tap *ft;
	uint32_t changed = 0, invalidated = 0;
	const char *iface;

	ft = find_tap(f, sd_bus_message_get_path(m), NULL);
	if (f->done || !ft || message_cookie(m) < ft->fresh_cookie)
		return 0;
	if (sd_bus_message_read_basic(m, 's', &iface) < 0 ||
	    strcmp(iface, CLI_TAP_IFACE) != 0)
		return 0;
	if (cli_tap_read_props(&ft->t, m, &changed) < 0 ||
	    read_invalidated(m, &invalidated) < 0)
		return 0;
	if (invalidated & (CLI_TAP_STATE_PROPS | CLI_TAP_MAX_ATTEMPTS))
		refresh(f, ft);
	if ((changed | invalidated) & CLI_TAP_STATE_PROPS)
		show_state(f, ft);
	return 0;
}

static void on_added(struct follow *f, sd_bus_message *m, const char *path)
{
	struct follow_tap *ft;
	struct cli_tap t;
	int r;

	/* below the snapshot: in it already, or removed before it */
	if (!f->all || find_tap(f, path, NULL) || message_cookie(m) < f->snapshot_cookie)
		return;
	r = cli_tap_init(&t, path);
	if (r >= 0)
		r = cli_tap_read_interfaces(&t, m);
	ft = r > 0 ? add_tap(f, &t, message_cookie(m)) : NULL;
	cli_tap_clear(&t);
	if (ft)
		show_state(f, ft);
	else if (r == -ENOMEM || r > 0)
		follow_oom(f);
}

static void on_removed(struct follow *f, sd_bus_message *m, const char *path)
{
	struct follow_tap *ft;
	const char *iface;
	bool tap = false;
	size_t index;
	int r;

	ft = find_tap(f, path, &index);
	if (!ft || message_cookie(m) < ft->fresh_cookie)
		return;
	r = sd_bus_message_enter_container(m, 'a', "s");
	while (r >= 0 && (r = sd_bus_message_read_basic(m, 's', &iface)) > 0)
		tap = tap || strcmp(iface, CLI_TAP_IFACE) == 0;
	if (r < 0 || !tap)
		return;
	if (cli_caption_removed(f->out, ft->t.name) < 0) {
		follow_oom(f);
		return;
	}
	remove_tap(f, index);
	if (!f->all)
		follow_exit(f, CLI_EXIT_OK);
}

static int on_objects(sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
	struct follow *f = data;
	const char *path;

	if (f->done || sd_bus_message_read_basic(m, 'o', &path) < 0)
		return 0;
	if (sd_bus_message_is_signal(m, OM_IFACE, "InterfacesAdded"))
		on_added(f, m, path);
	else if (sd_bus_message_is_signal(m, OM_IFACE, "InterfacesRemoved"))
		on_removed(f, m, path);
	return 0;
}

static void on_gone(void *data)
{
	struct follow *f = data;

	if (f->done)
		return;
	if (cli_caption_gone(f->out) < 0)
		follow_oom(f);
	else
		follow_exit(f, CLI_EXIT_OK);
}

static int on_disconnected(sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
	struct follow *f = data;

	if (!f->done) {
		cli_error("lost the connection to the session bus");
		follow_exit(f, CLI_EXIT_FAIL);
	}
	return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *data)
{
	follow_exit(data, CLI_EXIT_OK);
	return 0;
}

/* The matches, all before the snapshot; the bus keeps them (floating). */
static int subscribe(struct follow *f)
{
	static const struct {
		const char *rule;	/* after type and sender */
		sd_bus_message_handler_t handler;
	} matches[] = {
		{ "interface='" CLI_TAP_IFACE "',path_namespace='" CLI_ROOT_PATH "'",
		  on_tap_signal },
		{ "interface='" PROPS_IFACE "',member='PropertiesChanged',"
		  "path_namespace='" CLI_ROOT_PATH "',arg0='" CLI_TAP_IFACE "'",
		  on_props_changed },
		{ "interface='" OM_IFACE "',path='" CLI_ROOT_PATH "'", on_objects },
	};
	char match[MATCH_MAX];
	size_t i;
	int r;

	for (i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
		snprintf(match, sizeof(match), "type='signal',sender='%s',%s",
			 f->cb.owner, matches[i].rule);
		r = sd_bus_add_match(f->cb.bus, NULL, match, matches[i].handler, f);
		if (r < 0)
			return cli_bus_fail(&f->cb, NULL, r, NULL);
	}
	/* sd-bus's own signal when the connection drops: not sent to the bus */
	r = sd_bus_add_match(f->cb.bus, NULL,
			     "type='signal',sender='" LOCAL_NAME "',"
			     "path='/org/freedesktop/DBus/Local',interface='" LOCAL_NAME "',"
			     "member='Disconnected'", on_disconnected, f);
	return r < 0 ? cli_bus_fail(&f->cb, NULL, r, NULL) : CLI_EXIT_OK;
}

static enum cli_caption_mode output_mode(const struct cli_opts *o)
{
	const char *term = getenv("TERM");

	if (o->json)
		return CLI_CAPTION_JSON;
	if (isatty(STDOUT_FILENO) && !(term && strcmp(term, "dumb") == 0))
		return CLI_CAPTION_TERMINAL;
	return CLI_CAPTION_PLAIN;
}

/* Takes the followed taps out of the snapshot and prints their state. */
static int pick_taps(struct follow *f, const struct cli_opts *o, struct cli_tap_list *list)
{
	const struct cli_tap *only = NULL;
	size_t i;
	int r;

	f->all = !o->tap && list->n != 1;
	if (!f->all) {
		r = cli_bus_select(list, o->tap, &only);
		if (r != CLI_EXIT_OK)
			return r;
	}
	f->out = cli_caption_new(output_mode(o), f->all);
	if (!f->out)
		goto oom;
	for (i = 0; i < list->n; i++) {
		if (only && only != &list->taps[i])
			continue;
		if (!add_tap(f, &list->taps[i], f->snapshot_cookie))
			goto oom;
	}
	for (i = 0; i < f->n_taps && !f->done; i++)
		show_state(f, f->taps[i]);
	return f->done ? CLI_EXIT_FAIL : CLI_EXIT_OK;
oom:
	cli_error("out of memory");
	return CLI_EXIT_FAIL;
}

static int start(struct follow *f, const struct cli_opts *o)
{
	struct cli_tap_list list;
	int r;

	r = cli_bus_open(&f->cb, o->bus_name, true);
	if (r != CLI_EXIT_OK)
		return r;
	f->cb.on_gone = on_gone;
	f->cb.data = f;
	r = subscribe(f);
	if (r == CLI_EXIT_OK)
		r = cli_bus_get_taps(&f->cb, &list, &f->snapshot_cookie);
	if (r != CLI_EXIT_OK)
		return r;
	r = pick_taps(f, o, &list);
	cli_tap_list_clear(&list);
	if (r == CLI_EXIT_OK && sd_bus_attach_event(f->cb.bus, f->event, 0) < 0) {
		cli_error("cannot watch the session bus");
		r = CLI_EXIT_FAIL;
	}
	return r;
}

static int setup_signals(struct follow *f)
{
	sigset_t ss;

	/* sd-event reads them from a signalfd: they must be blocked */
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0 ||
	    sd_event_new(&f->event) < 0 ||
	    sd_event_add_signal(f->event, NULL, SIGINT, on_signal, f) < 0 ||
	    sd_event_add_signal(f->event, NULL, SIGTERM, on_signal, f) < 0) {
		cli_error("cannot set up the event loop");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

int cli_follow_run(const struct cli_opts *o)
{
	struct follow f = { .finals_left = o->exit_after_final };
	size_t i;
	int r;

	r = setup_signals(&f);
	if (r == CLI_EXIT_OK)
		r = start(&f, o);
	if (r == CLI_EXIT_OK) {
		r = sd_event_loop(f.event);
		if (r < 0) {
			cli_error("event loop: %s", strerror(-r));
			r = CLI_EXIT_FAIL;
		}
	}
	cli_caption_free(f.out);
	for (i = 0; i < f.n_taps; i++)
		free_tap(f.taps[i]);
	free(f.taps);
	if (f.cb.bus)
		sd_bus_detach_event(f.cb.bus);
	cli_bus_close(&f.cb);
	sd_event_unref(f.event);
	return r;
}
