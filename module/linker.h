/* Links chosen nodes into a tap, with or without a session manager.
 *
 * Main thread only. Watches the registry; whenever a node matching a rule
 * and the rule's destination node both have ports, it creates the missing
 * links (link-factory, not lingering, so they go when the module goes).
 * A sink (or a virtual source, whose outputs are all monitor ports) is
 * tapped on its monitor ports. Channels pair by
 * name; a MONO tap port takes the source's first channel only and a MONO
 * source feeds the tap's first port only (links into one port add up: a
 * stereo pair summed into MONO clips, and one mono channel fed to FL and FR
 * comes out of the downmix 3 dB louder); a channel the tap lacks (FC of
 * 5.1) is mixed into all of its ports.
 */
#ifndef TRANSCRIBE_LINKER_H
#define TRANSCRIBE_LINKER_H

#include <stdbool.h>
#include <stdint.h>

#include <pipewire/pipewire.h>

#include "config.h"

struct linker;

struct linker_events {
	/* The nodes linked into a watched tap node changed: their node.names,
	 * space-separated, "" when nothing is (its target is gone, say). */
	void (*sources)(void *data, const char *tap_name, const char *names);
};

struct linker *linker_new(struct pw_core *core, const struct linker_events *events, void *data);
/* Links the output ports of every node whose properties equal all of
 * match[] into the input ports of the node named to_node, whose channel
 * layout is to_position[n_position] (so pairing does not depend on the
 * order in which ports appear). passive: the links never make the graph
 * run (link.passive), they only hear it when it runs anyway. */
int linker_add_rule(struct linker *l, const char *tap_name,
		const struct config_match *match, uint32_t n_match, const char *to_node,
		const uint32_t *to_position, uint32_t n_position, bool passive);
/* Reports (events->sources) which nodes are linked into node, by anyone,
 * whenever that changes; tap_name says whose node it is. */
int linker_watch(struct linker *l, const char *tap_name, const char *node);
/* Fills match[0] for a `target` value: all digits → object.serial, else
 * node.name. */
void linker_target_match(const char *target, struct config_match *match);
/* Links currently held (for tests and logs). */
uint32_t linker_n_links(const struct linker *l);
void linker_destroy(struct linker *l);

#endif
