package testpeer

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// HTTPGet is the body of url, which must answer 200 OK within 10 seconds; anything else
// fails the test with the status and what was read.
func HTTPGet(t testing.TB, url string) []byte {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", url, resp.StatusCode, err, b)
	}
	return b
}
