package budget

import (
	"fmt"
	"strings"
	"unicode/utf8"

	mgmt "github.com/hms-platform/mgmt"
)

// Mode says what a cap does.
type Mode uint8

// The modes.
const (
	// Hard caps limit replicas through the Guard and alert.
	Hard Mode = iota
	// Soft caps only alert.
	Soft
)

// String returns "hard" or "soft".
func (m Mode) String() string {
	if m == Soft {
		return "soft"
	}
	return "hard"
}

// MarshalText writes the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads "hard" (also "") or "soft".
func (m *Mode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "", "hard":
		*m = Hard
	case "soft":
		*m = Soft
	default:
		return mgmt.Invalid("mode", "%q is not a mode: want hard or soft", b)
	}
	return nil
}

// OverCap says what the Guard does once even the current replica count
// cannot stay within a hard cap.
type OverCap uint8

// The over-cap actions.
const (
	// Hold allows no scale-up; scale-downs still happen (the default).
	Hold OverCap = iota
	// StepDown moves the service to the rule's minReplicas.
	StepDown
)

// String returns "hold" or "step_down".
func (o OverCap) String() string {
	if o == StepDown {
		return "step_down"
	}
	return "hold"
}

// MarshalText writes the action's name.
func (o OverCap) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads "hold" (also "") or "step_down".
func (o *OverCap) UnmarshalText(b []byte) error {
	switch string(b) {
	case "", "hold":
		*o = Hold
	case "step_down", "stepDown":
		*o = StepDown
	default:
		return mgmt.Invalid("overCap", "%q is not an over-cap action: want hold or step_down", b)
	}
	return nil
}

// Exception lets a hard cap be overrun by up to OverrunPercent while the
// CEL condition When holds. When is evaluated in the budget's CEL
// environment with the variables
//
//	service  string               the service the Guard is deciding for
//	labels   map(string, string)  that service's labels
//	capId    string               the cap's ID
//	cap      int                  the cap amount in cents
//	spend    int                  spend so far this period, in cents
//	period   string               the period key, such as "2026-11" or "FY2027"
//	now      timestamp
//
// for example `labels.program == "disaster-relief"` with OverrunPercent 10.
// An evaluation error counts as false (fail closed).
type Exception struct {
	When           string `json:"when"`
	OverrunPercent int64  `json:"overrunPercent"`
}

// Threshold is one alert level: a percentage of the cap reached by actual
// spend, or by the forecast of period-end spend.
type Threshold struct {
	Forecast bool  `json:"forecast,omitempty"`
	Percent  int64 `json:"percent"`
}

// String returns "actual 80%" or "forecast 100%".
func (t Threshold) String() string {
	if t.Forecast {
		return fmt.Sprintf("forecast %d%%", t.Percent)
	}
	return fmt.Sprintf("actual %d%%", t.Percent)
}

// DefaultThresholds are 50 %, 80 % and 100 % of actual spend and 100 % of
// the forecast.
func DefaultThresholds() []Threshold {
	return []Threshold{{Percent: 50}, {Percent: 80}, {Percent: 100}, {Forecast: true, Percent: 100}}
}

// Cap is an amount of money a service — or every service whose labels
// match a selector — may spend per period.
type Cap struct {
	// ID names the cap; the default is "<service>/<period>" or
	// "<selector>/<period>", such as "eligibility-api/month".
	ID string `json:"id"`
	// Exactly one of Service and Selector is set.
	Service  string   `json:"service,omitempty"`
	Selector Selector `json:"selector,omitempty"`
	Period   Period   `json:"period"`
	// Amount is the cap in cents (JSON: dollars, as "amountUSD").
	Amount   mgmt.Money `json:"amountUSD"`
	Currency string     `json:"currency"`
	Mode     Mode       `json:"mode"`
	OverCap  OverCap    `json:"overCap"`
	// Exception, when set, allows an overrun of a hard cap.
	Exception *Exception `json:"exception,omitempty"`
	// Thresholds are the alert levels; nil means DefaultThresholds.
	Thresholds []Threshold `json:"thresholds,omitempty"`
}

// maxOverrunPercent bounds Exception.OverrunPercent.
const maxOverrunPercent = 100

// Normalize fills the defaults (ID, currency, thresholds) and validates c.
// Errors are of kind invalid and name the field.
func (c *Cap) Normalize() error {
	if c.Currency == "" {
		c.Currency = mgmt.Currency
	}
	if c.Thresholds == nil {
		c.Thresholds = DefaultThresholds()
	} else if len(c.Thresholds) == 0 {
		return mgmt.Invalid("thresholds", "is empty: omit it for the defaults (50 %%, 80 %%, 100 %% of spend, 100 %% of the forecast)")
	}
	if err := c.validate(); err != nil {
		return err
	}
	if c.ID == "" {
		c.ID = c.Target() + "/" + c.Period.String()
	}
	return nil
}

// Target returns the service name or the canonical selector.
func (c *Cap) Target() string {
	if c.Service != "" {
		return c.Service
	}
	return c.Selector.String()
}

func (c *Cap) validate() error {
	if c.ID != "" {
		if len(c.ID) > 200 {
			return mgmt.Invalid("id", "is %d bytes, more than 200", len(c.ID))
		}
		if !utf8.ValidString(c.ID) {
			return mgmt.Invalid("id", "is not valid UTF-8")
		}
		for _, r := range c.ID {
			if r < 0x20 || r == 0x7f {
				return mgmt.Invalid("id", "contains a control character")
			}
		}
	}
	switch {
	case c.Service == "" && len(c.Selector) == 0:
		return mgmt.Invalid("service", "is required (or a selector)")
	case c.Service != "" && len(c.Selector) > 0:
		return mgmt.Invalid("selector", "is set together with service %q: set one", c.Service)
	}
	if c.Service != "" {
		if err := ValidateService("service", c.Service); err != nil {
			return err
		}
	} else if err := c.Selector.Validate("selector"); err != nil {
		return err
	}
	if c.Period > FiscalYear {
		return mgmt.Invalid("period", "unknown period %d", uint8(c.Period))
	}
	if c.Amount <= 0 {
		return mgmt.Invalid("amountUSD", "must be > 0, got %s", c.Amount)
	}
	if c.Currency != mgmt.Currency {
		return mgmt.Invalid("currency", "%q is not supported: amounts are in USD", c.Currency)
	}
	if c.Mode > Soft {
		return mgmt.Invalid("mode", "unknown mode %d", uint8(c.Mode))
	}
	if c.OverCap > StepDown {
		return mgmt.Invalid("overCap", "unknown over-cap action %d", uint8(c.OverCap))
	}
	if e := c.Exception; e != nil {
		if strings.TrimSpace(e.When) == "" {
			return mgmt.Invalid("exception.when", "is required")
		}
		if e.OverrunPercent <= 0 || e.OverrunPercent > maxOverrunPercent {
			return mgmt.Invalid("exception.overrunPercent", "must be 1–%d, got %d", maxOverrunPercent, e.OverrunPercent)
		}
	}
	seen := map[Threshold]bool{}
	for i, t := range c.Thresholds {
		if t.Percent <= 0 || t.Percent > 1000 {
			return mgmt.Invalid(fmt.Sprintf("thresholds[%d].percent", i), "must be 1–1000, got %d", t.Percent)
		}
		if seen[t] {
			return mgmt.Invalid(fmt.Sprintf("thresholds[%d]", i), "%s appears twice", t)
		}
		seen[t] = true
	}
	return nil
}

// ValidateService checks the name of a service a cap or a spend record is
// for: a DNS-1123 label (mgmt.ValidateServiceName), so that it is always
// one segment of a cap ID such as "eligibility-api/month". Errors are of
// kind invalid and name field.
func ValidateService(field, s string) error { return mgmt.ValidateServiceName(field, s) }

// Clone returns a deep copy of c.
func (c Cap) Clone() Cap {
	if c.Selector != nil {
		sel := make(Selector, len(c.Selector))
		for k, v := range c.Selector {
			sel[k] = v
		}
		c.Selector = sel
	}
	if c.Exception != nil {
		e := *c.Exception
		c.Exception = &e
	}
	if c.Thresholds != nil {
		c.Thresholds = append(make([]Threshold, 0, len(c.Thresholds)), c.Thresholds...)
	}
	return c
}
