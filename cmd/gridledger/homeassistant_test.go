package main

import (
	"encoding/json"
	"testing"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/meter"
)

// `homeassistant --credentials` prints what Home Assistant's MQTT
// integration needs: the home's broker and the member's client, whose
// password the member's key signs for this community.
func TestHomeAssistantCredentials(t *testing.T) {
	home := t.TempDir()
	if _, _, err := runRoot(t, "", "init", "--home", home); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runRoot(t, "", "keys", "add", "alice", "--home", home); err != nil {
		t.Fatal(err)
	}
	out, _, err := runRoot(t, "", "homeassistant", "--credentials", "--member", "alice", "--home", home, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]string
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	k, err := chain.LoadKey(home, "alice")
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := chain.Genesis(home)
	if err != nil {
		t.Fatal(err)
	}
	if c["username"] != "ha@alice" || c["broker"] != "tcp://127.0.0.1:1883" ||
		!meter.VerifyPassword(k.PubKey(), doc.ChainID, "ha@alice", c["password"]) {
		t.Errorf("credentials %v", c)
	}
	if _, _, err := runRoot(t, "", "homeassistant", "--credentials", "--home", home); err == nil {
		t.Error("no member accepted")
	}
}
