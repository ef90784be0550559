package dataset

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// CIFAR-10 binary layout: each record is a label byte followed by the 1,024
// red, 1,024 green and 1,024 blue bytes of a 32x32 image, each plane
// row-major.
const (
	cifarArchiveName = "cifar-10-binary.tar.gz"
	cifarFolderName  = "cifar-10-batches-bin"
	cifarMetaName    = "batches.meta.txt"
	cifarTestBatch   = "test_batch.bin"

	cifarSide       = 32
	cifarChannels   = 3
	cifarPixels     = cifarSide * cifarSide * cifarChannels // 3,072
	cifarRecordSize = 1 + cifarPixels                       // 3,073
	cifarClasses    = 10
)

var cifarTrainBatches = []string{
	"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin",
}

// cifarArchive is the official archive with its published md5 sum.
var cifarArchive = remoteFile{cifarArchiveName, checksum{"md5", "c32a1d4ab5d03f1284b67883e8d87530"}}

// cifarURLs are the official CIFAR-10 download locations.
var cifarURLs = []string{"https://www.cs.toronto.edu/~kriz/"}

// cifarBatch is the content of one batch file.
type cifarBatch struct {
	pixels []uint8
	labels []uint8
}

// cifarFiles collects the batches and class names read from an archive or
// folder, keyed by file name.
type cifarFiles struct {
	batches    map[string]cifarBatch
	classNames []string
}

func (l *loader) loadCIFAR10(ctx context.Context) (*Dataset, error) {
	if l.opt.DataDir != "" {
		return l.readCIFARDataDir(ctx, l.opt.DataDir)
	}

	dir, err := l.cacheFolder(nameCIFAR10)
	if err != nil {
		return nil, err
	}
	missing, attempts, err := l.fetchFiles(ctx, dir, []remoteFile{cifarArchive}, l.baseURLs(cifarURLs))
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		advice := fmt.Sprintf("put %s or its extracted %s/ folder in a folder and pass it with --data-dir, "+
			"or put the official archive (md5 %s) in the cache folder %s",
			cifarArchiveName, cifarFolderName, cifarArchive.sum.hex, dir)
		return nil, notFoundError(nameCIFAR10, advice, attempts)
	}
	return l.readCIFARArchive(ctx, filepath.Join(dir, cifarArchiveName))
}

// readCIFARDataDir reads CIFAR-10 from dataDir, which is the archive, the
// extracted batch folder, or a folder that contains either. The extracted
// folder wins when both are present because it needs no decompression.
func (l *loader) readCIFARDataDir(ctx context.Context, dataDir string) (*Dataset, error) {
	st, err := os.Stat(dataDir)
	if err != nil {
		return nil, fmt.Errorf("dataset: cifar10 %w: %w; check --data-dir", ErrNotFound, err)
	}
	if !st.IsDir() {
		return l.readCIFARArchive(ctx, dataDir)
	}
	if isFile(filepath.Join(dataDir, cifarTrainBatches[0])) || isFile(filepath.Join(dataDir, cifarTestBatch)) {
		return l.readCIFARFolder(ctx, dataDir)
	}
	if sub := filepath.Join(dataDir, cifarFolderName); isDir(sub) {
		return l.readCIFARFolder(ctx, sub)
	}
	if archive := filepath.Join(dataDir, cifarArchiveName); isFile(archive) {
		return l.readCIFARArchive(ctx, archive)
	}
	return nil, fmt.Errorf("dataset: cifar10 %w in %s: expected %s, an extracted %s/ folder, "+
		"or the files %s, %s and %s directly in it",
		ErrNotFound, dataDir, cifarArchiveName, cifarFolderName,
		strings.Join(cifarTrainBatches, ", "), cifarTestBatch, cifarMetaName)
}

// readCIFARArchive streams the gzip tar archive at archivePath and reads every
// batch and the class names from it, in whatever order the members come.
func (l *loader) readCIFARArchive(ctx context.Context, archivePath string) (*Dataset, error) {
	f, err := os.Open(archivePath)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, &FormatError{File: archivePath, Problem: "not a gzip file", Err: err}
	}
	defer gz.Close()

	files := cifarFiles{batches: make(map[string]cifarBatch)}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &FormatError{File: archivePath, Problem: "invalid tar archive", Err: err}
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dataset: read %s: %w", archivePath, err)
		}
		member := archivePath + ": " + hdr.Name
		if err := files.add(path.Base(hdr.Name), member, tr, hdr.Size); err != nil {
			return nil, err
		}
	}

	missing := files.missing()
	if len(missing) > 0 {
		return nil, &FormatError{File: archivePath, Problem: fmt.Sprintf(
			"archive lacks %s; a CIFAR-10 binary archive contains %s/ with %s, %s and %s",
			strings.Join(missing, ", "), cifarFolderName,
			strings.Join(cifarTrainBatches, ", "), cifarTestBatch, cifarMetaName)}
	}
	return l.assembleCIFAR(ctx, &files, archivePath), nil
}

// readCIFARFolder reads the batches and class names from an extracted
// cifar-10-batches-bin folder.
func (l *loader) readCIFARFolder(ctx context.Context, dir string) (*Dataset, error) {
	files := cifarFiles{batches: make(map[string]cifarBatch)}
	names := append(append([]string{cifarMetaName}, cifarTrainBatches...), cifarTestBatch)
	var missing []string
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dataset: read %s: %w", dir, err)
		}
		err := readFileInto(&files, filepath.Join(dir, name), name)
		if errors.Is(err, os.ErrNotExist) {
			missing = append(missing, name)
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("dataset: cifar10 %w: %s lacks %s; it needs %s",
			ErrNotFound, dir, strings.Join(missing, ", "), strings.Join(names, ", "))
	}
	return l.assembleCIFAR(ctx, &files, dir), nil
}

func readFileInto(files *cifarFiles, filePath, name string) error {
	f, err := os.Open(filePath)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	return files.add(name, filePath, f, st.Size())
}

// add reads the file called name, if it is one of the CIFAR-10 files, from
// r. display names the file in errors.
func (cf *cifarFiles) add(name, display string, r io.Reader, size int64) error {
	if name == cifarMetaName {
		if cf.classNames != nil {
			return &FormatError{File: display, Problem: "second copy of " + cifarMetaName}
		}
		names, err := readCIFARMeta(io.LimitReader(r, 1<<20), display)
		cf.classNames = names
		return err
	}
	if name != cifarTestBatch && !slices.Contains(cifarTrainBatches, name) {
		return nil
	}
	if _, dup := cf.batches[name]; dup {
		return &FormatError{File: display, Problem: "second copy of " + name}
	}
	batch, err := readCIFARBatch(r, display, size)
	if err != nil {
		return err
	}
	cf.batches[name] = batch
	return nil
}

// missing returns the names of the required files that were not added.
func (cf *cifarFiles) missing() []string {
	var names []string
	if cf.classNames == nil {
		names = append(names, cifarMetaName)
	}
	for _, name := range append(append([]string{}, cifarTrainBatches...), cifarTestBatch) {
		if _, ok := cf.batches[name]; !ok {
			names = append(names, name)
		}
	}
	return names
}

// assembleCIFAR joins the five training batches in order into one split.
// The joined copy briefly doubles the training pixels in memory (about
// 307 MB for the full dataset).
func (l *loader) assembleCIFAR(ctx context.Context, files *cifarFiles, source string) *Dataset {
	var batches []cifarBatch
	for _, name := range cifarTrainBatches {
		batches = append(batches, files.batches[name])
	}
	d := &Dataset{
		Name:       nameCIFAR10,
		Classes:    cifarClasses,
		ClassNames: files.classNames,
		Train:      joinCIFARBatches(batches),
		Test:       joinCIFARBatches([]cifarBatch{files.batches[cifarTestBatch]}),
	}
	l.logLoaded(ctx, d, source)
	return d
}

func joinCIFARBatches(batches []cifarBatch) Split {
	if len(batches) == 1 {
		return cifarSplit(batches[0].pixels, batches[0].labels)
	}
	n := 0
	for _, b := range batches {
		n += len(b.labels)
	}
	pixels := make([]uint8, 0, n*cifarPixels)
	labels := make([]uint8, 0, n)
	for _, b := range batches {
		pixels = append(pixels, b.pixels...)
		labels = append(labels, b.labels...)
	}
	return cifarSplit(pixels, labels)
}

func cifarSplit(pixels, labels []uint8) Split {
	return Split{Pixels: pixels, Labels: labels, N: len(labels),
		Height: cifarSide, Width: cifarSide, Channels: cifarChannels}
}

// readCIFARBatch reads size bytes of 3,073-byte records from r.
func readCIFARBatch(r io.Reader, file string, size int64) (cifarBatch, error) {
	if size == 0 {
		return cifarBatch{}, &FormatError{File: file, Problem: "file is empty"}
	}
	if size%cifarRecordSize != 0 {
		return cifarBatch{}, &FormatError{File: file, Problem: fmt.Sprintf(
			"size %s bytes is not a multiple of the %s-byte record (1 label byte and %s pixel bytes)",
			groupDigits(size), groupDigits(cifarRecordSize), groupDigits(cifarPixels))}
	}
	n := size / cifarRecordSize

	// Grow as records arrive, so that a corrupt tar header cannot force a
	// huge allocation before the data runs out.
	preallocate := min(n, 10000)
	b := cifarBatch{
		pixels: make([]uint8, 0, preallocate*cifarPixels),
		labels: make([]uint8, 0, preallocate),
	}
	br := bufio.NewReaderSize(r, 1<<16)
	var record [cifarRecordSize]byte
	for i := int64(0); i < n; i++ {
		if _, err := io.ReadFull(br, record[:]); err != nil {
			return cifarBatch{}, &FormatError{File: file, Problem: fmt.Sprintf(
				"truncated at record %d of %d", i, n), Err: err}
		}
		if record[0] >= cifarClasses {
			return cifarBatch{}, &LabelError{File: file, Record: int(i), Label: int(record[0]), Classes: cifarClasses}
		}
		b.labels = append(b.labels, record[0])
		b.pixels = append(b.pixels, record[1:]...)
	}
	return b, nil
}

// readCIFARMeta reads the class names, one a line; blank lines are ignored.
func readCIFARMeta(r io.Reader, file string) ([]string, error) {
	var names []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if name := strings.TrimSpace(sc.Text()); name != "" {
			names = append(names, name)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &FormatError{File: file, Problem: "read class names", Err: err}
	}
	if len(names) != cifarClasses {
		return nil, &FormatError{File: file, Problem: fmt.Sprintf(
			"has %d class names, want %d (one a line)", len(names), cifarClasses)}
	}
	return names, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
