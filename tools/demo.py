#!/usr/bin/env python3
"""The demo: live captions of real speech, end to end, with nothing to set
up and no key.

    tools/demo [AUDIO_FILE]
    tools/demo --installed [AUDIO_FILE]

The first takes everything from the build tree (tools/demo builds it;
tools/demo.py alone reads TRANSCRIBE_BUILD_DIR, TRANSCRIBE_SERVER and
CLI). --installed takes only installed files: pw-transcribe and
pw-transcribe-server from PATH, the module from PipeWire's own module
directory (the Debian package, or `meson install --prefix=/usr`).

A private PipeWire graph (its own runtime dir and session bus; your own
PipeWire is not touched), pw-transcribe-server (pocketsphinx) on its
private Unix socket there, the module with a tap on a player, and the player speaking
the LibriVox sentences of Debian's pocketsphinx-testdata (or AUDIO_FILE,
anything sox reads). The captions are `pw-transcribe follow`, as a user
would run it: the words in progress rewritten in place, finished segments
scrolling with their start time. At the end: the word error rate against
the reference transcript.
"""
import fcntl
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import termios
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import bus  # noqa: E402
import fixture  # noqa: E402  (the private-graph helper shared with the tests)
import speech  # noqa: E402

TAP = "demo"


def installed_programs():
    """The installed pw-transcribe-server and pw-transcribe (from PATH)."""
    found = [shutil.which(p) for p in ("pw-transcribe-server", "pw-transcribe")]
    if None in found:
        sys.exit("demo --installed: pw-transcribe-server and pw-transcribe must be on PATH "
                 "(apt-get install pipewire-transcribe pw-transcribe-server)")
    return found


def loaded_module(pid):
    """The path of our module in a process's memory map ("" if none)."""
    with open("/proc/%d/maps" % pid) as maps:
        for line in maps:
            if line.rstrip().endswith("/libpipewire-module-transcribe.so"):
                return line.split(None, 5)[5].strip()
    return ""


def main():
    args = sys.argv[1:]
    installed = args[:1] == ["--installed"]
    if installed:
        args = args[1:]
        server_bin, cli = installed_programs()
        # A build dir without module/: PipeWire searches only its own
        # module directory (the fixture puts <build>/module first).
        no_build = tempfile.TemporaryDirectory(prefix="pw-transcribe-demo-")
        build_dir = no_build.name
    else:
        server_bin, cli = os.environ["TRANSCRIBE_SERVER"], os.environ["CLI"]
        build_dir = os.environ.get("TRANSCRIBE_BUILD_DIR")
    with fixture.PipeWireFixture(build_dir=build_dir) as fx:
        if args:
            clip, what = speech.user_clip(fx, args[0]), args[0]
        else:
            clip = speech.librivox_clip(fx)
            what = "LibriVox: Sense and Sensibility, ch. 1 (pocketsphinx-testdata)"
        server = speech.Server(fx, server_bin)
        host = speech.tap_player(fx, server.url, name=TAP)
        fx.wait_for(lambda: bus.get_property(fx, TAP, "State") == "streaming",
                    what="the tap streaming")
        print("private PipeWire up; %s at %s;\nmodule %s loaded with\n"
              "  { service.url = \"%s\"\n    taps = [ { name = %s mode = tap target = %s } ] }\n"
              "playing %s (%.0f s); captions by `%s follow %s`:\n"
              % (server_bin, server.url, loaded_module(host.pid), server.url, TAP,
                 fixture.PLAYER, what, clip.duration, cli, TAP), flush=True)
        shown, shown_ready, pump = follow_on_screen(cli, fx)
        record = subprocess.Popen([cli, "follow", TAP, "--json"], env=fx.env,
                                  stdout=subprocess.PIPE, text=True)
        # A follower's first line comes once it is subscribed: no word is missed.
        first = [record.stdout.readline()]
        if not shown_ready.wait(timeout=10):
            sys.exit("pw-transcribe follow did not start")
        player, _ = speech.play(fx, clip.wav)
        speech.wait_played(player, clip, slack_s=60)
        host.terminate()      # stopping finalizes: the last words arrive, then the tap goes
        shown.wait(timeout=30)
        pump.join(timeout=5)
        out, _ = record.communicate(timeout=30)
        summary(clip, [e["text"] for e in map(json.loads, first + out.splitlines())
                       if e["event"] == "final"])


def follow_on_screen(cli, fx):
    """`pw-transcribe follow` as if run in this terminal (a pty with its
    size when there is one, else a pipe), its output copied to ours; the
    event is set at its first output."""
    if sys.stdout.isatty():
        fd, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8))
        proc = subprocess.Popen([cli, "follow", TAP], stdout=slave, env=fx.env)
        os.close(slave)
    else:
        proc = subprocess.Popen([cli, "follow", TAP], stdout=subprocess.PIPE, env=fx.env)
        fd = proc.stdout.fileno()
    ready = threading.Event()

    def copy():
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:       # the pty's other end is gone
                break
            if not data:
                break
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            ready.set()

    pump = threading.Thread(target=copy, daemon=True)
    pump.start()
    return proc, ready, pump


def summary(clip, finals):
    words = " ".join(finals).lower().split()
    print()
    if not words:
        print("no words came back; is the audio speech?")
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
