use std::path::Path;

use serde_json::json;

use super::fluxinstance::{FluxInstanceError, Instance};
use super::inputs::{self, Provider};
use super::resourceset::{ResourceSetError, expand};
use super::template::Template;
use super::version;

fn run(template: &str, inputs: serde_json::Value) -> Result<String, String> {
    Template::parse(template)
        .map_err(|e| e.to_string())?
        .execute(&inputs)
        .map_err(|e| e.to_string())
}

#[test]
fn template_table() {
    let inputs = json!({"tenant": "team1", "n": 3, "app": {"version": "6.7.x", "replicas": 2},
                        "list": ["a", "b"], "empty": "", "big": 1000000});
    let cases: &[(&str, &str)] = &[
        ("<< inputs.tenant >>", "team1"),
        ("x-<< inputs.tenant >>-y", "x-team1-y"),
        ("<< inputs.app.version | quote >>", "\"6.7.x\""),
        ("<< inputs.app.replicas | int >>", "2"),
        ("<< inputs.big >>", "1e+06"),
        ("<< get inputs \"name\" | default inputs.tenant >>", "team1"),
        (
            "<< if eq inputs.tenant \"team1\" >>enabled<< else >>disabled<< end >>",
            "enabled",
        ),
        (
            "<< if eq inputs.tenant \"x\" >>a<< else if inputs.n >>b<< else >>c<< end >>",
            "b",
        ),
        (
            "<< range $i, $v := inputs.list >><< $i >>=<< $v >>,<< end >>",
            "0=a,1=b,",
        ),
        ("<< range inputs.list >>[<< . >>]<< end >>", "[a][b]"),
        ("<< with inputs.app >><< .version >><< end >>", "6.7.x"),
        ("a  <<- \" b \" ->>  c", "a b c"),
        ("<< inputs.tenant | upper | printf \"%s!\" >>", "TEAM1!"),
        ("<< \"Hello World & Co\" | slugify >>", "hello-world-co"),
        (
            "<< inputs.app | toYaml | nindent 2 >>",
            "\n  replicas: 2\n  version: 6.7.x\n  ",
        ),
        ("<< $x := inputs.tenant >><< $x >>", "team1"),
        ("<< and inputs.tenant inputs.empty | quote >>", "\"\""),
        ("<< or inputs.empty \"dflt\" >>", "dflt"),
        ("<</* comment */>>ok", "ok"),
        ("<< inputs.provider >>", ""),
    ];
    for (template, want) in cases {
        let got = run(template, inputs.clone());
        if template.contains("provider") {
            assert!(
                got.is_err(),
                "{template}: missing key must fail, got {got:?}"
            );
            continue;
        }
        assert_eq!(got.as_deref(), Ok(*want), "{template}");
    }
}

#[test]
fn template_errors_name_the_line() {
    let err = run("a\n<< if inputs.x >>\nno end", json!({"x": 1})).unwrap_err();
    assert!(
        err.contains("line 2") && err.contains("missing <<end>>"),
        "{err}"
    );
    let err = run("<< nosuchfn 1 >>", json!({})).unwrap_err();
    assert!(err.contains("\"nosuchfn\" not defined"), "{err}");
    let err = run("<< inputs.missing >>", json!({})).unwrap_err();
    assert!(err.contains("no entry for key \"missing\""), "{err}");
    // Go-template braces are left alone.
    assert_eq!(
        run("{{ .Changed }}", json!({})).as_deref(),
        Ok("{{ .Changed }}")
    );
}

#[test]
fn ids_and_keys_match_the_operator() {
    // Adler-32 of "Wikipedia" is 0x11E60398.
    assert_eq!(inputs::id("Wikipedia"), 0x11E6_0398u32.to_string());
    assert_eq!(inputs::normalize_key("My-RSet name"), "my_rset_name");
    assert_eq!(inputs::normalize_key("--git.tag--"), "git_tag");
}

fn rset(spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSet",
           "metadata": {"name": "apps", "namespace": "flux-system"}, "spec": spec})
}

#[test]
fn resourceset_flatten_dedup_and_provenance() {
    let set = rset(json!({
        "commonMetadata": {"labels": {"team": "x"}},
        "inputs": [{"tenant": "a", "replicas": 2}, {"tenant": "b", "replicas": 3}],
        "resources": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "<< inputs.tenant >>"}},
            {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
             "metadata": {"name": "shared", "namespace": "default"}, "spec": {"url": "oci://x"}},
            {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
             "metadata": {"name": "app-<< inputs.tenant >>", "namespace": "default",
                          "annotations": {"fluxcd.controlplane.io/reconcile": "<< if eq inputs.tenant \"b\" >>disabled<< else >>enabled<< end >>"}},
             "spec": {"values": {"replicaCount": "<< inputs.replicas | int >>",
                                 "owner": "<< inputs.provider.kind >>"}}}
        ]
    }));
    let out = expand(&set, "flux-system", &[]).expect("expands");
    let names: Vec<String> = out
        .objects
        .iter()
        .map(|g| {
            format!(
                "{}/{}",
                g.object["kind"].as_str().unwrap_or(""),
                g.object["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "Namespace/a",
            "Namespace/b",
            "OCIRepository/shared",
            "HelmRelease/app-a"
        ]
    );
    let release = &out.objects[3];
    assert_eq!(release.object["spec"]["values"]["replicaCount"], json!(2));
    assert_eq!(
        release.object["spec"]["values"]["owner"],
        json!("ResourceSet")
    );
    assert_eq!(release.field, "spec.resources[2]");
    assert_eq!(release.input.as_deref(), Some("ResourceSet/apps inputs[0]"));
    let labels = &release.object["metadata"]["labels"];
    assert_eq!(labels["team"], json!("x"));
    assert_eq!(
        labels["resourceset.fluxcd.controlplane.io/name"],
        json!("apps")
    );
}

#[test]
fn resourceset_permute_with_static_provider() {
    let provider = json!({"apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSetInputProvider",
        "metadata": {"name": "git-tag", "namespace": "flux-system", "labels": {"app": "x"}},
        "spec": {"type": "Static", "defaultValues": {"sha": "abc"}}});
    let providers = [Provider::from_value(&provider, "flux-system")];
    let set = rset(json!({
        "inputStrategy": {"name": "Permute"},
        "inputs": [{"v": "1"}, {"v": "2"}],
        "inputsFrom": [{"kind": "ResourceSetInputProvider", "selector": {"matchLabels": {"app": "x"}}}],
        "resourcesTemplate": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-<< inputs.id >>\n  namespace: default\ndata:\n  v: << inputs.apps.v | quote >>\n  sha: << inputs.git_tag.sha >>\n"
    }));
    let out = expand(&set, "flux-system", &providers).expect("expands");
    assert_eq!(out.objects.len(), 2);
    let first = &out.objects[0].object;
    assert_eq!(first["data"]["sha"], json!("abc"));
    assert_eq!(first["data"]["v"], json!("1"));
    assert_eq!(
        first["metadata"]["name"],
        json!(format!("cm-{}", inputs::id("apps=0/git_tag=0")))
    );
}

#[test]
fn resourceset_unknown_provider_is_reported_not_guessed() {
    let provider = json!({"apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSetInputProvider",
        "metadata": {"name": "prs", "namespace": "flux-system"},
        "spec": {"type": "GitHubPullRequest", "url": "https://github.com/x/y"}});
    let providers = [Provider::from_value(&provider, "flux-system")];
    let set = rset(json!({
        "inputsFrom": [{"name": "prs"}, {"name": "absent"}],
        "resources": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pr-<< inputs.id >>"}}]
    }));
    let out = expand(&set, "flux-system", &providers).expect("expands");
    assert!(out.objects.is_empty());
    assert_eq!(out.unknown.len(), 2, "{:?}", out.unknown);
    assert!(out.unknown.iter().any(|u| u.contains("GitHubPullRequest")));
    assert!(out.unknown.iter().any(|u| u.contains("absent")));
}

#[test]
fn resourceset_errors_name_field_and_input() {
    let set = rset(json!({
        "inputs": [{"tenant": "a"}],
        "resources": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "<< inputs.nope >>"}}]
    }));
    let err = expand(&set, "flux-system", &[]).unwrap_err();
    assert!(matches!(err, ResourceSetError::Template { .. }));
    let text = err.to_string();
    assert!(
        text.contains("spec.resources[0]") && text.contains("inputs[0]") && text.contains("nope"),
        "{text}"
    );
    let set = rset(json!({"resourcesTemplate": "<< if >>"}));
    let err = expand(&set, "flux-system", &[]).unwrap_err().to_string();
    assert!(
        err.contains("spec.resourcesTemplate") && err.contains("does not parse"),
        "{err}"
    );
}

#[test]
fn flux_instance_sync_objects() {
    let value = json!({"apiVersion": "fluxcd.controlplane.io/v1", "kind": "FluxInstance",
        "metadata": {"name": "flux", "namespace": "flux-system"},
        "spec": {"distribution": {"version": "2.x"},
                 "sync": {"kind": "OCIRepository", "url": "oci://ghcr.io/x/fleet", "ref": "latest",
                          "path": "clusters/staging", "pullSecret": "ghcr-auth"}}});
    let instance = Instance::declared(&value, Path::new("fi.yaml"), 0, "flux-system");
    let sync = instance.sync().expect("valid").expect("has sync");
    assert_eq!(
        sync.source,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
               "metadata": {"name": "flux-system", "namespace": "flux-system",
                            "labels": {"app.kubernetes.io/managed-by": "flux-operator",
                                       "app.kubernetes.io/instance": "flux-system",
                                       "app.kubernetes.io/part-of": "flux"},
                            "annotations": {"kustomize.toolkit.fluxcd.io/ssa": "Ignore",
                                            "kustomize.toolkit.fluxcd.io/prune": "Disabled"}},
               "spec": {"interval": "1m0s", "ref": {"tag": "latest"}, "secretRef": {"name": "ghcr-auth"},
                        "url": "oci://ghcr.io/x/fleet"}})
    );
    assert_eq!(
        sync.kustomization["spec"]["path"],
        json!("clusters/staging")
    );
    assert_eq!(sync.kustomization["spec"]["interval"], json!("10m0s"));
    assert_eq!(
        sync.kustomization["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/ssa"],
        json!("Ignore")
    );
    // The version label only where the instance names one version.
    assert!(
        sync.kustomization["metadata"]["labels"]
            .get("app.kubernetes.io/version")
            .is_none()
    );
    let mut pinned = value.clone();
    pinned["spec"]["distribution"]["version"] = json!("2.7.3");
    let sync = Instance::declared(&pinned, Path::new("fi.yaml"), 0, "flux-system")
        .sync()
        .expect("valid")
        .expect("has sync");
    assert_eq!(
        sync.source["metadata"]["labels"]["app.kubernetes.io/version"],
        json!("v2.7.3")
    );
    let mut bad = value.clone();
    bad["spec"]["sync"]["kind"] = json!("HelmRepository");
    let err = Instance::declared(&bad, Path::new("fi.yaml"), 2, "flux-system")
        .sync()
        .unwrap_err();
    assert!(matches!(err, FluxInstanceError::UnknownSyncKind { .. }));
    assert!(
        err.to_string().contains("fi.yaml: document 2")
            && err.to_string().contains("spec.sync.kind")
    );
}

#[test]
fn flux_instance_patches_reach_the_sync_objects() {
    let value = json!({"apiVersion": "fluxcd.controlplane.io/v1", "kind": "FluxInstance",
        "metadata": {"name": "flux", "namespace": "flux-system"},
        "spec": {"sync": {"kind": "OCIRepository", "url": "oci://ghcr.io/x/fleet", "ref": "latest",
                          "path": "clusters/staging"},
                 "kustomize": {"patches": [
                    {"target": {"kind": "OCIRepository", "name": "flux-system"},
                     "patch": "- op: add\n  path: /spec/verify\n  value:\n    provider: cosign\n"},
                    {"target": {"kind": "Kustomization"},
                     "patch": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: any\nspec:\n  timeout: 3m\n"},
                    {"target": {"kind": "Deployment", "name": "kustomize-controller"},
                     "patch": "- op: add\n  path: /spec/template/spec/containers/0/args/-\n  value: --concurrent=10\n"}]}}});
    let instance = Instance::declared(&value, Path::new("fi.yaml"), 1, "flux-system");
    let sync = instance.sync().expect("valid").expect("has sync");
    assert_eq!(sync.source["spec"]["verify"], json!({"provider": "cosign"}));
    assert_eq!(sync.source["spec"]["url"], json!("oci://ghcr.io/x/fleet"));
    assert_eq!(sync.kustomization["spec"]["timeout"], json!("3m"));
    assert_eq!(
        sync.kustomization["spec"]["path"],
        json!("clusters/staging")
    );
    assert_eq!(
        sync.kustomization["metadata"]["namespace"],
        json!("flux-system")
    );

    let mut bad = value.clone();
    bad["spec"]["kustomize"]["patches"][0]["patch"] =
        json!("- op: replace\n  path: /spec/nothing/here\n  value: 1\n");
    let err = Instance::declared(&bad, Path::new("fi.yaml"), 1, "flux-system")
        .sync()
        .unwrap_err();
    assert!(matches!(err, FluxInstanceError::Patches { .. }), "{err}");
    assert!(
        err.to_string().contains("fi.yaml: document 1")
            && err.to_string().contains("spec.kustomize.patches"),
        "{err}"
    );
}

#[test]
fn go_duration_strings() {
    use super::fluxinstance::go_duration_string;
    use std::time::Duration;
    for (duration, text) in [
        (Duration::from_secs(60), "1m0s"),
        (Duration::from_secs(300), "5m0s"),
        (Duration::from_secs(5400), "1h30m0s"),
        (Duration::from_secs(3600), "1h0m0s"),
        (Duration::from_secs(45), "45s"),
        (Duration::from_millis(1500), "1.5s"),
        (Duration::from_millis(500), "500ms"),
        (Duration::ZERO, "0s"),
    ] {
        assert_eq!(go_duration_string(duration), text);
    }
}

#[test]
fn flux_instance_from_chart_values() {
    let release = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "flux-instance", "namespace": "flux-system"},
        "spec": {"chartRef": {"kind": "OCIRepository", "name": "flux-instance"},
                 "values": {"instance": {"distribution": {"artifact": "oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests:v0.46.0"},
                            "sync": {"kind": "GitRepository", "url": "https://example.com/r.git",
                                     "ref": "refs/heads/main", "path": "apps/", "interval": "5m"}}}}});
    let instance = Instance::from_helm_release(&release, Path::new("hr.yaml"), 0, "flux-system")
        .expect("a flux-instance release");
    assert_eq!(instance.name, "flux");
    let sync = instance.sync().expect("valid").expect("sync");
    assert_eq!(
        sync.source["spec"]["ref"],
        json!({"name": "refs/heads/main"})
    );
    assert_eq!(sync.source["spec"]["interval"], json!("5m0s"));
    let policy = version::from_instance(&instance.spec, "FluxInstance flux");
    assert!(!policy.strict, "{policy:?}");
    assert!(policy.reason.contains("v0.46.0"), "{}", policy.reason);
}

#[test]
fn substitution_policy_table() {
    let cases = [
        (json!({"distribution": {"version": "2.8.x"}}), false),
        (json!({"distribution": {"version": "2.9.x"}}), true),
        (json!({"distribution": {"version": "2.x"}}), true),
        (
            json!({"distribution": {"version": "2.x", "artifact": "oci://r/flux-operator-manifests:v0.53.0"}}),
            true,
        ),
        (
            json!({"distribution": {"version": "2.9.x"}, "kustomize": {"patches": [{"patch": "- op: add\n  path: /spec/template/spec/containers/0/args/-\n  value: --feature-gates=StrictPostBuildSubstitutions=false\n"}]}}),
            false,
        ),
    ];
    for (spec, strict) in cases {
        assert_eq!(version::from_instance(&spec, "x").strict, strict, "{spec}");
    }
    let components = "---\nkind: Deployment\nspec:\n  containers:\n  - args:\n    - --feature-gates=StrictPostBuildSubstitutions=false\n    image: ghcr.io/fluxcd/kustomize-controller:v1.9.0\n";
    assert_eq!(
        version::from_components(components, "gotk").map(|p| p.strict),
        Some(false)
    );
    let components = "image: ghcr.io/fluxcd/kustomize-controller:v1.5.1\n";
    assert_eq!(
        version::from_components(components, "gotk").map(|p| p.strict),
        Some(false)
    );
}
