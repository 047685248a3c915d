//! C14N against golden vectors produced by libxml2 (see `fixtures/c14n/README.md`).

use std::path::{Path, PathBuf};
use std::process::Command;

use dsig::{C14nMethod, canonicalize};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/c14n");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("input.xml").exists())
        .collect();
    out.sort();
    assert!(
        out.len() >= 10,
        "expected the golden cases in {}",
        dir.display()
    );
    out
}

fn bless(case: &Path) {
    for (flag, file) in [("--exc-c14n", "exc.expected"), ("--c14n", "inc.expected")] {
        let out = Command::new("xmllint")
            .arg(flag)
            .arg(case.join("input.xml"))
            .output()
            .expect("xmllint must be installed to bless");
        assert!(
            out.status.success(),
            "xmllint {flag} failed on {}",
            case.display()
        );
        std::fs::write(case.join(file), out.stdout).expect("write golden");
    }
}

#[test]
fn c14n_matches_libxml2() {
    let blessing = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for case in cases() {
        if blessing {
            bless(&case);
        }
        let input = std::fs::read(case.join("input.xml")).expect("input");
        let has_comments = input.windows(4).any(|w| w == b"<!--");
        let methods = [
            (
                "exc.expected",
                C14nMethod::Exclusive {
                    with_comments: true,
                    inclusive_prefixes: Vec::new(),
                },
                C14nMethod::exclusive(),
            ),
            (
                "inc.expected",
                C14nMethod::Inclusive {
                    with_comments: true,
                },
                C14nMethod::inclusive(),
            ),
        ];
        for (file, with, without) in methods {
            let expected = std::fs::read(case.join(file)).expect("golden");
            let got = canonicalize(&input, &with).expect("canonicalize");
            if got != expected {
                failures.push(format!(
                    "{} {file}:\n--- expected\n{}\n--- got\n{}",
                    case.display(),
                    String::from_utf8_lossy(&expected),
                    String::from_utf8_lossy(&got)
                ));
            }
            if !has_comments {
                let got = canonicalize(&input, &without).expect("canonicalize");
                if got != expected {
                    failures.push(format!(
                        "{} {file} (without comments) differs",
                        case.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn comments_are_dropped_without_comments() {
    let out = canonicalize(
        b"<!--a--><d><!--b-->x</d><!--c-->",
        &C14nMethod::exclusive(),
    )
    .expect("c14n");
    assert_eq!(out, b"<d>x</d>");
}

#[test]
fn dtd_and_entities_are_refused() {
    let err = canonicalize(
        b"<!DOCTYPE d [<!ENTITY e \"boom\">]><d>&e;</d>",
        &C14nMethod::exclusive(),
    )
    .expect_err("dtd");
    assert!(err.to_string().contains("dtd"), "{err}");
    let err = canonicalize(b"<d>&e;</d>", &C14nMethod::exclusive()).expect_err("entity");
    assert!(err.to_string().contains("&e;"), "{err}");
}

#[test]
fn depth_limit_is_enforced() {
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    let err = canonicalize(deep.as_bytes(), &C14nMethod::exclusive()).expect_err("depth");
    assert!(err.to_string().contains("max_depth"), "{err}");
}

/// Found by the `c14n` fuzz target: `<iesn//>` was read as an element named `iesn/`, and its
/// canonical form did not read back. A name that is not an XML `Name` is refused.
#[test]
fn element_and_attribute_names_must_be_xml_names() {
    let method = C14nMethod::Inclusive {
        with_comments: false,
    };
    for doc in ["<iesn//>", "<1a/>", "<a b/='1'/>", "<a -b='1'/>"] {
        assert!(
            canonicalize(doc.as_bytes(), &method).is_err(),
            "{doc} was read"
        );
    }
    let ok = canonicalize("<é:a-b.c xmlns:é='urn:x' d·e='1'/>".as_bytes(), &method).unwrap();
    assert_eq!(
        String::from_utf8(ok).unwrap(),
        "<é:a-b.c xmlns:é=\"urn:x\" d·e=\"1\"></é:a-b.c>"
    );
}
