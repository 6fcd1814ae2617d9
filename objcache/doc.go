// Package objcache is a bounded, least-recently-used read-through cache
// of immutable remote files (the data and delete files of Iceberg tables
// in an object store) in a local folder, where DuckDB reads them.
//
// # Basics
//
// Cache.Get returns the local path of an object, downloading it through a
// Fetcher on a miss, and pins the entry until the returned release is
// called. An entry is the file KEY[:2]/KEY.EXT, KEY being the hex SHA-256
// of the object's location: table files are never rewritten in place (a
// new file gets a new name), so a location names one content for good;
// its size, known from the table's metadata, is checked on every use.
//
// A download goes to a temporary file in the entry's folder, is checked
// against the expected size, synced and renamed into place: a reader never
// sees a partial entry, and a failed or short download leaves nothing.
// Concurrent Gets of one missing object in a process share one download.
//
// # Eviction
//
// Before a download the cache makes room for it: while the entries and
// the new object would exceed Options.MaxBytes, or the disk would keep
// less than Options.MinFree, it removes the least recently used entries
// (by modification time, which every use refreshes). It never removes an
// entry pinned in this process, nor one used less than Options.Grace ago,
// which covers the readers of other processes sharing the folder; pinned
// entries are refreshed every Grace/3 while pinned. When nothing can be
// evicted the bound is exceeded until later downloads can reclaim space;
// when the disk itself is full the download fails with an error naming
// the folder.
//
// # Caveats
//
// The bound counts entries only, measured by scanning the folder when a
// download may exceed it. Temporary files left by a crash are removed at
// Open: those of a process of this host that has ended, and any older than
// an hour.
package objcache
