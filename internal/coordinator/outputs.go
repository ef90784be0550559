package coordinator

import (
	"fmt"
	"os"
	"path/filepath"
)

// checkOutputs makes sure that the files and folders the job writes can be
// written, before any training: the folders of Output and History must
// exist, and CheckpointDir is created when missing.
func (c *Config) checkOutputs() error {
	for _, out := range []struct{ name, path string }{{"output", c.Output}, {"history", c.History}} {
		if out.path == "" {
			continue
		}
		if info, err := os.Stat(out.path); err == nil && info.IsDir() {
			return fmt.Errorf("coordinator: invalid %s file %s: it is a folder", out.name, out.path)
		}
		if err := checkWritableDir(filepath.Dir(out.path)); err != nil {
			return fmt.Errorf("coordinator: invalid %s file %s: %w", out.name, out.path, err)
		}
	}
	if c.CheckpointDir == "" {
		return nil
	}
	if err := os.MkdirAll(c.CheckpointDir, 0o755); err != nil {
		return fmt.Errorf("coordinator: invalid checkpoint folder %s: %w", c.CheckpointDir, err)
	}
	if err := checkWritableDir(c.CheckpointDir); err != nil {
		return fmt.Errorf("coordinator: invalid checkpoint folder %s: %w", c.CheckpointDir, err)
	}
	return nil
}

// checkWritableDir returns an error unless dir is a folder in which a file
// can be created. It creates and removes one to find out, because
// permission bits alone do not show read-only mounts or ACLs.
func checkWritableDir(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	f, err := os.CreateTemp(dir, ".ringtrain-write-check-*")
	if err != nil {
		return fmt.Errorf("folder %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
