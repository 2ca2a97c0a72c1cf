package logship

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// HandlerOptions configure a Handler.
type HandlerOptions struct {
	// Level is the lowest level handled; default Info.
	Level slog.Leveler
}

// Handler is an slog.Handler that adds each record to a Buffer as a
// Record of kind log, its attributes (and groups) as a JSON object. It
// returns once the record is queued, or dropped by the buffer's policy.
type Handler struct {
	b     *Buffer
	level slog.Leveler
	ops   []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler over b.
func NewHandler(b *Buffer, opts HandlerOptions) (*Handler, error) {
	if b == nil {
		return nil, mgmt.Invalid("buffer", "is required")
	}
	if opts.Level == nil {
		opts.Level = slog.LevelInfo
	}
	return &Handler{b: b, level: opts.Level}, nil
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	as = slices.Clone(as)
	return h.with(func(j slog.Handler) slog.Handler { return j.WithAttrs(as) })
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(func(j slog.Handler) slog.Handler { return j.WithGroup(name) })
}

func (h *Handler) with(op func(slog.Handler) slog.Handler) *Handler {
	h2 := *h
	h2.ops = append(slices.Clip(h.ops), op)
	return &h2
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	attrs, err := h.attrs(ctx, r)
	if err != nil {
		return err
	}
	at := r.Time
	if at.IsZero() {
		at = h.b.o.Clock.Now()
	}
	return h.b.Add(ctx, Record{
		ID: NewID(), Time: at.UTC(), Level: r.Level.String(), Message: r.Message,
		Attrs: attrs, Kind: KindLog,
	})
}

// attrs renders r's attributes, with the handler's, as one JSON object,
// through slog's own JSON handler without its built-in keys.
func (h *Handler) attrs(ctx context.Context, r slog.Record) (json.RawMessage, error) {
	var buf bytes.Buffer
	var j slog.Handler = slog.NewJSONHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug - 100,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) && isBuiltin(a) {
				return slog.Attr{}
			}
			return a
		},
	})
	for _, op := range h.ops {
		j = op(j)
	}
	r2 := slog.NewRecord(time.Time{}, r.Level, "", 0)
	r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
	if err := j.Handle(ctx, r2); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimSpace(buf.Bytes())), nil
}

// isBuiltin tells slog's own time, level and message attributes from a
// user's of the same key: the record passed to the JSON handler has a
// zero time (not written at all) and an empty message.
func isBuiltin(a slog.Attr) bool {
	switch a.Key {
	case slog.MessageKey:
		return a.Value.Kind() == slog.KindString && a.Value.String() == ""
	case slog.LevelKey:
		_, ok := a.Value.Any().(slog.Level)
		return ok
	}
	return a.Value.Kind() == slog.KindTime
}

// Auditor is an mgmt.Auditor that adds each event to a Buffer as a Record
// of kind audit: the event as JSON in Attrs, the message "audit
// <action>". Audit never blocks longer than the buffer's policy allows;
// a dropped event is counted and logged by the buffer.
type Auditor struct{ b *Buffer }

var _ mgmt.Auditor = (*Auditor)(nil)

// NewAuditor returns an Auditor over b.
func NewAuditor(b *Buffer) (*Auditor, error) {
	if b == nil {
		return nil, mgmt.Invalid("buffer", "is required")
	}
	return &Auditor{b: b}, nil
}

// Audit implements mgmt.Auditor.
func (a *Auditor) Audit(ctx context.Context, e mgmt.AuditEvent) {
	if e.At.IsZero() {
		e.At = a.b.o.Clock.Now()
	}
	attrs, err := json.Marshal(e)
	if err != nil { // a map of strings and strings: cannot happen
		a.b.log.LogAttrs(ctx, slog.LevelError, "logship: audit event not encodable", slog.String("error", err.Error()))
		return
	}
	_ = a.b.Add(ctx, Record{
		ID: NewID(), Time: e.At.UTC(), Level: slog.LevelInfo.String(), Message: "audit " + e.Action,
		Attrs: attrs, Kind: KindAudit,
	}) // counted and logged by the buffer
}
