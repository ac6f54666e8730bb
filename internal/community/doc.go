// Package community describes an energy community in a TOML file — its
// market rules, tariffs, demand-response policy and every site with its
// load, generation and appliances — and models what each site's meter
// measures hour by hour, for the simulator.
//
// The description: Parse reads and validates a file, filling in defaults so
// the returned Community is explicit; Encode writes it back; Generate makes a
// realistic community of any size. docs/community.md documents every key.
//
// The model: Community.Model(seed) gives each site's consumption (without
// the appliances its EMS plans) and production for any hour, in integer Wh.
// Loads follow tables learned from real households (see profiles/README.md)
// or synthetic shapes for offices, street lighting and EV charging
// stations, in the community's local standard time; PV follows a clear-sky
// sun for the community's latitude under a shared day-to-day cloudiness;
// wind follows an autocorrelated Rayleigh (Weibull k=2) wind speed through
// a turbine power curve. Weather-like variation comes from hash-based noise,
// not from a random source, so every value is a pure function of the seed,
// the site's id and the hour: the same seed gives the same Wh, whatever
// order the hours are asked in, and the Model holds no mutable state (safe
// for concurrent use). Floating point is used inside the model; results
// are reproducible on one platform, and may differ by a rounding step
// across CPU architectures whose math routines differ.
//
// The package is pure: no file system, network, clock or random source.
package community
