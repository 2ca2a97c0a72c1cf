package patch

import (
	"maps"
	"reflect"
	"slices"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

// The patch as the policies see it is a CEL map over the Patch itself:
// nothing is copied when an evaluation starts, and a field is converted to
// a CEL value only when a policy reads it. The views are pointer-shaped,
// so wrapping one in a ref.Val does not allocate.

// view is one level of the patch: a fixed or map-backed set of string keys.
type view interface {
	// lookup returns the value of key k, converted.
	lookup(k string) (ref.Val, bool)
	// names returns the keys in order.
	names() []string
	// len returns the number of keys.
	len() int
}

// celMap is a read-only CEL map with string keys over a view.
type celMap[V view] struct{ v V }

var (
	_ traits.Mapper = celMap[*patchMemo]{}

	patchKeys  = []string{"author", "changes", "labels", "reason", "service", "tenant", "version_selector", "window"}
	windowKeys = []string{"end", "start"}
)

// patchVariables declares the patch to CEL: the map patch, and each of its
// fields as a variable of its own (celenv.Options.Variables), so that the
// checker knows their types and an evaluation reads patch.window.end in
// one step.
func patchVariables() map[string]*cel.Type {
	return map[string]*cel.Type{
		"patch":                  celenv.DynMap(),
		"patch.author":           cel.StringType,
		"patch.changes":          celenv.DynMap(),
		"patch.labels":           celenv.StringMap(),
		"patch.reason":           cel.StringType,
		"patch.service":          cel.StringType,
		"patch.tenant":           cel.StringType,
		"patch.version_selector": cel.StringType,
		"patch.window":           cel.MapType(cel.StringType, cel.TimestampType),
		"patch.window.end":       cel.TimestampType,
		"patch.window.start":     cel.TimestampType,
	}
}

// patchVars are the variables of patchVariables for p, as celenv.Vars for
// one evaluation (or several in turn: it is not safe for concurrent use).
func patchVars(p *Patch) *patchMemo { return &patchMemo{p: p} }

// Var implements celenv.Vars.
func (m *patchMemo) Var(name string) (any, bool) { return m.variable(name) }

// variable returns the patch variable name: "patch" or one of its fields.
func (m *patchMemo) variable(name string) (ref.Val, bool) {
	var i int
	switch name {
	case "patch":
		return m.val(), true
	case "patch.author":
		i = fAuthor
	case "patch.changes":
		i = fChanges
	case "patch.labels":
		i = fLabels
	case "patch.reason":
		i = fReason
	case "patch.service":
		i = fService
	case "patch.tenant":
		i = fTenant
	case "patch.version_selector":
		i = fSelector
	case "patch.window":
		i = fWindow
	case "patch.window.end":
		i = fEnd
	case "patch.window.start":
		i = fStart
	default:
		return nil, false
	}
	return m.field(i), true
}

// The fields of the patch, in the order of patchKeys, then the window's.
const (
	fAuthor = iota
	fChanges
	fLabels
	fReason
	fService
	fTenant
	fSelector
	fWindow
	fEnd
	fStart
	nFields
)

// patchMemo is the patch of one evaluation: each field is converted once,
// when a policy first reads it, however many policies read it.
type patchMemo struct {
	p    *Patch
	memo [nFields]ref.Val
}

func (m *patchMemo) val() ref.Val { return celMap[*patchMemo]{m} }

// field returns field i, converted on first use.
func (m *patchMemo) field(i int) ref.Val {
	if v := m.memo[i]; v != nil {
		return v
	}
	p := m.p
	var v ref.Val
	switch i {
	case fAuthor:
		v = types.String(p.Author)
	case fChanges:
		v = celMap[changesView]{changesView(p.Changes)}
	case fLabels:
		v = celMap[labelsView]{labelsView(p.Labels)}
	case fReason:
		v = types.String(p.Reason)
	case fService:
		v = types.String(p.Service)
	case fTenant:
		v = types.String(p.Tenant)
	case fSelector:
		v = types.String(p.VersionSelector)
	case fWindow:
		v = celMap[windowView]{windowView{m}}
	case fEnd:
		v = types.Timestamp{Time: p.Window.End}
	case fStart:
		v = types.Timestamp{Time: p.Window.Start}
	}
	m.memo[i] = v
	return v
}

func (m *patchMemo) lookup(k string) (ref.Val, bool) {
	var i int
	switch k {
	case "author":
		i = fAuthor
	case "changes":
		i = fChanges
	case "labels":
		i = fLabels
	case "reason":
		i = fReason
	case "service":
		i = fService
	case "tenant":
		i = fTenant
	case "version_selector":
		i = fSelector
	case "window":
		i = fWindow
	default:
		return nil, false
	}
	return m.field(i), true
}

func (*patchMemo) names() []string { return patchKeys }
func (*patchMemo) len() int        { return len(patchKeys) }

type windowView struct{ m *patchMemo }

func (v windowView) lookup(k string) (ref.Val, bool) {
	switch k {
	case "end":
		return v.m.field(fEnd), true
	case "start":
		return v.m.field(fStart), true
	}
	return nil, false
}

func (windowView) names() []string { return windowKeys }
func (windowView) len() int        { return len(windowKeys) }

// changesView holds values of the types Validate allows: int64, float64,
// string and bool.
type changesView Changes

func (c changesView) lookup(k string) (ref.Val, bool) {
	x, ok := c[k]
	if !ok {
		return nil, false
	}
	switch x := x.(type) {
	case int64:
		return types.Int(x), true
	case float64:
		return types.Double(x), true
	case string:
		return types.String(x), true
	case bool:
		return types.Bool(x), true
	}
	return types.DefaultTypeAdapter.NativeToValue(x), true
}

func (c changesView) names() []string { return Changes(c).Keys() }
func (c changesView) len() int        { return len(c) }

type labelsView mgmt.Labels

func (l labelsView) lookup(k string) (ref.Val, bool) {
	x, ok := l[k]
	if !ok {
		return nil, false
	}
	return types.String(x), true
}

func (l labelsView) names() []string { return slices.Sorted(maps.Keys(l)) }
func (l labelsView) len() int        { return len(l) }

// FindStringKey is the interpreter's fast path for field selection.
func (m celMap[V]) FindStringKey(k string) (any, bool) {
	v, ok := m.v.lookup(k)
	return v, ok
}

// Find implements traits.Mapper.
func (m celMap[V]) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	return m.v.lookup(string(k))
}

// Get implements traits.Indexer.
func (m celMap[V]) Get(key ref.Val) ref.Val {
	if v, ok := m.Find(key); ok {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

// Contains implements traits.Container.
func (m celMap[V]) Contains(key ref.Val) ref.Val {
	_, ok := m.Find(key)
	return types.Bool(ok)
}

// Iterator implements traits.Iterable: the keys, in order.
func (m celMap[V]) Iterator() traits.Iterator {
	return types.NewStringList(types.DefaultTypeAdapter, m.v.names()).(traits.Iterable).Iterator()
}

// Size implements traits.Sizer.
func (m celMap[V]) Size() ref.Val { return types.Int(m.v.len()) }

// ConvertToNative implements ref.Val: the map as native Go values, such as
// map[string]any, when that is asked for.
func (m celMap[V]) ConvertToNative(t reflect.Type) (any, error) {
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m.native()).ConvertToNative(t)
}

func (m celMap[V]) native() map[string]any {
	out := make(map[string]any, m.v.len())
	for _, k := range m.v.names() {
		v, _ := m.v.lookup(k)
		if n, ok := v.(interface{ native() map[string]any }); ok {
			out[k] = n.native()
		} else {
			out[k] = v.Value()
		}
	}
	return out
}

// ConvertToType implements ref.Val.
func (m celMap[V]) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", t)
}

// Equal implements ref.Val: the same keys with equal values.
func (m celMap[V]) Equal(other ref.Val) ref.Val {
	o, ok := other.(traits.Mapper)
	if !ok || o.Size() != m.Size() {
		return types.False
	}
	for _, k := range m.v.names() {
		ov, found := o.Find(types.String(k))
		if !found {
			return types.False
		}
		v, _ := m.v.lookup(k)
		if v.Equal(ov) != types.True {
			return types.False
		}
	}
	return types.True
}

// Type implements ref.Val.
func (m celMap[V]) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (m celMap[V]) Value() any { return m.native() }
