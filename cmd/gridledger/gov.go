package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

func newGovCmd() *cobra.Command {
	var node string
	cmd := &cobra.Command{Use: "gov", Short: "Governance: the validators propose and vote on the validator set and the community's parameters (more than 2/3 of the voting power decides)"}
	cmd.PersistentFlags().StringVar(&node, "node", "", "node RPC address (default: the home's)")

	var id, addKey, removeKey, name, paramsFile string
	var power int64
	propose := &cobra.Command{
		Use:   "propose --id ID (--add-validator KEY --name NAME --power N | --remove-validator KEY | --params FILE)",
		Short: "Propose adding or removing a validator, or new community parameters, signed with this home's validator key (which votes yes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := &contract.MsgPropose{ID: id}
			switch {
			case addKey != "":
				pub, err := base64.StdEncoding.DecodeString(addKey)
				if err != nil {
					return fmt.Errorf("--add-validator: %w", err)
				}
				m.Action, m.Validator = contract.ActionAddValidator, &contract.Validator{PubKey: pub, Power: power, Name: name}
			case removeKey != "":
				pub, err := base64.StdEncoding.DecodeString(removeKey)
				if err != nil {
					return fmt.Errorf("--remove-validator: %w", err)
				}
				m.Action, m.Validator = contract.ActionRemoveValidator, &contract.Validator{PubKey: pub}
			case paramsFile != "":
				raw, err := os.ReadFile(paramsFile)
				if err != nil {
					return err
				}
				var p contract.Params
				if err := json.Unmarshal(raw, &p); err != nil {
					return fmt.Errorf("%s: %w", paramsFile, err)
				}
				m.Action, m.Params = contract.ActionSetParams, &p
			default:
				return fmt.Errorf("say what to propose: --add-validator, --remove-validator or --params")
			}
			return govSubmit(cmd, node, m)
		},
	}
	f := propose.Flags()
	f.StringVar(&id, "id", "", "proposal id")
	f.StringVar(&addKey, "add-validator", "", "consensus public key (base64) of the validator to add (its home's config/priv_validator_key.json)")
	f.StringVar(&name, "name", "", "participant id the new validator votes as")
	f.Int64Var(&power, "power", 10, "voting power of the new validator")
	f.StringVar(&removeKey, "remove-validator", "", "consensus public key (base64) of the validator to remove")
	f.StringVar(&paramsFile, "params", "", "JSON file of the new parameters (as 'gridledger query params --output json' prints them)")
	propose.MarkFlagRequired("id")

	var reject bool
	vote := &cobra.Command{
		Use:   "vote PROPOSAL [--reject]",
		Short: "Vote on a proposal with this home's validator key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return govSubmit(cmd, node, &contract.MsgVote{Proposal: args[0], Approve: !reject})
		},
	}
	vote.Flags().BoolVar(&reject, "reject", false, "vote against")

	list := &cobra.Command{
		Use:   "list",
		Short: "The validator set and the proposals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := cmdContext(cmd)
			defer cancel()
			cl, err := dial(node)
			if err != nil {
				return err
			}
			rd := chain.Reader{Q: cl}
			vs, err := rd.Validators(ctx)
			if err != nil {
				return err
			}
			ps, err := rd.Proposals(ctx)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"validators": vs, "proposals": ps})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-16s %6s  %s\n", "VALIDATOR", "POWER", "KEY")
			for _, v := range vs {
				fmt.Fprintf(w, "%-16s %6d  %s\n", v.Name, v.Power, base64.StdEncoding.EncodeToString(v.PubKey))
			}
			fmt.Fprintf(w, "\n%-16s %-17s %-8s %s\n", "PROPOSAL", "ACTION", "STATE", "VOTES")
			for _, p := range ps {
				var votes []string
				for _, k := range slices.Sorted(maps.Keys(p.Votes)) {
					votes = append(votes, fmt.Sprintf("%s=%v", k, p.Votes[k]))
				}
				fmt.Fprintf(w, "%-16s %-17s %-8s %s\n", p.ID, p.Action, p.State, strings.Join(votes, " "))
			}
			return nil
		},
	}
	cmd.AddCommand(propose, vote, list)
	return cmd
}

// govSubmit signs msg with the home's validator key, as the participant
// that key votes as, and waits for its block.
func govSubmit(cmd *cobra.Command, node string, msg contract.Msg) error {
	ctx, cancel := cmdContext(cmd)
	defer cancel()
	cl, err := dial(node)
	if err != nil {
		return err
	}
	k, err := chain.ValidatorKey(g.home)
	if err != nil {
		return err
	}
	if k.ID, err = validatorParticipant(ctx, cl, k.PubKey()); err != nil {
		return err
	}
	typ := contract.TypeOf(msg)
	res, err := cl.Submit(ctx, k, typ, msg)
	return printTxResult(cmd, typ, res, err)
}

func validatorParticipant(ctx context.Context, cl *chain.Client, pub []byte) (string, error) {
	ps, err := chain.Reader{Q: cl}.Participants(ctx)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		if p.Role == contract.RoleValidator && bytes.Equal(p.PubKey, pub) {
			return p.ID, nil
		}
	}
	return "", fmt.Errorf("this home's validator key is not a validator of the ledger")
}
