package subscriptions

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/internal/pgserver"
	"eventscope/internal/testdb"
	"eventscope/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	benchCluster.close()
	os.Exit(code)
}

// benchCluster is a private PostgreSQL cluster for the benchmarks (unless
// EVENTSCOPE_BENCH_URL names a server): the global log's visibility
// horizon is cluster-wide, so other databases' transactions (parallel
// tests, other people's runs) would add their noise to the latencies.
var benchCluster benchServer

type benchServer struct {
	once sync.Once
	opts pgserver.Options
	srv  *pgserver.Server
	err  error
}

func (c *benchServer) close() {
	if c.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = pgserver.Destroy(ctx, c.opts)
	_ = os.RemoveAll(c.opts.Home)
}

// benchStore opens a store on a fresh database of the benchmark server.
func benchStore(b *testing.B, o store.Options) *bundle {
	b.Helper()
	ctx := context.Background()
	base := os.Getenv("EVENTSCOPE_BENCH_URL")
	if base == "" {
		benchCluster.once.Do(func() {
			home, err := os.MkdirTemp("", "eventscope-subs-bench-")
			if err != nil {
				benchCluster.err = err
				return
			}
			benchCluster.opts = pgserver.Options{Home: home}
			benchCluster.srv, benchCluster.err = pgserver.Ensure(ctx, benchCluster.opts)
		})
		if benchCluster.err != nil {
			b.Fatalf("benchmark cluster: %v", benchCluster.err)
		}
		base = benchCluster.srv.AdminURL()
	}
	name := fmt.Sprintf("subs_bench_%d", rand.Uint32())
	admin, err := pgx.Connect(ctx, base)
	must(b, err)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	must(b, err)
	admin.Close(ctx)
	b.Cleanup(func() {
		admin, err := pgx.Connect(ctx, base)
		if err == nil {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			admin.Close(ctx)
		}
	})
	u := pgserver.WithDatabase(base, name)
	st := testdb.Open(b, u, o)
	return &bundle{url: u, st: st, adm: NewAdmin(st)}
}
