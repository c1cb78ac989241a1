"""Whether anyone has been logged in since the app started.

rotki's DataHandler gets its `db` at the first login and keeps it, closed, after a logout, so
a route that reads the user's database fails in two ways: before any login with NO_DB, before
it parses the body; after a logout with CLOSED_DB, once the body has parsed.

`for_app(app, users)` gives the app's one LoginHistory, watching `users.name` at the start and
end of every request; the first call registers the hooks, later calls share them.
"""

NO_DB = "'DataHandler' object has no attribute 'db'"
CLOSED_DB = "'NoneType' object has no attribute 'read_ctx'"


class LoginHistory:
    def __init__(self, users):
        self.users = users
        self.seen = False

    def note(self, response=None):
        if self.users.name is not None:
            self.seen = True
        return response

    def never_logged_in(self):
        self.note()  # a login made outside any request (a test harness) counts from now on
        return not self.seen


def for_app(app, users):
    history = app.extensions.get('login_history')
    if history is None:
        history = app.extensions['login_history'] = LoginHistory(users)
        # the start catches a login a request did not make; the end, the login request itself
        app.before_request(history.note)
        app.after_request(history.note)
    assert history.users is users, 'one app, one set of users'
    return history
