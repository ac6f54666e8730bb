package main

import (
	"encoding/base64"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the participant keys kept in HOME/keys"}
	var id string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a signing key; give its public key to the operator to be registered",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if id == "" {
				id = args[0]
			}
			k := chain.NewKey(id, "")
			if err := chain.SaveKey(g.home, args[0], k); err != nil {
				return err
			}
			return showKey(cmd, args[0], k)
		},
	}
	add.Flags().StringVar(&id, "id", "", "participant id (IDgrid) the key signs as (default NAME)")
	show := &cobra.Command{
		Use: "show NAME", Short: "Show a key's participant id and public key", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := chain.LoadKey(g.home, args[0])
			if err != nil {
				return err
			}
			return showKey(cmd, args[0], k)
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "List the keys in the home", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := chain.ListKeys(g.home)
			if err != nil {
				return err
			}
			var out []keyView
			for _, n := range names {
				if k, err := chain.LoadKey(g.home, n); err == nil {
					out = append(out, viewKey(n, k))
				}
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tROLE\tPUBLIC KEY")
			for _, k := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.ID, k.Role, k.PubKey)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(add, show, list)
	return cmd
}

type keyView struct {
	Name   string        `json:"name"`
	ID     string        `json:"id"`
	Role   contract.Role `json:"role,omitempty"`
	PubKey string        `json:"pub_key"`
}

func viewKey(name string, k chain.Key) keyView {
	return keyView{name, k.ID, k.Role, base64.StdEncoding.EncodeToString(k.PubKey())}
}

func showKey(cmd *cobra.Command, name string, k chain.Key) error {
	v := viewKey(name, k)
	if g.output == "json" {
		return printJSON(cmd.OutOrStdout(), v)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "name:       %s\nid:         %s\npublic key: %s\n", v.Name, v.ID, v.PubKey)
	return nil
}
