/* fs-tone: the tone recognizer (fs-recognizer.h) as the fault server's
 * recognizer table (srv-recognizer.h): words "w<Hz>" with confidence 0.99
 * and, when the client asked for diarization, a speaker label per voice
 * (below 1500 Hz one voice, the rest another; each stream numbers them
 * "1", "2" in the order it first hears them, so labels change between
 * connections as a real diarizer's do). Every final word is logged as
 * "conn=<n> final text=w<Hz> start_ms=<s> end_ms=<e>[ speaker=<n>]".
 * ctx of open() is a struct rec_params. */
#ifndef FS_TONE_H
#define FS_TONE_H

#include "srv-recognizer.h"

extern const struct srv_recognizer fs_tone_recognizer;

#endif
