"""rotki's async task manager (shared/rotki/tasks.md): ids from 0 in one counter, tasks in
spawn order, a result read once, cancellation of a running task only, and the exact
bodies of GET /api/1/tasks, GET and DELETE /api/1/tasks/<id>."""
import gevent

state = {'next': 0, 'greenlets': [], 'results': {}}


def spawn(work):
    """Runs `work` (returning {'result', 'message'[, 'status_code']}) as a task; its id."""
    task_id = state['next']
    state['next'] += 1

    def run():
        try:
            result = work()
        except Exception as e:  # rotki turns any exception into this outcome
            result = {'result': None, 'message': f'The backend query task died unexpectedly: {e}'}
        state['results'][task_id] = result

    greenlet = gevent.spawn(run)
    greenlet.task_id = task_id
    state['greenlets'].append(greenlet)
    return task_id


def listing():
    ids = [g.task_id for g in state['greenlets']]
    return {
        'pending': [i for i in ids if i not in state['results']],
        'completed': [i for i in ids if i in state['results']],
    }


def poll(task_id):
    """(status code, body) of GET /api/1/tasks/<id>."""
    greenlet = next((g for g in state['greenlets'] if g.task_id == task_id), None)
    if greenlet is None:
        return 404, {'result': {'status': 'not-found', 'outcome': None}, 'message': f'No task with id {task_id} found'}
    if task_id not in state['results']:
        return 200, {
            'result': {'status': 'pending', 'outcome': None},
            'message': f'The task with id {task_id} is still pending',
        }
    state['greenlets'].remove(greenlet)
    outcome = dict(state['results'].pop(task_id))
    status_code = outcome.pop('status_code', None)
    result = {'status': 'completed', 'outcome': outcome}
    if status_code is not None:
        result['status_code'] = status_code
    return 200, {'result': result, 'message': ''}


def cancel(task_id):
    """(status code, body) of DELETE /api/1/tasks/<id>: only a running task is cancelled."""
    greenlet = next(
        (g for g in state['greenlets'] if g.task_id == task_id and task_id not in state['results']), None,
    )
    if greenlet is None:
        return 404, {'result': None, 'message': f'Did not cancel task with id {task_id} because it could not be found'}
    greenlet.kill()
    state['greenlets'].remove(greenlet)
    return 200, {'result': True, 'message': ''}


def end_all():
    """What rotki does to its tasks at a logout: every greenlet killed, every result forgotten;
    the ids go on counting."""
    gevent.killall(state['greenlets'])
    state['greenlets'].clear()
    state['results'].clear()
