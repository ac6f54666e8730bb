package meter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/gridledger/gridledger/internal/reading"
)

func TestPassword(t *testing.T) {
	pw := Password(key("m-alice"), community, "m-alice")
	if len(pw) != 86 || strings.ContainsAny(pw, "=+/") {
		t.Fatalf("password %q: want 86 unpadded base64url characters", pw)
	}
	if pw != Password(key("m-alice"), community, "m-alice") {
		t.Fatal("password is not deterministic")
	}
	if !VerifyPassword(pub("m-alice"), community, "m-alice", pw) {
		t.Fatal("own password refused")
	}
	for name, ok := range map[string]bool{
		"other community": VerifyPassword(pub("m-alice"), "other", "m-alice", pw),
		"other device":    VerifyPassword(pub("m-alice"), community, "m-bob", pw),
		"other key":       VerifyPassword(pub("m-bob"), community, "m-alice", pw),
		"padded":          VerifyPassword(pub("m-alice"), community, "m-alice", pw+"=="),
		"truncated":       VerifyPassword(pub("m-alice"), community, "m-alice", pw[:85]),
		"empty":           VerifyPassword(pub("m-alice"), community, "m-alice", ""),
		"short key":       VerifyPassword(pub("m-alice")[:31], community, "m-alice", pw),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseTopic(t *testing.T) {
	for _, c := range []struct {
		topic string
		kind  topicKind
		id    string
	}{
		{"gridledger/test-community/meters/m-1/reading", topicReading, "m-1"},
		{"gridledger/other/meters/m-1/reading", topicNone, ""},
		{"gridledger/test-community/devices/m-1/cmd", topicCommand, "m-1"},
		{"gridledger/test-community/meters/+/reading", topicNone, ""},
		{"gridledger/test-community/meters/m-1/reading/x", topicNone, ""},
		{"tele/plug-1/SENSOR", topicNative, "plug-1"},
		{"tele/plug-1/STATE", topicNative, "plug-1"},
		{"stat/plug-1/RESULT", topicNative, "plug-1"},
		{"cmnd/plug-1/POWER", topicCommand, "plug-1"},
		{"cmnd/plug-1/#", topicCommand, "plug-1"},
		{"cmnd/+/POWER", topicNone, ""},
		{"shellies/sh-1/emeter/0/total", topicNative, "sh-1"},
		{"shellies/sh-1/relay/0/command", topicCommand, "sh-1"},
		{"shellies/sh-1/relay/+/command", topicCommand, "sh-1"},
		{"shellies/sh-1/command", topicCommand, "sh-1"},
		{"shellies/announce", topicNone, ""},
		{"shellies/sh-1/#", topicNative, "sh-1"},
		{"sh2/events/rpc", topicNative, "sh2"},
		{"sh2/status/switch:0", topicNative, "sh2"},
		{"sh2/online", topicNative, "sh2"},
		{"sh2/rpc", topicCommand, "sh2"},
		{"sh2/other", topicNone, ""},
		{"dsmr/p1/telegram", topicNative, "p1"},
		{"tele/status/x", topicNative, "status"},
		{"tele/a/b/c", topicNone, ""}, // not Tasmota's shape, and "tele" is no Gen2 id
		{"#", topicNone, ""},
		{"+/rpc", topicNone, ""},
		{"$SYS/broker/clients", topicNone, ""},
		{"", topicNone, ""},
	} {
		kind, id := parseTopic(community, c.topic)
		if kind != c.kind || id != c.id {
			t.Errorf("parseTopic(%q) = %d %q, want %d %q", c.topic, kind, id, c.kind, c.id)
		}
	}
}

func TestBrokerAuth(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, testRegistry())
	ctx := context.Background()
	for _, c := range []struct {
		name, id, password, wantErr, reason string
	}{
		{"own key", "m-alice", Password(key("m-alice"), community, "m-alice"), "", ""},
		{"gateway key for a meter it reads", "plug-1", Password(key("gw-1"), community, "plug-1"), "", ""},
		{"gateway itself", "gw-1", Password(key("gw-1"), community, "gw-1"), "", ""},
		{"wrong password", "m-alice", Password(key("m-carol"), community, "m-alice"), "bad user name or password", refuseBadPassword},
		{"password of another community", "m-alice", Password(key("m-alice"), "other", "m-alice"), "bad user name or password", refuseBadPassword},
		{"own key for a gateway-read meter", "plug-1", Password(key("plug-1"), community, "plug-1"), "bad user name or password", refuseBadPassword},
		{"unknown id", "m-ghost", Password(key("m-ghost"), community, "m-ghost"), "bad user name or password", refuseUnknown},
		{"no credentials", "", "", "bad user name or password", refuseUnknown},
		{"suspended owner", "m-bob", Password(key("m-bob"), community, "m-bob"), "not Authorized", refuseSuspended},
		{"suspended owner, wrong password", "m-bob", "x", "bad user name or password", refuseBadPassword},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.broker.Refused()[c.reason]
			d := &Device{ID: c.id, Community: community, Broker: e.url, Password: c.password}
			if d.Password == "" {
				d.Password = "-"
			}
			err := connectAs(ctx, d, c.id)
			defer d.Close()
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("got %v, want CONNACK %q", err, c.wantErr)
			}
			if c.reason != "" {
				if got := e.broker.Refused()[c.reason]; got != before+1 {
					t.Errorf("refusals %s: %d, want %d", c.reason, got, before+1)
				}
			}
		})
	}
	// Suspension applies to a device already connected: its publishes are
	// dropped by the ACL.
	e.start(t)
	d := e.device(t, "m-carol")
	e.reg.SetSuspended("carol", true)
	// At QoS 0: at QoS 1 mochi would disconnect her and paho would resend
	// the reading after reconnecting.
	s := must(reading.Sign(key("m-carol"), reading.Reading{Meter: "m-carol", Registers: reading.Registers{Seq: 1, Time: T0 + 60, ImportWh: 10}}))
	if err := d.publish(ctx, readingTopic(community, "m-carol"), s.Marshal(), 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the broker's refusal of carol's reading", func() bool {
		return e.broker.Refused()[refuseACLPublish] == 1
	})
	e.reg.SetSuspended("carol", false)
	pubReading(t, d, 2, T0+120, 20)
	eventually(t, 5*time.Second, "carol's second reading", func() bool { return e.gw.Stats().Accepted == 1 })
	if e.broker.Refused()[refuseACLPublish] != 1 {
		t.Errorf("ACL refusals: %v", e.broker.Refused())
	}

	// Alice connecting with carol's client id does not take over carol's
	// session: client ids are scoped by user. The broker ends a session it
	// hands over before it acknowledges the new connection, so once alice
	// is connected carol's session tells.
	session, ok := e.broker.srv.Clients.Get("m-carol|m-carol")
	if !ok {
		t.Fatal("carol's session is not in the broker")
	}
	opts := paho.NewClientOptions().AddBroker(e.url).SetClientID("m-carol").SetUsername("m-alice").
		SetPassword(Password(key("m-alice"), community, "m-alice")).SetProtocolVersion(4)
	intruder := paho.NewClient(opts)
	if err := wait(ctx, intruder.Connect()); err != nil {
		t.Fatal(err)
	}
	defer intruder.Disconnect(100)
	if session.Closed() || session.IsTakenOver() || !d.client.IsConnectionOpen() {
		t.Fatal("carol was disconnected by a client reusing her client id")
	}
	pubReading(t, d, 3, T0+180, 30)
	eventually(t, 5*time.Second, "carol's third reading", func() bool { return e.gw.Stats().Accepted == 2 })
}

// connectAs connects d with username user (Device uses its ID).
func connectAs(ctx context.Context, d *Device, user string) error {
	if user == d.ID {
		return d.Connect(ctx)
	}
	id := d.ID
	d.ID = user
	defer func() { d.ID = id }()
	return d.Connect(ctx)
}

func pubReading(t testing.TB, d *Device, seq uint64, tm, importWh int64) {
	t.Helper()
	if err := d.PublishReading(context.Background(), reading.Reading{Registers: reading.Registers{Seq: seq, Time: tm, ImportWh: importWh}}); err != nil {
		t.Fatal(err)
	}
}

func TestBrokerACL(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, testRegistry())
	// What the gateway made of each message on carol's reading topic.
	carolSeen := make(chan item, 4)
	e.gw.onResult = func(topic string, _ []byte, it item) {
		if topic == readingTopic(community, "m-carol") {
			carolSeen <- it
		}
	}
	e.start(t)
	ctx := context.Background()
	alice := e.device(t, "m-alice")
	carol := e.device(t, "m-carol")

	// Alice publishes a reading validly signed by carol's key, on carol's
	// topic: the broker drops it (QoS 0; at QoS 1 it would disconnect
	// her), so it never reaches the gateway.
	s := must(reading.Sign(key("m-carol"), reading.Reading{Meter: "m-carol", Registers: reading.Registers{Seq: 1, Time: T0 + 60, ImportWh: 5}}))
	if err := alice.publish(ctx, readingTopic(community, "m-carol"), s.Marshal(), 0); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"tele/plug-1/SENSOR", "gridledger/" + community + "/devices/m-carol/cmd", "cmnd/m-alice/POWER", "$SYS/x", "other/topic"} {
		if err := alice.publish(ctx, topic, []byte(`{}`), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Then a valid reading of her own, on her own topic, as a fence.
	pubReading(t, alice, 1, T0+60, 100)
	eventually(t, 5*time.Second, "alice's own reading", func() bool { return e.gw.Stats().Accepted >= 1 })
	// $SYS/x is dropped by mochi before any ACL check.
	if n := e.broker.Refused()[refuseACLPublish]; n != 5 {
		t.Errorf("ACL publish refusals %d, want 5", n)
	}
	// Carol's own reading with seq 1 is the marker. The broker hands
	// alice's messages to the gateway in order, so had the forged copy
	// passed, it would be queued for carol's gateway worker before alice's
	// fence was accepted, and so before this: the first the gateway sees
	// of carol must be this reading, accepted (seq 1 is still fresh).
	pubReading(t, carol, 1, T0+60, 6)
	select {
	case it := <-carolSeen:
		if it.code != 0 || it.r.ImportWh != 6 {
			t.Fatalf("the gateway's first reading of carol: %s, %+v; want her own, accepted", it.code.Name(), it.r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("carol's reading never reached the gateway")
	}
	if st := e.gw.Stats(); st.Accepted != 2 || len(st.Rejected) != 0 {
		t.Fatalf("gateway saw %+v, want alice's and carol's own readings only", st)
	}

	// Subscribing to another device's command topic is refused (SUBACK
	// 0x80); so is a wildcard over devices and the readings of others.
	for _, f := range []string{
		commandTopic(community, "m-carol"), "cmnd/m-carol/#", "gridledger/" + community + "/devices/+/cmd",
		readingTopic(community, "m-carol"), "#", "$SYS/#", readingTopic(community, "m-alice"),
	} {
		if err := subscribe(alice.client, f, func(paho.Client, paho.Message) {}); err == nil {
			t.Errorf("subscribe %s: allowed", f)
		}
	}
	// Her own command topic works, and a relay command reaches her.
	got := make(chan string, 1)
	if err := alice.OnCommand(func(p []byte) { got <- string(p) }); err != nil {
		t.Fatal(err)
	}
	if err := e.gw.SwitchRelay(ctx, "m-alice", true); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p != `{"relay":"on"}` {
			t.Errorf("command %s", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("relay command did not arrive")
	}
	// Carol, subscribed to nothing, hears nothing of it; her subscription
	// to her own topic does not see alice's commands.
	cgot := make(chan string, 2)
	if err := carol.OnCommand(func(p []byte) { cgot <- string(p) }); err != nil {
		t.Fatal(err)
	}
	if err := e.gw.SwitchRelay(ctx, "m-alice", false); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != `{"relay":"off"}` {
		t.Errorf("command %s", p)
	}
	// A command of her own is the marker: the broker delivers to carol in
	// the order commands are published, so alice's would come first.
	if err := e.gw.SwitchRelay(ctx, "m-carol", true); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-cgot:
		if p != `{"relay":"on"}` {
			t.Errorf("carol received %s before her own command", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("carol's own command did not arrive")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gridledger test broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	pool = x509.NewCertPool()
	pool.AddCert(must(x509.ParseCertificate(der)))
	return certFile, keyFile, pool
}

func TestBrokerTLS(t *testing.T) {
	noLeaks(t)
	certFile, keyFile, pool := selfSigned(t)
	reg := testRegistry()
	b, err := NewBroker(BrokerConfig{Addr: "127.0.0.1:0", Community: community, TLSCert: certFile, TLSKey: keyFile}, reg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	g := NewGateway(GatewayConfig{Community: community, DeviceID: "gw-1", DeviceKey: key("gw-1"), Broker: b,
		Clock: newFakeClock(T0 + 600)}, reg, &recorder{}, testLog(t))
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	plain := &Device{ID: "m-alice", Key: key("m-alice"), Community: community, Broker: "tcp://" + b.Addr()}
	if err := plain.Connect(ctx); err == nil {
		plain.Close()
		t.Fatal("plain MQTT accepted on the TLS listener")
	}
	d := &Device{ID: "m-alice", Key: key("m-alice"), Community: community, Broker: "ssl://" + b.Addr(), QoS: 1,
		TLS: &tls.Config{RootCAs: pool}}
	if err := d.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pubReading(t, d, 1, T0+60, 10)
	eventually(t, 5*time.Second, "the reading over TLS", func() bool { return g.Stats().Accepted == 1 })
}
