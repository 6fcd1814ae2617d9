// Package users keeps the users of a server and the SHA-256 hashes of
// their bearer tokens behind a small Store interface, with one
// implementation per backend: FileStore (users.json in the home, for one
// server) here, postgres.UserStore for several servers on one database.
// Service implements tarn.UserService and the server's authenticator over
// any Store.
//
// # Basics
//
// A token is "tarn_" and 32 random bytes (base64url); only its hash is
// stored, so a plain hash is enough (there is nothing to guess) and a
// token is looked up by its hash. AddUser returns the token once.
//
//	svc := &users.Service{Store: &users.FileStore{Path: home.UsersFile()}}
//	u, token, err := svc.AddUser(ctx, tarn.NewUser{Name: "alice", Admin: true})
//	who, err := svc.Authenticate(ctx, token)
//
// package userstest is the conformance suite every Store runs.
//
// # Caveats
//
// FileStore rewrites its file atomically under an exclusive lock, so
// several processes on one home may add users at once; it reads the whole
// file for every lookup, which suits a team, not a million users.
package users
