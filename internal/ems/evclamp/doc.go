// Package evclamp reads an EV's charging from a current clamp on its
// charger's circuit (seed paper §4.2, Figure 7; SYSTEM.md parts 6–7): it
// finds each charging session in the clamp's power series, learns the car's
// usual schedule from weeks of sessions, and turns the schedule into the
// energy-based appliance that the home's planner (package plan) schedules.
//
// The package is pure: no I/O beyond decoding an io.Reader (ReadCSV), no
// clock, no goroutines, no random source of its own (Synthesize draws from
// one the caller supplies). Power is a float; energies come out as integer
// Wh, times as UTC unix seconds.
//
// # Sessions
//
// Samples are (UnixS, PowerW) in strictly increasing time order, at any
// spacing. Detect works in four steps.
//
//  1. A sample is on when its power is above OnThresholdW. Consecutive on
//     samples form a run; two samples further apart than the gap limit
//     (MaxGapS, or 2.5 median intervals if longer: GapLimitS) are a data
//     gap, and a gap ends a run.
//  2. A run starts halfway between its first on sample and the sample before
//     it, and ends halfway between its last on sample and the sample after.
//     A charger switches in seconds, so the true edge lies somewhere in that
//     interval and the midpoint is the unbiased guess; it is also the step
//     whose energy the trapezoid over that interval measures exactly, so
//     edges and energy agree. Beside a gap, or at either end of the series,
//     the on sample itself is the edge: nothing is extrapolated.
//  3. Runs are merged unless a gap lies between them or the samples below
//     the threshold between them span more than MaxDipS: cars pause to
//     balance cells, chargers pause for load management, and the dip's own
//     small consumption belongs to the session. The span of the low samples
//     is the shortest the dip can have been, so a dip splits a session only
//     when the data prove it long; with 15-minute samples a single low
//     reading is a pause, two (15 minutes low at least) are not.
//  4. Sessions shorter than MinSessionS are dropped.
//
// A session's energy is the trapezoidal integral of the samples over the
// session, edges and pauses included, rounded to Wh; its peak is its
// highest sample, its mean power its energy over its duration, and its
// plateau the median of its samples above the threshold: the charger's
// constant-current power, which noise lifts the peak above (by 1–2 % with
// 40 W of noise) and the taper and pauses pull the mean below. The
// integral never spans a data gap, so a session cut by an outage is
// reported as two (or as one that ends at the outage) with only the energy
// that was measured, and marked Cut, as is a session at either end of the
// series: its start, end or energy is not the car's.
//
// # Defaults
//
//   - OnThresholdW 1000 W. The lowest current a charger may offer a car is
//     6 A (IEC 61851-1), 1.4 kW on one 230 V phase, while a charger idles at
//     a few watts and a clamp's noise is tens of watts: 1 kW separates the
//     two with margin on both sides. The end of a constant-voltage taper can
//     fall below it; the energy lost there is a few Wh.
//   - MaxDipS 10 min. Pauses for balancing and load management last seconds
//     to a few minutes; a car unplugged and plugged in again is gone longer.
//   - MinSessionS 5 min. Shorter runs are the charger's self-test at
//     plug-in, a kettle on a shared circuit or a spike, not a charge.
//   - MaxGapS 30 min, raised to 2.5 times the series' median interval when
//     that is longer (GapLimitS). Clamps report every 10 s to 15 min. A
//     charge is steady, so bridging a short hole costs little (at most half
//     the charger's power over the hole, if the charge stopped inside it),
//     while splitting a session for a lost report would miscount it; 30
//     minutes is a long hole for a clamp reporting every minute, and a clamp
//     reporting every 15 minutes may lose one report (2.5 periods allows for
//     jitter) but not two.
//   - DepartureHour 07:00, the morning commute; local time is UTC +
//     UTCOffsetH (fixed, no daylight saving, as in package forecast).
//
// With 1-minute samples, sessions match the truth of synthetic series to
// within 2 % of energy and one sample period of start (see the tests); at
// coarser periods each edge adds up to power × period / 2 of error.
//
// # Schedule
//
// Learn summarises the sessions as a Schedule, for all sessions and apart
// for those plugged in on weekdays and at weekends (by the local day of
// plug-in, the same calendar day the planner plans). Cut sessions count
// towards sessions per day but give no times or energies:
//
//   - PlugInS and ChargeEndS: the circular medians of the local times of
//     day of the starts and ends (CircularMedianS). A plain median of hours
//     breaks across midnight: plug-ins at 23:00 and 01:00 have a mean and
//     median of 12:00 but belong at 00:00. PlugInSDS is their robust
//     spread (1.4826 × the median circular distance from PlugInS).
//   - EnergyMedianWh, and EnergyP80Wh (80th percentile), the energy the
//     planner is given: a car that gets less than it needs strands its
//     driver, while one that is offered more than it takes merely stops
//     early; the median would fall short one night in two. EnergySDWh is
//     the robust spread.
//   - MaxPowerW: the 90th percentile of the session plateaus: the power
//     the car takes when it charges freely. Peaks overstate it by the noise,
//     and a planner that counts on more power per hour than the car takes
//     falls short; the percentile, not the maximum, ignores the odd session
//     measured high.
//   - SessionsPerDay: sessions over days of data (Observe), so that an
//     outage does not count as days without charging.
//
// Weekday and weekend are reported as differing when a difference both
// matters and is not noise: plug-in times an hour or more apart, median
// energies a quarter or more apart (both profiles having at least
// MinProfileSessions sessions), or sessions per day 0.25 or more apart
// (given two days of data each); and significant at |z| ≥ 2.5, by a
// Mann–Whitney rank test for times and energies (no distribution assumed:
// energies pile up at a full battery, arrivals are skewed) and as Poisson
// rates for sessions per day. On synthetic commuters (DefaultSynthConfig,
// 200 seeds for each length) one habit throughout is split in 0.5–1.5 % of
// 2-, 4- and 8-week series, while the default weekend habit (11:00 ± 2 h
// against 18:30 on weekdays) is found in 199 of 200 8-week series, two in
// three 4-week ones (the rest have fewer than 3 weekend sessions) and one
// in ten 2-week ones. A profile with fewer sessions than
// MinProfileSessions borrows the hours and energies of all sessions.
//
// # Departure
//
// A clamp cannot see the car leave: uncontrolled charging ends when the
// battery is full, not when the driver goes. The departure hour is
// therefore a parameter (default 07:00). But a car that is still charging
// has not left, so the typical end of charging is a lower bound on the
// departure: when the habitual charge runs past the departure hour (a late
// plug-in, a big battery, a night-shift driver), the window ends at the
// typical end of charging rounded up to the hour instead, and
// DepartureRaised says so. A user who says 07:00 but whose car charges
// until 08:30 on a typical day evidently leaves after 08:30 on such days;
// planning to 07:00 would demand a faster charge than the car has needed.
//
// # Appliance
//
// Schedule.Appliance gives the planner's energy-based appliance: flexible,
// window from the first whole hour after the typical plug-in (the car is
// not there before; the plug-in's own hour if that would leave no window)
// to the departure hour, EnergyWh = EnergyP80Wh (capped
// at what MaxPowerW can deliver in the window), MaxPowerW and PowerW = the
// charger's power. It is what to plan on a day the car is expected;
// SessionsPerDay says how often that is.
package evclamp
