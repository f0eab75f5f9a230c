// Package load is the consumer of dump streams (DESIGN.md contract 2): it
// verifies each stream and loads it into the local database, all or nothing.
// bf-import is a thin layer over [Import].
//
// (The full design notes follow once measured.)
package load
