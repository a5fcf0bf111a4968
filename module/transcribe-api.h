/* The names pipewire-transcribe shares with its clients (contract:
 * DESIGN.md §7; README "Getting at the transcript"): the D-Bus API, the
 * PipeWire metadata, the journal's line types. The module and the
 * pw-transcribe CLI both include this header, as PipeWire's
 * extensions/metadata.h serves its module and its clients.
 *
 * Pure definitions; no dependencies.
 */
#ifndef TRANSCRIBE_API_H
#define TRANSCRIBE_API_H

/* D-Bus, session bus (doc/io.github.pw_transcribe.Transcribe1.Tap.xml). */
#define TRANSCRIBE_DBUS_NAME		"io.github.pw_transcribe.Transcribe1"
/* The ObjectManager; each tap is <root>/tap/<name> (sd_bus_path_encode). */
#define TRANSCRIBE_DBUS_ROOT		"/io/github/pw_transcribe/Transcribe1"
#define TRANSCRIBE_DBUS_TAPS		TRANSCRIBE_DBUS_ROOT "/tap"
#define TRANSCRIBE_DBUS_TAP_IFACE	"io.github.pw_transcribe.Transcribe1.Tap"
#define TRANSCRIBE_DBUS_ERROR		"io.github.pw_transcribe.Transcribe1.Error."
#define TRANSCRIBE_DBUS_ERROR_FATAL	TRANSCRIBE_DBUS_ERROR "Fatal"
#define TRANSCRIBE_DBUS_ERROR_TIMEOUT	TRANSCRIBE_DBUS_ERROR "Timeout"
#define TRANSCRIBE_DBUS_ERROR_CANCELLED	TRANSCRIBE_DBUS_ERROR "Cancelled"
#define TRANSCRIBE_DBUS_ERROR_INVALID_ARGS TRANSCRIBE_DBUS_ERROR "InvalidArgs"

/* PipeWire metadata: metadata.name, and per tap node (the subject) these
 * keys, each a JSON value of this type. */
#define TRANSCRIBE_METADATA_NAME	"transcribe"
#define TRANSCRIBE_METADATA_TYPE	"Spa:String:JSON"
#define TRANSCRIBE_KEY_STATE		"transcribe.state"
#define TRANSCRIBE_KEY_PARTIAL		"transcribe.partial"
#define TRANSCRIBE_KEY_FINAL		"transcribe.final"

/* The journal (JSONL, module/journal.h): the "type" of each line. */
#define TRANSCRIBE_JOURNAL_VERSION	1
#define TRANSCRIBE_LINE_HEADER		"header"
#define TRANSCRIBE_LINE_FINAL		"final"
#define TRANSCRIBE_LINE_GAP		"gap"
#define TRANSCRIBE_LINE_STATE		"state"

#endif
