package meter

import (
	"errors"
	"fmt"
	"sort"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/meter/format"
	"github.com/gridledger/gridledger/internal/reading"
)

// decodeNative turns the payload of a device that cannot sign into a
// reading signed by this gateway, when the device is a meter registered
// with this gateway. Registers come from the payload, the time from
// market time, the sequence number from the gateway's own counter.
func (g *Gateway) decodeNative(sh *shard, snap *regSnapshot, it *item, m inMsg, now int64) {
	f, dev, ok := format.Identify(m.topic)
	if !ok || dev != m.id {
		it.skip = true // a status topic without energy, or not a device topic we know
		return
	}
	meter, known := snap.meters[m.id]
	switch {
	case !known:
		it.r.Meter = m.id
		it.code, it.why = contract.CodeUnknownMeter, "native device is not a registered meter"
		return
	case meter.Gateway != g.cfg.DeviceID:
		it.skip = true // another gateway's meter on a shared broker
		return
	case g.cfg.DeviceKey == nil:
		g.log.Warn("native device payload, but the gateway has no device key to sign it", "meter", m.id)
		it.skip = true
		return
	}
	regs, err := format.Decode(f, m.topic, m.payload)
	if errors.Is(err, format.ErrNoEnergy) {
		it.skip = true
		return
	}
	if err != nil {
		it.r.Meter = m.id
		it.code, it.why = contract.CodeMalformed, err.Error()
		return
	}
	st := g.state(sh, meter)
	st.format = f
	g.logNotes(st, m, regs.Notes)
	imp, exp := mergeNative(st, regs)
	seq, err := g.seqs.next(m.id, st.gwSeq)
	if err != nil {
		// Signing without a persisted reservation could reuse numbers
		// after a crash; better to lose this reading (the next carries
		// its energy).
		g.log.Error("sequence counter not persisted", "meter", m.id, "err", err)
		it.skip = true
		return
	}
	st.gwSeq = seq
	r := reading.Reading{Meter: m.id, Registers: reading.Registers{Seq: seq, Time: now, ImportWh: imp, ExportWh: exp}}
	if meter.RES != "" {
		// The device measures the RES output (a clamp on the inverter):
		// what flows through it is production.
		r = reading.Reading{Meter: m.id, Registers: reading.Registers{Seq: seq, Time: now, ProductionWh: imp}}
	}
	s, err := reading.Sign(g.cfg.DeviceKey, r)
	if err != nil {
		it.r = r
		it.code, it.why = contract.CodeMalformed, fmt.Sprintf("gateway cannot sign: %v", err)
		return
	}
	it.signed, it.r = s, r
}

// mergeNative folds a payload into the device's per-channel registers and
// returns the device totals. Some topics carry only one channel (a Shelly
// Gen1 emeter/<i>/total, a Gen2 component status) or one register, and
// format.Decode leaves what they do not carry at zero: since registers
// only grow, a zero never replaces a value already known. A payload
// without channels is the device's totals.
func mergeNative(st *meterState, regs format.Registers) (importWh, exportWh int64) {
	if st.chans == nil {
		st.chans = map[string][2]int64{}
	}
	upd := func(name string, imp, exp int64) {
		old := st.chans[name]
		if imp == 0 {
			imp = old[0]
		}
		if exp == 0 {
			exp = old[1]
		}
		st.chans[name] = [2]int64{imp, exp}
	}
	if len(regs.Channels) == 0 {
		for name := range st.chans {
			if name != "" {
				delete(st.chans, name)
			}
		}
		upd("", regs.ImportWh, regs.ExportWh)
	} else {
		delete(st.chans, "")
		for _, c := range regs.Channels {
			upd(c.Name, c.ImportWh, c.ExportWh)
		}
	}
	names := make([]string, 0, len(st.chans))
	for n := range st.chans {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		importWh += st.chans[n][0]
		exportWh += st.chans[n][1]
	}
	return min(importWh, reading.MaxRegisterWh), min(exportWh, reading.MaxRegisterWh)
}

// logNotes logs the fields of a device's payload that were unusual but not
// energy (format.Note): tolerated, so the energy is not lost, and logged so
// that the owner can see them. A device repeats them in every payload: they
// are logged when they first appear on a topic and when they change.
func (g *Gateway) logNotes(st *meterState, m inMsg, notes []format.Note) {
	key := ""
	for _, n := range notes {
		key += n.Field + "\x00" + n.Raw + "\x00" + n.Why + "\x00"
	}
	if st.notes[m.topic] == key {
		return
	}
	if st.notes == nil {
		st.notes = map[string]string{}
	}
	st.notes[m.topic] = key
	for _, n := range notes {
		g.log.Warn("device payload: unusual field tolerated (not energy)", "meter", m.id, "topic", m.topic,
			"field", n.Field, "raw", n.Raw, "why", n.Why)
	}
}
