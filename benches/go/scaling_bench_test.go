package gobench

// Go's side of the thread-scaling groups of benches/pool.rs (issue 10):
// T goroutines that each used one pool, for T = 2 .. 512, at GOMAXPROCS =
// cores (benches/run.sh runs this benchmark at -cpu $(nproc)). Go's pool
// keeps one local per P, not per goroutine, so its costs are expected to
// stay flat in T; the Rust rows have one local per OS thread.
//
// Naming: BenchmarkThreadScaling/<group id>@<T>. report.py puts every metric
// <unit> of such a line into the group <group id> as "<unit>@<T>" of the Go
// row; ns/op (the time of one whole b.N iteration here) is left out. The
// units are those the Rust side records: miss-ns, starvation-ns, creates/op,
// take-ns, creates/value, first-pool-B, per-pool-B, after-exit-B.

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var scalingThreads = []int{2, 8, 32, 128, 512}

// takeBatch is how many Gets the handoff producer makes between two clock
// reads (as on the Rust side).
const takeBatch = 8

func BenchmarkThreadScaling(b *testing.B) {
	for _, t := range scalingThreads {
		t := t
		b.Run(fmt.Sprintf("thread-scaling/memory@%d", t), func(b *testing.B) { scalingMemory(b, t) })
	}
	for _, t := range scalingThreads {
		t := t
		b.Run(fmt.Sprintf("thread-scaling/miss@%d", t), func(b *testing.B) { scalingMiss(b, t) })
	}
	for _, t := range scalingThreads {
		t := t
		b.Run(fmt.Sprintf("thread-scaling/starvation@%d", t), func(b *testing.B) { scalingStarvation(b, t) })
	}
	for _, t := range scalingThreads {
		t := t
		b.Run(fmt.Sprintf("thread-scaling/handoff@%d", t), func(b *testing.B) { scalingHandoff(b, t) })
	}
}

// parked starts n goroutines that each run touch once and then block on a
// channel; the returned function releases them and waits until they end.
func parked(n int, touch func()) (release func()) {
	var ready, ended sync.WaitGroup
	done := make(chan struct{})
	for i := 0; i < n; i++ {
		ready.Add(1)
		ended.Add(1)
		go func() {
			defer ended.Done()
			touch()
			ready.Done()
			<-done
		}()
	}
	ready.Wait()
	return func() {
		close(done)
		ended.Wait()
	}
}

func perOp(x float64, n int) float64 { return x / float64(n) }

// scalingMiss: Get on a pool without New, left empty by T goroutines that
// each put a value and got it back; T-1 of them stay blocked meanwhile, the
// benchmark goroutine is the T-th and measures.
func scalingMiss(b *testing.B, threads int) {
	var p sync.Pool
	touch := func() {
		p.Put(new(small))
		p.Get()
	}
	release := parked(threads-1, touch)
	defer release()
	touch()
	// A value put on one P and got on another (the goroutine moved in
	// between) stays in the first P's private slot, where no other P looks:
	// a stray hit below takes it and later Gets miss again.
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		p.Get()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(perOp(float64(elapsed.Nanoseconds()), b.N), "miss-ns")
}

// scalingStarvation: BenchmarkPoolStarvation's loop (67 Puts of 100 held
// values, then 100 Gets) on T goroutines that share b.N iterations.
func scalingStarvation(b *testing.B, threads int) {
	var creates int64
	p := newPool(payloadSmall, &creates)
	start := make(chan struct{})
	var filled, finished sync.WaitGroup
	for g := 0; g < threads; g++ {
		share := b.N / threads
		if g < b.N%threads {
			share++
		}
		filled.Add(1)
		finished.Add(1)
		go func(share int) {
			defer finished.Done()
			held := make([]any, 100)
			for i := range held {
				held[i] = get(p, payloadSmall)
			}
			filled.Done()
			<-start
			for n := 0; n < share; n++ {
				for _, v := range held[:67] {
					p.Put(v)
				}
				for i := range held {
					held[i] = get(p, payloadSmall)
				}
			}
		}(share)
	}
	filled.Wait()
	b.ResetTimer()
	t0 := time.Now()
	close(start)
	finished.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(perOp(float64(elapsed.Nanoseconds()), b.N), "starvation-ns")
	b.ReportMetric(perOp(float64(atomic.LoadInt64(&creates)), b.N), "creates/op")
}

// scalingHandoff: the benchmark goroutine gets b.N values (creating when
// the pool has none) and sends them on a channel of 64 to T-1 consumer
// goroutines, which write to each and put it back. take-ns is the time
// inside Get, read around every takeBatch Gets.
func scalingHandoff(b *testing.B, threads int) {
	var creates int64
	p := newPool(payloadSmall, &creates)
	ch := make(chan any, handoffChannelSize)
	var consumers sync.WaitGroup
	for c := 0; c < threads-1; c++ {
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			for v := range ch {
				v.(*small).b++
				p.Put(v)
			}
		}()
	}
	batch := make([]any, 0, takeBatch)
	var taking time.Duration
	b.ResetTimer()
	for left := b.N; left > 0; {
		n := takeBatch
		if left < n {
			n = left
		}
		t0 := time.Now()
		for i := 0; i < n; i++ {
			batch = append(batch, p.Get())
		}
		taking += time.Since(t0)
		for _, v := range batch {
			v.(*small).a++
			ch <- v
		}
		batch = batch[:0]
		left -= n
	}
	b.StopTimer()
	close(ch)
	consumers.Wait()
	b.ReportMetric(perOp(float64(taking.Nanoseconds()), b.N), "take-ns")
	b.ReportMetric(perOp(float64(atomic.LoadInt64(&creates)), b.N), "creates/value")
}

// scalingMemory: T goroutines each use pool A once (Get, then Put; New
// returns one shared pointer, so no value is allocated), then each uses
// pool B once. first-pool-B and per-pool-B: TotalAlloc growth over each
// round, per goroutine. after-exit-B: once the goroutines have ended and
// two runtime.GC() have run, HeapAlloc against before they started, per
// goroutine and per pool. The GC runs only when called.
func scalingMemory(b *testing.B, threads int) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	sentinel := new(uint64)
	newFn := func() any { return sentinel }
	var first, second, after float64
	for i := 0; i < b.N; i++ {
		// Goroutine records are reused, never freed: start and end as many
		// goroutines first, so the measured ones allocate no new records.
		parked(threads, func() {})()
		// Everything allocated before m0 stays reachable until after m4,
		// so that no collection in between frees it.
		run := &struct {
			pools              [2]*sync.Pool
			commands           []chan int
			acks               chan struct{}
			started, ended     sync.WaitGroup
			m0, m1, m2, m3, m4 runtime.MemStats
		}{
			pools:    [2]*sync.Pool{{New: newFn}, {New: newFn}},
			commands: make([]chan int, threads),
			acks:     make(chan struct{}),
		}
		for g := range run.commands {
			run.commands[g] = make(chan int)
		}
		// Two collections: the previous iteration's pools lose their
		// locals, then their victims.
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&run.m0)
		for g := 0; g < threads; g++ {
			run.started.Add(1)
			run.ended.Add(1)
			go func(commands <-chan int) {
				defer run.ended.Done()
				run.started.Done()
				for which := range commands {
					run.pools[which].Put(run.pools[which].Get())
					run.acks <- struct{}{}
				}
			}(run.commands[g])
		}
		run.started.Wait()
		runtime.ReadMemStats(&run.m1)
		for which, mark := range []*runtime.MemStats{&run.m2, &run.m3} {
			for g := 0; g < threads; g++ {
				run.commands[g] <- which
				<-run.acks
			}
			runtime.ReadMemStats(mark)
		}
		for _, c := range run.commands {
			close(c)
		}
		run.ended.Wait()
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&run.m4)
		runtime.KeepAlive(run)
		first += float64(run.m2.TotalAlloc-run.m1.TotalAlloc) / float64(threads)
		second += float64(run.m3.TotalAlloc-run.m2.TotalAlloc) / float64(threads)
		after += float64(int64(run.m4.HeapAlloc)-int64(run.m0.HeapAlloc)) / float64(2*threads)
	}
	b.ReportMetric(first/float64(b.N), "first-pool-B")
	b.ReportMetric(second/float64(b.N), "per-pool-B")
	b.ReportMetric(after/float64(b.N), "after-exit-B")
}
