/* The tap's PipeWire nodes: the streams whose process() feeds the ring.
 *
 * Main thread only (create/destroy); process() runs on the data thread.
 * tap_stream_destroy() deactivates every stream before destroying it, so
 * after it returns nothing touches the ring any more.
 */
#ifndef TRANSCRIBE_TAP_STREAM_H
#define TRANSCRIBE_TAP_STREAM_H

#include <stdint.h>

#include <pipewire/pipewire.h>

#include "ring.h"

struct tap_config;
struct tap_stream;

struct tap_stream_events {
	/* Main thread: a stream changed state (error may be NULL). */
	void (*state_changed)(void *data, const char *node, enum pw_stream_state state,
			const char *error);
};

/* Creates and connects the nodes for cfg->mode. rate/channels are the
 * format the ring receives (S16LE). Returns NULL with errno set. */
struct tap_stream *tap_stream_new(struct pw_core *core, const struct tap_config *cfg,
		uint32_t rate, uint32_t channels, struct tap_ring *ring,
		const struct tap_stream_events *events, void *data);
void tap_stream_destroy(struct tap_stream *ts);

/* Name of the node whose input ports receive what is transcribed, and of the
 * node the module links from for it (NULL: the user or a session manager
 * links it). Stable for the stream's lifetime. */
const char *tap_stream_capture_node(const struct tap_stream *ts);
const char *tap_stream_sink_node(const struct tap_stream *ts);
const char *tap_stream_playback_node(const struct tap_stream *ts);
/* Global id of the node named transcribe.<name> (the sink in sink mode),
 * SPA_ID_INVALID until PipeWire has registered it. */
uint32_t tap_stream_node_id(const struct tap_stream *ts);

#endif
