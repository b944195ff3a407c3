//! A directory tree of entries, built once; display rows are derived from it.

use std::collections::HashMap;

use super::entry::{Entry, EntryKind};
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
