// Package local is the composition root of an embedded lakehouse: it puts
// the implementations of tarn's service interfaces (catalog, table, query,
// pipeline, jobs) together over a lakehouse home on this machine. Home
// knows where each part of a home lives (the catalog database, the
// warehouse, Python environments, users, jobs, the cache) and reads its
// config.yml; Config carries every setting, filled by cmd/tarn.
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
