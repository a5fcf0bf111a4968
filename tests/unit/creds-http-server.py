#!/usr/bin/env python3
"""Scriptable temporary-key endpoint for tests/unit/test-creds.c.

Listens on 127.0.0.1 (port chosen by the kernel) and prints "<port>\n" on
stdout; with --tls CERT KEY it also listens with TLS and prints
"<port> <tls-port>\n". Exits when stdin reaches EOF, so a crashed test never
leaves it behind. The path of a POST scripts the answer:

  /key                 checks the request like the real endpoint (Bearer key,
                       JSON content type, usage_type, expires_in_seconds) and
                       answers 200 {"api_key": "temp:<bearer>:<ttl>", ...},
                       or 400 with the reason
  /status/<code>       that status; ?retry_after=<v> adds Retry-After: <v>
  /slow?ms=<n>         waits n ms, then answers like /key
  /garbage             200 with a non-JSON body
  /nokey               200 JSON without "api_key"
  /huge                200, Content-Length 1 MiB
  /huge-stream         200, 1 MiB without Content-Length (close-delimited)
  /redirect            302 to /key

Every error body echoes the Authorization header, so the test can check the
client never copies a body into its messages.
"""
import json
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HUGE = 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"   # close-delimited bodies for /huge-stream

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, headers=(), length=True):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def check_request(self):
        """Returns (bearer, ttl) or raises ValueError with the reason."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
            raise ValueError("no Bearer authorization")
        if self.headers.get("Content-Type") != "application/json":
            raise ValueError("content type is not application/json")
        length = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(length))
        if set(req) != {"usage_type", "expires_in_seconds"}:
            raise ValueError("unexpected fields %s" % sorted(req))
        if req["usage_type"] != "transcribe_websocket":
            raise ValueError("wrong usage_type")
        if not isinstance(req["expires_in_seconds"], int):
            raise ValueError("expires_in_seconds is not an integer")
        return auth[len("Bearer "):], req["expires_in_seconds"]

    def answer_key(self):
        try:
            bearer, ttl = self.check_request()
        except ValueError as e:
            self.answer(400, "bad request: %s (%s)" % (e, self.echo()))
            return
        self.answer(200, json.dumps({"api_key": "temp:%s:%d" % (bearer, ttl),
                                     "expires_at": "2030-01-01T00:00:00Z"}),
                    [("Content-Type", "application/json")])

    def echo(self):
        return "you sent Authorization: %s" % self.headers.get("Authorization", "")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = url.path.strip("/").split("/")
        if parts == ["key"]:
            self.answer_key()
        elif parts[0] == "status" and len(parts) == 2:
            headers = []
            if "retry_after" in query:
                headers.append(("Retry-After", query["retry_after"]))
            self.answer(int(parts[1]), '{"error": "%s"}' % self.echo(), headers)
        elif parts == ["slow"]:
            time.sleep(int(query.get("ms", "0")) / 1000)
            self.answer_key()
        elif parts == ["garbage"]:
            self.answer(200, "<html>%s</html>" % self.echo())
        elif parts == ["nokey"]:
            self.answer(200, json.dumps({"token": self.echo()}))
        elif parts == ["huge"]:
            self.answer(200, b"x" * HUGE)
        elif parts == ["huge-stream"]:
            self.answer(200, b"x" * HUGE, length=False)
        elif parts == ["redirect"]:
            self.answer(302, self.echo(), [("Location", "/key")])
        else:
            self.answer(404, "no such script: %s" % self.echo())


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass    # the client hanging up early is part of the tests


def main():
    plain = Server(("127.0.0.1", 0), Handler)
    servers = [plain]
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        tls = Server(("127.0.0.1", 0), Handler)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        servers.append(tls)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(" ".join(str(s.server_address[1]) for s in servers), flush=True)
    sys.stdin.read()    # until the test closes our stdin (or dies)


if __name__ == "__main__":
    main()
