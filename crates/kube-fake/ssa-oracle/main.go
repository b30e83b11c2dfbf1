// ssa-oracle runs Kubernetes' structured-merge-diff (the library the API server applies with) on
// cases kube-fake's tests generate, so kube-fake's own merge can be checked against it.
//
// Usage: ssa-oracle SCHEMA.json < cases.jsonl > results.jsonl
//
// SCHEMA.json is a structured-merge-diff schema ({"types": [...]}). Each input line is a case:
//
//	{"op": "apply"|"update", "root": TYPE, "live": OBJ, "config": OBJ, "managers": [MANAGER],
//	 "manager": KEY, "force": BOOL}
//
// where MANAGER is {"key": KEY, "apiVersion": V, "applied": BOOL, "fieldsV1": FIELDS}. For
// "update", "config" is the new object. Each output line is
//
//	{"object": OBJ|null, "managers": [MANAGER], "conflicts": [{"manager": KEY, "path": P}], "error": S}
//
// with "object" null when the apply changed nothing.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"math"
	"os"
	"sort"

	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v4/merge"
	"sigs.k8s.io/structured-merge-diff/v4/typed"
)

type manager struct {
	Key        string          `json:"key"`
	APIVersion string          `json:"apiVersion"`
	Applied    bool            `json:"applied"`
	FieldsV1   json.RawMessage `json:"fieldsV1"`
}

type caseIn struct {
	Op       string      `json:"op"`
	Root     string      `json:"root"`
	Live     interface{} `json:"live"`
	Config   interface{} `json:"config"`
	Managers []manager   `json:"managers"`
	Manager  string      `json:"manager"`
	Force    bool        `json:"force"`
}

type conflict struct {
	Manager string `json:"manager"`
	Path    string `json:"path"`
}

type result struct {
	Object    interface{} `json:"object"`
	Managers  []manager   `json:"managers"`
	Conflicts []conflict  `json:"conflicts"`
	Error     string      `json:"error,omitempty"`
}

// sameVersion converts nothing: every case is at one version.
type sameVersion struct{}

func (sameVersion) Convert(o *typed.TypedValue, _ fieldpath.APIVersion) (*typed.TypedValue, error) {
	return o, nil
}
func (sameVersion) IsMissingVersionError(error) bool { return false }

// ints turns integral float64s (from encoding/json) back into int64s.
func ints(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		for k, e := range x {
			x[k] = ints(e)
		}
		return x
	case []interface{}:
		for i, e := range x {
			x[i] = ints(e)
		}
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return int64(x)
		}
		return x
	default:
		return v
	}
}

func decodeManagers(list []manager) (fieldpath.ManagedFields, error) {
	managers := fieldpath.ManagedFields{}
	for _, m := range list {
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(m.FieldsV1)); err != nil {
			return nil, err
		}
		managers[m.Key] = fieldpath.NewVersionedSet(set, fieldpath.APIVersion(m.APIVersion), m.Applied)
	}
	return managers, nil
}

func run(parser *typed.Parser, c caseIn) result {
	pt := parser.Type(c.Root)
	live, err := pt.FromUnstructured(ints(c.Live))
	if err != nil {
		return result{Error: "live: " + err.Error()}
	}
	config, err := pt.FromUnstructured(ints(c.Config))
	if err != nil {
		return result{Error: "config: " + err.Error()}
	}
	managers, err := decodeManagers(c.Managers)
	if err != nil {
		return result{Error: "managers: " + err.Error()}
	}
	u := merge.Updater{Converter: sameVersion{}}
	var out *typed.TypedValue
	var after fieldpath.ManagedFields
	if c.Op == "update" {
		out, after, err = u.Update(live, config, "v1", managers, c.Manager)
	} else {
		out, after, err = u.Apply(live, config, "v1", managers, c.Manager, c.Force)
	}
	if err != nil {
		if cs, ok := err.(merge.Conflicts); ok {
			return conflicts(u, live, config, managers, c, len(cs))
		}
		return result{Error: err.Error()}
	}
	r := result{Managers: []manager{}, Conflicts: []conflict{}}
	if out != nil {
		r.Object = out.AsValue().Unstructured()
	}
	keys := []string{}
	for k := range after {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := after[k]
		b, err := vs.Set().ToJSON()
		if err != nil {
			return result{Error: "serialize: " + err.Error()}
		}
		r.Managers = append(r.Managers, manager{Key: k, APIVersion: string(vs.APIVersion()), Applied: vs.Applied(), FieldsV1: b})
	}
	return r
}

// conflicts lists an apply's conflicts. merge.Conflicts keeps paths that alias one another
// (ConflictsFromManagers stores the iterator's reused slice), so the paths are recomputed here
// with the library's own operations, exactly as Updater.update finds them: the merged and pruned
// object (the same whether forced or not) compared with the live one, intersected with each
// other manager's fields. The count must match the library's.
func conflicts(u merge.Updater, live, config *typed.TypedValue, managers fieldpath.ManagedFields, c caseIn, want int) result {
	// Apply changed the map it was given: start again from the case's managers.
	before, err := decodeManagers(c.Managers)
	if err != nil {
		return result{Error: "managers: " + err.Error()}
	}
	copied, _ := decodeManagers(c.Managers)
	merged, _, err := u.Apply(live, config, "v1", copied, c.Manager, true)
	if err != nil {
		return result{Error: "forced apply: " + err.Error()}
	}
	if merged == nil {
		merged = live
	}
	cmp, err := live.Compare(merged)
	if err != nil {
		return result{Error: "compare: " + err.Error()}
	}
	changed := cmp.Modified.Union(cmp.Added)
	r := result{Conflicts: []conflict{}, Managers: []manager{}}
	for k, vs := range before {
		if k == c.Manager {
			continue
		}
		vs.Set().Intersection(changed).Iterate(func(p fieldpath.Path) {
			r.Conflicts = append(r.Conflicts, conflict{Manager: k, Path: p.String()})
		})
	}
	if len(r.Conflicts) != want {
		return result{Error: fmt.Sprintf("recomputed %d conflicts, the library reported %d", len(r.Conflicts), want)}
	}
	sort.Slice(r.Conflicts, func(i, j int) bool {
		a, b := r.Conflicts[i], r.Conflicts[j]
		if a.Manager != b.Manager {
			return a.Manager < b.Manager
		}
		return a.Path < b.Path
	})
	return r
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ssa-oracle SCHEMA.json < cases.jsonl")
		os.Exit(2)
	}
	schema, err := ioutil.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	parser, err := typed.NewParser(typed.YAMLObject(schema))
	if err != nil {
		fmt.Fprintln(os.Stderr, "schema:", err)
		os.Exit(2)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var c caseIn
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			enc.Encode(result{Error: "case: " + err.Error()})
			continue
		}
		enc.Encode(run(parser, c))
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
