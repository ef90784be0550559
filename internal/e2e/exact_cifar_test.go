package e2e_test

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// cifarFolder extracts the CIFAR-10 archive of RINGTRAIN_TEST_DATA into a
// temporary folder, so that each job reads the batches without
// decompressing them again, and returns that folder. It skips the test
// when the archive is not there.
func cifarFolder(t *testing.T) string {
	t.Helper()
	root := os.Getenv("RINGTRAIN_TEST_DATA")
	if root == "" {
		t.Skip("RINGTRAIN_TEST_DATA is not set, so there is no CIFAR-10 to train on")
	}
	if !filepath.IsAbs(root) {
		if _, err := os.Stat(root); err != nil {
			root = filepath.Join("..", "..", root)
		}
	}
	archive := filepath.Join(root, "cifar-10-binary.tar.gz")
	f, err := os.Open(archive)
	if os.IsNotExist(err) {
		t.Skipf("%s does not exist: put the CIFAR-10 binary archive there to run this test", archive)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("read %s: %v", archive, err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", archive, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		out, err := os.Create(filepath.Join(dir, filepath.Base(h.Name)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatalf("extract %s from %s: %v", h.Name, archive, err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestExactModeCIFARSameModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains cifar10-mlp three times; skipped with -short")
	}
	cfg := exactConfig(t)
	cfg.Dataset = "cifar10"
	cfg.DataDir = cifarFolder(t)
	cfg.Model = ""
	// Ten steps keep the test short under the race detector, where a step
	// of 2 million parameters on four workers takes seconds. Each step has
	// four micro-batches, which two and four workers split differently.
	cfg.TrainSamples = 10 * 64
	cfg.TestSamples = 500 // two evaluation chunks
	want := runLocalJob(t, cfg, 1)
	t.Logf("1 worker: fingerprint %s after %d steps", want.Fingerprint, want.Step)
	for _, n := range []int{2, 4} {
		got := runLocalJob(t, cfg, n)
		checkSameModel(t, fmt.Sprintf("%d workers", n), want, got)
	}
}
