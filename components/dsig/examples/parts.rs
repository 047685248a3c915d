//! Where the time goes: parse+c14n, key operations, chain validation (release build).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use dsig::{C14nMethod, Signer};

fn time<T>(label: &str, n: u32, mut f: impl FnMut() -> T) {
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    println!(
        "{label:<40} {:>9.1} us",
        start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );
}

fn main() {
    let dir = common::specimens_dir().expect("specimens");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("e").path())
        .collect();
    paths.sort();
    let doc = std::fs::read(&paths[2]).expect("read");
    let p = common::pki();
    time("exc-c14n whole document (parse included)", 2000, || {
        dsig::canonicalize(&doc, &C14nMethod::exclusive()).expect("c")
    });
    if std::env::var_os("ONLY_C14N").is_some() {
        return;
    }
    let rsa = p.rsa_leaf.key.signer();
    let ec = p.p256_leaf.key.signer();
    time("rsa-2048 sign_digest", 50, || {
        rsa.sign_digest(&[1; 32]).expect("s")
    });
    time("p-256 sign_digest", 200, || {
        ec.sign_digest(&[1; 32]).expect("s")
    });
    let rsa_pub = dsig::Certificate::from_der(&p.rsa_leaf.der)
        .expect("c")
        .public_key()
        .expect("k");
    let ec_pub = dsig::Certificate::from_der(&p.p256_leaf.der)
        .expect("c")
        .public_key()
        .expect("k");
    let rs = rsa.sign_digest(&[1; 32]).expect("s");
    let es = ec.sign_digest(&[1; 32]).expect("s");
    time("rsa-2048 verify", 200, || {
        rsa_pub.verify_xmldsig(&[1; 32], &rs).expect("v")
    });
    time("p-256 verify", 200, || {
        ec_pub.verify_xmldsig(&[1; 32], &es).expect("v")
    });
    time("certificate parse + public key", 200, || {
        dsig::Certificate::from_der(&p.rsa_leaf.der)
            .expect("c")
            .public_key()
            .expect("k")
    });
}
