package reading

import "fmt"

// Fault is a rule tying a reading to its meter's last accepted one that
// the reading breaks.
type Fault uint8

// The rules Check applies, in its order. The contract refuses each with a
// stable code of its own (contract.FaultCode).
const (
	// OK: the reading follows its meter's last accepted one.
	OK Fault = iota
	// Replay: its sequence number is not above the last accepted one's.
	Replay
	// FromFuture: it is dated further ahead of market time than the skew.
	FromFuture
	// Stale: it is dated before the last accepted reading.
	Stale
	// Backwards: one of its registers is below the last accepted reading's.
	Backwards
)

// Check applies the rules that tie a reading to its meter's last accepted
// one (nil before the first) at market time nowS, allowing skewS seconds
// of clock skew: sequence, date, registers, in that order. The gateway
// applies them before it stores a reading and the contract again before it
// believes one, so what a gateway submits is what the ledger accepts. It
// returns the first rule broken and a message naming the meter, or OK.
func Check(r Reading, last *Registers, nowS, skewS int64) (Fault, string) {
	switch {
	case last != nil && r.Seq <= last.Seq:
		return Replay, fmt.Sprintf("meter %q seq %d, last accepted %d", r.Meter, r.Seq, last.Seq)
	case r.Time > nowS+skewS:
		return FromFuture, fmt.Sprintf("meter %q dated %d, ledger time %d, skew %d s", r.Meter, r.Time, nowS, skewS)
	case last == nil:
		return OK, ""
	case r.Time < last.Time:
		return Stale, fmt.Sprintf("meter %q dated %d, before its last reading at %d", r.Meter, r.Time, last.Time)
	case r.ImportWh < last.ImportWh || r.ExportWh < last.ExportWh || r.ProductionWh < last.ProductionWh:
		return Backwards, fmt.Sprintf("meter %q: import %d→%d, export %d→%d, production %d→%d", r.Meter,
			last.ImportWh, r.ImportWh, last.ExportWh, r.ExportWh, last.ProductionWh, r.ProductionWh)
	}
	return OK, ""
}

// IntervalStart is the start of the delivery interval (start,
// start+intervalS] that registers read at t describe: read at an
// interval's end, they close that interval. It is the contract's rule
// (State.intervalOf finds the listing that holds t) for listings laid on
// multiples of intervalS, which the gateway uses to file its fine data and
// batch its readings.
func IntervalStart(t, intervalS int64) int64 {
	return (t - 1) / intervalS * intervalS
}
