package dataset

import (
	"errors"
	"io"
	"testing"
)

func TestGroupDigits(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{
		0: "0", 999: "999", 1000: "1,000", 3073: "3,073", 47040016: "47,040,016",
		-1234567: "-1,234,567", 100000: "100,000",
	} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestErrorsMatchSentinels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     error
		matches []error
		misses  []error
		text    string
	}{
		{
			name:    "format",
			err:     &FormatError{File: "a.bin", Problem: "truncated", Err: io.ErrUnexpectedEOF},
			matches: []error{ErrFormat, io.ErrUnexpectedEOF},
			misses:  []error{ErrLabelRange, ErrChecksum, ErrNotFound},
			text:    "dataset: a.bin: truncated: unexpected EOF",
		},
		{
			name:    "label",
			err:     &LabelError{File: "b.bin", Record: 7, Label: 12, Classes: 10},
			matches: []error{ErrLabelRange, ErrFormat},
			misses:  []error{ErrChecksum, ErrNotFound},
			text:    "dataset: b.bin: record 7 has label 12, want 0 to 9",
		},
		{
			name:    "checksum",
			err:     &ChecksumError{URL: "http://127.0.0.1/c", Algorithm: "md5", Expected: "aa", Actual: "bb"},
			matches: []error{ErrChecksum},
			misses:  []error{ErrFormat, ErrNotFound},
			text:    "dataset: http://127.0.0.1/c: md5 mismatch: expected aa, got bb",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Error(); got != tt.text {
				t.Errorf("Error() = %q, want %q", got, tt.text)
			}
			for _, target := range tt.matches {
				if !errors.Is(tt.err, target) {
					t.Errorf("errors.Is(%v, %v) = false, want true", tt.err, target)
				}
			}
			for _, target := range tt.misses {
				if errors.Is(tt.err, target) {
					t.Errorf("errors.Is(%v, %v) = true, want false", tt.err, target)
				}
			}
		})
	}
}

func TestNotFoundErrorListsAttempts(t *testing.T) {
	t.Parallel()
	attempt := &ChecksumError{URL: "u", Algorithm: "sha256", Expected: "e", Actual: "a"}
	err := notFoundError("mnist", "put the files in a folder", []error{attempt})
	want := "dataset: mnist dataset not found in the cache and no download succeeded; put the files in a folder\n" +
		"attempts:\n" + attempt.Error()
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrChecksum) {
		t.Errorf("error %v does not match ErrNotFound and ErrChecksum", err)
	}
}
