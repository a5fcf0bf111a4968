/* The session bus side of pw-transcribe: connecting, finding the service
 * and its taps, and turning failed calls into one line and an exit code.
 * Single-threaded; every function reports its own errors on stderr and
 * returns an enum cli_exit unless it says otherwise. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "cli-tap.h"

/* Open: the running command owns it and reads its fields. */
struct cli_bus {
	sd_bus *bus;
	const char *name;		/* the service's well-known name */
	char *owner;			/* its unique name: every call goes there */
	bool gone;			/* watched: the owner left the bus */
	void (*on_gone)(void *data);	/* watched: called once, when gone */
	void *data;
	sd_bus_slot *owner_slot;
};

/* Connects to the session bus (DBUS_SESSION_BUS_ADDRESS, else
 * $XDG_RUNTIME_DIR/bus) and finds the owner of name. With watch, a
 * NameOwnerChanged match is in place before the owner is looked up, so
 * that its leaving is never missed; set on_gone/data before processing. */
int cli_bus_open(struct cli_bus *cb, const char *name, bool watch);
void cli_bus_close(struct cli_bus *cb);

/* GetManagedObjects: the taps, sorted by name. *cookie (may be NULL) gets
 * the reply's serial: the service's signals with a lower serial were sent
 * before it and are part of this answer already. */
int cli_bus_get_taps(struct cli_bus *cb, struct cli_tap_list *list, uint64_t *cookie);

/* GetAll on t's object: refreshes every property; *cookie as above. */
int cli_bus_refresh_tap(struct cli_bus *cb, struct cli_tap *t, uint64_t *cookie);

/* The tap a command acts on: the one named name, or when name is NULL the
 * only tap there is. */
int cli_bus_select(const struct cli_tap_list *list, const char *name,
		   const struct cli_tap **out);

/* A method call on the service's owner, to fill in and send. Returns 0 or
 * a negative errno (not reported). */
int cli_bus_new_call(struct cli_bus *cb, sd_bus_message **m, const char *path,
		     const char *iface, const char *member);

/* Reports a failed call: error e (or errno r when e is not set) about
 * what (a tap's name; NULL: the service itself). The exit code says
 * which: Timeout 3, Cancelled 4, anything else 1. */
int cli_bus_fail(const struct cli_bus *cb, const sd_bus_error *e, int r,
		 const char *what);
