"""The man pages say what the programs and the module do (stdlib only).

Every page in doc/ renders with `man -l` and without a groff warning and
carries the project's version; pw-transcribe(1) has every command and
option of `pw-transcribe --help`, pw-transcribe-server(1) every option of
`pw-transcribe-server --help` with its default, and
libpipewire-module-transcribe(7) every key of the module's argument table
(module/config.c, printed by config-reference) with its default. When
someone changes an option or a key, this says which page must follow.

Environment: CLI, SERVER, CONFIG_REFERENCE (executables), PROJECT_VERSION,
MESON_SOURCE_ROOT.
"""

import os
import re
import subprocess
import unittest
from pathlib import Path

ROOT = Path(os.environ.get("MESON_SOURCE_ROOT", Path(__file__).resolve().parents[2]))
DOC = ROOT / "doc"
VERSION = os.environ.get("PROJECT_VERSION", "")
PAGES = ("pw-transcribe.1", "pw-transcribe-server.1", "libpipewire-module-transcribe.7")
TIMEOUT = 30
WINDOW = 400        # characters after a key in which its default must be said


def run(args, env=None):
    r = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                       env=dict(os.environ, **(env or {})))
    if r.returncode != 0:
        raise AssertionError("%s: rc=%d %s" % (args[0], r.returncode, r.stderr))
    return r


def rendered(page):
    """The page as man shows it, wide, with white space runs as one space."""
    out = run(["man", "-l", str(DOC / page)],
              env={"MANPAGER": "cat", "MANWIDTH": "250", "LC_ALL": "C.UTF-8"}).stdout
    # a word hyphenated at a line end is whole again
    return re.sub(r"\s+", " ", re.sub(r"\u2010\s*", "", out))


def mentions(text, name):
    """The places where name stands as a word (followed by a space or comma)."""
    return [m.start() for m in re.finditer(re.escape(name) + r"[ ,]", text)]


def said_near(text, name, value):
    """value is said within WINDOW characters after some mention of name."""
    return any(value in text[at:at + WINDOW] for at in mentions(text, name))


class PagesTest(unittest.TestCase):
    def test_every_page_renders_without_warnings_and_has_the_version(self):
        for page in PAGES:
            with self.subTest(page=page):
                r = subprocess.run(["groff", "-ww", "-z", "-man", str(DOC / page)],
                                   capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual((r.returncode, r.stderr), (0, ""))
                th = [l for l in (DOC / page).read_text().splitlines() if l.startswith(".TH ")]
                self.assertEqual(len(th), 1)
                self.assertIn('"pipewire-transcribe %s"' % VERSION, th[0])
                self.assertIn("NAME", rendered(page))


class CliPageTest(unittest.TestCase):
    def test_every_command_and_option_of_the_help_is_in_the_page(self):
        help_text = run([os.environ["CLI"], "--help"]).stdout
        page = rendered("pw-transcribe.1")
        commands = help_text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
        for name in (l.split()[0] for l in commands.splitlines()):
            with self.subTest(command=name):
                self.assertIn(" %s " % name, page)
        options = re.findall(r"^  (-[^\s,]+)(?:, (--\S+))?", help_text, re.M)
        self.assertGreater(len(options), 6)
        for short, long in options:
            for opt in filter(None, (short, long)):
                with self.subTest(option=opt):
                    self.assertTrue(mentions(page, opt), opt)


@unittest.skipUnless(os.environ.get("SERVER"), "pw-transcribe-server is not built")
class ServerPageTest(unittest.TestCase):
    def test_every_option_of_the_help_is_in_the_page_with_its_default(self):
        help_text = run([os.environ["SERVER"], "--help"]).stdout
        page = rendered("pw-transcribe-server.1")
        options = re.findall(r"^  (--[a-z-]+)\b(.*)$", help_text, re.M)
        self.assertGreater(len(options), 8)
        for opt, rest in options + [("--help", ""), ("--version", "")]:
            with self.subTest(option=opt):
                self.assertTrue(mentions(page, opt), opt)
                default = re.search(r"\(default (.+?)\)$", rest)
                if default:
                    self.assertTrue(said_near(page, opt, default.group(1)),
                                    "%s: default %s not in the page" % (opt, default.group(1)))


def reference():
    """[(key, default or None)] from the module's argument table."""
    out = run([os.environ["CONFIG_REFERENCE"]]).stdout
    keys = []
    for line in out.splitlines():
        m = re.match(r'\s+(\S+)\s+default ("[^"]*"|\[[^\]]*\]|\S+)', line)
        if not m:
            raise AssertionError("config-reference: %r" % line)
        keys.append((m.group(1), None if m.group(2) == "-" else m.group(2)))
    return keys


# Defaults the page words differently from the table (the table's own
# explanation says the same).
WORDED = {"taps[].description": "Transcribe: name",
          # computed at load; the table's explanation names it
          "service.url": "ws+unix://$XDG_RUNTIME_DIR/pipewire-transcribe/server.sock:"
                         "/transcribe-websocket"}


class ModulePageTest(unittest.TestCase):
    def test_every_argument_is_in_the_page_with_its_default(self):
        page = rendered("libpipewire-module-transcribe.7")
        args = page.split(" ARGUMENTS ", 1)[1].split(" THE SESSION ", 1)[0]
        taps = args.split(" Each is an object with: ", 1)[1]
        keys = reference()
        self.assertGreater(len(keys), 30)
        for key, default in keys:
            with self.subTest(key=key):
                where, name = (taps, key[len("taps[]."):]) if key.startswith("taps[].") \
                    else (args, key)
                self.assertTrue(mentions(where, name), "%s is not in the page" % key)
                if key in WORDED:
                    default = WORDED[key]
                elif default is not None and default != '""':
                    default = default.strip('"')
                if default is not None:
                    self.assertTrue(said_near(where, name, default),
                                    "%s: default %s not in the page" % (key, default))


README = Path(__file__).resolve().parent.parent.parent / "README.md"


class ReadmeTableTest(unittest.TestCase):
    """README's key table is a copy of the module's table: every key is a
    row, with the table's default, and no row names a key that is gone."""

    def rows(self):
        text = README.read_text()
        table = text.split("| key | default | meaning |", 1)[1].split("\n\n", 1)[0]
        rows = {}
        for line in table.splitlines()[2:]:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            first = None
            for key in re.findall(r"`([^`]+)`", cells[0]):
                if key.startswith(".") and first:      # `a.b.file` / `.env`: a.b.env
                    key = first.rsplit(".", 1)[0] + key
                first = first or key
                rows[key] = cells[1]
        return rows

    def test_every_key_is_a_row_with_its_default(self):
        rows = self.rows()
        for key, default in reference():
            with self.subTest(key=key):
                self.assertIn(key, rows, "README's key table has no row for %s" % key)
                if key in WORDED or default in (None, '""'):
                    continue
                self.assertIn(default.strip('"'), rows[key],
                              "%s: README says %r, the table %s" % (key, rows[key], default))

    def test_no_row_names_a_key_that_is_gone(self):
        keys = {k for k, _ in reference()}
        for key in self.rows():
            with self.subTest(key=key):
                self.assertIn(key, keys, "README's key table lists %s, which is gone" % key)


if __name__ == "__main__":
    unittest.main(verbosity=2)
