//! What a layer contains: entries, per-layer listings, a browsable tree, and the merged
//! "final filesystem" view across layers.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::content::ContentFacts;
use crate::image::LayerInfo;
use crate::toc::TocFormat;

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
    pub path: String,
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
    pub link_target: Option<String>,
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

/// How reading a layer ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "kebab-case")]
pub enum LayerStatus {
    /// Every entry was read; `digest_verified` says whether the blob digest was checked.
    Complete {
        /// False only for digest algorithms this tool cannot check.
        digest_verified: bool,
    },
    /// Reading stopped with an error; the entries before it are kept.
    Failed(String),
    /// The user cancelled; the entries read so far are kept.
    Cancelled,
    /// The layer was not read (e.g. a non-distributable layer missing from the registry).
    Skipped(String),
    /// The layer's blob is not where the image says it is (a registry 404, a blob missing
    /// from an image file).
    Missing(String),
}

impl LayerStatus {
    /// True when the listing holds every entry of the layer.
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Complete { .. })
    }

    /// Why the layer was not read completely (failed, skipped or missing); `None` when it was
    /// complete or cancelled.
    pub fn problem(&self) -> Option<&str> {
        match self {
            Self::Failed(message) | Self::Skipped(message) | Self::Missing(message) => {
                Some(message)
            }
            Self::Complete { .. } | Self::Cancelled => None,
        }
    }

    /// A one-word label for tables and CSV.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Complete { .. } => "complete",
            Self::Failed(_) => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped(_) => "skipped",
            Self::Missing(_) => "missing",
        }
    }
}

/// Where a layer's entries came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListedFrom {
    /// The layer blob, streamed and decoded.
    #[default]
    Blob,
    /// The listing cache: no blob byte was fetched.
    Cache,
    /// The layer's table of contents: only its footer and TOC were fetched.
    Toc {
        /// eStargz or zstd:chunked.
        format: TocFormat,
        /// Whether the TOC matched the digest the layer's annotations give.
        verified: bool,
    },
}

impl ListedFrom {
    /// How the entries were obtained, for a status line: nothing for the blob, else e.g.
    /// `from the cache (nothing downloaded)` or `from its eStargz table of contents (4.0 KiB
    /// of 1.2 MiB fetched)`.
    pub fn describe(self, bytes_fetched: u64, blob_size: u64) -> Option<String> {
        match self {
            Self::Blob => None,
            Self::Cache => Some("from the cache (nothing downloaded)".into()),
            Self::Toc { format, verified } => Some(format!(
                "from its {}{} table of contents ({} of {} fetched)",
                if verified { "verified " } else { "" },
                format.name(),
                human_size(bytes_fetched),
                human_size(blob_size)
            )),
        }
    }
}

/// Everything read from one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerListing {
    /// Which layer.
    pub layer: LayerInfo,
    /// Entries in tar order.
    pub entries: Vec<Entry>,
    /// How reading ended.
    pub status: LayerStatus,
    /// Compressed bytes received.
    pub bytes_read: u64,
    /// Where the entries came from (the blob or the cache).
    pub listed_from: ListedFrom,
}

/// An entry of the merged view, with the layer that last wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergedEntry {
    /// Index of the layer the entry comes from.
    pub layer_index: usize,
    /// The entry as that layer wrote it.
    pub entry: Entry,
}

/// Applies layers in order (whiteouts delete, opaque markers hide lower contents, later
/// entries replace earlier ones) and returns the final filesystem, sorted by path.
pub fn merge_layers<'a>(layers: impl IntoIterator<Item = &'a LayerListing>) -> Vec<MergedEntry> {
    merge_entries(
        layers
            .into_iter()
            .map(|listing| (listing.layer.index, &listing.entries)),
    )
}

/// [`merge_layers`] over `(layer index, entries)` pairs, for callers that hold entries in
/// another shape than a [`LayerListing`] (each layer's entries are walked twice).
pub fn merge_entries<'a, E>(layers: impl IntoIterator<Item = (usize, E)>) -> Vec<MergedEntry>
where
    E: IntoIterator<Item = &'a Entry> + Clone,
{
    let mut filesystem = MergedFilesystem::default();
    for (layer_index, entries) in layers {
        filesystem.apply(layer_index, entries);
    }
    filesystem.into_entries()
}

/// The final filesystem, built one layer at a time (whiteouts and opaque directories applied),
/// borrowing the entries of the layers laid so far.
#[derive(Debug, Clone, Default)]
pub struct MergedFilesystem<'a> {
    merged: BTreeMap<&'a str, (usize, &'a Entry)>,
    /// Scratch space for `dir/` prefixes.
    prefix: String,
}

impl<'a> MergedFilesystem<'a> {
    /// Lays the entries of the layer `layer_index` over what is there.
    pub fn apply(
        &mut self,
        layer_index: usize,
        entries: impl IntoIterator<Item = &'a Entry> + Clone,
    ) {
        for entry in entries.clone() {
            match (entry.kind, entry.whiteout_target()) {
                (EntryKind::OpaqueMarker, Some(dir)) => self.remove_below(&dir, layer_index),
                (EntryKind::Whiteout, Some(target)) => {
                    self.merged.remove(target.as_str());
                    self.remove_below(&target, usize::MAX);
                }
                _ => {}
            }
        }
        for entry in entries {
            if matches!(entry.kind, EntryKind::Whiteout | EntryKind::OpaqueMarker) {
                continue;
            }
            if entry.kind != EntryKind::Dir {
                // A non-directory replacing a directory also replaces what was under it.
                self.remove_below(&entry.path, layer_index);
            }
            self.merged.insert(&entry.path, (layer_index, entry));
        }
    }

    /// Removes everything strictly below `dir` that came from a layer before `current_layer`.
    fn remove_below(&mut self, dir: &str, current_layer: usize) {
        self.prefix.clear();
        if !dir.is_empty() && dir != "." {
            self.prefix.push_str(dir);
            self.prefix.push('/');
        }
        let prefix = self.prefix.as_str();
        let doomed: Vec<&'a str> = self
            .merged
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(path, _)| path.starts_with(prefix))
            .filter(|(path, (layer, _))| *layer < current_layer && **path != ".")
            .map(|(path, _)| *path)
            .collect();
        for path in doomed {
            self.merged.remove(path);
        }
    }

    /// Whether `path` is in the filesystem.
    pub fn contains(&self, path: &str) -> bool {
        self.merged.contains_key(path)
    }

    /// Its entries with their layers, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &'a Entry)> + '_ {
        self.merged.values().copied()
    }

    /// Its entries, sorted by path, as owned [`MergedEntry`] values.
    pub fn into_entries(self) -> Vec<MergedEntry> {
        self.merged
            .into_values()
            .map(|(layer_index, entry)| MergedEntry {
                layer_index,
                entry: entry.clone(),
            })
            .collect()
    }
}

/// What an entry does to the filesystem of the layers below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The path did not exist below.
    Added,
    /// The path existed below (a re-added identical file counts too, as dive shows it).
    Modified,
    /// A whiteout, or an opaque marker hiding what is below its directory.
    Removed,
}

impl Change {
    /// `added`, `modified` or `removed`, as CSV and JSON write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Modified => "modified",
            Self::Removed => "removed",
        }
    }
}

/// The change of every entry of `listings` (base first; one list per listing, in entry order),
/// judged against the final filesystem of the listings before it.
pub fn layer_changes(listings: &[LayerListing]) -> Vec<Vec<Change>> {
    let mut below = MergedFilesystem::default();
    listings
        .iter()
        .map(|listing| {
            let changes = listing
                .entries
                .iter()
                .map(|entry| match entry.kind {
                    EntryKind::Whiteout | EntryKind::OpaqueMarker => Change::Removed,
                    _ if below.contains(&entry.path) => Change::Modified,
                    _ => Change::Added,
                })
                .collect();
            below.apply(listing.layer.index, &listing.entries);
            changes
        })
        .collect()
}

/// A case-insensitive path substring filter, as the tree view and exports apply it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathFilter {
    needle: String,
}

impl PathFilter {
    /// A filter for `text` (surrounding spaces ignored; empty matches everything).
    pub fn new(text: &str) -> Self {
        Self {
            needle: text.trim().to_lowercase(),
        }
    }

    /// True when the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.needle.is_empty()
    }

    /// Whether `path` contains the filter text, ignoring case.
    pub fn matches(&self, path: &str) -> bool {
        self.needle.is_empty() || path.to_lowercase().contains(&self.needle)
    }
}

/// Index of a node in a [`FileTree`].
pub type NodeId = usize;

/// One node of a [`FileTree`].
#[derive(Debug, Clone)]
pub struct TreeNode {
    /// Last path component (`/` for the root).
    pub name: String,
    /// Full normalised path (`""` for the root).
    pub path: String,
    /// The entry, or `None` for a directory only implied by its children.
    pub entry: Option<Entry>,
    /// Layer that provided the entry (meaningful for merged views).
    pub layer_index: Option<usize>,
    /// Children, directories first, then by name.
    pub children: Vec<NodeId>,
    /// Size of this entry plus everything below it.
    pub total_size: u64,
    /// Number of entries below this node.
    pub descendants: usize,
}

impl TreeNode {
    /// Whether the node can be expanded.
    pub fn is_dir(&self) -> bool {
        !self.children.is_empty() || self.entry.as_ref().is_none_or(|e| e.kind == EntryKind::Dir)
    }
}

/// A directory tree built once from entries; rows for display are derived from it.
#[derive(Debug, Clone)]
pub struct FileTree {
    nodes: Vec<TreeNode>,
}

/// One visible row of a flattened tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeRow {
    /// The node shown.
    pub node: NodeId,
    /// Nesting depth (0 = top level).
    pub depth: usize,
}

impl FileTree {
    /// The root node's id.
    pub const ROOT: NodeId = 0;

    /// Builds a tree from `(layer index, entry)` pairs; later duplicates replace earlier ones.
    pub fn build<'a>(entries: impl IntoIterator<Item = (usize, &'a Entry)>) -> Self {
        let mut nodes = vec![TreeNode {
            name: "/".into(),
            path: String::new(),
            entry: None,
            layer_index: None,
            children: Vec::new(),
            total_size: 0,
            descendants: 0,
        }];
        let mut by_path: HashMap<String, NodeId> = HashMap::new();
        for (layer_index, entry) in entries {
            if entry.path == "." {
                continue;
            }
            let id = node_for_path(&mut nodes, &mut by_path, &entry.path);
            nodes[id].entry = Some(entry.clone());
            nodes[id].layer_index = Some(layer_index);
        }
        let mut tree = Self { nodes };
        tree.finish(Self::ROOT);
        tree
    }

    /// Sorts children and aggregates sizes bottom-up (iteratively: trees can be deep).
    fn finish(&mut self, root: NodeId) {
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            order.push(id);
            stack.extend(self.nodes[id].children.iter().copied());
        }
        for &id in order.iter().rev() {
            let mut children = std::mem::take(&mut self.nodes[id].children);
            children.sort_by(|&a, &b| {
                let (a, b) = (&self.nodes[a], &self.nodes[b]);
                b.is_dir()
                    .cmp(&a.is_dir())
                    .then_with(|| a.name.cmp(&b.name))
            });
            let own = self.nodes[id].entry.as_ref().map_or(0, |e| e.size);
            let (sizes, counts) = children
                .iter()
                .map(|&c| (self.nodes[c].total_size, self.nodes[c].descendants + 1))
                .fold((0u64, 0usize), |(s, n), (cs, cn)| (s + cs, n + cn));
            let node = &mut self.nodes[id];
            node.children = children;
            node.total_size = own + sizes;
            node.descendants = counts;
        }
    }

    /// A node by id.
    pub fn node(&self, id: NodeId) -> &TreeNode {
        &self.nodes[id]
    }

    /// All nodes except the root.
    pub fn len(&self) -> usize {
        self.nodes.len() - 1
    }

    /// True when the tree holds no entries.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// Ids of every directory node (for "expand all").
    pub fn directory_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (1..self.nodes.len()).filter(|&id| self.nodes[id].is_dir())
    }

    /// Flattens the tree into display rows: children of expanded directories are shown.
    /// With a non-empty `filter`, only nodes whose path contains it (case-insensitively) and
    /// their ancestors are shown, all expanded.
    pub fn visible_rows(&self, is_expanded: impl Fn(NodeId) -> bool, filter: &str) -> Vec<TreeRow> {
        let filter = PathFilter::new(filter);
        let keep = if filter.is_empty() {
            None
        } else {
            Some(self.matching(&filter))
        };
        let mut rows = Vec::new();
        let mut stack: Vec<(NodeId, usize)> = self.nodes[Self::ROOT]
            .children
            .iter()
            .rev()
            .map(|&c| (c, 0))
            .collect();
        while let Some((id, depth)) = stack.pop() {
            if keep.as_ref().is_some_and(|keep| !keep[id]) {
                continue;
            }
            rows.push(TreeRow { node: id, depth });
            if keep.is_some() || is_expanded(id) {
                stack.extend(
                    self.nodes[id]
                        .children
                        .iter()
                        .rev()
                        .map(|&c| (c, depth + 1)),
                );
            }
        }
        rows
    }

    /// Marks nodes whose path matches `filter` and all their ancestors.
    pub fn matching(&self, filter: &PathFilter) -> Vec<bool> {
        self.kept_with_parents(|id| filter.matches(&self.nodes[id].path))
    }

    /// Marks, by node id, the nodes `wanted` accepts and all their ancestors.
    pub fn kept_with_parents(&self, wanted: impl Fn(NodeId) -> bool) -> Vec<bool> {
        let mut keep = vec![false; self.nodes.len()];
        let mut parent = vec![Self::ROOT; self.nodes.len()];
        for (id, node) in self.nodes.iter().enumerate() {
            for &child in &node.children {
                parent[child] = id;
            }
        }
        for id in 1..self.nodes.len() {
            if wanted(id) {
                let mut at = id;
                while at != Self::ROOT && !keep[at] {
                    keep[at] = true;
                    at = parent[at];
                }
            }
        }
        keep
    }
}

/// Finds or creates the node for `path`, creating implied parent directories.
fn node_for_path(
    nodes: &mut Vec<TreeNode>,
    by_path: &mut HashMap<String, NodeId>,
    path: &str,
) -> NodeId {
    if let Some(&id) = by_path.get(path) {
        return id;
    }
    let (parent_path, name) = path.rsplit_once('/').unwrap_or(("", path));
    let parent = if parent_path.is_empty() {
        FileTree::ROOT
    } else {
        node_for_path(nodes, by_path, parent_path)
    };
    let id = nodes.len();
    nodes.push(TreeNode {
        name: name.to_owned(),
        path: path.to_owned(),
        entry: None,
        layer_index: None,
        children: Vec::new(),
        total_size: 0,
        descendants: 0,
    });
    nodes[parent].children.push(id);
    by_path.insert(path.to_owned(), id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Descriptor;

    fn entry(path: &str, kind: EntryKind, size: u64) -> Entry {
        Entry {
            path: path.into(),
            kind,
            size,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            link_target: None,
            content: None,
            raw_names: None,
        }
    }

    fn listing(index: usize, entries: Vec<Entry>) -> LayerListing {
        LayerListing {
            layer: LayerInfo {
                index,
                descriptor: Descriptor {
                    media_type: String::new(),
                    digest: format!("sha256:{index}"),
                    size: 0,
                    urls: Vec::new(),
                    annotations: Default::default(),
                    platform: None,
                },
                created_by: None,
            },
            entries,
            status: LayerStatus::Complete {
                digest_verified: true,
            },
            bytes_read: 0,
            listed_from: ListedFrom::Blob,
        }
    }

    #[test]
    fn changes_are_judged_against_the_layers_below() {
        use EntryKind::*;
        let layers = [
            listing(
                0,
                vec![
                    entry("etc", Dir, 0),
                    entry("etc/a", File, 1),
                    entry("opt/p/old", File, 1),
                ],
            ),
            listing(
                1,
                vec![
                    entry("etc", Dir, 0),
                    entry("etc/a", File, 1),
                    entry("etc/.wh.a", Whiteout, 0),
                    entry("etc/b", File, 2),
                    entry("opt/p/.wh..wh..opq", OpaqueMarker, 0),
                ],
            ),
            listing(
                2,
                vec![entry("etc/a", File, 3), entry("opt/p/old", File, 1)],
            ),
        ];
        use Change::*;
        assert_eq!(
            layer_changes(&layers),
            vec![
                vec![Added, Added, Added],
                // Within a layer, entries are judged against the layers below only.
                vec![Modified, Modified, Removed, Added, Removed],
                // etc/a was re-added by layer 1 (it wins over the whiteout of lower layers);
                // opt/p/old was hidden by the opaque directory, so it is new again.
                vec![Modified, Added],
            ]
        );
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalize_path("./etc/passwd"), "etc/passwd");
        assert_eq!(normalize_path("/usr//bin/"), "usr/bin");
        assert_eq!(normalize_path("./"), ".");
        assert_eq!(normalize_path("a/./b"), "a/b");
        assert_eq!(normalize_path("a/.b/../c."), "a/.b/../c.");
        assert_eq!(normalize_path("."), ".");
        assert_eq!(normalize_path(""), ".");
        assert_eq!(normalize_path("a/."), "a");
        assert_eq!(
            normalize_path_bytes(b"usr/lib"),
            ("usr/lib".to_owned(), None)
        );
        assert_eq!(
            normalize_path_bytes(b"./caf\xe9/"),
            ("caf\u{fffd}".to_owned(), Some(b"caf\xe9".to_vec()))
        );
        assert_eq!(
            normalize_path_bytes(b"caf\xe9"),
            ("caf\u{fffd}".to_owned(), Some(b"caf\xe9".to_vec()))
        );
    }

    #[test]
    fn whiteouts_know_their_targets() {
        assert_eq!(
            entry("etc/.wh.motd", EntryKind::Whiteout, 0)
                .whiteout_target()
                .as_deref(),
            Some("etc/motd")
        );
        assert_eq!(
            entry(".wh.tmp", EntryKind::Whiteout, 0)
                .whiteout_target()
                .as_deref(),
            Some("tmp")
        );
        assert_eq!(
            entry("var/cache/.wh..wh..opq", EntryKind::OpaqueMarker, 0)
                .whiteout_target()
                .as_deref(),
            Some("var/cache")
        );
        assert_eq!(
            entry("etc/motd", EntryKind::File, 0).whiteout_target(),
            None
        );
    }

    #[test]
    fn merging_applies_whiteouts_opaque_dirs_and_replacements() {
        let base = listing(
            0,
            vec![
                entry("etc", EntryKind::Dir, 0),
                entry("etc/motd", EntryKind::File, 10),
                entry("etc/hosts", EntryKind::File, 20),
                entry("var/cache", EntryKind::Dir, 0),
                entry("var/cache/a", EntryKind::File, 1),
                entry("var/cache/sub/b", EntryKind::File, 2),
                entry("opt/tool", EntryKind::Dir, 0),
                entry("opt/tool/bin", EntryKind::File, 3),
                entry("keep", EntryKind::File, 4),
            ],
        );
        let upper = listing(
            1,
            vec![
                entry("var/cache/new", EntryKind::File, 5),
                entry("var/cache/.wh..wh..opq", EntryKind::OpaqueMarker, 0),
                entry("etc/.wh.motd", EntryKind::Whiteout, 0),
                entry("etc/hosts", EntryKind::File, 99),
                entry(".wh.opt", EntryKind::Whiteout, 0),
            ],
        );
        let merged = merge_layers([&base, &upper]);
        let paths: Vec<(&str, usize, u64)> = merged
            .iter()
            .map(|m| (m.entry.path.as_str(), m.layer_index, m.entry.size))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("etc", 0, 0),
                ("etc/hosts", 1, 99),
                ("keep", 0, 4),
                ("var/cache", 0, 0),
                ("var/cache/new", 1, 5),
            ]
        );
    }

    #[test]
    fn tree_aggregates_sizes_sorts_and_filters() {
        let entries = [
            entry("usr/bin/zsh", EntryKind::File, 100),
            entry("usr/bin/bash", EntryKind::File, 50),
            entry("usr/lib", EntryKind::Dir, 0),
            entry("usr/lib/libc.so", EntryKind::File, 1000),
            entry("a.txt", EntryKind::File, 1),
        ];
        let tree = FileTree::build(entries.iter().map(|e| (0, e)));
        assert_eq!(tree.len(), 7, "usr and usr/bin are implied directories");
        assert_eq!(tree.node(FileTree::ROOT).total_size, 1151);
        let names = |rows: &[TreeRow]| {
            rows.iter()
                .map(|r| (tree.node(r.node).path.clone(), r.depth))
                .collect::<Vec<_>>()
        };
        let collapsed = tree.visible_rows(|_| false, "");
        assert_eq!(
            names(&collapsed),
            vec![("usr".into(), 0), ("a.txt".into(), 0)]
        );
        let usr = collapsed[0].node;
        assert_eq!(tree.node(usr).total_size, 1150);
        assert_eq!(tree.node(usr).descendants, 5);
        let expanded = tree.visible_rows(|id| id == usr, "");
        assert_eq!(
            names(&expanded),
            vec![
                ("usr".into(), 0),
                ("usr/bin".into(), 1),
                ("usr/lib".into(), 1),
                ("a.txt".into(), 0)
            ]
        );
        let filtered = tree.visible_rows(|_| false, "BASH");
        assert_eq!(
            names(&filtered),
            vec![
                ("usr".into(), 0),
                ("usr/bin".into(), 1),
                ("usr/bin/bash".into(), 2)
            ]
        );
        assert!(tree.visible_rows(|_| true, "nothing-matches").is_empty());
        assert_eq!(tree.directory_ids().count(), 3);
    }
}

/// Formats a byte count for people: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Replaces control characters (escape sequences, newlines, …) with visible escapes so that
/// file names from an image can never drive a terminal or break a line-based listing.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn sizes_and_escapes_read_well() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(escape_control("plain/ünï"), "plain/ünï");
        assert_eq!(
            escape_control("evil\u{1b}[31mred\nline"),
            "evil\\u{1b}[31mred\\nline"
        );
    }
}
