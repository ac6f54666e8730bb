// Package meter brings smart-meter readings from devices onto the ledger.
//
// # Data flow
//
//	device ──MQTT──▶ broker (auth, ACL) ──▶ gateway ──MsgReadings──▶ ledger
//	                                         │ verify, check, store fine data,
//	                                         │ batch one reading per meter per interval
//	                                         ▼
//	                             StoreDir/<meter>/<interval-start>.jsonl
//
// A device that can sign (a meter with its own ed25519 key) publishes
// reading.Signed JSON. A cheap device that cannot (Tasmota plug, Shelly,
// DSMR P1 reader) publishes its native payload; a meter registered with a
// Gateway is read by that gateway, which turns the payload into a reading
// and signs it with its own device key (package format decodes the
// payloads). Either way the gateway checks every reading as the contract
// will — known meter, owner not suspended, signature, sequence, time,
// registers — and refuses bad ones with the contract's codes, so what it
// submits is what the ledger accepts. Every accepted reading is appended to
// a private per-meter, per-interval file (the fine data, off the chain);
// when market time passes an interval's end the gateway submits, for each
// meter that reported, its last reading of the interval and the SHA-256 of
// that file (the fine hash), so the fine data can later be proven without
// being published. Registers are cumulative, so a lost message loses no
// energy: the next reading carries it.
//
// # Topics
//
// <community> is the chain id; ids are meter or gateway ids.
//
//	gridledger/<community>/meters/<meter-id>/reading   signed readings (reading.Signed JSON)
//	gridledger/<community>/devices/<device-id>/cmd     commands to a device, e.g. {"relay":"on"}
//
// Native topics of devices that cannot sign, published by the device and
// read by its gateway:
//
//	tele/<id>/SENSOR                     Tasmota energy telemetry (commands on cmnd/<id>/...)
//	shellies/<id>/...                    Shelly Gen1 (commands on shellies/<id>/relay/<n>/command)
//	<id>/events/rpc, <id>/status/...     Shelly Gen2 (commands on <id>/rpc)
//	dsmr/<id>/telegram                   DSMR P1 telegrams
//
// Because a Shelly Gen2 topic starts with the device id, the first topic
// levels gridledger, tele, stat, cmnd, shellies and dsmr cannot be device
// ids: a topic always names exactly one device, and the broker's ACL and
// the gateway agree on which.
//
// # Credentials
//
// A device logs in with its id as the MQTT username and, as password, the
// base64url (unpadded) ed25519 signature over
// "gridledger/mqtt/v1\n" + community + "\n" + id by its registered key (see
// Password). Nothing is stored on the broker: the password is checked
// against the key the ledger holds. A meter read by a gateway has no key;
// its password is signed by its gateway's key, and the gateway (or the
// operator) configures it into the device. Ed25519 signatures are
// deterministic, so the password never changes while the key does not.
//
// # Access control
//
// A device may publish only its own reading topic and its own native
// topics, and subscribe only to its own command topics. A gateway logged in
// over TCP may also publish and subscribe for the meters it reads. The
// gateway inside the process uses mochi's inline client, which bypasses
// authentication and ACL.
//
// # Dependencies
//
// The embedded broker is mochi-mqtt v2 (github.com/mochi-mqtt/server/v2,
// MIT): pure Go, embeddable, with all policy in hooks and an inline client,
// so one process holds broker and gateway. A community that already runs
// a broker (Debian's mosquitto) points the gateway at it instead; the
// gateway and the simulated devices speak MQTT 3.1.1 through Eclipse Paho
// (github.com/eclipse/paho.mqtt.golang, EPL-2.0/EDL-1.0), the reference Go
// client, which reconnects by itself.
package meter
