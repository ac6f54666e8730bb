package meter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/gridledger/gridledger/internal/reading"
)

// Device is a simulated smart meter that signs its own readings: it
// connects to a broker over TCP with the credentials derived from its key
// and publishes readings on its topic, and can listen to its command
// topic. gridledger run and the tests use it.
type Device struct {
	// ID is the meter id, also the MQTT username and client id.
	ID string
	// Key is the meter's registered device key.
	Key ed25519.PrivKey
	// Community is the chain id.
	Community string
	// Broker is the broker URL, e.g. tcp://127.0.0.1:1883.
	Broker string
	// Password overrides the password derived from Key.
	Password string
	// QoS of published readings, 0 or 1.
	QoS byte
	// TLS configures an ssl:// broker (nil: system roots).
	TLS *tls.Config

	mu        sync.Mutex
	client    paho.Client
	onCommand func(payload []byte)
}

// Connect logs in to the broker. A refusal comes back as paho's error for
// the CONNACK code, e.g. "bad user name or password" or "not Authorized".
// Once connected the device reconnects by itself.
func (d *Device) Connect(ctx context.Context) error {
	pw := d.Password
	if pw == "" {
		pw = Password(d.Key, d.Community, d.ID)
	}
	opts := paho.NewClientOptions().
		AddBroker(d.Broker).
		SetClientID(d.ID).
		SetUsername(d.ID).
		SetPassword(pw).
		// MQTT 3.1.1 only: left to choose, paho retries a refused
		// connection as MQTT 3.1, which doubles every refusal.
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(time.Second).
		SetConnectTimeout(5 * time.Second).
		SetTLSConfig(d.TLS).
		SetOnConnectHandler(func(c paho.Client) {
			d.mu.Lock()
			fn := d.onCommand
			d.mu.Unlock()
			if fn != nil {
				// A fresh session after a reconnect has no subscriptions.
				d.subscribe(c, fn)
			}
		})
	c := paho.NewClient(opts)
	if err := wait(ctx, c.Connect()); err != nil {
		return fmt.Errorf("device %s: connect: %w", d.ID, err)
	}
	d.mu.Lock()
	d.client = c
	d.mu.Unlock()
	return nil
}

// PublishReading signs r (its Meter defaults to the device's ID) and
// publishes it on the device's reading topic.
func (d *Device) PublishReading(ctx context.Context, r reading.Reading) error {
	if r.Meter == "" {
		r.Meter = d.ID
	}
	s, err := reading.Sign(d.Key, r)
	if err != nil {
		return err
	}
	return d.publish(ctx, readingTopic(d.Community, d.ID), s.Marshal(), d.QoS)
}

// Publish sends a raw payload on one of the device's own topics, as a
// cheap device (a Tasmota plug, a Shelly) would: the gateway reads it and
// signs for it.
func (d *Device) Publish(ctx context.Context, topic string, payload []byte) error {
	return d.publish(ctx, topic, payload, d.QoS)
}

func (d *Device) publish(ctx context.Context, topic string, payload []byte, qos byte) error {
	d.mu.Lock()
	c := d.client
	d.mu.Unlock()
	if c == nil {
		return fmt.Errorf("device %s: not connected", d.ID)
	}
	return wait(ctx, c.Publish(topic, qos, false, payload))
}

// OnCommand subscribes to the device's command topic and calls fn with
// every command payload (from paho's delivery goroutine).
func (d *Device) OnCommand(fn func(payload []byte)) error {
	d.mu.Lock()
	d.onCommand = fn
	c := d.client
	d.mu.Unlock()
	if c == nil {
		return fmt.Errorf("device %s: not connected", d.ID)
	}
	return d.subscribe(c, fn)
}

func (d *Device) subscribe(c paho.Client, fn func([]byte)) error {
	return subscribe(c, commandTopic(d.Community, d.ID), func(_ paho.Client, m paho.Message) { fn(m.Payload()) })
}

// subscribe subscribes at QoS 1 and turns a refused filter (SUBACK 0x80)
// into an error.
func subscribe(c paho.Client, filter string, h paho.MessageHandler) error {
	t := c.Subscribe(filter, 1, h)
	if err := wait(context.Background(), t); err != nil {
		return err
	}
	if st, ok := t.(*paho.SubscribeToken); ok {
		if code := st.Result()[filter]; code == 0x80 {
			return fmt.Errorf("subscribe %s: refused by the broker", filter)
		}
	}
	return nil
}

// Close disconnects.
func (d *Device) Close() {
	d.mu.Lock()
	c := d.client
	d.client = nil
	d.mu.Unlock()
	if c != nil {
		c.Disconnect(100)
	}
}

// wait waits for a paho token, a context, or 30 s.
func wait(ctx context.Context, t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return errors.New("mqtt: no answer in 30 s")
	}
}
