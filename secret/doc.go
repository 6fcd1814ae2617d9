// Package secret seals the values of secret run parameters for one
// lakehouse and opens them again. It is the only importer of
// golang.org/x/crypto.
//
// # Basics
//
// Every lakehouse has a key pair: a file of its home (LoadOrCreate,
// HOME/secret.key, mode 0600, made on first need), or the text Keys.Text
// gives in a database its servers share (Generate, Parse). Anyone with the public key seals a value
// (Seal: an anonymous sealed box, X25519 and XSalsa20-Poly1305, with the
// parameter's name inside), so a client never needs the private key; only
// the process holding the home opens it (Keys.Open). A sealed value starts
// with the public key's id, so one sealed for another lakehouse is told
// apart from a corrupt one. Keys.MAC hashes a value under a key derived
// from the private key, for cache keys.
//
// # Caveats
//
// A sealed value is bound to its parameter's name, not to a project or a
// user: whoever may run a project on the lakehouse can have any value
// sealed for it opened into their own step (see docs/SECURITY.md).
// Losing the key file loses every value sealed for it.
package secret
