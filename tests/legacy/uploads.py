"""rotki's upload endpoints as a client without a login meets them: `PUT` and `POST` on
`/api/1/import` answer 401 before the body is parsed (rotki checks the login first), so the
front door's tests can send large bodies through and compare what comes back."""


def register(app, fail, users):
    @app.route('/api/1/import', methods=['PUT', 'POST'])
    def import_data():
        if users.name is None:
            return fail('No user is currently logged in', 401)
        return fail('the stand-in imports nothing', 501)
