/* The `transcribe` metadata object (see publish-metadata.h). */
#include "publish-metadata.h"

#include <errno.h>
#include <stdlib.h>

#include <pipewire/extensions/metadata.h>
#include <pipewire/impl-metadata.h>
#include <pipewire/pipewire.h>
#include <spa/utils/result.h>

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

#define METADATA_TYPE	"Spa:String:JSON"

struct publish_metadata {
	struct pw_impl_metadata *impl;	/* ours: holds the values */
	struct pw_proxy *proxy;		/* its export to the daemon; NULL once gone */
	struct spa_hook proxy_listener;
};

static void proxy_destroy(void *data)
{
	struct publish_metadata *m = data;

	spa_hook_remove(&m->proxy_listener);
	m->proxy = NULL;
}

static void proxy_error(void *data, int seq, int res, const char *message)
{
	pw_log_warn("metadata: %s (%s); transcripts may be missing from the metadata",
			message, spa_strerror(res));
}

static const struct pw_proxy_events proxy_events = {
	PW_VERSION_PROXY_EVENTS,
	.destroy = proxy_destroy,
	.error = proxy_error,
};

struct publish_metadata *publish_metadata_new(struct pw_context *context, struct pw_core *core,
		const char *name)
{
	struct publish_metadata *m = calloc(1, sizeof(*m));
	struct pw_properties *props;

	if (m == NULL)
		return NULL;
	/* Exported over our connection, in the daemon or from our own
	 * process alike (needs libpipewire-module-metadata loaded here for
	 * the marshalling); it goes away with the connection. */
	props = pw_properties_new(PW_KEY_METADATA_NAME, name, NULL);
	m->impl = pw_context_create_metadata(context, name, pw_properties_copy(props), 0);
	if (m->impl != NULL)
		m->proxy = pw_core_export(core, PW_TYPE_INTERFACE_Metadata, &props->dict,
				pw_impl_metadata_get_implementation(m->impl), 0);
	pw_properties_free(props);
	if (m->proxy == NULL) {
		pw_log_warn("metadata: cannot publish \"%s\": %m; is libpipewire-module-metadata "
				"loaded?", name);
		publish_metadata_destroy(m);
		return NULL;
	}
	pw_proxy_add_listener(m->proxy, &m->proxy_listener, &proxy_events, m);
	pw_log_info("metadata name=%s published", name);
	return m;
}

void publish_metadata_set(struct publish_metadata *m, uint32_t subject, const char *key,
		const char *json)
{
	if (m == NULL || m->impl == NULL || subject == SPA_ID_INVALID)
		return;
	pw_impl_metadata_set_property(m->impl, subject, key, json ? METADATA_TYPE : NULL, json);
}

void publish_metadata_clear(struct publish_metadata *m, uint32_t subject)
{
	publish_metadata_set(m, subject, NULL, NULL);
}

void publish_metadata_destroy(struct publish_metadata *m)
{
	if (m == NULL)
		return;
	if (m->proxy != NULL)
		pw_proxy_destroy(m->proxy);
	if (m->impl != NULL)
		pw_impl_metadata_destroy(m->impl);
	free(m);
}
