package contract

import (
	"errors"
	"fmt"
)

// Code is a transaction result code. Codes are stable: clients and auditors
// match on them, so a code's number never changes meaning.
type Code uint32

// The result codes, one per way a transaction can be refused.
const (
	CodeOK Code = iota
	CodeMalformed
	CodeBadSignature
	CodeReplay
	CodeUnknownParticipant
	CodeSuspended
	CodeWrongRole
	CodeUnknownRES
	CodeRESNotApproved
	CodeAboveCapacity
	CodeInsufficientFunds
	CodeGateClosed
	CodeBadQuantity
	CodeUnknownListing
	CodeDuplicate
	CodeRateLimited
	CodeUnknownOrder
	CodeBadParams
	CodeWrongChain
	CodeNotOwner
	CodeUnknownMeter
	CodeFutureReading
	CodeRegistersBackwards
	CodeStaleReading
	CodePlanFrozen
	CodeNoPlan
	CodeUnknownDR
	CodeNotInScope
	CodeUnknownProposal
	CodeProposalClosed
	CodeWrongRegistration
	CodeUnknownBattery
	CodeBatteryNotRES
)

// codeInfo is the one table of codes: a stable name and the sentinel error.
var codeInfo = []struct {
	name string
	err  error
}{
	CodeOK:                 {"ok", nil},
	CodeMalformed:          {"malformed", errors.New("malformed transaction")},
	CodeBadSignature:       {"bad_signature", errors.New("bad signature")},
	CodeReplay:             {"replay", errors.New("nonce already used")},
	CodeUnknownParticipant: {"unknown_participant", errors.New("unknown participant")},
	CodeSuspended:          {"suspended", errors.New("participant is suspended")},
	CodeWrongRole:          {"wrong_role", errors.New("role not allowed to do this")},
	CodeUnknownRES:         {"unknown_res", errors.New("unknown RES asset")},
	CodeRESNotApproved:     {"res_not_approved", errors.New("RES asset not approved by the DSO")},
	CodeAboveCapacity:      {"above_capacity", errors.New("offer above the asset's capacity over the interval")},
	CodeInsufficientFunds:  {"insufficient_funds", errors.New("insufficient funds")},
	CodeGateClosed:         {"gate_closed", errors.New("listing gate is closed")},
	CodeBadQuantity:        {"bad_quantity", errors.New("quantity out of range")},
	CodeUnknownListing:     {"unknown_listing", errors.New("no open listing for that interval")},
	CodeDuplicate:          {"duplicate", errors.New("already exists")},
	CodeRateLimited:        {"rate_limited", errors.New("too many transactions this interval")},
	CodeUnknownOrder:       {"unknown_order", errors.New("unknown order")},
	CodeBadParams:          {"bad_params", errors.New("invalid community parameters")},
	CodeWrongChain:         {"wrong_chain", errors.New("transaction is for another chain")},
	CodeNotOwner:           {"not_owner", errors.New("not the owner")},
	CodeUnknownMeter:       {"unknown_meter", errors.New("unknown meter or gateway")},
	CodeFutureReading:      {"reading_from_future", errors.New("reading is dated ahead of ledger time beyond the allowed skew")},
	CodeRegistersBackwards: {"registers_backwards", errors.New("a meter register ran backwards")},
	CodeStaleReading:       {"stale_reading", errors.New("reading is for an interval already settled")},
	CodePlanFrozen:         {"plan_frozen", errors.New("the interval is under a demand-response request: its plan is frozen")},
	CodeNoPlan:             {"no_plan", errors.New("no plan committed before the demand-response request")},
	CodeUnknownDR:          {"unknown_dr_request", errors.New("unknown demand-response request")},
	CodeNotInScope:         {"not_in_scope", errors.New("not in the demand-response request's feeder or targets")},
	CodeUnknownProposal:    {"unknown_proposal", errors.New("unknown governance proposal")},
	CodeProposalClosed:     {"proposal_closed", errors.New("the proposal is no longer open for votes")},
	CodeWrongRegistration:  {"wrong_registration", errors.New("transaction is bound to another registration of its signer")},
	CodeUnknownBattery:     {"unknown_battery", errors.New("unknown battery")},
	CodeBatteryNotRES:      {"battery_not_res", errors.New("a battery stores energy and is not a renewable source: it neither offers RES energy nor mints tokens")},
}

// Sentinel errors, one per code, for errors.Is.
var (
	ErrMalformed          = codeInfo[CodeMalformed].err
	ErrBadSignature       = codeInfo[CodeBadSignature].err
	ErrReplay             = codeInfo[CodeReplay].err
	ErrUnknownParticipant = codeInfo[CodeUnknownParticipant].err
	ErrSuspended          = codeInfo[CodeSuspended].err
	ErrWrongRole          = codeInfo[CodeWrongRole].err
	ErrUnknownRES         = codeInfo[CodeUnknownRES].err
	ErrRESNotApproved     = codeInfo[CodeRESNotApproved].err
	ErrAboveCapacity      = codeInfo[CodeAboveCapacity].err
	ErrInsufficientFunds  = codeInfo[CodeInsufficientFunds].err
	ErrGateClosed         = codeInfo[CodeGateClosed].err
	ErrBadQuantity        = codeInfo[CodeBadQuantity].err
	ErrUnknownListing     = codeInfo[CodeUnknownListing].err
	ErrDuplicate          = codeInfo[CodeDuplicate].err
	ErrRateLimited        = codeInfo[CodeRateLimited].err
	ErrUnknownOrder       = codeInfo[CodeUnknownOrder].err
	ErrBadParams          = codeInfo[CodeBadParams].err
	ErrWrongChain         = codeInfo[CodeWrongChain].err
	ErrNotOwner           = codeInfo[CodeNotOwner].err
	ErrUnknownMeter       = codeInfo[CodeUnknownMeter].err
	ErrFutureReading      = codeInfo[CodeFutureReading].err
	ErrRegistersBackwards = codeInfo[CodeRegistersBackwards].err
	ErrStaleReading       = codeInfo[CodeStaleReading].err
	ErrPlanFrozen         = codeInfo[CodePlanFrozen].err
	ErrNoPlan             = codeInfo[CodeNoPlan].err
	ErrUnknownDR          = codeInfo[CodeUnknownDR].err
	ErrNotInScope         = codeInfo[CodeNotInScope].err
	ErrUnknownProposal    = codeInfo[CodeUnknownProposal].err
	ErrProposalClosed     = codeInfo[CodeProposalClosed].err
	ErrWrongRegistration  = codeInfo[CodeWrongRegistration].err
	ErrUnknownBattery     = codeInfo[CodeUnknownBattery].err
	ErrBatteryNotRES      = codeInfo[CodeBatteryNotRES].err
)

// Name is the code's stable name, e.g. "insufficient_funds".
func (c Code) Name() string {
	if int(c) < len(codeInfo) {
		return codeInfo[c].name
	}
	return fmt.Sprintf("code_%d", uint32(c))
}

// CodeOf maps an error to its code: the first sentinel it wraps, or
// CodeMalformed for an error that wraps none.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	for c := 1; c < len(codeInfo); c++ {
		if errors.Is(err, codeInfo[c].err) {
			return Code(c)
		}
	}
	return CodeMalformed
}

// CodeInfo describes one result code, for documentation.
type CodeInfo struct {
	Code    Code
	Name    string
	Message string
}

// Codes lists every refusal code with its name and message.
func Codes() []CodeInfo {
	out := make([]CodeInfo, 0, len(codeInfo)-1)
	for c := 1; c < len(codeInfo); c++ {
		out = append(out, CodeInfo{Code(c), codeInfo[c].name, codeInfo[c].err.Error()})
	}
	return out
}

func errf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
