package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/ems/evclamp"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

// emsEVFlags are the flags of ems ev.
type emsEVFlags struct {
	clamp         string
	utcOffsetH    int
	departureHour int
	thresholdW    float64
	name          string
}

// newEMSEVCmd returns `ems ev`, which finds an EV's charging sessions in a
// current clamp's power series and learns its usual schedule.
func newEMSEVCmd() *cobra.Command {
	var f emsEVFlags
	cmd := &cobra.Command{
		Use:   "ev --clamp FILE",
		Short: "Find an EV's charging sessions in a current clamp's power series and learn its schedule",
		Long: `ev reads the power series of a current clamp on an EV charger's circuit
(CSV timestamp_utc,power_w; RFC 3339 with Z or unix seconds), finds each
charging session (start, end, energy, peak power), learns the car's usual
schedule (plug-in time, end of charging, energy, charger power, sessions per
day; weekdays and weekends apart when they differ) and prints the
energy-based appliance that ems plan takes for it. A clamp cannot see the
car leave, so the departure is --departure, raised to the typical end of
charging when the car habitually charges past it. The method and its
defaults are documented in internal/ems/evclamp.`,
		Example: `  gridledger ems ev --clamp charger.csv --utc-offset 1
  gridledger ems ev --clamp - --departure 8 -o json < charger.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Render fully before writing, so an error prints nothing on stdout.
			out, err := emsEV(cmd.InOrStdin(), f, g.output)
			if err != nil {
				return fmt.Errorf("ems ev: %s", strings.ReplaceAll(err.Error(), "\n", " "))
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&f.clamp, "clamp", "", "clamp CSV file (timestamp_utc,power_w), - for stdin")
	cmd.Flags().IntVar(&f.utcOffsetH, "utc-offset", 0, "local time = UTC + this many hours")
	cmd.Flags().IntVar(&f.departureHour, "departure", evclamp.DefaultDepartureHour, "usual local departure hour, 0..23")
	cmd.Flags().Float64Var(&f.thresholdW, "threshold-w", evclamp.DefaultOnThresholdW, "the charger is on above this power (W)")
	cmd.Flags().StringVar(&f.name, "name", "ev", "appliance name for the planner")
	_ = cmd.MarkFlagRequired("clamp")
	return cmd
}

// emsEVSession is one session of ems ev's JSON output.
type emsEVSession struct {
	evclamp.Session
	StartUTC   string `json:"start_utc"`
	EndUTC     string `json:"end_utc"`
	StartLocal string `json:"start_local"`
	EndLocal   string `json:"end_local"`
}

// emsEVOutput is ems ev's JSON output.
type emsEVOutput struct {
	Options  evclamp.Options  `json:"options"`
	Samples  int              `json:"samples"`
	Coverage evclamp.Coverage `json:"coverage"`
	Sessions []emsEVSession   `json:"sessions"`
	Schedule evclamp.Learned  `json:"schedule"`
	// Appliances are the planner's appliances for every day (all) and for
	// weekdays and weekend days; when schedule.weekend_differs is false
	// the three have the same window and energy.
	Appliances struct {
		All     plan.Appliance `json:"all"`
		Weekday plan.Appliance `json:"weekday"`
		Weekend plan.Appliance `json:"weekend"`
	} `json:"appliances"`
}

func (f emsEVFlags) options() (evclamp.Options, error) {
	switch {
	case f.utcOffsetH < -12 || f.utcOffsetH > 14:
		return evclamp.Options{}, fmt.Errorf("--utc-offset %d: want -12..14", f.utcOffsetH)
	case f.departureHour < 0 || f.departureHour > 23:
		return evclamp.Options{}, fmt.Errorf("--departure %d: want an hour 0..23", f.departureHour)
	case !(f.thresholdW > 0 && f.thresholdW <= evclamp.MaxSampleW):
		return evclamp.Options{}, fmt.Errorf("--threshold-w %v: want above 0 and at most %d", f.thresholdW, evclamp.MaxSampleW)
	case f.name == "":
		return evclamp.Options{}, errors.New("--name is empty")
	}
	opt := evclamp.DefaultOptions()
	opt.UTCOffsetH, opt.DepartureHour, opt.OnThresholdW = f.utcOffsetH, f.departureHour, f.thresholdW
	return opt, opt.Validate()
}

// emsEV reads the clamp series, analyses it and renders the result as
// output ("text" or "json").
func emsEV(stdin io.Reader, f emsEVFlags, output string) ([]byte, error) {
	opt, err := f.options()
	if err != nil {
		return nil, err
	}
	path := f.clamp
	var samples []evclamp.Sample
	if path == "-" {
		path = "stdin"
		samples, err = evclamp.ReadCSV(stdin)
	} else {
		var file *os.File
		if file, err = os.Open(path); err == nil {
			samples, err = evclamp.ReadCSV(file)
			file.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	a, err := evclamp.Analyze(samples, opt)
	if errors.Is(err, evclamp.ErrNoSessions) {
		return nil, fmt.Errorf("%s: no charging session above %v W in %d samples (is --threshold-w right?)", path, opt.OnThresholdW, len(samples))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	zone := time.FixedZone(fmt.Sprintf("UTC%+d", opt.UTCOffsetH), opt.UTCOffsetH*3600)
	out := emsEVOutput{Options: opt, Samples: len(samples), Coverage: a.Coverage, Schedule: a.Learned, Sessions: []emsEVSession{}}
	for _, s := range a.Sessions {
		out.Sessions = append(out.Sessions, emsEVSession{
			Session:    s,
			StartUTC:   time.Unix(s.StartUnixS, 0).UTC().Format(time.RFC3339),
			EndUTC:     time.Unix(s.EndUnixS, 0).UTC().Format(time.RFC3339),
			StartLocal: time.Unix(s.StartUnixS, 0).In(zone).Format(time.RFC3339),
			EndLocal:   time.Unix(s.EndUnixS, 0).In(zone).Format(time.RFC3339),
		})
	}
	l := a.Learned
	out.Appliances.All = l.All.Appliance(f.name)
	out.Appliances.Weekday = l.Weekday.Appliance(f.name)
	out.Appliances.Weekend = l.Weekend.Appliance(f.name)
	var buf bytes.Buffer
	if output == "json" {
		if err := printJSON(&buf, out); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	if err := emsEVText(&buf, out, zone); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func emsEVText(w *bytes.Buffer, out emsEVOutput, zone *time.Location) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "#\tSTART (%s)\tEND (%[1]s)\tSTART (UTC)\tEND (UTC)\tKWH\tPEAK KW\n", zone)
	cut := 0
	for i, s := range out.Sessions {
		note := ""
		if s.Cut {
			note, cut = "\tcut", cut+1
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.2f\t%.2f%s\n", i+1,
			time.Unix(s.StartUnixS, 0).In(zone).Format("2006-01-02 15:04"),
			time.Unix(s.EndUnixS, 0).In(zone).Format("2006-01-02 15:04"),
			s.StartUTC, s.EndUTC, float64(s.EnergyWh)/1000, float64(s.PeakW)/1000, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if cut > 0 {
		fmt.Fprintf(w, "cut: %d session(s) begin or end at a data gap or an end of the series; counted, but no times or energies taken from them\n", cut)
	}
	l := out.Schedule
	fmt.Fprintf(w, "\nschedule: %d sessions in %.1f days of data (%d samples), local time %s\n",
		len(out.Sessions), out.Coverage.WeekdayDays+out.Coverage.WeekendDays, out.Samples, zone)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tSESSIONS\tPER DAY\tPLUG-IN\tCHARGE END\tMEDIAN KWH\tP80 KWH\tMAX KW\tWINDOW")
	for _, p := range []struct {
		name string
		s    evclamp.Schedule
	}{{"all", l.All}, {"weekday", l.Weekday}, {"weekend", l.Weekend}} {
		s := p.s
		note := ""
		if s.Borrowed {
			note = " (too few sessions: times and energies of all)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%s ± %d min\t%s\t%.1f\t%.1f\t%.2f\t%02d:00-%02d:00%s\n", p.name, s.Sessions, s.SessionsPerDay,
			evclamp.ClockHHMM(s.PlugInS), (s.PlugInSDS+30)/60, evclamp.ClockHHMM(s.ChargeEndS),
			float64(s.EnergyMedianWh)/1000, float64(s.EnergyP80Wh)/1000, float64(s.MaxPowerW)/1000,
			s.StartHour, s.DepartureHour, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The profiles to plan with: one for every day, or weekday and weekend.
	type profile struct {
		name string
		s    evclamp.Schedule
		a    plan.Appliance
	}
	use := []profile{{"all", l.All, out.Appliances.All}}
	if l.WeekendDiffers {
		fmt.Fprintf(w, "weekday and weekend differ (%s): plan them apart\n", l.Why)
		use = []profile{{"weekday", l.Weekday, out.Appliances.Weekday}, {"weekend", l.Weekend, out.Appliances.Weekend}}
	} else if l.Weekday.Borrowed || l.Weekend.Borrowed {
		fmt.Fprintln(w, "too few weekday or weekend sessions to tell them apart: plan every day with the same appliance")
	} else {
		fmt.Fprintln(w, "weekday and weekend agree: plan every day with the same appliance")
	}
	for _, p := range use {
		if p.s.DepartureRaised {
			fmt.Fprintf(w, "%s: departure %02d:00 raised to %02d:00: the car typically charges until %s, so it has not left before\n",
				p.name, out.Options.DepartureHour, p.s.DepartureHour, evclamp.ClockHHMM(p.s.ChargeEndS))
		}
	}
	fmt.Fprintln(w, "\nappliance for ems plan (energy: P80 of the session energies):")
	for _, p := range use {
		data, err := json.Marshal(p.a)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %s\n", p.name, data)
	}
	return nil
}
