#!/usr/bin/env python3
"""Test receivers for notifications: an SMTP sink and an HTTP webhook receiver.

Each message received is written as one file into OUTDIR (mail-N.txt, hook-N.json). Runs for at
most --seconds, then exits. Used only inside a test's own network namespace.
"""
import argparse
import http.server
import os
import socketserver
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("outdir")
parser.add_argument("--smtp-port", type=int, default=2525)
parser.add_argument("--http-port", type=int, default=8025)
parser.add_argument("--seconds", type=int, default=300)
args = parser.parse_args()
counter = {"mail": 0, "hook": 0}
lock = threading.Lock()


def save(kind, ext, data):
    with lock:
        counter[kind] += 1
        path = os.path.join(args.outdir, f"{kind}-{counter[kind]}.{ext}")
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


class SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())

    def handle(self):
        self.reply("220 sink ESMTP")
        envelope, data, in_data = [], [], False
        for _ in range(10000):
            line = self.rfile.readline(65536)
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\r\n")
            if in_data:
                if text == ".":
                    in_data = False
                    save("mail", "txt", ("\n".join(envelope) + "\n\n" + "\n".join(data)).encode())
                    envelope, data = [], []
                    self.reply("250 queued")
                else:
                    data.append(text[1:] if text.startswith("..") else text)
                continue
            verb = text[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-sink")
                self.reply("250 8BITMIME")
            elif verb in ("MAIL", "RCPT"):
                envelope.append(text)
                self.reply("250 ok")
            elif verb == "DATA":
                in_data = True
                self.reply("354 go ahead")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class HookHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        save("hook", "json", self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_):
        pass


class Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


smtp = Threaded(("0.0.0.0", args.smtp_port), SMTPHandler)
hook = Threaded(("0.0.0.0", args.http_port), HookHandler)
for server in (smtp, hook):
    threading.Thread(target=server.serve_forever, daemon=True).start()
time.sleep(args.seconds)
