package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/reading"

	"github.com/gridledger/gridledger/internal/sigs"
)

// Wire format of a transaction:
//
//	byte 0       version (TxVersion)
//	bytes 1..64  ed25519 signature over the body bytes, exactly as sent
//	bytes 65..   body: JSON {"chain_id","signer","nonce","type","msg"}
//
// The signature covers the body's bytes as they are on the wire; nothing is
// re-encoded before verification. The chain id inside the body stops a
// transaction signed for one community being replayed on another; the nonce,
// strictly increasing per signer, stops it being replayed on the same one.
const (
	TxVersion   = 1
	MaxTxBytes  = 8 << 10
	sigSize     = ed25519.SignatureSize
	txHeaderLen = 1 + sigSize
)

// Transaction types.
const (
	TypeRegisterParticipant  = "register_participant"
	TypeSuspendParticipant   = "suspend_participant"
	TypeReinstateParticipant = "reinstate_participant"
	TypeRegisterRES          = "register_res"
	TypeApproveRES           = "approve_res"
	TypeRegisterMeter        = "register_meter"
	TypeIssue                = "issue"
	TypeRedeem               = "redeem"
	TypeSetParams            = "set_params"
	TypeOffer                = "offer"
	TypeBid                  = "bid"
	TypeCancel               = "cancel"
	TypeRegisterGateway      = "register_gateway"
	TypeReadings             = "readings"
	TypePlan                 = "plan"
	TypeDRRequest            = "dr_request"
	TypeDRCommit             = "dr_commit"
	TypeRotateDeviceKey      = "rotate_device_key"
	TypeOffboard             = "offboard"
)

// Body is the signed part of a transaction.
type Body struct {
	ChainID string `json:"chain_id"`
	Signer  string `json:"signer"`
	// Registered is the height the signer was registered at (Participant.
	// Registered), left out for the genesis's participants.
	Registered int64           `json:"registered,omitempty"`
	Nonce      uint64          `json:"nonce"`
	Type       string          `json:"type"`
	Msg        json.RawMessage `json:"msg"`
}

// Tx is a decoded transaction: the body, its decoded message, and the exact
// bytes the signature covers.
type Tx struct {
	Body
	Message   Msg
	Signature []byte
	SignBytes []byte
}

// Msg is one transaction message. ValidateBasic checks what can be checked
// without state (shapes and ranges).
type Msg interface {
	ValidateBasic() error
}

// Messages. Energy in Wh, prices in micro-units per kWh, money in nano-units.
type (
	// MsgRegisterParticipant adds a participant (operator only).
	MsgRegisterParticipant struct {
		ID string `json:"id"`
		// EmailHash is the salted SHA-256 of the participant's e-mail
		// (EmailHash): the address and its salt stay off the ledger, with
		// the operator (docs/privacy.md).
		EmailHash string   `json:"email_hash,omitempty"`
		Role      Role     `json:"role"`
		NodeType  NodeType `json:"node_type,omitempty"`
		PubKey    []byte   `json:"pub_key"`
		// Feeder is the distribution feeder the site hangs on, if known.
		Feeder string `json:"feeder,omitempty"`
	}
	// MsgSetSuspended suspends or reinstates a participant (operator only).
	MsgSetSuspended struct {
		ID     string `json:"id"`
		Reason string `json:"reason,omitempty"`
	}
	// MsgRegisterRES registers a generation asset owned by the signer.
	MsgRegisterRES struct {
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		CapacityW int64  `json:"capacity_w"`
	}
	// MsgApproveRES approves an asset for trading (DSO only).
	MsgApproveRES struct {
		ID string `json:"id"`
	}
	// MsgRegisterMeter registers a meter to a participant (operator only).
	// A meter that can sign has its own PubKey; one that cannot names the
	// Gateway that reads it and signs its readings instead.
	MsgRegisterMeter struct {
		ID      string `json:"id"`
		Owner   string `json:"owner"`
		PubKey  []byte `json:"pub_key,omitempty"`
		Gateway string `json:"gateway,omitempty"`
		RES     string `json:"res,omitempty"`
		// Battery: the meter is the battery's sub-meter (battery.go); a
		// meter measures a RES or a battery, not both.
		Battery string `json:"battery,omitempty"`
	}
	// MsgRegisterGateway registers a gateway device (a home's EMS or the
	// community gateway) whose key signs readings of meters that cannot
	// sign (operator only).
	MsgRegisterGateway struct {
		ID     string `json:"id"`
		Owner  string `json:"owner"`
		PubKey []byte `json:"pub_key"`
	}
	// MsgReadings carries signed meter readings onto the ledger. Each is
	// verified again here against its meter's (or gateway's) key, and
	// accepted or refused on its own.
	MsgReadings struct {
		Readings []ReadingEntry `json:"readings"`
	}
	// MsgRotateDeviceKey replaces the key of a meter or a gateway device
	// (operator only): readings signed with the old key are refused from
	// the next block on. A meter read by a gateway that gets a key of
	// its own signs for itself from then on.
	MsgRotateDeviceKey struct {
		ID     string `json:"id"`
		PubKey []byte `json:"pub_key"`
	}
	// MsgIssue credits currency bought with real money (operator only).
	MsgIssue struct {
		To     string `json:"to"`
		Amount int64  `json:"amount"`
	}
	// MsgRedeem burns currency paid out in real money (operator only).
	MsgRedeem struct {
		From   string `json:"from"`
		Amount int64  `json:"amount"`
	}
	// MsgSetParams replaces the community parameters (operator only).
	MsgSetParams struct {
		Params Params `json:"params"`
	}
	// MsgOffer is a RESOffer: Wh from an approved asset at a price per kWh.
	// The price's JSON tag (here and in MsgBid) lacks the unit the field
	// name carries: see Units in the package doc.
	MsgOffer struct {
		Listing     int64  `json:"listing"`
		RES         string `json:"res"`
		Wh          int64  `json:"wh"`
		PricePerKWh int64  `json:"price"`
	}
	// MsgBid is a BuyOffer: Wh wanted and the most paid per kWh.
	MsgBid struct {
		Listing     int64 `json:"listing"`
		Wh          int64 `json:"wh"`
		PricePerKWh int64 `json:"price"`
	}
	// MsgCancel withdraws the signer's order before gate closure.
	MsgCancel struct {
		Order string `json:"order"`
	}
	// MsgPlan is a member's plan for the coming intervals from Start:
	// planned net import (import − export, may be negative) and the
	// flexibility left (Wh it could still reduce), one per interval.
	// A home with a battery adds its planned battery energy per interval
	// (grid side: charged positive, discharged negative; part of NetWh)
	// and its state of charge at each interval's end, for the member's
	// dashboard and the DSO.
	MsgPlan struct {
		Start        int64   `json:"start"`
		NetWh        []int64 `json:"net_wh"`
		FlexWh       []int64 `json:"flex_wh,omitempty"`
		BatteryWh    []int64 `json:"battery_wh,omitempty"`
		BatterySoCWh []int64 `json:"battery_soc_wh,omitempty"`
	}
	// MsgDRRequest is the DSO's demand-response request (DSO only).
	MsgDRRequest struct {
		ID              string     `json:"id"`
		Start           int64      `json:"start"`
		Intervals       int        `json:"intervals"`
		Feeder          string     `json:"feeder,omitempty"`
		ReductionW      int64      `json:"reduction_w"`
		IncentivePerKWh int64      `json:"incentive"`
		Targets         []DRTarget `json:"targets,omitempty"`
	}
	// MsgDRCommit is a member's promised reduction, Wh per interval of the
	// request.
	MsgDRCommit struct {
		Request     string  `json:"request"`
		ReductionWh []int64 `json:"reduction_wh"`
	}
)

// ReadingEntry is one signed reading in a MsgReadings, with the hash of
// the fine-grained data (minute readings, power) the gateway keeps off the
// chain for this meter since its previous reading on the ledger.
type ReadingEntry struct {
	reading.Signed
	FineHash []byte `json:"fine_hash,omitempty"`
}

// MaxReadingsPerTx bounds a MsgReadings, and MaxReadingsTxBytes its
// transaction: a gateway batches a community's readings in one, beyond
// MaxTxBytes. 5,000 readings with the longest ids and largest numbers and
// a fine hash each take 1.92 MB.
const (
	MaxReadingsPerTx   = 5000
	MaxReadingsTxBytes = 2 << 20
)

// Limits on what a single order or payment may say: beyond them a number is
// a typo or an attack, and below them every product fits in int64.
const (
	MaxOrderWh     = 100_000_000               // 100 MWh in one order
	MaxPricePerKWh = 100_000_000               // 100 currency units per kWh
	MaxAmount      = 1_000_000 * 1_000_000_000 // one million currency units in nano-units
	MaxCapacityW   = 1_000_000_000             // 1 GW
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// CheckID refuses an id (of a participant, meter, order…) the ledger
// would not take, as malformed, naming what it is.
func CheckID(what, id string) error {
	if !idPattern.MatchString(id) {
		return errf(ErrMalformed, "%s %q: want 1-64 letters, digits or . _ : -", what, id)
	}
	return nil
}

func checkPubKey(k []byte) error {
	if len(k) != ed25519.PubKeySize {
		return errf(ErrMalformed, "public key is %d bytes, want %d", len(k), ed25519.PubKeySize)
	}
	return nil
}

func checkRange(what string, v, max int64) error {
	if v <= 0 || v > max {
		return errf(ErrBadQuantity, "%s %d: want 1..%d", what, v, max)
	}
	return nil
}

func (m *MsgRegisterParticipant) ValidateBasic() error {
	if err := CheckID("participant id", m.ID); err != nil {
		return err
	}
	if err := checkEmailHash(m.EmailHash); err != nil {
		return err
	}
	if !m.Role.valid() {
		return errf(ErrMalformed, "unknown role %q", m.Role)
	}
	if m.Role == RoleMember && !m.NodeType.valid() {
		return errf(ErrMalformed, "member needs a node type, one of %v, not %q", NodeTypes, m.NodeType)
	}
	if m.Role != RoleMember && m.NodeType != "" && !m.NodeType.valid() {
		return errf(ErrMalformed, "unknown node type %q", m.NodeType)
	}
	return checkPubKey(m.PubKey)
}

func (m *MsgSetSuspended) ValidateBasic() error {
	if len(m.Reason) > 256 {
		return errf(ErrMalformed, "reason longer than 256 bytes")
	}
	return CheckID("participant id", m.ID)
}

func (m *MsgRegisterRES) ValidateBasic() error {
	if err := CheckID("RES id", m.ID); err != nil {
		return err
	}
	if err := CheckID("RES kind", m.Kind); err != nil {
		return err
	}
	return checkRange("capacity_w", m.CapacityW, MaxCapacityW)
}

func (m *MsgApproveRES) ValidateBasic() error { return CheckID("RES id", m.ID) }

func (m *MsgRegisterMeter) ValidateBasic() error {
	if err := CheckID("meter id", m.ID); err != nil {
		return err
	}
	if err := CheckID("owner", m.Owner); err != nil {
		return err
	}
	if m.RES != "" {
		if err := CheckID("RES id", m.RES); err != nil {
			return err
		}
	}
	if m.Battery != "" {
		if m.RES != "" {
			return errf(ErrMalformed, "meter %q names RES %q and battery %q: a meter measures one asset", m.ID, m.RES, m.Battery)
		}
		if err := CheckID("battery id", m.Battery); err != nil {
			return err
		}
	}
	if m.Gateway != "" {
		if len(m.PubKey) != 0 {
			return errf(ErrMalformed, "a meter read by a gateway has no key of its own")
		}
		return CheckID("gateway id", m.Gateway)
	}
	return checkPubKey(m.PubKey)
}

func (m *MsgRotateDeviceKey) ValidateBasic() error {
	if err := CheckID("device id", m.ID); err != nil {
		return err
	}
	return checkPubKey(m.PubKey)
}

func (m *MsgRegisterGateway) ValidateBasic() error {
	if err := CheckID("gateway id", m.ID); err != nil {
		return err
	}
	if err := CheckID("owner", m.Owner); err != nil {
		return err
	}
	return checkPubKey(m.PubKey)
}

func (m *MsgReadings) ValidateBasic() error {
	if len(m.Readings) == 0 || len(m.Readings) > MaxReadingsPerTx {
		return errf(ErrMalformed, "%d readings: want 1..%d", len(m.Readings), MaxReadingsPerTx)
	}
	for i, e := range m.Readings {
		if len(e.FineHash) != 0 && len(e.FineHash) != 32 {
			return errf(ErrMalformed, "reading %d: fine_hash is %d bytes, want 32 (SHA-256)", i, len(e.FineHash))
		}
	}
	return nil
}

func (m *MsgIssue) ValidateBasic() error {
	if err := CheckID("participant id", m.To); err != nil {
		return err
	}
	return checkRange("amount", m.Amount, MaxAmount)
}

func (m *MsgRedeem) ValidateBasic() error {
	if err := CheckID("participant id", m.From); err != nil {
		return err
	}
	return checkRange("amount", m.Amount, MaxAmount)
}

func (m *MsgSetParams) ValidateBasic() error { return m.Params.Validate() }

func (m *MsgOffer) ValidateBasic() error {
	if err := CheckID("RES id", m.RES); err != nil {
		return err
	}
	if err := checkRange("wh", m.Wh, MaxOrderWh); err != nil {
		return err
	}
	return checkPrice(m.PricePerKWh)
}

func (m *MsgBid) ValidateBasic() error {
	if err := checkRange("wh", m.Wh, MaxOrderWh); err != nil {
		return err
	}
	return checkPrice(m.PricePerKWh)
}

func (m *MsgCancel) ValidateBasic() error {
	who, nonce, ok := strings.Cut(m.Order, "/")
	if _, err := strconv.ParseUint(nonce, 10, 64); !ok || err != nil || CheckID("order id", who) != nil {
		return errf(ErrMalformed, "order id %q: want participant/nonce", m.Order)
	}
	return nil
}

func (m *MsgPlan) ValidateBasic() error {
	if len(m.NetWh) == 0 || len(m.NetWh) > MaxPlanIntervals {
		return errf(ErrMalformed, "%d intervals: want 1..%d", len(m.NetWh), MaxPlanIntervals)
	}
	if m.FlexWh != nil && len(m.FlexWh) != len(m.NetWh) {
		return errf(ErrMalformed, "%d flex_wh for %d net_wh", len(m.FlexWh), len(m.NetWh))
	}
	for i, v := range m.NetWh {
		if v < -MaxOrderWh || v > MaxOrderWh {
			return errf(ErrBadQuantity, "net_wh[%d] = %d: want -%d..%d", i, v, int64(MaxOrderWh), int64(MaxOrderWh))
		}
	}
	for i, v := range m.FlexWh {
		if v < 0 || v > MaxOrderWh {
			return errf(ErrBadQuantity, "flex_wh[%d] = %d: want 0..%d", i, v, int64(MaxOrderWh))
		}
	}
	if (m.BatteryWh == nil) != (m.BatterySoCWh == nil) {
		return errf(ErrMalformed, "battery_wh and battery_soc_wh come together")
	}
	if m.BatteryWh != nil && (len(m.BatteryWh) != len(m.NetWh) || len(m.BatterySoCWh) != len(m.NetWh)) {
		return errf(ErrMalformed, "%d battery_wh and %d battery_soc_wh for %d net_wh", len(m.BatteryWh), len(m.BatterySoCWh), len(m.NetWh))
	}
	for i, v := range m.BatteryWh {
		if v < -MaxOrderWh || v > MaxOrderWh {
			return errf(ErrBadQuantity, "battery_wh[%d] = %d: want -%d..%d", i, v, int64(MaxOrderWh), int64(MaxOrderWh))
		}
	}
	for i, v := range m.BatterySoCWh {
		if v < 0 || v > MaxBatteryWh {
			return errf(ErrBadQuantity, "battery_soc_wh[%d] = %d: want 0..%d", i, v, int64(MaxBatteryWh))
		}
	}
	return nil
}

func (m *MsgDRRequest) ValidateBasic() error {
	if err := CheckID("request id", m.ID); err != nil {
		return err
	}
	if m.Feeder != "" {
		if err := CheckID("feeder", m.Feeder); err != nil {
			return err
		}
	}
	if m.Intervals < 1 || m.Intervals > MaxDRIntervals {
		return errf(ErrBadQuantity, "%d intervals: want 1..%d", m.Intervals, MaxDRIntervals)
	}
	if err := checkRange("reduction_w", m.ReductionW, MaxCapacityW); err != nil {
		return err
	}
	if err := checkRange("incentive", m.IncentivePerKWh, MaxPricePerKWh); err != nil {
		return err
	}
	if len(m.Targets) > MaxDRTargets {
		return errf(ErrMalformed, "%d targets: at most %d", len(m.Targets), MaxDRTargets)
	}
	seen := map[string]bool{}
	for _, t := range m.Targets {
		if err := CheckID("target", t.Member); err != nil {
			return err
		}
		if seen[t.Member] {
			return errf(ErrMalformed, "target %q named twice", t.Member)
		}
		seen[t.Member] = true
		if err := checkRange("target reduction_wh", t.ReductionWh, MaxOrderWh); err != nil {
			return err
		}
	}
	return nil
}

func (m *MsgDRCommit) ValidateBasic() error {
	if err := CheckID("request id", m.Request); err != nil {
		return err
	}
	if len(m.ReductionWh) == 0 || len(m.ReductionWh) > MaxDRIntervals {
		return errf(ErrMalformed, "%d reductions: want 1..%d", len(m.ReductionWh), MaxDRIntervals)
	}
	for i, v := range m.ReductionWh {
		if v < 0 || v > MaxOrderWh {
			return errf(ErrBadQuantity, "reduction_wh[%d] = %d: want 0..%d", i, v, int64(MaxOrderWh))
		}
	}
	return nil
}

func checkPrice(p int64) error {
	if p < 0 || p > MaxPricePerKWh {
		return errf(ErrBadQuantity, "price %d per kWh: want 0..%d", p, int64(MaxPricePerKWh))
	}
	return nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

// SignedParts splits a transaction into its signature and the bytes
// signed, without decoding them (false when it is too short or of an
// unknown version).
func SignedParts(raw []byte) (sig, signBytes []byte, ok bool) {
	if len(raw) <= txHeaderLen || raw[0] != TxVersion {
		return nil, nil, false
	}
	return raw[1:txHeaderLen], raw[txHeaderLen:], true
}

// DecodeTx parses a transaction and its message and checks everything that
// needs no state: shape, ranges, signer id. It never panics; every error
// wraps ErrMalformed or ErrBadQuantity, or ErrBadParams for a set_params
// whose parameters are incoherent. It does not verify the signature.
func DecodeTx(raw []byte) (*Tx, error) {
	if len(raw) > MaxReadingsTxBytes {
		return nil, errf(ErrMalformed, "transaction is %d bytes, limit %d", len(raw), MaxReadingsTxBytes)
	}
	if len(raw) <= txHeaderLen {
		return nil, errf(ErrMalformed, "transaction is %d bytes, too short", len(raw))
	}
	if raw[0] != TxVersion {
		return nil, errf(ErrMalformed, "unknown transaction version %d", raw[0])
	}
	tx := &Tx{Signature: raw[1:txHeaderLen], SignBytes: raw[txHeaderLen:]}
	if err := strictUnmarshal(tx.SignBytes, &tx.Body); err != nil {
		return nil, errf(ErrMalformed, "body: %v", err)
	}
	if len(raw) > MaxTxBytes && tx.Type != TypeReadings {
		return nil, errf(ErrMalformed, "transaction is %d bytes, limit %d", len(raw), MaxTxBytes)
	}
	if err := CheckID("signer", tx.Signer); err != nil {
		return nil, err
	}
	if tx.Nonce == 0 {
		return nil, errf(ErrMalformed, "nonce must be at least 1")
	}
	msg, ok := newMsg(tx.Type)
	if !ok {
		return nil, errf(ErrMalformed, "unknown transaction type %q", tx.Type)
	}
	if err := strictUnmarshal(tx.Msg, msg); err != nil {
		return nil, errf(ErrMalformed, "%s message: %v", tx.Type, err)
	}
	if err := msg.ValidateBasic(); err != nil {
		return nil, err
	}
	tx.Message = msg
	return tx, nil
}

// Verify checks the signature against a public key.
func (tx *Tx) Verify(pubKey []byte) bool {
	if len(pubKey) != ed25519.PubKeySize {
		return false
	}
	return sigs.Verify(pubKey, tx.SignBytes, tx.Signature)
}

// PeekSigner reads a transaction's signer and nonce without checking
// anything else, for ordering a block's transactions; ok is false when
// the body is not even JSON with them.
func PeekSigner(raw []byte) (signer string, nonce uint64, ok bool) {
	if len(raw) <= txHeaderLen || raw[0] != TxVersion {
		return "", 0, false
	}
	var b struct {
		Signer string `json:"signer"`
		Nonce  uint64 `json:"nonce"`
	}
	if json.Unmarshal(raw[txHeaderLen:], &b) != nil || b.Signer == "" {
		return "", 0, false
	}
	return b.Signer, b.Nonce, true
}

// Sign encodes and signs a message as a participant of the genesis
// (registered at height 0); SignBody signs for any registration.
func Sign(key ed25519.PrivKey, chainID, signer string, nonce uint64, msg Msg) ([]byte, error) {
	return SignBody(key, Body{ChainID: chainID, Signer: signer, Nonce: nonce}, msg)
}

// SignType is Sign with the transaction type given explicitly.
func SignType(key ed25519.PrivKey, chainID, signer string, nonce uint64, typ string, msg Msg) ([]byte, error) {
	return SignBody(key, Body{ChainID: chainID, Signer: signer, Nonce: nonce, Type: typ}, msg)
}

// SignBody signs msg under b's chain, signer, registration height and
// nonce. An empty b.Type is the message's usual type; b.Msg is ignored.
func SignBody(key ed25519.PrivKey, b Body, msg Msg) ([]byte, error) {
	if b.Type == "" {
		b.Type = TypeOf(msg)
	}
	m, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	b.Msg = m
	body, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	sig, err := key.Sign(body)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, txHeaderLen+len(body))
	out = append(out, TxVersion)
	out = append(out, sig...)
	return append(out, body...), nil
}
