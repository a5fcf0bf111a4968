"""pw-transcribe (tools/cli) against a private session bus (stdlib only).

Each test starts its own `dbus-daemon --session` on a socket in a temp dir
with no service on it: usage, help and version, exit codes for bad command
lines, and the one-line errors without a service or without a reachable
bus.  The commands against the real module's service are in
tests/integration/test_cli.py; what follow prints (terminal, plain, JSON)
is pinned byte for byte by tests/unit/test-cli-caption.c.  Everything is
killed and removed in cleanup, also when a test fails; nothing sleeps to
synchronise: every wait polls a deadline.

Environment: CLI (the pw-transcribe executable).
"""

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

CLI = os.environ.get("CLI", "pw-transcribe")
BUS_NAME = "io.github.pw_transcribe.Transcribe1"
TIMEOUT = 10.0          # any single step (sanitizer builds are slow)
NO_SERVICE = ("pw-transcribe: no pipewire-transcribe on the session bus "
              "(%s); is the module loaded?")
PASS_ENV = ("PATH", "LD_LIBRARY_PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
COMMANDS = ("list", "status", "follow", "start", "stop", "reconnect", "finalize")


class Lines:
    """Lines of a pipe, read with a deadline (select + os.read)."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b""
        self.eof = False

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.fd], [], [], left)[0]:
            raise AssertionError("timed out; read so far: %r" % self.buf)
        data = os.read(self.fd, 65536)
        self.eof = not data
        self.buf += data

    def line(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                raise AssertionError("end of output; read so far: %r" % self.buf)
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


class BusTest(unittest.TestCase):
    """A private session bus for each test; self.env points at it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pw-transcribe-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.procs = []
        self.addCleanup(self._kill_all)
        self.env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        self.env.update(HOME=self.tmp, LC_ALL="C.UTF-8", TERM="xterm")
        bus = self.spawn(["dbus-daemon", "--session", "--print-address", "--nofork",
                          "--address=unix:path=%s/bus" % self.tmp])
        self.env["DBUS_SESSION_BUS_ADDRESS"] = Lines(bus.stdout.fileno()).line()

    def spawn(self, args):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def _kill_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            for f in (p.stdin, p.stdout, p.stderr):
                if f:
                    f.close()

    def cli(self, *args, env=None):
        r = subprocess.run([CLI, *args], env=env or self.env, capture_output=True,
                           text=True, timeout=TIMEOUT * 3)
        return r.returncode, r.stdout, r.stderr

    def assertOneLine(self, stderr, expected=None):
        lines = stderr.splitlines()
        self.assertEqual(len(lines), 1, stderr)
        if expected is not None:
            self.assertEqual(lines[0], expected)


class UsageTest(BusTest):
    def test_help_of_every_command_exits_0(self):
        for args in [("--help",)] + [(c, "--help") for c in COMMANDS]:
            with self.subTest(args=args):
                code, out, err = self.cli(*args)
                self.assertEqual(code, 0, err)
                self.assertIn("Usage: pw-transcribe", out)
                self.assertIn("Exit status", out)
                self.assertEqual(err, "")
        out = self.cli("--help")[1]
        for c in COMMANDS:
            self.assertIn("  " + c + " ", out)

    def test_version_prints_name_and_version(self):
        self.assertEqual(self.cli("--version")[:2], (0, "pw-transcribe 0.1.0\n"))
        for c in COMMANDS + ("export",):
            with self.subTest(command=c):
                self.assertEqual(self.cli(c, "--version")[:2], (0, "pw-transcribe 0.1.0\n"))

    def help_options(self, *args):
        """{option: the column its explanation starts at} of a help text's
        Options section; every line of the text fits in 79 columns."""
        code, out, err = self.cli(*args, "--help")
        self.assertEqual((code, err), (0, ""))
        for line in out.splitlines():
            self.assertLessEqual(len(line), 79, line)
        section = out.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
        found = {}
        for line in section.splitlines():
            if line.startswith("  -"):
                name, text = line[2:].split("  ", 1)
                found[name] = len(line) - len(text.lstrip())
        return found

    def test_every_help_lists_its_options_aligned(self):
        every = {"-h, --help", "--version"}
        expected = {
            (): every | {"--json", "--exit-after-final N", "--wait SECONDS", "--format FORMAT",
                         "-o, --output FILE", "--bus-name NAME"},
            ("list",): every | {"--bus-name NAME"},
            ("status",): every | {"--bus-name NAME", "--json"},
            ("follow",): every | {"--bus-name NAME", "--json", "--exit-after-final N"},
            ("start",): every | {"--bus-name NAME", "--wait SECONDS"},
            ("stop",): every | {"--bus-name NAME"},
            ("reconnect",): every | {"--bus-name NAME", "--wait SECONDS"},
            ("finalize",): every | {"--bus-name NAME"},
            ("export",): every | {"--format FORMAT", "-o, --output FILE"},
        }
        columns = set()
        for args, options in expected.items():
            with self.subTest(args=args):
                found = self.help_options(*args)
                self.assertEqual(set(found), options)
                columns |= set(found.values())
        self.assertEqual(len(columns), 1, "one column for every explanation")
        column = columns.pop()
        # the main help's commands are aligned on the same column
        out = self.cli("--help")[1]
        commands = out.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        self.assertEqual([l.split()[0] for l in commands], list(COMMANDS) + ["export"])
        for l in commands:
            text = l[2:].split("  ", 1)[1]
            self.assertEqual(len(l) - len(text.lstrip()), column, l)

    def test_exit_statuses_3_and_4_only_where_wait_is(self):
        for c in COMMANDS:
            with self.subTest(command=c):
                out = self.cli(c, "--help")[1]
                self.assertEqual("3 --wait timed out" in out, c in ("start", "reconnect"))

    def test_unknown_command_exits_2_with_one_line(self):
        code, out, err = self.cli("transcribe-everything")
        self.assertEqual((code, out), (2, ""))
        self.assertOneLine(err)
        self.assertIn('"transcribe-everything"', err)
        self.assertIn("--help", err)

    def test_bad_options_exit_2_with_one_line(self):
        for args in [("list", "--bogus"), ("stop", "--wait", "1"), ("start", "--wait", "x"),
                     ("start", "--wait", "601"), ("follow", "--exit-after-final", "0"),
                     ("status", "a", "b"), ("list", "tap"), ("--bus-name", "nodots", "list"),
                     ("--bus-name",), ()]:
            with self.subTest(args=args):
                code, out, err = self.cli(*args)
                self.assertEqual((code, out), (2, ""))
                self.assertOneLine(err)

    def test_every_command_without_service_says_so_and_exits_1(self):
        for args in [(c,) for c in COMMANDS] + [("start", "--wait", "1"), ("status", "x")]:
            with self.subTest(args=args):
                code, out, err = self.cli(*args)
                self.assertEqual((code, out), (1, ""))
                self.assertOneLine(err, NO_SERVICE % BUS_NAME)

    def test_other_bus_name_without_service_names_it_and_exits_1(self):
        code, out, err = self.cli("status", "--bus-name", "org.example.Other")
        self.assertEqual((code, out), (1, ""))
        self.assertOneLine(err, NO_SERVICE % "org.example.Other")

    def test_unreachable_session_bus_exits_1_with_one_line(self):
        for address in ["unix:path=%s/nowhere" % self.tmp, "garbage"]:
            env = dict(self.env, DBUS_SESSION_BUS_ADDRESS=address)
            for args in [("list",), ("follow", "--json"), ("start", "--wait", "1")]:
                with self.subTest(address=address, args=args):
                    code, out, err = self.cli(*args, env=env)
                    self.assertEqual((code, out), (1, ""))
                    self.assertOneLine(err)
                    self.assertIn("session bus", err)


def main():
    missing = [t for t in ("dbus-daemon",) if shutil.which(t) is None]
    if missing:
        print("SKIP: missing tools: " + " ".join(missing))
        sys.exit(77)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
