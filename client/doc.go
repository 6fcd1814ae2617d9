// Package client implements tarn's service interfaces over HTTP, against
// `tarn serve` (package server). It is what the CLI holds in remote mode;
// errors come back with the server's error codes, so a command fails the
// same way (and with the same exit code) embedded or remote.
//
// # Basics
//
//	svc := client.New(client.Config{Endpoint: "http://127.0.0.1:8181", Token: token})
//	defer svc.Close()
//	commits, err := svc.Refs.Log(ctx, "main", 10)
//
// Input files (table create/import) and projects (run) are read on this
// machine and uploaded; query results stream back as Arrow IPC.
//
// # Caveats
//
// Projects are packed as tar.gz without what .gitignore excludes (see
// Pack for the supported patterns) and must stay under the upload limit.
package client
