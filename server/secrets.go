package server

import (
	"net/http"

	"github.com/tarnhq/tarn"
)

// publicKey answers the lakehouse's public key: clients seal the values
// of secret parameters with it, and only this server opens them.
func (s *Server) publicKey(w http.ResponseWriter, r *http.Request) error {
	if s.Services.Secrets == nil {
		return tarn.Errorf(tarn.EINTERNAL, "this server holds no lakehouse key")
	}
	k, err := s.Services.Secrets.PublicKey(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}
