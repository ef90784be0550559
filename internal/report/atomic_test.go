package report

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteAtomicReplacesFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := writeAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "new contents")
		return err
	})
	if err != nil {
		t.Fatalf("writeAtomic: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("new contents", string(got)); diff != "" {
		t.Errorf("file contents (-want +got):\n%s", diff)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != filePerm {
		t.Errorf("file mode = %v, want %v", mode, os.FileMode(filePerm))
	}
	assertOnlyFiles(t, dir, "out.txt")
}

func TestWriteAtomicKeepsOldFileOnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	failure := errors.New("disk on fire")
	err := writeAtomic(path, func(w io.Writer) error {
		io.WriteString(w, "partial")
		return failure
	})
	if !errors.Is(err, failure) {
		t.Fatalf("writeAtomic error = %v, want it to wrap %v", err, failure)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("old", string(got)); diff != "" {
		t.Errorf("file contents after a failed write (-want +got):\n%s", diff)
	}
	assertOnlyFiles(t, dir, "out.txt")
}

func TestWriteAtomicMissingFolder(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", "out.txt")
	err := writeAtomic(path, func(io.Writer) error { return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("writeAtomic into a missing folder: error = %v, want one wrapping os.ErrNotExist", err)
	}
}

// assertOnlyFiles fails unless dir contains exactly the named entries, so
// that no temporary file is left behind.
func assertOnlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files in %s (-want +got):\n%s", dir, diff)
	}
}
