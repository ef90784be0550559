package dataset

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors for callers that branch on the kind of failure. Errors
// returned by this package wrap one of them; use [errors.Is].
var (
	// ErrNotFound means that no source had the dataset: the files are missing
	// from Options.DataDir, or the cache is empty and every download failed.
	ErrNotFound = errors.New("dataset not found")
	// ErrChecksum means that a downloaded or cached file does not have its
	// published checksum.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrFormat means that a file is not a valid dataset file: wrong magic
	// number, dimensions or size, mismatched counts, or a bad label.
	ErrFormat = errors.New("invalid dataset file")
	// ErrLabelRange means that a label is not a valid class index. Errors
	// that wrap it are also [ErrFormat] errors.
	ErrLabelRange = errors.New("label out of range")
)

// FormatError reports a dataset file whose contents are invalid. It matches
// [ErrFormat].
type FormatError struct {
	File    string // path of the file, or "ARCHIVE: MEMBER" for a tar member
	Problem string // what is wrong, e.g. "expected 47,040,016 bytes, got 1,024"
	Err     error  // underlying error, such as a gzip failure; may be nil
}

func (e *FormatError) Error() string {
	msg := "dataset: " + e.File + ": " + e.Problem
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is [ErrFormat].
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

func (e *FormatError) Unwrap() error { return e.Err }

// LabelError reports a label outside [0, Classes). It matches [ErrLabelRange]
// and [ErrFormat].
type LabelError struct {
	File    string // path of the file, or "ARCHIVE: MEMBER" for a tar member
	Record  int    // zero-based index of the sample in the file
	Label   int    // the label found
	Classes int    // number of classes, so valid labels are 0 to Classes-1
}

func (e *LabelError) Error() string {
	return fmt.Sprintf("dataset: %s: record %d has label %d, want 0 to %d",
		e.File, e.Record, e.Label, e.Classes-1)
}

// Is reports whether target is [ErrLabelRange] or [ErrFormat].
func (e *LabelError) Is(target error) bool {
	return target == ErrLabelRange || target == ErrFormat
}

// ChecksumError reports a file whose checksum differs from the published one.
// It matches [ErrChecksum].
type ChecksumError struct {
	URL       string // download URL, or the path of a cached file
	Algorithm string // "sha256" or "md5"
	Expected  string // published checksum, lowercase hex
	Actual    string // checksum of the bytes received, lowercase hex
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("dataset: %s: %s mismatch: expected %s, got %s",
		e.URL, e.Algorithm, e.Expected, e.Actual)
}

// Is reports whether target is [ErrChecksum].
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksum }

// groupDigits formats n with a comma every three digits: 47040016 becomes
// "47,040,016".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}
