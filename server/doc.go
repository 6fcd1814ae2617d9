// Package server puts tarn's services behind HTTP: the API that `tarn
// serve` listens on and that package client speaks. api/openapi.yaml
// documents every route.
//
// # Basics
//
// Requests and responses are JSON, except uploads (multipart/form-data:
// a "request" part with the JSON request and "file" or "project" parts),
// query results (an Arrow IPC stream, application/vnd.apache.arrow.stream,
// written batch by batch as the engine yields them) and run progress
// (NDJSON, one object a line, written as events happen). A query that fails
// after its first batch breaks the response off; its job holds the error.
// The result's description is in the Arrow stream's schema metadata
// (api.MetaQuery). Errors are {"error":{"code":"not_found","message":"..."}}
// with the status from one table (statusOf); the code is the tarn error
// code, so a client maps it back exactly. Every request is checked against
// api/openapi.yaml (package api) before a handler runs (spec.go); bodies
// are capped by route, not by Content-Type.
//
// # Access
//
// Every /v1 request needs "Authorization: Bearer TOKEN" unless the server
// runs with Insecure (loopback only). Everyone reads everything. A user
// writes to branches named USER.* and to a protected branch (main by
// default) only by merging into it; admins write anywhere and manage
// users; tags are created and deleted by admins. A refused write is a 403
// whose message names the rule. Users see their own jobs and admins all
// (JobVisibility); a job the caller may not see answers like an unknown
// one.
//
// # Caveats
//
// The server never opens a path a client names: input files and projects
// are uploaded, stored under the home and removed after use; SQL cannot
// read them. With Projects set (the warehouse in a bucket), a queued
// run's project is kept in the bucket until the run ends, and the server
// that runs it downloads its own copy. No message it sends shows its paths (redact.go). A client that
// disconnects during a run does not stop it (the run is a job: follow it
// with `tarn job logs ID --follow`, stop it with `tarn job cancel ID`).
package server
