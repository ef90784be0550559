package allreduce_test

import (
	"testing"

	"github.com/ringtrain/ringtrain/internal/allreduce"
)

func TestLayoutErrorMessage(t *testing.T) {
	t.Parallel()
	base := allreduce.Layout{RingSize: 3, Length: 85170, FrameElements: 65536, Element: "float32"}
	withLength, withElement, withRing := base, base, base
	withLength.Length = 85169
	withElement.Element = "int64"
	withRing.RingSize = 4

	tests := []struct {
		name   string
		remote allreduce.Layout
		want   string
	}{
		{"length", withLength,
			"allreduce: layout mismatch with rank 1: local length 85170 frame 65536, remote length 85169 frame 65536"},
		{"element", withElement,
			"allreduce: layout mismatch with rank 1: local length 85170 frame 65536 element float32, remote length 85170 frame 65536 element int64"},
		{"ring size", withRing,
			"allreduce: layout mismatch with rank 1: local length 85170 frame 65536 ring 3, remote length 85170 frame 65536 ring 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := &allreduce.LayoutError{Rank: 1, Local: base, Remote: tt.remote}
			if got := err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
