/* Module arguments: parsing, validation and the table of defaults.
 *
 * Pure code (no daemon needed): config_parse() turns the SPA-JSON argument
 * string into a struct transcribe_config or fails with one line that names
 * the offending key and says why. Any thread; no global state.
 */
#ifndef TRANSCRIBE_CONFIG_H
#define TRANSCRIBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <spa/param/audio/raw.h>

#define CONFIG_MAX_TAPS		16
#define CONFIG_MAX_MATCH	8
#define CONFIG_NAME_MAX		64
#define CONFIG_STR_MAX		256

enum tap_mode {
	TAP_MODE_TAP,		/* passive input on a node's output (an app, a sink monitor) */
	TAP_MODE_SINK,		/* virtual sink that plays through */
	TAP_MODE_SOURCE,	/* microphone or any source */
};

struct config_match {
	char key[CONFIG_STR_MAX];
	char value[CONFIG_STR_MAX];
};

struct tap_config {
	char name[CONFIG_NAME_MAX];
	enum tap_mode mode;
	char target[CONFIG_STR_MAX];		/* node.name or object.serial; "" = none */
	char description[CONFIG_STR_MAX];
	uint32_t n_match;
	struct config_match match[CONFIG_MAX_MATCH];
	uint32_t n_position;			/* input ports of the tap node */
	uint32_t position[SPA_AUDIO_MAX_CHANNELS];
	char record_file[CONFIG_STR_MAX];	/* debug WAV of what the worker drained */
};

struct transcribe_config {
	uint32_t rate;		/* what the service receives */
	uint32_t channels;
	uint32_t ring_ms;
	uint32_t wake_ms;
	uint32_t n_taps;
	struct tap_config taps[CONFIG_MAX_TAPS];
};

/* Parses args (NULL or "" means all defaults). On error returns -EINVAL and
 * writes one line "key: reason" into err. */
int config_parse(const char *args, struct transcribe_config *cfg,
		char *err, size_t err_size);

const char *config_mode_name(enum tap_mode mode);

/* Writes every key with its default and meaning (for docs and --help). */
void config_print_reference(FILE *f);

#endif
