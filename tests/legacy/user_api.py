"""The routes of rotki's user lifecycle and of the login-gated reads and writes banyan's tests
touch, on `users.Users` (the bodies and messages of shared/rotki/session.md). Logout ends every
task, as rotki's `gevent.killall` does."""
import functools
import json

from flask import jsonify, request

import tasks
from users import CHAINS, Failure, Users

state = {}


def register(app, api_response, fail, data_dir):
    users = state['users'] = Users(data_dir)

    def body():
        if request.is_json and request.get_data():
            return request.get_json() or {}
        return {}

    def answer(work):
        try:
            return api_response({'result': work(), 'message': ''})
        except Failure as f:
            return fail(str(f), f.status)

    def logged_in(view):
        @functools.wraps(view)
        def gated(*args, **kwargs):
            if users.name is None:
                return fail('No user is currently logged in', 401)
            return view(*args, **kwargs)
        return gated

    def unlock(work, async_query):
        """A create or login, synchronous or as a task whose outcome carries the status."""
        def outcome():
            try:
                return {'result': work(), 'message': ''}
            except Failure as f:
                return {'result': None, 'message': str(f), 'status_code': f.status}
        if async_query:
            return api_response({'result': {'task_id': tasks.spawn(outcome)}, 'message': ''})
        done = outcome()
        return api_response(done, done.pop('status_code', 200))

    def missing(*names):
        return api_response({'result': None, 'message': '{' + ', '.join(
            f'"{n}": ["Missing data for required field."]' for n in names) + '}'}, 400)

    @app.route('/api/1/users', methods=['GET'])
    def list_users():
        return api_response({'result': users.listing(), 'message': ''})

    @app.route('/api/1/users', methods=['PUT'])
    def create_user():
        args = body()
        if not args.get('name') or not args.get('password'):
            return missing(*[n for n in ('name', 'password') if not args.get(n)])
        return unlock(lambda: users.create(args['name'], args['password']), args.get('async_query') is True)

    @app.route('/api/1/users/<string:name>', methods=['POST'])
    def login(name):
        args = body()
        if not args.get('password'):
            return missing('password')
        return unlock(lambda: users.login(name, args['password']), args.get('async_query') is True)

    @app.route('/api/1/users/<string:name>', methods=['PATCH'])
    @logged_in
    def logout(name):
        if body().get('action') != 'logout':
            return fail('this legacy app only logs out', 400)

        def work():
            users.logout(name)
            tasks.end_all()
            return True
        return answer(work)

    @app.route('/api/1/users/<string:name>/password', methods=['PATCH'])
    @logged_in
    def change_password(name):
        args = body()
        lacking = [n for n in ('name', 'current_password', 'new_password') if not args.get(n)]
        if lacking:
            return missing(*lacking)

        def work():
            users.change_password(args['name'], args['current_password'], args['new_password'])
            return True
        return answer(work)

    @app.route('/api/1/settings', methods=['GET'])
    @logged_in
    def get_settings():
        return answer(users.settings)

    @app.route('/api/1/settings', methods=['PUT'])
    @logged_in
    def put_settings():
        changes = body().get('settings')
        if not isinstance(changes, dict):
            return missing('settings')

        def work():
            users.set_settings(changes)
            return users.settings()
        return answer(work)

    @app.route('/api/1/tags', methods=['GET'])
    @logged_in
    def get_tags():
        return answer(users.tags)

    @app.route('/api/1/tags', methods=['PUT', 'PATCH', 'DELETE'])
    @logged_in
    def change_tags():
        a = body()

        def work():
            if request.method == 'PUT':
                users.add_tag(a['name'], a.get('description'), a['background_color'], a['foreground_color'])
            elif request.method == 'PATCH':
                users.edit_tag(a['name'], a.get('description'), a.get('background_color'), a.get('foreground_color'))
            else:
                users.delete_tag(a['name'])
            return users.tags()
        return answer(work)

    @app.route('/api/1/assets/ignored', methods=['GET'])
    @logged_in
    def get_ignored():
        return answer(users.ignored_assets)

    @app.route('/api/1/assets/ignored', methods=['PUT', 'DELETE'])
    @logged_in
    def change_ignored():
        assets = body().get('assets', [])
        return answer(lambda: users.ignore_assets(assets, request.method == 'PUT'))

    @app.route('/api/1/external_services', methods=['GET'])
    @logged_in
    def get_services():
        return answer(users.external_services)

    @app.route('/api/1/external_services', methods=['PUT', 'DELETE'])
    @logged_in
    def change_services():
        services = body().get('services', [])

        def work():
            if request.method == 'PUT':
                users.set_services(services)
            else:
                users.delete_services(services)
            return users.external_services()
        return answer(work)

    @app.route('/api/1/queried_addresses', methods=['GET'])
    @logged_in
    def get_queried():
        return answer(users.queried_addresses)

    @app.route('/api/1/queried_addresses', methods=['PUT'])
    @logged_in
    def put_queried():
        a = body()

        def work():
            users.add_queried_address(a['module'], a['address'])
            return users.queried_addresses()
        return answer(work)

    def chain_of(name):
        chain = name.replace(' ', '_').upper()
        if chain not in CHAINS:
            raise Failure(f'Failed to deserialize SupportedBlockchain value {name}', 400)
        return chain

    def refused_chain(name):
        """rotki's BlockchainField on the path segment (the login is checked first): webargs'
        400, through the app's parsing-error handler's shape."""
        chain = name.replace(' ', '_').upper()
        if chain == 'ETH2':
            message = f'Blockchain name {name} is not allowed in this endpoint'
        elif chain not in CHAINS:
            message = f'Failed to deserialize SupportedBlockchain value {name}'
        else:
            return None
        resp = jsonify(result=None, message=json.dumps({'blockchain': [message]}))
        resp.status_code = 400
        return resp

    @app.route('/api/1/blockchains/<string:name>/accounts', methods=['GET'])
    @logged_in
    def get_accounts(name):
        return refused_chain(name) or answer(lambda: users.accounts(chain_of(name)))

    @app.route('/api/1/blockchains/<string:name>/accounts', methods=['PUT'])
    @logged_in
    def put_accounts(name):
        accounts = body().get('accounts', [])
        return refused_chain(name) or answer(lambda: users.add_accounts(chain_of(name), accounts))

    @app.route('/api/1/notes', methods=['PUT'])
    @logged_in
    def put_note():
        a = body()
        return answer(lambda: users.add_note(a['title'], a['content'], a['location'], a['is_pinned']))

    @app.route('/api/1/notes', methods=['POST'])
    @logged_in
    def query_notes():
        return answer(lambda: users.notes(body()))

    @app.route('/api/1/history/skipped_external_events', methods=['GET'])
    @logged_in
    def skipped_events():
        return answer(users.skipped_events)

    @app.route('/api/1/calendar/google', methods=['GET'])
    @logged_in
    def google_calendar():
        return answer(users.google_calendar)

    # Test-only: writes rotki makes through routes this app does not have (an import that
    # skips events, Google's OAuth flow, an xpub added with its derived addresses).
    @app.route('/_test/skipped_event', methods=['POST'])
    @logged_in
    def test_skip_event():
        a = body()
        return answer(lambda: users.skip_event(a['data'], a['location']))

    @app.route('/_test/nft', methods=['POST'])
    @logged_in
    def test_nft():
        a = body()
        return answer(lambda: users.add_nft(a['identifier'], a.get('name'), a.get('collection_name'), a.get('image_url')))

    @app.route('/_test/google_credentials', methods=['POST'])
    @logged_in
    def test_google_credentials():
        return answer(lambda: users.store_google_credentials(body()))

    @app.route('/_test/xpub', methods=['POST'])
    @logged_in
    def test_xpub():
        a = body()
        return answer(lambda: users.add_xpub(chain_of(a['blockchain']), a['xpub'], a['derivation_path'],
                                             a.get('label'), a.get('tags') or [], a.get('derived') or []))
