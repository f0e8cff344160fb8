//! Where the command line (and the Python client) find the server and the token: flags, then
//! `DEPOT_URL` / `DEPOT_TOKEN`, then a profile in `$DEPOT_CONFIG_DIR/credentials.toml` (default
//! `~/.config/depot/credentials.toml`), written by `depot login` readable by its owner only:
//!
//! ```toml
//! [profiles.default]
//! url = "http://127.0.0.1:8080"
//! token = "depot_..."
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::CliError;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Credentials {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// One server and the token to use there.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    pub url: Option<String>,
    pub token: Option<String>,
}

/// Never prints the token.
impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile").field("url", &self.url).field("token", &self.token.as_ref().map(|_| "…")).finish()
    }
}

/// The credentials file.
pub fn path() -> PathBuf {
    let dir = std::env::var_os("DEPOT_CONFIG_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        home.join(".config").join("depot")
    });
    dir.join("credentials.toml")
}

fn read() -> Result<Credentials, CliError> {
    let path = path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::default()),
        Err(e) => return Err(CliError::usage(format!("cannot read {}: {e}", path.display()))),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode()).unwrap_or(0);
        if mode & 0o077 != 0 {
            return Err(CliError::usage(format!(
                "{} is readable by others (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    toml::from_str(&text).map_err(|e| CliError::usage(format!("{} is not valid: {e}", path.display())))
}

/// The named profile (`default` when none is named); empty when there is none.
pub fn load(name: &str) -> Result<Profile, CliError> {
    Ok(read()?.profiles.remove(name).unwrap_or_default())
}

/// Saves a profile, creating the file (mode 0600) or replacing that profile in it.
pub fn save(name: &str, profile: Profile) -> Result<PathBuf, CliError> {
    let mut credentials = read()?;
    credentials.profiles.insert(name.to_owned(), profile);
    let path = path();
    let text = toml::to_string(&credentials).map_err(|e| CliError::usage(format!("cannot write credentials: {e}")))?;
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let staged = path.with_extension("toml.tmp");
        let _ = std::fs::remove_file(&staged);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&staged)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        #[cfg(unix)]
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&staged, &path)
    };
    write().map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}
