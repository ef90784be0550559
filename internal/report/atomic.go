package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// filePerm is the mode of every file this package writes: reports are meant
// to be read by other users and tools, such as a web server.
const filePerm = 0o644

// writeAtomic writes the output of write to path through a temporary file
// in the same folder, which it syncs and renames over path. A reader sees
// the old file or the whole new one, never a part. On any error the
// temporary file is removed and path is left as it was.
func writeAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("report: create temporary file in %s: %w", dir, err)
	}
	// Removing after a successful rename fails harmlessly.
	defer os.Remove(tmp.Name())

	buf := bufio.NewWriter(tmp)
	if err := write(buf); err != nil {
		tmp.Close()
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := buf.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := tmp.Chmod(filePerm); err != nil {
		tmp.Close()
		return fmt.Errorf("report: set mode of %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("report: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: rename %s to %s: %w", tmp.Name(), path, err)
	}
	return nil
}
