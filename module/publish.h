/* Publishing on the main thread: drains what the worker pushed (a loop
 * event wakes it) and hands it to the `transcribe` metadata and the D-Bus
 * API; D-Bus methods go back to the worker as commands. Partial updates
 * leave at most every PUBLISH_PARTIAL_MS per tap, the newest winning.
 *
 * Main thread only; publish_queue_of()'s queue is the worker's way in.
 */
#ifndef TRANSCRIBE_PUBLISH_H
#define TRANSCRIBE_PUBLISH_H

#include <stdint.h>

#include <pipewire/context.h>
#include <pipewire/core.h>

#include "config.h"
#include "worker.h"

#define PUBLISH_PARTIAL_MS	100

struct publish;
struct publish_queue;

struct publish_events {
	/* Another instance owns our D-Bus name or metadata name (why: one
	 * line naming the key). Called at most once per name. */
	void (*names_taken)(void *data, const char *why);
};

/* Without metadata (no core) or a session bus it publishes what it can. */
struct publish *publish_new(struct pw_context *context, struct pw_core *core,
		const struct transcribe_config *cfg, struct worker *worker,
		const struct publish_events *events, void *data);
struct publish_queue *publish_queue_of(struct publish *p);
/* The tap's node got its global id (SPA_ID_INVALID: it went away). */
void publish_set_node_id(struct publish *p, uint32_t tap, uint32_t node_id);
/* The tap hears nothing (why: its node is in error or gone) or again (NULL):
 * until cleared, its published state is failed with this reason. */
void publish_set_graph_error(struct publish *p, uint32_t tap, const char *why);
/* The nodes the tap hears now (node.names, space-separated; "" none). */
void publish_set_source(struct publish *p, uint32_t tap, const char *names);
/* Removes the metadata object while the PipeWire connection it lives on
 * still exists (before pw_core_disconnect); nothing more goes there. */
void publish_release_graph(struct publish *p);
/* Removes the metadata entries, answers pending calls, leaves the bus. */
void publish_destroy(struct publish *p);

#endif
