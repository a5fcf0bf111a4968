/* What pw-transcribe follow prints: captions and state lines for a terminal
 * or a pipe, or one JSON object per event. Every call writes whole lines
 * (or rewrites the partial line on a terminal) and flushes stdout. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cli-tap.h"

enum cli_caption_mode {
	CLI_CAPTION_TERMINAL,	/* partial rewritten in place, finals scroll */
	CLI_CAPTION_PLAIN,	/* finals and state lines only, no escapes */
	CLI_CAPTION_JSON,	/* one JSON object per event and line */
};

/* One Final signal. */
struct cli_final {
	const char *text;
	uint64_t start_ms;
	uint64_t end_ms;
	uint64_t seq;
	const char *speaker;
	const char *language;
	const char *session_id;
	bool has_confidence;
	double confidence;
};

struct cli_caption;

/* prefix: start text lines with "<tap>: " (following several taps).
 * NULL when out of memory. */
struct cli_caption *cli_caption_new(enum cli_caption_mode mode, bool prefix);
/* Clears a partial left on the terminal line. */
void cli_caption_free(struct cli_caption *c);

/* Each returns 0 or -ENOMEM. tap is the tap's name. */
int cli_caption_state(struct cli_caption *c, const struct cli_tap *t);
int cli_caption_partial(struct cli_caption *c, const char *tap, const char *text,
			uint64_t start_ms, uint64_t end_ms);
int cli_caption_final(struct cli_caption *c, const char *tap, const struct cli_final *f);
int cli_caption_removed(struct cli_caption *c, const char *tap);
int cli_caption_gone(struct cli_caption *c);
