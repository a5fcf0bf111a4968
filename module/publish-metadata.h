/* The `transcribe` PipeWire metadata object: one subject per tap node,
 * keys transcribe.state / .partial / .final with Spa:String:JSON values
 * (DESIGN.md §7). Ours, exported over the module's PipeWire connection, so
 * `pw-metadata -n transcribe` sees it whether the module runs in the daemon
 * or in its own process; it goes away with that connection.
 *
 * Main thread only.
 */
#ifndef TRANSCRIBE_PUBLISH_METADATA_H
#define TRANSCRIBE_PUBLISH_METADATA_H

#include <stdint.h>

#include <pipewire/context.h>
#include <pipewire/core.h>

struct publish_metadata;

/* NULL (logged) when the object cannot be created. */
/* conflict(data, why) is called once when an older metadata object of the
 * same name exists (another instance): why names publish.metadata-name. */
struct publish_metadata *publish_metadata_new(struct pw_context *context, struct pw_core *core,
		const char *name, void (*conflict)(void *data, const char *why), void *data);
/* json NULL removes the key. */
void publish_metadata_set(struct publish_metadata *m, uint32_t subject, const char *key,
		const char *json);
/* Removes every key of subject. */
void publish_metadata_clear(struct publish_metadata *m, uint32_t subject);
void publish_metadata_destroy(struct publish_metadata *m);

#endif
