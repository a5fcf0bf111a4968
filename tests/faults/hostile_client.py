#!/usr/bin/env python3
"""hostile_client: a client that misbehaves towards a speech-to-text
WebSocket server (pw-transcribe-server, fault-server): floods, slowloris
upgrades, descriptor exhaustion, idle slot holders, garbage, invalid close
codes. Raw sockets and a minimal RFC 6455 framing (stdlib only), so every
byte on the wire is ours to choose.

    hostile_client.py MODE --target 127.0.0.1:PORT|unix:/path [--seconds S] [--count N]
                      [--key K] [--size BYTES] [--path /transcribe-websocket]

Modes (each ends by itself: --seconds and --count bound every loop):
  text-flood     config, then --size (1 MB) keepalive messages for --seconds
  slowloris      --count connections sending their upgrade one byte a second
  hold-tcp       --count plain TCP connections held open for --seconds
  idle-upgraded  --count upgraded WebSockets that send nothing (no key, no config)
  garbage-config the config JSON followed by garbage in the same message
  close-codes    one connection per close payload; what the server answers
  finalize-flood config, --count finalize messages, end of stream
  big-binary     config, then one binary message of --size bytes
  not-utf8       config, then a text message that is not UTF-8
  not-http       --size bytes of binary garbage instead of an HTTP request

Prints one JSON object: what it sent and what it saw. Exit status 0 unless
it could not run at all (2). Used by test_hostile.py, which judges.
"""

import argparse
import base64
import json
import os
import select
import socket
import struct
import sys
import time

CONFIG = {"model": "stt-rt-v5", "audio_format": "pcm_s16le", "sample_rate": 16000,
          "num_channels": 1}
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def connect(target, timeout=10.0):
    """A socket to "host:port", "[v6]:port" or "unix:/path"."""
    if target.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(target[5:])
        return s
    host, _, port = target.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)


def upgrade_request(path, key=None, host="localhost", scheme="Bearer"):
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % host, "Upgrade: websocket",
             "Connection: Upgrade",
             "Sec-WebSocket-Key: %s" % base64.b64encode(os.urandom(16)).decode(),
             "Sec-WebSocket-Version: 13"]
    if key:
        lines.append("Authorization: %s %s" % (scheme, key))
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(opcode, payload, fin=True):
    """A client frame. The mask key is zero (legal, and no per-byte work for
    megabyte payloads: a zero mask leaves the payload as it is)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        hdr = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return hdr + b"\0\0\0\0" + payload


def split_frames(buf):
    """The whole server frames at the start of buf: ([(opcode, payload)], rest)."""
    out = []
    while len(buf) >= 2:
        n, off = buf[1] & 0x7f, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, off = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, off = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < off + n:
            break
        out.append((buf[0] & 0x0f, buf[off:off + n]))
        buf = buf[off + n:]
    return out, buf


class Ws:
    """One upgraded connection: send frames, read frames until it ends."""

    def __init__(self, target, path="/transcribe-websocket", key=None, timeout=10.0,
                 scheme="Bearer"):
        self.sock = connect(target, timeout)
        self.sock.sendall(upgrade_request(path, key, scheme=scheme))
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        self.status = int(head.split(b" ")[1])

    def send(self, opcode, payload):
        self.sock.sendall(frame(opcode, payload))

    def text(self, s):
        self.send(OP_TEXT, s.encode() if isinstance(s, str) else s)

    def frames(self, timeout=10.0):
        """Reads until the connection ends: ([(opcode, payload)], how) with
        how in "eof", "reset" or "timeout". A close frame from the server is
        answered (as a well-behaved client would), so it hangs up at once."""
        deadline = time.monotonic() + timeout
        out = []
        answered = False
        while True:
            got, self.buf = split_frames(self.buf)
            for op, payload in got:
                out.append((op, payload))
                if op == OP_CLOSE and not answered:
                    answered = True
                    # the server hangs up now; one that waits for a second
                    # close (lws after it refused ours) is not waited for long
                    deadline = min(deadline, time.monotonic() + 1.0)
                    try:
                        self.send(OP_CLOSE, payload[:2])
                    except OSError:
                        pass
            left = deadline - time.monotonic()
            if left <= 0:
                return out, "closed" if answered else "timeout"
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError:
                return out, "reset"
            except socket.timeout:
                return out, "timeout"
            if not chunk:
                return out, "eof"
            self.buf += chunk

    def close(self):
        self.sock.close()


def summary(frames):
    """Text messages (parsed when JSON) and the close code, if any."""
    texts, close = [], None
    for op, p in frames:
        if op == OP_TEXT:
            try:
                texts.append(json.loads(p))
            except ValueError:
                texts.append(p[:200].decode(errors="replace"))
        elif op == OP_CLOSE:
            close = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else (None if not p else -1)
    errors = [t.get("error_code") for t in texts if isinstance(t, dict) and "error_code" in t]
    finished = any(isinstance(t, dict) and t.get("finished") for t in texts)
    return {"texts": len(texts), "errors": errors, "finished": finished, "close": close}


def config_json(extra=None):
    cfg = dict(CONFIG)
    cfg.update(extra or {})
    return json.dumps(cfg)


def text_flood(a):
    """Keepalives of --size bytes as fast as the server reads them."""
    ws = Ws(a.target, a.path, a.key)
    ws.text(config_json())
    pad = "x" * max(0, a.size - 40)
    msg = frame(OP_TEXT, ('{"type":"keepalive","pad":"%s"}' % pad).encode())
    sent, deadline = 0, time.monotonic() + a.seconds
    ws.sock.setblocking(False)
    view, stalls = memoryview(msg), 0
    while time.monotonic() < deadline and sent < a.count:
        off = 0
        while off < len(msg) and time.monotonic() < deadline:
            _, w, _ = select.select([], [ws.sock], [], 0.2)
            if not w:
                stalls += 1     # the server stopped reading: flow control
                continue
            try:
                off += ws.sock.send(view[off:])
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                return {"sent": sent, "stalls": stalls, "ended": "closed by server"}
        if off == len(msg):
            sent += 1
    ws.sock.setblocking(True)
    ws.text("")
    frames, how = ws.frames(timeout=30)
    ws.close()
    return dict(summary(frames), sent=sent, stalls=stalls, ended=how)


def slowloris(a):
    """--count upgrades, one byte a second each; when did the server hang up?"""
    req = upgrade_request(a.path, a.key)
    socks, refused = [], 0
    for _ in range(a.count):
        try:
            socks.append([connect(a.target), time.monotonic(), 0, None])
        except OSError:
            refused += 1
    deadline = time.monotonic() + a.seconds
    while time.monotonic() < deadline and any(s[3] is None for s in socks):
        for s in socks:
            if s[3] is not None:
                continue
            try:
                s[0].settimeout(0.01)
                try:
                    if s[0].recv(1) == b"":
                        s[3] = time.monotonic() - s[1]
                        continue
                except socket.timeout:
                    pass
                if s[2] < len(req) - 1:     # never the last byte
                    s[0].sendall(req[s[2]:s[2] + 1])
                    s[2] += 1
            except OSError:
                s[3] = time.monotonic() - s[1]
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    lifetimes = [s[3] for s in socks if s[3] is not None]
    for s in socks:
        s[0].close()
    return {"opened": len(socks), "refused": refused, "closed_by_server": len(lifetimes),
            "still_open": len(socks) - len(lifetimes),
            "max_lifetime_s": round(max(lifetimes), 2) if lifetimes else None}


def hold_tcp(a):
    """--count idle TCP connections for --seconds; how many did the server end?"""
    socks, failed = [], 0
    for _ in range(a.count):
        try:
            socks.append(connect(a.target, timeout=1))
        except OSError:
            failed += 1
    time.sleep(a.seconds)        # the hold is the attack: nothing to wait for
    ended = 0
    for s in socks:
        s.settimeout(0)
        try:
            if s.recv(1) == b"":
                ended += 1
        except BlockingIOError:
            pass
        except OSError:
            ended += 1
        s.close()
    return {"opened": len(socks), "failed": failed, "ended_by_server": ended}


def idle_upgraded(a):
    """--count upgraded sockets that never send a thing, held --seconds."""
    held = []
    for _ in range(a.count):
        try:
            held.append(Ws(a.target, a.path, None))
        except OSError:
            pass
    print(json.dumps({"holding": len(held)}), flush=True)
    time.sleep(a.seconds)        # holding them is the attack
    statuses = [w.status for w in held]
    for w in held:
        w.close()
    return {"held": len(held), "statuses": sorted(set(statuses))}


def one_message(a, payload, opcode=OP_TEXT):
    ws = Ws(a.target, a.path, a.key)
    if opcode != OP_TEXT or payload is not None:
        ws.send(opcode, payload)
    frames, how = ws.frames(timeout=15)
    ws.close()
    return dict(summary(frames), ended=how)


def garbage_config(a):
    return one_message(a, (config_json() + ' {"and":"more"} garbage').encode())


def not_utf8(a):
    ws = Ws(a.target, a.path, a.key)
    ws.text(config_json())
    ws.send(OP_TEXT, b'{"type":"keepalive","x":"\xff\xfe\xc0"}')
    frames, how = ws.frames(timeout=15)
    ws.close()
    return dict(summary(frames), ended=how)


def big_binary(a):
    ws = Ws(a.target, a.path, a.key)
    ws.text(config_json())
    try:
        ws.sock.sendall(frame(OP_BINARY, bytes(a.size)))
    except (BrokenPipeError, ConnectionResetError):
        pass
    frames, how = ws.frames(timeout=30)
    ws.close()
    return dict(summary(frames), ended=how)


CLOSE_PAYLOADS = {
    "1000": struct.pack("!H", 1000), "4000": struct.pack("!H", 4000),
    "999": struct.pack("!H", 999), "1004": struct.pack("!H", 1004),
    "1005": struct.pack("!H", 1005), "1015": struct.pack("!H", 1015),
    "2999": struct.pack("!H", 2999), "5000": struct.pack("!H", 5000),
    "65535": struct.pack("!H", 65535), "one-byte": b"\x03", "empty": b"",
}


def close_codes(a):
    """Each close payload on its own connection: the code the server answers."""
    answers = {}
    for name, payload in CLOSE_PAYLOADS.items():
        ws = Ws(a.target, a.path, a.key)
        ws.text(config_json())
        ws.send(OP_CLOSE, payload)
        frames, how = ws.frames(timeout=10)
        ws.close()
        answers[name] = summary(frames)["close"]
    return {"answers": answers}


def finalize_flood(a):
    ws = Ws(a.target, a.path, a.key)
    ws.text(config_json())
    ws.send(OP_BINARY, bytes(3200))
    msg = frame(OP_TEXT, b'{"type":"finalize"}')
    sent, deadline = 0, time.monotonic() + a.seconds
    while sent < a.count and time.monotonic() < deadline:
        ws.sock.sendall(msg)
        sent += 1
    ws.text("")
    frames, how = ws.frames(timeout=60)
    ws.close()
    return dict(summary(frames), sent=sent, ended=how)


def not_http(a):
    s = connect(a.target)
    try:
        s.sendall(os.urandom(a.size))
        s.settimeout(10)
        got = s.recv(4096)
        how = "answered" if got else "eof"
    except (ConnectionResetError, BrokenPipeError):
        how = "reset"
    except socket.timeout:
        how = "timeout"
    s.close()
    return {"ended": how}


MODES = {
    "text-flood": text_flood, "slowloris": slowloris, "hold-tcp": hold_tcp,
    "idle-upgraded": idle_upgraded, "garbage-config": garbage_config,
    "close-codes": close_codes, "finalize-flood": finalize_flood,
    "big-binary": big_binary, "not-utf8": not_utf8, "not-http": not_http,
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=sorted(MODES))
    p.add_argument("--target", required=True, help="HOST:PORT or unix:/path")
    p.add_argument("--path", default="/transcribe-websocket")
    p.add_argument("--key")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--size", type=int, default=1000000)
    a = p.parse_args(argv)
    try:
        res = MODES[a.mode](a)
    except OSError as e:
        print(json.dumps({"error": str(e)}))
        return 2
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
