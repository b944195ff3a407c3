//! One tar entry as listed: its path, kind, size, mode, owners, link target, content facts
//! and, for names that are not UTF-8, the bytes as stored.

use serde::{Deserialize, Serialize};

use super::content::ContentFacts;
/// Prefix of whiteout files that delete a path of lower layers.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the marker that makes its directory opaque (hides lower layers' contents).
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// What kind of filesystem object a tar entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Hard link to another path of the same layer.
    Hardlink,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// Named pipe.
    Fifo,
    /// `.wh.NAME`: deletes NAME from lower layers.
    Whiteout,
    /// `.wh..wh..opq`: hides lower layers' contents of its directory.
    OpaqueMarker,
    /// Any other tar entry type.
    Other,
}

impl EntryKind {
    /// Short lowercase name used in CSV/JSON and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Dir => "dir",
            Self::Symlink => "symlink",
            Self::Hardlink => "hardlink",
            Self::CharDevice => "char-device",
            Self::BlockDevice => "block-device",
            Self::Fifo => "fifo",
            Self::Whiteout => "whiteout",
            Self::OpaqueMarker => "opaque-marker",
            Self::Other => "other",
        }
    }
}

impl EntryKind {
    /// The kind a path's name alone decides: `.wh..wh..opq` is an opaque marker and `.wh.NAME`
    /// a whiteout, whatever the archive says their type is.
    pub fn by_name(path: &str) -> Option<Self> {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name == OPAQUE_MARKER {
            Some(Self::OpaqueMarker)
        } else if name.starts_with(WHITEOUT_PREFIX) {
            Some(Self::Whiteout)
        } else {
            None
        }
    }
}

/// One entry of a layer's tar stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Normalised path: no leading `./` or `/`, no trailing `/`; `.` for the root itself.
    /// (Boxed, not a `String`: no spare capacity, and 8 bytes less per entry.)
    pub path: Box<str>,
    /// What it is.
    pub kind: EntryKind,
    /// Size of the file data in bytes (0 for non-files).
    pub size: u64,
    /// Permission bits (`0o7777` part).
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// Target of a symlink or hardlink.
    pub link_target: Option<Box<str>>,
    /// For a regular file whose data was read: its content hash and secret marks (`None`
    /// when listed from a table of contents, or for other kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentFacts>,
    /// The stored bytes of a path or link target that is not valid UTF-8 (`path` and
    /// `link_target` then hold lossy text, with U+FFFD for each bad byte).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_names: Option<Box<RawNames>>,
}

/// Names as an archive stored them, kept when they are not valid UTF-8 so that they stay
/// recoverable (JSON carries them in base64; CSV files get the bytes themselves).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawNames {
    /// The normalised path's bytes, when they are not UTF-8.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "path_base64",
        with = "base64_bytes"
    )]
    pub path: Option<Vec<u8>>,
    /// The link target's bytes, when they are not UTF-8.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "link_target_base64",
        with = "base64_bytes"
    )]
    pub link_target: Option<Vec<u8>>,
}

/// Serialises optional bytes as standard base64 text.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_str(&STANDARD.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| STANDARD.decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl Entry {
    /// An entry of `kind` at `path` (already normalised) with `size` bytes of data and
    /// everyday metadata: mode `0755` for directories and `0644` otherwise, owned by root,
    /// mtime 0, no link target and no content facts. For building listings by hand; set the
    /// other fields as needed (`Entry { mode: 0o4755, ..Entry::new(…) }`).
    pub fn new(path: impl Into<Box<str>>, kind: EntryKind, size: u64) -> Self {
        Self {
            path: path.into(),
            kind,
            size,
            mode: if kind == EntryKind::Dir { 0o755 } else { 0o644 },
            uid: 0,
            gid: 0,
            mtime: 0,
            link_target: None,
            content: None,
            raw_names: None,
        }
    }

    /// Whether the path or link target is not valid UTF-8 (and shown lossily).
    pub fn has_raw_names(&self) -> bool {
        self.raw_names.is_some()
    }

    /// The path's bytes as stored (normalised), valid UTF-8 or not.
    pub fn path_bytes(&self) -> &[u8] {
        self.raw_names
            .as_ref()
            .and_then(|raw| raw.path.as_deref())
            .unwrap_or(self.path.as_bytes())
    }

    /// The link target's bytes as stored, valid UTF-8 or not.
    pub fn link_target_bytes(&self) -> Option<&[u8]> {
        self.raw_names
            .as_ref()
            .and_then(|raw| raw.link_target.as_deref())
            .or(self.link_target.as_deref().map(str::as_bytes))
    }

    /// The last path component.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The directory holding this entry (`""` for top-level entries).
    pub fn parent(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(parent, _)| parent)
    }

    /// For a whiteout, the path it deletes; for an opaque marker, the directory it hides.
    pub fn whiteout_target(&self) -> Option<String> {
        match self.kind {
            EntryKind::OpaqueMarker => Some(self.parent().to_owned()),
            EntryKind::Whiteout => {
                let name = self.name().strip_prefix(WHITEOUT_PREFIX)?;
                Some(join_path(self.parent(), name))
            }
            _ => None,
        }
    }
}

/// Joins a directory (possibly `""`) and a name.
fn join_path(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// [`normalize_path`] on bytes: the normalised path as text (lossy), and its bytes when they
/// are not valid UTF-8.
pub fn normalize_path_bytes(raw: &[u8]) -> (String, Option<Vec<u8>>) {
    if is_normal_path(raw)
        && let Ok(text) = std::str::from_utf8(raw)
    {
        return (text.to_owned(), None);
    }
    let parts: Vec<&[u8]> = raw
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect();
    if parts.is_empty() {
        return (".".to_owned(), None);
    }
    let joined = parts.join(&b'/');
    match String::from_utf8(joined) {
        Ok(text) => (text, None),
        Err(error) => {
            let bytes = error.into_bytes();
            (String::from_utf8_lossy(&bytes).into_owned(), Some(bytes))
        }
    }
}

/// Normalises a tar path: strips `./` and `/` prefixes and trailing `/`, folds `//`.
pub fn normalize_path(raw: &str) -> String {
    if is_normal_path(raw.as_bytes()) {
        return raw.to_owned();
    }
    let parts: Vec<&str> = raw
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// Whether normalising leaves `raw` as it is (the common case: no empty or `.` component,
/// no leading or trailing `/`), so that it needs no splitting and joining.
fn is_normal_path(raw: &[u8]) -> bool {
    !raw.is_empty()
        && raw
            .split(|&b| b == b'/')
            .all(|part| !part.is_empty() && part != b".")
}
