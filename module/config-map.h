/* From the module's arguments to each subsystem's own configuration: the
 * session state machine, the transport, the data path, the dialect's
 * parameters and the credentials. Also the constants that are not
 * arguments (stop and drain deadlines, frame size, …), in one place.
 *
 * Pure: any thread; cfg must outlive what points into it (strings).
 */
#ifndef TRANSCRIBE_CONFIG_MAP_H
#define TRANSCRIBE_CONFIG_MAP_H

#include <stdbool.h>

#include "config.h"
#include "connect-job.h"
#include "creds.h"
#include "datapath.h"
#include "dialect.h"
#include "session.h"
#include "transport.h"

void config_map_session(const struct transcribe_config *cfg, const struct dialect_ops *dialect,
		const char *tap, const char *session_id, uint64_t seed, struct session_config *out);
void config_map_transport(const struct transcribe_config *cfg, const struct url *url,
		const struct dialect_ops *dialect,
		struct transport_config *out);
void config_map_datapath(const struct transcribe_config *cfg, struct datapath_config *out);
void config_map_dialect(const struct transcribe_config *cfg, struct dialect_params *out);
/* dialect_params: what config_map_dialect() filled, kept by the caller. */
void config_map_job(const struct transcribe_config *cfg, const struct url *url,
		const struct dialect_ops *dialect, const struct dialect_params *dialect_params,
		struct connect_job_params *out);

/* All of them for one tap's session. params: the dialect's parameters,
 * filled here and kept by the caller (the job points into them). Fails
 * (-EINVAL, err says why) for an unknown dialect or a bad URL. */
struct config_map {
	const struct dialect_ops *dialect;
	struct session_config session;
	struct transport_config transport;
	struct datapath_config datapath;
	struct connect_job_params job;
};
int config_map_all(const struct transcribe_config *cfg, const char *tap, const char *session_id,
		uint64_t seed, struct dialect_params *params, struct config_map *out,
		char *err, size_t err_size);

#endif
