#!/usr/bin/env python3
"""End-to-end latency of real speech (numbers only, no pass/fail).

    bench_speech.py [--short]

The LibriVox sentences (--short: goforward.raw) play in real time in a
private graph; the module taps the player and streams to
pw-transcribe-server. For every final word:

- final_latency_ms: when the final token reached the module (its log line)
  minus when the word ended in the played audio (the moment playback began
  + the token's end_ms). pocketsphinx finalizes a whole utterance once its
  voice detector has heard ~0.5 s of silence, so a word waits for the end
  of its sentence: `all` spreads over the sentence length, `last` (the last
  word of each utterance) is the latency a user feels at a pause.
- word_time_offset_ms: the module's token end time minus pocketsphinx's
  own (pocketsphinx_continuous -time yes on the same file) for the words
  both recognised: how well the timeline survives the trip through
  PipeWire (resampling, the tap, the ring).

Playback start is known to within half a pw-link call plus one quantum;
that uncertainty is printed. Exits 77 (meson: skipped) without the test
data or the server.
"""
import difflib
import os
import re
import shutil
import statistics
import subprocess
import sys

import fixture
import speech

UTTERANCE_GAP_S = 0.05   # finals logged within this of each other came in one message


def report(name, values, unit="ms"):
    if not values:
        print("speech.%s n=0" % name)
        return
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    print("speech.%s n=%d median=%.0f p90=%.0f min=%.0f max=%.0f %s" % (
        name, len(values), statistics.median(values), p90, values[0], values[-1], unit))


def direct_word_ends(wav):
    """[(word, end_ms)] from pocketsphinx_continuous -time yes."""
    m = speech.modeldir() / "en-us"
    out = subprocess.run(["pocketsphinx_continuous", "-infile", str(wav), "-time", "yes",
                          "-hmm", str(m / "en-us"), "-lm", str(m / "en-us.lm.bin"),
                          "-dict", str(m / "cmudict-en-us.dict")],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    words = []
    for line in out.splitlines():
        f = line.split()   # word start end posterior; hypothesis lines are words only
        if len(f) == 4 and re.fullmatch(r"[\d.]+", f[2]) and not f[0].startswith(("<", "[")):
            words.append((f[0].split("(")[0].lower(), float(f[2]) * 1000))
    return words


def run(fx, clip):
    server = speech.Server(fx, os.environ["TRANSCRIBE_SERVER"])
    host = speech.tap_player(fx, server.url, name="bench")
    player, t0 = speech.play(fx, clip.wav)
    link_ms = (fixture.log_clock() - t0) * 2000
    speech.wait_played(player, clip)
    host.terminate()
    captions = speech.Captions(host)
    captions.poll()
    return captions.finals, t0, link_ms


def main():
    short = "--short" in sys.argv
    if not (os.environ.get("TRANSCRIBE_SERVER") and speech.GOFORWARD.exists()
            and shutil.which("sox")):
        print("SKIP: needs pw-transcribe-server, sox and pocketsphinx-testdata")
        sys.exit(77)
    with fixture.PipeWireFixture() as fx:
        if short or not speech.librivox_available():
            raw = fx.path("goforward.wav")
            fx.run(["sox", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1",
                    speech.GOFORWARD, raw])
            clip = speech.librivox_clip(fx, files=[(raw, ["go", "forward", "ten", "meters"])])
        else:
            clip = speech.librivox_clip(fx)
        finals, t0, link_ms = run(fx, clip)
        lat = [(f.stamp - (t0 + f.end_ms / 1000)) * 1000 for f in finals]
        last = [l for i, l in enumerate(lat)
                if i + 1 == len(finals) or finals[i + 1].stamp - finals[i].stamp > UTTERANCE_GAP_S]
        report("final_latency_ms.all", lat)
        report("final_latency_ms.last", last)
        print("speech.playback_start_uncertainty_ms=%.0f quantum_ms=%.1f"
              % (link_ms / 2, fx.max_quantum_ms()))
        if shutil.which("pocketsphinx_continuous"):
            direct = direct_word_ends(clip.wav)
            ours = [(f.word, f.end_ms) for f in finals]
            sm = difflib.SequenceMatcher(a=[w for w, _ in direct], b=[w for w, _ in ours],
                                         autojunk=False)
            offsets = [ours[b + k][1] - direct[a + k][1]
                       for a, b, n in sm.get_matching_blocks() for k in range(n)]
            report("word_time_offset_ms", offsets)


if __name__ == "__main__":
    main()
