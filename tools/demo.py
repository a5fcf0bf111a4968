#!/usr/bin/env python3
"""The demo: live captions of real speech, end to end, with nothing to set
up and no key.

    tools/demo [AUDIO_FILE]

A private PipeWire graph (its own runtime dir and session bus; your own
PipeWire is not touched), pw-transcribe-server (pocketsphinx) on a free
loopback port, the module with a tap on a player, and the player speaking
the LibriVox sentences of Debian's pocketsphinx-testdata (or AUDIO_FILE,
anything sox reads). Captions show as they arrive: the words in progress
on one line, rewritten in place, and finished sentences scrolling above
it. At the end: the word error rate against the reference transcript.
"""
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import fixture  # noqa: E402  (the private-graph helper shared with the tests)
import speech  # noqa: E402

TTY = sys.stdout.isatty()
DIM, BOLD, RESET, CLEAR = ("\033[2m", "\033[1m", "\033[0m", "\r\033[K") if TTY else ("",) * 4
PAUSE_MS = 600      # a pause this long between final words starts a new caption line
LINE_CHARS = 76


class CaptionView:
    """Finals scroll (one line per sentence, with its start time); the
    partial line is rewritten in place on a terminal, left out otherwise."""

    def __init__(self):
        self.line, self.line_start, self.last_end, self.partial = [], 0, None, ""

    def final(self, fin):
        pause = self.last_end is not None and fin.start_ms - self.last_end >= PAUSE_MS
        if self.line and (pause or len(" ".join(self.line + [fin.word])) > LINE_CHARS):
            self.flush()
        if not self.line:
            self.line_start = fin.start_ms
        self.line.append(fin.text.strip())
        self.last_end = fin.end_ms
        self.partial = ""
        self.draw()

    def set_partial(self, text):
        self.partial = text.strip()
        self.draw()

    def flush(self):
        if self.line:
            print(CLEAR + "%s[%s]%s %s" % (DIM, stamp(self.line_start), RESET, " ".join(self.line)),
                  flush=True)
        self.line = []

    def draw(self):
        if not TTY:
            return
        # One terminal row, or the carriage return cannot rewrite it.
        room = shutil.get_terminal_size().columns - 11
        done, doing = " ".join(self.line), self.partial
        if len(done) + 1 + len(doing) > room:
            done = done[max(0, len(done) + 1 + len(doing) - room):]
            doing = doing[max(0, len(doing) - room):] if len(doing) > room else doing
        head = stamp(self.line_start) if self.line else "  …  "
        print(CLEAR + "%s[%s]%s %s%s%s %s%s%s" % (DIM, head, RESET, BOLD, done, RESET, DIM, doing, RESET),
              end="", flush=True)


def stamp(ms):
    return "%02d:%04.1f" % (ms // 60000, ms % 60000 / 1000)


def main():
    server_bin = os.environ["TRANSCRIBE_SERVER"]
    with fixture.PipeWireFixture(build_dir=os.environ.get("TRANSCRIBE_BUILD_DIR")) as fx:
        if len(sys.argv) > 1:
            clip = speech.user_clip(fx, sys.argv[1])
            what = sys.argv[1]
        else:
            clip = speech.librivox_clip(fx)
            what = "LibriVox: Sense and Sensibility, ch. 1 (pocketsphinx-testdata)"
        server = speech.Server(fx, server_bin)
        host = speech.tap_player(fx, server.url, name="demo")
        print("private PipeWire up; pw-transcribe-server at %s; module loaded with\n"
              "  { service.url = \"%s\"\n    taps = [ { name = demo mode = tap target = %s } ] }\n"
              "playing %s (%.0f s)\n" % (server.url, server.url, fixture.PLAYER, what,
                                         clip.duration))
        captions, view = speech.Captions(host), CaptionView()
        player, _ = speech.play(fx, clip.wav)
        deadline = time.monotonic() + clip.duration + 60
        while player.running and time.monotonic() < deadline:
            show(captions.poll(), view)
            time.sleep(0.05)  # display refresh only; nothing waits on this
        host.terminate()      # stopping finalizes: the last words arrive first
        show(captions.poll(), view)
        view.flush()
        summary(clip, captions, player)


def show(events, view):
    for kind, value in events:
        if kind == "final":
            view.final(value)
        else:
            view.set_partial(value)


def summary(clip, captions, player):
    words = speech.words_of(captions.finals)
    print()
    if player.returncode not in (0, None):
        print("the player failed: " + player.describe())
    if not words:
        print("no words came back; is the audio speech? (logs were in the private graph's dir)")
        sys.exit(1)
    if clip.words:
        errors, n = speech.wer(clip.words, words)
        print("%d words; word error rate %.0f %% against the reference transcript "
              "(pocketsphinx's small en-us model; a cloud service does far better:\n"
              "see README, \"Switching to a cloud service\")" % (len(words), 100.0 * errors / n))
    else:
        print("%d words transcribed" % len(words))


if __name__ == "__main__":
    main()
