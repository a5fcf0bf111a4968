"""Our WebSocket servers (fault-server, pw-transcribe-server) as test
processes: started, their "listening ..." line read, their log waited on
line by line with deadlines, stopped with their exit status.

ServerProcess runs one on its own (the server suites); FixtureServer runs
one as a child of a PipeWire test fixture (fixture.py), whose private
directories, environment and clean-up it then shares (integration tests and
benches)."""

import re
import subprocess

from lines import Lines

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
LISTENING = re.compile(r"^listening (?:port=(\d+)(?: address=(\S+))?|socket=(\S+))(?: tls=(\d))?",
                       re.M)


class Endpoint:
    """Where a server listens, from its first line: port and address, or a
    Unix socket; url is what the module and the clients are given."""

    def __init__(self, m):
        self.port = int(m.group(1)) if m.group(1) else None
        self.address = m.group(2) or ("127.0.0.1" if self.port else None)
        self.socket = m.group(3)
        self.tls = m.group(4) == "1"

    def url_for(self, path="/transcribe-websocket", scheme="ws", host=None):
        if self.socket:
            return "%s+unix://%s:%s" % (scheme, self.socket, path)
        a = self.address or "127.0.0.1"
        h = host or (a if ":" not in a else "[%s]" % a)
        return "%s://%s:%d%s" % (scheme, h, self.port, path)

    @property
    def url(self):
        return self.url_for()


class ServerProcess(Endpoint):
    """A server binary run directly. The event log is stdout (fault-server)
    or stderr (pw-transcribe-server: log="stderr"); both streams are read
    by threads, so a chatty server never blocks. check_start=False: for a
    server expected to refuse to start (see wait_exit)."""

    def __init__(self, argv, log="stdout", stdin=False, env=None, preexec_fn=None,
                 check_start=True, start_timeout=START_TIMEOUT, stop_timeout=STOP_TIMEOUT):
        self.proc = subprocess.Popen(list(map(str, argv)),
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1, env=env, preexec_fn=preexec_fn)
        self.stdout, self.stderr_lines = Lines(self.proc.stdout), Lines(self.proc.stderr)
        self.events = self.stdout if log == "stdout" else self.stderr_lines
        self.rc, self.stop_timeout = None, stop_timeout
        if not check_start:
            self.port = self.address = self.socket = None
            return
        try:
            m = self.stdout.wait(LISTENING.pattern, start_timeout)
        except AssertionError:
            self.kill()
            raise AssertionError("server did not start:\n%s" % self.log())
        Endpoint.__init__(self, m)

    def listening_line(self, timeout=START_TIMEOUT):
        """The server's first line ("listening ..."), waited for."""
        return self.stdout.wait(LISTENING.pattern, timeout).group(0)

    @property
    def lines(self):
        return self.events.lines

    @property
    def stderr(self):
        return self.stderr_lines.text()

    def wait(self, pattern, timeout=10.0, start=0):
        """The first event line from index start matching the regex pattern;
        AssertionError at the deadline or when the server exits first."""
        return self.events.wait(pattern, timeout, start)

    def wait_log(self, needle, timeout=30.0):
        return self.events.wait(re.escape(needle), timeout)

    def grep(self, pattern):
        return self.events.grep(pattern)

    def log(self):
        return self.events.text()

    def count(self):
        return self.events.count()

    def command(self, line, timeout=5.0):
        """A line on the server's stdin (fault-server's control), and its reply."""
        start = self.count()
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.wait(r"^(ok|error|status)\b.*", timeout, start)

    def stop(self, timeout=None):
        """SIGTERM, wait; returns the exit status (an ASan build fails on leaks
        here). Stopping again returns the same status."""
        timeout = timeout or self.stop_timeout
        if self.rc is None:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("server did not exit within %.0f s of SIGTERM:\n%s"
                                     % (timeout, self.log()))
            self._close()
        return self.rc

    def wait_exit(self, timeout=START_TIMEOUT):
        """For a server expected to exit by itself: its exit status."""
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.rc = self.proc.wait()
        self._close()
        return self.rc

    def _close(self):
        for lines, f in ((self.stdout, self.proc.stdout), (self.stderr_lines, self.proc.stderr)):
            lines.join(STOP_TIMEOUT)
            if not f.closed:
                f.close()
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass


class FixtureServer(Endpoint):
    """A server binary as a child of the fixture fx (its output goes to a
    file the fixture keeps); `prefix` runs it through a wrapper, e.g.
    `ip netns exec NS`."""

    def __init__(self, fx, name, argv, prefix=()):
        self.proc = fx.spawn(name, [*prefix, *map(str, argv)])
        m = fx.wait_for(lambda: LISTENING.search(self.out()), what=name + " listening")
        Endpoint.__init__(self, m)

    def out(self):
        p = self.proc.out_path
        return p.read_text(errors="replace") if p.exists() else ""
