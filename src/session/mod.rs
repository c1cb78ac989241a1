//! The session bridge: rotki's login, seen from banyan. Legacy stays the source of truth:
//! banyan watches the lifecycle requests that pass through it (`lifecycle.rs`, served by
//! `serve.rs` on hyper's path, where the byte-level path hands them), and opens the user's
//! SQLCipher database read-only only after legacy said a login or create succeeded. It
//! closes it on a logout, on a refused login, and when legacy goes away (`watch.rs`), so a
//! native handler never reads for a session legacy no longer has. Without an open session a
//! login-gated native handler hands the request to legacy, whose 401 is rotki's own.
//!
//! The password is kept only while the session is open (a database connection opened
//! later needs it) and is wiped when the session closes. `docs/session.md` has the model.

pub mod lifecycle;
mod serve;
mod watch;

pub use lifecycle::Step;
pub use serve::serve;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use zeroize::Zeroizing;

use crate::db::ReadDb;
use crate::legacy::Legacy;
use crate::native::tasks::Tasks;
use lifecycle::{plain_name, Claim, Outcome};

/// An async login's password is forgotten this long after its task started if its outcome
/// was never polled through banyan.
const PENDING_FOR: Duration = Duration::from_secs(600);

/// What banyan knows of legacy's session.
pub enum State {
    /// Not known: since banyan started, since legacy went away, or legacy has a session
    /// whose database banyan cannot open. Login-gated reads and the user list are legacy's.
    Unknown,
    /// Nobody is logged in (legacy said so: a logout, a refused login).
    Nobody,
    Open(Arc<Open>),
}

/// An open session: the user, and their database opened read-only.
pub struct Open {
    pub user: String,
    pub since: SystemTime,
    pub db: Arc<ReadDb>,
    /// rotki's default `active_modules`, in the order of legacy's process (a Python set's),
    /// as legacy's login answer showed it.
    pub default_modules: Option<Vec<String>>,
    /// Which opening this is, so a watcher of an earlier one never closes a later one.
    generation: u64,
}

/// An async login or create waiting for its task's outcome.
struct Pending {
    task: u64,
    user: String,
    password: Zeroizing<String>,
    since: Instant,
}

pub struct Sessions {
    /// `--data-dir`: where `users/<name>/rotkehlchen.db` is. Without it no session opens.
    data_dir: Option<PathBuf>,
    /// Read by every login-gated native request: lock-free.
    state: ArcSwap<State>,
    pending: Mutex<Vec<Pending>>,
    /// Whether `pending` has any entry: every task poll asks, almost always for nothing.
    any_pending: AtomicBool,
    /// One change at a time (an open runs SQLCipher's key derivation on a blocking thread).
    changing: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    /// Native tasks end with the session, as rotki's do at a logout.
    tasks: Arc<Tasks>,
    legacy: Arc<Legacy>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("data_dir", &self.data_dir).finish_non_exhaustive()
    }
}

impl Sessions {
    pub fn new(data_dir: Option<PathBuf>, tasks: Arc<Tasks>, legacy: Arc<Legacy>) -> Arc<Sessions> {
        Arc::new(Sessions {
            data_dir,
            state: ArcSwap::from_pointee(State::Unknown),
            pending: Mutex::default(),
            any_pending: AtomicBool::new(false),
            changing: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            tasks,
            legacy,
        })
    }

    pub fn state(&self) -> Arc<State> {
        self.state.load_full()
    }

    /// The open session, for a login-gated native read.
    pub fn open(&self) -> Option<Arc<Open>> {
        match &**self.state.load() {
            State::Open(open) => Some(open.clone()),
            _ => None,
        }
    }

    /// `<data-dir>/users`, where rotki keeps one directory per user.
    pub fn users_dir(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join("users"))
    }

    /// Whether `task` is an async login's or create's whose outcome banyan waits for.
    pub fn is_pending(&self, task: u64) -> bool {
        self.any_pending() && self.lock_pending().iter().any(|p| p.task == task)
    }

    /// Whether an async login or create is running at legacy.
    pub fn any_pending(&self) -> bool {
        self.any_pending.load(Ordering::Acquire)
    }

    /// Acts on legacy's answer to a lifecycle request: `status` and `body` are what the
    /// client gets.
    pub async fn after(self: &Arc<Self>, step: &Step, claim: Claim, status: u16, body: &[u8]) {
        let _one = self.changing.lock().await;
        match step {
            Step::Create => {
                if let Some(user) = claim.name {
                    self.login(user, claim.password, Outcome::of_login(status, body), body).await
                }
            }
            Step::Login(user) => self.login(user.clone(), claim.password, Outcome::of_login(status, body), body).await,
            Step::Account(user) if claim.logout && status == 200 => {
                self.close(State::Nobody, &format!("{user} logged out"));
            }
            Step::Account(_) => {}
            // rotki takes the user from the body here, not from the URL.
            Step::Password(user) if status == 200 => {
                let user = claim.name.as_deref().unwrap_or(user);
                self.rekey(user, claim.new_password).await
            }
            Step::Password(_) => {}
            Step::Task(id) => {
                if let Some(outcome) = Outcome::of_poll(status, body) {
                    if let Some(p) = self.take_pending(*id) {
                        self.login(p.user, Some(p.password), outcome, body).await;
                    }
                }
            }
            Step::CancelTask(id) if status == 200 => drop(self.take_pending(*id)),
            Step::CancelTask(_) => {}
        }
    }

    /// `answer`: legacy's answer to the login, whose settings show the default modules.
    async fn login(
        self: &Arc<Self>,
        user: String,
        password: Option<Zeroizing<String>>,
        outcome: Outcome,
        answer: &[u8],
    ) {
        match (outcome, password) {
            (Outcome::LoggedIn, Some(password)) => {
                let modules = lifecycle::active_modules(answer);
                self.open_db(user, &password, None, modules).await
            }
            (Outcome::LoggedIn, None) => {
                self.close(State::Unknown, &format!("{user} logged in, but banyan did not see the password"))
            }
            (Outcome::Task(task), Some(password)) => {
                let mut pending = self.lock_pending();
                pending.retain(|p| p.since.elapsed() < PENDING_FOR);
                pending.push(Pending { task, user, password, since: Instant::now() });
                self.any_pending.store(true, Ordering::Release);
            }
            (Outcome::Task(_), None) => {}
            (Outcome::Refused, _) => self.close(State::Nobody, &format!("legacy refused a login of {user}")),
            (Outcome::Unchanged, _) => {}
        }
    }

    /// The password changed: the database is keyed anew, so it is opened anew.
    async fn rekey(self: &Arc<Self>, user: &str, new_password: Option<Zeroizing<String>>) {
        let Some(open) = self.open().filter(|o| o.user == user) else { return };
        match new_password {
            Some(password) => {
                let (user, modules) = (open.user.clone(), open.default_modules.clone());
                self.open_db(user, &password, Some(open.since), modules).await
            }
            None => self.close(State::Unknown, "the password changed, but banyan did not see the new one"),
        }
    }

    async fn open_db(
        self: &Arc<Self>,
        user: String,
        password: &Zeroizing<String>,
        since: Option<SystemTime>,
        default_modules: Option<Vec<String>>,
    ) {
        let path = match self.db_path(&user) {
            Ok(path) => path,
            Err(why) => return self.close(State::Unknown, &format!("{user} logged in, but {why}")),
        };
        let password = password.clone();
        // SQLCipher derives the key from the password on open: slow on purpose.
        let opened = tokio::task::spawn_blocking(move || ReadDb::encrypted(path, &password)).await;
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(e)) => return self.close(State::Unknown, &format!("{user} logged in, but {e}")),
            Err(e) => return self.close(State::Unknown, &format!("{user} logged in, but opening failed: {e}")),
        };
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let rekeyed = since.is_some();
        let since = since.unwrap_or_else(SystemTime::now);
        let open = Arc::new(Open { user, since, db, default_modules, generation });
        tracing::info!(user = %open.user, db = %open.db.path().display(), rekeyed, "session open: native login-gated reads on");
        self.state.store(Arc::new(State::Open(open.clone())));
        tokio::spawn(watch::watch(self.clone(), generation, open.user.clone()));
    }

    /// Where `user`'s database is, or why banyan does not open it.
    fn db_path(&self, user: &str) -> Result<PathBuf, String> {
        let users = self.users_dir().ok_or("without a data_dir banyan cannot read their database")?;
        if !plain_name(user) {
            return Err(format!("{user:?} is not a directory name banyan opens"));
        }
        Ok(users.join(user).join("rotkehlchen.db"))
    }

    /// Opens `user`'s database as if legacy had logged them in, with no legacy to watch:
    /// `banyan replay`'s session. The error says why it did not open.
    pub async fn open_offline(self: &Arc<Self>, user: String, password: Zeroizing<String>) -> Result<(), String> {
        let _one = self.changing.lock().await;
        let path = self.db_path(&user)?;
        if !path.is_file() {
            return Err(format!("{} does not exist", path.display()));
        }
        let opened = tokio::task::spawn_blocking(move || ReadDb::encrypted(path, &password)).await;
        let db = opened.map_err(|e| format!("opening failed: {e}"))?.map_err(|e| e.to_string())?;
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let open = Open { user, since: SystemTime::now(), db, default_modules: None, generation };
        self.state.store(Arc::new(State::Open(Arc::new(open))));
        Ok(())
    }

    /// Closes the open session (if any) into `to`; native tasks end with it.
    fn close(&self, to: State, why: &str) {
        let nobody = matches!(to, State::Nobody);
        let was = self.state.swap(Arc::new(to));
        if nobody {
            // rotki forgets its task results at a logout: a pending login's outcome is gone.
            self.lock_pending().clear();
            self.any_pending.store(false, Ordering::Release);
        }
        if let State::Open(open) = &*was {
            let ended = self.tasks.end_all();
            tracing::info!(user = %open.user, native_tasks_ended = ended, "session closed: {why}");
        } else {
            tracing::info!("no session: {why}");
        }
    }

    /// Closes the session opened as `generation`, if it is still the open one.
    async fn close_opened(&self, generation: u64, to: State, why: &str) {
        let _one = self.changing.lock().await;
        if self.open().is_some_and(|o| o.generation == generation) {
            self.close(to, why);
        }
    }

    fn take_pending(&self, task: u64) -> Option<Pending> {
        let mut pending = self.lock_pending();
        let i = pending.iter().position(|p| p.task == task)?;
        let p = pending.swap_remove(i);
        self.any_pending.store(!pending.is_empty(), Ordering::Release);
        Some(p)
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `GET /api/session` on the admin listener: never a secret.
    pub fn describe(&self) -> serde_json::Value {
        let pending = self.lock_pending().len();
        match &*self.state() {
            State::Unknown => serde_json::json!({"state": "unknown", "pending_logins": pending}),
            State::Nobody => serde_json::json!({"state": "none", "pending_logins": pending}),
            State::Open(open) => {
                let since = open.since.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
                serde_json::json!({
                    "state": "open",
                    "user": open.user,
                    "since": httpdate::fmt_http_date(open.since),
                    "since_unix": since.as_secs(),
                    "database": open.db.path().display().to_string(),
                    "queries_running": open.db.running(),
                    "pending_logins": pending,
                })
            }
        }
    }
}
