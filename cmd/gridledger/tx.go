package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contacts"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
	"github.com/gridledger/gridledger/internal/units"
)

// txFlags are shared by every `tx` subcommand.
type txFlags struct {
	from string
	node string
}

func newTxCmd() *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{Use: "tx", Short: "Sign a transaction with a key of the home and send it to the node"}
	cmd.PersistentFlags().StringVar(&tf.from, "from", "operator", "name of the signing key in HOME/keys")
	cmd.PersistentFlags().StringVar(&tf.node, "node", "", "node RPC address (default: the home's)")

	// sub makes a subcommand whose build func turns flags into a message.
	sub := func(use, short, typ string, setup func(*cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error)) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
		build := setup(c)
		c.RunE = func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := cmdContext(cmd)
			defer cancel()
			k, err := chain.LoadKey(g.home, tf.from)
			if err != nil {
				return err
			}
			cl, err := dial(tf.node)
			if err != nil {
				return err
			}
			msg, err := build(ctx, cl)
			if err != nil {
				return err
			}
			if err := msg.ValidateBasic(); err != nil {
				return err
			}
			res, err := cl.Submit(ctx, k, typ, msg)
			return printTxResult(cmd, typ, res, err)
		}
		return c
	}

	cmd.AddCommand(
		sub("register", "Register a participant (operator)", contract.TypeRegisterParticipant, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgRegisterParticipant{}
			var role, nodeType, pub, keyName, email string
			c.Flags().StringVar(&m.ID, "id", "", "IDgrid of the participant")
			c.Flags().StringVar(&email, "email", "", "e-mail (optional): kept in HOME/data/contacts, only its salted hash goes to the ledger")
			c.Flags().StringVar(&role, "role", "member", "member, operator, dso or utility")
			c.Flags().StringVar(&nodeType, "node-type", "household", "household, non-residential, public-lighting, ev-charging or producer")
			c.Flags().StringVar(&pub, "pub-key", "", "participant's ed25519 public key, base64")
			c.Flags().StringVar(&keyName, "key", "", "take id and public key from this key of the home instead")
			return func(context.Context, *chain.Client) (contract.Msg, error) {
				m.Role, m.NodeType = contract.Role(role), contract.NodeType(nodeType)
				if m.Role != contract.RoleMember && !c.Flags().Changed("node-type") {
					m.NodeType = ""
				}
				var id string
				var err error
				m.PubKey, id, err = pubKeyFromFlags(pub, keyName)
				if m.ID == "" {
					m.ID = id
				}
				if err == nil && email != "" {
					// The address and its salt stay in this home; the
					// ledger gets only their hash (docs/privacy.md).
					var ct contacts.Contact
					if ct, err = contacts.New(m.ID, email); err == nil {
						m.EmailHash = ct.EmailHash
						err = contacts.Store{Dir: contacts.Dir(g.home)}.Put(ct)
					}
				}
				return m, err
			}
		}),
		sub("leave", "Leave the community: open orders cancelled, paid out once your trades are settled, your data off the ledger deleted", contract.TypeOffboard, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgOffboard{}
			return func(context.Context, *chain.Client) (contract.Msg, error) {
				m.Member = tf.from // the key's name is the member's id
				return m, nil
			}
		}),
		sub("offboard", "Take a member out of the community, e.g. for an erasure request (operator)", contract.TypeOffboard, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgOffboard{}
			c.Flags().StringVar(&m.Member, "member", "", "member id")
			return func(context.Context, *chain.Client) (contract.Msg, error) { return m, nil }
		}),
		sub("suspend", "Suspend a participant (operator)", contract.TypeSuspendParticipant, suspendFlags),
		sub("reinstate", "Reinstate a suspended participant (operator)", contract.TypeReinstateParticipant, suspendFlags),
		sub("register-res", "Register a renewable asset you own", contract.TypeRegisterRES, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgRegisterRES{}
			c.Flags().StringVar(&m.ID, "id", "", "RESid")
			c.Flags().StringVar(&m.Kind, "kind", "pv", "pv, wind, …")
			c.Flags().Int64Var(&m.CapacityW, "capacity-w", 0, "rated capacity in W")
			return func(context.Context, *chain.Client) (contract.Msg, error) { return m, nil }
		}),
		sub("approve-res", "Approve a renewable asset for trading (DSO)", contract.TypeApproveRES, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgApproveRES{}
			c.Flags().StringVar(&m.ID, "id", "", "RESid")
			return func(context.Context, *chain.Client) (contract.Msg, error) { return m, nil }
		}),
		sub("register-battery", "Register a battery you own", contract.TypeRegisterBattery, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgRegisterBattery{}
			c.Flags().StringVar(&m.ID, "id", "", "battery id")
			c.Flags().Int64Var(&m.CapacityWh, "capacity-wh", 0, "usable capacity in Wh")
			c.Flags().Int64Var(&m.MaxChargeW, "max-charge-w", 0, "maximum charge power in W")
			c.Flags().Int64Var(&m.MaxDischargeW, "max-discharge-w", 0, "maximum discharge power in W")
			return func(context.Context, *chain.Client) (contract.Msg, error) { return m, nil }
		}),
		sub("approve-battery", "Approve a battery's connection, capacity and power (DSO)", contract.TypeApproveBattery, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgApproveBattery{}
			c.Flags().StringVar(&m.ID, "id", "", "battery id")
			return func(context.Context, *chain.Client) (contract.Msg, error) { return m, nil }
		}),
		sub("register-meter", "Register a meter to a participant (operator)", contract.TypeRegisterMeter, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgRegisterMeter{}
			var pub string
			c.Flags().StringVar(&m.ID, "id", "", "meter id")
			c.Flags().StringVar(&m.Owner, "owner", "", "participant id")
			c.Flags().StringVar(&m.RES, "res", "", "RESid the meter measures (optional)")
			c.Flags().StringVar(&m.Battery, "battery", "", "battery the meter measures, as a sub-meter behind the grid meter (optional; not with --res)")
			c.Flags().StringVar(&pub, "pub-key", "", "device's ed25519 public key, base64 (a meter that signs)")
			c.Flags().StringVar(&m.Gateway, "gateway", "", "gateway that reads and signs for this meter (a meter that cannot sign)")
			return func(context.Context, *chain.Client) (contract.Msg, error) {
				if m.Gateway != "" {
					return m, nil
				}
				var err error
				m.PubKey, err = base64.StdEncoding.DecodeString(pub)
				return m, err
			}
		}),
		sub("rotate-device-key", "Replace the key of a meter or gateway device, e.g. a replaced or compromised one (operator)", contract.TypeRotateDeviceKey, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgRotateDeviceKey{}
			var pub string
			c.Flags().StringVar(&m.ID, "id", "", "meter or gateway id")
			c.Flags().StringVar(&pub, "pub-key", "", "the device's new ed25519 public key, base64")
			return func(context.Context, *chain.Client) (contract.Msg, error) {
				var err error
				m.PubKey, err = base64.StdEncoding.DecodeString(pub)
				return m, err
			}
		}),
		sub("register-gateway", "Register a gateway device that signs readings for meters that cannot (operator)", contract.TypeRegisterGateway, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgRegisterGateway{}
			var pub, keyName string
			c.Flags().StringVar(&m.ID, "id", "", "gateway id")
			c.Flags().StringVar(&m.Owner, "owner", "operator", "participant id of its owner")
			c.Flags().StringVar(&pub, "pub-key", "", "gateway's ed25519 public key, base64")
			c.Flags().StringVar(&keyName, "key", "", "take the public key from this key of the home instead")
			return func(context.Context, *chain.Client) (contract.Msg, error) {
				var err error
				m.PubKey, _, err = pubKeyFromFlags(pub, keyName)
				return m, err
			}
		}),
		sub("issue", "Issue currency to a participant against real money (operator)", contract.TypeIssue, moneyFlags(func(member string, nano int64) contract.Msg {
			return &contract.MsgIssue{To: member, Amount: nano}
		})),
		sub("redeem", "Redeem a participant's currency for real money (operator)", contract.TypeRedeem, moneyFlags(func(member string, nano int64) contract.Msg {
			return &contract.MsgRedeem{From: member, Amount: nano}
		})),
		sub("set-params", "Change community parameters (operator); unset flags keep their value", contract.TypeSetParams, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			var mech, peak, offPeak, feedIn string
			var interval, gate, horizon, maxTx int64
			c.Flags().StringVar(&mech, "mechanism", "", "average-bid, uniform or pay-as-bid")
			c.Flags().StringVar(&peak, "grid-peak-price", "", "price per kWh 13-23 h")
			c.Flags().StringVar(&offPeak, "grid-offpeak-price", "", "price per kWh outside the peak")
			c.Flags().StringVar(&feedIn, "feed-in-price", "", "feed-in price per kWh")
			c.Flags().Int64Var(&interval, "interval-s", 0, "listing length in seconds")
			c.Flags().Int64Var(&gate, "gate-closure-s", 0, "gate closure before delivery, seconds")
			c.Flags().Int64Var(&horizon, "horizon", 0, "intervals open ahead")
			c.Flags().Int64Var(&maxTx, "max-tx-per-interval", 0, "per-member transaction limit")
			return func(ctx context.Context, cl *chain.Client) (contract.Msg, error) {
				p, err := chain.Reader{Q: cl}.Params(ctx)
				if err != nil {
					return nil, err
				}
				if mech != "" {
					p.Mechanism = market.Mechanism(mech)
				}
				if peak != "" || offPeak != "" || feedIn != "" {
					pk, op, fi := units.Price(p.GridPricePerKWh[13]), units.Price(p.GridPricePerKWh[0]), units.Price(p.FeedInPerKWh[0])
					if peak != "" {
						pk = peak
					}
					if offPeak != "" {
						op = offPeak
					}
					if feedIn != "" {
						fi = feedIn
					}
					if err := setTariffs(&p, pk, op, fi); err != nil {
						return nil, err
					}
				}
				for _, v := range []struct {
					f   int64
					dst *int64
				}{{interval, &p.IntervalS}, {gate, &p.GateClosureS}, {horizon, &p.HorizonIntervals}, {maxTx, &p.MaxTxPerInterval}} {
					if v.f != 0 {
						*v.dst = v.f
					}
				}
				return &contract.MsgSetParams{Params: p}, nil
			}
		}),
		sub("offer", "Offer energy from your approved asset in a listing (RESOffer)", contract.TypeOffer, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgOffer{}
			var listing, price string
			c.Flags().StringVar(&listing, "listing", "next", "delivery interval start: RFC3339, unix seconds, or next")
			c.Flags().StringVar(&m.RES, "res", "", "RESid the energy comes from")
			c.Flags().Int64Var(&m.Wh, "wh", 0, "energy in Wh")
			c.Flags().StringVar(&price, "price", "", "least accepted price per kWh, e.g. 0.052")
			return func(ctx context.Context, cl *chain.Client) (contract.Msg, error) {
				var err error
				if m.Listing, err = resolveListing(ctx, cl, listing); err != nil {
					return nil, err
				}
				m.PricePerKWh, err = units.ParsePrice(price)
				return m, err
			}
		}),
		sub("bid", "Bid for energy in a listing (BuyOffer); the bid's value is escrowed", contract.TypeBid, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgBid{}
			var listing, price string
			c.Flags().StringVar(&listing, "listing", "next", "delivery interval start: RFC3339, unix seconds, or next")
			c.Flags().Int64Var(&m.Wh, "wh", 0, "energy in Wh")
			c.Flags().StringVar(&price, "price", "", "most paid per kWh, e.g. 0.070")
			return func(ctx context.Context, cl *chain.Client) (contract.Msg, error) {
				var err error
				if m.Listing, err = resolveListing(ctx, cl, listing); err != nil {
					return nil, err
				}
				m.PricePerKWh, err = units.ParsePrice(price)
				return m, err
			}
		}),
		sub("cancel", "Cancel your order before gate closure", contract.TypeCancel, func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
			m := &contract.MsgCancel{}
			c.Flags().StringVar(&m.Order, "order", "", "order id (participant/nonce)")
			return func(context.Context, *chain.Client) (contract.Msg, error) { return m, nil }
		}),
	)
	return cmd
}

// pubKeyFromFlags reads a public key from --key (a key of the home, which
// also gives the id it signs as) or from --pub-key (base64).
func pubKeyFromFlags(pub, keyName string) ([]byte, string, error) {
	if keyName != "" {
		k, err := chain.LoadKey(g.home, keyName)
		if err != nil {
			return nil, "", err
		}
		return k.PubKey(), k.ID, nil
	}
	b, err := base64.StdEncoding.DecodeString(pub)
	if err != nil {
		return nil, "", fmt.Errorf("--pub-key: %w", err)
	}
	return b, "", nil
}

// moneyFlags reads --member and --amount (currency units, e.g. 25.50) for
// issue and redeem.
func moneyFlags(msg func(member string, nano int64) contract.Msg) func(*cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
	return func(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
		var member, amount string
		c.Flags().StringVar(&member, "member", "", "participant id")
		c.Flags().StringVar(&amount, "amount", "", "amount in currency units, e.g. 25.50")
		return func(context.Context, *chain.Client) (contract.Msg, error) {
			nano, err := units.ParseMoney(amount)
			return msg(member, nano), err
		}
	}
}

func suspendFlags(c *cobra.Command) func(context.Context, *chain.Client) (contract.Msg, error) {
	m := &contract.MsgSetSuspended{}
	c.Flags().StringVar(&m.ID, "id", "", "participant id")
	c.Flags().StringVar(&m.Reason, "reason", "", "why (recorded on the ledger)")
	return func(context.Context, *chain.Client) (contract.Msg, error) { return m, nil }
}

// resolveListing turns "next", RFC3339 or unix seconds into a listing start.
func resolveListing(ctx context.Context, cl *chain.Client, s string) (int64, error) {
	if s == "next" {
		rd := chain.Reader{Q: cl}
		info, err := rd.Info(ctx)
		if err != nil {
			return 0, err
		}
		ls, err := rd.Listings(ctx, info.MarketTime)
		if err != nil {
			return 0, err
		}
		for _, l := range ls {
			if l.State == contract.StateAuthorizeOffers {
				return l.Start, nil
			}
		}
		return 0, errors.New("no listing is open")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("--listing %q: want RFC3339, unix seconds or next", s)
	}
	return v, nil
}

func printTxResult(cmd *cobra.Command, typ string, res chain.Result, err error) error {
	var te *chain.TxError
	if err != nil && !errors.As(err, &te) {
		return err
	}
	out := map[string]any{"type": typ, "hash": res.Hash, "height": res.Height, "code": 0, "code_name": "ok"}
	if te != nil {
		out["code"], out["code_name"], out["log"] = te.Code, te.Code.Name(), te.Log
	}
	if g.output == "json" {
		if perr := printJSON(cmd.OutOrStdout(), out); perr != nil {
			return perr
		}
	} else if te == nil {
		fmt.Fprintf(cmd.OutOrStdout(), "%s committed in block %d (tx %s)\n", typ, res.Height, res.Hash)
	}
	if te != nil {
		fmt.Fprintln(os.Stderr, "gridledger: "+te.Error())
		os.Exit(2)
	}
	return nil
}
