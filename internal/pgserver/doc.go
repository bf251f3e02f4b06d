// Package pgserver runs eventscope's embedded default database: a private
// PostgreSQL cluster that eventscope starts by itself when neither --db nor
// DATABASE_URL names a server.
//
// # Where things live
//
// The cluster belongs to a home directory, Options.Home (default
// $EVENTSCOPE_HOME, else ~/.local/share/eventscope). The home holds:
//
//	lock          flock(2)ed while a process initialises, starts, stops or removes the cluster
//	cluster.json  where the cluster is: data dir, socket dir, the OS user it runs as
//	pgpass        the cluster's password (mode 0600); see "Authentication"
//	data/         the data directory (usually; see "Running as root")
//	run/          the directory of the Unix socket (usually; see "Socket path")
//
// The server listens only on a Unix socket in a directory of its own
// (listen_addresses is empty, unix_socket_directories is that directory), so it
// never takes a TCP port and never collides with another server. Its log is
// data/postgres.log (pg_ctl -l); an error starting the server quotes the
// log's tail. The URL is
//
//	postgres://postgres@/eventscope?host=<socket dir>&port=5432&passfile=<home>/pgpass
//
// # Authentication
//
// Every connection, over the socket or TCP, authenticates with
// SCRAM-SHA-256 (pg_hba.conf has no trust line). The password is a random
// secret generated with the cluster and kept in <home>/pgpass (pgpass
// format, mode 0600, readable by the user who runs eventscope only: not by
// the OS account the server runs as when that is root); the URLs name the
// file with passfile=, which libpq and pgx read, so the secret never appears
// in a URL, a command line or a log. The server stores a SCRAM verifier,
// computed here. A cluster made by an older eventscope with trust
// authentication is secured the next time it is started (Ensure): the
// password is set, pg_hba.conf rewritten and reloaded. Destroy removes the
// secret with the cluster. The socket directory stays mode 0700 too.
//
// # Socket path
//
// A Unix socket path must be shorter than 108 bytes. When <home>/run/.s.PGSQL.5432
// would be 107 bytes or longer, the socket lives in /tmp/eventscope-<hash of
// the home> instead, a directory of the server user with mode 0700
// (pgserver refuses one that someone else owns). The choice is recorded in
// cluster.json.
//
// # Running as root
//
// initdb and postgres refuse to run as root. When eventscope runs as root,
// the server runs as an unprivileged user: $EVENTSCOPE_PG_USER if set, else
// the "postgres" system user if it exists, else "nobody"; every initdb,
// pg_ctl and postgres process is started with that user's credentials.
// That user must be able to reach the data directory, and root's home
// (/root, mode 0700) is not reachable by anyone else. So, as root:
//
//   - if the server user can traverse every directory from / down to the
//     home (checked from the permission bits; ACLs are not consulted), the
//     data and socket directories are <home>/data and <home>/run, owned by
//     the server user. A home that root creates is mode 0711 for this, so
//     EVENTSCOPE_HOME=/srv/eventscope keeps its data in /srv/eventscope/data;
//     ~/.local/share/eventscope under /root never qualifies;
//   - otherwise they go to /var/lib/eventscope/<hash of the home>/{data,run},
//     a directory owned by the server user (/var/lib rather than /var/tmp or
//     /tmp, whose cleaners delete old files). cluster.json in the home
//     records the location, and Destroy removes it.
//
// A cluster created by one user keeps that user: root manages it as the
// user recorded in cluster.json, and any other user gets an error naming it.
//
// # Finding the server binaries
//
// The binaries (initdb, pg_ctl, postgres, version 13 or newer) come from
// Options.BinDir, else $EVENTSCOPE_PG_BIN (only that directory is searched;
// pointing it at an empty directory simulates a machine without
// PostgreSQL), else the first usable directory among: the directories of
// initdb, pg_ctl and postgres found on PATH (symlinks resolved), then
// /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, /usr/local/pgsql/bin and
// Homebrew's postgresql@* directories, newest major version first. An
// existing cluster is started with binaries of its own major version. With
// none found, the error (ErrNoBinaries) says how to install them and how to
// use DATABASE_URL instead.
//
// # Starting and stopping
//
// Ensure starts the server with pg_ctl start -w, and Stop asks it for a
// fast shutdown (SIGINT, as pg_ctl stop -m fast) and waits for it to exit.
// The server keeps running after eventscope exits: the next command reuses
// it. Whether it runs is read from postmaster.pid; on Linux the recorded pid
// must also be a process working in the data directory, so that a pid file
// left by a crash or a reboot, whose pid now belongs to another process,
// is removed rather than trusted (and that process is never signalled).
//
// # Concurrency
//
// Ensure, Start, Stop, Restart and Destroy hold an exclusive flock on
// <home>/lock, so two processes starting the cluster at once initialise and
// start it once; the second finds it running and reuses it.
//
// The cluster is tuned as a development server: fsync and
// synchronous_commit stay on, shared_buffers = 128MB, max_connections = 200
// (enough for parallel test packages), C collation, UTF8 encoding.
package pgserver
