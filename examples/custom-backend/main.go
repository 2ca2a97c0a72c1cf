// Command custom-backend is a backend plugin over files: $CUSTOM_BACKEND_DIR/<service>.replicas, <service>.<metric>, <service>.owner (its agency; optional).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/scaler"
)

type files struct{ sync.Mutex } // calls arrive concurrently; one file at a time

func (d *files) read(name string) (v float64, err error) {
	d.Lock()
	defer d.Unlock()
	b, err := os.ReadFile(filepath.Join(os.Getenv("CUSTOM_BACKEND_DIR"), filepath.Base(name)))
	if os.IsNotExist(err) {
		return 0, mgmt.NotFound("service", "no file %s", name)
	} else if err == nil {
		_, err = fmt.Sscan(string(b), &v)
	}
	return v, err
}
func (d *files) Replicas(_ context.Context, svc string) (scaler.ReplicaStatus, error) {
	n, err := d.read(svc + ".replicas")
	owner, oerr := os.ReadFile(filepath.Join(os.Getenv("CUSTOM_BACKEND_DIR"), filepath.Base(svc)+".owner")) // never written here
	if err == nil && !os.IsNotExist(oerr) {
		err = oerr
	}
	return scaler.ReplicaStatus{Desired: int32(n), Ready: int32(n), Owner: strings.TrimSpace(string(owner))}, err
}
func (d *files) SetReplicas(_ context.Context, svc string, n int32, _ string) error {
	if n < 0 {
		return mgmt.Invalid("replicas", "must be ≥ 0, got %d", n)
	}
	d.Lock()
	defer d.Unlock()
	path := filepath.Join(os.Getenv("CUSTOM_BACKEND_DIR"), filepath.Base(svc)+".replicas")
	if err := os.WriteFile(path+".new", fmt.Append(nil, n), 0o644); err != nil {
		return err
	}
	return os.Rename(path+".new", path) // readers elsewhere never see half a file
}
func (d *files) Metric(_ context.Context, q scaler.MetricQuery) (float64, error) {
	return d.read(q.Service + "." + q.Metric)
}
func main() { d := &files{}; plugin.Serve(plugin.ServeConfig{Scaler: d, MetricSource: d}) }
