/* Helpers shared by the credential sources (creds.c) and temporary keys
 * (creds-temporary.c). Not for use outside module/creds*.c. */
#ifndef TRANSCRIBE_CREDS_INTERNAL_H
#define TRANSCRIBE_CREDS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "creds.h"

void creds_err_reset(struct creds_error *err);
/* Fills err with one line (control characters replaced) and returns res. */
int creds_fail(struct creds_error *err, enum err_class cls, int res, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool creds_has_control(const char *s, size_t len);

#endif
