package dataset

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// stallTimeout is how long a download may go without receiving a byte (or
// without response headers) before it is abandoned.
const stallTimeout = 60 * time.Second

var errStalled = fmt.Errorf("timed out after %v without data", stallTimeout)

// checksum is a published digest of a file.
type checksum struct {
	algorithm string // "sha256" or "md5"
	hex       string // lowercase hex
}

func (c checksum) newHash() hash.Hash {
	if c.algorithm == "md5" {
		return md5.New()
	}
	return sha256.New()
}

// remoteFile is a file that a source may provide, identified by its name and
// published checksum.
type remoteFile struct {
	name string
	sum  checksum
}

// statusError is a completed HTTP exchange with a status other than 200 OK.
type statusError struct {
	url    string
	status string
}

func (e *statusError) Error() string { return "dataset: GET " + e.url + ": " + e.status }

// defaultClient returns an HTTP client that honours the proxy environment
// variables and bounds every step before the body (dial 30 s and TLS 10 s as
// in http.DefaultTransport, response headers 30 s). The body is bounded by
// [stallTimeout] in [loader.open].
func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: t}
}

// fetchFiles makes sure that every file is in dir with its published
// checksum, taking what the cache lacks from the base URLs in order. It
// returns the files that are still missing and why each attempt failed. The
// error is non-nil only when ctx ends.
func (l *loader) fetchFiles(ctx context.Context, dir string, files []remoteFile, bases []string) ([]remoteFile, []error, error) {
	var missing []remoteFile
	var attempts []error
	for _, f := range files {
		err := verifyFile(filepath.Join(dir, f.name), f.sum)
		switch {
		case err == nil:
			l.log.DebugContext(ctx, "dataset file found in cache", "file", filepath.Join(dir, f.name))
			continue
		case errors.Is(err, ErrChecksum):
			l.log.WarnContext(ctx, "cached file has the wrong checksum; downloading it again", "err", err)
		case !errors.Is(err, fs.ErrNotExist):
			attempts = append(attempts, err)
		}
		missing = append(missing, f)
	}

	for _, base := range bases {
		var still []remoteFile
		for i, f := range missing {
			fileURL, err := url.JoinPath(base, f.name)
			if err == nil {
				err = l.download(ctx, fileURL, dir, f)
			}
			if ctx.Err() != nil {
				return nil, nil, fmt.Errorf("dataset: download %s: %w", f.name, context.Cause(ctx))
			}
			if err == nil {
				continue
			}
			l.log.WarnContext(ctx, "download failed", "url", fileURL, "err", err)
			attempts = append(attempts, err)
			still = append(still, f)
			var se *statusError
			if !errors.As(err, &se) && !errors.Is(err, ErrChecksum) {
				// The host is unreachable or broke off: spare the other files
				// the same wait.
				still = append(still, missing[i+1:]...)
				break
			}
		}
		missing = still
	}
	return missing, attempts, nil
}

// download fetches rawURL into dir/f.name through a temporary file in dir,
// which is renamed only after the checksum matches.
func (l *loader) download(ctx context.Context, rawURL, dir string, f remoteFile) error {
	l.log.InfoContext(ctx, "downloading", "url", rawURL)
	body, size, err := l.open(ctx, rawURL)
	if err != nil {
		return err
	}
	defer body.Close()

	n, err := writeVerified(body, dir, f, rawURL, l.progress(f.name, size))
	if err != nil {
		return err
	}
	l.log.InfoContext(ctx, "downloaded", "url", rawURL, "file", filepath.Join(dir, f.name), "bytes", n)
	return nil
}

// open sends a GET request and returns the body of a 200 OK response with its
// length (-1 if unknown). The request is cancelled when it receives no data
// for [stallTimeout].
func (l *loader) open(ctx context.Context, rawURL string) (io.ReadCloser, int64, error) {
	reqCtx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	fail := func(err error) (io.ReadCloser, int64, error) {
		timer.Stop()
		cancel(nil)
		return nil, 0, err
	}

	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fail(fmt.Errorf("dataset: GET %s: %w", rawURL, err))
	}
	resp, err := l.client.Do(req)
	if err != nil {
		// A *url.Error repeats the method and URL that this message names.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(context.Cause(reqCtx), errStalled) {
			err = errStalled
		}
		return fail(fmt.Errorf("dataset: GET %s: %w", rawURL, err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fail(&statusError{url: rawURL, status: resp.Status})
	}
	body := &stallReader{body: resp.Body, ctx: reqCtx, timer: timer, cancel: cancel, url: rawURL}
	return body, resp.ContentLength, nil
}

// stallReader restarts the stall timer on every read that returns data.
type stallReader struct {
	body   io.ReadCloser
	ctx    context.Context // the request's context; only its cause is read
	timer  *time.Timer
	cancel context.CancelCauseFunc
	url    string
}

func (r *stallReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	if n > 0 {
		r.timer.Reset(stallTimeout)
	}
	if err != nil && err != io.EOF {
		if errors.Is(context.Cause(r.ctx), errStalled) {
			err = errStalled
		}
		err = fmt.Errorf("dataset: read %s: %w", r.url, err)
	}
	return n, err
}

func (r *stallReader) Close() error {
	r.timer.Stop()
	err := r.body.Close()
	r.cancel(nil)
	return err
}

// writeVerified copies r into a temporary file in dir and renames it to
// dir/f.name if the checksum matches; otherwise it deletes the temporary file.
// source names where r comes from, for errors. bar may be nil.
func writeVerified(r io.Reader, dir string, f remoteFile, source string, bar *progressBar) (int64, error) {
	tmp, err := os.CreateTemp(dir, "."+f.name+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("dataset: create temporary file in cache: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	h := f.sum.newHash()
	w := io.MultiWriter(tmp, h)
	if bar != nil {
		w = io.MultiWriter(tmp, h, bar)
	}
	n, err := io.Copy(w, r)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return n, fmt.Errorf("dataset: download %s: %w", source, err)
	}
	if actual := hex.EncodeToString(h.Sum(nil)); actual != f.sum.hex {
		return n, &ChecksumError{URL: source, Algorithm: f.sum.algorithm, Expected: f.sum.hex, Actual: actual}
	}

	if err := tmp.Chmod(0o644); err != nil {
		return n, fmt.Errorf("dataset: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return n, fmt.Errorf("dataset: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return n, fmt.Errorf("dataset: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, f.name)); err != nil {
		return n, fmt.Errorf("dataset: %w", err)
	}
	renamed = true
	return n, nil
}

// verifyFile checks the checksum of the file at path. A missing file returns
// an error matching [fs.ErrNotExist].
func verifyFile(path string, sum checksum) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	h := sum.newHash()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("dataset: read %s: %w", path, err)
	}
	if actual := hex.EncodeToString(h.Sum(nil)); actual != sum.hex {
		return &ChecksumError{URL: path, Algorithm: sum.algorithm, Expected: sum.hex, Actual: actual}
	}
	return nil
}
