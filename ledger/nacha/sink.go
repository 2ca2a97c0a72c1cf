package nacha

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	mgmt "github.com/hms-platform/mgmt"
)

// FileSink records the NACHA files a [Settler] generates. Its recorded
// files are the whole settlement state: which transfers are settled and the
// highest trace number used per ODFI are read back from them, so a sink
// must keep every file it accepted, unchanged, for as long as returns may
// arrive (NACHA allows up to 60 days for some return codes).
//
// Put must be atomic and must not replace a recorded file: putting the
// same bytes under a recorded name again succeeds and changes nothing;
// different bytes under a recorded name are a KindConflict error.
type FileSink interface {
	// Put records data under name.
	Put(ctx context.Context, name string, data []byte) error
	// List returns the names of the recorded files in ascending order.
	List(ctx context.Context) ([]string, error)
	// Get returns a recorded file; an unknown name is a KindNotFound
	// error.
	Get(ctx context.Context, name string) ([]byte, error)
}

// MaxFileSize bounds the files a sink hands back and the return files
// [Settler.ProcessReturns] reads, unless [Options].MaxReturnFileSize says
// otherwise: 64 MiB is about 700,000 NACHA records.
const MaxFileSize = 64 << 20

// validName reports whether name is a plain file name a sink accepts:
// letters, digits, '.', '-' and '_', not starting with '.', ending in
// ".ach".
func validName(name string) bool {
	if len(name) < 5 || len(name) > 128 || name[0] == '.' || !strings.HasSuffix(name, ".ach") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// DirSink is the default FileSink: one file per recorded NACHA file in a
// directory. Put writes a temporary file, fsyncs it, links it to its final
// name (which fails instead of replacing an existing file), removes the
// temporary name and fsyncs the directory, so a crash leaves either no
// file or the whole file. Temporary files left by a crash start with '.'
// and are ignored by List.
//
// DirSink is safe for concurrent use within one process; one Settler per
// directory at a time.
type DirSink struct {
	dir string
}

var _ FileSink = (*DirSink)(nil)

// NewDirSink returns a DirSink over dir, creating it (mode 0700) when it
// does not exist. The files hold bank account numbers: they are created
// with mode 0600.
func NewDirSink(dir string) (*DirSink, error) {
	if dir == "" {
		return nil, mgmt.Invalid("dir", "the directory must not be empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "dir", "creating the settlement directory: %w", err)
	}
	return &DirSink{dir: dir}, nil
}

// Dir returns the sink's directory.
func (d *DirSink) Dir() string { return d.dir }

// Put records data under name atomically; see [FileSink].
func (d *DirSink) Put(ctx context.Context, name string, data []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return mgmt.Errorf(mgmt.KindUnavailable, "", "nacha: %w", err)
	}
	if !validName(name) {
		return mgmt.Invalid("name", "%q is not a valid settlement file name", name)
	}
	final := filepath.Join(d.dir, name)
	if old, err := os.ReadFile(final); err == nil {
		return sameFile(name, old, data)
	}
	tmp, err := os.CreateTemp(d.dir, "."+name+".tmp-*")
	if err != nil {
		return unavailable(name, "creating a temporary file", err)
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return unavailable(name, "setting the file mode", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return unavailable(name, "writing", err)
	}
	if err := tmp.Sync(); err != nil {
		return unavailable(name, "syncing", err)
	}
	if err := tmp.Close(); err != nil {
		return unavailable(name, "closing", err)
	}
	if err := os.Link(tmp.Name(), final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			old, rerr := os.ReadFile(final)
			if rerr != nil {
				return unavailable(name, "reading the recorded file", rerr)
			}
			return sameFile(name, old, data)
		}
		return unavailable(name, "linking", err)
	}
	return syncDir(d.dir)
}

func sameFile(name string, old, data []byte) error {
	if bytes.Equal(old, data) {
		return nil
	}
	return mgmt.Conflict("name", "settlement file %s is already recorded with different contents", name)
}

func unavailable(name, what string, err error) error {
	return mgmt.Errorf(mgmt.KindUnavailable, "name", "settlement file %s: %s: %w", name, what, err)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return mgmt.Errorf(mgmt.KindUnavailable, "dir", "opening the settlement directory: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return mgmt.Errorf(mgmt.KindUnavailable, "dir", "syncing the settlement directory: %w", err)
	}
	return nil
}

// List returns the recorded file names in ascending order.
func (d *DirSink) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "nacha: %w", err)
	}
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "dir", "listing the settlement directory: %w", err)
	}
	names := []string{}
	for _, e := range entries {
		if e.Type().IsRegular() && validName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Get returns a recorded file, at most MaxFileSize bytes.
func (d *DirSink) Get(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "nacha: %w", err)
	}
	if !validName(name) {
		return nil, mgmt.Invalid("name", "%q is not a valid settlement file name", name)
	}
	f, err := os.Open(filepath.Join(d.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, mgmt.NotFound("name", "settlement file %s not found", name)
	}
	if err != nil {
		return nil, unavailable(name, "opening", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, unavailable(name, "reading", err)
	}
	if len(data) > MaxFileSize {
		return nil, mgmt.Errorf(mgmt.KindInternal, "name", "settlement file %s is larger than %d bytes", name, MaxFileSize)
	}
	return data, nil
}

// String describes the sink for logs.
func (d *DirSink) String() string { return fmt.Sprintf("nacha.DirSink(%s)", d.dir) }
