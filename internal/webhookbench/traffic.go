package webhookbench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// trafficEnv, set in a test binary's environment to a receiver's URL, makes
// it a Traffic process posting there.
const trafficEnv = "DEPUTY_TEST_TRAFFIC_PROCESS"

// Traffic's bursts: TrafficBurst posts of TrafficBody bytes, one after the
// other over one kept-alive connection, a burst each TrafficEvery: what a
// delivery worker sends of a writer that queues an event each 0.66 ms (a
// round fans out 100 events), about as fast as one client's updates queue
// them on this machine.
const (
	TrafficBurst = 100
	TrafficBody  = 600
	TrafficEvery = 66 * time.Millisecond
)

// Traffic is an HTTP client in a process of its own that posts to a
// receiver as a delivery worker would, without Deputy: what that traffic
// costs the machine's cores, whoever sends it. It posts while resumed.
type Traffic struct {
	tb    testing.TB
	stdin io.WriteCloser
	acks  *bufio.Reader
}

// StartTraffic runs the test binary again as a paused Traffic posting to
// url, until tb ends.
func StartTraffic(tb testing.TB, url string) *Traffic {
	tb.Helper()
	stdin, acks := startChild(tb, "traffic", trafficEnv+"="+url)
	return &Traffic{tb: tb, stdin: stdin, acks: acks}
}

// Resume starts the posts; Pause stops them once the post under way has
// been answered. They do nothing on a nil Traffic.
func (t *Traffic) Resume() { t.say("on") }
func (t *Traffic) Pause()  { t.say("off") }

// ticks returns how many of its ticks the process has gone through, each
// a burst while resumed: a test waits for some to pass to see that a
// paused Traffic posts nothing, without sleeping for them.
func (t *Traffic) ticks() int {
	n, err := strconv.Atoi(t.say("ticks"))
	if err != nil {
		t.tb.Fatalf("traffic process: %v", err)
	}
	return n
}

// say writes a word to the process and returns its answer: "ok", or the
// count of ticks.
func (t *Traffic) say(what string) string {
	if t == nil {
		return ""
	}
	if _, err := fmt.Fprintln(t.stdin, what); err != nil {
		t.tb.Fatalf("traffic process: %v", err)
	}
	answer, err := t.acks.ReadString('\n')
	if err != nil {
		t.tb.Fatalf("traffic process: %v", err)
	}
	return strings.TrimSpace(answer)
}

// postTraffic is a Traffic process: it posts to url in bursts while its
// standard input last said "on", acknowledging each word on its standard
// output once it holds ("ticks" with how many ticks have passed), until
// its input closes.
func postTraffic(url string) error {
	var on atomic.Bool
	var ticks atomic.Int64
	stopped := make(chan struct{}, 1)
	go func() {
		body := bytes.Repeat([]byte("a"), TrafficBody)
		tick := time.NewTicker(TrafficEvery)
		for range tick.C {
			for range TrafficBurst {
				if !on.Load() {
					break
				}
				res, err := http.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					fmt.Fprintln(os.Stderr, "traffic:", err)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			ticks.Add(1)
			select {
			case stopped <- struct{}{}:
			default:
			}
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "ticks":
			fmt.Println(ticks.Load())
			continue
		case "on":
			on.Store(true)
		case "off":
			on.Store(false)
			select { // a burst under way ends at its next post
			case <-stopped:
			default:
			}
			<-stopped
		default:
			return fmt.Errorf("traffic: unknown word %q", in.Text())
		}
		fmt.Println("ok")
	}
	return in.Err()
}
