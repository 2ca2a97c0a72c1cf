package patch

import (
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// fieldMap is a CEL map with a fixed set of string keys: the patch as the
// policies see it, without building Go maps for every evaluation.
type fieldMap struct {
	keys []string  // sorted
	vals []ref.Val // vals[i] belongs to keys[i]
}

func (m fieldMap) get(k string) ref.Val {
	for i, x := range m.keys {
		if x == k {
			return m.vals[i]
		}
	}
	return nil
}

var (
	_ traits.Mapper = fieldMap{}

	patchKeys  = []string{"author", "changes", "labels", "reason", "service", "tenant", "version_selector", "window"}
	windowKeys = []string{"end", "start"}
	noLabels   = map[string]string{}
)

// patchVar is the patch as a CEL map. Changes and labels wrap the
// patch's own maps, converted value by value as policies read them.
func patchVar(p *Patch) ref.Val {
	a := types.DefaultTypeAdapter
	labels := map[string]string(p.Labels)
	if labels == nil {
		labels = noLabels
	}
	return fieldMap{keys: patchKeys, vals: []ref.Val{
		types.String(p.Author),
		types.NewStringInterfaceMap(a, map[string]any(p.Changes)),
		types.NewStringStringMap(a, labels),
		types.String(p.Reason),
		types.String(p.Service),
		types.String(p.Tenant),
		types.String(p.VersionSelector),
		fieldMap{keys: windowKeys, vals: []ref.Val{types.Timestamp{Time: p.Window.End}, types.Timestamp{Time: p.Window.Start}}},
	}}
}

// Find implements traits.Mapper.
func (m fieldMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	v := m.get(string(k))
	return v, v != nil
}

// Get implements traits.Indexer.
func (m fieldMap) Get(key ref.Val) ref.Val {
	if v, ok := m.Find(key); ok {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

// Contains implements traits.Container.
func (m fieldMap) Contains(key ref.Val) ref.Val {
	_, ok := m.Find(key)
	return types.Bool(ok)
}

// Iterator implements traits.Iterable: the keys, in order.
func (m fieldMap) Iterator() traits.Iterator {
	return types.NewStringList(types.DefaultTypeAdapter, m.keys).(traits.Iterable).Iterator()
}

// Size implements traits.Sizer.
func (m fieldMap) Size() ref.Val { return types.Int(len(m.keys)) }

// ConvertToNative implements ref.Val: the map as map[string]any of native
// values, when that is asked for.
func (m fieldMap) ConvertToNative(t reflect.Type) (any, error) {
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m.native()).ConvertToNative(t)
}

func (m fieldMap) native() map[string]any {
	out := make(map[string]any, len(m.keys))
	for _, k := range m.keys {
		v := m.get(k)
		if fm, ok := v.(fieldMap); ok {
			out[k] = fm.native()
		} else {
			out[k] = v
		}
	}
	return out
}

// ConvertToType implements ref.Val.
func (m fieldMap) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", t)
}

// Equal implements ref.Val: the same keys with equal values.
func (m fieldMap) Equal(other ref.Val) ref.Val {
	o, ok := other.(traits.Mapper)
	if !ok || o.Size() != m.Size() {
		return types.False
	}
	for _, k := range m.keys {
		ov, found := o.Find(types.String(k))
		if !found || m.get(k).Equal(ov) != types.True {
			return types.False
		}
	}
	return types.True
}

// Type implements ref.Val.
func (m fieldMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (m fieldMap) Value() any { return m.native() }
