//! Dependency trees as text, `cargo tree` style. Errors use it to show the minimal graph that
//! leads to a missing or conflicting package; `pandora graph` to show a package's whole tree.

/// A node of a tree to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// What is printed for it.
    pub label: String,
    /// Its children, in order.
    pub children: Vec<Node>,
}

impl Node {
    /// A node without children.
    pub fn leaf(label: impl Into<String>) -> Node {
        Node {
            label: label.into(),
            children: Vec::new(),
        }
    }

    /// Merges paths (each from a root down) into trees that share their common prefixes: the
    /// smallest graph that shows every path.
    pub fn from_paths(paths: &[Vec<String>]) -> Vec<Node> {
        let mut roots: Vec<Node> = Vec::new();
        for path in paths {
            let mut level = &mut roots;
            for label in path {
                let at = match level.iter().position(|node| &node.label == label) {
                    Some(at) => at,
                    None => {
                        level.push(Node::leaf(label.clone()));
                        level.len() - 1
                    }
                };
                level = &mut level[at].children;
            }
        }
        roots
    }
}

/// Draws `roots` one line each, children under their parent with box-drawing guides; `style`
/// decorates each label (colour) after the layout is decided.
pub fn render(roots: &[Node], style: &dyn Fn(&str) -> String) -> Vec<String> {
    fn walk(nodes: &[Node], prefix: &str, style: &dyn Fn(&str) -> String, out: &mut Vec<String>) {
        for (index, node) in nodes.iter().enumerate() {
            let last = index + 1 == nodes.len();
            let branch = if last { "└── " } else { "├── " };
            out.push(format!("{prefix}{branch}{}", style(&node.label)));
            let guide = if last { "    " } else { "│   " };
            walk(&node.children, &format!("{prefix}{guide}"), style, out);
        }
    }
    let mut out = Vec::new();
    for root in roots {
        out.push(style(&root.label));
        walk(&root.children, "", style, &mut out);
    }
    out
}

/// The minimal graph of `paths` as indented text for an error message.
pub fn explain(paths: &[Vec<String>]) -> String {
    render(&Node::from_paths(paths), &|label| label.to_string())
        .iter()
        .map(|line| format!("\n    {line}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(labels: &[&str]) -> Vec<String> {
        labels.iter().map(|label| label.to_string()).collect()
    }

    #[test]
    fn paths_share_their_prefixes_and_draw_as_a_tree() {
        let roots = Node::from_paths(&[
            path(&["profile default", "app@1", "lib@2", "core@1"]),
            path(&["profile default", "app@1", "zlib@1"]),
            path(&["profile default", "lib@3 ✗ conflicts"]),
        ]);
        assert_eq!(
            render(&roots, &|label| label.to_string()),
            [
                "profile default",
                "├── app@1",
                "│   ├── lib@2",
                "│   │   └── core@1",
                "│   └── zlib@1",
                "└── lib@3 ✗ conflicts",
            ]
        );
    }
}
