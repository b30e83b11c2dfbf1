//! Bad input never panics: each case is a clear error naming what is wrong and where.

use std::path::Path;

use capstan_core::MemFs;
use capstan_kustomize::{Error, LoadRestrictor, Options, build};

fn fails(files: &[(&str, &str)], dir: &str, options: &Options) -> String {
    let fs = MemFs::from_files(files.iter().map(|(p, c)| (*p, *c)));
    match build(&fs, Path::new(dir), options) {
        Ok(resmap) => panic!("expected an error, got {} objects", resmap.len()),
        Err(error) => error.to_string(),
    }
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";

#[test]
fn alias_bomb_is_bounded() {
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  a: &a [x,x,x,x,x,x,x,x,x,x]\n",
    );
    let mut prev = 'a';
    for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'] {
        bomb.push_str(&format!("  {name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = name;
    }
    let err = fails(
        &[
            ("/r/kustomization.yaml", "resources: [bomb.yaml]\n"),
            ("/r/bomb.yaml", &bomb),
        ],
        "/r",
        &Options::default(),
    );
    assert!(err.contains("bomb.yaml"), "{err}");
}

#[test]
fn kustomization_including_itself() {
    let err = fails(
        &[("/r/kustomization.yaml", "resources: [.]\n")],
        "/r",
        &Options::default(),
    );
    assert!(err.contains("cycle detected"), "{err}");
    let err = fails(
        &[
            ("/r/a/kustomization.yaml", "resources: [../b]\n"),
            ("/r/b/kustomization.yaml", "resources: [../a]\n"),
        ],
        "/r/a",
        &Options::default(),
    );
    assert!(err.contains("cycle detected"), "{err}");
}

#[test]
fn missing_file() {
    let err = fails(
        &[("/r/kustomization.yaml", "resources: [nope.yaml]\n")],
        "/r",
        &Options::default(),
    );
    assert!(err.starts_with("accumulating resources"), "{err}");
    assert!(err.contains("nope.yaml"), "{err}");
}

#[test]
fn missing_kustomization() {
    let err = fails(&[("/r/cm.yaml", CM)], "/r", &Options::default());
    assert!(
        err.contains(
            "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization'"
        ),
        "{err}"
    );
    let err = fails(
        &[
            ("/r/kustomization.yaml", "resources: [../other]\n"),
            ("/other/cm.yaml", CM),
        ],
        "/r",
        &Options::default(),
    );
    assert!(err.contains("unable to find one of"), "{err}");
}

#[test]
fn root_escape_only_under_root_only() {
    let files = [
        ("/r/app/kustomization.yaml", "resources: [../cm.yaml]\n"),
        ("/r/cm.yaml", CM),
    ];
    let err = fails(&files, "/r/app", &Options::default());
    assert!(
        err.contains("security; file '/r/cm.yaml' is not in or below '/r/app'"),
        "{err}"
    );
    let fs = MemFs::from_files(files);
    let open = Options {
        load_restrictor: LoadRestrictor::None,
        ..Options::default()
    };
    assert_eq!(
        build(&fs, Path::new("/r/app"), &open).map(|m| m.len()).ok(),
        Some(1)
    );
}

#[test]
fn duplicate_ids() {
    let err = fails(
        &[
            ("/r/kustomization.yaml", "resources: [a.yaml, b.yaml]\n"),
            ("/r/a.yaml", CM),
            ("/r/b.yaml", CM),
        ],
        "/r",
        &Options::default(),
    );
    assert!(
        err.contains(
            "may not add resource with an already registered id: ConfigMap.v1.[noGrp]/cm.[noNs]"
        ),
        "{err}"
    );
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let fs = MemFs::from_files([
        ("/r/kustomization.yaml", "resources: [bad.yaml]\n"),
        (
            "/r/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n",
        ),
    ]);
    let err = build(&fs, Path::new("/r"), &Options::default()).expect_err("malformed YAML fails");
    let text = err.to_string();
    assert!(text.contains("bad.yaml"), "{text}");
    assert!(
        matches!(err.root_cause(), Error::Yaml { line: Some(_), .. }),
        "{err:?}"
    );
}

#[test]
fn malformed_kustomization() {
    let err = fails(
        &[("/r/kustomization.yaml", "resources: [a\n")],
        "/r",
        &Options::default(),
    );
    assert!(err.starts_with("invalid Kustomization"), "{err}");
    let err = fails(
        &[("/r/kustomization.yaml", "resourcez: [a.yaml]\n")],
        "/r",
        &Options::default(),
    );
    assert!(err.contains("unknown field `resourcez`"), "{err}");
    let err = fails(
        &[("/r/kustomization.yaml", "- just\n- a list\n")],
        "/r",
        &Options::default(),
    );
    assert!(err.starts_with("invalid Kustomization"), "{err}");
}

#[test]
fn objects_without_kind_or_name() {
    let err = fails(
        &[
            ("/r/kustomization.yaml", "resources: [x.yaml]\n"),
            ("/r/x.yaml", "apiVersion: v1\nmetadata:\n  name: x\n"),
        ],
        "/r",
        &Options::default(),
    );
    assert!(err.contains("missing kind"), "{err}");
    let err = fails(
        &[
            ("/r/kustomization.yaml", "resources: [x.yaml]\n"),
            ("/r/x.yaml", "apiVersion: v1\nkind: ConfigMap\n"),
        ],
        "/r",
        &Options::default(),
    );
    assert!(err.contains("missing metadata.name"), "{err}");
}

#[test]
fn krm_function_plugins_are_refused() {
    let err = fails(
        &[
            ("/r/kustomization.yaml", "transformers: [fn.yaml]\n"),
            (
                "/r/fn.yaml",
                "apiVersion: example.com/v1\nkind: MyTransformer\nmetadata:\n  name: t\n  annotations:\n    config.kubernetes.io/function: |\n      container:\n        image: example/fn\n",
            ),
        ],
        "/r",
        &Options::default(),
    );
    assert_eq!(
        err,
        "external plugins disabled; unable to load external plugin 'MyTransformer'"
    );
}

#[test]
fn unreachable_remote_base() {
    let cache = tempfile::tempdir().expect("temp dir");
    let options = Options {
        remote_cache: Some(cache.path().to_path_buf()),
        ..Options::default()
    };
    let err = fails(
        &[(
            "/r/kustomization.yaml",
            "resources:\n- file:///nonexistent/capstan/repo//base?ref=main\n",
        )],
        "/r",
        &options,
    );
    assert!(
        err.contains(
            "failed to fetch remote resource 'file:///nonexistent/capstan/repo//base?ref=main'"
        ),
        "{err}"
    );
}

#[test]
fn component_as_resource_and_resource_as_component() {
    let err = fails(
        &[
            ("/r/kustomization.yaml", "resources: [c]\n"),
            (
                "/r/c/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamePrefix: x-\n",
            ),
        ],
        "/r",
        &Options::default(),
    );
    assert!(err.contains("expected kind != 'Component'"), "{err}");
    let err = fails(
        &[
            ("/r/kustomization.yaml", "components: [k]\n"),
            ("/r/k/kustomization.yaml", "namePrefix: x-\n"),
        ],
        "/r",
        &Options::default(),
    );
    assert!(err.contains("expected kind 'Component'"), "{err}");
}
