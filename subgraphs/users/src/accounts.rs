//! What the users service does, whatever the transport: register, log in, read profiles, and
//! bootstrap the first admin.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use auth::{AccessToken, Caller, JwkSet, Role, ServiceCaller, TokenIssuer};
use secrecy::{ExposeSecret, SecretString};
use storage::StoreError;
use uuid::Uuid;
use web::http::ClientAddr;

use crate::domain::{Email, Name, Password, Registration, User};
use crate::error::Error;
use crate::store::{NewUser, UserStore};
use crate::throttle::{KNOWN_FOR, LoginThrottle, address_key};

/// The users service's one place for rules and authorization: REST and GraphQL call this and
/// never the store.
pub struct Accounts {
    store: Arc<dyn UserStore>,
    issuer: Arc<TokenIssuer>,
    throttle: LoginThrottle,
}

impl Accounts {
    /// `hashing_threads` sizes the process's password hashing pool when it is first made.
    pub fn new(
        store: Arc<dyn UserStore>,
        issuer: Arc<TokenIssuer>,
        throttle: LoginThrottle,
        hashing_threads: usize,
    ) -> Self {
        hashing_pool(hashing_threads);
        Self {
            store,
            issuer,
            throttle,
        }
    }

    /// The public keys that verify this service's tokens (`/.well-known/jwks.json`).
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.issuer.public_key().jwk()],
        }
    }

    pub fn issuer(&self) -> &Arc<TokenIssuer> {
        &self.issuer
    }

    /// Whether the store answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Creates a customer account. Each registration costs a password hash, so an address may
    /// start only so many per window (see [`crate::throttle`]), and a taken email is refused
    /// before hashing.
    #[tracing::instrument(skip_all, fields(client = %client))]
    pub async fn register(
        &self,
        registration: Registration,
        client: ClientAddr,
    ) -> Result<User, Error> {
        // Throttled first, so that the check below cannot enumerate accounts for free.
        let slot = self
            .throttle
            .register(address_key(client.0))
            .map_err(Error::TooManyAttempts)?;
        if self.store.credentials(&registration.email).await?.is_some() {
            slot.used();
            return Err(Error::EmailTaken);
        }
        // A registration turned away by a full hashing queue drops `slot` unused: not counted.
        let created = self
            .create(registration, Role::Customer, Priority::Registration)
            .await;
        if !matches!(created, Err(Error::Busy)) {
            slot.used();
        }
        created
    }

    async fn create(
        &self,
        registration: Registration,
        role: Role,
        priority: Priority,
    ) -> Result<User, Error> {
        let Registration {
            email,
            password,
            name,
        } = registration;
        let password_hash = hash_password(password, priority).await?;
        let new = NewUser {
            id: Uuid::now_v7(),
            email,
            name,
            role,
            password_hash,
            created_at: chrono::Utc::now(),
        };
        match self.store.insert(&new).await {
            Ok(user) => {
                tracing::info!(user_id = %user.id, role = role.as_str(), "user registered");
                Ok(user)
            }
            Err(StoreError::Conflict(_)) => Err(Error::EmailTaken),
            Err(other) => Err(other.into()),
        }
    }

    /// Checks the password and issues an access token. An unknown email and a wrong password
    /// answer alike, and take alike long (a dummy hash is checked), so the answer never tells
    /// whether an account exists. The attempt is reserved with the throttle before anything is
    /// hashed (see [`crate::throttle`]); a refused one answers `TooManyAttempts` unchecked.
    #[tracing::instrument(skip_all, fields(client = %client))]
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        client: ClientAddr,
    ) -> Result<(AccessToken, User), Error> {
        let parsed = Email::parse(email).ok();
        let throttle_key = parsed
            .as_ref()
            .map_or_else(|| raw_key(email), |e| e.as_str().to_owned());
        let credentials = match &parsed {
            Some(email) => self.store.credentials(email).await?,
            None => None,
        };
        let (hash, user) =
            credentials.map_or((None, None), |c| (Some(c.password_hash), Some(c.user)));
        // Asked whether or not the account exists, so both take alike long.
        let address = address_key(client.0);
        let address_text = address.map(|a| a.to_string()).unwrap_or_default();
        let since = chrono::Utc::now() - chrono::Duration::from_std(KNOWN_FOR).unwrap_or_default();
        let known = self
            .store
            .known_address(
                user.as_ref().map_or(Uuid::nil(), |u| u.id),
                &address_text,
                since,
            )
            .await?
            && address.is_some();
        let attempt = self
            .throttle
            .begin(&throttle_key, address, known)
            .map_err(Error::TooManyAttempts)?;
        // From here every early return drops `attempt`, which releases it unrecorded.
        let priority = if known {
            Priority::KnownLogin
        } else {
            Priority::Login
        };
        let matches = verify_password(password, hash, priority).await?;
        match user {
            Some(user) if matches => {
                attempt.succeeded();
                if address.is_some() {
                    let now = chrono::Utc::now();
                    if let Err(err) = self
                        .store
                        .remember_address(user.id, &address_text, now, since)
                        .await
                    {
                        tracing::warn!(error = %web::ApiError::from(err), "could not remember the login address");
                    }
                }
                let token = self.issuer.issue(user.id, user.role)?;
                tracing::info!(user_id = %user.id, "login succeeded");
                Ok((token, user))
            }
            _ => {
                attempt.failed();
                tracing::info!("login failed");
                Err(Error::InvalidCredentials)
            }
        }
    }

    /// A profile the caller may see: their own, or any for an admin. Others answer not-found, so
    /// ids of other accounts cannot be probed.
    pub async fn profile(&self, caller: &Caller, id: Uuid) -> Result<User, Error> {
        if !caller.can_act_for(id) {
            return Err(Error::NotFound);
        }
        self.store.get(id).await?.ok_or(Error::NotFound)
    }

    /// For the other services: the account with `id`.
    pub async fn summary(&self, _service: &ServiceCaller, id: Uuid) -> Result<User, Error> {
        self.store.get(id).await?.ok_or(Error::NotFound)
    }

    /// The users among `ids` that `viewer` may see (themselves, or anyone for an admin; nobody
    /// for an anonymous caller), in one store query: what federation entity lookups resolve.
    pub async fn visible_users(
        &self,
        viewer: Option<Caller>,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, User>, Error> {
        let Some(viewer) = viewer else {
            return Ok(HashMap::new());
        };
        let visible: Vec<Uuid> = ids
            .iter()
            .copied()
            .filter(|id| viewer.can_act_for(*id))
            .collect();
        let users = self.store.get_many(&visible).await?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }

    /// Ensures an admin account with `email` exists, creating it with `password` if missing.
    /// Idempotent, and safe with several replicas starting at once. An existing admin keeps its
    /// password. An existing account that is *not* an admin is never promoted (whoever registered
    /// that address first would become admin): start-up fails and says so.
    pub async fn bootstrap_admin(
        &self,
        email: &str,
        password: &SecretString,
    ) -> anyhow::Result<()> {
        let email = Email::parse(email).map_err(|e| anyhow::anyhow!("ADMIN_EMAIL: {e}"))?;
        if self.existing_admin(&email).await? {
            tracing::info!(email = email.as_str(), "admin account present");
            return Ok(());
        }
        let password = Password::parse(password.expose_secret().to_owned())
            .map_err(|e| anyhow::anyhow!("ADMIN_PASSWORD: {e}"))?;
        let registration = Registration {
            email: email.clone(),
            password,
            name: Name::parse("Administrator")?,
        };
        match self
            .create(registration, Role::Admin, Priority::Registration)
            .await
        {
            Ok(_) => tracing::info!(email = email.as_str(), "admin account created"),
            // Another replica created it between our two statements; it must be the admin.
            Err(Error::EmailTaken) => {
                self.existing_admin(&email).await?;
            }
            Err(other) => return Err(anyhow::anyhow!(other)),
        }
        Ok(())
    }

    /// The account with `email`, created as a customer with `password` if missing: the demo
    /// customer of `ecommerce up`. An existing account is returned as it is.
    pub async fn ensure_customer(
        &self,
        email: &str,
        password: &SecretString,
        name: &str,
    ) -> anyhow::Result<User> {
        let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(existing) = self.store.credentials(&email).await? {
            return Ok(existing.user);
        }
        let registration = Registration {
            email,
            password: Password::parse(password.expose_secret().to_owned())
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            name: Name::parse(name)?,
        };
        Ok(self
            .create(registration, Role::Customer, Priority::Registration)
            .await
            .map_err(|e| anyhow::anyhow!(e))?)
    }

    /// Whether `email` names an admin account; an error when it names another account.
    async fn existing_admin(&self, email: &Email) -> anyhow::Result<bool> {
        match self.store.credentials(email).await? {
            None => Ok(false),
            Some(existing) if existing.user.role == Role::Admin => Ok(true),
            Some(_) => anyhow::bail!(
                "ADMIN_EMAIL {} belongs to an existing account that is not an admin; refusing to \
                 make it one. Choose another ADMIN_EMAIL, or remove that account.",
                email.as_str()
            ),
        }
    }
}

/// Password hashing runs on its own threads: each argon2id hash holds 19 MiB and a core for
/// ~50 ms, so more at once only adds latency, and spreading hashes over the shared blocking pool
/// let every thread grow its own allocator arena (4 GiB under a login burst, measured with
/// scripts/bench.sh). The queues are bounded: when one is full, its callers answer 503 at once
/// instead of piling up work nobody will wait for. Logins from addresses the account logged in
/// from before go first, then other logins, then registrations: a flood of strangers' logins or
/// of registrations never keeps an owner from logging in.
struct HashingPool {
    queues: std::sync::Mutex<Queues>,
    ready: std::sync::Condvar,
    threads: usize,
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queues {
    known_logins: std::collections::VecDeque<Job>,
    logins: std::collections::VecDeque<Job>,
    registrations: std::collections::VecDeque<Job>,
}

/// Which queue a hash waits in, first served first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Priority {
    KnownLogin,
    Login,
    Registration,
}

/// Hashes waiting per hashing thread before a queue's callers are turned away.
const QUEUED_KNOWN_LOGINS_PER_THREAD: usize = 16;
const QUEUED_LOGINS_PER_THREAD: usize = 32;
const QUEUED_REGISTRATIONS_PER_THREAD: usize = 4;

static HASHING: OnceLock<Arc<HashingPool>> = OnceLock::new();

impl HashingPool {
    fn submit(&self, priority: Priority, job: Job) -> Result<(), Error> {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (queue, capacity) = match priority {
            Priority::KnownLogin => (&mut queues.known_logins, QUEUED_KNOWN_LOGINS_PER_THREAD),
            Priority::Login => (&mut queues.logins, QUEUED_LOGINS_PER_THREAD),
            Priority::Registration => (&mut queues.registrations, QUEUED_REGISTRATIONS_PER_THREAD),
        };
        if queue.len() >= capacity * self.threads {
            return Err(Error::Busy);
        }
        queue.push_back(job);
        self.ready.notify_one();
        Ok(())
    }

    fn next(&self) -> Job {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            if let Some(job) = queues
                .known_logins
                .pop_front()
                .or_else(|| queues.logins.pop_front())
                .or_else(|| queues.registrations.pop_front())
            {
                return job;
            }
            queues = self
                .ready
                .wait(queues)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// The process's hashing pool, made with `threads` threads on first use.
fn hashing_pool(threads: usize) -> &'static Arc<HashingPool> {
    HASHING.get_or_init(|| {
        let pool = Arc::new(HashingPool {
            queues: std::sync::Mutex::default(),
            ready: std::sync::Condvar::new(),
            threads: threads.max(1),
        });
        for n in 0..pool.threads {
            let worker = pool.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-{n}"))
                .spawn(move || {
                    loop {
                        let job = worker.next();
                        // A panicking job must not take the thread with it.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(%err, "cannot start a password hashing thread");
            }
        }
        tracing::info!(threads = pool.threads, "password hashing pool started");
        pool
    })
}

/// Runs password work on the hashing threads, in the caller's span. Work whose caller has gone
/// (the request timed out or the client left) is skipped rather than run for nobody.
async fn hashing<T: Send + 'static>(
    name: &'static str,
    priority: Priority,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    let (done, result) = tokio::sync::oneshot::channel();
    let span = tracing::info_span!("password", op = name);
    let job = Box::new(move || {
        if !done.is_closed() {
            let _ = done.send(span.in_scope(work));
        }
    });
    // Made by `Accounts::new` with the configured size; one thread if somehow not.
    hashing_pool(1).submit(priority, job)?;
    Ok(result
        .await
        .map_err(|_| anyhow::anyhow!("password hashing failed"))?)
}

/// argon2id with the crate's defaults (m = 19 MiB, t = 2, p = 1), on a blocking thread so a
/// burst of logins never stalls the async workers.
async fn hash_password(password: Password, priority: Priority) -> Result<String, Error> {
    hashing("hash", priority, move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await?
    .map_err(|e| anyhow::anyhow!("hashing failed: {e}").into())
}

/// Checks `password` against `hash`; without a hash (unknown email) against a dummy one, so both
/// take as long.
async fn verify_password(
    password: SecretString,
    hash: Option<String>,
    priority: Priority,
) -> Result<bool, Error> {
    hashing("verify", priority, move || {
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
    .await
}

/// The throttle key for input that is not an email: trimmed, lower-cased, bounded.
fn raw_key(input: &str) -> String {
    input
        .trim()
        .to_lowercase()
        .chars()
        .take(Email::MAX_LEN)
        .collect()
}

/// A valid hash of a random password, checked when the email is unknown.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(Uuid::new_v4().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}
