#!/usr/bin/env python3
"""Generate kube-fake's merge-schema table from a Kubernetes OpenAPI-derived JSON schema.

Input: the `_definitions.json` of kubernetes-validate's `v1.33.0-local` schemas (a JSON Schema
conversion of the Kubernetes OpenAPI that keeps the `x-kubernetes-*` markers). Output: a compact
JSON table of only what server-side apply needs: per definition, its fields and how each list and
map merges (atomic / set / map with keys; granular or atomic maps and structs), and which
definition serves each group/version/kind.

Type references in the output:
  "s"                       scalar (strings, numbers, booleans, int-or-string, quantities, times)
  "u"                       untyped: merged as SMD's deduced type (maps granular, lists atomic)
  "#Name"                   a named definition
  {"l": ref, "t": "atomic"|"set"|"map", "k": [keys]}   a list
  {"m": ref, "t": "atomic"|"granular"}                    a map with free-form keys

Usage: gen_schema.py DEFINITIONS_JSON > crates/kube-fake/data/schema.json
"""
import json
import sys

SCALAR_TYPES = {"string", "integer", "number", "boolean"}


def types_of(x):
    t = x.get("type")
    if t is None:
        return set()
    if isinstance(t, str):
        return {t}
    return {v for v in t if v != "null"}


def ref_name(r):
    return r.split("/")[-1]


def convert(x, defs):
    if "$ref" in x:
        name = ref_name(x["$ref"])
        target = defs[name]
        if is_scalar_def(target):
            return "s"
        if x.get("x-kubernetes-map-type") == "atomic":
            return {"m": "u", "t": "atomic", "r": "#" + name}
        return "#" + name
    if "oneOf" in x or "anyOf" in x:
        return "s"
    ts = types_of(x)
    if "array" in ts:
        item = convert(x.get("items", {}), defs)
        lt = x.get("x-kubernetes-list-type", "atomic")
        out = {"l": item, "t": lt}
        if lt == "map":
            out["k"] = x.get("x-kubernetes-list-map-keys", [])
        return out
    if "object" in ts:
        if "properties" in x:
            raise ValueError("inline struct")
        ap = x.get("additionalProperties")
        if isinstance(ap, dict):
            return {"m": convert(ap, defs), "t": x.get("x-kubernetes-map-type", "granular")}
        return "u"
    if ts & SCALAR_TYPES:
        return "s"
    return "u"


def is_scalar_def(d):
    if "properties" in d or "additionalProperties" in d:
        return False
    if "oneOf" in d or "anyOf" in d:
        return True
    ts = types_of(d)
    return bool(ts & SCALAR_TYPES) and "object" not in ts and "array" not in ts


def main():
    defs = json.load(open(sys.argv[1]))["$defs"]
    types = {}
    kinds = {}
    for name, d in sorted(defs.items()):
        if is_scalar_def(d):
            continue
        if "properties" not in d:
            # An untyped object (RawExtension, JSON, FieldsV1...).
            continue
        fields = {}
        for fname, fx in sorted(d["properties"].items()):
            fields[fname] = convert(fx, defs)
        entry = {"f": fields}
        if d.get("x-kubernetes-map-type") == "atomic":
            entry["a"] = True
        types[name] = entry
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            key = "%s/%s/%s" % (gvk["group"], gvk["version"], gvk["kind"])
            kinds[key] = name
    # Untyped definitions referenced by name resolve to "u".
    for name, d in defs.items():
        if name not in types and not is_scalar_def(d):
            types[name] = {"u": True}
    json.dump({"types": types, "kinds": kinds}, sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


main()
