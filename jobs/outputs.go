package jobs

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// OutputKey names the outputs of one run.
type OutputKey struct {
	Job         string
	ScheduledAt time.Time // in the job's zone: its offset is part of the name
	RunID       string
}

// Path returns the relative path of the outputs of k:
// "<job>/<scheduled time>/<run ID>", such as
// "grant-award-letters/2026-12-07T02:00-05:00/grant-award-letters.20261207T0200".
// Each segment is checked: a name that could leave the store's root ("..",
// "a/b", "") is an error.
func (k OutputKey) Path() (string, error) {
	segs := []string{k.Job, k.ScheduledAt.Format("2006-01-02T15:04Z07:00"), k.RunID}
	for i, s := range segs {
		if err := safeSegment([]string{"job", "scheduledAt", "runId"}[i], s); err != nil {
			return "", err
		}
	}
	return strings.Join(segs, "/"), nil
}

// ObjectName returns the name of output name of the run k below a store's
// root: "<job>/<scheduled time>/<run ID>/<name>", every segment checked as
// Path checks them. Every OutputStore names its outputs so.
func (k OutputKey) ObjectName(name string) (string, error) {
	rel, err := k.Path()
	if err != nil {
		return "", err
	}
	if err := safeSegment("name", name); err != nil {
		return "", err
	}
	return rel + "/" + name, nil
}

// safeSegment accepts one path segment of letters, digits and "-_.:+",
// not "." or "..".
func safeSegment(field, s string) error {
	if s == "" || s == "." || s == ".." || len(s) > 128 {
		return mgmt.Invalid(field, "%q is not a safe path segment", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:+", c) >= 0) {
			return mgmt.Invalid(field, "%q is not a safe path segment", s)
		}
	}
	return nil
}

// OutputStore keeps the outputs of runs: a directory (NewDirOutputs, the
// default), or object storage (backends/s3) behind the same seam. Put stores
// one named output ("stdout", "stderr") of a run whole, or not at all,
// and returns where it went (for the run's history). It is safe for
// concurrent use.
type OutputStore interface {
	Put(ctx context.Context, k OutputKey, name string, data []byte) (string, error)
}

// DirOutputs is an OutputStore in a directory: each output is the file
// <root>/<job>/<scheduled time>/<run ID>/<name>, written atomically — a
// temporary file in the same directory, fsynced, renamed over the name,
// and the directory fsynced — so that a reader sees the whole output or
// none.
type DirOutputs struct {
	root string
}

// NewDirOutputs returns the DirOutputs rooted at dir, which must exist.
func NewDirOutputs(dir string) (*DirOutputs, error) {
	if dir == "" {
		return nil, mgmt.Invalid("dir", "is required")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, mgmt.Invalid("dir", "%q: %v", dir, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, mgmt.Invalid("dir", "%q is not a directory", dir)
	}
	return &DirOutputs{root: abs}, nil
}

var _ OutputStore = (*DirOutputs)(nil)

// Put implements OutputStore. It returns the path relative to the root.
func (d *DirOutputs) Put(ctx context.Context, k OutputKey, name string, data []byte) (string, error) {
	if err := ctxErr(ctx); err != nil {
		return "", err
	}
	obj, err := k.ObjectName(name)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(d.root, filepath.FromSlash(path.Dir(obj)))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", mgmt.Unavailable("outputs: %v", err)
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return "", mgmt.Unavailable("outputs: %v", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return "", mgmt.Unavailable("outputs: %v", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", mgmt.Unavailable("outputs: %v", err)
	}
	if err := tmp.Close(); err != nil {
		return "", mgmt.Unavailable("outputs: %v", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return "", mgmt.Unavailable("outputs: %v", err)
	}
	ok = true
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		_ = f.Close()
	}
	return obj, nil
}
