/* Counts graph xruns and cycles through PipeWire's profiler for a while.
 *
 *   xrun-counter SECONDS   →  "cycles=N xruns=N"
 *
 * pw-profiler 0.3.65 drops the profiler's xrun_count (it parses four of the
 * info fields), and pw-top has no batch mode, so the bench reads it here.
 */
#include <stdio.h>
#include <stdlib.h>

#include <spa/param/profiler.h>
#include <spa/pod/iter.h>
#include <spa/pod/parser.h>
#include <spa/utils/string.h>
#include <pipewire/impl.h>
#include <pipewire/pipewire.h>
#include <pipewire/extensions/profiler.h>

struct counter {
	struct pw_main_loop *loop;
	struct pw_context *context;
	struct pw_core *core;
	struct pw_registry *registry;
	struct spa_hook registry_listener;
	struct pw_proxy *profiler;
	struct spa_hook profiler_listener;
	uint64_t cycles;
	int32_t first_xruns, last_xruns;
};

static void on_profile(void *data, const struct spa_pod *pod)
{
	struct counter *c = data;
	struct spa_pod *o;
	struct spa_pod_prop *p;

	SPA_POD_STRUCT_FOREACH(pod, o) {
		if (!spa_pod_is_object_type(o, SPA_TYPE_OBJECT_Profiler))
			continue;
		SPA_POD_OBJECT_FOREACH((struct spa_pod_object *)o, p) {
			int64_t count;
			float load[3];
			int32_t xruns;

			if (p->key != SPA_PROFILER_info ||
			    spa_pod_parse_struct(&p->value, SPA_POD_Long(&count),
					SPA_POD_Float(&load[0]), SPA_POD_Float(&load[1]),
					SPA_POD_Float(&load[2]), SPA_POD_Int(&xruns)) < 0)
				continue;
			if (c->cycles++ == 0)
				c->first_xruns = xruns;
			c->last_xruns = xruns;
		}
	}
}

static const struct pw_profiler_events profiler_events = {
	PW_VERSION_PROFILER_EVENTS,
	.profile = on_profile,
};

static void on_global(void *data, uint32_t id, uint32_t permissions, const char *type,
		uint32_t version, const struct spa_dict *props)
{
	struct counter *c = data;

	if (c->profiler != NULL || !spa_streq(type, PW_TYPE_INTERFACE_Profiler))
		return;
	if ((c->profiler = pw_registry_bind(c->registry, id, type, PW_VERSION_PROFILER, 0)) == NULL)
		return;
	pw_proxy_add_object_listener(c->profiler, &c->profiler_listener, &profiler_events, c);
}

static const struct pw_registry_events registry_events = {
	PW_VERSION_REGISTRY_EVENTS,
	.global = on_global,
};

static void on_timeout(void *data, uint64_t expirations)
{
	pw_main_loop_quit(((struct counter *)data)->loop);
}

int main(int argc, char *argv[])
{
	struct counter c = { 0 };
	struct timespec when;
	struct spa_source *timer;
	double seconds = argc > 1 ? atof(argv[1]) : 5.0;

	pw_init(&argc, &argv);
	c.loop = pw_main_loop_new(NULL);
	c.context = pw_context_new(pw_main_loop_get_loop(c.loop), NULL, 0);
	/* Brings the marshaller for the Profiler interface into this client. */
	if (pw_context_load_module(c.context, PW_EXTENSION_MODULE_PROFILER, NULL, NULL) == NULL) {
		fprintf(stderr, "xrun-counter: cannot load the profiler extension: %m\n");
		return 2;
	}
	if ((c.core = pw_context_connect(c.context, NULL, 0)) == NULL) {
		fprintf(stderr, "xrun-counter: cannot connect to PipeWire: %m\n");
		return 2;
	}
	c.registry = pw_core_get_registry(c.core, PW_VERSION_REGISTRY, 0);
	pw_registry_add_listener(c.registry, &c.registry_listener, &registry_events, &c);
	when.tv_sec = (time_t)seconds;
	when.tv_nsec = (long)((seconds - (double)when.tv_sec) * 1e9);
	timer = pw_loop_add_timer(pw_main_loop_get_loop(c.loop), on_timeout, &c);
	pw_loop_update_timer(pw_main_loop_get_loop(c.loop), timer, &when, NULL, false);
	pw_main_loop_run(c.loop);
	if (c.profiler == NULL) {
		fprintf(stderr, "xrun-counter: no profiler (load libpipewire-module-profiler)\n");
		return 2;
	}
	printf("cycles=%" PRIu64 " xruns=%d\n", c.cycles, c.last_xruns - c.first_xruns);
	pw_proxy_destroy(c.profiler);
	pw_proxy_destroy((struct pw_proxy *)c.registry);
	pw_core_disconnect(c.core);
	pw_context_destroy(c.context);
	pw_main_loop_destroy(c.loop);
	pw_deinit();
	return 0;
}
