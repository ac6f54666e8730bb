package meter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gridledger/gridledger/internal/meter/format"
)

// SwitchRelay switches a device's relay (demand response). A device the
// gateway reads gets its native command (Tasmota, Shelly); a device that
// signs gets {"relay":"on"|"off"} on its command topic.
func (g *Gateway) SwitchRelay(ctx context.Context, deviceID string, on bool) error {
	snap := g.reg.view()
	var topic string
	var payload []byte
	m, isMeter := snap.meters[deviceID]
	_, isGateway := snap.gateways[deviceID]
	switch {
	case isMeter && m.Gateway == g.cfg.DeviceID:
		sh := g.shardOf(deviceID)
		sh.mu.Lock()
		var f format.Format
		if st := sh.meters[deviceID]; st != nil {
			f = st.format
		}
		sh.mu.Unlock()
		if f == "" {
			return fmt.Errorf("meter: device %q has not reported yet, its format is unknown", deviceID)
		}
		var err error
		if topic, payload, err = format.RelayCommand(f, deviceID, on); err != nil {
			return fmt.Errorf("meter: relay of %q: %w", deviceID, err)
		}
	case isMeter && m.Gateway != "":
		return fmt.Errorf("meter: device %q is read by gateway %q", deviceID, m.Gateway)
	case isMeter || isGateway:
		state := "off"
		if on {
			state = "on"
		}
		topic = commandTopic(g.cfg.Community, deviceID)
		payload, _ = json.Marshal(map[string]string{"relay": state})
	default:
		return fmt.Errorf("meter: unknown device %q", deviceID)
	}
	if g.cfg.Broker != nil {
		return g.cfg.Broker.publish(topic, payload)
	}
	if g.client == nil {
		return fmt.Errorf("meter: gateway not started")
	}
	t := g.client.Publish(topic, 1, false, payload)
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return fmt.Errorf("meter: relay command to %q: no acknowledgement", deviceID)
	}
}
