//! `tree kustomization`: the objects a Kustomization manages, from its
//! inventory, drawn as a tree; Kustomizations it manages are expanded in
//! turn. `tree artifact generator`: the ExternalArtifacts an
//! ArtifactGenerator generated, from its inventory.

use ferroflux_ssa::apply::ObjectId;
use kube::Client;
use serde_json::Value;

use crate::cluster;
use crate::error::Result;
use crate::kinds;

/// One node: the object and what it manages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `Kind/namespace/name`.
    pub id: String,
    /// The managed objects, in inventory order.
    pub children: Vec<Node>,
}

/// The inventory of a Kustomization object as ids.
#[must_use]
pub fn inventory(obj: &Value) -> Vec<ObjectId> {
    obj["status"]["inventory"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            ObjectId::from_inventory(e["id"].as_str()?, e["v"].as_str().unwrap_or_default())
        })
        .collect()
}

/// The tree under the Kustomization `namespace/name`; `depth` bounds the
/// nesting, so a Kustomization that manages itself cannot loop.
///
/// # Errors
/// The Kustomization missing or the API error.
pub async fn tree(client: &Client, namespace: &str, name: &str, depth: usize) -> Result<Node> {
    let kind = kinds::kustomization();
    let obj = cluster::get(client, &kind, namespace, name).await?;
    let mut node = Node {
        id: format!("Kustomization/{namespace}/{name}"),
        children: Vec::new(),
    };
    for id in inventory(&obj) {
        let nested = id.kind == "Kustomization" && id.group == kind.resource.group && depth > 0;
        let child = if nested {
            Box::pin(tree(client, &id.namespace, &id.name, depth - 1)).await?
        } else {
            Node {
                id: id.to_string(),
                children: Vec::new(),
            }
        };
        node.children.push(child);
    }
    Ok(node)
}

/// The ExternalArtifacts in the inventory of the ArtifactGenerator `namespace/name`.
///
/// # Errors
/// The ArtifactGenerator missing or the API error.
pub async fn generator(client: &Client, namespace: &str, name: &str) -> Result<Node> {
    let obj = cluster::get(client, &kinds::artifact_generator(), namespace, name).await?;
    let children = obj["status"]["inventory"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| Node {
            id: format!(
                "ExternalArtifact/{}/{}",
                entry["namespace"].as_str().unwrap_or(namespace),
                entry["name"].as_str().unwrap_or_default()
            ),
            children: Vec::new(),
        })
        .collect();
    Ok(Node {
        id: format!("ArtifactGenerator/{namespace}/{name}"),
        children,
    })
}

/// The tree as text with box-drawing branches.
#[must_use]
pub fn render(node: &Node) -> String {
    fn walk(node: &Node, prefix: &str, out: &mut String) {
        for (i, child) in node.children.iter().enumerate() {
            let last = i + 1 == node.children.len();
            out.push_str(prefix);
            out.push_str(if last { "└── " } else { "├── " });
            out.push_str(&child.id);
            out.push('\n');
            let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
            walk(child, &deeper, out);
        }
    }
    let mut out = format!("{}\n", node.id);
    walk(node, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Node, inventory, render};

    #[test]
    fn inventories_draw_as_trees() {
        let obj = json!({"status": {"inventory": {"entries": [
            {"id": "_apps__Namespace", "v": "v1"},
            {"id": "apps_web_apps_Deployment", "v": "v1"}]}}});
        let ids: Vec<String> = inventory(&obj).iter().map(ToString::to_string).collect();
        assert_eq!(ids, ["Namespace/apps", "Deployment/apps/web"]);
        let leaf = |id: &str| Node {
            id: id.into(),
            children: vec![],
        };
        let tree = Node {
            id: "Kustomization/flux-system/root".into(),
            children: vec![
                Node {
                    id: "Kustomization/flux-system/apps".into(),
                    children: vec![leaf("Namespace/apps"), leaf("Deployment/apps/web")],
                },
                leaf("ConfigMap/flux-system/settings"),
            ],
        };
        assert_eq!(
            render(&tree),
            "Kustomization/flux-system/root\n\
             ├── Kustomization/flux-system/apps\n\
             │   ├── Namespace/apps\n\
             │   └── Deployment/apps/web\n\
             └── ConfigMap/flux-system/settings\n"
        );
    }
}
