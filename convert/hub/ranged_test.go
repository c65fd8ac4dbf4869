package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbc/symbc/convert/hub/hubtest"
)

// rangedClient cuts files larger than 100,000 bytes into parts of that size,
// fetched three at a time.
func rangedClient(t testing.TB, f *hubtest.Server, cache string, opts ...Option) *Client {
	c := newClient(t, f, cache, append([]Option{WithConnections(3)}, opts...)...)
	c.partSize = 100_000
	return c
}

// cdnRanges returns the byte ranges of the CDN GETs of sha logged so far,
// [first, last] each; a GET without Range counts as the whole file.
func cdnRanges(t *testing.T, f *hubtest.Server, sha string, size int64) [][2]int64 {
	t.Helper()
	var out [][2]int64
	for _, r := range f.Requests() {
		rest, ok := strings.CutPrefix(r, "GET /cdn/"+sha)
		if !ok {
			continue
		}
		if rest == "" {
			out = append(out, [2]int64{0, size - 1})
			continue
		}
		a, b, ok := strings.Cut(strings.TrimPrefix(rest, " bytes="), "-")
		first, err1 := strconv.ParseInt(a, 10, 64)
		last, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("CDN request %q is not a bounded range", r)
		}
		out = append(out, [2]int64{first, last})
	}
	return out
}

func noPartials(t *testing.T, cache, sha string) {
	t.Helper()
	blobs := filepath.Join(cache, "models--acme--tiny-llm", "blobs")
	for _, s := range []string{incompleteSuffix, rangedSuffix, partsSuffix} {
		if _, err := os.Stat(filepath.Join(blobs, sha+s)); err == nil {
			t.Errorf("%s%s left behind", sha, s)
		}
	}
}

func TestRangedDownloadInParts(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	shard := "model-00001-of-00002.safetensors" // 700,000 bytes: 7 parts
	sha := repo.ETag(shard)
	cache := t.TempDir()
	var mu sync.Mutex
	last := map[string]int64{}
	c := rangedClient(t, f, cache, WithProgress(func(file string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if done < last[file] {
			t.Errorf("progress of %s went back from %d to %d", file, last[file], done)
		}
		last[file] = done
	}))
	p, err := c.File(context.Background(), testRepo, "main", shard)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, p), repo.Files[shard]) {
		t.Fatal("content differs")
	}
	rs := cdnRanges(t, f, sha, 700_000)
	if len(rs) != 7 {
		t.Fatalf("%d CDN GETs, want 7 parts: %v", len(rs), f.Requests())
	}
	covered := make([]bool, 7)
	for _, r := range rs {
		if r[0]%100_000 != 0 || r[1] != r[0]+99_999 {
			t.Errorf("range %v is not one part", r)
			continue
		}
		covered[r[0]/100_000] = true
	}
	for i, ok := range covered {
		if !ok {
			t.Errorf("part %d never requested", i)
		}
	}
	if last[shard] != 700_000 {
		t.Errorf("progress ended at %d", last[shard])
	}
	noPartials(t, cache, sha)

	// Files of at most one part stay one plain stream.
	f.ResetLog()
	small := "model-00002-of-00002.safetensors"
	c.partSize = 300_000
	if _, err := c.File(context.Background(), testRepo, "main", small); err != nil {
		t.Fatal(err)
	}
	if rs := cdnRanges(t, f, repo.ETag(small), 300_000); len(rs) != 1 {
		t.Errorf("a one-part file took %d GETs", len(rs))
	}
}

// TestRangedDownloadResumes: a run cancelled mid-download leaves its parts
// on disk; the next run asks only for what is missing, and a part whose
// connection drops is resumed from the byte it reached.
func TestRangedDownloadResumes(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	shard := "model-00001-of-00002.safetensors"
	sha := repo.ETag(shard)
	cache := t.TempDir()
	reached := f.BlockAt(testRepo, shard, 60_000)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := rangedClient(t, f, cache).File(ctx, testRepo, "main", shard)
		errc <- err
	}()
	<-reached
	statePath := filepath.Join(cache, "models--acme--tiny-llm", "blobs", sha+partsSuffix)
	// Wait until the blocked part's 60,000 bytes are recorded (the other
	// parts complete meanwhile).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st partsState
		b, _ := os.ReadFile(statePath)
		if json.Unmarshal(b, &st) == nil && st.Done != nil {
			var full, partly int
			for i, d := range st.Done {
				start, end := st.bounds(i)
				if d == end-start {
					full++
				} else if d > 0 {
					partly++
				}
			}
			if full == 6 && partly == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("parts never reached 6 complete and 1 partial: %s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled download returned %v", err)
	}

	f.ResetLog()
	f.CutAt(testRepo, shard, 10_000)
	p, err := rangedClient(t, f, cache).File(context.Background(), testRepo, "main", shard)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, p), repo.Files[shard]) {
		t.Fatal("content differs after resuming")
	}
	var asked int64
	rs := cdnRanges(t, f, sha, 700_000)
	for _, r := range rs {
		asked += r[1] - r[0] + 1
	}
	// 40,000 bytes were missing; the cut after 10,000 asks for 30,000 more.
	if len(rs) != 2 || asked != 70_000 || rs[1][0] != rs[0][0]+10_000 {
		t.Errorf("the resumed run asked for %v (%d bytes), want the missing 40,000 and, after the cut, the last 30,000", rs, asked)
	}
	noPartials(t, cache, sha)
}

func TestRangedDownloadServerIgnoringRange(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	shard := "model-00001-of-00002.safetensors"
	sha := repo.ETag(shard)
	cache := t.TempDir()
	f.IgnoreRange(true)
	p, err := rangedClient(t, f, cache).File(context.Background(), testRepo, "main", shard)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, p), repo.Files[shard]) {
		t.Fatal("content differs")
	}
	// The first whole-file answer stops the parts; one plain stream follows.
	if n := f.CDNGets(sha); n < 2 || n > 4 {
		t.Errorf("%d GETs: %v", n, f.Requests())
	}
	noPartials(t, cache, sha)
}

func TestRangedDownloadVerifiesSHA256(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	shard := "model-00001-of-00002.safetensors"
	sha := repo.ETag(shard)
	cache := t.TempDir()
	f.Corrupt(testRepo, shard, true)
	_, err := rangedClient(t, f, cache).File(context.Background(), testRepo, "main", shard)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("corrupted parts gave %v, want ErrChecksum", err)
	}
	noPartials(t, cache, sha)
	if _, err := os.Stat(filepath.Join(cache, "models--acme--tiny-llm", "blobs", sha)); err == nil {
		t.Error("a corrupted blob was stored")
	}
}
