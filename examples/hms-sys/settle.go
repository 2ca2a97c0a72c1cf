package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgerhttp"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

// defaultCompanyID is the demo NACHA company identification of
// -company-id: "1" followed by a made-up 9-digit EIN. A real host gives
// the Company ID its ODFI assigned.
const defaultCompanyID = "1536000000"

// settlementConfig is the settlement part of the command line.
type settlementConfig struct {
	dir       string
	companyID string
	every     time.Duration
}

func (c *settlementConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "settlement-dir", "hms-sys-ach", "directory of the NACHA settlement files (created with mode 0700); they are the settlement state: keep them")
	fs.StringVar(&c.companyID, "company-id", defaultCompanyID, "NACHA company identification of every batch (1 to 10 letters or digits, usually 1 and the EIN); the default is a demo value")
	fs.DurationVar(&c.every, "settle-every", time.Hour, "settle automatically at this interval, with the latest whole minute as cutoff; 0 turns the loop off")
}

func (c *settlementConfig) check() error {
	if c.dir == "" {
		return host.Usagef("-settlement-dir: give a directory")
	}
	if !alnum(c.companyID, 10) {
		return host.Usagef("-company-id %q: must be 1 to 10 letters or digits (the NACHA company identification, such as %s)", c.companyID, defaultCompanyID)
	}
	if c.every != 0 && c.every < time.Minute {
		return host.Usagef("-settle-every %v: must be 0 (off) or at least 1m (cutoffs are a minute apart)", c.every)
	}
	return nil
}

func alnum(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// newSettler settles the ledger's transfers into -settlement-dir.
func newSettler(c settlementConfig, l ledger.Backend, clk clock.Clock) (*nacha.Settler, error) {
	sink, err := nacha.NewDirSink(c.dir)
	if err != nil {
		return nil, fmt.Errorf("-settlement-dir %s: %w", c.dir, err)
	}
	s, err := nacha.New(nacha.Options{Backend: l, Sink: sink, Clock: clk, CompanyIdentification: c.companyID})
	if err != nil {
		return nil, fmt.Errorf("settlement: %w", err)
	}
	return s, nil
}

// mountSettlement routes the settlement API's paths to its handler on mux,
// beside the ledger's "/ach/".
func mountSettlement(mux *http.ServeMux, cfg config, clk clock.Clock, s *nacha.Settler, authorize auth.HTTPAuthorizer, audit mgmt.Auditor) error {
	h, err := ledgerhttp.NewSettlementHandler(s, ledgerhttp.SettlementOptions{Authorize: authorize, Clock: clk, Auditor: audit, Logger: cfg.logger})
	if err != nil {
		return err
	}
	for _, p := range ledgerhttp.SettlementPaths {
		mux.Handle(p, h)
	}
	return nil
}

// settleLoop settles every a.settleEvery on the host's clock until ctx
// ends. A run that fails is retried at its cutoff on the next tick (how
// nacha repairs a crash), before the tick's own cutoff.
func (a *app) settleLoop(ctx context.Context) {
	t := a.clock.Ticker(a.settleEvery)
	defer t.Stop()
	var retry time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		retry = a.settleTick(ctx, retry)
	}
}

// settleTick settles at retry (a cutoff that failed, unless zero) and then
// at the latest whole minute before now; it returns the cutoff to retry
// next time, or zero.
func (a *app) settleTick(ctx context.Context, retry time.Time) time.Time {
	if !retry.IsZero() {
		if !a.settleAt(ctx, retry) {
			return retry
		}
	}
	cutoff := ledgerhttp.DefaultCutoff(a.clock.Now())
	if cutoff.Equal(retry) || a.settleAt(ctx, cutoff) {
		return time.Time{}
	}
	return cutoff
}

// settleAt settles at cutoff and logs the files created; it reports
// whether the run is over (done, or failed for a reason a retry cannot
// fix).
func (a *app) settleAt(ctx context.Context, cutoff time.Time) bool {
	res, err := a.settler.Settle(ctx, cutoff)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		if mgmt.KindOf(err) == mgmt.KindInvalid { // such as a cutoff in the minute of another: not retried
			a.logger.Warn("settlement: refused; settling at the next tick", "cutoff", cutoff.Format(time.RFC3339), "err", err)
			return true
		}
		a.logger.Error("settlement: failed; retrying at the same cutoff next tick", "cutoff", cutoff.Format(time.RFC3339), "err", err)
		return false
	}
	for _, f := range res.Files {
		if !contains(res.Created, f.Name) {
			continue
		}
		a.logger.Info("settlement: file created", "file", f.Name, "odfi", f.ODFI, "cutoff", f.Cutoff.Format(time.RFC3339),
			"effectiveDate", f.EffectiveDate.Format(time.DateOnly), "transfers", len(f.Transfers), "total", f.Total.String(),
			"traces", f.FirstTrace+"-"+f.LastTrace)
	}
	for _, s := range res.Skipped {
		a.logger.Warn("settlement: transfer skipped", "transfer", strconv.FormatUint(s.TransferID, 10), "reason", s.Reason, "message", s.Message)
	}
	if len(res.Created) == 0 {
		a.logger.Debug("settlement: nothing to settle", "cutoff", cutoff.Format(time.RFC3339), "files", len(res.Files))
	} else {
		a.audit.Audit(ctx, mgmt.AuditEvent{At: a.clock.Now(), Actor: "system", Action: "ledger.settle",
			Resource: "settlement/" + res.Cutoff.Format(time.RFC3339Nano), Outcome: "ok",
			Details: map[string]string{"created": strings.Join(res.Created, ","), "skipped": strconv.Itoa(len(res.Skipped))}})
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
