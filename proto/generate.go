// Package proto holds the ringtrain protocol definitions. The generated Go
// code lives in ringtrain/v1 and is committed; regenerate it with `make proto`.
package proto

//go:generate make -C .. proto
