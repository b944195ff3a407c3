//! Registry logins kept in the operating system's keyring (the kernel keyring on Linux, the
//! Keychain on macOS, the Credential Manager on Windows), only when the user asks
//! (`--remember`): never in a file of ours, never in the app's saved state.

use serde::{Deserialize, Serialize};

use super::auth::Credential;

/// The keyring service name entries are filed under.
const SERVICE: &str = "layerslayer";

#[derive(Serialize, Deserialize)]
struct StoredLogin {
    username: String,
    password: String,
}

fn entry(registry: &str) -> Result<keyring::Entry, String> {
    keyring::Entry::new(SERVICE, registry)
        .map_err(|e| format!("the OS keyring cannot be used: {e}"))
}

/// Stores a username/password login for `registry` (as written in references, e.g.
/// `ghcr.io`) in the OS keyring.
pub fn remember(registry: &str, credential: &Credential) -> Result<(), String> {
    let Credential::Basic { username, password } = credential else {
        return Err("only a username and password can be remembered".into());
    };
    let secret = serde_json::to_string(&StoredLogin {
        username: username.clone(),
        password: password.clone(),
    })
    .map_err(|e| e.to_string())?;
    entry(registry)?.set_password(&secret).map_err(|e| match e {
        // keyutils without a session keyring (a container, a session without pam_keyinit).
        keyring::Error::NoEntry => {
            "could not store the login in the OS keyring: this session has no keyring".into()
        }
        e => format!("could not store the login in the OS keyring: {e}"),
    })
}

/// The login stored for `registry`, if the keyring holds one.
pub fn recall(registry: &str) -> Option<Credential> {
    let secret = entry(registry).ok()?.get_password().ok()?;
    let login: StoredLogin = serde_json::from_str(&secret).ok()?;
    Some(Credential::Basic {
        username: login.username,
        password: login.password,
    })
}

/// Deletes the login stored for `registry`; true when there was one.
pub fn forget(registry: &str) -> bool {
    entry(registry).is_ok_and(|entry| entry.delete_credential().is_ok())
}
