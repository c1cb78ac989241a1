"""A stand-in for rotki's colibri sidecar, as far as the front door sees one: an HTTP server
on its own port that answers with what it was asked (the path and query it received, which
show whether the front door took `/colibri` off), an icon as PNG bytes, and a 404 for paths
under /missing. Standard library only; prints `LISTENING <port>` when it accepts."""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# A 1x1 PNG: what an icon answer's bytes look like.
ICON = bytes.fromhex(
    '89504e470d0a1a0a0000000d4948445200000001000000010806000000'
    '1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082'
)


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path == '/assets/icon':
            self.answer(200, 'image/png', ICON)
        elif parts.path.startswith('/missing'):
            self.answer(404, 'application/json', json.dumps({'error': 'not found', 'path': parts.path}).encode())
        else:
            seen = {'path': parts.path, 'query': parts.query}
            self.answer(200, 'application/json', json.dumps(seen).encode())

    def answer(self, status, content_type, body):
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, default=4343)
    args = ap.parse_args()
    server = ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
    print(f'LISTENING {server.server_address[1]}', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == '__main__':
    main()
