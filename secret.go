package tarn

import "context"

// SecretPrefix starts the value of every secret parameter in a project
// file: the value sealed for one lakehouse ("tarn-secret:v1:BASE64").
const SecretPrefix = "tarn-secret:v1:"

// SecretAlgorithm names the construction secret parameters are sealed
// with: an anonymous sealed box (X25519, XSalsa20-Poly1305).
const SecretAlgorithm = "x25519-xsalsa20poly1305-sealed-box"

// PublicKey is the key clients seal secret parameters with. Only the
// lakehouse (the process that holds its home) has the private half.
type PublicKey struct {
	Algorithm string `json:"algorithm"` // SecretAlgorithm
	// Key is the X25519 public key, 32 bytes (base64 in JSON).
	Key []byte `json:"key"`
	// ID names the key in every value sealed with it (16 hex digits), so
	// that a value sealed for another lakehouse is told apart from a
	// corrupt one.
	ID string `json:"id"`
}

// SecretService gives out the key secret parameters are sealed with.
type SecretService interface {
	// PublicKey returns the lakehouse's public key, creating the key pair
	// on first need.
	PublicKey(ctx context.Context) (*PublicKey, error)
}
