/* Rate-limited logging of what a peer can make us say (bad messages from
 * the service, dropped tokens, impossible times): the first line of a
 * burst goes out, the next ones within the interval are only counted, and
 * the first line after it says how many were held back. So a flood costs
 * one line per interval, and nothing goes unmentioned.
 *
 * A zeroed struct is ready (interval RATELIMIT_DEFAULT_MS). One owner, no
 * locking; the clock is the caller's (milliseconds, monotonic).
 *
 *   RATELIMIT_LOG(&sh->peer_warn, now_ms, pw_log_warn,
 *                 "tap=%s ignoring a bad message: %s", tap, why);
 */
#ifndef TRANSCRIBE_RATELIMIT_H
#define TRANSCRIBE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define RATELIMIT_DEFAULT_MS	10000

struct ratelimit {
	uint32_t interval_ms;	/* 0: RATELIMIT_DEFAULT_MS */
	bool started;
	uint64_t last_ms;	/* when the last line went out */
	uint64_t suppressed;	/* held back since then */
	char note[80];		/* what the allowed line appends; "" when nothing was held back */
};

/* Whether a line may go out at now_ms. When it may, rl->note says how many
 * were held back since the last one (" (and N more like it in the last S s)")
 * or is "". */
bool ratelimit_allow(struct ratelimit *rl, uint64_t now_ms);

/* Lines held back since the last one went out (for a summary at the end). */
uint64_t ratelimit_pending(const struct ratelimit *rl);

/* logf is a printf-like logging macro or function; fmt a string literal. */
#define RATELIMIT_LOG(rl, now_ms, logf, fmt, ...)					\
	do {										\
		if (ratelimit_allow((rl), (now_ms)))					\
			logf(fmt "%s", __VA_ARGS__, (rl)->note);			\
	} while (0)

#endif
