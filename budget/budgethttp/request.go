package budgethttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/internal/strictjson"
)

// Request limits beyond the body size.
const (
	// MaxThresholds is the most alert thresholds a cap may have.
	MaxThresholds = 32
	// MaxExceptionBytes bounds the CEL condition of an exception.
	MaxExceptionBytes = 4096
)

// maxCapKeys bounds the object keys of a cap request (6 fields, an
// exception of 2 and MaxThresholds thresholds of 2 need fewer): a body of
// more keys is refused as soon as the scan meets one too many.
const maxCapKeys = 256

// capRequest is the body of POST /budgets/{svc}. The amounts, the
// exception and the thresholds stay raw so that each is checked on its own
// and its errors name it exactly.
type capRequest struct {
	MonthlyUSD    json.RawMessage `json:"monthlyUSD"`
	FiscalYearUSD json.RawMessage `json:"fiscalYearUSD"`
	Mode          *string         `json:"mode"`
	OverCap       *string         `json:"overCap"`
	Exception     json.RawMessage `json:"exception"`
	Thresholds    json.RawMessage `json:"thresholds"`
}

// decodeCap reads a POST body into the cap it asks for on service. The
// body goes through httperr.DecodeContext (the strict JSON layer): repeated
// keys, keys in another case, unknown keys, invalid UTF-8 and lone
// surrogates are refused anywhere in it, each naming its JSON path.
func decodeCap(ctx context.Context, body []byte, service string) (budget.Cap, error) {
	var req capRequest
	if err := strictjson.DecodeLimited(ctx, body, "", &req, maxCapKeys); err != nil {
		return budget.Cap{}, err
	}
	c := budget.Cap{Service: service}
	amountField := "monthlyUSD"
	switch {
	case req.MonthlyUSD != nil && req.FiscalYearUSD != nil:
		return budget.Cap{}, mgmt.Invalid("fiscalYearUSD", "is given together with monthlyUSD: give one (POST each period's cap separately)")
	case req.MonthlyUSD != nil:
		c.Period = budget.Month
	case req.FiscalYearUSD != nil:
		c.Period, amountField = budget.FiscalYear, "fiscalYearUSD"
	default:
		return budget.Cap{}, mgmt.Invalid("monthlyUSD", "is required: give monthlyUSD or fiscalYearUSD, a number of dollars such as 10000")
	}
	raw := req.MonthlyUSD
	if c.Period == budget.FiscalYear {
		raw = req.FiscalYearUSD
	}
	amount, err := parseDollars(amountField, raw)
	if err != nil {
		return budget.Cap{}, err
	}
	c.Amount = amount

	if req.Mode != nil {
		switch *req.Mode {
		case "hard":
			c.Mode = budget.Hard
		case "soft":
			c.Mode = budget.Soft
		default:
			return budget.Cap{}, mgmt.Invalid("mode", "%q is not a mode: want hard or soft", *req.Mode)
		}
	}
	if req.OverCap != nil {
		switch *req.OverCap {
		case "hold":
			c.OverCap = budget.Hold
		case "step_down":
			c.OverCap = budget.StepDown
		default:
			return budget.Cap{}, mgmt.Invalid("overCap", "%q is not an over-cap action: want hold or step_down", *req.OverCap)
		}
	}
	if c.Exception, err = decodeException(ctx, req.Exception); err != nil {
		return budget.Cap{}, err
	}
	if c.Thresholds, err = decodeThresholds(ctx, req.Thresholds); err != nil {
		return budget.Cap{}, err
	}
	return c, nil
}

// parseDollars reads a JSON number of dollars into exact cents: the number
// is kept as its decimal text (json.Number) and parsed by
// mgmt.ParseDollars, never through a float. It must be positive.
func parseDollars(field string, raw json.RawMessage) (mgmt.Money, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil { // raw is one valid JSON value: cannot happen
		return 0, mgmt.Invalid(field, "is not valid JSON")
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, mgmt.Invalid(field, "expected a number of dollars such as 10000 or 12.50, got %s", jsonKind(v))
	}
	m, err := mgmt.ParseDollars(n.String())
	if err != nil {
		return 0, mgmt.Invalid(field, "%w", err)
	}
	if m <= 0 {
		return 0, mgmt.Invalid(field, "must be more than 0, got %s", n)
	}
	return m, nil
}

// jsonKind names the JSON type of a decoded value for error messages.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if len(v) > 40 {
			return "a JSON string"
		}
		return fmt.Sprintf("the JSON string %q", v)
	case bool:
		return "true or false"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// decodeException reads the optional exception; absent or null is none.
func decodeException(ctx context.Context, raw json.RawMessage) (*budget.Exception, error) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	var e budget.Exception
	if err := httperr.DecodeContext(ctx, raw, "exception", &e); err != nil {
		return nil, err
	}
	if len(e.When) > MaxExceptionBytes {
		return nil, mgmt.Invalid("exception.when", "is %d bytes, more than %d", len(e.When), MaxExceptionBytes)
	}
	// Budget.SetCap checks the rest: a non-empty condition that compiles
	// to a bool, and 1–100 %.
	return &e, nil
}

// decodeThresholds reads the optional alert thresholds; absent or null
// means the defaults.
func decodeThresholds(ctx context.Context, raw json.RawMessage) ([]budget.Threshold, error) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := httperr.DecodeContext(ctx, raw, "thresholds", &items); err != nil {
		return nil, err
	}
	switch {
	case len(items) == 0:
		// budget keeps an empty list as "the defaults" (Cap.Clone turns it
		// into nil), which is not what [] says.
		return nil, mgmt.Invalid("thresholds", "is empty; leave it out for the default thresholds, or give at least one")
	case len(items) > MaxThresholds:
		return nil, mgmt.Invalid("thresholds", "has %d entries, more than %d", len(items), MaxThresholds)
	}
	out := make([]budget.Threshold, len(items))
	for i, item := range items {
		field := fmt.Sprintf("thresholds[%d]", i)
		if isNull(item) {
			return nil, mgmt.Invalid(field, "expected an object such as {\"percent\": 80}, got null")
		}
		var t struct {
			Percent  *int64 `json:"percent"`
			Forecast bool   `json:"forecast"`
		}
		if err := httperr.DecodeContext(ctx, item, field, &t); err != nil {
			return nil, err
		}
		if t.Percent == nil {
			return nil, mgmt.Invalid(field+".percent", "is required")
		}
		out[i] = budget.Threshold{Percent: *t.Percent, Forecast: t.Forecast}
	}
	// Budget.SetCap checks the ranges (1–1000 %) and duplicates.
	return out, nil
}
