package allreduce_test

import (
	"testing"

	"github.com/ringtrain/ringtrain/internal/allreduce"
)

func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	if got := allreduce.DefaultConfig().FrameElements; got != allreduce.DefaultFrameElements {
		t.Errorf("DefaultConfig().FrameElements = %d, want %d", got, allreduce.DefaultFrameElements)
	}
}

func TestNewServiceValidatesFrameElements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		frameElements int
		wantErr       bool
	}{
		{"zero means default", 0, false},
		{"one", 1, false},
		{"largest int64 frame", allreduce.MaxFrameBytes / 8, false},
		{"negative", -1, true},
		{"int64 frame over limit", allreduce.MaxFrameBytes/8 + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := allreduce.NewService(allreduce.Config{FrameElements: tt.frameElements})
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("NewService(FrameElements %d) error = %v, want error %t", tt.frameElements, err, tt.wantErr)
			}
			if svc != nil {
				if err := svc.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
		})
	}
}
