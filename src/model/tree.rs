//! The path tree the views browse: one generic [`PathTree`] of path components, each node
//! with a payload (an entry reference, a differing row…), built and walked without recursion
//! over path depth (a hostile path may be hundreds of thousands of directories deep).
//!
//! Nodes live in one `Vec`, names in one string arena; a node's full path is never stored,
//! only rebuilt on demand from its ancestors. Nodes are only ever added, each after its
//! parent, so a parent's id is always below its children's ids and ids stay valid while the
//! tree grows: a view can add entries as they stream in and keep its expansion by node id.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

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

/// Index of a node in a [`PathTree`]; the root is [`NodeId::ROOT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// The root node (the empty path, `/` on screen).
    pub const ROOT: Self = Self(0);

    /// The node's position in the tree's node list (for per-node vectors).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One visible row of a flattened tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeRow {
    /// The node shown.
    pub node: NodeId,
    /// Nesting depth (0 = top level).
    pub depth: usize,
}

/// One node of a [`PathTree`] (48 bytes with a 12-byte payload: a tree of a million entries
/// is one of the app's largest structures).
#[derive(Debug, Clone)]
struct PathNode<T> {
    /// Where the last path component sits in the tree's name arena.
    name_start: usize,
    /// The own size plus everything below.
    total_size: u64,
    /// What sits at this path, `None` for a directory only implied by its children.
    payload: Option<T>,
    name_len: u32,
    parent: NodeId,
    /// The node's list in [`PathTree::child_lists`], [`NO_CHILDREN`] while it has none.
    children_slot: u32,
    /// Number of nodes below.
    descendants: u32,
    /// The payload is a directory.
    payload_is_dir: bool,
    /// Queued for sorting its children.
    sort_queued: bool,
}

/// The `children_slot` of a node without children.
const NO_CHILDREN: u32 = u32::MAX;

/// A hasher for keys that already are hashes.
#[derive(Default)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        // Spread the key over all bits: the table takes its buckets from the low bits and its
        // tags from the high ones.
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u32(&mut self, value: u32) {
        self.0 = u64::from(value);
    }
}

/// A tree of paths, each node holding an optional payload `T`, its own size and the size and
/// count of everything below it. See the module documentation.
#[derive(Debug, Clone)]
pub struct PathTree<T> {
    nodes: Vec<PathNode<T>>,
    /// The children of the nodes that have some (directories first, then by name, once
    /// sorted), by their nodes' `children_slot`.
    child_lists: Vec<Vec<NodeId>>,
    /// How many children at the start of each child list are in order since the last sort
    /// (children added since are merged in; 0 when an order changed and all are sorted again).
    sorted_prefix: Vec<u32>,
    /// Every node's name, one after the other.
    names: String,
    /// Child lookup: 32-bit hash of (parent, name) → the first child that had that hash.
    /// Another child with the same hash (a collision) is found by scanning its siblings.
    child_by_name: HashMap<u32, NodeId, BuildHasherDefault<PrehashedKey>>,
    /// Keyed hashing of (parent, name), so that crafted names cannot force collisions.
    key_hasher: RandomState,
    /// Nodes whose children changed since the last sort.
    unsorted: Vec<NodeId>,
}

impl<T> Default for PathTree<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> PathTree<T> {
    /// The root id (kept for callers that name it through the tree type).
    pub const ROOT: NodeId = NodeId::ROOT;

    /// A tree holding only the root.
    pub fn new() -> Self {
        Self {
            nodes: vec![PathNode {
                name_start: 0,
                total_size: 0,
                payload: None,
                name_len: 0,
                parent: NodeId::ROOT,
                children_slot: NO_CHILDREN,
                descendants: 0,
                payload_is_dir: true,
                sort_queued: false,
            }],
            child_lists: Vec::new(),
            sorted_prefix: Vec::new(),
            names: String::new(),
            child_by_name: HashMap::default(),
            key_hasher: RandomState::new(),
            unsorted: Vec::new(),
        }
    }

    /// Puts `payload` at `path` (components split on `/`, empty ones ignored), creating the
    /// directories it implies; a path inserted again gets the new payload. `is_dir` says
    /// whether the payload is a directory, `size` is its own size. Returns the node, or
    /// `None` for a path without components (the root itself). Call
    /// [`sort_pending`](Self::sort_pending) before walking the children.
    pub fn insert(&mut self, path: &str, payload: T, is_dir: bool, size: u64) -> Option<NodeId> {
        let mut at = NodeId::ROOT;
        // The first node this insert created, if any: the totals above it grow by the chain.
        let mut first_created: Option<NodeId> = None;
        for component in path.split('/').filter(|c| !c.is_empty()) {
            at = match self.child(at, component) {
                Some(child) => child,
                None => {
                    let child = self.add_child(at, component);
                    first_created.get_or_insert(child);
                    child
                }
            };
        }
        if at == NodeId::ROOT {
            return None;
        }
        let was_dir = self.is_dir(at);
        // The old payload's size: what the node holds beyond its children.
        let below: u64 = self
            .children(at)
            .iter()
            .map(|&child| self.nodes[child.index()].total_size)
            .fold(0, u64::wrapping_add);
        let node = &mut self.nodes[at.index()];
        let old_size = node.total_size.wrapping_sub(below);
        node.payload = Some(payload);
        node.payload_is_dir = is_dir;
        let is_dir_now = self.is_dir(at);
        let parent = self.parent(at);
        if was_dir != is_dir_now {
            self.queue_full_sort(parent);
        }
        // Totals: the new chain (if any) holds `size` and its own nodes; above the chain
        // everything grows by the chain's count and the size change.
        let size_change = size.wrapping_sub(old_size);
        // Walking up: every node on the way holds the size change; each node holds the new
        // nodes of this insert strictly below it (new nodes are the ones from `first_created`
        // down, and they have the highest ids).
        let mut created_below = 0u32;
        let mut walk = at;
        loop {
            let node = &mut self.nodes[walk.index()];
            node.total_size = node.total_size.wrapping_add(size_change);
            node.descendants = node.descendants.saturating_add(created_below);
            if first_created.is_some_and(|first| walk >= first) {
                created_below += 1;
            }
            if walk == NodeId::ROOT {
                break;
            }
            walk = node.parent;
        }
        Some(at)
    }

    /// Adds an empty child `name` below `parent`.
    fn add_child(&mut self, parent: NodeId, name: &str) -> NodeId {
        let id = NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        let name_start = self.names.len();
        self.names.push_str(name);
        self.nodes.push(PathNode {
            name_start,
            total_size: 0,
            payload: None,
            name_len: u32::try_from(name.len()).unwrap_or(u32::MAX),
            parent,
            children_slot: NO_CHILDREN,
            descendants: 0,
            payload_is_dir: false,
            sort_queued: false,
        });
        let first_child = self.nodes[parent.index()].children_slot == NO_CHILDREN;
        if first_child {
            let slot = u32::try_from(self.child_lists.len()).unwrap_or(NO_CHILDREN);
            self.nodes[parent.index()].children_slot = slot;
            self.child_lists.push(Vec::new());
            self.sorted_prefix.push(0);
        }
        let slot = self.nodes[parent.index()].children_slot as usize;
        if let Some(list) = self.child_lists.get_mut(slot) {
            list.push(id);
        }
        let grandparent = self.parent(parent);
        self.queue_sort(parent);
        if first_child && parent != NodeId::ROOT {
            // A file that gets children becomes a directory: its place among its siblings moves.
            self.queue_full_sort(grandparent);
        }
        let key = self.key(parent, name);
        self.child_by_name.entry(key).or_insert(id);
        id
    }

    fn key(&self, parent: NodeId, name: &str) -> u32 {
        // The low half of a keyed 64-bit hash: collisions are only slower, never wrong.
        self.key_hasher.hash_one((parent.0, name)) as u32
    }

    /// Queues a sort of `id`'s children that puts every one in place again (one of them
    /// changed between file and directory).
    fn queue_full_sort(&mut self, id: NodeId) {
        let slot = self.nodes[id.index()].children_slot as usize;
        if let Some(prefix) = self.sorted_prefix.get_mut(slot) {
            *prefix = 0;
        }
        self.queue_sort(id);
    }

    fn queue_sort(&mut self, id: NodeId) {
        let node = &mut self.nodes[id.index()];
        if !node.sort_queued {
            node.sort_queued = true;
            self.unsorted.push(id);
        }
    }

    /// Sorts the children that changed since the last call: directories first, then by name.
    /// Children added to a sorted list are sorted among themselves and merged in by binary
    /// search, so a directory that keeps growing while a layer streams costs little per call.
    pub fn sort_pending(&mut self) {
        for id in std::mem::take(&mut self.unsorted) {
            self.nodes[id.index()].sort_queued = false;
            let slot = self.nodes[id.index()].children_slot as usize;
            let Some(list) = self.child_lists.get_mut(slot) else {
                continue;
            };
            let mut children = std::mem::take(list);
            let prefix = self
                .sorted_prefix
                .get(slot)
                .map_or(0, |&prefix| (prefix as usize).min(children.len()));
            let order = |a: &NodeId, b: &NodeId| {
                self.is_dir(*b)
                    .cmp(&self.is_dir(*a))
                    .then_with(|| self.name(*a).cmp(self.name(*b)))
            };
            let mut added = children.split_off(prefix);
            added.sort_by(order);
            let merged = if children.is_empty() {
                added
            } else {
                let mut merged = Vec::with_capacity(children.len() + added.len());
                let mut from = 0;
                for child in added {
                    let at = from
                        + children[from..].partition_point(|old| {
                            order(old, &child) != std::cmp::Ordering::Greater
                        });
                    merged.extend_from_slice(&children[from..at]);
                    merged.push(child);
                    from = at;
                }
                merged.extend_from_slice(&children[from..]);
                merged
            };
            if let Some(prefix) = self.sorted_prefix.get_mut(slot) {
                *prefix = u32::try_from(merged.len()).unwrap_or(u32::MAX);
            }
            self.child_lists[slot] = merged;
        }
    }

    /// The child of `parent` named `name`.
    pub fn child(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        let candidate = *self.child_by_name.get(&self.key(parent, name))?;
        let node = &self.nodes[candidate.index()];
        if node.parent == parent && self.name(candidate) == name {
            return Some(candidate);
        }
        // A hash collision: look through the siblings.
        self.children(parent)
            .iter()
            .copied()
            .find(|&child| self.name(child) == name)
    }

    /// The node at `path`, if the tree holds it (`""` is the root).
    pub fn find(&self, path: &str) -> Option<NodeId> {
        path.split('/')
            .filter(|c| !c.is_empty())
            .try_fold(NodeId::ROOT, |at, component| self.child(at, component))
    }

    /// The last path component of a node (`""` for the root).
    pub fn name(&self, id: NodeId) -> &str {
        let node = &self.nodes[id.index()];
        self.names
            .get(node.name_start..node.name_start + node.name_len as usize)
            .unwrap_or_default()
    }

    /// The full path of a node, rebuilt from its ancestors (`""` for the root).
    pub fn path(&self, id: NodeId) -> String {
        let mut chain = Vec::new();
        let mut at = id;
        while at != NodeId::ROOT {
            chain.push(at);
            at = self.nodes[at.index()].parent;
        }
        let mut path = String::new();
        for (position, &node) in chain.iter().rev().enumerate() {
            if position > 0 {
                path.push('/');
            }
            path.push_str(self.name(node));
        }
        path
    }

    /// The parent of a node (the root's parent is the root).
    pub fn parent(&self, id: NodeId) -> NodeId {
        self.nodes[id.index()].parent
    }

    /// The ancestors of a node, nearest first, the root excluded.
    pub fn ancestors(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::successors(Some(self.parent(id)), |&at| Some(self.parent(at)))
            .take_while(|&at| at != NodeId::ROOT)
    }

    /// The children of a node (directories first, then by name, after
    /// [`sort_pending`](Self::sort_pending)).
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        let slot = self.nodes[id.index()].children_slot as usize;
        self.child_lists.get(slot).map_or(&[], Vec::as_slice)
    }

    /// What sits at a node's path (`None` for a directory implied by its children).
    pub fn payload(&self, id: NodeId) -> Option<&T> {
        self.nodes[id.index()].payload.as_ref()
    }

    /// Whether the node can be opened: it has children, its payload is a directory, or it has
    /// no payload (a directory implied by paths below it).
    pub fn is_dir(&self, id: NodeId) -> bool {
        let node = &self.nodes[id.index()];
        node.payload.is_none() || node.payload_is_dir || node.children_slot != NO_CHILDREN
    }

    /// The node's own size plus everything below it.
    pub fn total_size(&self, id: NodeId) -> u64 {
        self.nodes[id.index()].total_size
    }

    /// The number of nodes below this one.
    pub fn descendants(&self, id: NodeId) -> u64 {
        u64::from(self.nodes[id.index()].descendants)
    }

    /// All nodes except the root.
    pub fn len(&self) -> usize {
        self.nodes.len() - 1
    }

    /// True when the tree holds nothing but the root.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// Every node id except the root's, parents before their children.
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = NodeId> + ExactSizeIterator + use<T> {
        (1..self.nodes.len() as u32).map(NodeId)
    }

    /// Ids of every directory node (for "expand all").
    pub fn directory_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.ids().filter(|&id| self.is_dir(id))
    }

    /// Marks, by node index, the nodes `wanted` accepts and all their ancestors.
    pub fn kept_with_parents(&self, wanted: impl Fn(NodeId) -> bool) -> Vec<bool> {
        let mut keep = vec![false; self.nodes.len()];
        // Children come after their parents: walking backwards, a node's mark is final
        // when it is reached and is passed on to its parent.
        for id in self.ids().rev() {
            if keep[id.index()] || wanted(id) {
                keep[id.index()] = true;
                keep[self.parent(id).index()] = true;
            }
        }
        keep[NodeId::ROOT.index()] = false;
        keep
    }

    /// Marks, by node index, the nodes whose path contains `filter` (case-insensitively),
    /// in time linear in the total length of the names (a deep path is not spelled out once
    /// per level): each node carries the matcher's state of its parent's path forward.
    pub fn path_matches(&self, filter: &PathFilter) -> Vec<bool> {
        let needle: Vec<char> = filter.needle.chars().collect();
        if needle.is_empty() {
            return vec![true; self.nodes.len()];
        }
        let failure = failure_table(&needle);
        let mut state = vec![0u32; self.nodes.len()];
        let mut matched = vec![false; self.nodes.len()];
        for id in self.ids() {
            let parent = self.parent(id);
            if matched[parent.index()] {
                matched[id.index()] = true;
                continue;
            }
            let mut at = state[parent.index()] as usize;
            let mut hit = false;
            let separator = (parent != NodeId::ROOT).then_some('/');
            let lowered = self.name(id).chars().flat_map(char::to_lowercase);
            for c in separator.into_iter().chain(lowered) {
                while at > 0 && needle[at] != c {
                    at = failure[at - 1];
                }
                if needle[at] == c {
                    at += 1;
                }
                if at == needle.len() {
                    hit = true;
                    break;
                }
            }
            matched[id.index()] = hit;
            state[id.index()] = at as u32;
        }
        matched[NodeId::ROOT.index()] = false;
        matched
    }

    /// Marks the nodes whose path matches `filter` and all their ancestors.
    pub fn matching(&self, filter: &PathFilter) -> Vec<bool> {
        let matches = self.path_matches(filter);
        self.kept_with_parents(|id| matches[id.index()])
    }

    /// Flattens the tree into display rows: the children (in `order`, by node index, or the
    /// tree's own order) of every node `is_open` accepts, only nodes marked in `keep` (all
    /// when `None`).
    pub fn flatten(
        &self,
        order: Option<&[Vec<NodeId>]>,
        keep: Option<&[bool]>,
        is_open: impl Fn(NodeId) -> bool,
    ) -> Vec<TreeRow> {
        let children = |id: NodeId| -> &[NodeId] {
            match order {
                Some(order) => &order[id.index()],
                None => self.children(id),
            }
        };
        let mut rows = Vec::new();
        let mut stack: Vec<(NodeId, usize)> = children(NodeId::ROOT)
            .iter()
            .rev()
            .map(|&c| (c, 0))
            .collect();
        while let Some((id, depth)) = stack.pop() {
            if keep.is_some_and(|keep| !keep[id.index()]) {
                continue;
            }
            rows.push(TreeRow { node: id, depth });
            if is_open(id) {
                stack.extend(children(id).iter().rev().map(|&c| (c, depth + 1)));
            }
        }
        rows
    }

    /// Flattens the tree into display rows: children of expanded directories are shown.
    /// With a non-empty `filter`, only nodes whose path contains it (case-insensitively) and
    /// their ancestors are shown, all expanded.
    pub fn visible_rows(&self, is_expanded: impl Fn(NodeId) -> bool, filter: &str) -> Vec<TreeRow> {
        let filter = PathFilter::new(filter);
        if filter.is_empty() {
            self.flatten(None, None, is_expanded)
        } else {
            let keep = self.matching(&filter);
            self.flatten(None, Some(&keep), |_| true)
        }
    }
}

impl<T> PathTree<T> {
    /// A tree of `(path, payload, is_dir, size)` items, sorted; later duplicates replace
    /// earlier ones.
    pub fn build(items: impl IntoIterator<Item = (String, T, bool, u64)>) -> Self {
        let mut tree = Self::new();
        for (path, payload, is_dir, size) in items {
            tree.insert(&path, payload, is_dir, size);
        }
        tree.sort_pending();
        tree
    }
}

/// The Knuth–Morris–Pratt failure table of `needle`.
fn failure_table(needle: &[char]) -> Vec<usize> {
    let mut failure = vec![0; needle.len()];
    let mut at = 0;
    for i in 1..needle.len() {
        while at > 0 && needle[i] != needle[at] {
            at = failure[at - 1];
        }
        if needle[i] == needle[at] {
            at += 1;
        }
        failure[i] = at;
    }
    failure
}
