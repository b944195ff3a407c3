//! What an image's layers say beyond their listings: the bytes wasted on files a later layer
//! overwrote or removed, files with identical content, and risky files (setuid, setgid,
//! world-writable, secrets). Computed from listings alone, with no extra download; content
//! checks use the facts gathered while the layers streamed ([`Entry::content`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::model::{ContentHash, SecretContent};
use crate::model::{Entry, EntryKind, LayerListing, LayerStatus, MergedFilesystem};

/// How many of the largest files of the final filesystem a report lists.
pub const LARGEST_FILES: usize = 20;

/// The analysis of one image.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Sizes of all regular-file entries in all layers.
    pub total_bytes: u64,
    /// Sizes of the regular files visible in the final filesystem.
    pub final_bytes: u64,
    /// `total_bytes - final_bytes`: versions overwritten by a later layer, or removed by a
    /// whiteout or an opaque directory.
    pub wasted_bytes: u64,
    /// `final_bytes / total_bytes` (1.0 for an image without file data).
    pub efficiency: f64,
    /// Paths whose bytes are wasted, largest first.
    pub wasted: Vec<WastedPath>,
    /// Groups of final regular files (size ≥ 1) with identical content, largest waste first.
    pub duplicates: Vec<DuplicateGroup>,
    /// Risky entries of every layer (a secret removed by a later layer is still in the image).
    pub flags: Vec<Flag>,
    /// The largest regular files of the final filesystem, largest first.
    pub largest: Vec<LargestFile>,
    /// Layers whose listing is partial, or whose files were listed without reading their data
    /// (from a table of contents): figures that depend on them may be incomplete.
    pub caveats: Vec<String>,
}

/// Bytes of one path that no longer show in the final filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WastedPath {
    /// The path.
    pub path: String,
    /// Sizes of its hidden versions.
    pub bytes: u64,
    /// Layers holding those versions, base first.
    pub layers: Vec<usize>,
}

/// Final regular files with identical content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateGroup {
    /// Their content hash.
    pub digest: ContentHash,
    /// The size of one copy.
    pub size: u64,
    /// Their paths, sorted.
    pub paths: Vec<String>,
}

impl DuplicateGroup {
    /// Bytes all copies but one take.
    pub(crate) fn redundant_bytes(&self) -> u64 {
        self.size * (self.paths.len() as u64).saturating_sub(1)
    }
}

/// A risky entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// Its path.
    pub path: String,
    /// The layer holding it.
    pub layer: usize,
    /// What is risky about it.
    pub kind: FlagKind,
    /// Why, in words (e.g. `private key in its content`, `mode 4755`).
    pub detail: String,
}

/// What makes an entry risky.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// A regular file with the set-user-id bit.
    Setuid,
    /// A regular file with the set-group-id bit.
    Setgid,
    /// A file, or a directory without the sticky bit, that others may write.
    WorldWritable,
    /// A private key or a credentials file.
    Secret,
}

impl FlagKind {
    /// Every kind, in report order.
    pub const ALL: [Self; 4] = [
        Self::Setuid,
        Self::Setgid,
        Self::WorldWritable,
        Self::Secret,
    ];

    /// The name the CLI, JSON and GUI use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Setuid => "setuid",
            Self::Setgid => "setgid",
            Self::WorldWritable => "world_writable",
            Self::Secret => "secret",
        }
    }
}

impl fmt::Display for FlagKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FlagKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                format!("unknown flag {text:?}; expected setuid, setgid, world_writable or secret")
            })
    }
}

/// One of the largest final files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LargestFile {
    /// Its path.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// The layer it comes from.
    pub layer: usize,
}

/// One layer as the analysis reads it: its index, how reading it ended and its entries,
/// borrowed from wherever they live (a [`LayerListing`], or the app's shared batches).
#[derive(Debug, Clone, Copy)]
pub struct LayerView<'a, E> {
    /// The layer's index in its image.
    pub index: usize,
    /// How reading it ended.
    pub status: &'a LayerStatus,
    /// Its entries, in tar order (walked several times).
    pub entries: E,
}

impl<'a> LayerView<'a, std::slice::Iter<'a, Entry>> {
    /// The view of a listing.
    pub fn of(listing: &'a LayerListing) -> Self {
        Self {
            index: listing.layer.index,
            status: &listing.result.status,
            entries: listing.entries.iter(),
        }
    }
}

/// Analyses `listings` (base layer first; every layer of the image for exact figures).
pub fn analyze(listings: &[LayerListing]) -> Analysis {
    let layers: Vec<LayerView<'_, _>> = listings.iter().map(LayerView::of).collect();
    analyze_layers(&layers)
}

/// [`analyze`] over borrowed layers (base layer first), for callers that hold entries in
/// another shape than a [`LayerListing`]: no entry is copied.
pub fn analyze_layers<'a, E>(layers: &[LayerView<'a, E>]) -> Analysis
where
    E: Iterator<Item = &'a Entry> + Clone,
{
    // Laid by position (base first, as the indexes go), so that each final entry's layer
    // is found again without a lookup.
    let mut filesystem = MergedFilesystem::default();
    for (position, layer) in layers.iter().enumerate() {
        filesystem.apply(position, layer.entries.clone());
    }
    // The final version of each path, by its place: a path written twice in one layer, or
    // again by a later layer, has only its last entry here. One flag per entry, per layer.
    let mut is_final: Vec<Vec<bool>> = layers.iter().map(|_| Vec::new()).collect();
    let mut final_bytes: u64 = 0;
    let mut final_files: Vec<(usize, &'a Entry)> = Vec::new();
    for (position, index, entry) in filesystem.iter_positions() {
        if entry.kind != EntryKind::File {
            continue;
        }
        final_bytes += entry.size;
        if let (Some(layer), Some(flags)) = (layers.get(position), is_final.get_mut(position)) {
            final_files.push((layer.index, entry));
            if flags.len() <= index {
                flags.resize(index + 1, false);
            }
            flags[index] = true;
        }
    }
    drop(filesystem);
    let mut total_bytes = 0;
    let mut wasted: BTreeMap<&str, (u64, BTreeSet<usize>)> = BTreeMap::new();
    for (layer, flags) in layers.iter().zip(&is_final) {
        for (index, entry) in layer.entries.clone().enumerate() {
            if entry.kind != EntryKind::File {
                continue;
            }
            total_bytes += entry.size;
            if !flags.get(index).copied().unwrap_or(false) {
                let slot = wasted.entry(&entry.path).or_default();
                slot.0 += entry.size;
                slot.1.insert(layer.index);
            }
        }
    }
    drop(is_final);
    let mut wasted: Vec<WastedPath> = wasted
        .into_iter()
        .map(|(path, (bytes, layers))| WastedPath {
            path: path.to_owned(),
            bytes,
            layers: layers.into_iter().collect(),
        })
        .collect();
    wasted.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    let wasted_bytes = total_bytes.saturating_sub(final_bytes);
    Analysis {
        total_bytes,
        final_bytes,
        wasted_bytes,
        efficiency: if total_bytes == 0 {
            1.0
        } else {
            final_bytes as f64 / total_bytes as f64
        },
        wasted,
        duplicates: duplicates(&final_files),
        flags: layers.iter().flat_map(layer_flags).collect(),
        largest: largest_files(&final_files, LARGEST_FILES),
        caveats: caveats(layers),
    }
}

/// Groups the final regular files (size ≥ 1) by content hash.
fn duplicates(merged: &[(usize, &Entry)]) -> Vec<DuplicateGroup> {
    // Sorting by content and size puts copies side by side, with no allocation per file.
    let mut files: Vec<(ContentHash, u64, &str)> = merged
        .iter()
        .filter(|(_, entry)| entry.kind == EntryKind::File && entry.size > 0)
        .filter_map(|(_, entry)| Some((entry.content?.hash, entry.size, &*entry.path)))
        .collect();
    files.sort_unstable();
    let mut duplicates: Vec<DuplicateGroup> = files
        .chunk_by(|a, b| (a.0, a.1) == (b.0, b.1))
        .filter(|copies| copies.len() > 1)
        .map(|copies| DuplicateGroup {
            digest: copies[0].0,
            size: copies[0].1,
            // Sorted by path already: the sort's last key.
            paths: copies.iter().map(|&(_, _, path)| path.to_owned()).collect(),
        })
        .collect();
    duplicates.sort_by(|a, b| {
        b.redundant_bytes()
            .cmp(&a.redundant_bytes())
            .then_with(|| a.paths.cmp(&b.paths))
    });
    duplicates
}

/// The `count` largest regular files of a final filesystem (`(layer, entry)` pairs).
pub(crate) fn largest_files(merged: &[(usize, &Entry)], count: usize) -> Vec<LargestFile> {
    let mut files: Vec<(usize, &Entry)> = merged
        .iter()
        .filter(|(_, entry)| entry.kind == EntryKind::File)
        .copied()
        .collect();
    let order = |a: &(usize, &Entry), b: &(usize, &Entry)| {
        b.1.size
            .cmp(&a.1.size)
            .then_with(|| a.1.path.cmp(&b.1.path))
    };
    if files.len() > count && count > 0 {
        files.select_nth_unstable_by(count - 1, order);
    }
    files.truncate(count);
    files.sort_by(order);
    files
        .into_iter()
        .map(|(layer, entry)| LargestFile {
            path: entry.path.to_string(),
            size: entry.size,
            layer,
        })
        .collect()
}

/// The flags of one layer's entries, in entry order.
fn layer_flags<'a, E>(view: &LayerView<'a, E>) -> Vec<Flag>
where
    E: Iterator<Item = &'a Entry> + Clone,
{
    let layer = view.index;
    let mut flags = Vec::new();
    for entry in view.entries.clone() {
        let mut flag = |kind: FlagKind, detail: String| {
            flags.push(Flag {
                path: entry.path.to_string(),
                layer,
                kind,
                detail,
            });
        };
        let mode = entry.mode;
        match entry.kind {
            EntryKind::File => {
                if mode & 0o4000 != 0 {
                    flag(FlagKind::Setuid, format!("mode {mode:04o}"));
                }
                if mode & 0o2000 != 0 {
                    flag(FlagKind::Setgid, format!("mode {mode:04o}"));
                }
                if mode & 0o002 != 0 {
                    flag(FlagKind::WorldWritable, format!("mode {mode:04o}"));
                }
                if let Some(reason) = secret_reason(entry) {
                    flag(FlagKind::Secret, reason);
                }
            }
            EntryKind::Dir if mode & 0o002 != 0 && mode & 0o1000 == 0 => flag(
                FlagKind::WorldWritable,
                format!("directory mode {mode:04o} without the sticky bit"),
            ),
            _ => {}
        }
    }
    flags
}

/// Credential files known by name: (path suffix, whether its content must show credential
/// words too, what it is).
const CREDENTIAL_FILES: &[(&str, bool, &str)] = &[
    (".aws/credentials", false, "AWS credentials file"),
    (
        ".docker/config.json",
        false,
        "Docker client config (registry logins)",
    ),
    (".git-credentials", false, "git credentials store"),
    (".netrc", false, "netrc login file"),
    (".pgpass", false, "PostgreSQL password file"),
    (".vault-token", false, "Vault token"),
    (".kube/config", false, "Kubernetes client config"),
    (".npmrc", true, "npm config with an auth token"),
    (".pypirc", true, "PyPI config with a password"),
];

/// Why a regular file looks like a secret, if it does.
pub(crate) fn secret_reason(entry: &Entry) -> Option<String> {
    let secret_content = entry.content.and_then(|content| content.secret);
    if secret_content == Some(SecretContent::PrivateKey) {
        return Some("private key in its content".into());
    }
    let has_words = secret_content == Some(SecretContent::CredentialWords);
    let path: &str = &entry.path;
    let name = entry.name();
    for &(suffix, needs_words, what) in CREDENTIAL_FILES {
        let matches = path
            .strip_suffix(suffix)
            .is_some_and(|before| before.is_empty() || before.ends_with('/'));
        if matches && (!needs_words || has_words) {
            return Some(what.into());
        }
    }
    let in_ssh_dir = entry.parent() == ".ssh" || entry.parent().ends_with("/.ssh");
    if in_ssh_dir && name.starts_with("id_") && !name.ends_with(".pub") {
        return Some("SSH private key file".into());
    }
    let is_env = name == ".env"
        || name.strip_prefix(".env.").is_some_and(|suffix| {
            !matches!(
                suffix,
                "example" | "sample" | "template" | "dist" | "defaults"
            )
        });
    if is_env {
        return Some("environment file (often holds secrets)".into());
    }
    None
}

/// Why some figures may be incomplete.
fn caveats<'a, E>(layers: &[LayerView<'a, E>]) -> Vec<String>
where
    E: Iterator<Item = &'a Entry> + Clone,
{
    let mut caveats = Vec::new();
    for view in layers {
        let layer = view.index;
        if !view.status.is_complete() {
            caveats.push(format!(
                "layer {layer} was not read completely ({}): its figures are partial",
                view.status.label()
            ));
        }
        let unread = view
            .entries
            .clone()
            .filter(|e| e.kind == EntryKind::File && e.content.is_none())
            .count();
        if unread > 0 {
            caveats.push(format!(
                "layer {layer}: {unread} files were listed without reading their data \
                 (table of contents or sparse files): no duplicate or content checks for them"
            ));
        }
    }
    caveats
}

/// Rules an image must pass, as a CI gate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateRules {
    /// Lowest acceptable efficiency (0.0 to 1.0).
    pub min_efficiency: Option<f64>,
    /// Most wasted bytes accepted.
    pub max_wasted: Option<u64>,
    /// Flag kinds that must not occur.
    pub deny: Vec<FlagKind>,
}

impl GateRules {
    /// Whether any rule is set.
    pub fn is_empty(&self) -> bool {
        self.min_efficiency.is_none() && self.max_wasted.is_none() && self.deny.is_empty()
    }

    /// Each broken rule, explained; empty when the image passes.
    pub fn check(&self, analysis: &Analysis) -> Vec<String> {
        let mut broken = Vec::new();
        if let Some(min) = self.min_efficiency
            && analysis.efficiency < min
        {
            broken.push(format!(
                "efficiency {:.4} is below the minimum {min}",
                analysis.efficiency
            ));
        }
        if let Some(max) = self.max_wasted
            && analysis.wasted_bytes > max
        {
            broken.push(format!(
                "{} bytes are wasted, more than the maximum {max}",
                analysis.wasted_bytes
            ));
        }
        for &kind in &self.deny {
            let found: Vec<&Flag> = analysis.flags.iter().filter(|f| f.kind == kind).collect();
            if let Some(first) = found.first() {
                broken.push(format!(
                    "{} {kind} flag{} (denied), first: {} in layer {}",
                    found.len(),
                    if found.len() == 1 { "" } else { "s" },
                    first.path,
                    first.layer
                ));
            }
        }
        broken
    }
}

/// Parses a `--max-wasted` value: bytes, or a size such as `50MB`, `50MiB` or `1.5 GB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| format!("{text:?} is not a size (e.g. 50MB, 50MiB, 1048576): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::listing;

    fn file(path: &str, data: &[u8], mode: u32) -> Entry {
        Entry {
            mode,
            content: Some(crate::layer::content::facts_of_bytes(data)),
            ..Entry::new(path, EntryKind::File, data.len() as u64)
        }
    }

    fn other(path: &str, kind: EntryKind, mode: u32) -> Entry {
        Entry {
            kind,
            size: 0,
            content: None,
            ..file(path, b"", mode)
        }
    }

    #[test]
    fn waste_counts_overwritten_removed_and_hidden_versions() {
        let layers = vec![
            listing(
                0,
                vec![
                    file("a", &[1; 100], 0o644),
                    file("b", &[2; 10], 0o644),
                    other("d", EntryKind::Dir, 0o755),
                    file("d/x", &[3; 7], 0o644),
                    file("c", &[4; 5], 0o644),
                ],
            ),
            listing(
                1,
                vec![
                    file("a", &[5; 40], 0o644),
                    other(".wh.b", EntryKind::Whiteout, 0),
                    other("d/.wh..wh..opq", EntryKind::OpaqueMarker, 0),
                    file("c", &[4; 5], 0o644),
                    file("c", &[6; 3], 0o644),
                ],
            ),
        ];
        let analysis = analyze(&layers);
        assert_eq!(analysis.total_bytes, 100 + 10 + 7 + 5 + 40 + 5 + 3);
        assert_eq!(analysis.final_bytes, 40 + 3);
        assert_eq!(analysis.wasted_bytes, 170 - 43);
        assert!((analysis.efficiency - 43.0 / 170.0).abs() < 1e-12);
        let wasted: Vec<(&str, u64, &[usize])> = analysis
            .wasted
            .iter()
            .map(|w| (w.path.as_str(), w.bytes, w.layers.as_slice()))
            .collect();
        assert_eq!(
            wasted,
            vec![
                ("a", 100, &[0][..]),
                ("b", 10, &[0][..]),
                ("c", 10, &[0, 1][..]),
                ("d/x", 7, &[0][..]),
            ]
        );
        assert_eq!(
            analysis.wasted.iter().map(|w| w.bytes).sum::<u64>(),
            analysis.wasted_bytes
        );
    }

    #[test]
    fn duplicates_flags_and_rules() {
        let layers = vec![listing(
            0,
            vec![
                file("x/one", b"same bytes", 0o644),
                file("y/two", b"same bytes", 0o644),
                file("empty1", b"", 0o644),
                file("empty2", b"", 0o644),
                file("bin/su", b"elf", 0o4755),
                file("bin/wall", b"elf2", 0o2755),
                file("tmp/open", b"w", 0o666),
                other("tmp", EntryKind::Dir, 0o1777),
                other("srv/drop", EntryKind::Dir, 0o777),
                file("srv/key.pem", b"-----BEGIN EC PRIVATE KEY-----\n", 0o600),
                file("root/.ssh/id_ed25519", b"x", 0o600),
                file("root/.ssh/id_ed25519.pub", b"y", 0o644),
                file("home/u/.npmrc", b"registry=https://r\n", 0o644),
                file("home/v/.npmrc", b"//r/:_authToken=abc\n", 0o644),
                file("app/.env", b"A=1", 0o644),
                file("app/.env.example", b"A=", 0o644),
            ],
        )];
        let analysis = analyze(&layers);
        assert_eq!(analysis.duplicates.len(), 1);
        assert_eq!(analysis.duplicates[0].paths, vec!["x/one", "y/two"]);
        assert_eq!(analysis.duplicates[0].size, 10);
        let flags: Vec<(&str, FlagKind)> = analysis
            .flags
            .iter()
            .map(|f| (f.path.as_str(), f.kind))
            .collect();
        assert_eq!(
            flags,
            vec![
                ("bin/su", FlagKind::Setuid),
                ("bin/wall", FlagKind::Setgid),
                ("tmp/open", FlagKind::WorldWritable),
                ("srv/drop", FlagKind::WorldWritable),
                ("srv/key.pem", FlagKind::Secret),
                ("root/.ssh/id_ed25519", FlagKind::Secret),
                ("home/v/.npmrc", FlagKind::Secret),
                ("app/.env", FlagKind::Secret),
            ]
        );
        let rules = GateRules {
            min_efficiency: Some(0.5),
            max_wasted: Some(0),
            deny: vec![FlagKind::Secret, FlagKind::Setuid],
        };
        let broken = rules.check(&analysis);
        assert_eq!(broken.len(), 2, "{broken:?}");
        assert!(broken[0].contains("4 secret flags"), "{broken:?}");
        assert!(broken[1].contains("1 setuid flag (denied), first: bin/su"));
        assert_eq!("world-writable".parse(), Ok(FlagKind::WorldWritable));
        assert!("bogus".parse::<FlagKind>().is_err());
        assert_eq!(parse_size("50MB"), Ok(50_000_000));
        assert_eq!(parse_size("50MiB"), Ok(50 * 1024 * 1024));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert!(parse_size("lots").is_err());
    }
}
