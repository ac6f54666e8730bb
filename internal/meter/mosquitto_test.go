package meter

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/reading"
)

// mosquitto is Debian's broker run as a child process on a fixed port, so
// that it can be killed and started again where clients expect it.
type mosquitto struct {
	t    testing.TB
	port int
	conf string
	bin  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
}

// startMosquitto starts mosquitto on a free local port, anonymous access
// allowed (the gateway's own checks are what is under test). CI installs
// it (.ci/run); a missing binary fails the test rather than skipping it.
func startMosquitto(t testing.TB) *mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		// Debian puts it in /usr/sbin, which is not always on PATH.
		bin = "/usr/sbin/mosquitto"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("mosquitto not installed (apt-get install mosquitto mosquitto-clients): %v", err)
		}
	}
	m := &mosquitto{t: t, port: freePort(t), conf: filepath.Join(t.TempDir(), "mosquitto.conf"), bin: bin}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n", m.port)
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m.start()
	t.Cleanup(m.kill)
	return m
}

func (m *mosquitto) url() string { return fmt.Sprintf("tcp://127.0.0.1:%d", m.port) }

// start starts mosquitto and waits until it listens.
func (m *mosquitto) start() {
	m.t.Helper()
	m.mu.Lock()
	m.stderr.Reset()
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stderr = &m.stderr
	m.mu.Unlock()
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", m.port))
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			m.t.Fatalf("mosquitto exited: %s", m.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto not listening on %d: %v", m.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends mosquitto with SIGKILL: no clean disconnects, no will.
func (m *mosquitto) kill() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// mosquittoPub runs Debian's mosquitto_pub.
func mosquittoPub(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mosquitto_pub", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub %v: %v\n%s", args, err, out)
	}
}

// lastAccepted is the gateway's last accepted reading of a meter.
func (g *Gateway) lastAccepted(id string) *reading.Registers {
	sh := g.shardOf(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if st := sh.meters[id]; st != nil && st.last != nil {
		l := *st.last
		return &l
	}
	return nil
}

// The gateway reads from Debian's mosquitto; mosquitto is killed in the
// middle of a stream of readings and started again. Readings published
// meanwhile are lost, but registers are cumulative: once device and
// gateway have reconnected by themselves, the interval's batch carries
// the device's final registers, so no energy is lost.
func TestMosquittoRestart(t *testing.T) {
	noLeaks(t)
	m := startMosquitto(t)
	e := newExternalEnv(t, testRegistry(), m.url())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d := &Device{ID: "m-alice", Key: key("m-alice"), Community: community, Broker: m.url(), QoS: 1}
	if err := d.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	var (
		mu       sync.Mutex
		last     reading.Reading
		stop     = make(chan struct{})
		finished = make(chan struct{})
	)
	go func() {
		defer close(finished)
		r := reading.Reading{Meter: "m-alice", Registers: reading.Registers{Time: T0}}
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			r.Seq++
			r.Time++
			r.ImportWh += 7
			r.ExportWh += 1
			mu.Lock()
			last = r
			mu.Unlock()
			// While the broker is down this times out; paho keeps QoS 1
			// messages and sends them after reconnecting.
			pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
			d.PublishReading(pctx, r)
			pcancel()
		}
	}()
	accepted := func() int64 { return e.gw.Stats().Accepted }
	eventually(t, 10*time.Second, "readings before the crash", func() bool { return accepted() >= 20 })
	m.kill()
	atKill := accepted()
	time.Sleep(500 * time.Millisecond)
	m.start()
	eventually(t, 15*time.Second, "readings after the restart", func() bool { return accepted() >= atKill+20 })
	close(stop)
	<-finished
	mu.Lock()
	final := last
	mu.Unlock()
	eventually(t, 10*time.Second, "the final reading", func() bool {
		l := e.gw.lastAccepted("m-alice")
		return l != nil && l.Seq == final.Seq
	})
	e.clock.Set(T0 + 3601)
	e.gw.flush(ctx)
	msgs := e.rec.all()
	if len(msgs) != 1 || len(msgs[0].Readings) != 1 {
		t.Fatalf("batches %v", msgs)
	}
	r := parse(t, msgs[0].Readings[0].Signed)
	if r != final {
		t.Errorf("batch carries %+v, device's final registers %+v", r, final)
	}
	st := e.gw.Stats()
	t.Logf("published %d readings, gateway accepted %d, refused %v; final import %d Wh", final.Seq, st.Accepted, st.Rejected, final.ImportWh)
	if st.Accepted >= int64(final.Seq) {
		t.Logf("no reading was lost in the crash (paho resent them all)")
	}
}

// A gateway whose broker is down keeps trying until Start's context ends,
// then leaves nothing running.
func TestGatewayBrokerUnreachable(t *testing.T) {
	noLeaks(t)
	e := newExternalEnv(t, testRegistry(), fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if err := e.gw.Start(ctx); err == nil {
		t.Fatal("started without a broker")
	}
}
