package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/internal/strictjson"
)

// maxPricesBytes bounds a -prices file; maxPricedServices the services in
// it.
const (
	maxPricesBytes    = 1 << 20
	maxPricedServices = 10_000
)

// price is a service's entry in a -prices file:
//
//	{"eligibility-api": {"pricePerReplicaHourUSD": "0.12", "labels": {"program": "student-loan-forgiveness"}}}
//
// The price is in dollars with at most two decimals (a number or a
// string). The labels are those the budget's selector caps match; the
// agency label is not among them: the owner is what the cluster reports
// (see the package doc), and the fiscal year is derived from the time.
type price struct {
	PricePerReplicaHour mgmt.Money  `json:"pricePerReplicaHourUSD"`
	Labels              mgmt.Labels `json:"labels,omitempty"`
}

// readPrices reads a -prices file. Every problem is an error naming the
// service and the field.
func readPrices(ctx context.Context, path string) (map[string]price, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPricesBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPricesBytes {
		return nil, fmt.Errorf("%s: more than %d bytes", path, maxPricesBytes)
	}
	var prices map[string]price
	if err := strictjson.DecodeLimited(ctx, data, "", &prices, 4*maxPricedServices); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(prices) > maxPricedServices {
		return nil, fmt.Errorf("%s: %d services, more than %d", path, len(prices), maxPricedServices)
	}
	for name, p := range prices {
		if err := budget.ValidateService(name, name); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		switch {
		case p.PricePerReplicaHour <= 0:
			return nil, fmt.Errorf("%s: %w", path, mgmt.Invalid(name+".pricePerReplicaHourUSD", "must be > 0, got %s", p.PricePerReplicaHour))
		case p.Labels[mgmt.LabelAgency] != "":
			return nil, fmt.Errorf("%s: %w", path, mgmt.Invalid(name+".labels."+mgmt.LabelAgency, "the owner is what the cluster reports; leave it out"))
		case p.Labels[mgmt.LabelFiscalYear] != "":
			return nil, fmt.Errorf("%s: %w", path, mgmt.Invalid(name+".labels."+mgmt.LabelFiscalYear, "is derived from the time; leave it out"))
		}
		if err := p.Labels.Validate(name + ".labels"); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return prices, nil
}

// priceList registers the services of a -prices file with the budget,
// each once its owner is known: the owner (agency label) comes from the
// cluster, so a service is registered at the first time the cluster
// answers for it.
type priceList struct {
	prices map[string]price
	owner  func(ctx context.Context, service string) (string, error)
	budget *budget.Budget
	log    *slog.Logger

	mu      sync.Mutex
	done    map[string]bool
	missing map[string]bool // not found in the cluster, logged once
}

// register registers the services not registered yet; it goes on after
// a failure and returns the failures joined. A service the cluster does
// not have (yet) is no failure of the refresh: it is logged once, and
// looked for again at every call.
func (p *priceList) register(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = map[string]bool{}
	}
	names := make([]string, 0, len(p.prices))
	for name := range p.prices {
		if !p.done[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		owner, err := p.owner(ctx, name)
		if mgmt.KindOf(err) == mgmt.KindNotFound {
			if p.missing == nil {
				p.missing = map[string]bool{}
			}
			if !p.missing[name] {
				p.missing[name] = true
				p.log.Warn("budget: a service of -prices is not in the cluster; it is registered once it is", "service", name, "err", err)
			}
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("price of %s: %w", name, err))
			continue
		}
		pr := p.prices[name]
		labels := pr.Labels.Clone()
		if owner != "" {
			if labels == nil {
				labels = mgmt.Labels{}
			}
			labels[mgmt.LabelAgency] = owner
		}
		if err := p.budget.SetService(ctx, name, budget.ServiceInfo{PricePerReplicaHour: pr.PricePerReplicaHour, Labels: labels}); err != nil {
			errs = append(errs, fmt.Errorf("price of %s: %w", name, err))
			continue
		}
		p.done[name] = true
	}
	return errors.Join(errs...)
}
