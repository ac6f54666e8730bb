package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/meter"
	"github.com/gridledger/gridledger/internal/meter/format"
)

// newMeterCmd returns the `meter` command: tools around smart meters and
// the native payloads of devices that cannot sign.
func newMeterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "meter",
		Short: "Smart meters and device payloads",
	}
	cmd.AddCommand(newMeterDecodeCmd(), newMeterCredentialsCmd())
	return cmd
}

// newMeterCredentialsCmd returns `meter credentials`, the MQTT user name
// and password a device connects with: the device id, and its key's
// signature over the community and the id (the gateway's key for a cheap
// device the gateway reads).
func newMeterCredentialsCmd() *cobra.Command {
	var id, keyName, community string
	cmd := &cobra.Command{
		Use:   "credentials",
		Short: "The MQTT user name and password a device uses, derived from its registered key (or its gateway's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := chain.LoadKey(g.home, keyName)
			if err != nil {
				return err
			}
			if community == "" {
				doc, _, err := chain.Genesis(g.home)
				if err != nil {
					return fmt.Errorf("community: %w (or give --community)", err)
				}
				community = doc.ChainID
			}
			pw := meter.Password(k.PrivKey, community, id)
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]string{"username": id, "password": pw, "community": community})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "username: %s\npassword: %s\n", id, pw)
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "device (meter) id")
	cmd.Flags().StringVar(&keyName, "key", "gateway", "key in HOME/keys that signs for the device: its own, or the gateway's")
	cmd.Flags().StringVar(&community, "community", "", "community (chain id); default: the home's")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

// newMeterDecodeCmd returns `meter decode`, which reads one device payload
// exactly as the gateway does and prints its energy registers.
func newMeterDecodeCmd() *cobra.Command {
	var formatName, path, topic string
	cmd := &cobra.Command{
		Use:   "decode [--format FORMAT] --file FILE [--topic TOPIC]",
		Short: "Decode a device's native payload (Tasmota, Shelly, DSMR P1) into energy registers",
		Long: `Decode reads one payload as a device publishes it (an MQTT payload saved to a
file, an HTTP status body, a P1 telegram) and prints its cumulative energy
registers in Wh: import, export, and per channel or phase. --topic is the MQTT
topic it came on: it names the device and, for Shelly per-register topics
(shellies/<id>/relay/0/energy) and Gen2 component topics
(<prefix>/status/switch:0, status/emdata:0, status/em1data:0, status/pm1:0),
what the payload is. With --topic, --format may be left out: the topic says it.
Without a topic, a Shelly Gen2 component status on its own is recognised by
its fields, and the output says so.

Units differ by model: Tasmota reports kWh, Shelly Gen1 plugs and relays
watt-minutes, Shelly Gen1 EM/3EM and Gen2 Wh, DSMR kWh (or Wh). DSMR 2.2 and 3
telegrams have no CRC; from DSMR 4 on the CRC is required and checked. Energy
registers are read strictly: a payload that cannot be trusted (cut short, a
bad CRC, unknown units, no energy register) is an error and prints nothing.
Other fields that are unusual (an equipment id in plain digits, a control byte
in the header, a clock without its zone) are tolerated and printed as notes.`,
		Example: `  gridledger meter decode --format dsmr --file telegram.txt --topic dsmr/home-12/telegram
  gridledger meter decode --topic shellyplus1pm-a8032ab12345/status/switch:0 --file status.json
  mosquitto_sub -C 1 -t tele/plug/SENSOR | gridledger meter decode --format tasmota --file - -o json`,
		Args: cobra.NoArgs,
		// Errors are reported once, by the root command, without usage.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := meterDecode(cmd.InOrStdin(), format.Format(formatName), path, topic, g.output)
			if err != nil {
				return fmt.Errorf("meter decode: %w", err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&formatName, "format", "", fmt.Sprintf("payload format, one of %v (default: the one --topic belongs to)", format.Formats))
	cmd.Flags().StringVar(&path, "file", "", "payload file, - for stdin")
	cmd.Flags().StringVar(&topic, "topic", "", "MQTT topic the payload came on (names the device)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// meterDecode reads, decodes and renders the payload at path (- for stdin),
// all before anything is printed, so a failure never leaves partial output.
func meterDecode(stdin io.Reader, f format.Format, path, topic, output string) ([]byte, error) {
	if f == "" {
		if f, _, _ = format.Identify(topic); f == "" {
			return nil, fmt.Errorf("--format not set, and no --topic of a known device family to tell it: want one of %v", format.Formats)
		}
	}
	if !slices.Contains(format.Formats, f) {
		return nil, fmt.Errorf("--format %q: want one of %v", f, format.Formats)
	}
	name, data := path, []byte(nil)
	var err error
	if path == "-" {
		name = "stdin"
		// One byte more than Decode accepts, so an oversized payload is
		// refused by Decode rather than silently cut.
		data, err = io.ReadAll(io.LimitReader(stdin, format.MaxPayloadBytes+1))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r, err := format.Decode(f, topic, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var buf bytes.Buffer
	if output == "json" {
		err = printJSON(&buf, r)
	} else {
		err = printRegisters(&buf, r)
	}
	return buf.Bytes(), err
}

// printRegisters writes r as a short human table.
func printRegisters(w io.Writer, r format.Registers) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	when := ""
	if r.Time != nil {
		when = time.Unix(*r.Time, 0).UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "format\t%s\n", r.Format)
	fmt.Fprintf(tw, "device\t%s\n", orDash(r.DeviceID))
	fmt.Fprintf(tw, "time\t%s\n", orDash(when))
	fmt.Fprintf(tw, "import\t%d Wh\n", r.ImportWh)
	fmt.Fprintf(tw, "export\t%d Wh\n", r.ExportWh)
	if len(r.Channels) > 0 {
		fmt.Fprintln(tw, "\nchannel\timport Wh\texport Wh")
		for _, c := range r.Channels {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", c.Name, c.ImportWh, c.ExportWh)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(tw, "\nnotes")
		for _, n := range r.Notes {
			raw := ""
			if n.Raw != "" {
				raw = " " + strconv.Quote(n.Raw)
			}
			fmt.Fprintf(tw, "%s%s: %s\n", n.Field, raw, n.Why)
		}
	}
	return tw.Flush()
}
