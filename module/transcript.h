/* Transcript tokens as parsed from a service, before timeline mapping.
 * Times are milliseconds relative to the start of the connection's audio. */
#ifndef TRANSCRIBE_TRANSCRIPT_H
#define TRANSCRIBE_TRANSCRIPT_H

#include <stdbool.h>
#include <stdint.h>

#define TOKEN_TEXT_MAX		256
#define TOKEN_LABEL_MAX		32

struct transcript_token {
	char text[TOKEN_TEXT_MAX];	/* UTF-8, as the service sent it (leading space kept) */
	int64_t start_ms;		/* -1 when the service gave none */
	int64_t end_ms;
	bool is_final;
	char speaker[TOKEN_LABEL_MAX];	/* "" when absent */
	char language[TOKEN_LABEL_MAX];
	double confidence;		/* -1 when absent */
};

#endif
