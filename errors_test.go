package mgmt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
)

var allKinds = []struct {
	kind     mgmt.Kind
	sentinel error
	name     string
}{
	{mgmt.KindInternal, mgmt.ErrInternal, "internal"},
	{mgmt.KindInvalid, mgmt.ErrInvalid, "invalid"},
	{mgmt.KindNotFound, mgmt.ErrNotFound, "not found"},
	{mgmt.KindConflict, mgmt.ErrConflict, "conflict"},
	{mgmt.KindForbidden, mgmt.ErrForbidden, "forbidden"},
	{mgmt.KindUnauthenticated, mgmt.ErrUnauthenticated, "unauthenticated"},
	{mgmt.KindUnavailable, mgmt.ErrUnavailable, "unavailable"},
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for _, tt := range allKinds {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.name, tt.kind.String())
			assert.Equal(t, tt.name, tt.kind.Error())
			assert.Equal(t, tt.name, fmt.Sprint(tt.kind))
			assert.Equal(t, tt.kind, tt.sentinel, "the sentinel is the Kind itself")
			assert.Equal(t, tt.name, tt.sentinel.Error())
		})
	}
	t.Run("zero value", func(t *testing.T) {
		t.Parallel()
		var k mgmt.Kind
		assert.Equal(t, mgmt.KindInternal, k)
	})
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		assert.Equal(t, "kind(7)", mgmt.Kind(7).String())
		assert.Equal(t, "kind(255)", mgmt.Kind(255).Error())
	})
}

func TestKindsAreDistinct(t *testing.T) {
	t.Parallel()
	for i, a := range allKinds {
		for j, b := range allKinds {
			assert.Equal(t, i == j, errors.Is(a.sentinel, b.sentinel), "%s vs %s", a.name, b.name)
			e := &mgmt.Error{Kind: a.kind}
			assert.Equal(t, i == j, errors.Is(e, b.sentinel), "*Error %s vs %s", a.name, b.name)
		}
	}
}

func TestErrorIsThroughWrapping(t *testing.T) {
	t.Parallel()
	for _, tt := range allKinds {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := mgmt.Errorf(tt.kind, "rule.name", "boom")
			chains := map[string]error{
				"bare":          base,
				"wrapped":       fmt.Errorf("saving: %w", base),
				"wrapped twice": fmt.Errorf("api: %w", fmt.Errorf("saving: %w", base)),
				"joined":        errors.Join(io.EOF, base),
				"wrapped join":  fmt.Errorf("batch: %w", errors.Join(errors.New("other"), base)),
				"multi %w":      fmt.Errorf("%w and %w", io.EOF, base),
				"bare sentinel": fmt.Errorf("lookup: %w", tt.sentinel),
			}
			for name, err := range chains {
				assert.ErrorIs(t, err, tt.sentinel, name)
				assert.ErrorIs(t, err, tt.kind, name)
				assert.Equal(t, tt.kind, mgmt.KindOf(err), name)
				for _, other := range allKinds {
					if other.kind != tt.kind {
						assert.NotErrorIs(t, err, other.sentinel, "%s: %s", name, other.name)
					}
				}
			}
		})
	}
}

func TestErrorIsDoesNotMatchOtherErrors(t *testing.T) {
	t.Parallel()
	e := mgmt.NotFound("rule", "no rule %q", "x")
	assert.NotErrorIs(t, e, io.EOF)
	assert.NotErrorIs(t, e, mgmt.NotFound("rule", "no rule %q", "x"), "two *Errors are not equal by value")
	assert.NotErrorIs(t, e, mgmt.ErrOverflow)
	assert.ErrorIs(t, e, e)
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	cause := errors.New("disk full")
	tests := []struct {
		name string
		err  *mgmt.Error
		want string
	}{
		{"kind only", &mgmt.Error{Kind: mgmt.KindNotFound}, "not found"},
		{"kind and field", &mgmt.Error{Kind: mgmt.KindInvalid, Field: "rule.maxReplicas"}, "rule.maxReplicas: invalid"},
		{"message", &mgmt.Error{Kind: mgmt.KindInvalid, Message: "must be positive"}, "must be positive"},
		{"field and message", &mgmt.Error{Kind: mgmt.KindInvalid, Field: "trigger.threshold", Message: "must be positive"}, "trigger.threshold: must be positive"},
		{"field, message and cause", &mgmt.Error{Kind: mgmt.KindUnavailable, Field: "store", Message: "saving", Err: cause}, "store: saving: disk full"},
		{"message and cause", &mgmt.Error{Message: "saving", Err: cause}, "saving: disk full"},
		{"cause only", &mgmt.Error{Kind: mgmt.KindUnavailable, Err: cause}, "disk full"},
		{"field and cause", &mgmt.Error{Field: "store", Err: cause}, "store: disk full"},
		{"unknown kind", &mgmt.Error{Kind: 42, Field: "x"}, "x: kind(42)"},

		{"Errorf", mgmt.Errorf(mgmt.KindConflict, "rule.name", "rule %q exists", "surge"), `rule.name: rule "surge" exists`},
		{"Errorf no field", mgmt.Errorf(mgmt.KindConflict, "", "rule %q exists", "surge"), `rule "surge" exists`},
		{"Errorf %w cause printed once", mgmt.Errorf(mgmt.KindUnavailable, "store", "saving: %w", cause), "store: saving: disk full"},
		{"Errorf %w only", mgmt.Errorf(mgmt.KindUnavailable, "", "%w", cause), "disk full"},
		{"Errorf two %w printed once", mgmt.Errorf(mgmt.KindUnavailable, "", "%w; %w", cause, io.EOF), "disk full; EOF"},
		{"Errorf %v is not a cause", mgmt.Errorf(mgmt.KindUnavailable, "", "saving: %v", cause), "saving: disk full"},
		{"Errorf empty message", mgmt.Errorf(mgmt.KindForbidden, "rule", ""), "rule: forbidden"},
		{"Invalid", mgmt.Invalid("rule.maxReplicas", "is %d, below minReplicas %d", 1, 2), "rule.maxReplicas: is 1, below minReplicas 2"},
		{"NotFound", mgmt.NotFound("rule", "no rule %q", "surge"), `rule: no rule "surge"`},
		{"Conflict", mgmt.Conflict("rule.version", "is %d, not %d", 3, 2), "rule.version: is 3, not 2"},
		{"Unavailable", mgmt.Unavailable("metrics: %w", io.ErrUnexpectedEOF), "metrics: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.err.Error())
			var err error = tt.err
			assert.Equal(t, tt.want, err.Error())
			assert.Equal(t, "wrapped: "+tt.want, fmt.Errorf("wrapped: %w", err).Error())
		})
	}
}

func TestConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   *mgmt.Error
		kind  mgmt.Kind
		field string
	}{
		{"Invalid", mgmt.Invalid("a.b", "x"), mgmt.KindInvalid, "a.b"},
		{"NotFound", mgmt.NotFound("rule", "x"), mgmt.KindNotFound, "rule"},
		{"Conflict", mgmt.Conflict("rule.version", "x"), mgmt.KindConflict, "rule.version"},
		{"Unavailable", mgmt.Unavailable("x"), mgmt.KindUnavailable, ""},
		{"Errorf", mgmt.Errorf(mgmt.KindForbidden, "caller", "x"), mgmt.KindForbidden, "caller"},
		{"Errorf unauthenticated", mgmt.Errorf(mgmt.KindUnauthenticated, "", "x"), mgmt.KindUnauthenticated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.kind, tt.err.Kind)
			assert.Equal(t, tt.field, tt.err.Field)
			assert.Equal(t, "x", tt.err.Message)
			assert.NoError(t, tt.err.Err)
			assert.NoError(t, errors.Unwrap(tt.err))
			assert.Equal(t, tt.kind, mgmt.KindOf(tt.err))
			assert.Equal(t, tt.field, mgmt.FieldOf(tt.err))
		})
	}
}

func TestErrorfCause(t *testing.T) {
	t.Parallel()
	cause := errors.New("disk full")

	t.Run("one %w", func(t *testing.T) {
		t.Parallel()
		e := mgmt.Errorf(mgmt.KindUnavailable, "store", "saving %s: %w", "rule", cause)
		assert.Equal(t, "saving rule: disk full", e.Message)
		assert.Same(t, cause, e.Err)
		assert.Same(t, cause, errors.Unwrap(e))
		assert.ErrorIs(t, e, cause)
		assert.ErrorIs(t, e, mgmt.ErrUnavailable)
	})
	t.Run("two %w", func(t *testing.T) {
		t.Parallel()
		other := mgmt.NotFound("rule", "no rule")
		e := mgmt.Errorf(mgmt.KindConflict, "batch", "%w; %w", cause, other)
		assert.Equal(t, "batch: disk full; rule: no rule", e.Error())
		require.Error(t, e.Err, "several %w still set the cause")
		assert.ErrorIs(t, e, cause)
		assert.ErrorIs(t, e, other)
		assert.ErrorIs(t, e, mgmt.ErrConflict)
		assert.ErrorIs(t, e, mgmt.ErrNotFound, "a wrapped *Error's kind matches too")
		assert.Equal(t, mgmt.KindConflict, mgmt.KindOf(e), "the outermost *Error decides the kind")
		assert.Equal(t, "batch", mgmt.FieldOf(e))
	})
	t.Run("%w of nil", func(t *testing.T) {
		t.Parallel()
		e := mgmt.Errorf(mgmt.KindInvalid, "", "saving: %w", nil)
		assert.NoError(t, e.Err)
		assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(e))
	})
	t.Run("%v is not a cause", func(t *testing.T) {
		t.Parallel()
		e := mgmt.Errorf(mgmt.KindInvalid, "", "saving: %v", cause)
		assert.NoError(t, e.Err)
		assert.NotErrorIs(t, e, cause)
	})
	t.Run("ErrOverflow as a cause", func(t *testing.T) {
		t.Parallel()
		e := mgmt.Errorf(mgmt.KindInvalid, "budget.limit", "adding %s: %w", mgmt.Money(1), mgmt.ErrOverflow)
		assert.ErrorIs(t, e, mgmt.ErrOverflow)
		assert.Equal(t, "budget.limit: adding 0.01: amount out of range", e.Error())
	})
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	notFound := mgmt.NotFound("rule", "no rule")
	invalid := mgmt.Invalid("rule.maxReplicas", "too big")
	ctxCanceled, cancel := context.WithCancel(context.Background())
	cancel()
	ctxDeadline, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()

	tests := []struct {
		name string
		err  error
		want mgmt.Kind
	}{
		{"nil", nil, mgmt.KindInternal},
		{"plain error", errors.New("boom"), mgmt.KindInternal},
		{"io.EOF", io.EOF, mgmt.KindInternal},
		{"wrapped plain error", fmt.Errorf("x: %w", io.EOF), mgmt.KindInternal},
		{"*Error", notFound, mgmt.KindNotFound},
		{"*Error of kind internal", &mgmt.Error{Kind: mgmt.KindInternal, Message: "bug"}, mgmt.KindInternal},
		{"wrapped *Error", fmt.Errorf("a: %w", fmt.Errorf("b: %w", notFound)), mgmt.KindNotFound},
		{"bare sentinel", mgmt.ErrConflict, mgmt.KindConflict},
		{"bare Kind", mgmt.KindForbidden, mgmt.KindForbidden},
		{"wrapped sentinel", fmt.Errorf("x: %w", mgmt.ErrUnauthenticated), mgmt.KindUnauthenticated},
		{"unknown Kind", mgmt.Kind(99), mgmt.Kind(99)},
		{"outermost *Error wins", mgmt.Errorf(mgmt.KindInvalid, "a", "x: %w", notFound), mgmt.KindInvalid},
		{"*Error wins over a sentinel it wraps", mgmt.Errorf(mgmt.KindInvalid, "a", "x: %w", mgmt.ErrNotFound), mgmt.KindInvalid},
		{"*Error cause of an *Error", &mgmt.Error{Kind: mgmt.KindConflict, Err: notFound}, mgmt.KindConflict},
		{"joined: first *Error", errors.Join(io.EOF, invalid, notFound), mgmt.KindInvalid},
		{"joined: order matters", errors.Join(notFound, invalid), mgmt.KindNotFound},
		{"joined: nested join", errors.Join(io.EOF, errors.Join(errors.New("x"), notFound)), mgmt.KindNotFound},
		{"joined: sentinel only", errors.Join(io.EOF, mgmt.ErrForbidden), mgmt.KindForbidden},
		{"joined: *Error beats an earlier sentinel", errors.Join(mgmt.ErrForbidden, notFound), mgmt.KindNotFound},
		{"joined: plain only", errors.Join(io.EOF, errors.New("x")), mgmt.KindInternal},

		// errors_ctx.go: context errors are KindUnavailable.
		{"context.Canceled", context.Canceled, mgmt.KindUnavailable},
		{"context.DeadlineExceeded", context.DeadlineExceeded, mgmt.KindUnavailable},
		{"ctx.Err() canceled", ctxCanceled.Err(), mgmt.KindUnavailable},
		{"ctx.Err() deadline", ctxDeadline.Err(), mgmt.KindUnavailable},
		{"wrapped context.Canceled", fmt.Errorf("query: %w", context.Canceled), mgmt.KindUnavailable},
		{"wrapped deadline", fmt.Errorf("a: %w", fmt.Errorf("b: %w", context.DeadlineExceeded)), mgmt.KindUnavailable},
		{"joined deadline", errors.Join(io.EOF, context.DeadlineExceeded), mgmt.KindUnavailable},
		{"context.Cause of a plain cancel", context.Cause(ctxCanceled), mgmt.KindUnavailable},
		{"*Error wins over a context error", mgmt.Errorf(mgmt.KindNotFound, "", "x: %w", context.Canceled), mgmt.KindNotFound},
		{"*Error of kind internal wins over a context error", &mgmt.Error{Kind: mgmt.KindInternal, Err: context.DeadlineExceeded}, mgmt.KindInternal},
		{"sentinel wins over a context error", errors.Join(context.Canceled, mgmt.ErrConflict), mgmt.KindConflict},
		{"os deadline is not a context error", os.ErrDeadlineExceeded, mgmt.KindInternal},
		{"a look-alike is not a context error", errors.New(context.Canceled.Error()), mgmt.KindInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, mgmt.KindOf(tt.err))
		})
	}
}

func TestCancelCause(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := mgmt.Errorf(mgmt.KindForbidden, "caller", "revoked")
	cancel(cause)
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(ctx.Err()), "ctx.Err() is context.Canceled")
	assert.Equal(t, mgmt.KindForbidden, mgmt.KindOf(context.Cause(ctx)), "the cause keeps its own kind")
}

func TestFieldOf(t *testing.T) {
	t.Parallel()
	inner := mgmt.Invalid("rule.maxReplicas", "too big")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain", errors.New("boom"), ""},
		{"sentinel", mgmt.ErrInvalid, ""},
		{"context", context.Canceled, ""},
		{"*Error", inner, "rule.maxReplicas"},
		{"*Error without field", mgmt.Unavailable("down"), ""},
		{"wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", inner)), "rule.maxReplicas"},
		{"outermost *Error wins", mgmt.Errorf(mgmt.KindInvalid, "rule", "%w", inner), "rule"},
		{"outermost *Error wins even without a field", mgmt.Errorf(mgmt.KindInvalid, "", "%w", inner), ""},
		{"joined", errors.Join(io.EOF, inner), "rule.maxReplicas"},
		{"joined: first *Error", errors.Join(mgmt.NotFound("a", "x"), inner), "a"},
		{"dotted path with index", mgmt.Invalid("trace[2].value", "x"), "trace[2].value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, mgmt.FieldOf(tt.err))
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	t.Parallel()
	cause := io.ErrUnexpectedEOF
	e := &mgmt.Error{Kind: mgmt.KindUnavailable, Message: "reading", Err: cause}
	assert.Same(t, cause, e.Unwrap())
	assert.ErrorIs(t, e, cause)
	assert.Nil(t, (&mgmt.Error{}).Unwrap())

	var pathErr *os.PathError
	e2 := mgmt.Errorf(mgmt.KindNotFound, "file", "opening: %w", &os.PathError{Op: "open", Path: "/x", Err: os.ErrNotExist})
	require.ErrorAs(t, e2, &pathErr)
	assert.Equal(t, "/x", pathErr.Path)
	assert.ErrorIs(t, e2, os.ErrNotExist)
	assert.ErrorIs(t, e2, mgmt.ErrNotFound)
}

func TestErrorIsMethod(t *testing.T) {
	t.Parallel()
	e := &mgmt.Error{Kind: mgmt.KindConflict}
	assert.True(t, e.Is(mgmt.KindConflict))
	assert.True(t, e.Is(mgmt.ErrConflict))
	assert.False(t, e.Is(mgmt.KindNotFound))
	assert.False(t, e.Is(io.EOF))
	assert.False(t, e.Is(&mgmt.Error{Kind: mgmt.KindConflict}), "only a Kind is a kind target")
	assert.False(t, e.Is(nil))
}

func TestKindCode(t *testing.T) {
	t.Parallel()
	for k, want := range map[mgmt.Kind]string{
		mgmt.KindInternal: "internal", mgmt.KindInvalid: "invalid", mgmt.KindNotFound: "not_found",
		mgmt.KindConflict: "conflict", mgmt.KindForbidden: "forbidden",
		mgmt.KindUnauthenticated: "unauthenticated", mgmt.KindUnavailable: "unavailable",
	} {
		assert.Equal(t, want, k.Code())
		got, ok := mgmt.ParseKindCode(want)
		assert.True(t, ok, want)
		assert.Equal(t, k, got)
	}
	_, ok := mgmt.ParseKindCode("not found")
	assert.False(t, ok, "codes have no spaces")
}
