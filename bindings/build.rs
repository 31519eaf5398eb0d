//! Builds the contracts with forge (the project's own toolchain in `.tools/bin`) so that `sol!` reads
//! fresh artifacts from `contracts/out`.

use std::path::Path;
use std::process::Command;

const CONTRACTS: &[&str] = &["ModelRegistry", "ClaimManager", "DisputeGame", "Committee", "Adjudicator", "Regions"];

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).parent().expect("bindings/ sits in the workspace root");
    println!("cargo:rerun-if-changed={}", root.join("contracts/src").display());
    println!("cargo:rerun-if-changed={}", root.join("foundry.toml").display());
    let forge = root.join(".tools/bin/forge");
    let solc = root.join(".tools/bin/solc");
    let artifacts_exist = CONTRACTS.iter().all(|c| root.join(format!("contracts/out/{c}.sol/{c}.json")).exists());
    if forge.exists() && solc.exists() {
        let out = Command::new(&forge)
            .args(["build", "--root"])
            .arg(root)
            .env("FOUNDRY_SOLC", &solc)
            .output()
            .expect("running forge");
        if !out.status.success() {
            panic!(
                "forge build failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    } else if !artifacts_exist {
        panic!("forge artifacts are missing and the toolchain is not installed: run scripts/install.sh first");
    }
}
