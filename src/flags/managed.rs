//! Who owns the flags file. Banyan writes it (admin API, guards, ramps) only where it is
//! the source of truth: a writable file of its own. A Kubernetes ConfigMap mount, a file
//! marked read-only or a read-only mount is managed elsewhere, and a change made here
//! would be lost on the next update or never reach the other replicas, so it is refused
//! with a message that says where to make it.
//!
//! At start banyan also looks for mounts that can never deliver a change: a file mounted
//! on its own (a ConfigMap with `subPath`, `docker run -v flags.toml:...`) keeps the inode
//! it was mounted with, so a ConfigMap update or an editor's rename never reaches it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Where the flags are managed, as `/api/flags` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// A file banyan may write; the target of any symlink, which stays in place.
    Banyan(PathBuf),
    /// Managed elsewhere: `kind` is `configmap` or `read-only`, `message` says where.
    Elsewhere { kind: &'static str, message: String },
}

/// Who manages the flags at `path`. `managed_by` is the operator's description of the
/// source (`flags_managed_by`, e.g. "the banyan-flags ConfigMap"), named in messages.
pub fn manager(path: &Path, managed_by: Option<&str>) -> Result<Manager, std::io::Error> {
    let by = managed_by.map(|b| format!(" Managed in: {b}.")).unwrap_or_default();
    if let Some(dir) = configmap_dir(path) {
        return Ok(Manager::Elsewhere {
            kind: "configmap",
            message: format!(
                "flags are managed by a Kubernetes ConfigMap mounted at {}: change the ConfigMap \
                 (kubectl edit configmap, or your GitOps repository); kubelet updates each replica's \
                 mount and every banyan applies it by itself.{by}",
                dir.display()
            ),
        });
    }
    let target = std::fs::canonicalize(path)?;
    let meta = std::fs::metadata(&target)?;
    // Root may write a file without write permission; ops who marked it read-only meant it.
    let refused = if meta.permissions().readonly() {
        Some("the file is read-only".to_string())
    } else {
        match may_write(&target) {
            Ok(()) => None,
            Err(e) if is_refusal(&e) => Some(e.to_string()),
            Err(e) => return Err(e),
        }
    };
    Ok(match refused {
        None => Manager::Banyan(target),
        Some(why) => Manager::Elsewhere {
            kind: "read-only",
            message: format!(
                "{} cannot be written here ({why}): flags are managed elsewhere; change them there, \
                 or make the file writable.{by}",
                target.display()
            ),
        },
    })
}

/// Whether this process may write `path` (a read-only mount refuses even root), asked
/// without opening it: closing a file opened for writing is an event the watcher would
/// take for an edit, and `/api/flags` asks on every dashboard poll.
#[cfg(unix)]
fn may_write(path: &Path) -> Result<(), std::io::Error> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call, which only reads it.
    match unsafe { libc::access(c.as_ptr(), libc::W_OK) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(not(unix))]
fn may_write(path: &Path) -> Result<(), std::io::Error> {
    std::fs::OpenOptions::new().write(true).open(path).map(drop)
}

/// Whether an error writing the flags file means it is managed elsewhere (permission, a
/// read-only mount) rather than a fault.
pub fn is_refusal(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EROFS)
}

/// The root of the ConfigMap (or Secret, or projected) volume that `path` is in: kubelet
/// publishes each version in a `..<timestamp>` directory and swaps the `..data` symlink to
/// it, with the visible names linking through `..data`. The file may sit in a directory
/// of the volume (an `items` path such as `banyan/flags.toml`) or be named through
/// `..data`: either way it is the root that survives an update, so the root is what the
/// watcher follows.
pub fn configmap_dir(path: &Path) -> Option<PathBuf> {
    let parent = parent(path);
    parent.ancestors().find(|dir| is_symlink(&dir.join("..data"))).map(Path::to_path_buf)
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// What to warn about at start: ways of mounting the flags file under which changes never
/// arrive.
pub fn start_warnings(path: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if mount_points(&mountinfo).any(|m| m == canonical) {
        warnings.push(format!(
            "{} is a mount point of its own (a Kubernetes subPath mount, or a single-file bind mount such as \
             `docker run -v ./flags.toml:...`): it keeps the file it was mounted with, so a ConfigMap update or \
             an editor saving the file on the host never reaches banyan. Mount the directory that holds it \
             instead (docs/deploy.md)",
            path.display()
        ));
    }
    // `..2026_11_21_10_00_00.123`: one version of a ConfigMap, deleted by the next update.
    let versioned = path.components().find(|c| {
        let name = c.as_os_str().to_string_lossy();
        name.starts_with("..") && name.len() > 2 && name != "..data" && name.as_bytes()[2].is_ascii_digit()
    });
    if let Some(component) = versioned {
        warnings.push(format!(
            "{} goes through {}, one version of a ConfigMap that kubelet deletes on the next update: \
             point `flags` at the file in the ConfigMap's directory, which follows `..data`",
            path.display(),
            component.as_os_str().to_string_lossy()
        ));
    }
    warnings
}

/// The mount points listed in `/proc/self/mountinfo` (field 5, octal escapes undone).
fn mount_points(mountinfo: &str) -> impl Iterator<Item = PathBuf> + '_ {
    mountinfo.lines().filter_map(|line| line.split(' ').nth(4)).map(unescape)
}

/// Undoes mountinfo's `\040`-style escapes of space, tab, newline and backslash.
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal =
            bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(OsStr::from_bytes(&out))
    }
    #[cfg(not(unix))]
    PathBuf::from(String::from_utf8_lossy(&out).into_owned())
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kubelet `subPath` mount of a ConfigMap key, as a pod's mountinfo shows it.
    const SUBPATH: &str = "\
1290 1270 0:345 / / rw,relatime master:412 - overlay overlay rw,lowerdir=/var/lib/containerd/a\n\
1301 1290 0:350 /..2026_11_21_10_00_00.1/flags.toml /etc/banyan/flags.toml ro,relatime - tmpfs tmpfs rw,size=65536k\n\
1302 1290 0:351 / /etc/banyan/my\\040flags ro,relatime - tmpfs tmpfs rw\n";

    #[test]
    fn mount_points_are_read_with_escapes_undone() {
        let points: Vec<_> = mount_points(SUBPATH).collect();
        assert_eq!(
            points,
            [PathBuf::from("/"), PathBuf::from("/etc/banyan/flags.toml"), PathBuf::from("/etc/banyan/my flags")]
        );
    }

    #[test]
    fn a_path_through_a_configmap_version_is_warned_about() {
        let warnings = start_warnings(Path::new("/nonexistent/..2026_11_21_10_00_00.123/flags.toml"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("..2026_11_21_10_00_00.123"), "{warnings:?}");
        assert!(start_warnings(Path::new("/nonexistent/..data/flags.toml")).is_empty());
    }
}
