/* The session bus side of pw-transcribe: connect, find the service's owner
 * (and watch it leave), list the taps, pick the one a command acts on,
 * report failed calls. */
#include "cli-bus.h"
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DBUS_NAME	"org.freedesktop.DBus"
#define DBUS_PATH	"/org/freedesktop/DBus"
#define OM_IFACE	"org.freedesktop.DBus.ObjectManager"
#define PROPS_IFACE	"org.freedesktop.DBus.Properties"
#define MATCH_MAX	512

static void report_no_bus(int r)
{
	const char *addr = getenv("DBUS_SESSION_BUS_ADDRESS");

	if (r == -ENOMEDIUM && !addr) {
		cli_error("no session bus: neither DBUS_SESSION_BUS_ADDRESS nor "
			  "XDG_RUNTIME_DIR is set");
		return;
	}
	cli_error("cannot connect to the session bus (%s): %s",
		  addr ? addr : "$XDG_RUNTIME_DIR/bus", strerror(-r));
}

static void report_no_service(const struct cli_bus *cb)
{
	cli_error("no pipewire-transcribe on the session bus (%s); "
		  "is the module loaded?", cb->name);
}

static int on_owner_changed(sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
	struct cli_bus *cb = data;
	const char *name, *old_owner, *new_owner;

	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
		return 0;
	/* Any change ends our owner: a restarted service is another
	 * instance, with other taps and timelines. */
	if (!cb->owner || cb->gone || strcmp(old_owner, cb->owner) != 0)
		return 0;
	cb->gone = true;
	if (cb->on_gone)
		cb->on_gone(cb->data);
	return 0;
}

static int watch_owner(struct cli_bus *cb)
{
	char match[MATCH_MAX];

	snprintf(match, sizeof(match),
		 "type='signal',sender='" DBUS_NAME "',path='" DBUS_PATH "',"
		 "interface='" DBUS_NAME "',member='NameOwnerChanged',arg0='%s'",
		 cb->name);
	return sd_bus_add_match(cb->bus, &cb->owner_slot, match, on_owner_changed, cb);
}

static int find_owner(struct cli_bus *cb)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *owner;
	int r;

	r = sd_bus_call_method(cb->bus, DBUS_NAME, DBUS_PATH, DBUS_NAME,
			       "GetNameOwner", &err, &reply, "s", cb->name);
	if (r >= 0)
		r = sd_bus_message_read(reply, "s", &owner);
	if (r >= 0) {
		cb->owner = strdup(owner);
		r = cb->owner ? CLI_EXIT_OK : -ENOMEM;
	}
	if (r < 0)
		r = cli_bus_fail(cb, &err, r, NULL);
	sd_bus_message_unref(reply);
	sd_bus_error_free(&err);
	return r;
}

int cli_bus_open(struct cli_bus *cb, const char *name, bool watch)
{
	int r;

	memset(cb, 0, sizeof(*cb));
	cb->name = name;
	r = sd_bus_open_user(&cb->bus);
	if (r < 0) {
		report_no_bus(r);
		return CLI_EXIT_FAIL;
	}
	if (watch) {
		r = watch_owner(cb);
		if (r < 0)
			return cli_bus_fail(cb, NULL, r, NULL);
	}
	return find_owner(cb);
}

void cli_bus_close(struct cli_bus *cb)
{
	sd_bus_slot_unref(cb->owner_slot);
	sd_bus_flush_close_unref(cb->bus);
	free(cb->owner);
	memset(cb, 0, sizeof(*cb));
}

int cli_bus_new_call(struct cli_bus *cb, sd_bus_message **m, const char *path,
		     const char *iface, const char *member)
{
	return sd_bus_message_new_method_call(cb->bus, m, cb->owner, path, iface, member);
}

static int reply_cookie(sd_bus_message *reply, uint64_t *cookie)
{
	if (!cookie)
		return 0;
	return sd_bus_message_get_cookie(reply, cookie);
}

int cli_bus_get_taps(struct cli_bus *cb, struct cli_tap_list *list, uint64_t *cookie)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r;

	list->taps = NULL;
	list->n = 0;
	r = sd_bus_call_method(cb->bus, cb->owner, CLI_ROOT_PATH, OM_IFACE,
			       "GetManagedObjects", &err, &reply, "");
	if (r >= 0)
		r = cli_tap_list_read(list, reply);
	if (r >= 0)
		r = reply_cookie(reply, cookie);
	if (r < 0) {
		cli_tap_list_clear(list);
		r = cli_bus_fail(cb, &err, r, NULL);
	} else {
		r = CLI_EXIT_OK;
	}
	sd_bus_message_unref(reply);
	sd_bus_error_free(&err);
	return r;
}

int cli_bus_refresh_tap(struct cli_bus *cb, struct cli_tap *t, uint64_t *cookie)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_call_method(cb->bus, cb->owner, t->path, PROPS_IFACE, "GetAll",
			       &err, &reply, "s", CLI_TAP_IFACE);
	if (r >= 0)
		r = cli_tap_read_props(t, reply, NULL);
	if (r >= 0)
		r = reply_cookie(reply, cookie);
	r = r < 0 ? cli_bus_fail(cb, &err, r, t->name) : CLI_EXIT_OK;
	sd_bus_message_unref(reply);
	sd_bus_error_free(&err);
	return r;
}

int cli_bus_select(const struct cli_tap_list *list, const char *name,
		   const struct cli_tap **out)
{
	char *names;

	*out = name ? cli_tap_list_find(list, name) :
	       list->n == 1 ? &list->taps[0] : NULL;
	if (*out)
		return CLI_EXIT_OK;

	names = cli_tap_list_names(list);
	if (!names)
		cli_error("out of memory");
	else if (name)
		cli_error("no tap \"%s\" (taps: %s)", name, names);
	else if (list->n == 0)
		cli_error("the service has no taps; check the module's taps argument");
	else
		cli_error("several taps (%s): name one", names);
	free(names);
	return CLI_EXIT_FAIL;
}

int cli_bus_fail(const struct cli_bus *cb, const sd_bus_error *e, int r,
		 const char *what)
{
	const char *msg;

	if (cb->bus && !sd_bus_is_open(cb->bus)) {
		/* the call never got an answer from anyone */
		report_no_bus(r == 0 ? -ECONNRESET : r);
		return CLI_EXIT_FAIL;
	}
	if (e && sd_bus_error_has_names(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
					SD_BUS_ERROR_SERVICE_UNKNOWN)) {
		report_no_service(cb);
		return CLI_EXIT_FAIL;
	}
	if (e && sd_bus_error_is_set(e))
		msg = e->message && *e->message ? e->message : e->name;
	else
		msg = strerror(r < 0 ? -r : EIO);
	if (what)
		cli_error("%s: %s", what, msg);
	else
		cli_error("%s: %s", cb->name, msg);
	if (e && sd_bus_error_has_name(e, CLI_ERROR_TIMEOUT))
		return CLI_EXIT_TIMEOUT;
	if (e && sd_bus_error_has_name(e, CLI_ERROR_CANCELLED))
		return CLI_EXIT_CANCELLED;
	return CLI_EXIT_FAIL;
}
