package contract_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

// The contract's rules as scripts (testdata/script/*), in the manner of
// etcd raft's datadriven tests: each paragraph quotes a rule, drives the
// harness with a few commands and shows the state they leave. The expected
// output is below each command's "----"; `go test -run Script -rewrite`
// writes what the contract now does in its place, for review in the diff.
//
// The command language (one command per directive; "#" starts a comment):
//
//	genesis [bare] [PARAM=V …]       a fresh chain with DefaultParams edited by
//	                                 JSON name; unless bare, plus the harness's
//	                                 first block at 00:00:01
//	members ID …                     operator registers household members
//	fund ID AMOUNT                   operator issues AMOUNT to ID
//	res OWNER ID CAPACITY_W [unapproved]   owner registers a PV, the DSO approves
//	gateway ID OWNER                 operator registers a gateway (key gw-key/ID)
//	battery OWNER ID CAPACITY_WH CHARGE_W DISCHARGE_W [unapproved]
//	                                 owner registers a battery, the DSO approves
//	meter ID OWNER [res=R] [battery=B] [gateway=G]   operator registers a meter
//	                                 (own key dev-key/ID unless read by gateway G)
//	TYPE SIGNER [FIELD=V …]          a transaction of that type (bid, offer,
//	                                 cancel, issue, …) in a block of its own one
//	                                 second after the last, or at=T; prints its
//	                                 code (and the order it makes)
//	block [at=T]                     one block holding the transactions below
//	                                 the directive (one a line, as above);
//	                                 none: an empty block
//	at T                             an empty block at market time T
//	read [at=T] [by=SIGNER]          one readings transaction: below, one
//	                                 reading a line, METER TIME [import=]
//	                                 [export=] [production=] [seq=] [key=] [fine=TEXT] [fine_bytes=]
//	send NAME [flip=I] [replace=(OLD, NEW)]   redeliver held bytes, spoiled
//	snapshot / compare               what changed since the snapshot
//	wallets [ID …], participant ID …, info [FIELD …], params [FIELD …],
//	listing T [book], clearing T, state T, listings, order ID, assets, batteries, meters, gateways,
//	settlement T, settlements, statement ID [from=T] [to=T], query PATH,
//	writes (keys the last block wrote), events   state, printed deterministically
//	check-community T                ok if settlement T meets every requirement of
//	                                 the community imbalance rule (checkCommunity);
//	                                 a violation fails the test, rewrite or not
//
// Setup commands print nothing and fail the test unless their transactions
// are accepted. Values: times are HH:MM[:SS] after genesis (hours may pass
// 24; a bare integer is taken as it is); numbers may use _ and end in u (a
// currency unit, 10⁹ nano-units); key=NAME is NAME's public key; (a, b) is
// a list and N*V a list of N copies of V. Transaction fields are the
// message's JSON names; also nonce=N (signed at N; the counter stays),
// signed_by=ID (signed with ID's key), chain=ID, registered=H, as=NAME
// (keep the bytes for send) and hold (sign and keep, do not deliver).
// Money must be conserved after every block.
//
// Printed figures omit zero fields; times print as HH:MM[:SS], keys as
// key(NAME), numbers from 10,000 with _ every three digits.
func TestScript(t *testing.T) {
	datadriven.Walk(t, "testdata/script", func(t *testing.T, path string) {
		s := &script{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return s.run(t, d)
		})
	})
}

type script struct {
	h       *harness
	devices map[string]*device
	held    map[string][]byte
	res     []contract.TxResult // the last block's
	snap    *snapshot
}

func (s *script) run(t *testing.T, d *datadriven.TestData) string {
	t.Helper()
	fail := func(format string, args ...any) string {
		d.Fatalf(t, format, args...)
		return ""
	}
	if d.Cmd == "genesis" {
		return s.genesis(t, d)
	}
	if s.h == nil {
		return fail("%s before genesis", d.Cmd)
	}
	s.h.t = t
	pos, kv := args(d.CmdArgs)
	var out strings.Builder
	switch d.Cmd {
	case "members":
		for _, id := range pos {
			s.setup(t, d, "operator", contract.TypeRegisterParticipant, map[string]any{
				"id": id, "role": "member", "node_type": "household", "pub_key": pubOf(id)})
		}
	case "fund":
		need(t, d, pos, 2)
		s.setup(t, d, "operator", contract.TypeIssue, map[string]any{"to": pos[0], "amount": value("amount", pos[1])})
	case "res":
		need(t, d, pos, 3)
		s.setup(t, d, pos[0], contract.TypeRegisterRES, map[string]any{"id": pos[1], "kind": "PV", "capacity_w": value("capacity_w", pos[2])})
		if !slices.Contains(pos, "unapproved") {
			s.setup(t, d, "dso", contract.TypeApproveRES, map[string]any{"id": pos[1]})
		}
	case "battery":
		need(t, d, pos, 5)
		s.setup(t, d, pos[0], contract.TypeRegisterBattery, map[string]any{"id": pos[1], "capacity_wh": value("capacity_wh", pos[2]),
			"max_charge_w": value("max_charge_w", pos[3]), "max_discharge_w": value("max_discharge_w", pos[4])})
		if !slices.Contains(pos, "unapproved") {
			s.setup(t, d, "dso", contract.TypeApproveBattery, map[string]any{"id": pos[1]})
		}
	case "gateway":
		need(t, d, pos, 2)
		s.setup(t, d, "operator", contract.TypeRegisterGateway, map[string]any{"id": pos[0], "owner": pos[1], "pub_key": pubOf(gwKeyID(pos[0]))})
	case "meter":
		need(t, d, pos, 2)
		m := map[string]any{"id": pos[0], "owner": pos[1]}
		dev := s.device(pos[0])
		if g := kv["gateway"]; g != "" {
			m["gateway"] = g
			dev.keyID = gwKeyID(g)
		} else {
			m["pub_key"] = pubOf(devKeyID(pos[0]))
		}
		if r := kv["res"]; r != "" {
			m["res"] = r
		}
		if b := kv["battery"]; b != "" {
			m["battery"] = b
		}
		s.setup(t, d, "operator", contract.TypeRegisterMeter, m)
	case "at":
		need(t, d, pos, 1)
		s.block(t, value("at", pos[0]).(int64))
	case "block":
		mt := s.h.mt + 1
		if v, ok := kv["at"]; ok {
			mt = value("at", v).(int64)
		}
		var txs [][]byte
		var lines []string
		for _, line := range nonEmptyLines(d.Input) {
			cmd, cargs, err := datadriven.ParseLine(line)
			if err != nil {
				return fail("%v", err)
			}
			raw, deliver := s.tx(t, d, cmd, cargs)
			if deliver {
				txs = append(txs, raw)
				lines = append(lines, cmd)
			}
		}
		for i, r := range s.block(t, mt, txs...) {
			out.WriteString(s.outcome(t, lines[i], r, -1))
		}
	case "send":
		raw, _ := s.tx(t, d, "send", d.CmdArgs)
		s.deliver(t, &out, "send", raw, kv)
	case "read":
		signer := "operator"
		if v := kv["by"]; v != "" {
			signer = v
		}
		var entries []contract.ReadingEntry
		for _, line := range nonEmptyLines(d.Input) {
			entries = append(entries, s.reading(t, d, line))
		}
		raw := s.h.tx(signer, &contract.MsgReadings{Readings: entries})
		mt := s.h.mt + 1
		if v, ok := kv["at"]; ok {
			mt = value("at", v).(int64)
		}
		r := s.block(t, mt, raw)[0]
		out.WriteString(s.outcome(t, contract.TypeReadings, r, len(entries)))
	case "snapshot":
		snap := s.h.snapshot()
		s.snap = &snap
	case "compare":
		if s.snap == nil {
			return fail("compare without a snapshot")
		}
		out.WriteString(s.compare(*s.snap, s.h.snapshot()))
	case "wallets":
		ids := pos
		if len(ids) == 0 {
			for _, p := range s.h.s.Participants() {
				ids = append(ids, p.ID)
			}
		}
		for _, id := range ids {
			p, ok := s.h.s.Participant(id)
			if !ok {
				fmt.Fprintf(&out, "%s: none\n", id)
				continue
			}
			fmt.Fprintf(&out, "%s balance=%s escrow=%s", id, num(p.Balance), num(p.Escrow))
			for _, to := range sortedKeys(p.Owes) {
				fmt.Fprintf(&out, " owes %s %s", to, num(p.Owes[to]))
			}
			out.WriteString("\n")
		}
	case "participant":
		need(t, d, pos, 1)
		for _, id := range pos {
			p, ok := s.h.s.Participant(id)
			if !ok {
				fmt.Fprintf(&out, "%s: none\n", id)
				continue
			}
			out.WriteString(render(p, nil))
		}
	case "info":
		out.WriteString(render(s.h.s.Info(), pos))
	case "params":
		out.WriteString(render(s.h.s.Params(), pos))
	case "listing":
		need(t, d, pos, 1)
		l, ok := s.h.s.Listing(value("listing", pos[0]).(int64))
		if !ok {
			return "none\n"
		}
		if !slices.Contains(pos, "book") {
			l.Book = nil
		}
		out.WriteString(render(l, nil))
	case "clearing", "state":
		need(t, d, pos, 1)
		l, ok := s.h.s.Listing(value("listing", pos[0]).(int64))
		if !ok {
			return "none\n"
		}
		if d.Cmd == "state" {
			return string(l.State) + "\n"
		}
		if l.Clearing == nil {
			return "none\n"
		}
		out.WriteString(render(l.Clearing, nil))
	case "listings":
		for _, l := range s.h.s.Listings(0, forever, false) {
			out.WriteString(renderLine(l))
		}
	case "order":
		need(t, d, pos, 1)
		o, ok := s.h.s.Order(pos[0])
		if !ok {
			return "none\n"
		}
		out.WriteString(render(o, nil))
	case "assets":
		for _, r := range s.h.s.RESList() {
			out.WriteString(renderLine(r))
		}
	case "batteries":
		for _, b := range s.h.s.Batteries() {
			out.WriteString(renderLine(b))
		}
	case "meters":
		for _, m := range s.h.s.Meters() {
			out.WriteString(render(m, nil))
		}
	case "gateways":
		for _, g := range s.h.s.Gateways() {
			out.WriteString(renderLine(g))
		}
	case "settlement":
		need(t, d, pos, 1)
		st, ok := s.h.s.Settlement(value("listing", pos[0]).(int64))
		if !ok {
			return "none\n"
		}
		out.WriteString(render(st, nil))
	case "check-community":
		need(t, d, pos, 1)
		mt := value("listing", pos[0]).(int64)
		st, ok := s.h.s.Settlement(mt)
		if !ok {
			return "none\n"
		}
		if err := communityViolation(st, s.h.listing(mt)); err != nil {
			return fail("%v", err)
		}
		return "ok\n"
	case "settlements":
		for _, st := range s.h.s.Settlements(0, forever) {
			fmt.Fprintf(&out, "%s height=%d", clock(st.Start), st.Height)
			if len(st.Missing) > 0 {
				fmt.Fprintf(&out, " missing=(%s)", strings.Join(st.Missing, ", "))
			}
			out.WriteString("\n")
		}
	case "statement":
		need(t, d, pos, 1)
		from, to := int64(0), forever
		if v, ok := kv["from"]; ok {
			from = value("from", v).(int64)
		}
		if v, ok := kv["to"]; ok {
			to = value("to", v).(int64)
		}
		rows, err := s.h.s.Statement(pos[0], from, to)
		if err != nil {
			return "error " + contract.CodeOf(err).Name() + "\n"
		}
		for _, r := range rows {
			out.WriteString(render(r, nil))
		}
	case "query":
		need(t, d, pos, 1)
		raw, err := s.h.s.Query(pos[0])
		if err != nil {
			return "error " + contract.CodeOf(err).Name() + "\n"
		}
		out.WriteString(renderJSON(raw, nil))
	case "writes":
		for _, kv := range s.h.last.Writes {
			out.WriteString(kv.Key + "\n")
		}
	case "events":
		for i, r := range s.res {
			for _, e := range r.Events {
				fmt.Fprintf(&out, "tx %d: %s\n", i, renderEvent(e))
			}
		}
		for _, e := range s.h.events {
			out.WriteString(renderEvent(e) + "\n")
		}
	default:
		if !isTxType(d.Cmd) {
			return fail("unknown command %q", d.Cmd)
		}
		raw, deliver := s.tx(t, d, d.Cmd, d.CmdArgs)
		if deliver {
			s.deliver(t, &out, d.Cmd, raw, kv)
		}
	}
	return out.String()
}

func (s *script) genesis(t *testing.T, d *datadriven.TestData) string {
	pos, kv := args(d.CmdArgs)
	edit := func(g *contract.Genesis) {
		if err := overlay(&g.Params, kv); err != nil {
			d.Fatalf(t, "genesis: %v", err)
		}
	}
	if slices.Contains(pos, "bare") {
		s.h = newGenesisHarness(t, edit)
	} else {
		s.h = newHarness(t, edit)
	}
	s.devices, s.held, s.res, s.snap = map[string]*device{}, map[string][]byte{}, nil, nil
	return ""
}

// block makes a block at market time mt and checks that money is conserved.
func (s *script) block(t *testing.T, mt int64, txs ...[]byte) []contract.TxResult {
	s.res = s.h.blockAt(mt, txs...)
	s.h.conserved()
	return s.res
}

// deliver puts one transaction in a block of its own and prints its outcome.
func (s *script) deliver(t *testing.T, out *strings.Builder, typ string, raw []byte, kv map[string]string) {
	mt := s.h.mt + 1
	if v, ok := kv["at"]; ok {
		mt = value("at", v).(int64)
	}
	out.WriteString(s.outcome(t, typ, s.block(t, mt, raw)[0], -1))
}

// outcome is a transaction's code, the order it made and, for readings,
// what was accepted and refused (n entries; -1: not a readings tx).
func (s *script) outcome(t *testing.T, typ string, r contract.TxResult, n int) string {
	if r.Code != contract.CodeOK {
		return r.Code.Name() + "\n"
	}
	var b strings.Builder
	b.WriteString("ok")
	for _, e := range r.Events {
		if e.Type == "BuyOffer" || e.Type == "RESOffer" {
			b.WriteString(" order=" + attrs(e)["order"])
		}
	}
	if typ == contract.TypeReadings && n >= 0 {
		accepted, refused := readingOutcomes(t, r, n)
		fmt.Fprintf(&b, " accepted=%d", accepted)
		for _, x := range refused {
			b.WriteString("\nrefused " + strings.Replace(x, ":", " ", 1))
		}
	}
	return b.String() + "\n"
}

// setup sends a transaction that must be accepted.
func (s *script) setup(t *testing.T, d *datadriven.TestData, signer, typ string, msg map[string]any) {
	r := s.block(t, s.h.mt+1, s.sign(t, d, signer, typ, msg, map[string]string{}))[0]
	if r.Code != contract.CodeOK {
		d.Fatalf(t, "%s by %s: %s (%s)", typ, signer, r.Code.Name(), r.Log)
	}
}

// tx builds the transaction a directive describes; deliver is false when
// it is held.
func (s *script) tx(t *testing.T, d *datadriven.TestData, typ string, cargs []datadriven.CmdArg) (raw []byte, deliver bool) {
	pos, kv := args(cargs)
	if typ == "send" {
		need(t, d, pos, 1)
		raw, ok := s.held[pos[0]]
		if !ok {
			d.Fatalf(t, "nothing held as %q", pos[0])
		}
		raw = bytes.Clone(raw)
		if v, ok := kv["flip"]; ok {
			i, _ := strconv.Atoi(v)
			raw[i] ^= 1
		}
		for _, a := range cargs {
			if a.Key == "replace" && len(a.Vals) == 2 {
				raw = bytes.Replace(raw, []byte(a.Vals[0]), []byte(a.Vals[1]), 1)
			}
		}
		return raw, true
	}
	if !isTxType(typ) {
		d.Fatalf(t, "unknown transaction type %q", typ)
	}
	need(t, d, pos, 1)
	msg := map[string]any{}
	reserved := map[string]bool{"at": true, "nonce": true, "signed_by": true, "chain": true, "registered": true, "as": true}
	for _, a := range cargs {
		if a.Key == pos[0] && len(a.Vals) == 0 || reserved[a.Key] || a.Key == "hold" {
			continue
		}
		if typ == contract.TypeSetParams {
			continue
		}
		if a.Key == "key" {
			msg["pub_key"] = pubOf(a.Vals[0])
			continue
		}
		if len(a.Vals) == 1 {
			msg[a.Key] = value(a.Key, a.Vals[0])
		} else {
			msg[a.Key] = list(a.Key, a.Vals)
		}
	}
	if typ == contract.TypeRegisterParticipant && msg["pub_key"] == nil {
		msg["pub_key"] = pubOf(fmt.Sprint(msg["id"]))
	}
	if typ == contract.TypeSetParams {
		p := s.h.s.Params()
		overlayArgs := map[string]string{}
		for _, a := range cargs[1:] {
			if !reserved[a.Key] {
				overlayArgs[a.Key] = a.String()[len(a.Key)+1:]
			}
		}
		if err := overlay(&p, overlayArgs); err != nil {
			d.Fatalf(t, "%v", err)
		}
		msg = map[string]any{"params": p}
	}
	raw = s.sign(t, d, pos[0], typ, msg, kv)
	if name := kv["as"]; name != "" {
		s.held[name] = raw
	}
	return raw, !slices.Contains(pos, "hold")
}

// sign signs msg as signer, with the next nonce unless kv says otherwise.
func (s *script) sign(t *testing.T, d *datadriven.TestData, signer, typ string, msg map[string]any, kv map[string]string) []byte {
	m, err := json.Marshal(msg)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	b := contract.Body{ChainID: testChain, Signer: signer, Type: typ, Msg: m}
	if p, ok := s.h.s.Participant(signer); ok {
		b.Registered = p.Registered
	}
	if v, ok := kv["registered"]; ok {
		b.Registered = value("registered", v).(int64)
	}
	if v, ok := kv["nonce"]; ok {
		b.Nonce = uint64(value("nonce", v).(int64))
	} else {
		s.h.nonces[signer]++
		b.Nonce = s.h.nonces[signer]
	}
	if v, ok := kv["chain"]; ok {
		b.ChainID = v
	}
	key := keyOf(signer)
	if v, ok := kv["signed_by"]; ok {
		key = keyOf(v)
	}
	body, err := json.Marshal(b)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	return signBody(t, key, body)
}

func (s *script) device(meter string) *device {
	dev, ok := s.devices[meter]
	if !ok {
		dev = &device{meter: meter, keyID: devKeyID(meter)}
		s.devices[meter] = dev
	}
	return dev
}

// reading is one line of a read directive: METER TIME [import=…]
// [export=…] [production=…] [seq=N] [key=NAME] [fine=TEXT].
func (s *script) reading(t *testing.T, d *datadriven.TestData, line string) contract.ReadingEntry {
	meter, cargs, err := datadriven.ParseLine(line)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	pos, kv := args(cargs)
	need(t, d, pos, 1)
	dev := s.device(meter)
	r := reading.Reading{Meter: meter, Registers: reading.Registers{Time: value("time", pos[0]).(int64)}}
	for k, p := range map[string]*int64{"import": &r.ImportWh, "export": &r.ExportWh, "production": &r.ProductionWh} {
		if v, ok := kv[k]; ok {
			*p = value(k, v).(int64)
		}
	}
	if v, ok := kv["seq"]; ok {
		r.Seq = uint64(value("seq", v).(int64))
	} else {
		dev.seq++
		r.Seq = dev.seq
	}
	keyID := dev.keyID
	if v, ok := kv["key"]; ok {
		keyID = v
	}
	e := signedReading(t, keyID, r)
	if v, ok := kv["fine_bytes"]; ok {
		e.FineHash = []byte(v)
	}
	if v, ok := kv["fine"]; ok {
		h := sha256.Sum256([]byte(v))
		e.FineHash = h[:]
	}
	return e
}

// compare says what differs between two snapshots.
func (s *script) compare(a, b snapshot) string {
	var diffs []string
	if !reflect.DeepEqual(a.info, b.info) {
		diffs = append(diffs, "info")
	}
	if !reflect.DeepEqual(a.participants, b.participants) {
		diffs = append(diffs, "participants")
	}
	if a.listings != b.listings {
		diffs = append(diffs, "listings")
	}
	if a.res != b.res || a.batteries != b.batteries || a.meters != b.meters {
		diffs = append(diffs, "registry")
	}
	if !reflect.DeepEqual(a.params, b.params) {
		diffs = append(diffs, "params")
	}
	if !bytes.Equal(a.hash, b.hash) {
		diffs = append(diffs, "app hash")
	}
	if len(diffs) == 0 {
		return "unchanged\n"
	}
	return "changed: " + strings.Join(diffs, ", ") + "\n"
}

func isTxType(typ string) bool {
	switch typ {
	case contract.TypeRegisterParticipant, contract.TypeSuspendParticipant, contract.TypeReinstateParticipant,
		contract.TypeRegisterRES, contract.TypeApproveRES, contract.TypeRegisterMeter, contract.TypeIssue,
		contract.TypeRedeem, contract.TypeSetParams, contract.TypeOffer, contract.TypeBid, contract.TypeCancel,
		contract.TypeRegisterGateway, contract.TypeReadings, contract.TypePlan, contract.TypeDRRequest,
		contract.TypeDRCommit, contract.TypeRotateDeviceKey, contract.TypeOffboard,
		contract.TypeRegisterBattery, contract.TypeApproveBattery:
		return true
	}
	return false
}

func need(t *testing.T, d *datadriven.TestData, pos []string, n int) {
	if len(pos) < n {
		d.Fatalf(t, "%s needs %d arguments", d.Cmd, n)
	}
}

// args splits directive arguments into positional ones and key=value ones.
func args(cargs []datadriven.CmdArg) (pos []string, kv map[string]string) {
	kv = map[string]string{}
	for _, a := range cargs {
		switch len(a.Vals) {
		case 0:
			pos = append(pos, a.Key)
		case 1:
			kv[a.Key] = a.Vals[0]
		default:
			kv[a.Key] = "(" + strings.Join(a.Vals, ", ") + ")"
		}
	}
	return pos, kv
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// timeKeys are the JSON names whose integers are market times.
var timeKeys = map[string]bool{
	"listing": true, "start": true, "end": true, "gate_closure": true, "market_time": true,
	"time": true, "interval": true, "from": true, "to": false, "at": true, "registered": false,
}

// value reads one argument value.
func value(key, v string) any {
	if n, ok := parseNum(v); ok {
		return n
	}
	if timeKeys[key] || key == "to" && strings.Contains(v, ":") {
		if n, ok := parseClock(v); ok {
			return n
		}
	}
	if n, rep, ok := strings.Cut(v, "*"); ok {
		if k, err := strconv.Atoi(n); err == nil {
			out := make([]any, k)
			for i := range out {
				out[i] = value(key, rep)
			}
			return out
		}
	}
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	return v
}

func list(key string, vals []string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = value(key, v)
	}
	return out
}

func parseNum(v string) (int64, bool) {
	mult := int64(1)
	if strings.HasSuffix(v, "u") {
		v, mult = strings.TrimSuffix(v, "u"), unit
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
	if err != nil || v == "" {
		return 0, false
	}
	return n * mult, true
}

// parseClock reads HH:MM[:SS] after genesis.
func parseClock(v string) (int64, bool) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	var n [3]int64
	for i, p := range parts {
		x, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return 0, false
		}
		n[i] = x
	}
	return T0 + n[0]*hour + n[1]*60 + n[2], true
}

// clock prints a market time as HH:MM[:SS] after genesis.
func clock(mt int64) string {
	d := mt - T0
	if d < 0 || d > 10_000*hour {
		return strconv.FormatInt(mt, 10)
	}
	s := fmt.Sprintf("%02d:%02d", d/hour, d%hour/60)
	if d%60 != 0 {
		s += fmt.Sprintf(":%02d", d%60)
	}
	return s
}

// num prints an integer with _ every three digits from 10,000.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n > -10_000 && n < 10_000 {
		return s
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('_')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// overlay edits params by JSON name with the script's values.
func overlay(p *contract.Params, kv map[string]string) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	for k, v := range kv {
		if k == "bare" || k == "at" {
			continue
		}
		if _, ok := m[k]; !ok && k != "imbalance" && k != "retain_intervals" {
			return fmt.Errorf("no parameter %q", k)
		}
		if strings.HasPrefix(v, "(") {
			m[k] = list(k, strings.Split(strings.Trim(v, "()"), ", "))
		} else {
			m[k] = value(k, v)
		}
	}
	raw, err = json.Marshal(m)
	if err != nil {
		return err
	}
	*p = contract.Params{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(p)
}

// Rendering. Values go through their JSON form (the wire names clients
// see), keeping the fields' order, leaving zero fields out.

type field struct {
	key string
	val any // json.Number, string, bool, nil, []any or []field
}

func render(v any, only []string) string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return renderJSON(raw, only)
}

// renderLine renders an object's scalar fields on one line.
func renderLine(v any) string {
	return strings.ReplaceAll(strings.TrimSuffix(render(v, nil), "\n"), "\n", " ") + "\n"
}

func renderJSON(raw []byte, only []string) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v := decodeOrdered(dec)
	var b strings.Builder
	if fs, ok := v.([]field); ok && len(only) > 0 {
		var kept []field
		for _, f := range fs {
			if slices.Contains(only, f.key) {
				kept = append(kept, f)
			}
		}
		var line []string
		for _, f := range kept {
			line = append(line, f.key+"="+scalar(f.key, f.val))
		}
		return strings.Join(line, " ") + "\n"
	}
	writeValue(&b, "", "", v)
	return b.String()
}

func decodeOrdered(dec *json.Decoder) any {
	tok, err := dec.Token()
	if err != nil {
		panic(err)
	}
	switch tok {
	case json.Delim('{'):
		fs := []field{}
		for dec.More() {
			k, _ := dec.Token()
			fs = append(fs, field{key: k.(string), val: decodeOrdered(dec)})
		}
		dec.Token()
		return fs
	case json.Delim('['):
		xs := []any{}
		for dec.More() {
			xs = append(xs, decodeOrdered(dec))
		}
		dec.Token()
		return xs
	}
	return tok
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case json.Number:
		return x == "0"
	case string:
		return x == ""
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case []field:
		return len(x) == 0
	}
	return false
}

func scalar(key string, v any) string {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return x.String()
		}
		if timeKeys[key] || key == "to" {
			return clock(n)
		}
		return num(n)
	case string:
		if key == "pub_key" {
			return keyName(x)
		}
		if n, err := strconv.ParseInt(x, 10, 64); err == nil && (timeKeys[key] || key == "to") {
			return clock(n)
		}
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalar(key, e)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case []field:
		parts := make([]string, len(x))
		for i, f := range x {
			parts[i] = f.key + "=" + scalar(f.key, f.val)
		}
		return "{" + strings.Join(parts, " ") + "}"
	case nil:
		return "none"
	}
	return fmt.Sprint(v)
}

// isFlat says whether a value prints inline.
func isFlat(v any) bool {
	switch x := v.(type) {
	case []field:
		return false
	case []any:
		for _, e := range x {
			if !isFlat(e) {
				return false
			}
		}
	}
	return true
}

// writeValue writes v under a heading (empty: none) at an indent: an
// object's scalar fields on one line, its nested values below, indented.
func writeValue(w io.Writer, indent, heading string, v any) {
	switch x := v.(type) {
	case []field:
		var line []string
		var nested []field
		for _, f := range x {
			if isZero(f.val) {
				continue
			}
			if isFlat(f.val) {
				line = append(line, f.key+"="+scalar(f.key, f.val))
			} else {
				nested = append(nested, f)
			}
		}
		head := strings.TrimSpace(heading + " " + strings.Join(line, " "))
		if head != "" {
			fmt.Fprintf(w, "%s%s\n", indent, head)
		} else if heading == "" && len(nested) == 0 {
			fmt.Fprintf(w, "%s(empty)\n", indent)
		}
		inner := indent
		if head != "" {
			inner += "  "
		}
		for _, f := range nested {
			writeValue(w, inner, f.key+":", f.val)
		}
	case []any:
		if heading != "" {
			fmt.Fprintf(w, "%s%s\n", indent, heading)
			indent += "  "
		}
		for _, e := range x {
			writeValue(w, indent, "-", e)
		}
	default:
		fmt.Fprintf(w, "%s%s %s\n", indent, heading, scalar("", v))
	}
}

// keyName names a public key (base64) by the id whose key it is.
func keyName(b64 string) string {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return b64
	}
	name := ""
	keys.Range(func(id, k any) bool {
		if bytes.Equal(k.(ed25519.PrivKey).PubKey().Bytes(), raw) {
			name = id.(string)
			return false
		}
		return true
	})
	if name == "" {
		return b64
	}
	return "key(" + name + ")"
}

func renderEvent(e contract.Event) string {
	var b strings.Builder
	b.WriteString(e.Type)
	for _, a := range e.Attrs {
		b.WriteString(" " + a.Key + "=" + scalar(a.Key, a.Value))
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}
