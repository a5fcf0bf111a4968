/* Another client's view of the daemon's main loop: core sync round trips,
 * one every 2 ms, and the slowest of them in a window the caller opens and
 * closes on stdin.
 *
 *   rtt-probe            stdin "reset\n": a new window;
 *                        stdin "report\n": "max_ms=X n=N" once the round
 *                        trip in flight (the one a stall holds) is back.
 *
 * A stalled main loop answers no sync: the round trip that straddles the
 * stall is as long as the stall, so the window's max is the stall.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pipewire/pipewire.h>

#define PROBE_GAP_MS	2

struct probe {
	struct pw_main_loop *loop;
	struct pw_context *context;
	struct pw_core *core;
	struct spa_hook core_listener;
	struct spa_source *timer;
	struct spa_source *input;
	int pending;		/* seq of the sync in flight; -1: none */
	uint64_t sent_ns;
	uint64_t max_ns;
	uint64_t n;
	bool report_due;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SPA_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void report(struct probe *p)
{
	printf("max_ms=%.1f n=%" PRIu64 "\n", (double)p->max_ns / 1e6, p->n);
	fflush(stdout);
	p->report_due = false;
}

static void arm(struct probe *p, uint64_t ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)(ms * SPA_NSEC_PER_MSEC) };

	pw_loop_update_timer(pw_main_loop_get_loop(p->loop), p->timer, &ts, NULL, false);
}

static void on_done(void *data, uint32_t id, int seq)
{
	struct probe *p = data;
	uint64_t d;

	if (id != PW_ID_CORE || seq != p->pending)
		return;
	d = now_ns() - p->sent_ns;
	p->pending = -1;
	p->max_ns = SPA_MAX(p->max_ns, d);
	p->n++;
	if (p->report_due)
		report(p);
	arm(p, PROBE_GAP_MS);
}

static void on_error(void *data, uint32_t id, int seq, int res, const char *message)
{
	struct probe *p = data;

	if (id == PW_ID_CORE) {
		fprintf(stderr, "rtt-probe: %s\n", message);
		pw_main_loop_quit(p->loop);
	}
}

static const struct pw_core_events core_events = {
	PW_VERSION_CORE_EVENTS,
	.done = on_done,
	.error = on_error,
};

static void on_timer(void *data, uint64_t expirations)
{
	struct probe *p = data;

	p->sent_ns = now_ns();
	p->pending = pw_core_sync(p->core, PW_ID_CORE, 0);
}

static void on_input(void *data, int fd, uint32_t mask)
{
	struct probe *p = data;
	char buf[256];
	ssize_t r = read(fd, buf, sizeof(buf) - 1);

	if (r <= 0) {
		pw_main_loop_quit(p->loop);
		return;
	}
	buf[r] = '\0';
	if (strstr(buf, "reset") != NULL) {
		p->max_ns = 0;
		p->n = 0;
	}
	if (strstr(buf, "report") != NULL) {
		p->report_due = true;
		if (p->pending < 0)
			report(p);
	}
}

int main(int argc, char *argv[])
{
	struct probe p = { .pending = -1 };
	struct pw_loop *l;

	pw_init(&argc, &argv);
	p.loop = pw_main_loop_new(NULL);
	l = pw_main_loop_get_loop(p.loop);
	p.context = pw_context_new(l, NULL, 0);
	if ((p.core = pw_context_connect(p.context, NULL, 0)) == NULL) {
		fprintf(stderr, "rtt-probe: cannot connect: %m\n");
		return 1;
	}
	pw_core_add_listener(p.core, &p.core_listener, &core_events, &p);
	p.timer = pw_loop_add_timer(l, on_timer, &p);
	p.input = pw_loop_add_io(l, STDIN_FILENO, SPA_IO_IN | SPA_IO_HUP, false, on_input, &p);
	arm(&p, PROBE_GAP_MS);
	printf("ready\n");
	fflush(stdout);
	pw_main_loop_run(p.loop);
	pw_core_disconnect(p.core);
	pw_context_destroy(p.context);
	pw_main_loop_destroy(p.loop);
	pw_deinit();
	return 0;
}
