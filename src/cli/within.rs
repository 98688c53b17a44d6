//! What the measuring commands may read and how they print what they were given: a photo named by a
//! labels or pairs file is read only when it resolves (links followed) to a file under the folder it
//! is named relative to, and labels are escaped for Markdown. A labels file is the operator's, but it
//! is often made by someone else (a data vendor, a script): it must not make the command open
//! `/etc/passwd` or forge rows of the report.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// `name` under `dir` (as `dir/name`, so reports keep the name they were given): refused when
/// absolute, or when it resolves outside `dir` (`..`, a link). Checked when the list is read; a
/// link swapped between then and the read is not (the operator's own folder).
pub fn within(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    if Path::new(name).is_absolute() {
        bail!("{name}: photos are named relative to {}, not by absolute paths", dir.display());
    }
    let root = dir.canonicalize().with_context(|| dir.display().to_string())?;
    let path = dir.join(name);
    if !path.exists() {
        // Nothing to resolve: a missing photo is reported as unreadable where it is read, unless
        // its name climbs out of the folder.
        if Path::new(name).components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            bail!("{name}: climbs out of {}; only photos under it are read", dir.display());
        }
        return Ok(path);
    }
    let resolved = path.canonicalize().with_context(|| path.display().to_string())?;
    if !resolved.starts_with(&root) {
        bail!("{name}: resolves outside {} (links are followed); only photos under it are read", dir.display());
    }
    Ok(path)
}

/// A labelled set, `dir/<label>/<file>`: each subfolder's name and its files that `keep` accepts,
/// both sorted. Links are followed only to files under `dir`, as in a labels or pairs file.
pub fn labelled(dir: &Path, keep: impl Fn(&Path) -> bool) -> anyhow::Result<Vec<(String, Vec<PathBuf>)>> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let mut set = Vec::with_capacity(folders.len());
    for folder in folders {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| keep(p))
            .map(|p| within(dir, &p.strip_prefix(dir).unwrap_or(&p).to_string_lossy()))
            .collect::<anyhow::Result<_>>()?;
        files.sort();
        set.push((folder.file_name().unwrap_or_default().to_string_lossy().into_owned(), files));
    }
    Ok(set)
}

/// `text` as one Markdown table cell: pipes, markup and line breaks cannot end the cell or add rows.
pub fn markdown_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_outside_the_folder_is_refused_however_it_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let set = dir.path().join("set");
        std::fs::create_dir_all(set.join("a")).unwrap();
        std::fs::write(set.join("a/p.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"s").unwrap();
        assert_eq!(within(&set, "a/p.jpg").unwrap(), set.join("a/p.jpg"), "the name as given");
        assert!(within(&set, "/etc/passwd").is_err());
        assert!(within(&set, "../secret.txt").is_err());
        assert!(within(&set, "a/../../secret.txt").is_err());
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), set.join("link.jpg")).unwrap();
        assert!(within(&set, "link.jpg").is_err(), "a link out of the folder");
        assert_eq!(within(&set, "missing.jpg").unwrap(), set.join("missing.jpg"), "reported where it is read");
        assert!(within(&set, "../missing.jpg").is_err());
    }

    #[test]
    fn a_label_cannot_end_its_cell_or_add_a_row() {
        assert_eq!(markdown_cell("20-29"), "20-29");
        let hostile = markdown_cell("x | y\n| forged | row |");
        assert!(!hostile.contains('\n'));
        assert_eq!(hostile.matches('|').count(), hostile.matches("\\|").count());
        assert_eq!(markdown_cell("<b>*a*</b>"), "\\<b\\>\\*a\\*\\</b\\>");
    }
}
