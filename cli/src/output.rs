//! Outputs appear whole or not at all: each is written to a temporary file
//! in the destination's directory and renamed over the destination when
//! complete. A failed or interrupted run deletes its temporary file (a
//! killed one may leave it, but never a partial file at the output path).
//! An output that is the input (same file by any path) is refused.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};

/// A temporary file that becomes `dest` on [`PendingOutput::commit`] and is
/// deleted if dropped before.
#[derive(Debug)]
pub struct PendingOutput {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl PendingOutput {
    /// Picks the temporary path `.NAME.PID.N.tmp` beside `dest` (not created yet).
    pub fn new(dest: &Path) -> Result<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = dest.file_name().with_context(|| format!("output {} has no file name", dest.display()))?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dest.with_file_name(format!(".{}.{}.{n}.tmp", name.to_string_lossy(), std::process::id()));
        Ok(Self { tmp, dest: dest.to_path_buf(), committed: false })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Flushes the temporary file to disk and renames it to the destination.
    pub fn commit(mut self) -> Result<()> {
        let file = std::fs::File::open(&self.tmp).with_context(|| format!("cannot write {}", self.dest.display()))?;
        file.sync_all().with_context(|| format!("cannot write {}", self.dest.display()))?;
        std::fs::rename(&self.tmp, &self.dest).with_context(|| format!("cannot write {}", self.dest.display()))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PendingOutput {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Whether `a` and `b` name the same existing file or directory: the same
/// canonical path (symlinks, `..`, `./`) or the same inode (hard links).
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(x), Ok(y)) = (a.canonicalize(), b.canonicalize())
        && x == y
    {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// Refuses an output that would replace the input.
pub fn refuse_input_as_output(input: &Path, output: &Path) -> Result<()> {
    if same_file(input, output) {
        bail!("output {} is the input; choose another path", output.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_outputs_leave_nothing_and_committed_ones_appear_whole() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let pending = PendingOutput::new(&dest).unwrap();
        std::fs::write(pending.path(), b"half").unwrap();
        assert!(!dest.exists());
        drop(pending);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "temporary file removed");

        let pending = PendingOutput::new(&dest).unwrap();
        std::fs::write(pending.path(), b"whole").unwrap();
        pending.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn same_file_sees_through_links_and_dots() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.png");
        std::fs::write(&a, b"x").unwrap();
        let sym = dir.path().join("sym.png");
        std::os::unix::fs::symlink(&a, &sym).unwrap();
        let hard = dir.path().join("hard.png");
        std::fs::hard_link(&a, &hard).unwrap();
        let dotted = dir.path().join(".").join("sub").join("..").join("a.png");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for other in [&a, &sym, &hard, &dotted] {
            assert!(same_file(&a, other), "{}", other.display());
            assert!(refuse_input_as_output(&a, other).is_err());
        }
        assert!(!same_file(&a, &dir.path().join("b.png")), "a missing output is not the input");
        std::fs::write(dir.path().join("c.png"), b"x").unwrap();
        assert!(!same_file(&a, &dir.path().join("c.png")));
    }
}
