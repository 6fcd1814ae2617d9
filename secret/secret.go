package secret

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tarnhq/tarn"
	"golang.org/x/crypto/nacl/box"
)

// Sentinels of Open, wrapped by the errors it returns (all EINVALID).
var (
	// ErrOtherLakehouse: the value was sealed with another lakehouse's key.
	ErrOtherLakehouse = errors.New("sealed for another lakehouse")
	// ErrCorrupt: the value is not a sealed secret, or was altered.
	ErrCorrupt = errors.New("corrupt secret")
	// ErrOtherName: the value was sealed for another parameter.
	ErrOtherName = errors.New("sealed for another parameter")
)

// keyFileHeader starts a key file; the private key follows in base64.
const keyFileHeader = "tarn-lakehouse-key:v1:"

// idLen is the length of the key id at the start of a sealed value.
const idLen = 8

// macInfo is the HKDF context of the key that hashes secret values.
const macInfo = "tarn secret parameter cache key v1"

// Keys is a lakehouse's key pair.
type Keys struct {
	public, private [32]byte
	id              [idLen]byte
	macKey          []byte
}

var _ interface {
	Open(name, sealed string) (string, error)
	MAC(value string) string
} = (*Keys)(nil)

// LoadOrCreate reads the key pair in path, creating it first if there is
// none. The file is created whole or not at all, mode 0600, and when two
// processes create it at once both end up with the one that was linked
// into place first. A key file readable by group or others is refused.
func LoadOrCreate(path string) (*Keys, error) {
	k, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create the lakehouse key: %w", err)
	}
	k, err = Generate()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("create the lakehouse key: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(k.Text() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write the lakehouse key: %w", err)
	}
	// A link, unlike a rename, never replaces a key another process made
	// meanwhile (whose public key may already have sealed a value).
	if err := os.Link(f.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create the lakehouse key %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return Load(path)
}

// Load reads the key pair in path (an error wrapping fs.ErrNotExist when
// there is none).
func Load(path string) (*Keys, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, tarn.Errorf(tarn.EINVALID, "the lakehouse key %s may be read by other users (mode %04o): make it private with chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(string(data), path)
}

// Generate makes a new key pair, held in memory only.
func Generate() (*Keys, error) {
	_, private, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the lakehouse key: %w", err)
	}
	return fromPrivate(private[:])
}

// Text is the key pair as a key file holds it (its private key: keep it
// as secret as the file).
func (k *Keys) Text() string {
	return keyFileHeader + base64.StdEncoding.EncodeToString(k.private[:])
}

// Parse reads a key pair in the form Text gives; where names the place it
// was read from, for the error when it is damaged.
func Parse(text, where string) (*Keys, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(text), keyFileHeader)
	raw, derr := base64.StdEncoding.DecodeString(b64)
	if !ok || derr != nil || len(raw) != 32 {
		return nil, tarn.Errorf(tarn.EINVALID, "the lakehouse key %s is damaged: restore it from a backup (values sealed for it cannot be opened without it)", where)
	}
	return fromPrivate(raw)
}

func fromPrivate(raw []byte) (*Keys, error) {
	k := &Keys{}
	copy(k.private[:], raw)
	k.public = publicOf(&k.private)
	k.id = keyID(k.public[:])
	var err error
	if k.macKey, err = hkdf.Key(sha256.New, k.private[:], nil, macInfo, 32); err != nil {
		return nil, err
	}
	return k, nil
}

// ID is the key pair's id, which starts every value sealed for it.
func (k *Keys) ID() string { return hex.EncodeToString(k.id[:]) }

// PublicKey returns the half of the key pair clients seal values with.
func (k *Keys) PublicKey() *tarn.PublicKey {
	return &tarn.PublicKey{Algorithm: tarn.SecretAlgorithm, Key: bytes.Clone(k.public[:]), ID: k.ID()}
}

// Seal encrypts the value of the secret parameter name for the lakehouse
// whose public key pub is: tarn.SecretPrefix + base64(key id, sealed box
// of name NUL value). Only that lakehouse's private key opens it, and only
// as the value of a parameter called name.
func Seal(pub *tarn.PublicKey, name, value string) (string, error) {
	if pub == nil || pub.Algorithm != tarn.SecretAlgorithm || len(pub.Key) != 32 {
		return "", tarn.Errorf(tarn.EINVALID, "the lakehouse's public key is not a %s key of 32 bytes: is the server a newer tarn?", tarn.SecretAlgorithm)
	}
	id := keyID(pub.Key)
	if hex.EncodeToString(id[:]) != pub.ID {
		return "", tarn.Errorf(tarn.EINVALID, "the lakehouse's public key does not match its id %s", tarn.Quote(pub.ID))
	}
	if name == "" || strings.ContainsRune(name, 0) {
		return "", tarn.Errorf(tarn.EINVALID, "secret name %s must be non-empty, without NUL", tarn.Quote(name))
	}
	var recipient [32]byte
	copy(recipient[:], pub.Key)
	sealed, err := box.SealAnonymous(id[:], []byte(name+"\x00"+value), &recipient, rand.Reader)
	if err != nil {
		return "", fmt.Errorf("seal secret %s: %w", name, err)
	}
	return tarn.SecretPrefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// Open decrypts the value of the secret parameter name. Errors are
// EINVALID and wrap ErrOtherLakehouse, ErrCorrupt or ErrOtherName.
func (k *Keys) Open(name, sealed string) (string, error) {
	again := fmt.Sprintf("set it again with `tarn parameter set %s --type secret`", name)
	corrupt := func(why string) error {
		return invalid(ErrCorrupt, "secret %s is corrupt (%s); %s", name, why, again)
	}
	text, ok := strings.CutPrefix(sealed, tarn.SecretPrefix)
	if !ok {
		return "", corrupt("its value does not start with " + tarn.SecretPrefix)
	}
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return "", corrupt("not base64")
	}
	if len(raw) < idLen+box.AnonymousOverhead {
		return "", corrupt("too short")
	}
	if !bytes.Equal(raw[:idLen], k.id[:]) {
		return "", invalid(ErrOtherLakehouse, "secret %s was encrypted for another lakehouse; %s (it was sealed for key %x, this lakehouse's is %x)", name, again, raw[:idLen], k.id[:])
	}
	plain, ok := box.OpenAnonymous(nil, raw[idLen:], &k.public, &k.private)
	if !ok {
		return "", corrupt("it does not open with this lakehouse's key: it was altered")
	}
	sealedFor, value, ok := strings.Cut(string(plain), "\x00")
	if !ok {
		return "", corrupt("no parameter name inside")
	}
	if sealedFor != name {
		return "", invalid(ErrOtherName, "secret %s holds the value set for parameter %s; %s", name, tarn.Quote(sealedFor), again)
	}
	return value, nil
}

// MAC is a keyed hash of a secret value (HMAC-SHA256 under a key derived
// from the private key): equal values hash equal on one lakehouse, and
// nobody without the private key can test a guess against it.
func (k *Keys) MAC(value string) string {
	h := hmac.New(sha256.New, k.macKey)
	h.Write([]byte(value))
	return hex.EncodeToString(h.Sum(nil))
}

// invalid is an EINVALID error with a message of its own that wraps a
// sentinel.
func invalid(sentinel error, format string, args ...any) error {
	return &tarn.Error{Code: tarn.EINVALID, Message: fmt.Sprintf(format, args...), Err: sentinel}
}

// keyID names a public key: the first bytes of its SHA-256.
func keyID(public []byte) [idLen]byte {
	sum := sha256.Sum256(append([]byte("tarn lakehouse key\x00"), public...))
	var id [idLen]byte
	copy(id[:], sum[:])
	return id
}

// publicOf is the X25519 public key of a private key.
func publicOf(private *[32]byte) [32]byte {
	var public [32]byte
	k, err := ecdh.X25519().NewPrivateKey(private[:])
	if err != nil { // only for a key of the wrong length
		panic(err)
	}
	copy(public[:], k.PublicKey().Bytes())
	return public
}
