/* json_double_shortest(): a json-c number printed as the shortest text
 * that reads back as the same double (json-c alone writes 0.93 as
 * 0.93000000000000005). Shared by the journal and the pw-transcribe CLI,
 * whose outputs people and scripts read. */
#ifndef TRANSCRIBE_JSON_DOUBLE_H
#define TRANSCRIBE_JSON_DOUBLE_H

#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

static inline struct json_object *json_double_shortest(double d)
{
	char buf[32];
	int prec;

	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(buf, sizeof(buf), "%.17g", d);
	return json_object_new_double_s(d, buf);
}

#endif
