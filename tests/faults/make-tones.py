#!/usr/bin/env python3
"""make-tones: test audio for fault-server's fake recognizer (stdlib only).

    make-tones.py OUT.wav [--freqs 300,500,700,900] [--tone-ms 250]
                  [--gap-ms 300] [--lead-ms 500] [--tail-ms 500]
                  [--rate 16000] [--channels 1] [--amplitude 0.5] [--repeat 1]
                  [--expect]

Writes lead-ms of silence, then for each frequency a tone burst of tone-ms
followed by gap-ms of silence (the whole list --repeat times), then tail-ms
of silence, as 16-bit PCM WAV. Bursts start on whole milliseconds; with the
defaults every edge falls on fault-server's 10 ms frame grid, so the words
come back exactly as "w300 w500 w700 w900" with start_ms/end_ms equal to
the burst edges. --expect prints the expected words as JSON lines
({"text":"w300","start_ms":500,"end_ms":750}) on stdout.

Equivalent sox recipe for one burst (concatenate with `sox a.wav b.wav out.wav`):
    sox -n -r 16000 -c 1 -b 16 tone.wav synth 0.25 sine 700 vol 0.5
    sox -n -r 16000 -c 1 -b 16 gap.wav trim 0 0.3
"""

import argparse
import json
import math
import struct
import sys
import wave


def bursts(args):
    """Yields (freq_hz, start_ms, end_ms) for every burst."""
    t = args.lead_ms
    for _ in range(args.repeat):
        for f in args.freqs:
            yield f, t, t + args.tone_ms
            t += args.tone_ms + args.gap_ms


def render(args):
    frames = bytearray()
    rate = args.rate
    total_ms = args.lead_ms + args.repeat * len(args.freqs) * (args.tone_ms + args.gap_ms) + args.tail_ms
    n_total = total_ms * rate // 1000
    samples = [0] * n_total
    amp = int(args.amplitude * 32767)
    for f, start, end in bursts(args):
        a, b = start * rate // 1000, end * rate // 1000
        for i in range(a, b):
            samples[i] = int(round(amp * math.sin(2.0 * math.pi * f * (i - a) / rate)))
    for s in samples:
        frames += struct.pack("<h", s) * args.channels
    return bytes(frames)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--freqs", default="300,500,700,900",
                   type=lambda s: [int(x) for x in s.split(",") if x])
    p.add_argument("--tone-ms", type=int, default=250)
    p.add_argument("--gap-ms", type=int, default=300)
    p.add_argument("--lead-ms", type=int, default=500)
    p.add_argument("--tail-ms", type=int, default=500)
    p.add_argument("--rate", type=int, default=16000)
    p.add_argument("--channels", type=int, choices=(1, 2), default=1)
    p.add_argument("--amplitude", type=float, default=0.5)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--expect", action="store_true")
    args = p.parse_args(argv)

    with wave.open(args.out, "wb") as w:
        w.setnchannels(args.channels)
        w.setsampwidth(2)
        w.setframerate(args.rate)
        w.writeframes(render(args))
    if args.expect:
        for f, start, end in bursts(args):
            print(json.dumps({"text": "w%d" % (int(round(f / 100.0)) * 100),
                              "start_ms": start, "end_ms": end}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
