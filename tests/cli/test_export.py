"""pw-transcribe export (tools/cli/cli-export*.c) on hand-written journals
(stdlib only; no bus, no module).

Every format is checked byte for byte on small journals (txt, json, the
SubRip cue rules: sentence end, the 7 s limit, gaps, speakers, wrapping at
42 characters, splitting after 2 lines), and SubRip and WebVTT output of a
long generated journal must pass the strict parsers below, lose no word
and duplicate none. Then the errors: a damaged line or a cut-off last line
is reported as JOURNAL:LINE while the rest is exported (exit 1), a missing
journal is one line (exit 1), and -o FILE appears whole or not at all.

Environment: CLI (the pw-transcribe executable).
"""

import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import unittest

CLI = os.environ.get("CLI", "pw-transcribe")
TIMEOUT = 30.0          # sanitizer builds are slow
PASS_ENV = ("PATH", "LD_LIBRARY_PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
LINE_CHARS = 42
MAX_LINES = 2

HEADER = {"type": "header", "version": 1, "tap": "browser", "session_id": "1c5e2256",
          "started": "2026-12-03T09:30:00Z", "rate": 16000}


def jline(obj):
    """One journal line as the module writes it (compact, UTF-8)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"


def final(seq, start, end, text, speaker="", language="", confidence=None,
          session_id="1c5e2256", connection_id=1):
    o = {"type": "final", "seq": seq, "session_id": session_id, "start_ms": start,
         "end_ms": end, "text": text, "speaker": speaker, "language": language}
    if confidence is not None:
        o["confidence"] = confidence
    o["connection_id"] = connection_id
    return o


def gap(start, end, reason=""):
    return {"type": "gap", "start_ms": start, "end_ms": end, "reason": reason}


# --- strict subtitle parsers: a violation raises AssertionError ------------

SRT_TIME = re.compile(r"(\d{2,}):([0-5]\d):([0-5]\d),(\d{3}) --> "
                      r"(\d{2,}):([0-5]\d):([0-5]\d),(\d{3})")
VTT_TIME = re.compile(r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3}) --> "
                      r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})")


def _ms(groups):
    h, m, s, ms = (int(g) for g in groups)
    return ((h * 60 + m) * 60 + s) * 1000 + ms


def _check_text_lines(lines, where, arrows=False):
    """arrows: --> may be in the text (unescaped WebVTT)"""
    if not 1 <= len(lines) <= MAX_LINES:
        raise AssertionError("%s: %d text lines" % (where, len(lines)))
    for t in lines:
        if not t or t != t.strip() or "  " in t:
            raise AssertionError("%s: bad spacing in %r" % (where, t))
        if len(t) > LINE_CHARS:
            raise AssertionError("%s: %d characters: %r" % (where, len(t), t))
        if any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 for c in t):
            raise AssertionError("%s: control character in %r" % (where, t))
        if "-->" in t and not arrows:
            raise AssertionError("%s: --> in text %r" % (where, t))


def _blocks(body, where):
    if body == "":
        return []
    if not body.endswith("\n\n") or "\n\n\n" in body or "\r" in body:
        raise AssertionError("%s: blank-line structure: %r" % (where, body[-80:]))
    return body[:-2].split("\n\n")


def _check_times(cues):
    prev_end = 0
    for i, (start, end, _) in enumerate(cues, 1):
        if not end > start:
            raise AssertionError("cue %d ends at %d, starts at %d" % (i, end, start))
        if start < prev_end:
            raise AssertionError("cue %d starts at %d before %d" % (i, start, prev_end))
        prev_end = end


def parse_srt(text):
    """[(start_ms, end_ms, [lines])] of valid SubRip, else AssertionError."""
    cues = []
    for i, block in enumerate(_blocks(text, "srt"), 1):
        lines = block.split("\n")
        if len(lines) < 3 or lines[0] != str(i):
            raise AssertionError("cue %d: number line %r" % (i, lines[0]))
        m = SRT_TIME.fullmatch(lines[1])
        if not m:
            raise AssertionError("cue %d: time line %r" % (i, lines[1]))
        _check_text_lines(lines[2:], "cue %d" % i)
        cues.append((_ms(m.groups()[:4]), _ms(m.groups()[4:]), lines[2:]))
    _check_times(cues)
    return cues


def vtt_unescape(s):
    if re.search(r"&(?!amp;|lt;|gt;)|<|>", s):
        raise AssertionError("unescaped & < > in %r" % s)
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_vtt(text):
    """[(start_ms, end_ms, [lines])] of valid WebVTT (text unescaped)."""
    if not text.startswith("WEBVTT\n\n"):
        raise AssertionError("no WEBVTT header: %r" % text[:20])
    cues = []
    for i, block in enumerate(_blocks(text[len("WEBVTT\n\n"):], "vtt"), 1):
        lines = block.split("\n")
        m = VTT_TIME.fullmatch(lines[0])
        if not m or len(lines) < 2:
            raise AssertionError("cue %d: time line %r" % (i, lines[0]))
        if any("-->" in t for t in lines[1:]):
            raise AssertionError("cue %d: --> in text %r" % (i, lines[1:]))
        text = [vtt_unescape(t) for t in lines[1:]]
        _check_text_lines(text, "cue %d" % i, arrows=True)
        cues.append((_ms(m.groups()[:4]), _ms(m.groups()[4:]), text))
    _check_times(cues)
    return cues


class ExportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pw-transcribe-export-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        self.env.update(HOME=self.tmp, LC_ALL="C.UTF-8")

    def journal(self, *objs, raw="", name="j.jsonl"):
        """A journal: the header, objs as lines, then raw bytes/str as is."""
        path = os.path.join(self.tmp, name)
        data = (jline(HEADER) + "".join(jline(o) for o in objs)).encode()
        data += raw.encode() if isinstance(raw, str) else raw
        with open(path, "wb") as f:
            f.write(data)
        return path

    def export(self, *args):
        r = subprocess.run([CLI, "export", *args], env=self.env, capture_output=True,
                           timeout=TIMEOUT)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def assertExports(self, path, fmt, expected):
        code, out, err = self.export(path, "--format", fmt)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, expected)
        return out


class TxtJsonTest(ExportTest):
    def mixed_journal(self):
        return self.journal(
            final(2, 2100, 3000, "and then turn left.", language="en", connection_id=3),
            final(1, 510, 2060, "go forward ten meters", language="en", confidence=0.93,
                  connection_id=3),
            gap(3000, 4500, "ring overflow"),
            {"type": "state", "at_ms": 4100, "state": "reconnecting", "error": "refused"},
            final(2, 2100, 3000, "a duplicate of seq 2 is dropped"),
            {"type": "from-a-later-version", "x": [1, 2]},
            gap(5000, 5300),
            final(3, 3723456, 3724000, "late\nline", speaker="S1", session_id="9f",
                  connection_id=4))

    def test_txt_is_one_line_per_final_and_gap_in_time_order(self):
        path = self.mixed_journal()
        expected = ("[00:00:00.5] go forward ten meters\n"
                    "[00:00:02.1] and then turn left.\n"
                    "[00:00:03.0] [gap: 1.5 s, ring overflow]\n"
                    "[00:00:05.0] [gap: 0.3 s]\n"
                    "[01:02:03.4] S1: late line\n")
        self.assertExports(path, "txt", expected)
        code, out, err = self.export(path)      # txt is the default
        self.assertEqual((code, out, err), (0, expected, ""))

    def test_json_is_an_array_of_finals_and_gaps_in_time_order(self):
        out = self.assertExports(self.mixed_journal(), "json", (
            '[\n'
            '{"seq":1,"start_ms":510,"end_ms":2060,"text":"go forward ten meters",'
            '"speaker":"","language":"en","confidence":0.93,"session_id":"1c5e2256",'
            '"connection_id":3,"tap":"browser"},\n'
            '{"seq":2,"start_ms":2100,"end_ms":3000,"text":"and then turn left.",'
            '"speaker":"","language":"en","session_id":"1c5e2256","connection_id":3,'
            '"tap":"browser"},\n'
            '{"type":"gap","start_ms":3000,"end_ms":4500,"reason":"ring overflow",'
            '"tap":"browser"},\n'
            '{"type":"gap","start_ms":5000,"end_ms":5300,"reason":"","tap":"browser"},\n'
            '{"seq":3,"start_ms":3723456,"end_ms":3724000,"text":"late\\nline",'
            '"speaker":"S1","language":"","session_id":"9f","connection_id":4,'
            '"tap":"browser"}\n'
            ']\n'))
        self.assertEqual([o.get("seq") for o in json.loads(out)], [1, 2, None, None, 3])

    def test_empty_journal_exports_nothing(self):
        path = self.journal()
        self.assertExports(path, "txt", "")
        self.assertExports(path, "json", "[]\n")
        self.assertExports(path, "srt", "")
        self.assertExports(path, "vtt", "WEBVTT\n\n")

    def test_unicode_text_round_trips(self):
        text = "Grüße aus 東京 \U0001f3a4 — \"quoted\" / slash \\ back"
        path = self.journal(final(1, 0, 1000, text, speaker="Zoë", confidence=1))
        self.assertExports(path, "txt", "[00:00:00.0] Zoë: %s\n" % text)
        code, out, err = self.export(path, "--format", "json")
        self.assertEqual((code, err), (0, ""))
        self.assertIn('"text":"Grüße aus 東京 \U0001f3a4 — \\"quoted\\" / slash \\\\ back"', out)
        self.assertEqual(json.loads(out)[0]["text"], text)
        self.assertEqual(json.loads(out)[0]["confidence"], 1)
        self.assertExports(path, "srt", "1\n00:00:00,000 --> 00:00:01,000\n"
                                        "Zoë: Grüße aus 東京 \U0001f3a4 —\n"
                                        "\"quoted\" / slash \\ back\n\n")


class CueTest(ExportTest):
    """The SubRip cue rules, byte for byte (and WebVTT where it differs)."""

    def test_a_cue_ends_at_a_sentence_end(self):
        path = self.journal(
            final(1, 0, 1000, "Hello there."),
            final(2, 1200, 2000, "How are"),
            final(3, 2000, 2500, "you?"),
            final(4, 3000, 3500, "Fine, thanks!"),
            final(5, 4000, 4800, "He said \"stop.\""),
            final(6, 5000, 5600, "Wait\u2026"),
            final(7, 6000, 6500, "and then"))
        self.assertExports(path, "srt",
                           "1\n00:00:00,000 --> 00:00:01,000\nHello there.\n\n"
                           "2\n00:00:01,200 --> 00:00:02,500\nHow are you?\n\n"
                           "3\n00:00:03,000 --> 00:00:03,500\nFine, thanks!\n\n"
                           "4\n00:00:04,000 --> 00:00:04,800\nHe said \"stop.\"\n\n"
                           "5\n00:00:05,000 --> 00:00:05,600\nWait\u2026\n\n"
                           "6\n00:00:06,000 --> 00:00:06,500\nand then\n\n")
        self.assertExports(path, "vtt",
                           "WEBVTT\n\n"
                           "00:00:00.000 --> 00:00:01.000\nHello there.\n\n"
                           "00:00:01.200 --> 00:00:02.500\nHow are you?\n\n"
                           "00:00:03.000 --> 00:00:03.500\nFine, thanks!\n\n"
                           "00:00:04.000 --> 00:00:04.800\nHe said \"stop.\"\n\n"
                           "00:00:05.000 --> 00:00:05.600\nWait\u2026\n\n"
                           "00:00:06.000 --> 00:00:06.500\nand then\n\n")

    def test_a_cue_ends_before_it_would_last_more_than_7_s(self):
        path = self.journal(
            final(1, 0, 3000, "one"),
            final(2, 3000, 7000, "two"),            # exactly 7 s: still one cue
            final(3, 7000, 8000, "three"),
            final(4, 8000, 16000, "four"),          # longer than 7 s: its own cue
            final(5, 16000, 17000, "five"))
        self.assertExports(path, "srt",
                           "1\n00:00:00,000 --> 00:00:07,000\none two\n\n"
                           "2\n00:00:07,000 --> 00:00:08,000\nthree\n\n"
                           "3\n00:00:08,000 --> 00:00:16,000\nfour\n\n"
                           "4\n00:00:16,000 --> 00:00:17,000\nfive\n\n")

    def test_a_cue_ends_at_a_gap_and_at_a_new_speaker(self):
        path = self.journal(
            final(1, 0, 1000, "before the"),
            gap(1000, 3000, "reconnect"),
            final(2, 3000, 4000, "after", speaker="A"),
            final(3, 4100, 4500, "still A", speaker="A"),
            final(4, 4600, 5000, "now B", speaker="B"))
        self.assertExports(path, "srt",
                           "1\n00:00:00,000 --> 00:00:01,000\nbefore the\n\n"
                           "2\n00:00:03,000 --> 00:00:04,500\nA: after still A\n\n"
                           "3\n00:00:04,600 --> 00:00:05,000\nB: now B\n\n")

    def test_long_text_is_wrapped_at_42_and_split_after_2_lines(self):
        text = ("The quick brown fox jumps over the lazy dog and keeps running "
                "through the forest until the sun goes down behind the hills")
        # the second cue starts at its first word's place in the text:
        # 1000 + 8000 * 81 / 121 characters
        path = self.journal(final(1, 1000, 9000, text))
        self.assertExports(path, "srt",
                           "1\n00:00:01,000 --> 00:00:06,355\n"
                           "The quick brown fox jumps over the lazy\n"
                           "dog and keeps running through the forest\n\n"
                           "2\n00:00:06,355 --> 00:00:09,000\n"
                           "until the sun goes down behind the hills\n\n")

    def test_two_lines_are_balanced_and_counted_in_characters(self):
        # 10 x "größer" (6 characters, 8 bytes): 69 characters in two lines
        # of 34, though each line has 44 bytes
        path = self.journal(final(1, 0, 2000, " ".join(["größer"] * 10)))
        self.assertExports(path, "srt", "1\n00:00:00,000 --> 00:00:02,000\n"
                                        + " ".join(["größer"] * 5) + "\n"
                                        + " ".join(["größer"] * 5) + "\n\n")

    def test_a_word_longer_than_a_line_is_cut(self):
        path = self.journal(final(1, 0, 1000, "x" * 50 + " y"))
        self.assertExports(path, "srt", "1\n00:00:00,000 --> 00:00:01,000\n"
                                        + "x" * 42 + "\n" + "x" * 8 + " y\n\n")

    def test_cues_never_overlap_and_always_last(self):
        path = self.journal(
            final(1, 0, 2000, "first", speaker="A"),
            final(2, 1500, 2500, "second", speaker="B"),   # overlaps the first
            final(3, 3000, 3000, "blip."),                  # no duration
            final(4, 4000, 4500, "   "),                    # nothing to show
            final(5, 5000, 5500, "control\nchars\tand  spaces"))
        self.assertExports(path, "srt",
                           "1\n00:00:00,000 --> 00:00:01,500\nA: first\n\n"
                           "2\n00:00:01,500 --> 00:00:02,500\nB: second\n\n"
                           "3\n00:00:03,000 --> 00:00:03,001\nblip.\n\n"
                           "4\n00:00:05,000 --> 00:00:05,500\ncontrol chars and spaces\n\n")

    def test_vtt_escapes_markup(self):
        path = self.journal(final(1, 61000, 3723456, "a < b & c > d --> e"))
        self.assertExports(path, "vtt", "WEBVTT\n\n00:01:01.000 --> 01:02:03.456\n"
                                        "a &lt; b &amp; c &gt; d --&gt; e\n\n")
        # SubRip has no escapes: "-->" (a time line's mark) becomes "->"
        self.assertExports(path, "srt", "1\n00:01:01,000 --> 01:02:03,456\n"
                                        "a < b & c > d -> e\n\n")

    def test_a_long_journal_gives_valid_srt_and_vtt_with_every_word_once(self):
        rnd = random.Random(5)
        vocab = ["the", "a", "tap", "word", "Grüße", "東京", "\U0001f3a4", "déjà-vu",
                 "pipewire", "transcription", "x" * 45, "ok.", "why?", "yes!", "so\u2026",
                 "<tag>", "&amp", "-->"]
        objs, words, t = [], [], 0
        for seq in range(1, 401):
            if rnd.random() < 0.05:
                objs.append(gap(t, t + 700, "spool full"))
                t += 700
            n = rnd.choice([1, 2, 3, 5, 8, 13, 30])
            w = [rnd.choice(vocab) for _ in range(n)]
            dur = rnd.choice([0, 50, 400, 1500, 3000, 6999, 7001, 12000])
            objs.append(final(seq, t, t + dur, " ".join(w)))
            words += w
            # starts differ: the order of finals that start together is
            # the journal's, and the lines are shuffled
            t += max(dur, 1) + rnd.choice([0, 0, 100, 900])
        rnd.shuffle(objs)       # export sorts by time
        path = self.journal(*objs)
        expected = "".join(words)
        for fmt, parse in (("srt", parse_srt), ("vtt", parse_vtt)):
            with self.subTest(fmt=fmt):
                code, out, err = self.export(path, "--format", fmt)
                self.assertEqual((code, err), (0, ""))
                cues = parse(out)
                self.assertGreater(len(cues), 100)
                got = "".join("".join(line.split()) for c in cues for line in c[2])
                self.assertEqual(got, expected if fmt == "vtt" else
                                 expected.replace("-->", "->"))


class ErrorTest(ExportTest):
    def test_damaged_lines_are_reported_and_the_rest_exported(self):
        trailing = '{"type":"final","seq":6,"start_ms":0,"end_ms":1,"text":"t"} x'
        bad_utf8 = b'{"type":"final","seq":8,"start_ms":0,"end_ms":1,"text":"\xff"}'
        path = self.journal(
            final(1, 0, 1000, "kept"),
            raw=("not json at all\n"
                 '{"type":"final","seq":2,"start_ms":100}\n'
                 '{"type":"final","seq":3,"start_ms":100,"end_ms":200,"text":5}\n'
                 '{"type":"gap","start_ms":500,"end_ms":400}\n'
                 '{"seq":4}\n'
                 '{"type":"final","seq":-1,"start_ms":0,"end_ms":1,"text":"t"}\n'
                 '{"type":"final","seq":5,"start_ms":1.5,"end_ms":2,"text":"t"}\n'
                 + trailing + "\n"
                 + jline(final(7, 2000, 3000, "also kept")) +
                 "\n").encode()
            + bad_utf8 + b"\n"
            + b'{"type":"final","seq":9,"start_ms":0,"end_ms":1,"text":"t",'
              b'"confidence":"high"}\n'
            + b'{"type":7}\n')
        code, out, err = self.export(path)
        self.assertEqual(code, 1)
        self.assertEqual(out, "[00:00:00.0] kept\n[00:00:02.0] also kept\n")
        self.assertEqual(err.splitlines(), ["pw-transcribe: %s:%s" % (path, e) for e in [
            '3: not a JSON object',
            '4: final: no "end_ms"',
            '5: final: "text" is not a string',
            '6: gap: "end_ms" 400 is before "start_ms" 500',
            '7: no "type"',
            '8: final: "seq" is not an integer >= 0',
            '9: final: "start_ms" is not an integer >= 0',
            '10: not JSON: unexpected character at column %d' % (trailing.index(" x") + 2),
            '12: empty line',
            '13: not JSON: invalid utf-8 string at column %d' % (bad_utf8.index(b"\xff") + 1),
            '14: final: "confidence" is not a number',
            '15: "type" is not a string',
        ]])

    def test_a_cut_off_last_line_is_reported_and_the_rest_exported(self):
        for tail in ('{"type":"final","seq":3,"start_ms":20',
                     jline(final(3, 2000, 2500, "whole but no newline")).rstrip("\n")):
            with self.subTest(tail=tail):
                path = self.journal(final(1, 0, 1000, "one"), final(2, 1000, 1500, "two"),
                                    raw=tail)
                code, out, err = self.export(path, "--format", "json")
                self.assertEqual(code, 1)
                self.assertEqual([o["text"] for o in json.loads(out)], ["one", "two"])
                self.assertEqual(err, "pw-transcribe: %s:4: truncated: no newline at the "
                                      "end (the journal was cut off)\n" % path)

    def test_a_missing_journal_is_one_line(self):
        path = os.path.join(self.tmp, "missing.jsonl")
        self.assertEqual(self.export(path),
                         (1, "", "pw-transcribe: %s: No such file or directory\n" % path))

    def test_a_directory_without_journals_is_one_line(self):
        with open(os.path.join(self.tmp, "notes.txt"), "w") as f:
            f.write("not a journal\n")
        self.assertEqual(self.export(self.tmp),
                         (1, "", "pw-transcribe: %s: no journals (*.jsonl) in it\n" % self.tmp))

    def test_bad_command_lines_exit_2(self):
        path = self.journal()
        for args in ((), ("--format", "pdf", path), (path, "--format"), (path, "-o"),
                     (path, "--bus-name", "a.b"), (path, "--json")):
            with self.subTest(args=args):
                code, out, err = self.export(*args)
                self.assertEqual((code, out), (2, ""))
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn("see pw-transcribe export --help", err)
        code, out, err = self.export("--help")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("Usage: pw-transcribe export JOURNAL...", out)
        self.assertIn("Exit status", out)


class OutputFileTest(ExportTest):
    def test_o_replaces_the_file_whole_through_a_tmp_file(self):
        path = self.journal(final(1, 0, 1000, "Hello."), final(2, 1000, 2000, "World."))
        out_path = os.path.join(self.tmp, "out.srt")
        with open(out_path, "w") as f:
            f.write("old content\n")
        old_inode = os.stat(out_path).st_ino
        expected = self.export(path, "--format", "srt")[1]
        self.assertEqual(self.export(path, "--format=srt", "-o", out_path), (0, "", ""))
        with open(out_path) as f:
            self.assertEqual(f.read(), expected)
        # renamed over the old file, not written into it
        self.assertNotEqual(os.stat(out_path).st_ino, old_inode)
        self.assertFalse(os.path.exists(out_path + ".tmp"))
        self.assertEqual(self.export(path, "--output=" + out_path), (0, "", ""))
        with open(out_path) as f:
            self.assertEqual(f.read(), "[00:00:00.0] Hello.\n[00:00:01.0] World.\n")

    def test_a_failed_export_leaves_the_old_file(self):
        out_path = os.path.join(self.tmp, "out.txt")
        with open(out_path, "w") as f:
            f.write("old content\n")
        missing = os.path.join(self.tmp, "missing.jsonl")
        self.assertEqual(self.export(missing, "-o", out_path)[0], 1)
        with open(out_path) as f:
            self.assertEqual(f.read(), "old content\n")
        self.assertEqual(os.listdir(self.tmp), ["out.txt"])

    def test_an_unwritable_output_is_one_line(self):
        path = self.journal(final(1, 0, 1000, "x"))
        out_path = os.path.join(self.tmp, "no-such-dir", "out.txt")
        self.assertEqual(self.export(path, "-o", out_path),
                         (1, "", "pw-transcribe: %s.tmp: No such file or directory\n"
                                 % out_path))

    def test_damaged_lines_still_write_the_file_and_exit_1(self):
        path = self.journal(final(1, 0, 1000, "kept"), raw="garbage\n")
        out_path = os.path.join(self.tmp, "out.txt")
        code, out, err = self.export(path, "-o", out_path)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, "pw-transcribe: %s:3: not a JSON object\n" % path)
        with open(out_path) as f:
            self.assertEqual(f.read(), "[00:00:00.0] kept\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
