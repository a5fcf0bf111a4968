/* The D-Bus API on the session bus (doc/io.github.pw_transcribe.Transcribe1.Tap.xml):
 * an ObjectManager root, one object per tap with properties, methods and
 * the Partial/Final signals. sd-bus on the PipeWire main loop: its fd is a
 * loop source, its timeout a loop timer; nothing here blocks except the
 * final flush at destroy.
 *
 * Main thread only.
 */
#ifndef TRANSCRIBE_PUBLISH_DBUS_H
#define TRANSCRIBE_PUBLISH_DBUS_H

#include <stdbool.h>
#include <stdint.h>

#include <pipewire/loop.h>

#include "publish-queue.h"
#include "transcribe-api.h"
#include "worker.h"

#define PUBLISH_DBUS_DEFAULT_NAME	TRANSCRIBE_DBUS_NAME
#define PUBLISH_DBUS_MAX_WAIT_MS	600000u

struct publish_dbus;

struct publish_dbus_events {
	/* A method wants cmd carried out on tap; 0 or a negative errno. */
	int (*command)(void *data, const struct worker_command *cmd);
	/* The bus name is owned by someone else (another instance): why says
	 * so in one line naming publish.dbus-name. */
	void (*name_taken)(void *data, const char *why);
};

/* NULL when there is no session bus (logged once; the module runs without). */
struct publish_dbus *publish_dbus_new(struct pw_loop *loop, const char *bus_name,
		const struct publish_dbus_events *events, void *data);
/* Every pending call is answered (Cancelled) before the connection goes. */
void publish_dbus_destroy(struct publish_dbus *d);

int publish_dbus_add_tap(struct publish_dbus *d, uint32_t tap, const char *name,
		const char *mode, const char *target);
void publish_dbus_set_node_id(struct publish_dbus *d, uint32_t tap, uint32_t node_id);
void publish_dbus_set_state(struct publish_dbus *d, uint32_t tap, const struct publish_state *st);
void publish_dbus_partial(struct publish_dbus *d, uint32_t tap, const struct publish_segment *seg);
void publish_dbus_final(struct publish_dbus *d, uint32_t tap, const struct publish_segment *seg);
void publish_dbus_answer(struct publish_dbus *d, const struct publish_answer *a);

#endif
