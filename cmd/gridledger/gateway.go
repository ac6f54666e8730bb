package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/node"
)

func newGatewayCmd() *cobra.Command {
	var rpc, mqttURL, id, signer, deviceKey string
	cmd := &cobra.Command{
		Use:   "gateway --node RPC --mqtt-url URL --id ID --signer KEY --device-key KEY",
		Short: "Run a gateway on its own, e.g. one per feeder: it reads its broker's meters and brings their readings to the chain",
		Long: `gateway runs the meters' gateway without a validator: it subscribes to an
MQTT broker (--mqtt-url, e.g. the feeder's mosquitto; or the embedded
broker of [mqtt] addr in HOME/config/gridledger.toml), verifies each
reading against its meter's key on the ledger, signs the readings of
cheap devices registered to it with its device key, and sends them in
batches to the node at --node, signed by --signer (a participant the
operator registered, e.g. the feeder's gateway operator). Several
gateways, one per feeder, feed the same chain.

The keys are files in HOME/keys ('gridledger keys add'); the operator
registers the signer ('tx register --pub-key') and the gateway's device
key ('tx register-gateway --id ID --owner SIGNER --pub-key').`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(os.Stderr)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ac, err := chain.LoadAppConfig(g.home)
			if err != nil {
				return err
			}
			for _, o := range []struct {
				flag string
				v    string
				to   *string
			}{{"mqtt-url", mqttURL, &ac.MQTT.URL}, {"id", id, &ac.Gateway.ID}, {"signer", signer, &ac.Gateway.Signer}, {"device-key", deviceKey, &ac.Gateway.DeviceKey}} {
				if cmd.Flags().Changed(o.flag) {
					*o.to = o.v
				}
			}
			if ac.MQTT.URL != "" {
				ac.MQTT.Addr = ""
			}
			s, err := node.StartGateway(ctx, g.home, rpc, ac, log)
			if err != nil {
				return err
			}
			if s.Gateway == nil {
				s.Close()
				return fmt.Errorf("no broker to read: give --mqtt-url or [mqtt] addr")
			}
			log.Info("gateway running", "id", ac.Gateway.ID, "mqtt", s.MQTT, "node", rpc)
			<-ctx.Done()
			st := s.Gateway.Stats()
			log.Info("gateway stopping", "accepted", st.Accepted, "rejected", st.Rejected, "batches", st.Batches)
			return s.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&rpc, "node", "tcp://127.0.0.1:26657", "RPC address of the node to send readings to")
	f.StringVar(&mqttURL, "mqtt-url", "", "broker to read (default: [mqtt] in gridledger.toml)")
	f.StringVar(&id, "id", "gateway", "the gateway's device id on the ledger")
	f.StringVar(&signer, "signer", "operator", "key (HOME/keys) that signs the readings transactions")
	f.StringVar(&deviceKey, "device-key", "gateway", "key (HOME/keys) of the gateway's device identity")
	return cmd
}
