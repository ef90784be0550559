package nn_test

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestAdamResumeContinuesExactly(t *testing.T) {
	t.Parallel()
	params := []float32{1}
	a := nn.DefaultAdam()
	for range 3 {
		a.Step(params, []float32{1})
	}
	// With constant gradients, m̂ = v̂ = 1, so each step moves by LR/(1+Eps).
	if math.Abs(float64(params[0])-0.997) > 1e-6 {
		t.Fatalf("after 3 steps: param = %v, want 0.997", params[0])
	}

	resumed := nn.DefaultAdam()
	if err := resumed.SetState(a.State()); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	resumedParams := append([]float32(nil), params...)
	resumed.Step(resumedParams, []float32{-0.5})
	// Step 4: m = 0.9*0.271 - 0.05 = 0.1939, m̂ = 0.1939/0.3439;
	// v = 0.999*0.002997001 + 0.00025, v̂ = v/0.003994004;
	// param = 0.997 - 0.001*m̂/(sqrt(v̂)+1e-8).
	if got := float64(resumedParams[0]); math.Abs(got-0.996374382102) > 2e-7 {
		t.Errorf("resumed step: param = %.12f, want 0.996374382102", got)
	}

	reset := nn.DefaultAdam()
	resetParams := append([]float32(nil), params...)
	reset.Step(resetParams, []float32{-0.5})
	// A fresh optimizer has m̂ = -0.5, v̂ = 0.25 and moves by +LR.
	if got := float64(resetParams[0]); math.Abs(got-0.998000000010) > 2e-7 {
		t.Errorf("fresh step: param = %.12f, want 0.998000000010", got)
	}
	if resumedParams[0] == resetParams[0] {
		t.Error("resumed and fresh optimizers gave the same parameter, want different")
	}
}

func TestAdamStateIsCopy(t *testing.T) {
	t.Parallel()
	a := nn.DefaultAdam()
	params := []float32{1, 2}
	a.Step(params, []float32{0.5, -1})
	state := a.State()
	want := nn.OptimizerState{Kind: "adam", Steps: 1, Slots: [][]float32{
		{float32(0.1) * 0.5, float32(0.1) * -1},
		{float32(float32(0.001) * 0.25), float32(0.001)},
	}}
	if diff := cmp.Diff(want, state); diff != "" {
		t.Errorf("State() mismatch (-want +got):\n%s", diff)
	}
	state.Slots[0][0] = 99
	if a.M[0] == 99 {
		t.Error("changing State().Slots changed the optimizer, want a copy")
	}

	b := nn.DefaultAdam()
	if err := b.SetState(a.State()); err != nil {
		t.Fatal(err)
	}
	a.M[1] = 7
	if b.M[1] == 7 {
		t.Error("SetState kept the caller's slices, want a copy")
	}
}

func TestAdamFreshState(t *testing.T) {
	t.Parallel()
	state := nn.DefaultAdam().State()
	if diff := cmp.Diff(nn.OptimizerState{Kind: "adam"}, state); diff != "" {
		t.Errorf("State() of a fresh Adam mismatch (-want +got):\n%s", diff)
	}
	a := nn.DefaultAdam()
	a.Step([]float32{1}, []float32{1})
	if err := a.SetState(state); err != nil {
		t.Fatalf("SetState(fresh): %v", err)
	}
	if a.T != 0 || a.M != nil || a.V != nil {
		t.Errorf("after SetState(fresh): T = %d, M = %v, V = %v, want 0, nil, nil", a.T, a.M, a.V)
	}
}

func TestAdamValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*nn.Adam)
		want   string
	}{
		{name: "default", change: func(*nn.Adam) {}},
		{name: "zero rate", change: func(a *nn.Adam) { a.LR = 0 }, want: "learning rate = 0"},
		{name: "infinite rate", change: func(a *nn.Adam) { a.LR = math.Inf(1) }, want: "learning rate = +Inf"},
		{name: "beta1 one", change: func(a *nn.Adam) { a.Beta1 = 1 }, want: "beta1 = 1, want a value in [0, 1)"},
		{name: "beta2 negative", change: func(a *nn.Adam) { a.Beta2 = -0.1 }, want: "beta2 = -0.1"},
		{name: "NaN eps", change: func(a *nn.Adam) { a.Eps = math.NaN() }, want: "eps = NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := nn.DefaultAdam()
			tt.change(a)
			err := a.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestAdamStepPanics(t *testing.T) {
	t.Parallel()
	mustPanic(t, func() { nn.DefaultAdam().Step(make([]float32, 2), make([]float32, 3)) })
	a := nn.DefaultAdam()
	a.Step(make([]float32, 2), make([]float32, 2))
	mustPanic(t, func() { a.Step(make([]float32, 3), make([]float32, 3)) })
}

func TestAdamFlushesSubnormalMoments(t *testing.T) {
	t.Parallel()
	// One gradient of 1e-5, then zeros: m decays by 0.9 a step from 1e-6
	// and would fall below 2^-126 after about 700 steps, and v by 0.999.
	a := nn.DefaultAdam()
	params := []float32{0, 0}
	a.Step(params, []float32{1e-5, 1e-20})

	for step := 2; step <= 2000; step++ {
		a.Step(params, []float32{0, 0})
		for i, m := range a.M {
			if m != 0 && math.Abs(float64(m)) < 0x1p-126 {
				t.Fatalf("step %d: M[%d] = %g is subnormal, want 0 or normal", step, i, m)
			}
		}
		for i, v := range a.V {
			if v != 0 && v < 0x1p-126 {
				t.Fatalf("step %d: V[%d] = %g is subnormal, want 0 or normal", step, i, v)
			}
		}
	}

	if a.M[0] != 0 {
		t.Errorf("after 2000 steps: M[0] = %g, want 0", a.M[0])
	}
	// 0.001·(1e-20)² is subnormal, so v is flushed to 0 from the first
	// step.
	if a.V[1] != 0 {
		t.Errorf("after 2000 steps: V[1] = %g, want 0", a.V[1])
	}
	if a.V[0] == 0 {
		t.Errorf("after 2000 steps: V[0] = 0, want about 1.4e-14")
	}
}

func TestAdamKeepsNaN(t *testing.T) {
	t.Parallel()
	a := nn.DefaultAdam()
	params := []float32{1}
	a.Step(params, []float32{float32(math.NaN())})
	if !math.IsNaN(float64(params[0])) {
		t.Errorf("after a NaN gradient: param = %v, want NaN", params[0])
	}
}

// BenchmarkAdamStep measures one Adam step over the parameters of each
// preset.
func BenchmarkAdamStep(b *testing.B) {
	for _, name := range nn.PresetNames() {
		b.Run(name, func(b *testing.B) {
			spec, err := nn.Preset(name)
			if err != nil {
				b.Fatal(err)
			}
			n := spec.ParamCount()
			params, grad := make([]float32, n), make([]float32, n)
			for i := range grad {
				grad[i] = float32(i%7) * 1e-3
			}
			a := nn.DefaultAdam()
			a.Step(params, grad)
			b.ReportAllocs()
			for b.Loop() {
				a.Step(params, grad)
			}
			b.ReportMetric(float64(b.N*n*28)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
