"""The reference app: a small web service that splits Korean text into morphemes with kiwipiepy.

GET /?text=...  ->  JSON list of [form, tag] pairs.  GET /health  ->  "ok".
"""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from kiwipiepy import Kiwi

kiwi = Kiwi()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            body, kind = b"ok\n", "text/plain"
        else:
            text = parse_qs(url.query).get("text", ["안녕하세요, 키위입니다."])[0]
            tokens = [[t.form, t.tag] for t in kiwi.tokenize(text)]
            body = json.dumps(tokens, ensure_ascii=False).encode() + b"\n"
            kind = "application/json; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "80"))
    print(f"kiwi-app listening on :{port}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()
