/* The `transcribe` metadata object (see publish-metadata.h). */
#include "publish-metadata.h"
#include "transcribe-api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <pipewire/extensions/metadata.h>
#include <pipewire/impl-metadata.h>
#include <pipewire/pipewire.h>
#include <spa/utils/result.h>
#include <spa/utils/string.h>

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

#define METADATA_TYPE	TRANSCRIBE_METADATA_TYPE

struct publish_metadata {
	char name[128];
	struct pw_core *core;
	struct pw_impl_metadata *impl;	/* ours: holds the values */
	struct pw_proxy *proxy;		/* its export to the daemon; NULL once gone */
	struct spa_hook proxy_listener;
	struct pw_registry *registry;	/* to find another metadata of our name */
	struct spa_hook registry_listener;
	struct spa_hook registry_proxy_listener;
	uint32_t own_id;		/* our export's global id, SPA_ID_INVALID until bound */
	uint64_t oldest_other;		/* lowest object.serial of another one, 0: none */
	uint64_t own_serial;		/* 0 until seen */
	bool conflict_told;
	void (*conflict)(void *data, const char *why);
	void *data;
};

/* Two metadata objects of one name: the newer (higher object.serial)
 * says so, once; the one that was there first is left alone. */
static void check_conflict(struct publish_metadata *m)
{
	char why[512];

	if (m->conflict_told || m->own_serial == 0 || m->oldest_other == 0 ||
	    m->oldest_other > m->own_serial)
		return;
	m->conflict_told = true;
	snprintf(why, sizeof(why), "publish.metadata-name: a metadata object named \"%s\" "
			"already exists: is another instance running? Give this one its own "
			"publish.metadata-name and publish.dbus-name", m->name);
	if (m->conflict)
		m->conflict(m->data, why);
}

static void registry_global(void *data, uint32_t id, uint32_t permissions,
		const char *type, uint32_t version, const struct spa_dict *props)
{
	struct publish_metadata *m = data;
	const char *serial;

	if (props == NULL || !spa_streq(type, PW_TYPE_INTERFACE_Metadata) ||
	    !spa_streq(spa_dict_lookup(props, PW_KEY_METADATA_NAME), m->name) ||
	    (serial = spa_dict_lookup(props, PW_KEY_OBJECT_SERIAL)) == NULL)
		return;
	if (id == m->own_id)
		m->own_serial = strtoull(serial, NULL, 10);
	else if (m->oldest_other == 0 || strtoull(serial, NULL, 10) < m->oldest_other)
		m->oldest_other = strtoull(serial, NULL, 10);
	check_conflict(m);
}

static const struct pw_registry_events registry_events = {
	PW_VERSION_REGISTRY_EVENTS,
	.global = registry_global,
};

static void registry_proxy_destroy(void *data)
{
	struct publish_metadata *m = data;

	spa_hook_remove(&m->registry_listener);
	spa_hook_remove(&m->registry_proxy_listener);
	m->registry = NULL;
}

static const struct pw_proxy_events registry_proxy_events = {
	PW_VERSION_PROXY_EVENTS,
	.destroy = registry_proxy_destroy,
};

static void proxy_bound(void *data, uint32_t global_id)
{
	struct publish_metadata *m = data;

	m->own_id = global_id;
	/* Our own global comes (again) after this: it carries the serial. */
	if (m->registry != NULL || (m->registry = pw_core_get_registry(
			m->core, PW_VERSION_REGISTRY, 0)) == NULL)
		return;
	pw_registry_add_listener(m->registry, &m->registry_listener, &registry_events, m);
	pw_proxy_add_listener((struct pw_proxy *)m->registry, &m->registry_proxy_listener,
			&registry_proxy_events, m);
}

static void proxy_destroy(void *data)
{
	struct publish_metadata *m = data;

	spa_hook_remove(&m->proxy_listener);
	m->proxy = NULL;
	if (m->registry != NULL)
		pw_proxy_destroy((struct pw_proxy *)m->registry);
}

static void proxy_error(void *data, int seq, int res, const char *message)
{
	pw_log_warn("metadata: %s (%s); transcripts may be missing from the metadata",
			message, spa_strerror(res));
}

static const struct pw_proxy_events proxy_events = {
	PW_VERSION_PROXY_EVENTS,
	.destroy = proxy_destroy,
	.bound = proxy_bound,
	.error = proxy_error,
};

struct publish_metadata *publish_metadata_new(struct pw_context *context, struct pw_core *core,
		const char *name, void (*conflict)(void *data, const char *why), void *data)
{
	struct publish_metadata *m = calloc(1, sizeof(*m));
	struct pw_properties *props;

	if (m == NULL)
		return NULL;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->core = core;
	m->own_id = SPA_ID_INVALID;
	m->conflict = conflict;
	m->data = data;
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
		pw_proxy_destroy(m->proxy);	/* its destroy handler drops the registry */
	if (m->impl != NULL)
		pw_impl_metadata_destroy(m->impl);
	free(m);
}
