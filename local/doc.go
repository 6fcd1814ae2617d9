// Package local implements tarn's service interfaces over a lakehouse home
// on this machine (embedded mode): the catalog database, the warehouse,
// Python environments, users and jobs all live under the home directory.
//
// # Basics
//
//	svc, err := local.Open(ctx, local.Config{Home: "/data/lake"})
//	defer svc.Close()
//	refs, err := svc.Refs.ListRefs(ctx, tarn.KindBranch)
//
// `tarn serve` puts the same services behind HTTP (package server);
// the HTTP client (package client) implements the same interfaces, so the
// CLI does not care which one it holds.
//
// # Caveats
//
// Requests name input files and project folders by local path: this
// package reads them. A server must only pass paths it created itself
// (uploads), never paths a client sent.
package local
