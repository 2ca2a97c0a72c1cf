package logship

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
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
//
// A top-level attribute named "msg" with an empty string value, or
// "level" holding an slog.Level, or "time" holding a time, is taken for
// slog's own and left out of Attrs.
type Handler struct {
	b     *Buffer
	level slog.Leveler
	enc   *encoder     // shared by the handlers derived from one NewHandler
	j     slog.Handler // slog's JSON handler over enc.buf, with this handler's attrs and groups
}

// encoder renders attributes with slog's JSON handler, one record at a
// time: the handler writes each record in one Write to buf, under mu.
type encoder struct {
	mu  sync.Mutex
	buf bytes.Buffer
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
	enc := &encoder{}
	j := slog.NewJSONHandler(&enc.buf, &slog.HandlerOptions{
		Level: slog.LevelDebug - 100, // Enabled is ours
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) && isBuiltin(a) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &Handler{b: b, level: opts.Level, enc: enc, j: j}, nil
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	h2 := *h
	h2.j = h.j.WithAttrs(as)
	return &h2
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.j = h.j.WithGroup(name)
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
// through slog's own JSON handler without its built-in keys. Only the
// encoding is serialised; the enqueue is not.
func (h *Handler) attrs(ctx context.Context, r slog.Record) (json.RawMessage, error) {
	r2 := slog.NewRecord(time.Time{}, r.Level, "", 0)
	r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
	h.enc.mu.Lock()
	defer h.enc.mu.Unlock()
	h.enc.buf.Reset()
	if err := h.j.Handle(ctx, r2); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.Clone(bytes.TrimSpace(h.enc.buf.Bytes()))), nil
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
