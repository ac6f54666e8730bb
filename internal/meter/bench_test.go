package meter

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/gridledger/gridledger/internal/reading"
	"github.com/gridledger/gridledger/internal/sigs"
)

// BenchmarkGatewayReadings measures signed readings verified, checked and
// stored per second, end to end: 50 devices (paho, QoS 0, as fast as they
// can) → the embedded broker over TCP → the gateway's workers → the fine
// data files. Readings are signed before the clock starts. Run with e.g.
// -benchtime=200000x: b.N is the number of readings.
func BenchmarkGatewayReadings(b *testing.B) {
	const devices = 50
	reg := NewRegistry()
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%02d", i)
		reg.SetMeter(ids[i], "alice", pub(ids[i]), "", "")
	}
	e := newEnv(b, reg)
	e.clock.Set(T0 + 100_000_000)
	e.start(b)
	per := (b.N + devices - 1) / devices
	payloads := make([][][]byte, devices)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := key(id)
			payloads[i] = make([][]byte, per)
			for j := range per {
				s, err := reading.Sign(k, reading.Reading{Meter: id, Registers: reading.Registers{Seq: uint64(j + 1), Time: T0 + int64(j+1)*10, ImportWh: int64(j) * 3, ExportWh: int64(j)}})
				if err != nil {
					panic(err)
				}
				payloads[i][j] = s.Marshal()
			}
		}()
	}
	wg.Wait()
	clients := make([]paho.Client, devices)
	var lost atomic.Int32
	for i, id := range ids {
		// Devices' usual keepalive would kill this flood: a publisher
		// that hears nothing pings after 30 s, and its PINGREQ queues in
		// the socket behind every reading not yet read, so the PINGRESP
		// comes too late and paho drops the connection (and QoS 0
		// readings with it).
		opts := paho.NewClientOptions().AddBroker(e.url).SetClientID(id).SetUsername(id).
			SetPassword(Password(key(id), community, id)).SetProtocolVersion(4).
			SetKeepAlive(10 * time.Minute).SetPingTimeout(time.Minute).SetAutoReconnect(false).
			SetConnectionLostHandler(func(paho.Client, error) { lost.Add(1) })
		c := paho.NewClient(opts)
		if err := wait(context.Background(), c.Connect()); err != nil {
			b.Fatal(err)
		}
		defer c.Disconnect(100)
		clients[i] = c
	}
	total := int64(per * devices)
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := readingTopic(community, ids[i])
			var last paho.Token
			for _, p := range payloads[i] {
				last = clients[i].Publish(topic, 0, false, p)
			}
			last.Wait()
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Minute)
	for e.gw.Stats().Accepted < total {
		if lost.Load() > 0 || time.Now().After(deadline) {
			b.Fatalf("accepted %d of %d, %d connections lost", e.gw.Stats().Accepted, total, lost.Load())
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := e.gw.Stats()
	if len(st.Rejected) != 0 {
		b.Fatalf("refused: %v", st.Rejected)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "readings/s")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MiB")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
}

// BenchmarkVerify is the cost that dominates: one ed25519 verification,
// alone and in the gateway's batches of 64.
func BenchmarkVerify(b *testing.B) {
	ss := make([]reading.Signed, 64)
	keys := make([][]byte, 64)
	for i := range ss {
		id := fmt.Sprintf("bench-%02d", i%50)
		ss[i] = must(reading.Sign(key(id), reading.Reading{Meter: id, Registers: reading.Registers{Seq: uint64(i + 1), Time: T0 + 1, ImportWh: 1}}))
		keys[i] = pub(id)
	}
	b.Run("single", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if !ss[i%64].Verify(keys[i%64]) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("batch64", func(b *testing.B) {
		for i := 0; i < b.N; i += 64 {
			bv := sigs.NewBatch()
			for j := range ss {
				bv.Add(keys[j], ss[j].SignBytes(), ss[j].Sig)
			}
			for _, ok := range bv.Verify() {
				if !ok {
					b.Fatal("invalid")
				}
			}
		}
	})
}
