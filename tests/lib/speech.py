"""Real speech through the whole path, shared by test_speech.py,
tests/bench/bench_speech.py and tools/demo.py: the LibriVox clips of
pocketsphinx-testdata, pw-transcribe-server, the module tapping a player in
a private graph, what the module received (read live from its log), word
error rates, and pocketsphinx run directly on the same audio.

    with fixture.PipeWireFixture() as fx:
        clip = librivox_clip(fx)
        server = Server(fx)
        host = tap_player(fx, server.url)
        captions = Captions(host)
        player, t0 = play(fx, clip.wav)
        ...                          # captions.poll() yields events as they arrive
        host.terminate()             # stopping finalizes: the last words arrive
        captions.poll()
        errors, n = wer(clip.words, words_of(captions.finals))
"""
import re
import subprocess
from pathlib import Path

import fixture
from serverproc import FixtureServer

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
LIBRIVOX = TESTDATA / "librivox"
GOFORWARD = TESTDATA / "goforward.raw"
MODULE = "libpipewire-module-transcribe"
RATE = 16000

FINAL_RE = re.compile(r'^\[\w\]\[(\d+\.\d+)\].* final start_ms=(-?\d+) end_ms=(-?\d+) text="([^"]*)"')
PARTIAL_RE = re.compile(r'^\[\w\]\[(\d+\.\d+)\].* partial text="([^"]*)"')


def librivox_available():
    return (LIBRIVOX / "transcription").exists()


def librivox_sentences():
    """[(wav path, [reference words])] in the order of the test data's fileids."""
    refs = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        m = re.match(r"\s*(.*?)\s*\((\S+)\)\s*$", line)
        if m:
            refs[m.group(2)] = [w for w in m.group(1).lower().split() if w not in ("<s>", "</s>")]
    ids = (LIBRIVOX / "fileids").read_text().split()
    return [(LIBRIVOX / (i + ".wav"), refs[i]) for i in ids]


class Clip:
    def __init__(self, wav, words, spans, duration):
        self.wav = wav          # 16 kHz mono S16 WAV
        self.duration = duration  # seconds
        self.words = words      # the reference transcription, lower case
        self.spans = spans      # [(start_s, end_s)] of each sentence in the clip


def librivox_clip(fx, gap_s=1.0, lead_s=0.5, tail_s=1.0, files=None):
    """The five LibriVox sentences (or files=[(wav, words)]) in one WAV,
    gap_s of silence between them, lead_s before the first and tail_s
    after the last (so the recognizer ends the last utterance by itself)."""
    sentences = files if files is not None else librivox_sentences()
    silence = {}
    for s in (lead_s, gap_s, tail_s):
        silence[s] = fx.path("silence-%d.wav" % int(s * 1000))
        fx.run(["sox", "-n", "-r", str(RATE), "-c", "1", "-b", "16", silence[s], "trim", "0", str(s)])
    parts, words, spans, t = [silence[lead_s]], [], [], lead_s
    for i, (wav, ref) in enumerate(sentences):
        if i:
            parts.append(silence[gap_s])
            t += gap_s
        dur = float(fx.run(["soxi", "-D", wav]).stdout)
        parts.append(wav)
        spans.append((t, t + dur))
        words += ref
        t += dur
    parts.append(silence[tail_s])
    out = fx.path("librivox.wav")
    fx.run(["sox", *parts, "-r", str(RATE), "-c", "1", "-b", "16", out])
    return Clip(out, words, spans, t + tail_s)


def user_clip(fx, audio):
    """Any file sox reads, as 16 kHz mono; no reference words."""
    out = fx.path("user.wav")
    fx.run(["sox", audio, "-r", str(RATE), "-c", "1", "-b", "16", out, "remix", "-"])
    dur = float(fx.run(["soxi", "-D", out]).stdout)
    return Clip(out, None, [(0.0, dur)], dur)


class Server(FixtureServer):
    """pw-transcribe-server on its default socket: a Unix socket in the
    fixture's private XDG_RUNTIME_DIR, which is also the module's default
    service (no service block needed)."""

    def __init__(self, fx, binary, *args, prefix=()):
        super().__init__(fx, "server", [binary, *args], prefix=prefix)


def tap_player(fx, url, name="speech", extra="", prefix=()):
    """A module host with one tap on fixture.PLAYER, streaming to url (None:
    no service settings, the module's default). mod.transcribe at debug
    level: partial lines are logged at debug."""
    service = "" if url is None else "service.url = \"%s\"" % url
    host = fx.start_module_host(
        MODULE, "{ %s %s taps = [ { name = %s mode = tap target = %s } ] }"
        % (service, extra, name, fixture.PLAYER), debug="mod.transcribe:4", prefix=prefix)
    fx.wait_for_ports("transcribe." + name, "in", 2)
    return host


def play(fx, wav):
    """Plays a mono WAV into the null sink (the tap follows the player).
    Returns the player and t0: the fixture.log_clock() time the audio began,
    to within half the pw-link call and one quantum."""
    player = fx.play(wav, channels=1)
    before = fixture.log_clock()
    fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
    return player, (before + fixture.log_clock()) / 2


class Final:
    def __init__(self, stamp, start_ms, end_ms, text):
        self.stamp, self.start_ms, self.end_ms, self.text = stamp, start_ms, end_ms, text

    @property
    def word(self):
        return self.text.strip().lower()


class Captions:
    """What the module received, read incrementally from the host's log
    (until the D-Bus API lands, the log is the only place it appears)."""

    def __init__(self, host):
        self.path = host.err_path
        self.pos = 0
        self.rest = b""
        self.finals = []

    def poll(self):
        """New events since the last call: ("final", Final) and ("partial", text)."""
        events = []
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return events
        self.pos += len(data)
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            m = FINAL_RE.match(line)
            if m:
                fin = Final(float(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4))
                if not fin.word.startswith("<"):      # <fin>, <end> markers
                    self.finals.append(fin)
                    events.append(("final", fin))
                continue
            m = PARTIAL_RE.match(line)
            if m:
                events.append(("partial", m.group(2)))
        return events


def words_of(finals):
    return [f.word for f in finals]


def wer(ref, hyp):
    """(substitutions + deletions + insertions, len(ref)): word edit distance."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1], len(ref)


def modeldir():
    out = subprocess.run(["pkg-config", "--variable=modeldir", "pocketsphinx"],
                         capture_output=True, text=True, timeout=10)
    return Path(out.stdout.strip() or "/usr/share/pocketsphinx/model")


def pocketsphinx_direct(wav):
    """Words of pocketsphinx_continuous on a 16 kHz mono WAV, with the model
    pw-transcribe-server uses and its default settings."""
    m = modeldir() / "en-us"
    res = subprocess.run(["pocketsphinx_continuous", "-infile", str(wav), "-hmm", str(m / "en-us"),
                          "-lm", str(m / "en-us.lm.bin"), "-dict", str(m / "cmudict-en-us.dict")],
                         capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        raise AssertionError("pocketsphinx_continuous failed: " + res.stderr[-2000:])
    return res.stdout.lower().split()


def wait_played(player, clip, slack_s=30):
    """Waits for the player to finish (real time: the clip's length)."""
    return player.wait_exit(timeout=clip.duration + slack_s)
