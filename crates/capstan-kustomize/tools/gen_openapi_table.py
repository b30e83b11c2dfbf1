#!/usr/bin/env python3
"""Generate src/openapi_table.rs: the strategic-merge knowledge kustomize takes from the
Kubernetes OpenAPI it embeds (v1.21.2).

    gen_openapi_table.py SOURCE > crates/capstan-kustomize/src/openapi_table.rs

SOURCE is either
  * Kubernetes' swagger.json (kubernetes/kubernetes, tag v1.21.2, api/openapi-spec/swagger.json),
  * or the protobuf form kustomize embeds (kyaml/openapi/kubernetesapi/v1_21_2/swagger.pb, plain
    or gzip-compressed), decoded here with a small protobuf reader for gnostic's OpenAPIv2 schema.

What kustomize's strategic merge uses from the schema (kyaml/openapi, kyaml/yaml/walk):
  * a resource's schema is the definition whose x-kubernetes-group-version-kind names its
    apiVersion/kind;
  * Field(name) follows `properties[name]` (else `additionalProperties`), resolving $ref;
  * Elements() follows `items` of a schema whose type is exactly ["array"], resolving $ref;
  * a list merges by key only when its field schema has a patch strategy containing "merge";
    the keys are x-kubernetes-list-map-keys when present, else x-kubernetes-patch-merge-key.

The table keeps only what can change a merge: definitions from which a merging list can be
reached. Every other schema collapses to `Opaque` (a schema exists, but no list below it merges),
which keeps the table small while preserving kustomize's "schema known" versus "no schema"
distinction.
"""
import gzip
import json
import sys

import yaml  # PyYAML; the protobuf form stores extension values as YAML text


# --- a minimal protobuf reader ------------------------------------------------------------------

def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf):
    """Yield (field number, wire type, value) for one message; value is bytes for wire type 2."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield num, wt, v


# gnostic openapi_v2.Schema field numbers (only those this generator needs)
S_REF, S_ADDITIONAL, S_TYPE, S_ITEMS, S_PROPERTIES, S_VENDOR = 1, 21, 22, 23, 25, 31


def named_any(buf):
    name, value = None, None
    for num, _, v in fields(buf):
        if num == 1:
            name = v.decode()
        elif num == 2:  # Any { value = 1; yaml = 2 }
            for n2, _, v2 in fields(v):
                if n2 == 2:
                    value = yaml.safe_load(v2.decode())
    return name, value


def pb_schema(buf):
    out = {}
    for num, _, v in fields(buf):
        if num == S_REF:
            out["$ref"] = v.decode()
        elif num == S_TYPE:
            out["type"] = [x.decode() for n2, _, x in fields(v) if n2 == 1]
        elif num == S_ITEMS:
            items = [pb_schema(x) for n2, _, x in fields(v) if n2 == 1]
            if items:
                out["items"] = items[0]
        elif num == S_ADDITIONAL:
            for n2, _, x in fields(v):
                if n2 == 1:
                    out["additionalProperties"] = pb_schema(x)
        elif num == S_PROPERTIES:
            props = {}
            for n2, _, x in fields(v):
                if n2 == 1:
                    name, sch = None, {}
                    for n3, _, y in fields(x):
                        if n3 == 1:
                            name = y.decode()
                        elif n3 == 2:
                            sch = pb_schema(y)
                    props[name] = sch
            out["properties"] = props
        elif num == S_VENDOR:
            name, value = named_any(v)
            out[name] = value
    return out


def load_pb(data):
    defs = {}
    for num, _, v in fields(data):
        if num == 9:  # Document.definitions
            for n2, _, x in fields(v):
                if n2 == 1:
                    name, sch = None, {}
                    for n3, _, y in fields(x):
                        if n3 == 1:
                            name = y.decode()
                        elif n3 == 2:
                            sch = pb_schema(y)
                    defs[name] = sch
    return defs


def load(path):
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data.lstrip()[:1] == b"{":
        doc = json.loads(data)
        defs = doc["definitions"]
        for d in defs.values():  # JSON types are a string; the protobuf form a list
            normalise_types(d)
        return defs
    return load_pb(data)


def normalise_types(s):
    if isinstance(s.get("type"), str):
        s["type"] = [s["type"]]
    for sub in list(s.get("properties", {}).values()) + [s.get("items"), s.get("additionalProperties")]:
        if isinstance(sub, dict):
            normalise_types(sub)


# --- from schemas to the table ------------------------------------------------------------------

def ref_name(ref):
    return ref.rsplit("/", 1)[-1]


def main():
    defs = load(sys.argv[1])

    def resolve(s):
        seen = 0
        while isinstance(s, dict) and "$ref" in s and seen < 64:
            s = defs.get(ref_name(s["$ref"]))
            seen += 1
        return s

    def merge_meta(s):
        strategy = s.get("x-kubernetes-patch-strategy") or ""
        if "merge" not in strategy.split(","):
            return None
        keys = s.get("x-kubernetes-list-map-keys")
        if keys is None:
            mk = s.get("x-kubernetes-patch-merge-key")
            keys = [mk] if mk else []
        return strategy, list(keys)

    # shape of a field schema (already $ref-resolved):
    #   ("def", name) | ("array", item_shape, meta) | ("map", value_shape) | ("opaque",)
    def shape(s):
        s = resolve(s)
        if s is None:
            return ("opaque",)
        if "properties" in s:
            return ("def", s["__name"]) if "__name" in s else ("opaque",)
        if s.get("type") == ["array"] and s.get("items") is not None:
            return ("array", shape(s["items"]), merge_meta(s))
        if s.get("type") == ["array"]:
            return ("array", ("opaque",), merge_meta(s))
        if isinstance(s.get("additionalProperties"), dict):
            return ("map", shape(s["additionalProperties"]))
        return ("opaque",)

    for name, d in defs.items():
        d["__name"] = name

    def field_shapes(name):
        d = defs[name]
        out = {}
        for fname, fs in sorted(d.get("properties", {}).items()):
            # a $ref property loses its own extensions when kustomize resolves it
            out[fname] = shape(fs)
        return out

    shapes = {name: field_shapes(name) for name in defs}

    # useful definitions: a merging list is reachable from them
    useful = set()

    def shape_useful(sh):
        if sh[0] == "def":
            return sh[1] in useful
        if sh[0] == "array":
            return sh[2] is not None or shape_useful(sh[1])
        if sh[0] == "map":
            return shape_useful(sh[1])
        return False

    changed = True
    while changed:
        changed = False
        for name, fs in shapes.items():
            if name not in useful and any(shape_useful(sh) for sh in fs.values()):
                useful.add(name)
                changed = True

    resources = []
    for name, d in defs.items():
        for gvk in d.get("x-kubernetes-group-version-kind") or []:
            group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
            api_version = "%s/%s" % (group, version) if group else version
            resources.append((api_version, kind, name))
    resources.sort()

    order = sorted(useful)
    index = {name: i for i, name in enumerate(order)}

    def rust_shape(sh):
        if sh[0] == "def" and sh[1] in useful:
            return "S::Def(%d)" % index[sh[1]]
        if sh[0] == "array" and shape_useful(sh):
            items = rust_shape(sh[1])
            if sh[2] is None:
                return "S::Array(&%s, None)" % items
            strategy, keys = sh[2]
            return "S::Array(&%s, Some(M { strategy: %s, keys: &[%s] }))" % (
                items, json.dumps(strategy), ", ".join(json.dumps(k) for k in keys))
        if sh[0] == "map" and shape_useful(sh):
            return "S::Map(&%s)" % rust_shape(sh[1])
        return "S::Opaque"

    out = []
    w = out.append
    w("// @generated by crates/capstan-kustomize/tools/gen_openapi_table.py from the Kubernetes")
    w("// v1.21.2 OpenAPI (the schema kustomize v5.6 embeds). Do not edit by hand.")
    w("")
    w("use crate::openapi::{Def, Merge as M, Shape as S};")
    w("")
    w("/// Definitions from which a merging list can be reached, by name.")
    w("pub(crate) static DEFS: &[Def] = &[")
    for name in order:
        w("    Def {")
        w("        name: %s," % json.dumps(name))
        w("        fields: &[")
        for fname, sh in shapes[name].items():
            w("            (%s, %s)," % (json.dumps(fname), rust_shape(sh)))
        w("        ],")
        w("    },")
    w("];")
    w("")
    w("/// (apiVersion, kind) → the resource's schema, sorted for binary search.")
    w("pub(crate) static RESOURCES: &[(&str, &str, S)] = &[")
    for api_version, kind, name in resources:
        target = "S::Def(%d)" % index[name] if name in useful else "S::Opaque"
        w("    (%s, %s, %s)," % (json.dumps(api_version), json.dumps(kind), target))
    w("];")
    sys.stdout.write("\n".join(out) + "\n")
    pairs = sum(1 for d in defs.values() for f in d.get("properties", {}).values()
                if "x-kubernetes-patch-merge-key" in f or "x-kubernetes-patch-strategy" in f)
    print("definitions %d, resources %d, useful %d, fields with patch metadata %d"
          % (len(defs), len(resources), len(useful), pairs), file=sys.stderr)


if __name__ == "__main__":
    main()
