"""A stand-in for rotki's legacy backend, on the stack rotki v1.43.2 runs on.

Flask served by gevent's pywsgi with gevent-websocket's handler, everything monkey patched,
behaving on the wire like rotki for the endpoints banyan touches (facts in shared/rotki/):
json.dumps spacing, the stray `mimetype` header, upper-case reason phrases, the 404 text,
500 for a wrong method or a bad JSON body, webargs 400s through jsonify, flask-cors; the
/ws notifier (broadcast and echo); rotki's asset reads on
`<data-dir>/global/global.db` (created from fixtures/global.sql if absent), read through
one shared connection with rotki's progress-handler hack (globaldb.py, assets_all.py) and the
custom-asset writes (asset_writes.py); the answers rotki computes from its own code
(metadata.py); rotki's user lifecycle on a SQLCipher user database in WAL mode and the
login-gated routes banyan's tests touch (users.py, user_api.py); the upload endpoints as a
logged-out client meets them (uploads.py).

Routes under /_test/ exist only here; they let tests see what legacy received, make it
slow or large on purpose, or make the notifier broadcast. Start: `python app.py --port 0`;
it prints `LISTENING <port>`.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from flask import Flask, Response, jsonify, make_response, request  # noqa: E402
from flask import abort as flask_abort  # noqa: E402
from flask_cors import CORS  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402
from geventwebsocket import Resource, WebSocketApplication  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402
from marshmallow import Schema, ValidationError, fields  # noqa: E402
from webargs.flaskparser import parser, use_kwargs  # noqa: E402
from werkzeug.exceptions import NotFound  # noqa: E402

import asset_writes  # noqa: E402
import uploads  # noqa: E402
import assets_all  # noqa: E402
import assets_search  # noqa: E402
import globaldb  # noqa: E402
import metadata  # noqa: E402
import tasks  # noqa: E402
import user_api  # noqa: E402

ASSET_TYPES = [
    'fiat', 'own chain', 'evm token', 'omni token', 'neo token', 'counterparty token',
    'bitshares token', 'ardor token', 'nxt token', 'ubiq token', 'nubits token', 'burst token',
    'waves token', 'qtum token', 'stellar token', 'tron token', 'ontology token',
    'vechain token', 'eos token', 'fusion token', 'luniverse token', 'other', 'solana token',
    'custom asset',
]

app = Flask(__name__)
CORS(app, origins=['http://localhost:*/*'])
settings = {'data_directory': '', 'log_level': 'DEBUG', 'latest_release': None, 'noisy_info': False}
seen = {'requests': 0, 'sleeping': 0}


def api_response(result, status_code=200):
    """rotki's response helper: json.dumps with default spacing and the stray mimetype header."""
    data = json.dumps(result)
    return make_response(
        (data, status_code, {'mimetype': 'application/json', 'Content-Type': 'application/json'}),
    )


def fail(message, status_code):
    return api_response({'result': None, 'message': message}, status_code)


@parser.location_loader('json_and_query')
def load_json_and_query(req, schema):
    if req.is_json and len(req.get_data()) != 0:
        return parser.load_json(req, schema)
    return parser.load_querystring(req, schema)


@parser.error_handler
def handle_request_parsing_error(err, _req, _schema, error_status_code=None, error_headers=None):
    msg = str(err)
    if isinstance(err.messages, dict):
        key = next(iter(err.messages.keys()))  # the location; rotki strips it
        msg = json.dumps(err.messages[key])
    elif isinstance(err.messages, list):
        msg = ','.join(err.messages)
    err_response = jsonify(result=None, message=msg)
    err_response.status_code = 400
    flask_abort(err_response)


@app.before_request
def touch_json_body():
    if not request.path.startswith('/_test/count'):
        seen['requests'] += 1
    if request.is_json:
        request.json  # noqa: B018 -- an empty or malformed JSON body must fail, as in rotki


@app.errorhandler(404)
def endpoint_not_found(e):
    msg = e.description if isinstance(e, NotFound) else 'invalid endpoint'
    return fail(msg, 404)


@app.errorhandler(Exception)
def unhandled_exception(exc):
    return fail(str(exc), 500)


@app.route('/api/1/ping', methods=['GET'])
def ping():
    return api_response({'result': True, 'message': ''})


class AppInfoSchema(Schema):
    check_for_updates = fields.Boolean(load_default=False)


@app.route('/api/1/info', methods=['GET'])
@use_kwargs(AppInfoSchema(), location='json_and_query')
def info(check_for_updates):
    latest = settings['latest_release'] if check_for_updates else None
    download_url = None
    if latest is not None and tuple(map(int, latest.split('.'))) > (1, 43, 2):
        download_url = f'https://github.com/rotki/rotki/releases/tag/v{latest}'
    return api_response({'result': {
        'version': {'our_version': '1.43.2', 'latest_version': latest, 'download_url': download_url},
        'data_directory': settings['data_directory'],
        'log_level': settings['log_level'],
        'accept_docker_risk': 'ROTKI_ACCEPT_DOCKER_RISK' in os.environ,
        'backend_default_arguments': {
            'max_logfiles_num': 3, 'max_size_in_mb_all_logs': 300, 'sqlite_instructions': 5000,
        },
    }, 'message': os.urandom(6).hex() if settings['noisy_info'] else ''})


@app.route('/api/1/assets/types', methods=['GET'])
def asset_types():
    return api_response({'result': ASSET_TYPES, 'message': ''})


@app.route('/api/1/tasks', methods=['GET'])
def list_tasks():
    return api_response({'result': tasks.listing(), 'message': ''})


@app.route('/api/1/tasks/<int:task_id>', methods=['GET'])
def query_task(task_id):
    status, body = tasks.poll(task_id)
    return api_response(body, status)


@app.route('/api/1/tasks/<int:task_id>', methods=['DELETE'])
def cancel_task(task_id):
    status, body = tasks.cancel(task_id)
    return api_response(body, status)


class TestTaskSchema(Schema):
    ms = fields.Integer(load_default=0)
    async_query = fields.Boolean(load_default=False)


@app.route('/_test/task', methods=['GET'])
@use_kwargs(TestTaskSchema(), location='json_and_query')
def test_task(ms, async_query):
    """Test-only: an async-capable endpoint that sleeps `ms`, as rotki's async commands run."""
    def work():
        gevent.sleep(ms / 1000)
        return {'result': {'slept': ms}, 'message': '', 'status_code': 200}
    if async_query:
        return api_response({'result': {'task_id': tasks.spawn(work)}, 'message': ''})
    outcome = work()
    outcome.pop('status_code')
    return api_response(outcome)


class LocationField(fields.Field):
    """rotki's LocationField limited to ALL_SUPPORTED_EXCHANGES (endpoints.md §d)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError(f'Failed to deserialize Location value from non string value: {value}')
        name = value.upper().replace(' ', '_')
        if name not in globaldb.BY_NAME:
            raise ValidationError(f'Failed to deserialize Location value {value}')
        if name not in globaldb.SUPPORTED:
            raise ValidationError(
                f'Given location {value} is not one of {globaldb.SUPPORTED_TEXT} as needed by the endpoint',
            )
        return name


class LocationMappingsSchema(Schema):
    # rotki's order: `location` from its base schema, the inherited page, then its own field.
    location = LocationField(allow_none=True)
    limit = fields.Integer(load_default=None, allow_none=True)
    offset = fields.Integer(load_default=None, allow_none=True)
    location_symbol = fields.String(load_default=None, allow_none=True)


@app.route('/api/1/assets/locationmappings', methods=['POST'])
@use_kwargs(LocationMappingsSchema(), location='json')
def location_mappings(location_symbol, limit, offset, **location):
    result = globaldb.location_mappings(
        settings['global_db'],
        location=location.get('location'),
        location_symbol=location_symbol or None,
        limit=limit,
        offset=offset,
        location_given='location' in location,
    )
    return api_response({'result': result, 'message': ''})


# ---- test-only routes -------------------------------------------------------------------


@app.route('/_test/echo', methods=['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
def echo():
    """What legacy received: method, path, query and headers in the order they arrived."""
    headers = [[k, v] for k, v in request.headers.items()]
    body = request.get_data()
    return api_response({'result': {
        'method': request.method,
        'path': request.path,
        'query': request.query_string.decode('latin-1'),
        'headers': headers,
        'body_len': len(body),
        'body_sha256': hashlib.sha256(body).hexdigest(),
    }, 'message': ''})


@app.route('/_test/sleep', methods=['GET'])
def sleep():
    seen['sleeping'] += 1
    try:
        gevent.sleep(float(request.args.get('ms', '0')) / 1000)
    finally:
        seen['sleeping'] -= 1
    return api_response({'result': 'slept', 'message': ''})


@app.route('/_test/headers', methods=['GET'])
def odd_headers():
    """A response with headers a proxy must pass through untouched."""
    resp = api_response({'result': True, 'message': ''}, 201)
    resp.headers.add('X-Custom-Case', 'MiXeD')
    resp.headers.add('Set-Cookie', 'a=1; Path=/')
    resp.headers.add('Set-Cookie', 'b=2; Path=/')
    return resp


@app.route('/_test/download', methods=['GET'])
def download():
    """N KiB streamed in 1 KiB chunks, without Content-Length."""
    kib = int(request.args.get('kib', '1'))
    chunk = bytes(range(256)) * 4

    def gen():
        for _ in range(kib):
            yield chunk
    return Response(gen(), mimetype='application/octet-stream')


@app.route('/_test/drip', methods=['GET'])
def drip():
    """One chunk now, another after `ms`: shows whether a proxy streams or buffers."""
    ms = float(request.args.get('ms', '1000'))

    def gen():
        yield b'first chunk\n'
        gevent.sleep(ms / 1000)
        yield b'second chunk\n'
    return Response(gen(), mimetype='text/plain')


@app.route('/_test/hop', methods=['GET'])
def hop_headers():
    """Hop-by-hop headers in a response, which a proxy must not pass on."""
    resp = api_response({'result': True, 'message': ''})
    resp.headers['Connection'] = 'X-Drop'
    resp.headers['X-Drop'] = 'connection-scoped'
    resp.headers['Keep-Alive'] = 'timeout=5'
    resp.headers['X-Kept'] = 'end-to-end'
    return resp


@app.route('/_test/count', methods=['GET'])
def count():
    """Requests seen (these not included) and requests inside /_test/sleep right now."""
    return api_response({'result': seen, 'message': ''})


# Open notifier sockets, as rotki's RotkiNotifier keeps its subscribers.
subscribers = []


class Notifier(WebSocketApplication):
    """rotki's /ws notifier (websocket.md): every broadcast to every open socket, and each
    message a client sends echoed back to it alone, with its opcode."""

    def on_open(self, *args, **kwargs):
        subscribers.append(self.ws)

    def on_message(self, message, *args, **kwargs):
        if message is not None:
            self.ws.send(message, binary=isinstance(message, (bytes, bytearray)))

    def on_close(self, *args, **kwargs):
        if self.ws in subscribers:
            subscribers.remove(self.ws)


@app.route('/_test/broadcast', methods=['POST'])
def broadcast():
    """Test-only: broadcasts `messages` (a list of {"type", "data"}) like rotki's notifier,
    `json.dumps` with rotki's defaults, one text frame each, to every open socket."""
    messages = request.get_json()['messages']
    delivered = 0
    for message in messages:
        # rotki's key order: type, then data.
        text = json.dumps({'type': message['type'], 'data': message['data']})
        for ws in list(subscribers):
            try:
                ws.send(text)
                delivered += 1
            except Exception:  # a closed socket: rotki prunes it the same way
                subscribers.remove(ws)
    return api_response({'result': {'delivered': delivered, 'subscribers': len(subscribers)}, 'message': ''})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=5042)
    ap.add_argument('--data-dir', default=str(Path.home() / '.local/share/rotki/data'))
    ap.add_argument('--loglevel', default='debug')
    ap.add_argument('--latest-release', default=None, help='what GitHub would answer (offline: none)')
    ap.add_argument('--noisy-info', action='store_true',
                    help='test only: /api/1/info carries a different message each time (shadow noise)')
    args = ap.parse_args()
    settings['data_directory'] = str(Path(args.data_dir))
    settings['global_db'] = globaldb.GlobalDB(globaldb.ensure(args.data_dir))
    settings['log_level'] = args.loglevel.upper()
    settings['latest_release'] = args.latest_release
    settings['noisy_info'] = args.noisy_info
    user_api.register(app, api_response, fail, args.data_dir)
    users = user_api.state['users']
    assets_all.register(app, api_response, fail, settings['global_db'], users)
    assets_search.register(app, api_response, fail, settings['global_db'], users)
    asset_writes.register(app, api_response, fail, settings['global_db'], users)
    metadata.register(app, api_response, fail, users)
    uploads.register(app, fail, users)

    resource = Resource([('^/ws', Notifier), ('^/', app)])
    server = WSGIServer((args.host, args.port), resource, handler_class=WebSocketHandler, log=None)
    server.start()
    print(f'LISTENING {server.server_port}', flush=True)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    gevent.signal_handler(signal.SIGINT, server.stop)
    server.serve_forever()
    sys.exit(0)


if __name__ == '__main__':
    main()
