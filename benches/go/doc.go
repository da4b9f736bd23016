// Package gobench holds Go's sync.Pool side of victim-pool's benchmarks.
//
// Everything lives in pool_bench_test.go; run it with
//
//	go test -run '^$' -bench . -cpu 1,2 -count 3
//
// or through benches/run.sh, which also runs the Rust benchmarks and writes
// docs/benchmarks.md.
package gobench
