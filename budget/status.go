package budget

import (
	"context"
	"math"
	"sort"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Status is what the budget knows about one cap now.
type Status struct {
	Cap Cap `json:"cap"`
	// Period is the current window's key; Start and End bound it.
	Period string    `json:"period"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// Spend is the spend so far this period; Forecast the period-end
	// forecast at the current burn; Burn the current cost per hour.
	Spend    mgmt.Money `json:"spendUSD"`
	Forecast mgmt.Money `json:"forecastUSD"`
	Burn     mgmt.Money `json:"burnPerHourUSD"`
	// Alerts are the thresholds crossed this period, in order.
	Alerts []Alert `json:"alerts"`
	// Services are the services the cap covers, with their replica caps.
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one service under a cap.
type ServiceStatus struct {
	Service  string `json:"service"`
	Replicas int32  `json:"replicas"`
	// ReplicaCap is the highest count the cap allows the service now
	// (-1: none, even zero, fits; null in JSON when it is unlimited or the
	// cap is soft).
	ReplicaCap *int32 `json:"replicaCap"`
	// Exception reports whether the cap's exception holds for it.
	Exception bool `json:"exception"`
}

// Status returns the status of the cap with the given ID.
func (b *Budget) Status(ctx context.Context, id string) (Status, error) {
	now := b.clock.Now()
	b.mu.RLock()
	cs, ok := b.caps[id]
	if !ok {
		b.mu.RUnlock()
		return Status{}, mgmt.NotFound("id", "no cap %q", id)
	}
	st := b.statusLocked(cs, now)
	b.mu.RUnlock()
	alerts, err := b.store.Alerts(ctx, id, st.Period)
	if err != nil {
		return Status{}, err
	}
	st.Alerts = alerts
	if st.Alerts == nil {
		st.Alerts = []Alert{}
	}
	return st, nil
}

// StatusFor returns the status of every cap covering service, ordered by
// cap ID.
func (b *Budget) StatusFor(ctx context.Context, service string) ([]Status, error) {
	b.mu.RLock()
	var ids []string
	if s, ok := b.services[service]; ok {
		for _, cs := range s.caps {
			ids = append(ids, cs.cap.ID)
		}
	}
	for id, cs := range b.caps { // caps on a service the budget has not seen yet
		if cs.cap.Service == service && (len(ids) == 0 || !contains(ids, id)) {
			ids = append(ids, id)
		}
	}
	b.mu.RUnlock()
	sort.Strings(ids)
	out := make([]Status, 0, len(ids))
	for _, id := range ids {
		st, err := b.Status(ctx, id)
		if err != nil {
			if mgmt.KindOf(err) == mgmt.KindNotFound {
				continue // deleted meanwhile
			}
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// statusLocked computes a cap's numbers. b.mu must be held (read).
func (b *Budget) statusLocked(cs *capState, now time.Time) Status {
	all := cs.state(nil, now)
	st := Status{
		Cap: cs.cap.Clone(), Period: all.window.Key, Start: all.window.Start, End: all.window.End,
		Spend: all.spend, Services: []ServiceStatus{},
	}
	for _, s := range cs.services {
		if s.seen && s.replicas > 0 {
			st.Burn = satAdd(st.Burn, sat(s.info.PricePerReplicaHour.MulDiv(int64(s.replicas), 1)))
		}
		ss := ServiceStatus{Service: s.name, Replicas: s.replicas, Exception: s.exceptions[cs.cap.ID]}
		if cs.cap.Mode == Hard {
			fs := cs.state(s, now)
			if n := fs.maxReplicas(); n != math.MaxInt32 {
				ss.ReplicaCap = &n
			}
		}
		st.Services = append(st.Services, ss)
	}
	st.Forecast = satAdd(st.Spend, sat(st.Burn.MulDiv(int64(all.left), nsPerHour)))
	return st
}

// ReplicaCap returns the lowest replica cap the hard caps covering service
// set now, and whether any does.
func (b *Budget) ReplicaCap(service string) (int32, bool) {
	now := b.clock.Now()
	b.mu.RLock()
	defer b.mu.RUnlock()
	s, ok := b.services[service]
	if !ok {
		return 0, false
	}
	n, found := int32(math.MaxInt32), false
	for _, cs := range s.caps {
		if cs.cap.Mode != Hard {
			continue
		}
		st := cs.state(s, now)
		if m := st.maxReplicas(); m < n {
			n, found = m, true
		}
	}
	return n, found
}
