/* The tap's PipeWire nodes: the streams whose process() feeds the ring.
 *
 * Main thread only (create/destroy); process() runs on the data thread.
 * tap_stream_destroy() deactivates every stream before destroying it, so
 * after it returns nothing touches the ring any more.
 *
 * Who links what (DESIGN.md §4): a capture the module links itself (tap
 * mode, or a target/match rule) carries media.class TAP_STREAM_CLASS_LINKED,
 * which session managers leave alone (WirePlumber manages the Audio, Stream
 * and Video classes), so its ports stay the ones configured here and a stereo
 * source is downmixed by audioconvert, never summed into one port. The
 * virtual sink and its play-through are ordinary session-managed nodes, as
 * module-loopback makes them.
 */
#ifndef TRANSCRIBE_TAP_STREAM_H
#define TRANSCRIBE_TAP_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <pipewire/pipewire.h>

#include "ring.h"

#define TAP_STREAM_CLASS_LINKED	"Tap/Input/Audio"

enum tap_stream_mode {
	TAP_STREAM_TAP,		/* passive input on a node's output or a sink's monitor */
	TAP_STREAM_SOURCE,	/* input from a source (a microphone) */
	TAP_STREAM_SINK,	/* a virtual sink that plays through and is heard */
};

struct tap_stream_params {
	const char *name;		/* nodes: transcribe.<name>[.capture|.playback] */
	enum tap_stream_mode mode;
	/* The module links the capture (tap mode always; source mode with a
	 * target or match rule). False: a session manager links it. */
	bool module_links;
	const char *description;
	const char *target;		/* sink mode: play-through target (target.object); "" none */
	uint32_t rate;			/* what the ring receives, S16LE */
	uint32_t channels;
	uint32_t n_position;		/* the capture's (and the sink's) ports */
	const uint32_t *position;
};

struct tap_stream_events {
	/* Main thread. A node changed state; error: why it is in error. */
	void (*state_changed)(void *data, const char *node, enum pw_stream_state state,
			const char *error);
	/* Main thread. A node was destroyed by someone else (a session
	 * manager's policy, pw-cli destroy): the tap no longer hears anything.
	 * Destroy the tap_stream (not from inside this callback) and make a new
	 * one. */
	void (*gone)(void *data, const char *node);
};

/* Creates and connects the nodes. Returns NULL with errno set. */
struct tap_stream *tap_stream_new(struct pw_core *core, const struct tap_stream_params *p,
		struct tap_ring *ring, const struct tap_stream_events *events, void *data);
void tap_stream_destroy(struct tap_stream *ts);

/* Name of the node whose input ports receive what is transcribed; of the
 * virtual sink (NULL unless sink mode), whose monitor the module links into
 * the capture; of the play-through (NULL unless sink mode). Stable for the
 * stream's lifetime. */
const char *tap_stream_capture_node(const struct tap_stream *ts);
const char *tap_stream_sink_node(const struct tap_stream *ts);
const char *tap_stream_playback_node(const struct tap_stream *ts);
/* Global id of the node named transcribe.<name> (the sink in sink mode),
 * SPA_ID_INVALID until PipeWire has registered it. */
uint32_t tap_stream_node_id(const struct tap_stream *ts);

#endif
