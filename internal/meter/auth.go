package meter

import (
	"encoding/base64"
	"strings"

	"github.com/cometbft/cometbft/crypto/ed25519"
)

// passwordDomain separates MQTT passwords from every other signature a
// device key makes (readings sign behind "gridledger/reading/v1\n").
const passwordDomain = "gridledger/mqtt/v1\n"

func passwordText(community, deviceID string) []byte {
	return []byte(passwordDomain + community + "\n" + deviceID)
}

// Password is the MQTT password of device deviceID in a community: the
// unpadded base64url ed25519 signature by key over
// "gridledger/mqtt/v1\n" + community + "\n" + deviceID. key is the
// device's own registered key, or, for a meter read by a gateway, the
// gateway's key.
func Password(key ed25519.PrivKey, community, deviceID string) string {
	sig, err := key.Sign(passwordText(community, deviceID))
	if err != nil {
		// cometbft's Sign fails only on a malformed key.
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(sig)
}

// VerifyPassword reports whether password is deviceID's password in
// community under the public key pub.
func VerifyPassword(pub []byte, community, deviceID, password string) bool {
	if len(pub) != ed25519.PubKeySize || len(password) != base64.RawURLEncoding.EncodedLen(ed25519.SignatureSize) {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(password)
	if err != nil {
		return false
	}
	return ed25519.PubKey(pub).VerifySignature(passwordText(community, deviceID), sig)
}

// memberUserPrefix starts a member client's user name. '@' is in no
// ledger id, so a member client is never taken for a device.
const memberUserPrefix = "ha@"

// MemberUser is the MQTT user name of a member's own client on the
// community broker (Home Assistant, and the adapter publishing the
// member's market to it): "ha@" + the member's id. Its password is
// Password(the member's key, community, MemberUser(member)); it may touch
// only the member's Home Assistant topics (internal/homeassistant).
func MemberUser(member string) string { return memberUserPrefix + member }

func memberOfUser(user string) (string, bool) {
	m, ok := strings.CutPrefix(user, memberUserPrefix)
	return m, ok && validID(m)
}
