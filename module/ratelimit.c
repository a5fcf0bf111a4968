/* Rate-limited logging (see ratelimit.h). */
#include "ratelimit.h"

#include <inttypes.h>
#include <stdio.h>

bool ratelimit_allow(struct ratelimit *rl, uint64_t now_ms)
{
	uint32_t interval = rl->interval_ms ? rl->interval_ms : RATELIMIT_DEFAULT_MS;

	if (rl->started && now_ms - rl->last_ms < interval) {
		rl->suppressed++;
		return false;
	}
	if (rl->suppressed > 0)
		snprintf(rl->note, sizeof(rl->note), " (and %" PRIu64 " more like it in the last "
				"%" PRIu64 " s)", rl->suppressed, (now_ms - rl->last_ms + 500) / 1000);
	else
		rl->note[0] = '\0';
	rl->started = true;
	rl->last_ms = now_ms;
	rl->suppressed = 0;
	return true;
}

uint64_t ratelimit_pending(const struct ratelimit *rl)
{
	return rl->suppressed;
}
