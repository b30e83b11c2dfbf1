//! `docs/rules.md` is generated from the rules' metadata; this test writes it when
//! `CAPSTAN_UPDATE_DOCS=1` and otherwise fails when the committed file is out of date.

use std::path::PathBuf;

#[test]
fn rules_doc_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md");
    let generated = capstan_check::rules::markdown();
    if std::env::var_os("CAPSTAN_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().expect("docs dir")).expect("create docs/");
        std::fs::write(&path, &generated).expect("write docs/rules.md");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/rules.md is out of date: run `CAPSTAN_UPDATE_DOCS=1 cargo test -p capstan-check --test rules_doc`"
    );
}

#[test]
fn every_rule_is_documented() {
    for rule in capstan_check::rules::all() {
        let meta = rule.meta();
        assert!(
            !meta.summary.is_empty()
                && !meta.why.is_empty()
                && !meta.example.is_empty()
                && !meta.fix.is_empty(),
            "{}",
            meta.id
        );
    }
}
