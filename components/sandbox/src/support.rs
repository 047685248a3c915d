//! Small helpers the sandboxes share: a seedable generator for fault choices, random ids, time
//! formats, constant-time comparison and atomic file writes.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use ivi::model::{Date, Value};

use crate::{Error, Result};

/// Seeds from the operating system's generator; a failure only makes the pattern predictable.
pub(crate) fn os_seed() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0x5EED;
    }
    u64::from_le_bytes(bytes)
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, good enough to pick which request fails.
/// Not for anything secret: tokens and keys use the operating system's CSPRNG.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        // The modulo bias is negligible for the small bounds used here.
        self.next() % bound.max(1)
    }

    pub fn percent(&mut self, percent: u8) -> bool {
        percent > 0 && self.below(100) < u64::from(percent)
    }
}

/// FNV-1a 64: a stable hash of a key, to mix into a seed (not for anything adversarial).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// `count` random bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes(count: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; count];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes)
}

/// `count` random bytes as lowercase hex.
pub(crate) fn random_hex(count: usize) -> Result<String> {
    Ok(random_bytes(count)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A random UUID version 4 (RFC 9562 section 5.4), lowercase.
pub(crate) fn uuid_v4() -> Result<String> {
    let mut b = random_bytes(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// `a == b` without an early exit (secrets, API keys).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Calendar date and time of day (UTC) of `time`: the date, then (hour, minute, second).
fn civil(time: SystemTime) -> (Date, (u64, u64, u64)) {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let rem = secs % 86_400;
    (
        Date::from_unix_days(days),
        (rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

/// RFC 3339 UTC timestamp with second precision, e.g. `2026-11-21T15:43:17Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let (date, (h, mi, s)) = civil(time);
    format!("{}T{h:02}:{mi:02}:{s:02}Z", date.format())
}

/// RFC 5322 section 3.3 date, e.g. `Sat, 21 Nov 2026 15:43:17 +0000`.
pub(crate) fn rfc5322_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (date, (h, mi, s)) = civil(time);
    let day_name = DAYS
        .get((date.iso_weekday() as usize).saturating_sub(1))
        .copied()
        .unwrap_or("Mon");
    let month_name = MONTHS
        .get((date.month as usize).saturating_sub(1))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{day_name}, {:02} {month_name} {:04} {h:02}:{mi:02}:{s:02} +0000",
        date.day, date.year
    )
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees half a file, and fsyncs the data before the rename. `secret` makes the file
/// mode 0600 (Unix).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    replace(path, bytes, secret, true)
}

/// As [`write_atomic`], without the fsync: for a file that only mirrors state kept elsewhere (a
/// NAP submission's metadata, which its journal holds). A process crash loses nothing, the kernel
/// holds the pages; after a power cut the file may be missing or hold its previous version.
pub(crate) fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, false, false)
}

fn replace(path: &Path, bytes: &[u8], secret: bool, sync: bool) -> Result<()> {
    let io = |source| Error::StateIo {
        path: path.to_owned(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", random_hex(6)?));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let written = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_data()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
}

/// Creates `dir` (and parents).
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::StateIo {
        path: dir.to_owned(),
        source,
    })
}

/// File a sandbox reads its starting faults from, in its state folder, when no `--faults` is given.
pub const FAULTS_JSON: &str = "faults.json";

/// Reads the starting fault configuration: `explicit` (a `--faults FILE`, which must exist), else
/// `<state_dir>/faults.json` when present, else the defaults.
///
/// # Errors
/// [`Error::Faults`] when the file is missing (explicit only) or invalid, [`Error::StateIo`] when
/// it cannot be read.
pub(crate) fn read_faults<F: Default>(
    explicit: Option<&Path>,
    state_dir: &Path,
    parse: impl Fn(&str) -> Result<F>,
) -> Result<F> {
    let path = explicit.map_or_else(|| state_dir.join(FAULTS_JSON), Path::to_path_buf);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).map_err(|e| Error::Faults(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match explicit {
            Some(_) => Err(Error::Faults(format!(
                "fault file {} does not exist",
                path.display()
            ))),
            None => Ok(F::default()),
        },
        Err(source) => Err(Error::StateIo { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_match_known_values() {
        // 2026-11-21 15:43:17 UTC is 1795275797 seconds after the epoch (`date -u -d @1795275797`).
        let t = UNIX_EPOCH + Duration::from_secs(1_795_275_797);
        assert_eq!(rfc3339(t), "2026-11-21T15:43:17Z");
        assert_eq!(rfc5322_date(t), "Sat, 21 Nov 2026 15:43:17 +0000");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc5322_date(leap), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid_v4().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_ne!(u, uuid_v4().unwrap());
    }

    #[test]
    fn fault_file_explicit_must_exist_default_may_not() {
        let dir = tempfile::tempdir().unwrap();
        let parse = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|e| Error::Faults(e.to_string()))
        };
        assert_eq!(read_faults(None, dir.path(), parse).unwrap(), 0);
        let missing = dir.path().join("nope.json");
        let err = read_faults(Some(&missing), dir.path(), parse).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        std::fs::write(dir.path().join(FAULTS_JSON), "7").unwrap();
        assert_eq!(read_faults(None, dir.path(), parse).unwrap(), 7);
        std::fs::write(dir.path().join(FAULTS_JSON), "x").unwrap();
        let err = read_faults(None, dir.path(), parse).unwrap_err();
        assert!(err.to_string().contains(FAULTS_JSON), "{err}");
    }
}
