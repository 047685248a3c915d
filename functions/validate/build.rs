//! Embeds the official IVI 2.0 schema (and its xmldsig import) into the component, so `validate`
//! needs no file system at run time. The schema is not part of this repository: it is read at build
//! time from `ECOC_IVI2_XSD` (the path of `ivi-2.0.xsd`), or from `../shared/ivi2/xsd/` beside the
//! repository. Without it the component still builds, and answers 503 for the `eu` profile, naming
//! the variable to set.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=ECOC_IVI2_XSD");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let xsd = std::env::var_os("ECOC_IVI2_XSD")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared/ivi2/xsd/ivi-2.0.xsd"));
    let dsig = xsd.with_file_name("xmldsig-core-schema.xsd");
    let code = match (
        std::fs::read_to_string(&xsd),
        std::fs::read_to_string(&dsig),
    ) {
        (Ok(ivi), Ok(dsig_text)) => {
            println!("cargo::rerun-if-changed={}", xsd.display());
            let _ = std::fs::write(out.join("ivi-2.0.xsd"), ivi);
            let _ = std::fs::write(out.join("xmldsig-core-schema.xsd"), dsig_text);
            "pub const OFFICIAL: Option<(&str, &str)> = Some((include_str!(concat!(env!(\"OUT_DIR\"), \"/ivi-2.0.xsd\")), include_str!(concat!(env!(\"OUT_DIR\"), \"/xmldsig-core-schema.xsd\"))));\n"
        }
        _ => {
            println!(
                "cargo::warning=official IVI 2.0 schema not found at {}: the eu profile will answer 503 (set ECOC_IVI2_XSD)",
                xsd.display()
            );
            "pub const OFFICIAL: Option<(&str, &str)> = None;\n"
        }
    };
    if let Err(e) = std::fs::write(out.join("official_schema.rs"), code) {
        panic!("cannot write official_schema.rs: {e}");
    }
}
