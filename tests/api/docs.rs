//! The documentation as a reader meets it: a README that fits on a few screens, every page reachable
//! from it, and no relative link that leads nowhere.

use std::path::Path;

use crate::helpers::root;

/// Every `](target)` of a Markdown text, in order.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else { break };
        found.push(after[..end].trim().to_string());
        rest = &after[end..];
    }
    found
}

fn pages() -> Vec<std::path::PathBuf> {
    let mut pages: Vec<_> =
        ["README.md", "SECURITY.md", "PRIVACY.md", "ARCHITECTURE.md", "deploy/README.md", "models/README.md"]
            .iter()
            .map(|p| root().join(p))
            .collect();
    for entry in std::fs::read_dir(root().join("docs")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "md") {
            pages.push(entry.path());
        }
    }
    pages
}

#[test]
fn every_relative_link_in_the_docs_leads_to_a_file() {
    let mut dead = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for link in links(&text) {
            if link.starts_with("http://")
                || link.starts_with("https://")
                || link.starts_with('#')
                || link.starts_with("mailto:")
            {
                continue;
            }
            let target = link.split('#').next().unwrap();
            if !page.parent().unwrap().join(target).exists() {
                dead.push(format!("{}: {link}", page.strip_prefix(root()).unwrap_or(&page).display()));
            }
        }
    }
    assert!(dead.is_empty(), "dead relative links:\n{}", dead.join("\n"));
}

#[test]
fn the_readme_is_a_front_door_and_every_doc_page_is_reachable_from_it() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.lines().count() <= 200, "README.md has {} lines", readme.lines().count());
    let linked = links(&readme);
    for entry in std::fs::read_dir(root().join("docs")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".md") {
            assert!(linked.iter().any(|l| l == &format!("docs/{name}")), "docs/{name} is not linked from the README");
        }
    }
    for page in ["SECURITY.md", "PRIVACY.md", "ARCHITECTURE.md", "deploy/README.md"] {
        assert!(linked.iter().any(|l| l == page), "{page} is not linked from the README");
        assert!(Path::new(&root().join(page)).exists());
    }
}
