"""Writes to global.db that rotki makes through its asset routes, so tests can show a native
read sees them at once: `PUT /api/1/assets/custom` adds a custom asset (rotki answers its new
identifier), `PATCH /api/1/assets/custom` edits one (answers true). Both behind the login, as in
rotki; the bodies' happy paths only (the tests send valid ones)."""
import uuid

from flask import request


def register(app, api_response, fail, gdb, users):
    def body():
        return request.get_json(silent=True) or {}

    def exists(name, kind, other_than=None):
        rows = gdb.query(
            'SELECT A.identifier FROM assets AS A JOIN custom_assets AS B ON A.identifier = B.identifier '
            'WHERE A.name = ? AND B.type = ?', (name, kind),
        )
        return any(r[0] != other_than for r in rows)

    @app.route('/api/1/assets/custom', methods=['PUT'])
    def add_custom_asset():
        if users.name is None:
            return fail('No user is currently logged in', 401)
        args = body()
        name, kind, notes = args['name'], args['custom_asset_type'], args.get('notes')
        if exists(name, kind):
            return fail(f'Custom asset with name "{name}" and type "{kind}" already exists', 409)
        identifier = str(uuid.uuid4())
        gdb.query('INSERT INTO assets(identifier, name, type) VALUES (?, ?, ?)', (identifier, name, '['))
        gdb.query('INSERT INTO custom_assets(identifier, notes, type) VALUES (?, ?, ?)', (identifier, notes, kind))
        return api_response({'result': identifier, 'message': ''})

    @app.route('/api/1/assets/custom', methods=['PATCH'])
    def edit_custom_asset():
        if users.name is None:
            return fail('No user is currently logged in', 401)
        args = body()
        identifier, name, kind = args['identifier'], args['name'], args['custom_asset_type']
        if exists(name, kind, other_than=identifier):
            return fail(f'Custom asset with name "{name}" and type "{kind}" already exists', 409)
        gdb.query('UPDATE assets SET name = ? WHERE identifier = ?', (name, identifier))
        gdb.query('UPDATE custom_assets SET notes = ?, type = ? WHERE identifier = ?',
                  (args.get('notes'), kind, identifier))
        return api_response({'result': True, 'message': ''})
