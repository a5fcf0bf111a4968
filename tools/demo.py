#!/usr/bin/env python3
"""The demo: a private PipeWire graph, the module tapping a player, real
speech played through it, and what the module's worker received, live.

    tools/demo [AUDIO_FILE]

Without a file it speaks a sentence with espeak-ng. Until the speech
service lands the demo shows the captured audio (seconds, level, WAV);
it then becomes live captions.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import fixture  # noqa: E402  (the private-graph helper shared with the tests)

SENTENCE = ("Live transcription for PipeWire. This sentence was spoken by a "
            "player, tapped in the real time graph, and handed to a worker thread.")


def main():
    build = Path(os.environ.get("TRANSCRIBE_BUILD_DIR", ROOT / "build"))
    with fixture.PipeWireFixture(build_dir=build) as fx:
        speech = fx.path("speech.wav")
        if len(sys.argv) > 1:
            fx.run(["sox", sys.argv[1], "-r", "48000", "-c", "2", "-b", "16", speech])
        else:
            fx.run(["espeak-ng", "-s", "150", "-w", fx.path("espeak.wav"), SENTENCE])
            fx.run(["sox", fx.path("espeak.wav"), "-r", "48000", "-c", "2", speech])
        rec = fx.path("captured.wav")
        host = fx.start_module_host("libpipewire-module-transcribe",
                                    "{ taps = [ { name = demo mode = tap target = %s "
                                    "debug.record-file = \"%s\" } ] }" % (fixture.PLAYER, rec),
                                    debug="mod.transcribe:3")
        fx.wait_for_ports("transcribe.demo", "in", 2)
        print("private PipeWire up; module loaded; node transcribe.demo waiting for %s"
              % fixture.PLAYER)
        player = fx.play(speech)
        fx.link(fixture.PLAYER + ":output_FL", fixture.SINK + ":playback_FL")
        fx.link(fixture.PLAYER + ":output_FR", fixture.SINK + ":playback_FR")
        deadline = time.monotonic() + 600
        while player.running and time.monotonic() < deadline:
            got = max(rec.stat().st_size - 44, 0) / 32000 if rec.exists() else 0
            print("\r  worker received %5.2f s of 16 kHz mono audio" % got, end="", flush=True)
            time.sleep(0.2)  # display refresh only; nothing waits on this
        host.terminate()
        print()
        m = fixture.wav_compare(speech_ref(fx, speech), rec)
        print("captured %.2f s of speech (the file is %.2f s); match with the played "
              "audio: correlation %.4f" % (m["active_ms"] / 1000, m["ref_ms"] / 1000, m["correlation"]))
        for line in host.log.splitlines():
            if "mod.transcribe" in line and ("tap=" in line):
                print("  log:", line.split("] ", 1)[-1])
        keep = Path("/tmp/pw-transcribe-demo.wav")
        fx.run(["cp", rec, keep])
        print("captured audio: %s  (play it with: pw-play %s)" % (keep, keep))


def speech_ref(fx, speech):
    ref = fx.path("speech16k.wav")
    fx.run(["sox", speech, "-b", "16", ref, "remix", "1-2", "rate", "16000"])
    return ref


if __name__ == "__main__":
    main()
