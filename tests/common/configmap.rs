//! A directory laid out and updated the way kubelet lays out and updates a ConfigMap
//! volume (`AtomicWriter` in kubernetes/pkg/volume/util/atomic_writer.go): each version of
//! the data is written to a new `..<timestamp>` directory, a `..data_tmp` symlink to it is
//! renamed over `..data`, the visible names are symlinks through `..data`, and the old
//! version is deleted last. Nothing is ever written in place.

use std::path::{Path, PathBuf};

pub struct ConfigMapDir {
    dir: tempfile::TempDir,
    versions: u32,
}

impl ConfigMapDir {
    /// A volume holding `files` (key, content).
    pub fn new(files: &[(&str, &str)]) -> ConfigMapDir {
        let mut volume = ConfigMapDir { dir: tempfile::tempdir().unwrap(), versions: 0 };
        volume.update(files);
        volume
    }

    /// The mount's directory, as a pod sees it.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The visible path of `key`.
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.path().join(key)
    }

    /// Publishes a new version of the data, in kubelet's order.
    pub fn update(&mut self, files: &[(&str, &str)]) {
        let dir = self.dir.path();
        let data = dir.join("..data");
        // 2. The version serving now.
        let old = std::fs::read_link(&data).ok();
        // 5-6. A new timestamped directory with the payload (kubelet: MkdirTemp with the
        // prefix `..2006_01_02_15_04_05.`).
        self.versions += 1;
        let version = format!("..2026_11_21_10_00_{:02}.{}", self.versions % 60, 100_000 + self.versions);
        std::fs::create_dir(dir.join(&version)).unwrap();
        for (key, content) in files {
            // An `items` path such as `banyan/flags.toml` makes directories in the version.
            let file = dir.join(&version).join(key);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, content).unwrap();
        }
        // 7-8. `..data_tmp` -> the new version, renamed over `..data` (atomic).
        let tmp = dir.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &tmp).unwrap();
        std::fs::rename(&tmp, &data).unwrap();
        // 9. The visible names, through `..data`, for keys not there yet: the first
        // component of a nested path links to its directory.
        for (key, _) in files {
            let top = Path::new(key).components().next().unwrap().as_os_str();
            let visible = dir.join(top);
            if std::fs::symlink_metadata(&visible).is_err() {
                std::os::unix::fs::symlink(Path::new("..data").join(top), &visible).unwrap();
            }
        }
        // 11. The previous version goes.
        if let Some(old) = old {
            std::fs::remove_dir_all(dir.join(old)).unwrap();
        }
    }
}
