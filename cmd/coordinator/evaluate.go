package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/ringtrain/ringtrain/internal/cli"
	"github.com/ringtrain/ringtrain/internal/dataset"
	"github.com/ringtrain/ringtrain/internal/modelfile"
	"github.com/ringtrain/ringtrain/internal/nn"
	"github.com/ringtrain/ringtrain/internal/progress"
	"github.com/ringtrain/ringtrain/internal/report"
)

// evalBatch is the number of rows per Forward call when evaluating. With
// gonum's BLAS, Forward's products add each input's term to an output in
// input order whatever the number of rows, so a row's logits do not depend
// on its batch. Any batch size then gives the accuracy that the workers
// computed. The batch changes only the order of the float64 loss sum, and
// so the mean loss in its last digits.
//
// NOTE: a BLAS installed with blas32.Use may block its products by rows
// and break this equality.
const evalBatch = 256

const evaluateSynopsis = `Usage: coordinator evaluate --model FILE [flags]

Runs the test split of the model's dataset (or --split train) through a
model file written by --output, and prints the accuracy, the mean
cross-entropy loss, the precision and recall of each class and the
confusion matrix. Inputs get the normalisation stored in the model file and
the same network code as training, so the accuracy equals the test accuracy
that training reported for the same parameters.`

// evaluateOptions are the command line of coordinator evaluate.
type evaluateOptions struct {
	model          string
	dataset        string
	dataDir        string
	cacheDir       string
	split          string
	confusionImage string
}

func parseEvaluateFlags(args []string, stderr io.Writer) (*evaluateOptions, error) {
	o := &evaluateOptions{}
	fs := flag.NewFlagSet("coordinator evaluate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.model, "model", "", "model `file` to evaluate (required)")
	fs.StringVar(&o.dataset, "dataset", "", "dataset to evaluate on: mnist or cifar10 (default: the dataset in the model file)")
	fs.StringVar(&o.dataDir, "data-dir", "", "folder holding the dataset files; when empty, the cache and then the download locations are used")
	fs.StringVar(&o.cacheDir, "cache-dir", "", "folder for downloaded datasets (default: the user cache folder)")
	fs.StringVar(&o.split, "split", "test", "split to evaluate: test or train")
	fs.StringVar(&o.confusionImage, "confusion-image", "", "also write the confusion matrix as an image `file`; its extension, .png or .svg, chooses the format")
	env := map[string]bool{"data-dir": true, "cache-dir": true}
	fs.Usage = subcommandUsage(fs, evaluateSynopsis, env)

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := applySubcommandEnv(fs, env); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("evaluate: unexpected argument %q: flags start with --", fs.Arg(0))
	}
	if o.model == "" {
		return nil, errors.New("evaluate: missing --model: pass the model file that training wrote with --output")
	}
	if o.split != "test" && o.split != "train" {
		return nil, fmt.Errorf("evaluate: invalid --split %q: want test or train", o.split)
	}
	if o.confusionImage != "" {
		if err := report.CheckImagePath(o.confusionImage); err != nil {
			return nil, fmt.Errorf("evaluate: --confusion-image: %w", err)
		}
	}
	return o, nil
}

// evaluate runs coordinator evaluate: it prints the report of a model file
// on one split of its dataset to stdout and logs to stderr.
func evaluate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseEvaluateFlags(args, stderr)
	if err != nil {
		return err
	}
	model, err := loadModel(opts.model)
	if err != nil {
		return err
	}
	name := opts.dataset
	if name == "" {
		name = model.header.Dataset
	}
	if name == "" {
		return fmt.Errorf("evaluate: model file %s names no dataset: pass --dataset mnist or --dataset cifar10", opts.model)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	loadOpts := dataset.Options{DataDir: opts.dataDir, CacheDir: opts.cacheDir, Logger: logger}
	// A download's progress bar redraws its line, which only a terminal shows well.
	if f, ok := stderr.(*os.File); ok && progress.IsTerminal(f) {
		loadOpts.Progress = stderr
	}
	data, err := dataset.Load(ctx, name, loadOpts)
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	split := &data.Test
	if opts.split == "train" {
		split = &data.Train
	}
	if err := model.checkData(data, split); err != nil {
		return err
	}

	result, err := model.evaluateSplit(split)
	if err != nil {
		return err
	}
	if err := printEvaluation(stdout, opts, model, data.Name, result); err != nil {
		return err
	}
	if opts.confusionImage != "" {
		if err := report.WriteConfusionImage(opts.confusionImage, result.matrix, model.classNames()); err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		logger.Info("confusion matrix image written", "path", opts.confusionImage)
	}
	return nil
}

// evaluation is the outcome of running one split through a model.
type evaluation struct {
	samples int
	lossSum float64 // summed cross-entropy over the samples
	correct int
	matrix  [][]int // matrix[t][p] counts samples of class t predicted as p
}

// evaluateSplit runs every sample of s through the model without dropout.
// Each batch is decoded with the model's normalisation, passed to Forward
// and scored by nn.SoftmaxCrossEntropy, the steps of Network.Loss that the
// workers run, so loss and accuracy are those of training. The predicted
// class of a row is its first largest logit, the rule by which
// SoftmaxCrossEntropy counts a row correct.
func (m *trainedModel) evaluateSplit(s *dataset.Split) (*evaluation, error) {
	classes := m.header.Classes
	dim := s.Dim()
	e := &evaluation{samples: s.N, matrix: make([][]int, classes)}
	for t := range e.matrix {
		e.matrix[t] = make([]int, classes)
	}
	x := make([]float32, m.net.MaxBatch()*dim)
	for start := 0; start < s.N; start += m.net.MaxBatch() {
		rows := min(m.net.MaxBatch(), s.N-start)
		batch := x[:rows*dim]
		m.norm.Decode(batch, s.Pixels[start*dim:(start+rows)*dim], dim, s.Channels)
		labels := s.Labels[start : start+rows]
		logits := m.net.Forward(batch, rows, false, nil)
		lossSum, correct, err := nn.SoftmaxCrossEntropy(nil, logits, labels, classes, 1)
		if err != nil {
			return nil, fmt.Errorf("evaluate: samples %d to %d: %w", start, start+rows-1, err)
		}
		e.lossSum += lossSum
		e.correct += correct
		for r, label := range labels {
			e.matrix[label][argmax(logits[r*classes:(r+1)*classes])]++
		}
	}
	return e, nil
}

// argmax returns the index of the first largest value of z.
func argmax(z []float32) int {
	top := 0
	for j, v := range z {
		if v > z[top] {
			top = j
		}
	}
	return top
}

func printEvaluation(w io.Writer, opts *evaluateOptions, m *trainedModel, datasetName string, e *evaluation) error {
	fmt.Fprintf(w, "model     %s: %s, step %d, fingerprint %s\n", m.path, m.spec, m.header.Step, m.header.Fingerprint)
	fmt.Fprintf(w, "data      %s %s split, %d samples\n", datasetName, opts.split, e.samples)
	if e.samples == 0 {
		_, err := fmt.Fprintln(w, "accuracy  n/a: the split has no samples")
		return err
	}
	fmt.Fprintf(w, "accuracy  %.4f (%d of %d correct)\n", float64(e.correct)/float64(e.samples), e.correct, e.samples)
	fmt.Fprintf(w, "loss      %.6f (mean cross-entropy)\n\n", e.lossSum/float64(e.samples))
	if err := report.WriteScoresText(w, e.matrix, m.classNames()); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	fmt.Fprintln(w, "\nconfusion matrix: a row per true class, a column per predicted class")
	if err := report.WriteConfusionText(w, e.matrix, m.classNames()); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	return nil
}

// trainedModel is a model file with its network ready to run.
type trainedModel struct {
	path   string
	header modelfile.Header
	spec   nn.Spec
	net    *nn.Network
	norm   dataset.Normalization
}

// loadModel reads the model file at path and builds its network. A file
// that modelfile rejects, or whose header contradicts its model spec or
// parameter count, is an error that names the file.
func loadModel(path string) (*trainedModel, error) {
	file, err := modelfile.Read(path)
	if err != nil {
		return nil, err
	}
	h := file.Header
	spec, err := nn.ResolveSpec(h.Model)
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", path, err)
	}

	// The header must describe the inputs and outputs of the spec.
	if h.Channels < 1 || h.Height < 1 || h.Width < 1 {
		return nil, fmt.Errorf("model file %s: header has images of %d channels of %dx%d pixels, want at least 1 of each", path, h.Channels, h.Width, h.Height)
	}
	if dim := h.Channels * h.Height * h.Width; spec.Inputs != dim {
		return nil, fmt.Errorf("model file %s: model %s takes %d inputs, but the header's images of %d channels of %dx%d pixels have %d values", path, spec, spec.Inputs, h.Channels, h.Width, h.Height, dim)
	}
	if spec.Classes() != h.Classes {
		return nil, fmt.Errorf("model file %s: model %s has %d outputs, but the header has %d classes", path, spec, spec.Classes(), h.Classes)
	}
	if len(h.ClassNames) != 0 && len(h.ClassNames) != h.Classes {
		return nil, fmt.Errorf("model file %s: header has %d class names for %d classes", path, len(h.ClassNames), h.Classes)
	}
	if len(h.NormMean) != len(h.NormStd) || (len(h.NormMean) != 0 && len(h.NormMean) != h.Channels) {
		return nil, fmt.Errorf("model file %s: header has %d normalisation means and %d standard deviations for %d channels", path, len(h.NormMean), len(h.NormStd), h.Channels)
	}
	// JSON holds only finite numbers, so a positive deviation is all that
	// keeps normalisation from dividing by zero.
	for i, std := range h.NormStd {
		if !(std > 0) {
			return nil, fmt.Errorf("model file %s: header has standard deviation %g for channel %d, want a positive number", path, std, i)
		}
	}

	if len(file.Params) != spec.ParamCount() {
		return nil, fmt.Errorf("model file %s: contains %d parameters, but model %s needs %d", path, len(file.Params), spec, spec.ParamCount())
	}
	net, err := nn.NewNetwork(spec, evalBatch)
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", path, err)
	}
	copy(net.Params(), file.Params)
	return &trainedModel{
		path:   path,
		header: h,
		spec:   spec,
		net:    net,
		norm:   dataset.Normalization{Mean: h.NormMean, Std: h.NormStd},
	}, nil
}

// classNames returns the class names of the header, or nil when it has none.
func (m *trainedModel) classNames() []string {
	if len(m.header.ClassNames) == 0 {
		return nil
	}
	return m.header.ClassNames
}

// checkData returns an error unless the samples of s have the shape of the
// model's inputs and data has the model's classes.
func (m *trainedModel) checkData(data *dataset.Dataset, s *dataset.Split) error {
	h := m.header
	if s.Channels != h.Channels || s.Height != h.Height || s.Width != h.Width {
		return fmt.Errorf("evaluate: %s has images of %d channels of %dx%d pixels, but model %s was trained on %s images of %d channels of %dx%d: pass --dataset %s or leave it unset",
			data.Name, s.Channels, s.Width, s.Height, m.path, h.Dataset, h.Channels, h.Width, h.Height, h.Dataset)
	}
	if data.Classes != h.Classes {
		return fmt.Errorf("evaluate: %s has %d classes, but model %s has %d", data.Name, data.Classes, m.path, h.Classes)
	}
	return nil
}

// subcommandUsage returns a usage function for the flags of a subcommand:
// the synopsis, then every flag with its default, and the environment
// variable for the flags in env.
func subcommandUsage(fs *flag.FlagSet, synopsis string, env map[string]bool) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "%s\n\nFlags:\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  --%s %s\n    \t%s", f.Name, name, usage)
			var notes []string
			if env[f.Name] {
				notes = append(notes, "also read from "+cli.EnvName(f.Name))
			}
			if f.DefValue != "" {
				notes = append(notes, "default "+f.DefValue)
			}
			if len(notes) > 0 {
				fmt.Fprintf(w, " [%s]", strings.Join(notes, ", "))
			}
			fmt.Fprintln(w)
		})
	}
}

// applySubcommandEnv fills the flags named in env from their RINGTRAIN_
// variables when the command line left them unset. The other flags are
// not read from the environment, because variables such as
// RINGTRAIN_MODEL configure the training command and mean something else
// there.
func applySubcommandEnv(fs *flag.FlagSet, env map[string]bool) error {
	return cli.ApplyEnv(fs, func(name string) (string, bool) {
		for flagName := range env {
			if cli.EnvName(flagName) == name {
				return os.LookupEnv(name)
			}
		}
		return "", false
	})
}
