/* Names of the error classes, as they appear in logs (`class=%s`). */
#include "errclass.h"

#include <spa/utils/defs.h>

static const char *const class_names[] = {
	[ERR_NONE] = "none",
	[ERR_TRANSIENT] = "transient",
	[ERR_TRANSIENT_NOW] = "transient-now",
	[ERR_AUTH] = "auth",
	[ERR_FATAL] = "fatal",
};

const char *err_class_name(enum err_class c)
{
	if ((unsigned int)c < SPA_N_ELEMENTS(class_names) && class_names[c] != NULL)
		return class_names[c];
	return "unknown";
}
