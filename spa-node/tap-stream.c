/* PipeWire streams for the three tap modes: pw_stream process() callbacks
 * that copy what PipeWire delivers into the tap's ring.
 *
 *   tap     transcribe.<name>           passive Tap/Input/Audio, linked by the
 *                                       module to a node's output or a sink's
 *                                       monitor
 *   source  transcribe.<name>           Stream/Input/Audio that a session
 *                                       manager links to the default source,
 *                                       or Tap/Input/Audio the module links
 *                                       to its target
 *   sink    transcribe.<name>           Audio/Sink (F32P, graph rate, monitor
 *                                       ports) that plays through via
 *           transcribe.<name>.playback  Stream/Output/Audio, and is heard by
 *           transcribe.<name>.capture   passive Tap/Input/Audio the module
 *                                       links to the sink's monitor
 *
 * Every capture asks for S16LE at the service rate and channels; the
 * adapter around it resamples and downmixes, so the RT callback is a plain
 * copy. node.param.PortConfig gives each node its DSP ports up front, so the
 * graph works without a session manager too; one reconfigures the nodes it
 * manages (the sink, the play-through, a default-source capture) its way.
 * The sink and its play-through are built the way module-loopback builds a
 * virtual sink: one node group, latency passed across, the play-through
 * following the default output.
 */
#include "tap-stream.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spa/debug/types.h>
#include <spa/param/audio/format-utils.h>
#include <spa/param/audio/type-info.h>
#include <spa/param/latency-utils.h>
#include <spa/pod/builder.h>

/* The virtual sink follows the graph rate; this only satisfies audioconvert. */
#define SINK_PORT_RATE	48000u
/* Below any real device's (ALSA cards get 1000 and more): our sink never
 * becomes the default output unless the user picks it. */
#define SINK_PRIORITY	"1"
#define NODE_NAME_MAX	300
/* A jump of the graph's clock up to this long is audio we missed (an
 * xrun, a stalled graph) and becomes a gap; a longer one, or one back, is
 * a new clock (another driver, a suspended graph woken up): followed from
 * there without a gap, as inserting minutes of silence would flood the
 * replay buffer and the service. */
#define CLOCK_GAP_MAX_MS	5000u

/* One pw_stream and what it needs to find its tap and its peer. */
struct tap_node {
	struct tap_stream *ts;
	struct pw_stream *stream;	/* NULL once destroyed */
	struct spa_hook listener;
	struct tap_node *peer;		/* sink <-> play-through: latency is passed across */
	char name[NODE_NAME_MAX];
};

struct tap_stream {
	struct tap_ring *ring;
	const struct tap_stream_events *events;
	void *events_data;
	bool destroying;		/* our own teardown: not "gone" */

	struct tap_node capture;	/* feeds the ring */
	struct tap_node sink;		/* sink mode: the virtual sink */
	struct tap_node playback;	/* sink mode: play-through */

	uint32_t frame_bytes;
	uint32_t rate;

	/* RT: the graph's clock against the frames it delivered. */
	atomic_bool clk_reset;		/* main: the stream paused (or started) */
	bool clk_valid;
	struct spa_fraction clk_rate;
	uint64_t clk_base;		/* ticks when counting started */
	uint64_t clk_frames;		/* frames delivered (or skipped) since */
};

/* ---- data thread ---- */

/* Frames the graph's clock says we should have had by now but never got
 * (cycles we were not run for) are a gap in the ring at this point; the
 * resampler's few frames of jitter are not. */
static void follow_clock(struct tap_stream *ts, uint32_t frames)
{
	struct pw_time t;
	uint64_t expected, missing;

	if (pw_stream_get_time_n(ts->capture.stream, &t, sizeof(t)) < 0 || t.rate.denom == 0)
		return;
	/* Not run because nothing was to be heard (paused, started, an empty
	 * cycle of a peer that starts) is no loss: count from the next cycle. */
	if (atomic_exchange_explicit(&ts->clk_reset, false, memory_order_acquire) || frames == 0) {
		ts->clk_valid = false;
		return;
	}
	if (!ts->clk_valid || t.rate.num != ts->clk_rate.num || t.rate.denom != ts->clk_rate.denom ||
	    t.ticks < ts->clk_base) {
		ts->clk_valid = true;
		ts->clk_rate = t.rate;
		ts->clk_base = t.ticks;
		ts->clk_frames = frames;
		return;
	}
	expected = (t.ticks - ts->clk_base) * ts->rate * t.rate.num / t.rate.denom;
	missing = expected > ts->clk_frames ? expected - ts->clk_frames : 0;
	if (missing > (uint64_t)ts->rate * CLOCK_GAP_MAX_MS / 1000) {
		ts->clk_base = t.ticks;		/* a new clock: no gap */
		ts->clk_frames = frames;
		return;
	}
	/* More than half a cycle short: at least one cycle was missed. */
	if (missing > frames / 2 + ts->rate / 1000) {
		ring_skip(ts->ring, missing);
		ts->clk_frames += missing;
	}
	ts->clk_frames += frames;
}

/* Every callback's data is the stream's tap_node. */
static void capture_process(void *data)
{
	struct tap_stream *ts = ((struct tap_node *)data)->ts;
	struct pw_buffer *b;
	struct spa_data *d;
	uint32_t offs, size;

	if ((b = pw_stream_dequeue_buffer(ts->capture.stream)) == NULL)
		return;
	d = &b->buffer->datas[0];
	if (d->data != NULL) {
		offs = SPA_MIN(d->chunk->offset, d->maxsize);
		size = SPA_MIN(d->chunk->size, d->maxsize - offs);
		size -= size % ts->frame_bytes;
		follow_clock(ts, size / ts->frame_bytes);
		ring_push(ts->ring, SPA_PTROFF(d->data, offs, void), size);
	}
	pw_stream_queue_buffer(ts->capture.stream, b);
}

static void sink_process(void *data)
{
	struct tap_stream *ts = ((struct tap_node *)data)->ts;

	if (ts->playback.stream != NULL)
		pw_stream_trigger_process(ts->playback.stream);
}

/* Copies the virtual sink's input to the play-through output, plane by
 * plane (same format both sides, so no conversion). */
static void playback_process(void *data)
{
	struct tap_stream *ts = ((struct tap_node *)data)->ts;
	struct pw_buffer *in = ts->sink.stream ? pw_stream_dequeue_buffer(ts->sink.stream) : NULL;
	struct pw_buffer *out = pw_stream_dequeue_buffer(ts->playback.stream);
	uint32_t i;

	if (in != NULL && out != NULL) {
		for (i = 0; i < out->buffer->n_datas; i++) {
			struct spa_data *od = &out->buffer->datas[i];
			uint32_t size = 0;

			if (i < in->buffer->n_datas) {
				struct spa_data *id = &in->buffer->datas[i];
				uint32_t offs = SPA_MIN(id->chunk->offset, id->maxsize);
				size = SPA_MIN(id->chunk->size, id->maxsize - offs);
				size = SPA_MIN(size, od->maxsize);
				memcpy(od->data, SPA_PTROFF(id->data, offs, void), size);
				od->chunk->stride = id->chunk->stride;
			}
			od->chunk->offset = 0;
			od->chunk->size = size;
		}
	}
	if (in != NULL)
		pw_stream_queue_buffer(ts->sink.stream, in);
	if (out != NULL)
		pw_stream_queue_buffer(ts->playback.stream, out);
}

/* ---- main thread ---- */

static void node_state_changed(void *data, enum pw_stream_state old,
		enum pw_stream_state state, const char *error)
{
	struct tap_node *n = data;
	struct tap_stream *ts = n->ts;

	if (n == &ts->capture && state != PW_STREAM_STATE_STREAMING)
		atomic_store_explicit(&ts->clk_reset, true, memory_order_release);
	if (ts->events && ts->events->state_changed)
		ts->events->state_changed(ts->events_data, n->name, state, error);
	/* Connected streams only go back to unconnected when their node is
	 * destroyed under them: a session manager's policy or a user. */
	if (state == PW_STREAM_STATE_UNCONNECTED && !ts->destroying &&
	    ts->events && ts->events->gone)
		ts->events->gone(ts->events_data, n->name);
}

/* Latency seen on one side of the sink pair is announced on the other, so
 * an app playing into the sink sees the output's latency (module-loopback). */
static void node_param_changed(void *data, uint32_t id, const struct spa_pod *param)
{
	struct tap_node *n = data;
	struct spa_latency_info latency;
	uint8_t buffer[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buffer, sizeof(buffer));
	const struct spa_pod *params[1];

	if (id != SPA_PARAM_Latency || n->peer == NULL || n->peer->stream == NULL ||
	    param == NULL || spa_latency_parse(param, &latency) < 0)
		return;
	params[0] = spa_latency_build(&b, SPA_PARAM_Latency, &latency);
	pw_stream_update_params(n->peer->stream, params, 1);
}

static void node_destroy(void *data)
{
	struct tap_node *n = data;

	spa_hook_remove(&n->listener);
	n->stream = NULL;
}

#define NODE_EVENTS(process_fn) {			\
	PW_VERSION_STREAM_EVENTS,			\
	.destroy = node_destroy,			\
	.state_changed = node_state_changed,		\
	.param_changed = node_param_changed,		\
	.process = process_fn,				\
}
static const struct pw_stream_events capture_events = NODE_EVENTS(capture_process);
static const struct pw_stream_events sink_events = NODE_EVENTS(sink_process);
static const struct pw_stream_events playback_events = NODE_EVENTS(playback_process);

static void positions_json(char *buf, size_t size, const uint32_t *pos, uint32_t n)
{
	size_t l = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < n && l < size; i++)
		l += snprintf(buf + l, size - l, "%s%s", i ? " " : "",
				spa_debug_type_find_short_name(spa_type_audio_channel, pos[i]));
}

/* DSP ports (one per channel) in the given layout, optionally with monitor
 * ports: what a session manager would configure, set up front instead.
 * audioconvert wants a rate here but DSP ports run at the graph rate; like
 * adapter.auto-port-config we pass the stream's own. */
static void set_port_config(struct pw_properties *props, const char *direction,
		bool monitor, uint32_t rate, const uint32_t *pos, uint32_t n)
{
	char p[SPA_AUDIO_MAX_CHANNELS * 8];

	positions_json(p, sizeof(p), pos, n);
	pw_properties_setf(props, "node.param.PortConfig",
			"{ direction = %s mode = dsp monitor = %s format = { "
			"mediaType = audio mediaSubtype = raw format = F32P "
			"rate = %u channels = %u position = [ %s ] } }",
			direction, monitor ? "true" : "false", rate, n, p);
}

static void service_layout(struct spa_audio_info_raw *info, uint32_t rate, uint32_t channels)
{
	spa_zero(*info);
	info->format = SPA_AUDIO_FORMAT_S16_LE;
	info->rate = rate;
	info->channels = channels;
	if (channels == 1) {
		info->position[0] = SPA_AUDIO_CHANNEL_MONO;
	} else if (channels == 2) {
		info->position[0] = SPA_AUDIO_CHANNEL_FL;
		info->position[1] = SPA_AUDIO_CHANNEL_FR;
	} else {
		for (uint32_t i = 0; i < channels; i++)
			info->position[i] = SPA_AUDIO_CHANNEL_START_Aux + i;
	}
}

/* Creates n's stream named n->name; props are taken. */
static int new_stream(struct tap_stream *ts, struct tap_node *n, struct pw_core *core,
		struct pw_properties *props, const struct pw_stream_events *events)
{
	n->ts = ts;
	pw_properties_set(props, PW_KEY_NODE_NAME, n->name);
	if ((n->stream = pw_stream_new(core, n->name, props)) == NULL)
		return -errno;
	pw_stream_add_listener(n->stream, &n->listener, events, n);
	return 0;
}

static int connect_stream(struct pw_stream *s, enum pw_direction dir,
		const struct spa_audio_info_raw *info, enum pw_stream_flags extra)
{
	uint8_t buffer[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buffer, sizeof(buffer));
	const struct spa_pod *params[1];
	struct spa_audio_info_raw copy = *info;

	params[0] = spa_format_audio_raw_build(&b, SPA_PARAM_EnumFormat, &copy);
	return pw_stream_connect(s, dir, PW_ID_ANY,
			PW_STREAM_FLAG_MAP_BUFFERS | PW_STREAM_FLAG_RT_PROCESS | extra,
			params, 1);
}

/* linked: the module links it (a class no session manager manages);
 * else a session manager links it to the default source and keeps it there
 * as defaults and devices change. */
static int setup_capture(struct tap_stream *ts, struct pw_core *core,
		const struct tap_stream_params *p, const struct spa_audio_info_raw *info,
		bool passive, bool linked, const char *description)
{
	int res;
	struct pw_properties *props = pw_properties_new(
			PW_KEY_MEDIA_TYPE, "Audio",
			PW_KEY_MEDIA_CATEGORY, "Capture",
			PW_KEY_MEDIA_ROLE, "Accessibility",
			PW_KEY_MEDIA_CLASS, linked ? TAP_STREAM_CLASS_LINKED : "Stream/Input/Audio",
			PW_KEY_NODE_DESCRIPTION, description,
			PW_KEY_NODE_PASSIVE, passive ? "true" : "false",
			PW_KEY_NODE_AUTOCONNECT, linked ? "false" : "true",
			/* A downmix that cannot clip: audioconvert's default
			 * stereo -> mono is equal-power (0.707 each), which
			 * takes a loud correlated pair over full scale. */
			"channelmix.normalize", "true",
			NULL);

	if (props == NULL)
		return -errno;
	set_port_config(props, "Input", false, info->rate, p->position, p->n_position);
	if ((res = new_stream(ts, &ts->capture, core, props, &capture_events)) < 0)
		return res;
	return connect_stream(ts->capture.stream, PW_DIRECTION_INPUT, info,
			linked ? 0 : PW_STREAM_FLAG_AUTOCONNECT);
}

static void set_group(struct pw_properties *props, const char *group)
{
	pw_properties_set(props, PW_KEY_NODE_GROUP, group);
	pw_properties_set(props, PW_KEY_NODE_LINK_GROUP, group);
}

static int setup_sink(struct tap_stream *ts, struct pw_core *core,
		const struct tap_stream_params *p)
{
	struct spa_audio_info_raw info;
	struct pw_properties *props;
	char group[NODE_NAME_MAX + 32];
	int res;

	spa_zero(info);
	info.format = SPA_AUDIO_FORMAT_F32P;
	info.channels = p->n_position;
	memcpy(info.position, p->position, sizeof(uint32_t) * p->n_position);
	/* One group: the sink and its play-through run on the same driver
	 * (the sink triggers the play-through), and a session manager never
	 * links the play-through back into its own sink. */
	snprintf(group, sizeof(group), "transcribe-%d-%s", (int)getpid(), p->name);

	props = pw_properties_new(PW_KEY_MEDIA_CLASS, "Stream/Output/Audio",
			PW_KEY_NODE_DESCRIPTION, p->description,
			PW_KEY_NODE_PASSIVE, "true",
			PW_KEY_NODE_VIRTUAL, "true",
			NULL);
	if (props == NULL)
		return -errno;
	set_group(props, group);
	/* A hint: the session manager plays it there while it exists and
	 * follows the default output otherwise. */
	if (p->target != NULL && p->target[0] != '\0')
		pw_properties_set(props, PW_KEY_TARGET_OBJECT, p->target);
	set_port_config(props, "Output", false, SINK_PORT_RATE, p->position, p->n_position);
	if ((res = new_stream(ts, &ts->playback, core, props, &playback_events)) < 0)
		return res;
	/* Playback first, so it is active before the sink triggers it. */
	if ((res = connect_stream(ts->playback.stream, PW_DIRECTION_OUTPUT, &info,
					PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_TRIGGER)) < 0)
		return res;

	props = pw_properties_new(PW_KEY_MEDIA_CLASS, "Audio/Sink",
			PW_KEY_NODE_DESCRIPTION, p->description,
			PW_KEY_NODE_VIRTUAL, "true",
			PW_KEY_PRIORITY_SESSION, SINK_PRIORITY,
			PW_KEY_PRIORITY_DRIVER, SINK_PRIORITY,
			NULL);
	if (props == NULL)
		return -errno;
	set_group(props, group);
	set_port_config(props, "Input", true, SINK_PORT_RATE, p->position, p->n_position);
	if ((res = new_stream(ts, &ts->sink, core, props, &sink_events)) < 0)
		return res;
	ts->sink.peer = &ts->playback;
	ts->playback.peer = &ts->sink;
	return connect_stream(ts->sink.stream, PW_DIRECTION_INPUT, &info, PW_STREAM_FLAG_AUTOCONNECT);
}

struct tap_stream *tap_stream_new(struct pw_core *core, const struct tap_stream_params *p,
		struct tap_ring *ring, const struct tap_stream_events *events, void *data)
{
	struct tap_stream *ts;
	struct spa_audio_info_raw info;
	char desc[NODE_NAME_MAX];
	int res;

	if (p->n_position == 0 || p->n_position > SPA_AUDIO_MAX_CHANNELS) {
		errno = EINVAL;
		return NULL;
	}
	if ((ts = calloc(1, sizeof(*ts))) == NULL)
		return NULL;
	atomic_init(&ts->clk_reset, false);
	ts->ring = ring;
	ts->events = events;
	ts->events_data = data;
	ts->frame_bytes = p->channels * sizeof(int16_t);
	ts->rate = p->rate;
	service_layout(&info, p->rate, p->channels);

	switch (p->mode) {
	case TAP_STREAM_TAP:
	case TAP_STREAM_SOURCE:
		snprintf(ts->capture.name, sizeof(ts->capture.name), "transcribe.%s", p->name);
		res = setup_capture(ts, core, p, &info, p->mode == TAP_STREAM_TAP,
				p->mode == TAP_STREAM_TAP || p->module_links, p->description);
		break;
	case TAP_STREAM_SINK:
		snprintf(ts->sink.name, sizeof(ts->sink.name), "transcribe.%s", p->name);
		snprintf(ts->playback.name, sizeof(ts->playback.name), "transcribe.%s.playback", p->name);
		snprintf(ts->capture.name, sizeof(ts->capture.name), "transcribe.%s.capture", p->name);
		snprintf(desc, sizeof(desc), "%s (capture)", p->description);
		if ((res = setup_sink(ts, core, p)) >= 0)
			res = setup_capture(ts, core, p, &info, true, true, desc);
		break;
	default:
		res = -EINVAL;
	}
	if (res < 0) {
		tap_stream_destroy(ts);
		errno = -res;
		return NULL;
	}
	return ts;
}

void tap_stream_destroy(struct tap_stream *ts)
{
	struct pw_stream *streams[3];
	uint32_t i;

	if (ts == NULL)
		return;
	ts->destroying = true;
	streams[0] = ts->sink.stream;
	streams[1] = ts->playback.stream;
	streams[2] = ts->capture.stream;
	/* Deactivate all first: from here no process() runs, the sink cannot
	 * trigger a half-destroyed playback and nothing writes the ring. */
	for (i = 0; i < SPA_N_ELEMENTS(streams); i++)
		if (streams[i] != NULL)
			pw_stream_set_active(streams[i], false);
	/* Each stream's .destroy handler clears its pointer. */
	for (i = 0; i < SPA_N_ELEMENTS(streams); i++)
		if (streams[i] != NULL)
			pw_stream_destroy(streams[i]);
	free(ts);
}

const char *tap_stream_capture_node(const struct tap_stream *ts)
{
	return ts->capture.name;
}

const char *tap_stream_sink_node(const struct tap_stream *ts)
{
	return ts->sink.name[0] ? ts->sink.name : NULL;
}

const char *tap_stream_playback_node(const struct tap_stream *ts)
{
	return ts->playback.name[0] ? ts->playback.name : NULL;
}

uint32_t tap_stream_node_id(const struct tap_stream *ts)
{
	struct pw_stream *s = ts->sink.name[0] ? ts->sink.stream : ts->capture.stream;

	return s != NULL ? pw_stream_get_node_id(s) : SPA_ID_INVALID;
}
