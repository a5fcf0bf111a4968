/* PipeWire streams for the three tap modes.
 *
 *   tap     transcribe.<name>           passive Stream/Input/Audio, linked by
 *                                       the module (target/match) to a node's
 *                                       output or a sink's monitor
 *   source  transcribe.<name>           Stream/Input/Audio from a source
 *   sink    transcribe.<name>           Audio/Sink (F32, graph rate, monitor
 *                                       ports) that plays through via
 *           transcribe.<name>.playback  Stream/Output/Audio, and is heard by
 *           transcribe.<name>.capture   passive input linked to its monitor
 *
 * Every capture stream asks for S16LE at the service rate and channels;
 * the adapter around it resamples and downmixes, so the RT callback is a
 * plain copy. Ports are configured through node.param.PortConfig, which
 * gives the node its DSP ports with or without a session manager.
 */
#include "tap-stream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <spa/debug/types.h>
#include <spa/param/audio/format-utils.h>
#include <spa/param/audio/type-info.h>
#include <spa/pod/builder.h>

#include "../module/config.h"

/* The virtual sink follows the graph rate; this only satisfies audioconvert. */
#define SINK_PORT_RATE	48000u

struct tap_stream {
	struct tap_ring *ring;
	const struct tap_stream_events *events;
	void *events_data;

	struct pw_stream *capture;	/* feeds the ring */
	struct spa_hook capture_listener;
	struct pw_stream *sink;		/* sink mode: the virtual sink */
	struct spa_hook sink_listener;
	struct pw_stream *playback;	/* sink mode: play-through */
	struct spa_hook playback_listener;

	char capture_name[CONFIG_STR_MAX];
	char sink_name[CONFIG_STR_MAX];
	char playback_name[CONFIG_STR_MAX];

	uint32_t frame_bytes;
};

static void capture_process(void *data)
{
	struct tap_stream *ts = data;
	struct pw_buffer *b;
	struct spa_data *d;
	uint32_t offs, size;

	if ((b = pw_stream_dequeue_buffer(ts->capture)) == NULL)
		return;
	d = &b->buffer->datas[0];
	if (d->data != NULL) {
		offs = SPA_MIN(d->chunk->offset, d->maxsize);
		size = SPA_MIN(d->chunk->size, d->maxsize - offs);
		size -= size % ts->frame_bytes;
		tap_push(ts->ring, SPA_PTROFF(d->data, offs, void), size);
	}
	pw_stream_queue_buffer(ts->capture, b);
}

static void sink_process(void *data)
{
	struct tap_stream *ts = data;
	pw_stream_trigger_process(ts->playback);
}

/* Copies the virtual sink's input to the play-through output, plane by
 * plane (same format both sides, so no conversion). */
static void playback_process(void *data)
{
	struct tap_stream *ts = data;
	struct pw_buffer *in = pw_stream_dequeue_buffer(ts->sink);
	struct pw_buffer *out = pw_stream_dequeue_buffer(ts->playback);
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
		pw_stream_queue_buffer(ts->sink, in);
	if (out != NULL)
		pw_stream_queue_buffer(ts->playback, out);
}

static void on_state_changed(struct tap_stream *ts, struct pw_stream *s,
		enum pw_stream_state old, enum pw_stream_state state, const char *error)
{
	if (ts->events && ts->events->state_changed)
		ts->events->state_changed(ts->events_data, pw_stream_get_name(s), state, error);
}

static void capture_state_changed(void *data, enum pw_stream_state old,
		enum pw_stream_state state, const char *error)
{
	struct tap_stream *ts = data;
	on_state_changed(ts, ts->capture, old, state, error);
}

static void sink_state_changed(void *data, enum pw_stream_state old,
		enum pw_stream_state state, const char *error)
{
	struct tap_stream *ts = data;
	on_state_changed(ts, ts->sink, old, state, error);
}

static void playback_state_changed(void *data, enum pw_stream_state old,
		enum pw_stream_state state, const char *error)
{
	struct tap_stream *ts = data;
	on_state_changed(ts, ts->playback, old, state, error);
}

static const struct pw_stream_events capture_events = {
	PW_VERSION_STREAM_EVENTS,
	.state_changed = capture_state_changed,
	.process = capture_process,
};

static const struct pw_stream_events sink_events = {
	PW_VERSION_STREAM_EVENTS,
	.state_changed = sink_state_changed,
	.process = sink_process,
};

static const struct pw_stream_events playback_events = {
	PW_VERSION_STREAM_EVENTS,
	.state_changed = playback_state_changed,
	.process = playback_process,
};

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

static struct pw_stream *new_stream(struct tap_stream *ts, struct pw_core *core,
		const char *name, struct pw_properties *props, struct spa_hook *listener,
		const struct pw_stream_events *events)
{
	struct pw_stream *s;

	pw_properties_set(props, PW_KEY_NODE_NAME, name);
	if ((s = pw_stream_new(core, name, props)) == NULL)
		return NULL;
	pw_stream_add_listener(s, listener, events, ts);
	return s;
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

static struct pw_properties *capture_props(const struct tap_config *cfg, uint32_t rate,
		bool passive, const char *description)
{
	struct pw_properties *p = pw_properties_new(
			PW_KEY_MEDIA_TYPE, "Audio",
			PW_KEY_MEDIA_CATEGORY, "Capture",
			PW_KEY_MEDIA_ROLE, "Accessibility",
			PW_KEY_MEDIA_CLASS, "Stream/Input/Audio",
			PW_KEY_NODE_DESCRIPTION, description,
			PW_KEY_NODE_PASSIVE, passive ? "true" : "false",
			NULL);
	if (p == NULL)
		return NULL;
	set_port_config(p, "Input", false, rate, cfg->position, cfg->n_position);
	return p;
}

static int setup_capture(struct tap_stream *ts, struct pw_core *core,
		const struct tap_config *cfg, const struct spa_audio_info_raw *info,
		bool passive, bool autoconnect, const char *description)
{
	struct pw_properties *p = capture_props(cfg, info->rate, passive, description);

	if (p == NULL)
		return -errno;
	/* A session manager would otherwise link us to a default device as
	 * well as to what the module links. */
	pw_properties_set(p, PW_KEY_NODE_AUTOCONNECT, autoconnect ? "true" : "false");
	pw_properties_set(p, "node.dont-reconnect", "true");
	ts->capture = new_stream(ts, core, ts->capture_name, p,
			&ts->capture_listener, &capture_events);
	if (ts->capture == NULL)
		return -errno;
	return connect_stream(ts->capture, PW_DIRECTION_INPUT, info,
			autoconnect ? PW_STREAM_FLAG_AUTOCONNECT : 0);
}

static int setup_sink(struct tap_stream *ts, struct pw_core *core,
		const struct tap_config *cfg)
{
	struct spa_audio_info_raw info;
	struct pw_properties *p;
	int res;

	spa_zero(info);
	info.format = SPA_AUDIO_FORMAT_F32P;
	info.channels = cfg->n_position;
	memcpy(info.position, cfg->position, sizeof(uint32_t) * cfg->n_position);

	p = pw_properties_new(PW_KEY_MEDIA_CLASS, "Stream/Output/Audio",
			PW_KEY_NODE_DESCRIPTION, cfg->description,
			PW_KEY_NODE_PASSIVE, "true",
			"node.dont-reconnect", "true", NULL);
	if (p == NULL)
		return -errno;
	if (cfg->target[0] != '\0')
		pw_properties_set(p, PW_KEY_TARGET_OBJECT, cfg->target);
	set_port_config(p, "Output", false, SINK_PORT_RATE, cfg->position, cfg->n_position);
	ts->playback = new_stream(ts, core, ts->playback_name, p,
			&ts->playback_listener, &playback_events);
	if (ts->playback == NULL)
		return -errno;
	/* Playback first, so it is active before the sink triggers it. */
	if ((res = connect_stream(ts->playback, PW_DIRECTION_OUTPUT, &info,
					PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_TRIGGER)) < 0)
		return res;

	p = pw_properties_new(PW_KEY_MEDIA_CLASS, "Audio/Sink",
			PW_KEY_NODE_DESCRIPTION, cfg->description,
			PW_KEY_NODE_VIRTUAL, "true", NULL);
	if (p == NULL)
		return -errno;
	set_port_config(p, "Input", true, SINK_PORT_RATE, cfg->position, cfg->n_position);
	ts->sink = new_stream(ts, core, ts->sink_name, p, &ts->sink_listener, &sink_events);
	if (ts->sink == NULL)
		return -errno;
	return connect_stream(ts->sink, PW_DIRECTION_INPUT, &info, 0);
}

struct tap_stream *tap_stream_new(struct pw_core *core, const struct tap_config *cfg,
		uint32_t rate, uint32_t channels, struct tap_ring *ring,
		const struct tap_stream_events *events, void *data)
{
	struct tap_stream *ts;
	struct spa_audio_info_raw info;
	char desc[CONFIG_STR_MAX + 32];
	bool linked_by_module = cfg->target[0] != '\0' || cfg->n_match > 0;
	int res;

	if ((ts = calloc(1, sizeof(*ts))) == NULL)
		return NULL;
	ts->ring = ring;
	ts->events = events;
	ts->events_data = data;
	ts->frame_bytes = channels * sizeof(int16_t);
	service_layout(&info, rate, channels);

	switch (cfg->mode) {
	case TAP_MODE_TAP:
	case TAP_MODE_SOURCE:
		snprintf(ts->capture_name, sizeof(ts->capture_name), "transcribe.%s", cfg->name);
		res = setup_capture(ts, core, cfg, &info, cfg->mode == TAP_MODE_TAP,
				cfg->mode == TAP_MODE_SOURCE && !linked_by_module,
				cfg->description);
		break;
	case TAP_MODE_SINK:
		snprintf(ts->sink_name, sizeof(ts->sink_name), "transcribe.%s", cfg->name);
		snprintf(ts->playback_name, sizeof(ts->playback_name), "transcribe.%s.playback", cfg->name);
		snprintf(ts->capture_name, sizeof(ts->capture_name), "transcribe.%s.capture", cfg->name);
		snprintf(desc, sizeof(desc), "%s (capture)", cfg->description);
		if ((res = setup_sink(ts, core, cfg)) >= 0)
			res = setup_capture(ts, core, cfg, &info, true, false, desc);
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
	struct pw_stream **streams[] = { &ts->sink, &ts->playback, &ts->capture };
	uint32_t i;

	if (ts == NULL)
		return;
	/* Deactivate all first: from here no process() runs, the sink cannot
	 * trigger a half-destroyed playback and nothing writes the ring. */
	for (i = 0; i < SPA_N_ELEMENTS(streams); i++)
		if (*streams[i] != NULL)
			pw_stream_set_active(*streams[i], false);
	/* pw_stream_destroy() disconnects and drops our listeners itself. */
	for (i = 0; i < SPA_N_ELEMENTS(streams); i++) {
		if (*streams[i] != NULL)
			pw_stream_destroy(*streams[i]);
		*streams[i] = NULL;
	}
	free(ts);
}

const char *tap_stream_capture_node(const struct tap_stream *ts)
{
	return ts->capture_name;
}

const char *tap_stream_sink_node(const struct tap_stream *ts)
{
	return ts->sink_name[0] ? ts->sink_name : NULL;
}

const char *tap_stream_playback_node(const struct tap_stream *ts)
{
	return ts->playback_name[0] ? ts->playback_name : NULL;
}

uint32_t tap_stream_node_id(const struct tap_stream *ts)
{
	return pw_stream_get_node_id(ts->sink != NULL ? ts->sink : ts->capture);
}
