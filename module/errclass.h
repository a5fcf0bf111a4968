/* What a failure means for the session: retry, retry at once, refresh the
 * credentials once, or give up. Shared by the transport, the dialects, the
 * credentials code and the session state machine. */
#ifndef TRANSCRIBE_ERRCLASS_H
#define TRANSCRIBE_ERRCLASS_H

enum err_class {
	ERR_NONE = 0,
	ERR_TRANSIENT,		/* retry with backoff (or Retry-After) */
	ERR_TRANSIENT_NOW,	/* retry immediately (1001, 1012, Soniox 503) */
	ERR_AUTH,		/* refresh credentials once, then fatal */
	ERR_FATAL,		/* stop retrying; the message says why */
};

const char *err_class_name(enum err_class c);

#endif
