/* Unit tests for the module arguments (module/config.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <spa/param/audio/raw.h>
#include <spa/utils/defs.h>

#include "config.h"
#include "dialect.h"

#define RUNTIME_DIR	"/run/user/4242"
#define EMBEDDED_URL	"ws+unix://" RUNTIME_DIR "/pipewire-transcribe/server.sock:/transcribe-websocket"

/* Big (tens of KiB each): static rather than on the test's stack. */
static struct transcribe_config cfg, cfg2;
/* The message of the last assert_rejected(). */
static char last_err[512];

static void assert_parses(const char *args, struct transcribe_config *c)
{
	char err[256];
	int res = config_parse(args, c, err, sizeof(err));

	if (res != 0)
		fail_msg("config_parse(%s) = %d: %s", args, res, err);
	assert_string_equal(err, "");
}

/* Asserts args are rejected with one line "<key>: <reason>" whose reason
 * contains `reason_part`. */
static void assert_rejected(const char *args, const char *key, const char *reason_part)
{
	char *err = last_err, prefix[128];
	int res = config_parse(args, &cfg, last_err, sizeof(last_err));

	if (res != -EINVAL)
		fail_msg("config_parse(%s) = %d, want -EINVAL (err: %s)", args, res, err);
	snprintf(prefix, sizeof(prefix), "%s: ", key);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("config_parse(%s): error \"%s\" does not start with \"%s\"", args, err, prefix);
	if (strlen(err) <= strlen(prefix))
		fail_msg("config_parse(%s): error \"%s\" gives no reason", args, err);
	if (strstr(err, reason_part) == NULL)
		fail_msg("config_parse(%s): error \"%s\" does not say \"%s\"", args, err, reason_part);
	assert_null(strchr(err, '\n'));
}

static void assert_default_sink_tap(const struct transcribe_config *c)
{
	const struct tap_config *tap = &c->taps[0];

	assert_int_equal(c->rate, 16000);
	assert_int_equal(c->channels, 1);
	assert_int_equal(c->ring_ms, 2000);
	assert_int_equal(c->wake_ms, 20);
	assert_int_equal(c->n_taps, 1);
	assert_string_equal(tap->name, "captions");
	assert_int_equal(tap->mode, TAP_MODE_SINK);
	assert_string_equal(tap->description, "Live transcription");
	assert_string_equal(tap->target, "");
	assert_string_equal(tap->record_file, "");
	assert_int_equal(tap->n_match, 0);
	assert_int_equal(tap->n_position, 2);
	assert_int_equal(tap->position[0], SPA_AUDIO_CHANNEL_FL);
	assert_int_equal(tap->position[1], SPA_AUDIO_CHANNEL_FR);
}

/* Field by field: strings compare up to their NUL, the bytes after it are
 * not part of the value. */
static void assert_config_equal(const struct transcribe_config *a, const struct transcribe_config *b)
{
	assert_int_equal(a->rate, b->rate);
	assert_int_equal(a->channels, b->channels);
	assert_int_equal(a->ring_ms, b->ring_ms);
	assert_int_equal(a->wake_ms, b->wake_ms);
	assert_int_equal(a->n_taps, b->n_taps);
	for (uint32_t i = 0; i < a->n_taps; i++) {
		const struct tap_config *x = &a->taps[i], *y = &b->taps[i];

		assert_string_equal(x->name, y->name);
		assert_int_equal(x->mode, y->mode);
		assert_string_equal(x->target, y->target);
		assert_string_equal(x->description, y->description);
		assert_string_equal(x->record_file, y->record_file);
		assert_int_equal(x->n_match, y->n_match);
		for (uint32_t j = 0; j < x->n_match; j++) {
			assert_string_equal(x->match[j].key, y->match[j].key);
			assert_string_equal(x->match[j].value, y->match[j].value);
		}
		assert_int_equal(x->n_position, y->n_position);
		assert_memory_equal(x->position, y->position, x->n_position * sizeof(x->position[0]));
	}
}

static void test_missing_args_give_one_default_sink_tap(void **state)
{
	assert_parses(NULL, &cfg);
	assert_default_sink_tap(&cfg);
	assert_parses("", &cfg);
	assert_default_sink_tap(&cfg);
	assert_parses("{ }", &cfg);
	assert_default_sink_tap(&cfg);
}

static void test_nested_and_dotted_keys_are_equivalent(void **state)
{
	assert_parses("{ audio = { rate = 48000 } service = { url = \"\" } }", &cfg);
	assert_parses("{ audio.rate = 48000 service.url = \"\" }", &cfg2);
	assert_int_equal(cfg.rate, 48000);
	assert_config_equal(&cfg, &cfg2);

	assert_parses("{ service.url = \"\" audio = { rate = 44100 channels = 2 } buffer = { ring-ms = 500 wake-ms = 5 }"
			" taps = [ { name = a mode = source capture = { position = [ MONO ] }"
			" debug = { record-file = \"/tmp/a.wav\" } }"
			" { name = b mode = tap match = { application.name = x } } ] }", &cfg);
	assert_parses("{ service.url = \"\" audio.rate = 44100 audio.channels = 2 buffer.ring-ms = 500 buffer.wake-ms = 5"
			" taps = [ { name = a mode = source capture.position = [ MONO ]"
			" debug.record-file = \"/tmp/a.wav\" }"
			" { name = b mode = tap match = { application.name = x } } ] }", &cfg2);
	assert_int_equal(cfg.channels, 2);
	assert_int_equal(cfg.wake_ms, 5);
	assert_int_equal(cfg.taps[0].position[0], SPA_AUDIO_CHANNEL_MONO);
	assert_string_equal(cfg.taps[0].record_file, "/tmp/a.wav");
	assert_config_equal(&cfg, &cfg2);
}

/* PipeWire passes module args also without the outer braces. */
static void test_outer_braces_are_optional(void **state)
{
	assert_parses("audio.rate = 22050 buffer.ring-ms = 1000 service.url = \"\"", &cfg);
	assert_parses("{ audio.rate = 22050 buffer.ring-ms = 1000 service.url = \"\" }", &cfg2);
	assert_int_equal(cfg.rate, 22050);
	assert_int_equal(cfg.ring_ms, 1000);
	assert_config_equal(&cfg, &cfg2);
}

static void test_full_config_sets_every_field(void **state)
{
	const struct tap_config *t;

	assert_parses(
		"{\n"
		"  service.url = \"wss://stt.example.org/ws\"\n"
		"  audio.rate = 48000\n"
		"  audio.channels = 2\n"
		"  buffer.ring-ms = 5000\n"
		"  buffer.wake-ms = 40\n"
		"  taps = [\n"
		"    { name = meeting mode = tap\n"
		"      match = { application.name = \"Firefox\" media.role = Communication }\n"
		"      capture.position = [ FL FR ] }\n"
		"    { name = speakers mode = tap target = \"alsa_output.pci-0000_00_1f.3.analog-stereo\"\n"
		"      description = \"Speakers (monitor)\" }\n"
		"    { name = captions_2 mode = sink target = \"alsa_output.usb\"\n"
		"      description = \"Captions sink\" capture.position = [ MONO ]\n"
		"      debug.record-file = \"/tmp/captions.wav\" }\n"
		"    { name = mic.1 mode = source capture.position = [ FL FR FC LFE ] }\n"
		"    { name = app-by-serial mode = source match = { object.serial = \"42\" } }\n"
		"  ]\n"
		"}\n", &cfg);

	assert_int_equal(cfg.rate, 48000);
	assert_int_equal(cfg.channels, 2);
	assert_int_equal(cfg.ring_ms, 5000);
	assert_int_equal(cfg.wake_ms, 40);
	assert_int_equal(cfg.n_taps, 5);

	t = &cfg.taps[0];
	assert_string_equal(t->name, "meeting");
	assert_int_equal(t->mode, TAP_MODE_TAP);
	assert_string_equal(t->target, "");
	assert_string_equal(t->description, "Transcribe: meeting");
	assert_int_equal(t->n_match, 2);
	assert_string_equal(t->match[0].key, "application.name");
	assert_string_equal(t->match[0].value, "Firefox");
	assert_string_equal(t->match[1].key, "media.role");
	assert_string_equal(t->match[1].value, "Communication");
	assert_int_equal(t->n_position, 2);
	assert_int_equal(t->position[0], SPA_AUDIO_CHANNEL_FL);
	assert_int_equal(t->position[1], SPA_AUDIO_CHANNEL_FR);

	t = &cfg.taps[1];
	assert_string_equal(t->name, "speakers");
	assert_int_equal(t->mode, TAP_MODE_TAP);
	assert_string_equal(t->target, "alsa_output.pci-0000_00_1f.3.analog-stereo");
	assert_string_equal(t->description, "Speakers (monitor)");
	assert_int_equal(t->n_match, 0);

	t = &cfg.taps[2];
	assert_string_equal(t->name, "captions_2");
	assert_int_equal(t->mode, TAP_MODE_SINK);
	assert_string_equal(t->target, "alsa_output.usb");
	assert_string_equal(t->description, "Captions sink");
	assert_int_equal(t->n_position, 1);
	assert_int_equal(t->position[0], SPA_AUDIO_CHANNEL_MONO);
	assert_string_equal(t->record_file, "/tmp/captions.wav");

	t = &cfg.taps[3];
	assert_string_equal(t->name, "mic.1");
	assert_int_equal(t->mode, TAP_MODE_SOURCE);
	assert_string_equal(t->description, "Transcribe: mic.1");
	assert_int_equal(t->n_position, 4);
	assert_int_equal(t->position[2], SPA_AUDIO_CHANNEL_FC);
	assert_int_equal(t->position[3], SPA_AUDIO_CHANNEL_LFE);
	assert_string_equal(t->record_file, "");

	t = &cfg.taps[4];
	assert_int_equal(t->mode, TAP_MODE_SOURCE);
	assert_int_equal(t->n_match, 1);
	assert_string_equal(t->match[0].key, "object.serial");
	assert_string_equal(t->match[0].value, "42");
	/* Default capture.position of a tap that does not set it. */
	assert_int_equal(t->n_position, 2);

	assert_string_equal(config_mode_name(TAP_MODE_TAP), "tap");
	assert_string_equal(config_mode_name(TAP_MODE_SINK), "sink");
	assert_string_equal(config_mode_name(TAP_MODE_SOURCE), "source");
}

static void test_range_limits_are_inclusive(void **state)
{
	assert_parses("{ audio.rate = 8000 audio.channels = 8 buffer.ring-ms = 200 buffer.wake-ms = 1 service.url = \"\" }", &cfg);
	assert_int_equal(cfg.rate, 8000);
	assert_int_equal(cfg.channels, 8);
	assert_parses("{ audio.rate = 48000 buffer.ring-ms = 60000 buffer.wake-ms = 500 service.url = \"\" }", &cfg);
	assert_int_equal(cfg.ring_ms, 60000);
}

static void test_unknown_key_is_rejected(void **state)
{
	assert_rejected("{ audio.bogus = 1 }", "audio.bogus", "unknown key");
	assert_rejected("{ audio = { bogus = 1 } }", "audio.bogus", "unknown key");
	assert_rejected("{ taps = [ { name = a mode = sink volume = 1 } ] }",
			"taps[0].volume", "unknown key");
}

static void test_string_for_integer_is_rejected(void **state)
{
	assert_rejected("{ audio.rate = \"fast\" }", "audio.rate", "expected an integer");
	assert_rejected("{ audio.channels = 1.5 }", "audio.channels", "expected an integer");
	assert_rejected("{ buffer.ring-ms = [ 1 ] }", "buffer.ring-ms", "expected an integer");
}

static void test_out_of_range_number_is_rejected(void **state)
{
	assert_rejected("{ audio.rate = 100 }", "audio.rate", "8000..48000");
	assert_rejected("{ audio.rate = 48001 }", "audio.rate", "8000..48000");
	assert_rejected("{ audio.channels = 0 }", "audio.channels", "1..8");
	assert_rejected("{ buffer.wake-ms = -1 }", "buffer.wake-ms", "1..500");
}

static void test_unknown_mode_is_rejected(void **state)
{
	assert_rejected("{ taps = [ { name = a mode = loud } ] }", "taps[0].mode", "\"loud\"");
	assert_rejected("{ taps = [ { name = a mode = { } } ] }", "taps[0].mode", "tap, sink, source");
}

static void test_tap_mode_without_target_is_rejected(void **state)
{
	assert_rejected("{ taps = [ { name = a mode = tap } ] }", "taps[0]", "needs a target");
	/* The default mode is tap, so the same applies when mode is left out. */
	assert_rejected("{ taps = [ { name = a mode = sink } { name = b } ] }", "taps[1]", "needs a target");
}

static void test_duplicate_tap_name_is_rejected(void **state)
{
	assert_rejected("{ taps = [ { name = a mode = sink } { name = b mode = source }"
			" { name = a mode = source } ] }", "taps[2]", "\"a\" is used by taps[0]");
}

static void test_unknown_channel_name_is_rejected(void **state)
{
	assert_rejected("{ taps = [ { name = a mode = sink capture.position = [ FL XX ] } ] }",
			"taps[0].capture.position", "\"XX\" is not a channel name");
	assert_rejected("{ taps = [ { name = a mode = sink capture.position = [ ] } ] }",
			"taps[0].capture.position", "at least one channel");
	assert_rejected("{ taps = [ { name = a mode = sink capture.position = FL } ] }",
			"taps[0].capture.position", "expected an array");
}

static void test_taps_that_are_not_an_array_are_rejected(void **state)
{
	assert_rejected("{ taps = { name = a mode = sink } }", "taps", "expected an array");
	assert_rejected("{ taps = [ ] }", "taps", "is empty");
	assert_rejected("{ taps = [ a ] }", "taps[0]", "expected an object");
}

static void test_empty_or_misplaced_match_is_rejected(void **state)
{
	assert_rejected("{ taps = [ { name = a mode = tap match = { } } ] }", "taps[0].match", "is empty");
	assert_rejected("{ taps = [ { name = a mode = tap match = x } ] }", "taps[0].match", "expected an object");
	assert_rejected("{ taps = [ { name = a mode = tap match = { a = { b = c } } } ] }",
			"taps[0].match.a", "expected a string");
	assert_rejected("{ taps = [ { name = a mode = sink match = { a = b } } ] }", "taps[0]", "sink");
	assert_rejected("{ taps = [ { name = a mode = tap target = t match = { a = b } } ] }",
			"taps[0]", "not both");
}

static void test_tap_name_with_space_is_rejected(void **state)
{
	assert_rejected("{ taps = [ { name = \"my tap\" mode = sink } ] }", "taps[0]", "\"my tap\"");
	assert_rejected("{ taps = [ { mode = sink } ] }", "taps[0]", "needs a name");
}

static void test_too_long_string_is_rejected(void **state)
{
	char name[CONFIG_NAME_MAX + 1], desc[CONFIG_STR_MAX + 1], args[1024];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(args, sizeof(args), "{ taps = [ { name = %s mode = sink } ] }", name);
	assert_rejected(args, "taps[0].name", "longer than 63 characters");

	/* One shorter fits exactly. */
	name[sizeof(name) - 2] = '\0';
	snprintf(args, sizeof(args), "{ taps = [ { name = %s mode = sink } ] }", name);
	assert_parses(args, &cfg);
	assert_string_equal(cfg.taps[0].name, name);

	memset(desc, 'd', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = '\0';
	snprintf(args, sizeof(args), "{ taps = [ { name = a mode = sink description = %s } ] }", desc);
	assert_rejected(args, "taps[0].description", "longer than 255 characters");
}

static void test_more_than_max_taps_is_rejected(void **state)
{
	char args[2048];
	int n = snprintf(args, sizeof(args), "{ taps = [");

	for (int i = 0; i <= CONFIG_MAX_TAPS; i++)
		n += snprintf(args + n, sizeof(args) - n, " { name = t%d mode = sink }", i);
	snprintf(args + n, sizeof(args) - n, " ] }");
	assert_rejected(args, "taps", "more than 16 taps");
}

/* Messages quote a bad value only up to 40 bytes, so a pasted blob does
 * not flood the log. */
static void test_error_quotes_at_most_40_bytes_of_a_value(void **state)
{
	char value[201], args[256], shown[64];

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	snprintf(args, sizeof(args), "{ audio.rate = %s }", value);
	snprintf(shown, sizeof(shown), "got %.40s…", value);
	assert_rejected(args, "audio.rate", shown);
	snprintf(shown, sizeof(shown), "%.41s", value);
	assert_null(strstr(last_err, shown));
}

/* A short err buffer gets a cut-off message, never an overrun. */
static void test_error_is_cut_to_a_small_buffer(void **state)
{
	char err[12];

	memset(err, 'x', sizeof(err));
	assert_int_equal(config_parse("{ audio.rate = 100 }", &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "audio.rate:");
	assert_int_equal(config_parse("{ audio.rate = 100 }", &cfg, err, 1), -EINVAL);
	assert_string_equal(err, "");
}

static void test_integer_that_overflows_int_is_rejected(void **state)
{
	/* strtol into an int once wrapped this to 16000. */
	assert_rejected("{ audio.rate = 4294983296 }", "audio.rate", "out of range");
	assert_rejected("{ audio.rate = 0x3E80 }", "audio.rate", "expected an integer");
}

static void test_broken_json_is_rejected_not_cut_short(void **state)
{
	char args[512];

	/* A key too long for the buffer used to end parsing silently, so the
	 * bad rate after it was never looked at. */
	memset(args, 0, sizeof(args));
	strcpy(args, "{ ");
	memset(args + 2, 'k', 300);
	strcat(args, " = 1 audio.rate = 100 }");
	assert_rejected(args, "arguments", "too long");
	assert_rejected("{ taps = [ { name = a mode = sink capture.position = [ FL XXXXXXXXXXXXXXXXXXXX ] } ] }",
			"taps[0].capture.position", "not a channel name");
	assert_rejected("{ audio = 5 }", "audio", "expected an object");
}

static void test_control_characters_never_break_the_message_line(void **state)
{
	assert_rejected("{ taps = [ { name = \"a\\nb\" mode = sink } ] }", "taps[0]", "may only have");
	assert_rejected("{ taps = [ { name = a mode = \"lo\\nud\" } ] }", "taps[0].mode", "not one of");
}

static void test_quoted_string_of_max_length_fits(void **state)
{
	char args[256], name[64];

	memset(name, 'n', 63);
	name[63] = '\0';
	snprintf(args, sizeof(args), "{ taps = [ { name = \"%s\" mode = sink } ] }", name);
	assert_parses(args, &cfg);
	assert_string_equal(cfg.taps[0].name, name);
}

static void test_service_keys_parse_nested_and_dotted(void **state)
{
	assert_parses("{ service = { url = \"wss://stt.example.org:8443/ws?x=1\" model = m1 "
			"language.hints = [ en de ] diarization = true "
			"api-key = { file = \"/k\" } } reconnect = { fast-attempts = 3 } "
			"liveness.ping-ms = 5000 buffer.memory-sec = 30 }", &cfg);
	assert_string_equal(cfg.service.url, "wss://stt.example.org:8443/ws?x=1");
	assert_string_equal(cfg.service.model, "m1");
	assert_int_equal(cfg.service.n_hints, 2);
	assert_string_equal(cfg.service.hints[1], "de");
	assert_true(cfg.service.diarization);
	assert_false(cfg.service.endpoint_detection);
	assert_string_equal(cfg.service.key_file, "/k");
	assert_int_equal(cfg.fast_attempts, 3);
	assert_int_equal(cfg.ping_ms, 5000);
	assert_int_equal(cfg.memory_sec, 30);
	assert_int_equal(cfg.cap_ms, 16000);
}

static void test_no_service_means_the_embedded_server(void **state)
{
	assert_parses(NULL, &cfg);
	assert_string_equal(cfg.service.url, EMBEDDED_URL);
	assert_true(cfg.service.embedded);
	assert_string_equal(cfg.service.dialect, "soniox");
	assert_parses("{ service = { diarization = true } }", &cfg);
	assert_true(cfg.service.embedded);
	/* Spelled out, it is still the embedded server. */
	assert_parses("{ service.url = \"" EMBEDDED_URL "\" }", &cfg);
	assert_true(cfg.service.embedded);
}

/* The embedded server's socket lives in the user's runtime directory: the
 * default is computed at load, and there is none without that directory. */
static void test_the_default_url_needs_xdg_runtime_dir(void **state)
{
	unsetenv("XDG_RUNTIME_DIR");
	assert_rejected(NULL, "service.url", "XDG_RUNTIME_DIR");
	assert_rejected("{ taps = [ { name = a mode = sink } ] }", "service.url", "XDG_RUNTIME_DIR");
	/* a URL of one's own needs none */
	assert_parses("{ service.url = \"ws://127.0.0.1:9/x\" }", &cfg);
	assert_false(cfg.service.embedded);
	assert_parses("{ service.url = \"\" }", &cfg);
	setenv("XDG_RUNTIME_DIR", "relative/dir", 1);
	assert_rejected(NULL, "service.url", "XDG_RUNTIME_DIR");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000/a space", 1);
	assert_rejected(NULL, "service.url", "whitespace in the socket path");
	setenv("XDG_RUNTIME_DIR", "/tmp/very-long-runtime-directory-name-that-does-not-fit-in-a-"
			"sockaddr-un-sun-path-of-108-bytes", 1);
	assert_rejected(NULL, "service.url", "longer than 107 bytes");
	setenv("XDG_RUNTIME_DIR", RUNTIME_DIR, 1);
	assert_parses(NULL, &cfg);
}

static void test_empty_service_url_means_capture_only(void **state)
{
	assert_parses("{ service.url = \"\" audio.rate = 48000 }", &cfg);
	assert_string_equal(cfg.service.url, "");
	assert_false(cfg.service.embedded);
}

static void test_publishing_names_default_and_can_be_turned_off(void **state)
{
	assert_parses(NULL, &cfg);
	assert_string_equal(cfg.metadata_name, "transcribe");
	assert_string_equal(cfg.dbus_name, "io.github.pw_transcribe.Transcribe1");
	assert_parses("{ publish = { metadata-name = \"\" dbus-name = \"org.example.Second_1\" } }", &cfg);
	assert_string_equal(cfg.metadata_name, "");
	assert_string_equal(cfg.dbus_name, "org.example.Second_1");
	assert_parses("{ publish.dbus-name = \"\" }", &cfg);
	assert_string_equal(cfg.dbus_name, "");
}

static void test_a_bad_dbus_name_fails_naming_the_key(void **state)
{
	assert_rejected("{ publish.dbus-name = \"nodots\" }", "publish.dbus-name", "not a D-Bus name");
	assert_rejected("{ publish.dbus-name = \"org.1x\" }", "publish.dbus-name", "not a D-Bus name");
	assert_rejected("{ publish.dbus-name = \"org..x\" }", "publish.dbus-name", "not a D-Bus name");
	assert_rejected("{ publish.dbus-name = \"org.x.\" }", "publish.dbus-name", "not a D-Bus name");
	assert_rejected("{ publish.dbus-name = \"org.x/y\" }", "publish.dbus-name", "not a D-Bus name");
}

static void test_embedded_server_refuses_other_rates_at_load(void **state)
{
	assert_rejected("{ audio.rate = 48000 }", "audio.rate", "takes 16000 Hz");
	/* Another server at another address may take any rate. */
	assert_parses("{ audio.rate = 48000 service.url = \"ws://127.0.0.1:9/x\" }", &cfg);
	assert_false(cfg.service.embedded);
	/* The default socket's server speaks soniox only. */
	assert_rejected("{ service.dialect = vosk }", "service.dialect", "speaks soniox, not vosk");
	assert_rejected("{ service.dialect = openai-realtime audio.rate = 24000 }",
			"service.dialect", "pw-transcribe-server --dialect openai-realtime");
}

static void test_bad_service_settings_fail_naming_the_key(void **state)
{
	assert_rejected("{ service.url = \"http://example.org\" }", "service.url", "ws://");
	assert_rejected("{ service.url = \"ws://h/x\\r\\nX-Evil2: yes\" }", "service.url",
			"control character in the path (at byte 9)");
	assert_rejected("{ service.url = \"ws://[::1]junk:7000\" }", "service.url",
			"only ':port' may follow ']'");
	assert_rejected("{ service.url = \"ws://h:+80\" }", "service.url", "digits only");
	assert_rejected("{ service.max-message-kb = 8 }", "service.max-message-kb", "16..65536");
	assert_rejected("{ journal.max-mb = 0 }", "journal.max-mb", "1..65536");
	assert_rejected("{ service.url = \"wss://host:99999/\" }", "service.url", "port 99999 is not in 1..65535 (at byte 12)");
	assert_rejected("{ service.url = \"ws:///path\" }", "service.url", "host");
	assert_rejected("{ service.dialect = klingon }", "service.dialect", "not one of");
	assert_rejected("{ service.api-key = { file = a env = B } }", "service.api-key", "only one");
	assert_rejected("{ service.temporary-key.url = \"https://x/\" }",
			"service.temporary-key.url", "long-lived key");
	assert_rejected("{ service.diarization = maybe }", "service.diarization", "true or false");
	assert_rejected("{ service.language.hints = en }", "service.language.hints", "array");
	assert_rejected("{ reconnect = { base-ms = 5000 cap-ms = 1000 } }", "reconnect.cap-ms", "below");
	assert_rejected("{ liveness.ping-ms = 10 }", "liveness.ping-ms", "out of range");
}

static void test_new_limits_have_documented_defaults(void **state)
{
	assert_parses(NULL, &cfg);
	assert_int_equal(cfg.service.max_message_kb, 1024);
	assert_int_equal(cfg.journal_max_mb, 64);
	assert_false(cfg.service.allow_insecure);
	assert_string_equal(cfg.warning, "");
	assert_parses("{ service.max-message-kb = 65536 journal.max-mb = 1 }", &cfg);
	assert_int_equal(cfg.service.max_message_kb, 65536);
	assert_int_equal(cfg.journal_max_mb, 1);
}

struct rejection {
	const char *args, *key, *reason;
};

static void assert_all_rejected(const struct rejection *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_rejected(r[i].args, r[i].key, r[i].reason);
}

/* The issue's inputs: each is a load error naming the position, never a
 * silent load with defaults. */
static void test_broken_syntax_is_a_load_error_with_its_position(void **state)
{
	static const struct rejection broken[] = {
		{ "}}}}{{{", "arguments", "unexpected '}' (nothing to close) at byte 1" },
		{ "{", "arguments", "unclosed '{' opened at byte 1" },
		{ "\"abc\\", "arguments", "unterminated string starting at byte 1" },
		{ "{ audio.rate = 16000 } junk", "arguments",
		  "unexpected data after the closing '}' at byte 24" },
		{ "{ audio.rate = 16000 } }", "arguments", "after the closing '}' at byte 24" },
		{ "{ audio.rate = 16000 } { }", "arguments", "after the closing '}' at byte 24" },
		{ "{ taps = [ { name = a mode = sink }", "taps", "unclosed '[' opened at byte 10" },
		{ "{ taps = [ { name = a mode = sink ", "taps[0]", "unclosed '{' opened at byte 12" },
		{ "{ taps = [ { name = a mode = sink ] }", "taps[0]",
		  "mismatched ']' (the '{' at byte 12 needs '}') at byte 35" },
		{ "{ audio = { rate } }", "audio.rate", "missing value at byte 18" },
		{ "audio.rate", "audio.rate", "missing value" },
		{ "{ { a = 1 } = 2 }", "arguments", "expected a key, got '{' at byte 3" },
		{ "[ 1 2 ]", "arguments", "expected an object, got an array at byte 1" },
		{ "{ service.model = ab\"c }", "service.model",
		  "'\"' inside a bare word (quote the value) at byte 21" },
		{ "{ service.model = a{b }", "service.model", "'{' inside a bare word" },
		/* found by fuzz-config: a message must name a key */
		{ "\"\"&", "arguments", "an empty key at byte 1" },
		{ "{ audio = { \"\" = 1 } }", "audio", "an empty key at byte 13" },
		/* and a key that is not a plain word is quoted, so the line
		 * still starts with a key */
		{ "{ \": x\" = 1 }", "\": x\"", "unknown key" },
		{ "{ audio = { \"r te\" = 1 } }", "audio.\"r te\"", "unknown key" },
		{ "{ \": x\" = a\x01 }", "\": x\"", "control character in a bare word" },
	};

	assert_all_rejected(broken, sizeof(broken) / sizeof(broken[0]));
}

static void test_strings_are_checked_escape_by_escape(void **state)
{
	static const struct rejection bad[] = {
		/* "a\u0000b" once became "a": a NUL cuts a value short */
		{ "{ service.model = \"a\\u0000b\" }", "service.model",
		  "\\u0000 (NUL) in a string at byte 21" },
		{ "{ service.model = \"a\\ud800b\" }", "service.model", "surrogate" },
		{ "{ service.model = \"a\\udc00\" }", "service.model", "surrogate" },
		{ "{ service.model = \"a\\u12\" }", "service.model", "four hex digits" },
		{ "{ service.model = \"a\\x41\" }", "service.model", "unknown escape" },
		{ "{ service.model = \"a\tb\" }", "service.model", "control character" },
		{ "{ service.model = \"a\xc3\x28\" }", "service.model", "invalid UTF-8" },
		{ "{ service.model = \"\xed\xa0\x80\" }", "service.model", "invalid UTF-8" },
		{ "{ service.model = a\x01b }", "service.model", "control character in a bare word" },
	};

	assert_all_rejected(bad, sizeof(bad) / sizeof(bad[0]));
	/* valid escapes and UTF-8 go through, decoded */
	assert_parses("{ service.model = \"m\\u00e9\\ud83d\\ude00\\n\\\"x\" service.url = \"\" "
			"taps = [ { name = a mode = sink description = \"Überschrift ✓\" } ] }", &cfg);
	assert_string_equal(cfg.service.model, "m\xc3\xa9\xf0\x9f\x98\x80\n\"x");
	assert_string_equal(cfg.taps[0].description, "Überschrift ✓");
}

static void test_comments_and_separators_are_spa_json(void **state)
{
	assert_parses("# the module\n{ audio.rate: 16000, # Hz\n"
			"  taps = [ { name = a, mode = sink } ] } # end", &cfg);
	assert_int_equal(cfg.rate, 16000);
	assert_string_equal(cfg.taps[0].name, "a");
	/* found by fuzz-config: spa_json takes a comment at the very end for
	 * a token (here it became a key ": #") */
	assert_parses(": #", &cfg);
	assert_parses("# only a comment", &cfg);
	assert_parses("audio.rate = 16000 # no newline after me", &cfg);
	assert_parses("{ audio.rate = 16000 } # nor after me", &cfg);
}

static void test_nesting_is_bounded(void **state)
{
	char args[256];
	int n = 0;

	for (int i = 0; i < 20; i++)
		n += snprintf(args + n, sizeof(args) - n, "{ a = ");
	for (int i = 0; i < 20; i++)
		n += snprintf(args + n, sizeof(args) - n, "} ");
	assert_rejected(args, "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a", "nested deeper than 16 levels");
}

/* Unterminated input once made spa_json read past the end of the buffer
 * (ASan: heap-buffer-overflow in spa_json_next): the text here sits in a
 * heap block of exactly its size, so any read past it is caught. */
static void test_unterminated_input_is_never_read_past_its_end(void **state)
{
	static const char *const inputs[] = {
		"{ taps = [ { name = a mode = sink",
		"{ taps = [ { name = a mode = sink match = { x = ",
		"{ taps = [ { name = a mode = sink capture.position = [ FL",
		"{ service = { language.hints = [ en",
		"{ taps = [ { name = \"a",
		"taps = [ { match = { a",
		"{ taps = [ { name = a mode = sink } ] ",
		"{ a = \"\\",
		"{ a = \"\\u12",
		"{ a = \"\\ud800\\u",
		"{ a = \"\xe2\x82",
		"{ a = # comment",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		size_t len = strlen(inputs[i]);
		char *exact = malloc(len + 1);

		assert_non_null(exact);
		memcpy(exact, inputs[i], len + 1);
		if (config_parse(exact, &cfg, err, sizeof(err)) != -EINVAL)
			fail_msg("config_parse(%s) accepted it", inputs[i]);
		assert_non_null(strstr(err, " at byte "));
		free(exact);
	}
}

static void test_relative_paths_are_refused_at_load(void **state)
{
	static const struct rejection relative[] = {
		{ "{ journal.dir = \"state/j\" }", "journal.dir", "relative path" },
		{ "{ journal.dir = \"~/j\" }", "journal.dir", "relative path" },
		{ "{ taps = [ { name = a mode = sink debug.record-file = x.wav } ] }",
		  "taps[0].debug.record-file", "\"x.wav\" is a relative path" },
		{ "{ taps = [ { name = a mode = sink } { name = b mode = sink "
		  "debug.record-file = ./b.wav } ] }", "taps[1].debug.record-file", "relative" },
		{ "{ service.api-key.file = soniox.key }", "service.api-key.file",
		  "relative path; give an absolute one (or ~/...)" },
		{ "{ service.tls.ca-file = ca.pem }", "service.tls.ca-file", "relative" },
	};

	assert_all_rejected(relative, sizeof(relative) / sizeof(relative[0]));
	assert_parses("{ journal.dir = \"/var/tmp/j\" service.api-key.file = \"~/k\" "
			"taps = [ { name = a mode = sink debug.record-file = /tmp/a.wav } ] }", &cfg);
}

/* An API key never crosses the network in clear text unless the user says so. */
static void test_a_key_over_plain_ws_needs_allow_insecure(void **state)
{
	static const struct rejection clear[] = {
		{ "{ service = { url = \"ws://192.0.2.7:7681/x\" api-key.env = K } }",
		  "service.url", "clear text to 192.0.2.7" },
		{ "{ service = { url = \"ws://stt.example.org/x\" api-key.file = /k } }",
		  "service.url", "service.allow-insecure = true" },
		{ "{ service = { url = \"WS://[2001:db8::1]/x\" api-key.command = c } }",
		  "service.url", "wss://" },
	};
	/* loopback, TLS, a Unix socket or no key at all: nothing to say */
	static const char *const fine[] = {
		"ws://127.0.0.1:7681/x\" api-key.env = K",
		"ws://[::1]:7681/x\" api-key.env = K",
		"ws://localhost:7681/x\" api-key.env = K",
		"wss://stt.example.org/x\" api-key.env = K",
		"ws+unix:///tmp/s.sock:/x\" api-key.env = K",
		"ws://192.0.2.7:7681/x\"",
	};
	char args[256];

	assert_all_rejected(clear, sizeof(clear) / sizeof(clear[0]));
	assert_parses("{ service = { url = \"ws://192.0.2.7:7681/x\" api-key.env = K "
			"allow-insecure = true } }", &cfg);
	assert_true(cfg.service.allow_insecure);
	assert_non_null(strstr(cfg.warning, "service.allow-insecure"));
	assert_non_null(strstr(cfg.warning, "192.0.2.7"));
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		snprintf(args, sizeof(args), "{ service = { url = \"%s } }", fine[i]);
		assert_parses(args, &cfg);
		assert_string_equal(cfg.warning, "");
	}
	assert_parses("{ service = { api-key.env = K } }", &cfg);
	assert_string_equal(cfg.warning, "");
}

static void test_credentials_in_the_url_are_refused_and_not_printed(void **state)
{
	assert_rejected("{ service.url = \"wss://me:s3cr3t-pass@stt.example.org/x\" }",
			"service.url", "user name or password");
	assert_null(strstr(last_err, "s3cr3t"));
	assert_null(strstr(last_err, "me:"));
}

/* Each dialect's defaults agree with its own facts (dialect_ops): the
 * rollover comes before the service's cap, the one rate it takes is the
 * only one accepted, and a model given by the user stays. */
static void test_each_dialect_gets_its_defaults_and_rate_check(void **state)
{
	static const char *const names[] = { "soniox", "deepgram", "openai-realtime", "vosk" };
	char args[256];

	for (size_t i = 0; i < SPA_N_ELEMENTS(names); i++) {
		const struct dialect_ops *d = dialect_find(names[i]);
		uint32_t rate = d->required_rate ? d->required_rate : 16000;

		assert_non_null(d);
		assert_non_null(strstr(dialect_names(), names[i]));
		snprintf(args, sizeof(args), "{ service = { dialect = %s url = \"ws://127.0.0.1:1/\" } "
				"audio.rate = %u }", names[i], rate);
		assert_parses(args, &cfg);
		if (d->max_session_sec > 0)
			assert_true(cfg.service.max_session_sec < d->max_session_sec);
		assert_true(cfg.stall_timeout_ms >= d->quiet_in_speech_ms);
		if (d->required_rate != 0) {
			snprintf(args, sizeof(args), "{ service = { dialect = %s url = \"ws://127.0.0.1:1/\" } "
					"audio.rate = 16000 }", names[i]);
			assert_rejected(args, "audio.rate", "PipeWire resamples");
		}
	}
	assert_parses("{ service = { dialect = deepgram url = \"ws://127.0.0.1:1/\" } }", &cfg);
	assert_string_equal(cfg.service.model, "nova-3");
	assert_parses("{ service = { dialect = openai-realtime url = \"ws://127.0.0.1:1/\" } "
			"audio.rate = 24000 }", &cfg);
	assert_string_equal(cfg.service.model, "gpt-4o-transcribe");
	assert_int_equal(cfg.service.max_session_sec, 3300);
	assert_parses("{ service = { dialect = openai-realtime url = \"ws://127.0.0.1:1/\" "
			"model = whisper-1 max-session-sec = 600 } audio.rate = 24000 }", &cfg);
	assert_string_equal(cfg.service.model, "whisper-1");
	assert_int_equal(cfg.service.max_session_sec, 600);
	/* Given, a stall timeout stays what it is (tests make it short). */
	assert_parses("{ service = { dialect = openai-realtime url = \"ws://127.0.0.1:1/\" } "
			"audio.rate = 24000 liveness.stall-timeout-ms = 2000 }", &cfg);
	assert_int_equal(cfg.stall_timeout_ms, 2000);
	assert_parses("{ service = { dialect = vosk url = \"ws://127.0.0.1:1/\" } }", &cfg);
	assert_string_equal(cfg.service.model, "");
	/* Their config messages refuse more channels: so does the load. */
	assert_rejected("{ service = { dialect = vosk url = \"ws://127.0.0.1:1/\" } audio.channels = 2 }",
			"audio.channels", "mono only");
	assert_parses("{ service = { dialect = deepgram url = \"ws://127.0.0.1:1/\" } "
			"audio.channels = 2 }", &cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_default_url_needs_xdg_runtime_dir),
		cmocka_unit_test(test_new_limits_have_documented_defaults),
		cmocka_unit_test(test_broken_syntax_is_a_load_error_with_its_position),
		cmocka_unit_test(test_strings_are_checked_escape_by_escape),
		cmocka_unit_test(test_comments_and_separators_are_spa_json),
		cmocka_unit_test(test_nesting_is_bounded),
		cmocka_unit_test(test_unterminated_input_is_never_read_past_its_end),
		cmocka_unit_test(test_relative_paths_are_refused_at_load),
		cmocka_unit_test(test_a_key_over_plain_ws_needs_allow_insecure),
		cmocka_unit_test(test_credentials_in_the_url_are_refused_and_not_printed),
		cmocka_unit_test(test_missing_args_give_one_default_sink_tap),
		cmocka_unit_test(test_nested_and_dotted_keys_are_equivalent),
		cmocka_unit_test(test_outer_braces_are_optional),
		cmocka_unit_test(test_full_config_sets_every_field),
		cmocka_unit_test(test_range_limits_are_inclusive),
		cmocka_unit_test(test_unknown_key_is_rejected),
		cmocka_unit_test(test_string_for_integer_is_rejected),
		cmocka_unit_test(test_out_of_range_number_is_rejected),
		cmocka_unit_test(test_unknown_mode_is_rejected),
		cmocka_unit_test(test_tap_mode_without_target_is_rejected),
		cmocka_unit_test(test_duplicate_tap_name_is_rejected),
		cmocka_unit_test(test_unknown_channel_name_is_rejected),
		cmocka_unit_test(test_taps_that_are_not_an_array_are_rejected),
		cmocka_unit_test(test_empty_or_misplaced_match_is_rejected),
		cmocka_unit_test(test_tap_name_with_space_is_rejected),
		cmocka_unit_test(test_too_long_string_is_rejected),
		cmocka_unit_test(test_more_than_max_taps_is_rejected),
		cmocka_unit_test(test_error_quotes_at_most_40_bytes_of_a_value),
		cmocka_unit_test(test_error_is_cut_to_a_small_buffer),
		cmocka_unit_test(test_integer_that_overflows_int_is_rejected),
		cmocka_unit_test(test_broken_json_is_rejected_not_cut_short),
		cmocka_unit_test(test_control_characters_never_break_the_message_line),
		cmocka_unit_test(test_quoted_string_of_max_length_fits),
		cmocka_unit_test(test_service_keys_parse_nested_and_dotted),
		cmocka_unit_test(test_no_service_means_the_embedded_server),
		cmocka_unit_test(test_each_dialect_gets_its_defaults_and_rate_check),
		cmocka_unit_test(test_empty_service_url_means_capture_only),
		cmocka_unit_test(test_embedded_server_refuses_other_rates_at_load),
		cmocka_unit_test(test_publishing_names_default_and_can_be_turned_off),
		cmocka_unit_test(test_a_bad_dbus_name_fails_naming_the_key),
		cmocka_unit_test(test_bad_service_settings_fail_naming_the_key),
	};
	/* The default service.url is computed from it. */
	setenv("XDG_RUNTIME_DIR", RUNTIME_DIR, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
