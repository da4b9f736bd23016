package gobench

// Go's sync.Pool under the workloads of victim-pool's benches/pool.rs
// (issue 5), so both sides can be read off one table.
//
// Naming: every benchmark is Benchmark<Func>/<workload>/<variant>. Run with
// -cpu N, Go appends "-N" (nothing for N = 1); benches/report/report.py turns
// that into the key "<workload>/<variant>/<N>t" and puts the result in the
// criterion group of the same name when there is one.
//
// Payloads ("variant" for the first three workloads):
//   - int:   Go's own benchmarks verbatim: Put(1), no New, Get's result unused.
//   - small: *small (32 bytes); New allocates one; after each Get the first
//     field is incremented.
//   - buf4k: *[]byte of 4096 bytes; New allocates one; after each Get the
//     first byte is incremented ("touched").
//
// Pools with a New count its calls; creates/op is that count over b.N.
//
// What Go cannot express, and what stands in for it:
//   - Cleanup exists only as part of a garbage collection. "A cleanup" below
//     is runtime.GC(): a whole mark phase, of which the pool's part runs in
//     the stop-the-world pause. Pause figures are Go's STW time.
//   - Nothing can run during that pause, so get/put latency "during cleanup"
//     means during runtime.GC(), whose STW pauses the other goroutine sits out.
//   - There is no per-tier hit count (private/shared/steal/victim) in sync.Pool.
//   - There are no threads: -cpu N sets GOMAXPROCS, and RunParallel starts N
//     goroutines. More goroutines than Ps is "more threads than cores".

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type small struct{ a, b, c, d uint64 }

const bufSize = 4096

type payload int

const (
	payloadInt payload = iota
	payloadSmall
	payloadBuf4k
)

func (k payload) String() string {
	return [...]string{"int", "small", "buf4k"}[k]
}

// one is what the int payload puts: a small integer in an interface, which Go
// stores without allocating (as in Go's own BenchmarkPool).
var one any = 1

// newPool gives a pool for payload k whose New (none for int) counts its calls.
func newPool(k payload, creates *int64) *sync.Pool {
	p := new(sync.Pool)
	switch k {
	case payloadSmall:
		p.New = func() any {
			atomic.AddInt64(creates, 1)
			return new(small)
		}
	case payloadBuf4k:
		p.New = func() any {
			atomic.AddInt64(creates, 1)
			buf := make([]byte, bufSize)
			return &buf
		}
	}
	return p
}

// get takes a value and touches it; the switch stays predictable in a loop,
// so it costs less than a call through a function value.
func get(p *sync.Pool, k payload) any {
	v := p.Get()
	switch k {
	case payloadInt:
		return one
	case payloadSmall:
		v.(*small).a++
	case payloadBuf4k:
		(*v.(*[]byte))[0]++
	}
	return v
}

func reportCreates(b *testing.B, k payload, creates *int64) {
	if k != payloadInt {
		b.ReportMetric(float64(atomic.LoadInt64(creates))/float64(b.N), "creates/op")
	}
}

var payloads = []payload{payloadInt, payloadSmall, payloadBuf4k}

// BenchmarkPool: one Put then one Get per iteration on every goroutine.
func BenchmarkPool(b *testing.B) {
	for _, k := range payloads {
		k := k
		b.Run("pool/"+k.String(), func(b *testing.B) {
			var creates int64
			p := newPool(k, &creates)
			b.RunParallel(func(pb *testing.PB) {
				v := get(p, k)
				for pb.Next() {
					p.Put(v)
					v = get(p, k)
				}
			})
			reportCreates(b, k, &creates)
		})
	}
}

// BenchmarkPoolGetGuard: the get-guard groups of benches/pool.rs (issue 11):
// on one goroutine, Get, a write to the value, Put, per iteration. Go has no
// guard; Put is what a Rust guard's drop does. box-u64 pools a *uint64 (Rust:
// Box<u64>), buf4k a *[]byte of 4096 bytes. The Rust groups are one-thread
// groups (1t), so only the -cpu 1 result joins them.
func BenchmarkPoolGetGuard(b *testing.B) {
	b.Run("get-guard/box-u64", func(b *testing.B) {
		var creates int64
		p := &sync.Pool{New: func() any {
			atomic.AddInt64(&creates, 1)
			return new(uint64)
		}}
		for i := 0; i < b.N; i++ {
			v := p.Get().(*uint64)
			*v++
			p.Put(v)
		}
		reportCreates(b, payloadSmall, &creates)
	})
	b.Run("get-guard/buf4k", func(b *testing.B) {
		var creates int64
		p := newPool(payloadBuf4k, &creates)
		for i := 0; i < b.N; i++ {
			v := p.Get().(*[]byte)
			(*v)[0]++
			p.Put(v)
		}
		reportCreates(b, payloadBuf4k, &creates)
	})
}

// puts then gets: per iteration, `puts` values go back, then `gets` come out.
// With a New, the values beyond `puts` are dropped and made again: that is
// the starvation that forces stealing.
func putsThenGets(b *testing.B, k payload, puts, gets int) {
	var creates int64
	p := newPool(k, &creates)
	b.RunParallel(func(pb *testing.PB) {
		held := make([]any, gets)
		for i := range held {
			held[i] = get(p, k)
		}
		for pb.Next() {
			for _, v := range held[:puts] {
				p.Put(v)
			}
			for i := range held {
				held[i] = get(p, k)
			}
		}
	})
	reportCreates(b, k, &creates)
}

// BenchmarkPoolOverflow: 100 Puts then 100 Gets per iteration.
func BenchmarkPoolOverflow(b *testing.B) {
	for _, k := range payloads {
		k := k
		b.Run("overflow/"+k.String(), func(b *testing.B) { putsThenGets(b, k, 100, 100) })
	}
}

// BenchmarkPoolStarvation: 67 Puts then 100 Gets per iteration (Go's count:
// 100 less 33 percent).
func BenchmarkPoolStarvation(b *testing.B) {
	for _, k := range payloads {
		k := k
		b.Run("starvation/"+k.String(), func(b *testing.B) { putsThenGets(b, k, 67, 100) })
	}
}

// handoffChannelSize bounds the values in flight between the two sides.
const handoffChannelSize = 64

// BenchmarkPoolHandoff: producers Get and touch a value and send it on a
// channel; consumers receive, touch and Put it. One op is one value handed
// over. Values put by consumers must travel back to the producers' gets
// (stealing or the shared queues), or producers create new ones.
func BenchmarkPoolHandoff(b *testing.B) {
	for _, shape := range []struct{ producers, consumers int }{{1, 1}, {1, 3}} {
		for _, k := range []payload{payloadSmall, payloadBuf4k} {
			shape, k := shape, k
			name := fmt.Sprintf("handoff-%dto%d/%s", shape.producers, shape.consumers, k)
			b.Run(name, func(b *testing.B) {
				var creates int64
				p := newPool(k, &creates)
				ch := make(chan any, handoffChannelSize)
				var producing, consuming sync.WaitGroup
				for c := 0; c < shape.consumers; c++ {
					consuming.Add(1)
					go func() {
						defer consuming.Done()
						for v := range ch {
							switch k {
							case payloadSmall:
								v.(*small).b++
							case payloadBuf4k:
								(*v.(*[]byte))[1]++
							}
							p.Put(v)
						}
					}()
				}
				b.ResetTimer()
				for i := 0; i < shape.producers; i++ {
					share := b.N / shape.producers
					if i < b.N%shape.producers {
						share++
					}
					producing.Add(1)
					go func(share int) {
						defer producing.Done()
						for j := 0; j < share; j++ {
							ch <- get(p, k)
						}
					}(share)
				}
				producing.Wait()
				close(ch)
				consuming.Wait()
				b.StopTimer()
				reportCreates(b, k, &creates)
			})
		}
	}
}

// expensiveCreate is what New costs in BenchmarkPoolExpensiveCreate.
const expensiveCreate = time.Millisecond

// cleanupInterval is the fixed period of the ticking variant's cleanups.
const cleanupInterval = 10 * time.Millisecond

// BenchmarkPoolExpensiveCreate: New sleeps 1 ms; each goroutine holds 100
// values at once, then puts them back. Two ways for cleanups to happen:
//   - gc-driven: Go's BenchmarkPoolExpensiveNew shape: an 8 MiB live
//     ballast and 32 KiB of garbage per Get make the GC (and so the pool
//     cleanup) run at its own pace;
//   - tick10ms: automatic GC off, runtime.GC() every 10 ms from another
//     goroutine, no garbage: the closest Go gets to a timed cleanup.
func BenchmarkPoolExpensiveCreate(b *testing.B) {
	for _, ticking := range []bool{false, true} {
		ticking := ticking
		name := "expensive-create/gc-driven"
		if ticking {
			name = "expensive-create/tick10ms"
		}
		b.Run(name, func(b *testing.B) {
			var creates int64
			p := &sync.Pool{New: func() any {
				atomic.AddInt64(&creates, 1)
				time.Sleep(expensiveCreate)
				return 42
			}}
			var ballast []byte
			stopTicker := make(chan struct{})
			var ticker sync.WaitGroup
			if ticking {
				defer debug.SetGCPercent(debug.SetGCPercent(-1))
				ticker.Add(1)
				go func() {
					defer ticker.Done()
					t := time.NewTicker(cleanupInterval)
					defer t.Stop()
					for {
						select {
						case <-stopTicker:
							return
						case <-t.C:
							runtime.GC()
						}
					}
				}()
			} else {
				ballast = make([]byte, 8<<20)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				held := make([]any, 100)
				var garbage []byte
				for pb.Next() {
					for i := range held {
						held[i] = p.Get()
						if !ticking {
							garbage = make([]byte, 32<<10)
						}
					}
					for i, v := range held {
						p.Put(v)
						held[i] = nil
					}
				}
				_ = garbage
			})
			b.StopTimer()
			close(stopTicker)
			ticker.Wait()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(ballast)
			b.ReportMetric(float64(atomic.LoadInt64(&creates))/float64(b.N), "creates/op")
			b.ReportMetric(float64(after.NumGC-before.NumGC)/float64(b.N), "cleanups/op")
		})
	}
}

// lastPause is the stop-the-world time of the most recent GC.
func lastPause(m *runtime.MemStats) uint64 {
	return m.PauseNs[(m.NumGC+255)%256]
}

func percentile(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i])
}

// BenchmarkPoolSTW: Go's own BenchmarkPoolSTW shape: 100,000 Puts then a
// GC per iteration; ns/op is the mean stop-the-world pause.
func BenchmarkPoolSTW(b *testing.B) {
	b.Run("go-stw/int", func(b *testing.B) {
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		var m runtime.MemStats
		pauses := make([]int64, 0, b.N)
		var p sync.Pool
		for i := 0; i < b.N; i++ {
			for j := 0; j < 100000; j++ {
				p.Put(one)
			}
			runtime.GC()
			runtime.ReadMemStats(&m)
			pauses = append(pauses, int64(lastPause(&m)))
		}
		reportPauses(b, pauses)
	})
}

func reportPauses(b *testing.B, pauses []int64) {
	sort.Slice(pauses, func(i, j int) bool { return pauses[i] < pauses[j] })
	var total int64
	for _, ns := range pauses {
		total += ns
	}
	b.ReportMetric(float64(total)/float64(len(pauses)), "ns/op")
	b.ReportMetric(percentile(pauses, 0.50), "p50-pause-ns")
	b.ReportMetric(percentile(pauses, 0.95), "p95-pause-ns")
}

// BenchmarkPoolCleanupPause: 100,000 freshly allocated *small values are put,
// then a cleanup (runtime.GC()) runs while, with GOMAXPROCS >= 2, another
// goroutine keeps doing Put+Get pairs and times each. ns/op is the mean STW
// pause; the pair latencies are those of pairs that ended while the GC ran.
// With GOMAXPROCS = 1 there is no other goroutine (it could only run by
// preempting the cleanup), so only pause figures are reported.
func BenchmarkPoolCleanupPause(b *testing.B) {
	b.Run("cleanup-pause/small", func(b *testing.B) {
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		const pooled = 100000
		var creates int64
		p := newPool(payloadSmall, &creates)
		var inCleanup, stop atomic.Bool
		var latencies []int64
		var other sync.WaitGroup
		withOther := runtime.GOMAXPROCS(0) >= 2
		if withOther {
			latencies = make([]int64, 0, 1<<20)
			other.Add(1)
			go func() {
				defer other.Done()
				v := get(p, payloadSmall)
				for !stop.Load() {
					start := time.Now()
					p.Put(v)
					v = get(p, payloadSmall)
					took := time.Since(start)
					if inCleanup.Load() && len(latencies) < cap(latencies) {
						latencies = append(latencies, int64(took))
					}
				}
			}()
		}
		var m runtime.MemStats
		pauses := make([]int64, 0, b.N)
		var wall time.Duration
		values := make([]*small, pooled)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for j := range values {
				values[j] = new(small)
			}
			for j, v := range values {
				p.Put(v)
				values[j] = nil
			}
			inCleanup.Store(true)
			start := time.Now()
			runtime.GC()
			wall += time.Since(start)
			inCleanup.Store(false)
			runtime.ReadMemStats(&m)
			pauses = append(pauses, int64(lastPause(&m)))
		}
		b.StopTimer()
		stop.Store(true)
		other.Wait()
		reportPauses(b, pauses)
		b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N), "cleanup-wall-ns")
		if withOther {
			sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
			b.ReportMetric(percentile(latencies, 0.50), "p50-op-ns")
			b.ReportMetric(percentile(latencies, 0.99), "p99-op-ns")
			b.ReportMetric(percentile(latencies, 1), "max-op-ns")
			b.ReportMetric(float64(len(latencies))/float64(b.N), "ops-during-cleanup")
		}
	})
}

// burstValues are live at once in BenchmarkPoolBurstIdle.
const burstValues = 10000

// BenchmarkPoolBurstIdle: 10,000 buffers of 4 KiB are taken at once, all put
// back, then the pool sits idle through 0..3 cleanups (runtime.GC(), with
// automatic GC off so that no other cleanup happens). "retained@c" is how many
// of them a drain then finds in the pool after c cleanups (Gets until the
// first call to New); each is 4 KiB.
func BenchmarkPoolBurstIdle(b *testing.B) {
	b.Run("burst-then-idle/buf4k", func(b *testing.B) {
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		const maxCleanups = 3
		var retained [maxCleanups + 1]int64
		held := make([]any, burstValues)
		for i := 0; i < b.N; i++ {
			for cleanups := 0; cleanups <= maxCleanups; cleanups++ {
				var creates int64
				p := newPool(payloadBuf4k, &creates)
				for j := range held {
					held[j] = p.Get()
				}
				for j, v := range held {
					p.Put(v)
					held[j] = nil
				}
				for c := 0; c < cleanups; c++ {
					runtime.GC()
				}
				made := atomic.LoadInt64(&creates)
				for {
					p.Get()
					if atomic.LoadInt64(&creates) != made {
						break
					}
					retained[cleanups]++
				}
			}
		}
		for c, n := range retained {
			b.ReportMetric(float64(n)/float64(b.N), fmt.Sprintf("retained@%d", c))
		}
	})
}
