//! Read -> write on the nine official specimens: nothing is dropped, output is deterministic.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod common;

use ivi::Ivi;
use ivi::xml::{self, Element, Node};

/// A comparable form of an element: namespace, name, attributes, trimmed text, and its children
/// sorted (the IVI groups are `xs:all`, where order carries no meaning; tables keep one child kind,
/// whose order is kept because the sort is stable on equal names... the sort key includes the
/// whole subtree, so equal multisets compare equal).
fn canon(e: &Element) -> String {
    let mut attrs: Vec<String> = e
        .attributes
        .iter()
        .map(|a| format!("{:?}{}={}", a.ns, a.name, a.value))
        .collect();
    attrs.sort();
    let mut kids: Vec<String> = e.elements().map(canon).collect();
    kids.sort();
    let text: String = e
        .children
        .iter()
        .filter_map(|n| match n {
            Node::Text(t) => Some(t.trim()),
            Node::Element(_) => None,
        })
        .collect();
    format!(
        "<{{{}}}{} {}>{}{}</>",
        e.ns.as_deref().unwrap_or(""),
        e.name,
        attrs.join(" "),
        text,
        kids.join("")
    )
}

#[test]
fn specimens_round_trip_without_loss() {
    let Some(dir) = common::ivi2() else { return };
    for path in common::specimens(&dir) {
        let bytes = std::fs::read(&path).unwrap();
        let original = xml::parse(&bytes).unwrap().root;
        let ivi = Ivi::from_xml(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written = ivi.to_xml();
        let reread = xml::parse(written.as_bytes()).unwrap().root;
        assert_eq!(
            canon(&original),
            canon(&reread),
            "{} lost or changed data",
            path.display()
        );
        // Deterministic: writing what we wrote gives the same bytes.
        let again = Ivi::from_xml(written.as_bytes()).unwrap();
        assert_eq!(again.to_xml(), written, "{}", path.display());
    }
}

#[test]
fn specimens_fill_the_typed_model() {
    let Some(dir) = common::ivi2() else { return };
    let mut with_masses = 0;
    for path in common::specimens(&dir) {
        let ivi = Ivi::from_xml(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            ivi.coc.vehicle_identification_number.len(),
            17,
            "{}",
            path.display()
        );
        assert!(!ivi.coc.make_table.is_empty(), "{}", path.display());
        assert!(!ivi.coc.manufacturer_table.is_empty(), "{}", path.display());
        assert!(ivi.signature.is_some(), "{}", path.display());
        let key = ivi.duplicate_key();
        assert_eq!(
            (key.vin.as_str(), key.version, key.stage),
            (ivi.coc.vehicle_identification_number.as_str(), 1, 1),
            "{}",
            path.display()
        );
        if ivi
            .coc
            .mass_group
            .as_ref()
            .is_some_and(|m| m.mass_in_running_order.is_some())
        {
            with_masses += 1;
        }
    }
    assert!(
        with_masses >= 7,
        "the M1 and N2 specimens declare a mass in running order"
    );
}
