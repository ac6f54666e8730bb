// Package contract is gridledger's smart contract: the ledger's state
// machine of registry, wallets, hourly listings, escrow and clearing.
//
// It is deterministic and does no I/O: its inputs are the genesis, and for
// each block its height, time and transactions; its outputs are result
// codes, events, the entries to persist and the app hash. It reads no clock
// (time comes from the block header), iterates no map in an order that
// matters, and uses no floats, goroutines or randomness, so every validator
// reaches the same app hash. The chain package wraps it as a CometBFT ABCI
// application.
//
// Units: energy in Wh, prices in micro-units of currency per kWh, money in
// nano-units of currency, so that Wh × price is exact. A field's Go name
// carries its unit (PricePerKWh, PaidNano, TokensMintedWh); some JSON tags
// do not (price, grid_price, feed_in, paid, tokens_minted,
// paid_to_utility, to_utility, net). The tags stay as they are: they are
// the ledger's state encoding, which the app hash covers, and the wire
// format of its queries and of the REST API, so renaming one would change
// the app hash and break every client.
package contract
