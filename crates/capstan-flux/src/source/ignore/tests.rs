//! Table tests of ignore rules and of the artifact view they give.

use std::path::Path;
use std::sync::Arc;

use capstan_core::{Fs, MemFs};

use super::*;

fn rules(text: &str) -> IgnoreRules {
    let scan = SourceIgnore {
        file_rules: parse_rules(text, &[]),
    };
    scan.rules_for(None)
}

fn split(path: &str) -> Vec<&str> {
    path.split('/').collect()
}

#[test]
fn rule_table() {
    // (rules, path, is_dir, excluded)
    let cases: &[(&str, &str, bool, bool)] = &[
        // A name matches any component, and so everything below a matching directory.
        ("*.md", "README.md", false, true),
        ("*.md", "docs/guide/intro.md", false, true),
        ("*.md", "docs/x.yaml", false, false),
        ("tmp", "a/tmp/b.yaml", false, true),
        ("tmp", "a/tmp", false, true),
        // A trailing `/` limits the last component to directories.
        ("tmp/", "a/tmp", false, false),
        ("tmp/", "a/tmp", true, true),
        ("tmp/", "a/tmp/file", false, true),
        // With `/`: anchored at the scope, a leading match counts.
        ("/deploy", "deploy/app.yaml", false, true),
        ("/deploy", "x/deploy/app.yaml", false, false),
        ("deploy/base", "deploy/base/x.yaml", false, true),
        ("deploy/base", "other/deploy/base/x.yaml", false, false),
        ("deploy/*.yaml", "deploy/a.yaml", false, true),
        ("deploy/*.yaml", "deploy/sub/a.yaml", false, false),
        // `**`.
        ("**/secret.yaml", "a/b/secret.yaml", false, true),
        ("**/secret.yaml", "secret.yaml", false, true),
        ("a/**/z", "a/b/c/z", false, true),
        ("a/**", "a/b", false, true),
        ("a**b/x", "a1b/x", false, false),
        // `**` resolves to the first component that matches, without trying later ones.
        ("**/a/b", "a/x/a/b", false, false),
        // Negation: the last matching rule decides, file by file.
        ("/*\n!/kubernetes", "kubernetes/apps/x.yaml", false, false),
        ("/*\n!/kubernetes", "docs/x.yaml", false, true),
        ("/*\n!/kubernetes", "README.md", false, true),
        ("dir/\n!dir/keep.yaml", "dir/keep.yaml", false, false),
        ("dir/\n!dir/keep.yaml", "dir/drop.yaml", false, true),
        ("!keep.yaml\n*.yaml", "keep.yaml", false, true),
        // Comments, blank lines, trailing spaces, escapes.
        ("# *.yaml\n\n   \n", "a.yaml", false, false),
        ("a.yaml   ", "a.yaml", false, true),
        ("\\#x", "#x", false, true),
        ("\\!x", "!x", false, true),
        ("a?c", "abc", false, true),
        ("[ab].yaml", "b.yaml", false, true),
        ("[ab].yaml", "c.yaml", false, false),
        ("[", "[", false, false),
        // VCS files are always out.
        ("*.md", ".git/config", false, true),
        ("*.md", ".gitignore", false, true),
        ("*.md", "sub/.gitattributes", false, true),
        // Own rules replace the defaults.
        ("*.md", "logo.png", false, false),
        ("*.md", ".github/workflows/ci.yaml", false, false),
        ("*.md", ".sops.yaml", false, false),
    ];
    for (text, path, is_dir, want) in cases {
        assert_eq!(
            rules(text).excludes(&split(path), *is_dir),
            *want,
            "rules {text:?} on {path} (dir: {is_dir})"
        );
    }
}

#[test]
fn defaults_apply_only_without_own_rules() {
    let none = SourceIgnore::default().rules_for(None);
    for path in [
        "logo.png",
        "a/b/photo.JPG.jpg",
        "charts/x.tar.gz",
        "bundle.zip",
        ".github/workflows/ci.yaml",
        ".circleci/config.yml",
        ".travis.yml",
        ".gitlab-ci.yml",
        "appveyor.yml",
        ".drone.yml",
        "cloudbuild.yaml",
        "codeship-services.yml",
        "codeship-steps.yml",
        "tools/.goreleaser.yml",
        ".sops.yaml",
        "clusters/prod/.sops.yaml",
        "apps/.flux.yaml",
        ".git/HEAD",
    ] {
        assert!(none.excludes(&split(path), false), "{path}");
    }
    for path in [
        "apps/deploy.yaml",
        "kustomization.yaml",
        "README.md",
        "sub/.github.yaml",
    ] {
        assert!(!none.excludes(&split(path), false), "{path}");
    }
    // An empty spec.ignore is no rule: the defaults stay.
    let empty = SourceIgnore::default().rules_for(Some("# nothing\n"));
    assert!(empty.excludes(&split("logo.png"), false));
    // A spec.ignore rule drops them.
    let own = SourceIgnore::default().rules_for(Some("*.md"));
    assert!(!own.excludes(&split("logo.png"), false));
    assert!(own.excludes(&split("x.md"), false));
}

fn repository() -> MemFs {
    MemFs::from_files([
        (".sourceignore", "docs/\n*.txt\n"),
        ("README.md", "# hi"),
        ("notes.txt", "x"),
        ("docs/index.yaml", "kind: ConfigMap"),
        ("apps/.sourceignore", "local.yaml\n/only-here.yaml\n"),
        ("apps/app.yaml", "kind: ConfigMap"),
        ("apps/local.yaml", "kind: ConfigMap"),
        ("apps/only-here.yaml", "kind: ConfigMap"),
        ("apps/sub/only-here.yaml", "kind: ConfigMap"),
        ("apps/sub/local.yaml", "kind: ConfigMap"),
        ("other/local.yaml", "kind: ConfigMap"),
        ("other/logo.png", "png"),
    ])
}

#[test]
fn sourceignore_files_are_scoped_to_their_directory() {
    let fs = repository();
    let scan = SourceIgnore::scan(&fs, Path::new(".")).unwrap();
    let rules = scan.rules_for(None);
    let excluded = |p: &str| rules.excludes(&split(p), false);
    assert!(excluded("notes.txt"));
    assert!(excluded("docs/index.yaml"));
    assert!(excluded("apps/local.yaml"));
    assert!(excluded("apps/sub/local.yaml"));
    assert!(excluded("apps/only-here.yaml"));
    assert!(!excluded("apps/sub/only-here.yaml"), "anchored to apps/");
    assert!(!excluded("other/local.yaml"), "scoped to apps/");
    assert!(!excluded("other/logo.png"), "own rules drop the defaults");
    assert!(!excluded(".sourceignore"));
}

#[test]
fn ignoring_fs_hides_excluded_paths() {
    let fs = repository();
    let scan = SourceIgnore::scan(&fs, Path::new(".")).unwrap();
    let view = IgnoringFs::new(&fs, Path::new("."), Arc::new(scan.rules_for(None)));
    assert!(!view.is_file(Path::new("notes.txt")));
    assert!(view.read(Path::new("notes.txt")).is_err());
    assert!(view.is_file(Path::new("README.md")));
    assert!(!view.is_dir(Path::new("docs")));
    assert!(view.read_dir(Path::new("docs")).is_err());
    let names: Vec<String> = view
        .read_dir(Path::new("apps"))
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [".sourceignore", "app.yaml", "sub"]);
    let err = view.read(Path::new("apps/local.yaml")).unwrap_err();
    assert!(
        err.to_string()
            .contains("excluded from the source artifact"),
        "{err}"
    );
    assert!(view.canonicalize(Path::new("apps/local.yaml")).is_err());
    assert!(view.canonicalize(Path::new("apps/app.yaml")).is_ok());
}

#[test]
fn a_reincluded_file_keeps_its_excluded_directory() {
    let fs = MemFs::from_files([
        ("dir/keep.yaml", "a"),
        ("dir/drop.yaml", "b"),
        ("gone/x.yaml", "c"),
    ]);
    let scan = SourceIgnore::default();
    let rules = scan.rules_for(Some("dir/\ngone/\n!dir/keep.yaml\n"));
    let view = IgnoringFs::new(&fs, Path::new("."), Arc::new(rules));
    assert!(view.is_dir(Path::new("dir")));
    assert!(!view.is_dir(Path::new("gone")));
    assert_eq!(
        view.read_dir(Path::new("dir")).unwrap(),
        [Path::new("dir/keep.yaml").to_path_buf()]
    );
}

#[test]
fn unreadable_sourceignore_is_an_error_naming_it() {
    let fs = MemFs::from_files([(".sourceignore", &b"\xff\xfe"[..])]);
    let err = SourceIgnore::scan(&fs, Path::new(".")).unwrap_err();
    assert!(err.to_string().contains(".sourceignore"), "{err}");
}

#[test]
fn later_rules_win_subdirectories_then_spec_ignore() {
    let fs = MemFs::from_files([
        (".sourceignore", "*.yaml\n"),
        ("apps/.sourceignore", "!keep.yaml\n"),
        ("apps/keep.yaml", "a"),
        ("apps/drop.yaml", "b"),
        ("keep.yaml", "c"),
        ("z/.sourceignore", "!*.yaml\n"),
        ("z/late.yaml", "d"),
    ]);
    let scan = SourceIgnore::scan(&fs, Path::new(".")).unwrap();
    let files_only = scan.rules_for(None);
    let excluded = |rules: &IgnoreRules, p: &str| rules.excludes(&split(p), false);
    assert!(
        !excluded(&files_only, "apps/keep.yaml"),
        "apps/.sourceignore comes after the root's"
    );
    assert!(excluded(&files_only, "apps/drop.yaml"));
    assert!(
        excluded(&files_only, "keep.yaml"),
        "apps/ rules are scoped to apps/"
    );
    assert!(!excluded(&files_only, "z/late.yaml"));
    // spec.ignore comes after every .sourceignore.
    let with_spec = scan.rules_for(Some("apps/keep.yaml\nz/\n"));
    assert!(excluded(&with_spec, "apps/keep.yaml"));
    assert!(excluded(&with_spec, "z/late.yaml"));
}

#[test]
fn paths_outside_the_root_are_left_alone() {
    let fs = MemFs::from_files([("repo/a.png", "x"), ("cache/b.png", "y")]);
    let rules = SourceIgnore::default().rules_for(None);
    let view = IgnoringFs::new(&fs, Path::new("repo"), Arc::new(rules));
    assert!(
        !view.is_file(Path::new("repo/a.png")),
        "a default exclusion"
    );
    assert!(
        view.is_file(Path::new("cache/b.png")),
        "not in the repository"
    );
    assert!(
        view.is_dir(Path::new("repo")),
        "the root itself is never excluded"
    );
}
